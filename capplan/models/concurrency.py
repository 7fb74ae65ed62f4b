"""Concurrent listeners: the infinite-server queue M_t/G/inf fed by a join rate.

The model
---------
Listeners join at rate ``lambda(s)`` (per second) and stay a time ``S``
with survival ``P(S > x)``, independently. The expected number connected at
time ``t`` is

.. math::

    m(t) = E N(t) = \\int_{-\\infty}^{t} \\lambda(s)\\,P(S > t - s)\\,ds .

For Poisson arrivals ``N(t)`` is exactly Poisson with mean ``m(t)``
(the M_t/G/inf theorem), so its band is Poisson quantiles. Real arrivals
are over-dispersed (variance ``mu + alpha mu**2`` per interval, see the join
curve): a gamma-mixed flood moves everyone who joined together, so the true
spread of ``N(t)`` is wider than the Poisson band, by about
``alpha x (joins still connected from one interval)**2`` in variance; the
parameter band below carries the uncertainty of the curve itself.

The computation
---------------
On a grid of step ``h``, the joins of each step ``[s_i, s_i + h)`` are its
exact integral ``M_i`` (from the fitted curve's distribution function, or
rate x ``h`` for piecewise-constant rates), spread uniformly over the step.
Then, exactly for a rate constant within each step,

.. math::

    m(s_{k+1}) = \\sum_{i \\le k} M_i\\,\\frac{H((k-i+1)h) - H((k-i)h)}{h}
               + \\text{initial part},

``H(x) = E[min(S, x)]`` the integral of the survival: a discrete
convolution, computed with ``scipy.signal.fftconvolve``. For a continuous
curve the only error is the rate's variation within a step, of order
``h**2``; the default step (1 s, or the rates' own interval) keeps it
below 1e-6 relative on the sample's curves. The *initial part* counts the
listeners who joined before the grid: with ``initial="stationary"`` the
rate is taken as constant at its first value before the grid
(``lambda_0 (E[S] - H(t - t_0))``), with ``"empty"`` nobody.

With ``clock_start_s``, the joins before it above the background wait in a
lobby: connected from their join, their sessions start at ``clock_start_s``.

The parameter band is the delta method on ``log m(t)`` with the join
curve's and the sessions' covariances (independent fits, so block
diagonal).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.tools.numdiff import approx_fprime

from capplan._text import human, table_text
from capplan.models import _validate
from capplan.models.distributions import DISTRIBUTIONS, SessionDistribution
from capplan.models.join_curve import JoinCurveFit
from capplan.models.sessions import SessionsFit, _expected, background_count, split_lobby
from capplan.queueing._poisson import poisson_quantile

__all__ = ["ConcurrencyPeak", "ConcurrencyResult", "concurrency", "expected_concurrency"]


def expected_concurrency(
    joins_per_step: np.ndarray,
    step_s: float,
    distribution: SessionDistribution,
    params: dict,
    initial_rate_per_s: float = 0.0,
) -> np.ndarray:
    """Expected listeners connected at the end of each step (a pure function).

    Parameters
    ----------
    joins_per_step : array of float
        Expected joins in each step of the grid (counts), spread uniformly
        within the step.
    step_s : float
        Step length (s).
    distribution : SessionDistribution
    params : dict
        Its parameters.
    initial_rate_per_s : float
        Join rate (per s) held constant before the grid (0: nobody there).

    Returns
    -------
    numpy.ndarray
        ``m`` at the end of each step (listeners).
    """
    joins = np.asarray(joins_per_step, dtype=float)
    t = step_s * np.arange(len(joins), dtype=float)
    arrivals = split_lobby(joins, t, step_s, None, 0.0)
    initial = initial_rate_per_s * distribution.mean(params)
    return _expected(distribution, params, arrivals, initial, "stationary", "concurrent")


@dataclass(frozen=True)
class ConcurrencyPeak:
    """Peak of the expected concurrency.

    Attributes
    ----------
    listeners : float
        Peak expected concurrent listeners.
    time : float
        When (s since the actual start).
    lower, upper : float
        Parameter interval of the peak's expected value (NaN without fits).
    poisson_lower, poisson_upper : float
        Central Poisson interval of the listeners connected at that time.
    level : float
    """

    listeners: float
    time: float
    lower: float
    upper: float
    poisson_lower: float
    poisson_upper: float
    level: float


class ConcurrencyResult:
    """Expected concurrent listeners over time, with bands. Built by :func:`concurrency`.

    Attributes
    ----------
    frame : pandas.DataFrame
        Indexed by ``seconds`` (end of each grid step): ``join_rate_per_s``
        (mean over the step), ``mean`` (expected listeners), ``lower`` and
        ``upper`` (parameter band), ``poisson_lower`` and ``poisson_upper``.
    step_s : float
    distribution : SessionDistribution
    session_params : dict
    initial : str
    level : float
    """

    def __init__(self, frame, step_s, distribution, session_params, initial, level, source):
        self.frame = frame
        self.step_s = float(step_s)
        self.distribution = distribution
        self.session_params = dict(session_params)
        self.initial = initial
        self.level = float(level)
        self.source = source

    def peak(self) -> ConcurrencyPeak:
        """The peak of the expected concurrency, its time and intervals."""
        i = int(np.argmax(self.frame["mean"].to_numpy()))
        row = self.frame.iloc[i]
        return ConcurrencyPeak(
            float(row["mean"]),
            float(self.frame.index[i]),
            float(row["lower"]),
            float(row["upper"]),
            float(row["poisson_lower"]),
            float(row["poisson_upper"]),
            self.level,
        )

    def predict(self, t) -> pd.DataFrame:
        """The frame's columns at times `t` (s), linearly interpolated between grid points."""
        t = _validate.times(t)
        grid = self.frame.index.to_numpy(dtype=float)
        if np.any((t < grid[0]) | (t > grid[-1])):
            raise ValueError(f"t must lie within the grid, {grid[0]:g}..{grid[-1]:g} s")
        columns = ["mean", "lower", "upper", "poisson_lower", "poisson_upper"]
        out = {c: np.interp(t, grid, self.frame[c].to_numpy(dtype=float)) for c in columns}
        return pd.DataFrame(out, index=pd.Index(t, name="seconds"))

    def summary(self) -> pd.DataFrame:
        """Peak listeners and its time, mean session length, peak join rate."""
        peak = self.peak()
        mean_s = float(self.distribution.mean(self.session_params))
        rows = {
            "peak_listeners": [peak.listeners, peak.lower, peak.upper, "listeners"],
            "peak_poisson_band": [
                peak.listeners,
                peak.poisson_lower,
                peak.poisson_upper,
                "listeners",
            ],
            "peak_time_s": [peak.time, np.nan, np.nan, "s"],
            "mean_session_s": [mean_s, np.nan, np.nan, "s"],
            "peak_join_rate_per_s": [
                float(self.frame["join_rate_per_s"].max()),
                np.nan,
                np.nan,
                "1/s",
            ],
        }
        return pd.DataFrame.from_dict(
            rows, orient="index", columns=["estimate", "lower", "upper", "unit"]
        ).rename_axis("quantity")

    def __str__(self) -> str:
        head = (
            f"Concurrent listeners (M_t/G/inf), {self.distribution.name} sessions, "
            f"{self.step_s:g} s steps, initial: {self.initial}\n"
            f"bands: {self.level:.0%} parameter (delta method) and Poisson (Poisson arrivals; "
            "over-dispersed arrivals spread wider)\n"
        )
        return head + table_text(self.summary())

    def __repr__(self) -> str:
        peak = self.peak()
        return f"<ConcurrencyResult peak {human(peak.listeners, 'listeners')} at {peak.time:g} s>"

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    def chart(self):
        """Expected concurrency over time with its bands."""
        from capplan import charts

        return charts.concurrency_chart(self)


def concurrency(
    join_curve_or_rates,
    sessions,
    *,
    step_s: float | None = None,
    t_end_s: float | None = None,
    initial: str = "stationary",
    clock_start_s: float | None = None,
    level: float = 0.95,
) -> ConcurrencyResult:
    """Expected concurrent listeners E N(t) from a join rate and session lengths.

    Parameters
    ----------
    join_curve_or_rates : JoinCurveFit or pandas.Series
        A fitted join curve, or join rates (per second) indexed by seconds
        on a regular grid, constant within each interval.
    sessions : SessionsFit or tuple
        A fitted session distribution, or ``(name, params)`` such as
        ``("lognormal", {"median_s": 1500, "sigma": 1.0})``.
    step_s : float, optional
        Grid step (s). Default: 1 s for a fitted curve (the curve's
        integral over each second), the rates' interval for a Series (a
        Series' step must be a whole divisor of its interval).
    t_end_s : float, optional
        Extend the grid to this time (s): a fitted curve is evaluated
        beyond its data; a Series is extended with its last rate.
    initial : {"stationary", "empty"}
        Listeners before the grid: the first rate held constant since ever,
        or nobody.
    clock_start_s : float, optional
        Joins before this time above the background (a fitted curve's
        background rate, or for a Series the level its rates before it tend to far from it) wait
        in a lobby and start their session at it, as in :func:`fit_sessions`.
    level : float, default 0.95

    Returns
    -------
    ConcurrencyResult

    Examples
    --------
    >>> import pandas as pd
    >>> rates = pd.Series(10.0, index=pd.RangeIndex(0, 3600, 60))
    >>> result = concurrency(rates, ("exponential", {"mean_s": 600.0}), initial="empty")
    >>> round(result.frame["mean"].iloc[-1])  # 10/s x 600 s x (1 - e^-6)
    5985
    """
    level = _validate.level(level, "level")
    if initial not in ("stationary", "empty"):
        raise ValueError(f"initial must be 'stationary' or 'empty', got {initial!r}")
    dist, sparams, session_fit = _sessions(sessions)

    if isinstance(join_curve_or_rates, JoinCurveFit):
        curve = join_curve_or_rates
        step = 1.0 if step_s is None else _validate.positive(step_s, "step_s", " s")
        t0 = float(curve.data.index[0])
        t1 = float(curve.data.index[-1]) + curve.interval_s
        if t_end_s is not None:
            t1 = max(t1, float(t_end_s))
        starts = t0 + step * np.arange(int(np.ceil((t1 - t0) / step - 1e-9)))

        def masses(curve_values):
            return curve._mean_counts(curve_values, starts, step)

        def first_rate(curve_values):
            return float(curve._rate(curve_values, np.array([t0]))[0])

        def background(curve_values):
            return float(curve._split(curve_values)[0]) * step

        curve_estimate = curve.estimate
        source = "join curve"
    elif isinstance(join_curve_or_rates, pd.Series):
        rates = _validate.regular_series(join_curve_or_rates, "rates", counts=False, min_points=1)
        if np.any(~rates.observed) or np.any(rates.y < 0):
            raise ValueError("rates must be >= 0 (per second) with no missing interval")
        step = rates.interval_s if step_s is None else _validate.positive(step_s, "step_s", " s")
        ratio = rates.interval_s / step
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ValueError(
                f"step_s={step:g} must divide the rates' interval of {rates.interval_s:g} s"
            )
        per_step = np.repeat(rates.y, round(ratio))
        t0 = float(rates.t[0])
        if t_end_s is not None and t_end_s > rates.t[-1] + rates.interval_s:
            extra = int(np.ceil((t_end_s - rates.t[-1] - rates.interval_s) / step - 1e-9))
            per_step = np.append(per_step, np.full(extra, rates.y[-1]))
        starts = t0 + step * np.arange(len(per_step))
        fixed = per_step * step

        def masses(curve_values):
            return fixed

        def first_rate(curve_values):
            return float(per_step[0])

        lobby_background = (
            None if clock_start_s is None else background_count(fixed, starts, step, clock_start_s)
        )

        def background(curve_values):
            return lobby_background

        curve_estimate = None
        source = "rates"
    else:
        raise TypeError(
            "join_curve_or_rates must be a JoinCurveFit or a pandas Series of rates per "
            f"second indexed by seconds, not {type(join_curve_or_rates).__name__}"
        )

    if clock_start_s is not None and not starts[0] + step <= clock_start_s <= starts[-1]:
        raise ValueError(f"clock_start_s={clock_start_s!r} s must lie inside the grid")

    def mean_of(curve_values, session_values):
        p = dict(zip([q.name for q in dist.params], session_values, strict=True))
        rate0 = first_rate(curve_values) if initial == "stationary" else 0.0
        arrivals = split_lobby(
            masses(curve_values), starts, step, clock_start_s, background(curve_values)
        )
        return _expected(dist, p, arrivals, rate0 * dist.mean(p), "stationary", "concurrent")

    curve_values = None if curve_estimate is None else curve_estimate.values
    session_values = np.array([sparams[q.name] for q in dist.params])
    mean = mean_of(curve_values, session_values)

    # Parameter band: delta method on log m(t), independent blocks.
    variance = np.zeros(len(mean))
    blocks = []
    if curve_estimate is not None:
        blocks.append((curve_estimate, lambda v: mean_of(v, session_values)))
    if session_fit is not None:
        est = session_fit.estimate
        k = len(dist.params)

        def by_session(values, est=est, k=k):
            return mean_of(curve_values, values[:k])

        blocks.append((est, by_session))
    for est, func in blocks:

        def on_theta(theta, est=est, func=func):
            return np.log(np.maximum(func(est.space.natural(theta)), 1e-300))

        jac = approx_fprime(est.theta, on_theta, centered=True)
        variance += np.einsum("ij,jk,ik->i", jac, est.cov_theta, jac)
    z = stats.norm.ppf(0.5 + level / 2)
    se = np.sqrt(variance)
    if not blocks:
        lower = upper = np.full(len(mean), np.nan)
    else:
        lower, upper = mean * np.exp(-z * se), mean * np.exp(z * se)
    q = [(1 - level) / 2, (1 + level) / 2]
    frame = pd.DataFrame(
        {
            "join_rate_per_s": masses(curve_values) / step,
            "mean": mean,
            "lower": lower,
            "upper": upper,
            "poisson_lower": poisson_quantile(q[0], mean),
            "poisson_upper": poisson_quantile(q[1], mean),
        },
        index=pd.Index(starts + step, name="seconds"),
    )
    return ConcurrencyResult(frame, step, dist, sparams, initial, level, source)


def _sessions(sessions):
    """(distribution, params dict, SessionsFit or None) from the `sessions` argument."""
    if isinstance(sessions, SessionsFit):
        dist = sessions.distribution
        values = sessions.estimate.values
        params = {p.name: float(v) for p, v in zip(dist.params, values, strict=False)}
        return dist, params, sessions
    if isinstance(sessions, tuple) and len(sessions) == 2:
        name, params = sessions
        dist = DISTRIBUTIONS.get(name) if isinstance(name, str) else name
        if not isinstance(dist, SessionDistribution):
            raise ValueError(
                f"unknown session distribution {name!r}; known: {sorted(DISTRIBUTIONS)}"
            )
        needed = {p.name for p in dist.params}
        if not isinstance(params, dict) or set(params) != needed:
            raise ValueError(
                f"{dist.name} sessions need parameters {sorted(needed)}, got {params!r}"
            )
        return dist, {k: _validate.positive(v, k) for k, v in params.items()}, None
    raise TypeError(
        "sessions must be a SessionsFit (from fit_sessions) or (name, params), e.g. "
        "('lognormal', {'median_s': 1500, 'sigma': 1.0})"
    )
