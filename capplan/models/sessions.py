"""Session lengths from aggregate joins and leaves (or concurrency), without per-session logs.

The model
---------
A listener who joins in interval ``j`` (uniformly within it) stays a random
time ``S`` with distribution ``F``. With ``H(x) = E[min(S, x)]`` (the integral
of the survival, :meth:`SessionDistribution.integrated_survival`) and
interval length ``Δ``, exactly:

- the chance that they leave in interval ``j + L`` is
  ``p_0 = 1 - H(Δ)/Δ`` and ``p_L = -(H((L+1)Δ) - 2H(LΔ) + H((L-1)Δ)) / Δ``;
- the chance that they are still connected at the end of interval ``j + L``
  is ``q_L = (H((L+1)Δ) - H(LΔ)) / Δ``.

So ``E leaves_k = sum_j joins_j p_{k-j} + initial part`` and
``E concurrent_k = sum_j joins_j q_{k-j} + initial part``: discrete
convolutions of the observed joins with the session distribution, computed
with ``scipy.signal.fftconvolve``. The *initial part* is the listeners
already connected when the series begins (``initial_listeners``); by
default (``initial="stationary"``) they are the stationary population of a
steady arrival rate, whose remaining times have the equilibrium survival
``1 - H(t)/E[S]``; ``initial="fresh"`` starts all their sessions at the
series' start. Their number comes from ``concurrent`` where it was
measured, and is fitted otherwise.

The fit
-------
- ``method="leaves"``: Poisson likelihood of the leaves in the fitting
  window. Given the joins, leaves are sums of thinned joins, so Poisson is a
  fair working likelihood; the covariance is multiplied by the Pearson
  dispersion when that exceeds 1 (quasi-Poisson), and a dispersion above 2
  warns (:class:`~capplan.warnings.LackOfFitWarning`). When ``leaves`` was
  not measured but ``concurrent`` was, the leaves are recovered exactly as
  ``joins_k - (concurrent_k - concurrent_{k-1})``, where that gives whole
  counts >= 0.
- ``method="concurrent"``: least squares on the concurrency, for when it
  does not tie exactly to the joins (sampled, or counted elsewhere). The
  error of a *level* is the running sum of the leaves' deviations since the
  start (a random walk: a fit to levels would claim far too much
  precision), so the fit is to the level's first differences,
  ``concurrent_k - concurrent_{k-1}``, against their expectation; their
  errors are nearly independent but not equal, and the standard errors are
  Newey-West (HAC, Bartlett kernel) sandwich errors
  (``statsmodels.stats.sandwich_covariance.S_hac_simple``). The number
  connected at the start is then a fitted parameter.

Each candidate distribution is fitted and the one with the smallest AIC is
kept; all candidates stay in ``SessionsFit.candidates``. Each is started from
three guesses of the mean session, searched on the data summed into whole
minutes where there are more than a thousand intervals (per-second data), and
the best is then fitted on the data's own intervals. The likelihoods' gradients
are exact: the kernel's derivatives come from the distribution's
(:meth:`~capplan.models.distributions.SessionDistribution.integrated_survival_gradient`),
and their sum against the residuals is one correlation of the residuals with the
joins, by FFT, whatever the number of parameters.

The end of the event
--------------------
When an event ends, everybody still connected leaves within minutes (an
exodus, as in the sample history): no session distribution explains that.
Pass ``end_s`` (the event's end, seconds since the actual start) and only
intervals that end by then enter the likelihood: the sessions are in effect
censored at the end.

The lobby
---------
Where listeners who join a lobby before the start begin their session only
at the start (the sample history's rule), pass ``clock_start_s=0``: the
joins before it above the background (the level the joins before it tend to
far from it, :func:`background_count`) are a lobby whose sessions all start
at ``clock_start_s`` (they are connected, waiting, from their join). The
lobby is not clipped at zero per interval, so the split is right on average;
listeners who give up in the lobby of a late start are not modelled (their
leaves before the start make the fitted sessions a few % too long).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from scipy import fft, optimize, special, stats
from statsmodels.stats.sandwich_covariance import S_hac_simple
from statsmodels.tools.numdiff import approx_fprime

from capplan._text import table_text
from capplan.models import _validate
from capplan.models._fitting import Estimate, Param, maximize
from capplan.models.distributions import DISTRIBUTIONS, SessionDistribution
from capplan.warnings import LackOfFitWarning

__all__ = ["SessionsFit", "fit_sessions"]

_INITIAL = Param("initial_listeners", "listeners", description="connected when the series begins")
_METHODS = ("auto", "leaves", "concurrent")


def leave_kernel(dist: SessionDistribution, p: dict, interval_s: float, n: int) -> np.ndarray:
    """``p_L``, L = 0..n-1: chance that a join of one interval leaves L intervals later.

    (The fit computes it, with the other parts of the expectation and their derivatives,
    in :class:`_Expectation`, from one grid of the integrated survival.)"""
    grid = interval_s * np.arange(-1, n + 1, dtype=float)
    h = dist.integrated_survival(grid, p)
    out = -(h[2:] - 2 * h[1:-1] + h[:-2]) / interval_s
    out[0] = 1 - h[2] / interval_s
    return np.maximum(out, 0.0)


def stay_kernel(dist: SessionDistribution, p: dict, interval_s: float, n: int) -> np.ndarray:
    """``q_L``, L = 0..n-1: chance that a join of one interval is still there L intervals later
    (at that interval's end)."""
    h = dist.integrated_survival(interval_s * np.arange(n + 1, dtype=float), p)
    return np.diff(h) / interval_s


class SessionsFit:
    """A session-length distribution fitted to one event's aggregate series.

    Returned by :func:`fit_sessions`; read-only.

    Attributes
    ----------
    data : pandas.DataFrame
        ``joins``, ``lobby`` (the joins whose session waits for
        ``clock_start_s``), and the ``leaves`` and/or ``concurrent`` fitted,
        indexed by seconds; ``in_fit`` marks the intervals in the likelihood.
    joins : Joins
        The joins as the model uses them.
    initial_listeners : float or None
        Listeners connected when the series begins, when known from the data
        (else a fitted parameter).
    interval_s : float
    method : str
        ``"leaves"`` or ``"concurrent"``.
    distribution : SessionDistribution
        The chosen distribution (smallest AIC).
    estimate : Estimate
        Its estimate (natural values, covariance, diagnostics).
    params_ : pandas.Series
        Fitted values by name.
    candidates : pandas.DataFrame
        Every distribution tried: ``loglike``, ``n_params``, ``aic``,
        ``delta_aic``, ``converged``.
    estimates : dict
        Every candidate's Estimate by distribution name.
    initial : str
        How the listeners present at the series' start leave.
    level : float
    """

    def __init__(
        self, data, joins, method, initial, initial_listeners, estimates, chosen, candidates, level
    ):
        self.data = data
        self.joins = joins
        self.interval_s = float(joins.step)
        self.initial_listeners = initial_listeners
        self.method = method
        self.initial = initial
        self.estimates = estimates
        self.distribution: SessionDistribution = DISTRIBUTIONS[chosen]
        self.estimate: Estimate = estimates[chosen]
        self.candidates = candidates
        self.level = float(level)
        self.params_ = pd.Series(self.estimate.values, index=self.estimate.names, name="estimate")

    def _dist_params(self, values) -> dict:
        names = [p.name for p in self.distribution.params]
        return dict(zip(names, values[: len(names)], strict=True))

    def _initial_count(self, values) -> float:
        if "initial_listeners" in self.estimate.names:
            return float(values[self.estimate.names.index("initial_listeners")])
        return float(self.initial_listeners)

    def _expected(self, values, what: str) -> np.ndarray:
        return _expected(
            self.distribution,
            self._dist_params(values),
            self.joins,
            self._initial_count(values),
            self.initial,
            what,
        )

    @property
    def mean_s(self) -> float:
        """Mean session length (s)."""
        return float(self.distribution.mean(self._dist_params(self.estimate.values)))

    @property
    def median_s(self) -> float:
        """Median session length (s)."""
        return float(self.distribution.median(self._dist_params(self.estimate.values)))

    def survival(self, x) -> np.ndarray:
        """P(S > x) at session lengths `x` (s), at the estimate."""
        x = _validate.times(x, "x")
        return self.distribution.survival(x, self._dist_params(self.estimate.values))

    def integrated_survival(self, x) -> np.ndarray:
        """E[min(S, x)] at `x` (s), at the estimate."""
        x = _validate.times(x, "x")
        return self.distribution.integrated_survival(x, self._dist_params(self.estimate.values))

    def predict(self, x=None, level: float | None = None) -> pd.DataFrame:
        """Survival P(S > x) of the session length with its interval.

        Parameters
        ----------
        x : float or array of float, optional
            Session lengths (s); 60 log-spaced values from 10 s to 10 x the
            median by default.
        level : float, optional

        Returns
        -------
        pandas.DataFrame
            Indexed by ``session_s``: ``survival``, ``lower``, ``upper``
            (delta method on the logit of the survival).
        """
        if x is None:
            x = np.geomspace(10.0, 10 * max(self.median_s, 10.0), 60)
        x = _validate.times(x, "x")
        level = self.level if level is None else _validate.level(level, "level")

        def logit_survival(values):
            s = self.distribution.survival(x, self._dist_params(values))
            s = np.clip(s, 1e-300, 1 - 1e-16)
            return np.log(s) - np.log1p(-s)

        value, se = self.estimate.delta(logit_survival)
        z = stats.norm.ppf(0.5 + level / 2)
        expit = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        return pd.DataFrame(
            {
                "survival": expit(value),
                "lower": expit(value - z * se),
                "upper": expit(value + z * se),
            },
            index=pd.Index(x, name="session_s"),
        )

    def summary(self) -> pd.DataFrame:
        """Parameters (``estimate``, ``std_err``, ``lower``, ``upper``, ``unit``) and the
        derived mean and median session length (delta method on their logs)."""
        table = self.estimate.table(self.level)
        z = stats.norm.ppf(0.5 + self.level / 2)
        for name, func in (
            ("mean_s", self.distribution.mean),
            ("median_s", self.distribution.median),
        ):
            value, se = self.estimate.delta(
                lambda v, f=func: np.array([f(self._dist_params(v))]), log=True
            )
            v, s = float(value[0]), float(se[0])
            table.loc[name] = [v, v * s, v * math.exp(-z * s), v * math.exp(z * s), "s"]
        return table

    def __str__(self) -> str:
        d = self.estimate.diagnostics
        how = (
            "Poisson likelihood on leaves (quasi-Poisson errors)"
            if self.method == "leaves"
            else "least squares on concurrency differences (Newey-West errors)"
        )
        head = (
            f"Session lengths: {self.distribution.name}, chosen by AIC from "
            f"{', '.join(self.candidates.index)}\n"
            f"{how}; {self.estimate.n_obs} intervals of {self.interval_s:g} s; "
            + (
                f"Pearson dispersion {d.get('dispersion', float('nan')):.3g}; "
                if self.method == "leaves"
                else f"residual variance {d.get('dispersion', float('nan')):.3g}; "
            )
            + f"initial listeners: {self.initial}\n"
        )
        return head + table_text(self.summary()) + "\n\n" + table_text(self.candidates)

    def __repr__(self) -> str:
        return (
            f"<SessionsFit {self.distribution.name}: median {self.median_s:.4g} s, "
            f"mean {self.mean_s:.4g} s, by {self.method}>"
        )

    def to_frame(self) -> pd.DataFrame:
        """The data beside the fit, one row per interval: the observed and expected
        ``leaves`` and ``concurrent`` (where measured), and ``in_fit``."""
        frame = self.data.copy()
        values = self.estimate.values
        frame["fitted_leaves"] = self._expected(values, "leaves")
        frame["fitted_concurrent"] = self._expected(values, "concurrent")
        return frame

    def chart(self):
        """Observed against fitted leaves or concurrency, and the survival curve."""
        from capplan import charts

        return charts.sessions_chart(self)


@dataclass(frozen=True)
class Joins:
    """Joins per interval: ``others`` start their session when they join; ``lobby`` joined
    before ``clock_s`` and start their session at it (zeros without a lobby).

    Attributes
    ----------
    others, lobby : numpy.ndarray
        Counts per interval.
    t : numpy.ndarray
        Interval starts (s).
    step : float
        Interval length (s).
    clock_s : float or None
        When the lobby's sessions start (s).
    """

    others: np.ndarray
    lobby: np.ndarray
    t: np.ndarray
    step: float
    clock_s: float | None = None

    @property
    def total(self) -> np.ndarray:
        return self.others + self.lobby


def _before_clock(t, step: float, clock_start_s: float) -> np.ndarray:
    """True for the intervals that end by `clock_start_s` (their joins wait for it)."""
    return t + step <= clock_start_s + 1e-9


def background_count(joins, t, step: float, clock_start_s: float) -> float:
    """Background joins per interval before `clock_start_s`: the level ``b`` of
    ``b + A exp((t - clock_start_s) / L)`` fitted by least squares to the joins before it.

    A lobby fills up as its start nears, so the early joins hold some of it: a mean of the
    series' first part would take a slow ramp for background (10% too much on a sample
    event whose lobby grows over ten minutes, which shortens the fitted sessions). For
    each ``L``, from one interval to the time before the clock, ``b`` and ``A`` are
    non-negative least squares; ``L`` minimises their residual. Too few intervals before
    the clock (under ten): their mean.
    """
    joins = np.asarray(joins, dtype=float)
    before = _before_clock(t, step, clock_start_s)
    y = joins[before]
    if len(y) < 10:
        return float(y.mean()) if len(y) else 0.0
    x = t[before] + step / 2 - clock_start_s  # interval middles, negative (s)

    def profile(log_scale):
        design = np.column_stack([np.ones_like(x), np.exp(x / np.exp(log_scale))])
        return optimize.nnls(design, y)

    bounds = (math.log(step), math.log(-x[0]))
    grid = np.linspace(*bounds, 25)  # the residual may have several dips: bracket the least
    k = int(np.argmin([profile(g)[1] for g in grid]))
    best = optimize.minimize_scalar(
        lambda g: profile(g)[1],
        bounds=(grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]),
        method="bounded",
    )
    return float(profile(best.x)[0][0])


def split_lobby(joins, t, step, clock_start_s, background) -> Joins:
    """Split joins before `clock_start_s` into the background (`background` per interval, which
    starts its sessions at once) and a lobby (the rest, which waits for the clock).

    The lobby is ``joins - background``, not clipped at zero: the expectations are linear in
    it, so the split is right on average. Clipping each interval would count the background's
    upward noise as lobby (a 10-20% longer session median on small events at one second).
    """
    joins = np.asarray(joins, dtype=float)
    if clock_start_s is None:
        return Joins(joins, np.zeros_like(joins), t, step, None)
    before = _before_clock(t, step, clock_start_s)
    lobby = np.where(before, joins - background, 0.0)
    return Joins(joins - lobby, lobby, t, step, float(clock_start_s))


def _expected(dist, p, joins: Joins, initial, kind, what):
    """Expected leaves or concurrency (`what`) per interval of `joins` (see the module)."""
    return _Expectation(dist, joins, kind, what).value(p, initial)


class _Expectation:
    """Expected leaves or concurrency of fixed joins, and the gradient of a weighted sum of
    them by the parameters, for the fit.

    The joins' spectrum is computed once; the expectation is the convolution of the joins
    with the kernel (one FFT of the kernel and one inverse), plus the listeners present at
    the start and the lobby. The gradient of ``sum(w * expected)`` by the distribution's
    parameters is ``c @ d kernel`` with ``c`` the correlation of ``w`` with the joins (the
    convolution's adjoint): two FFTs, whatever the number of parameters, and the kernel's
    derivatives come from :meth:`SessionDistribution.integrated_survival_gradient`.
    """

    def __init__(self, dist: SessionDistribution, joins: Joins, kind: str, what: str):
        self.dist, self.joins, self.kind, self.what = dist, joins, kind, what
        self.n = n = len(joins.others)
        self.size = fft.next_fast_len(2 * n - 1, real=True)
        self.spectrum = fft.rfft(joins.others, self.size)
        self.grid = joins.step * np.arange(-1, n + 1, dtype=float)  # H(-step) = H(0) = 0
        self.total = float(joins.lobby.sum())
        if joins.clock_s is not None:
            self.since_clock = joins.t + joins.step - joins.clock_s  # interval ends (s)

    def _convolve(self, kernel):
        return fft.irfft(fft.rfft(kernel, self.size) * self.spectrum, self.size)[: self.n]

    def _correlate(self, w):
        """``c[L] = sum_k w[k] joins[k - L]``: the adjoint of the convolution."""
        return fft.irfft(fft.rfft(w, self.size) * np.conj(self.spectrum), self.size)[: self.n]

    def _parts(self, p, gradient: bool):
        """``(kernel, first, lobby)``: the kernel, the expectation per listener present at the
        start, and the lobby's; with `gradient`, their derivatives by the distribution's
        parameters too (arrays of one column a parameter), else None."""
        dist, step, joins = self.dist, self.joins.step, self.joins
        if gradient:
            h, dh = dist.integrated_survival_gradient(self.grid, p)
        else:
            h, dh = dist.integrated_survival(self.grid, p), None
        d_kernel = d_first = d_lobby = None
        lobby = 0.0
        if self.what == "leaves":
            kernel = -(h[2:] - 2 * h[1:-1] + h[:-2]) / step
            kernel[0] = 1 - h[2] / step
            kept = kernel > 0
            kernel = np.where(kept, kernel, 0.0)
            if gradient:
                d_kernel = -(dh[2:] - 2 * dh[1:-1] + dh[:-2]) / step
                d_kernel[0] = -dh[2] / step
                d_kernel[~kept] = 0.0
            if self.kind == "stationary":
                mean, d_mean = dist.mean_gradient(p) if gradient else (dist.mean(p), None)
                first = (h[2:] - h[1:-1]) / mean
                if gradient:
                    d_first = (dh[2:] - dh[1:-1]) / mean - np.outer(first, d_mean / mean)
            else:
                f, df = self._cdf(self.grid[1:], p, gradient)
                first = np.diff(f)
                d_first = None if df is None else np.diff(df, axis=0)
            if joins.clock_s is not None:
                f, df = self._cdf(self.since_clock, p, gradient)
                lobby = self.total * np.diff(f, prepend=0.0)
                if gradient:
                    d_lobby = self.total * np.diff(df, axis=0, prepend=np.zeros((1, df.shape[1])))
        else:
            kernel = (h[2:] - h[1:-1]) / step
            d_kernel = None if dh is None else (dh[2:] - dh[1:-1]) / step
            if self.kind == "stationary":
                mean, d_mean = dist.mean_gradient(p) if gradient else (dist.mean(p), None)
                first = 1 - h[2:] / mean
                if gradient:
                    d_first = -dh[2:] / mean + np.outer(h[2:] / mean**2, d_mean)
            else:
                f, df = self._cdf(self.grid[2:], p, gradient)
                first = 1 - f
                d_first = None if df is None else -df
            if joins.clock_s is not None:
                waiting = np.cumsum(joins.lobby)
                f, df = self._cdf(self.since_clock, p, gradient)
                before = self.since_clock <= 0
                lobby = np.where(before, waiting, self.total * (1 - f))
                if gradient:
                    d_lobby = np.where(before[:, None], 0.0, -self.total * df)
        return kernel, first, lobby, (d_kernel, d_first, d_lobby)

    def _cdf(self, x, p, gradient):
        if gradient:
            return self.dist.cdf_gradient(x, p)
        return 1 - self.dist.survival(x, p), None

    def value(self, p, initial) -> np.ndarray:
        kernel, first, lobby, _ = self._parts(p, False)
        return self._convolve(kernel) + initial * first + lobby

    def value_and_adjoint(self, p, initial):
        """The expectation, and a function of weights ``w`` (one an interval) giving the
        gradient of ``sum(w * expectation)`` by the distribution's parameters and, last, by
        `initial`."""
        kernel, first, lobby, (d_kernel, d_first, d_lobby) = self._parts(p, True)
        value = self._convolve(kernel) + initial * first + lobby

        def adjoint(w):  # einsum, not BLAS: its threads made these products slow when busy
            grad = np.einsum("i,ij->j", self._correlate(w), d_kernel)
            grad += initial * np.einsum("i,ij->j", w, d_first)
            if d_lobby is not None:
                grad += np.einsum("i,ij->j", w, d_lobby)
            return np.append(grad, np.einsum("i,i->", w, first))

        return value, adjoint


def fit_sessions(
    joins: pd.Series,
    leaves: pd.Series | None = None,
    concurrent: pd.Series | None = None,
    *,
    distributions=("lognormal", "weibull"),
    method: str = "auto",
    end_s: float | None = None,
    start_s: float | None = None,
    clock_start_s: float | None = None,
    initial: str = "stationary",
    level: float = 0.95,
) -> SessionsFit:
    """Fit the session-length distribution of one event from its aggregate series.

    Parameters
    ----------
    joins : pandas.Series
        Joins per interval, indexed by seconds since the actual start
        (``History.event(event_id)["joins"]``); no missing interval.
    leaves : pandas.Series, optional
        Leaves per interval on the same index.
    concurrent : pandas.Series, optional
        Listeners connected at the end of each interval, on the same index.
    distributions : sequence of str, default ("lognormal", "weibull")
        Candidates, from ``"lognormal"``, ``"weibull"``, ``"gamma"``,
        ``"exponential"``; the smallest AIC is kept.
    method : {"auto", "leaves", "concurrent"}
        Likelihood (see the module's docstring); ``auto`` uses the leaves
        when they were measured or can be recovered, else the concurrency.
    end_s : float, optional
        Only intervals ending by `end_s` (s) enter the fit: pass the event's
        end to keep its exodus out.
    start_s : float, optional
        Only intervals starting at or after `start_s` (s) enter the fit
        (the joins before still count in the expectation).
    clock_start_s : float, optional
        Joins before this time (s) start their session at it: listeners who
        wait in a lobby for the start (the sample history's rule: pass 0).
    initial : {"stationary", "fresh"}
        How listeners connected when the series begins leave.
    level : float, default 0.95

    Returns
    -------
    SessionsFit

    Raises
    ------
    ValueError
        Missing joins, mismatched indexes, no leaves nor concurrency, too
        few intervals in the window.

    Examples
    --------
    >>> import capplan
    >>> event = capplan.sample_history().resample(60).event("ev-014")  # starts on time
    >>> fit = fit_sessions(event["joins"], event["leaves"], end_s=5_220, clock_start_s=0)
    >>> fit.distribution.name, round(fit.median_s, -2)  # generated with 1,680 s
    ('lognormal', 1700.0)
    """
    level = _validate.level(level, "level")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if initial not in ("stationary", "fresh"):
        raise ValueError(f"initial must be 'stationary' or 'fresh', got {initial!r}")
    names = [distributions] if isinstance(distributions, str) else list(distributions)
    unknown = [d for d in names if d not in DISTRIBUTIONS]
    if not names or unknown:
        raise ValueError(
            f"distributions must name some of {sorted(DISTRIBUTIONS)}, got {distributions!r}"
        )
    j = _validate.regular_series(joins, "joins", counts=True, min_points=10)
    if not np.all(j.observed):
        raise ValueError(
            f"joins has {int((~j.observed).sum())} missing interval(s), first at "
            f"{j.t[~j.observed][0]:g} s: every join feeds the convolution; fit a window "
            "without gaps"
        )
    series = {}
    for name, value in (("leaves", leaves), ("concurrent", concurrent)):
        if value is None:
            continue
        checked = _validate.regular_series(value, name, counts=name == "leaves", min_points=1)
        if len(checked.t) != len(j.t) or not np.allclose(checked.t, j.t):
            raise ValueError(f"{name} must have the same index as joins (seconds since the start)")
        if name == "concurrent" and np.any(checked.y[checked.observed] < 0):
            raise ValueError("concurrent must be >= 0 (listeners connected)")
        series[name] = checked.y
    if not series:
        raise ValueError(
            "give leaves or concurrent (or both) beside joins: sessions are seen "
            "only through listeners leaving"
        )
    step, t = j.interval_s, j.t
    if clock_start_s is not None and not t[0] + step <= clock_start_s < t[-1] + step:
        raise ValueError(
            f"clock_start_s={clock_start_s!r} s must lie inside the series, after "
            "its first interval"
        )
    background = None if clock_start_s is None else background_count(j.y, t, step, clock_start_s)
    arrivals = split_lobby(j.y, t, step, clock_start_s, background)
    y_leaves = series.get("leaves")
    if y_leaves is None and "concurrent" in series and method in ("auto", "leaves"):
        c = series["concurrent"]
        derived = np.full(len(t), np.nan)
        derived[1:] = j.y[1:] - np.diff(c)
        ok = np.isfinite(derived) & (derived >= 0) & (derived == np.round(derived))
        if np.mean(ok[1:]) > 0.99:
            y_leaves = np.where(ok, derived, np.nan)
    if method == "auto":
        method = "leaves" if y_leaves is not None else "concurrent"
    if method == "leaves" and y_leaves is None:
        raise ValueError(
            "method='leaves' needs leaves, or concurrent whose differences give whole leaves >= 0"
        )
    if method == "concurrent" and "concurrent" not in series:
        raise ValueError("method='concurrent' needs concurrent")

    in_window = np.ones(len(t), dtype=bool)
    if end_s is not None:
        in_window &= t + step <= float(end_s) + 1e-9
    if start_s is not None:
        in_window &= t >= float(start_s) - 1e-9
    target = y_leaves if method == "leaves" else series["concurrent"]
    use = in_window & np.isfinite(target)
    if use.sum() < 20:
        raise ValueError(
            f"only {int(use.sum())} interval(s) with data between start_s={start_s!r} and "
            f"end_s={end_s!r}; at least 20 are needed"
        )

    # The listeners connected when the series begins: from concurrency where measured.
    known_initial = None
    if "concurrent" in series and np.isfinite(series["concurrent"][0]) and method == "leaves":
        first_leaves = y_leaves[0] if np.isfinite(y_leaves[0]) else 0.0
        known_initial = max(float(series["concurrent"][0] - j.y[0] + first_leaves), 0.0)

    mean_guess = _mean_guess(j.y, y_leaves, series.get("concurrent"), step, t)
    estimates, rows = {}, []
    for name in names:
        dist = DISTRIBUTIONS[name]
        estimate = _fit_one(dist, arrivals, target, use, method, initial, known_initial, mean_guess)
        estimates[name] = estimate
        rows.append(
            {
                "distribution": name,
                "loglike": estimate.loglike,
                "n_params": estimate.n_params,
                "aic": estimate.aic,
                "converged": estimate.converged,
            }
        )
    candidates = pd.DataFrame(rows).set_index("distribution")
    candidates.insert(3, "delta_aic", candidates["aic"] - candidates["aic"].min())
    chosen = str(candidates["aic"].idxmin())

    data = pd.DataFrame({"joins": j.y, "lobby": arrivals.lobby}, index=pd.Index(t, name="seconds"))
    if y_leaves is not None:
        data["leaves"] = y_leaves
    if "concurrent" in series:
        data["concurrent"] = series["concurrent"]
    data["in_fit"] = use
    fit = SessionsFit(
        data, arrivals, method, initial, known_initial, estimates, chosen, candidates, level
    )
    dispersion = fit.estimate.diagnostics.get("dispersion", 1.0)
    if method == "leaves" and dispersion > 2:
        warnings.warn(
            LackOfFitWarning(
                f"the leaves vary {dispersion:.3g} times more than Poisson around the "
                f"{chosen} fit; standard errors were inflated accordingly. Check end_s (an "
                "exodus at the end), clock_start_s (a lobby) and initial",
                dispersion=dispersion,
            ),
            stacklevel=2,
        )
    return fit


def _mean_guess(joins, leaves, concurrent, step, t) -> float:
    """A rough mean session length (s) for starting values."""
    span = float(t[-1] - t[0] + step)
    guess = np.nan
    if concurrent is not None and np.nanmean(joins) > 0:
        guess = np.nanmean(concurrent) / (np.nanmean(joins) / step)  # Little's law
    elif leaves is not None:
        cum_j = np.cumsum(joins)
        cum_l = np.cumsum(np.nan_to_num(leaves))
        guess = np.sum(np.maximum(cum_j - cum_l, 0.0)) * step / max(cum_j[-1], 1.0)
    if not np.isfinite(guess) or guess <= 0:
        guess = span / 4
    return float(np.clip(guess, step, 10 * span))


def _fit_one(dist, joins: Joins, target, use, method, initial, known_initial, mean_guess):
    """One distribution's estimate: the best of three starts on minutes (the data summed
    into whole minutes, where there are many intervals), then the data's own intervals."""
    params = [*dist.params, *((_INITIAL,) if known_initial is None else ())]
    what = f"the {dist.name} sessions"
    width = max(round(_COARSE_S / joins.step), 1)
    coarse = None
    if len(joins.others) > _COARSE_MIN and width > 1:
        coarse = _problem(
            dist, *_binned(joins, target, use, method, width), method, initial, known_initial
        )
    fine = _problem(dist, joins, target, use, method, initial, known_initial)
    first_stage = coarse or fine
    best = None
    for factor in (0.5, 1.0, 2.0):
        start = dist.start(mean_guess * factor)
        x0 = [start[p.name] for p in dist.params]
        if known_initial is None:
            x0.append(_initial_guess(first_stage.target, method, mean_guess, first_stage.step))
        found = maximize(
            first_stage.loglike,
            params,
            x0,
            n_obs=first_stage.n_obs,
            what=what,
            covariance=False,
            score=first_stage.score,
        )
        if best is None or found.loglike > best.loglike:
            best = found
    estimate = maximize(
        fine.loglike, params, best.values, n_obs=fine.n_obs, what=what, score=fine.score
    )
    y = fine.y
    if method == "leaves":
        mu = np.maximum(fine.fitted(estimate.values), 1e-10)
        dispersion = float(np.sum((y - mu) ** 2 / mu) / max(fine.n_obs - len(params), 1))
        estimate = estimate.scaled(max(dispersion, 1.0))
        estimate = replace(estimate, diagnostics={**estimate.diagnostics, "dispersion": dispersion})
    else:
        estimate = _hac(estimate, fine.fitted, y)
    return estimate


_COARSE_S = 60.0  # the starts are searched on whole minutes ...
_COARSE_MIN = 1_000  # ... where the data have more intervals than this


@dataclass(frozen=True)
class _Problem:
    """One likelihood of the sessions: ``loglike``, ``score`` (with its gradient) and
    ``fitted`` of the natural values (the distribution's, then the initial listeners where
    fitted); ``y`` what is fitted, ``target`` and ``step`` the data it came from."""

    loglike: object
    score: object
    fitted: object
    y: np.ndarray
    n_obs: int
    target: np.ndarray
    step: float


def _problem(dist, joins: Joins, target, use, method, initial, known_initial) -> _Problem:
    n_dist = len(dist.params)
    names = [p.name for p in dist.params]
    fit_initial = known_initial is None
    what = "leaves" if method == "leaves" else "concurrent"
    model = _Expectation(dist, joins, initial, what)
    n = len(joins.others)
    if method == "leaves":
        y = target[use]
    else:  # first differences of the levels, where both levels are in the window
        pair = use[1:] & use[:-1]
        y = np.diff(target)[pair]
    n_obs = len(y)
    log_y_factorial = special.gammaln(y + 1)

    def split(values):
        p = dict(zip(names, values[:n_dist], strict=True))
        return p, (values[-1] if fit_initial else known_initial)

    def gradient(adjoint, w):
        grad = adjoint(w)
        return grad if fit_initial else grad[:-1]

    if method == "leaves":

        def fitted(values):
            return model.value(*split(values))[use]

        def loglike(values):
            mu = np.maximum(fitted(values), 1e-10)
            return float(np.sum(special.xlogy(y, mu) - mu - log_y_factorial))

        def score(values):
            expected, adjoint = model.value_and_adjoint(*split(values))
            raw = expected[use]
            mu = np.maximum(raw, 1e-10)
            value = float(np.sum(special.xlogy(y, mu) - mu - log_y_factorial))
            w = np.zeros(n)
            w[use] = np.where(raw > 1e-10, y / mu - 1.0, 0.0)
            return value, gradient(adjoint, w)

    else:

        def fitted(values):
            return np.diff(model.value(*split(values)))[pair]

        def loglike(values):
            rss = float(np.sum((y - fitted(values)) ** 2))
            return -n_obs / 2 * (math.log(2 * math.pi * rss / n_obs) + 1)

        def score(values):
            expected, adjoint = model.value_and_adjoint(*split(values))
            resid = y - np.diff(expected)[pair]
            rss = float(np.sum(resid**2))
            value = -n_obs / 2 * (math.log(2 * math.pi * rss / n_obs) + 1)
            spread = np.zeros(n - 1)
            spread[pair] = resid
            w = np.zeros(n)  # d rss / d expected = -2 (spread[k - 1] - spread[k])
            w[1:] += spread
            w[:-1] -= spread
            return value, gradient(adjoint, w) * (n_obs / rss)

    return _Problem(loglike, score, fitted, y, n_obs, target, joins.step)


def _binned(joins: Joins, target, use, method, width: int):
    """`joins`, `target` and `use` summed into groups of `width` intervals (a trailing
    partial group left out): the joins and the leaves summed (missing where any is), the
    levels of concurrency taken at each group's end."""
    n = len(joins.others) // width
    m = n * width

    def summed(x):
        return x[:m].reshape(n, width).sum(axis=1)

    coarse = Joins(
        summed(joins.others),
        summed(joins.lobby),
        joins.t[:m:width],
        joins.step * width,
        joins.clock_s,
    )
    if method == "leaves":
        return coarse, summed(target), use[:m].reshape(n, width).all(axis=1)
    return coarse, target[width - 1 : m : width], use[width - 1 : m : width]


def _initial_guess(target, method, mean_guess, step) -> float:
    """Listeners connected at the start: the first level, or early leaves x mean session."""
    observed = target[np.isfinite(target)]
    if method == "concurrent" and len(observed):
        return max(float(observed[0]), 1.0)
    early = observed[: max(len(observed) // 10, 1)]
    return max(float(np.mean(early)) * mean_guess / step, 1.0)


def _hac(estimate: Estimate, fitted, y) -> Estimate:
    """Newey-West (HAC) sandwich covariance of least-squares estimates, on the working scale.

    ``S_hac_simple`` with its default lag rule ``floor(4 (n/100)^(2/9))`` and Bartlett weights,
    bread ``(J'J)^-1`` from the Jacobian of the fitted values, small-sample factor n/(n-k).
    """
    space = estimate.space
    jac = approx_fprime(estimate.theta, lambda theta: fitted(space.natural(theta)), centered=True)
    resid = y - fitted(estimate.values)
    bread = np.linalg.pinv(jac.T @ jac)
    n, k = jac.shape
    meat = S_hac_simple(jac * resid[:, None])
    cov = bread @ meat @ bread * n / max(n - k, 1)
    diagnostics = {
        **estimate.diagnostics,
        "dispersion": float(np.mean(resid**2)),
        "covariance": "Newey-West",
    }
    return replace(estimate, cov_theta=cov, diagnostics=diagnostics)
