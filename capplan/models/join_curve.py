"""Join curve: a parametric join rate fitted to one event's counts per interval.

The model
---------
Joins arrive at rate (per second, ``t`` in seconds since the actual start)

.. math::

    \\lambda(t) = b + A\\,g(t),

where ``b`` is the background level (joins no event caused), ``A`` the
audience that joins because of the event, and ``g`` a probability density
over time, the *shape*, declared by a :class:`JoinCurveForm`. Both shapes
shipped are a **lead-in** up to a surge time ``tau`` and a **flood** from it:

.. math::

    g(t) = \\pi\\,\\frac{\\ell(t)}{N}
         + (1-\\pi)\\,\\frac{e^{-(t-\\tau)/d} - e^{-(t-\\tau)/r}}{d - r}\\,[t \\ge \\tau],
    \\qquad
    \\ell(t) = \\begin{cases} \\ell_0(t) & t < \\tau \\\\
                 \\ell_0(\\tau)\\,e^{-(t-\\tau)/r} & t \\ge \\tau \\end{cases}

- the **lead-in** holds a share ``pi`` (``lead_share``) of the audience. In
  :class:`LobbyFlood` (the default) it is a lobby growing exponentially
  toward the surge, ``l0(t) = e^{(t - tau)/L}`` with time scale ``L``
  (``ramp_s``); in :class:`PlateauSurge` a plateau that sets in at an onset,
  ``l0(t) = expit((t - t_on)/w)``. At the surge it hands over to the flood
  within the flood's rise time ``r`` (so the rate is continuous: a lead-in
  that stops dead would put a kink in the likelihood wherever ``tau``
  crosses an interval edge); ``N`` normalises it (``L + r`` for the lobby);
- the **flood**: the rest arrive from the surge time ``tau``
  (``surge_time_s``) at a rate that rises with time scale ``r`` (``rise_s``)
  and decays with time scale ``d`` (``decay_s``): a difference of
  exponentials, the response of a notification fan-out of time scale ``r``
  followed by a memoryless decay of interest. It is symmetric in ``r`` and
  ``d``; the fit reports the shorter as the rise.

Why this form: it is the physics of the design notes (lobby, flood at the
start, decay) in parameters a planner reads directly: a background rate, an
audience, the share that comes before the surge, and the time scales. The
surge time is a parameter and not pinned at the start, because real traces
peak late: the World Cup 1998 site's surge comes at the final whistle,
about 115 min after kick-off, after a plateau of in-match traffic (fit such
traces with ``form=PlateauSurge()``). The lead-in rises up to ``tau`` and
everything decays after the flood's maximum ``r d ln(d/r) / (d - r)``, so
the peak lies between the two and is found by a bounded scalar search.

Limits, said plainly: one surge per window (a second surge, such as the
previous match's final whistle at the window's start, is left to the
over-dispersion), a constant background (a trend, or the sample's trickle
of late joiners over the event, is absorbed partly by ``b`` and ``d`` and
otherwise by ``alpha``), one decay time after the surge, and
``rise_s <= decay_s``.

The likelihood
--------------
The count ``y_i`` of interval ``[t_i, t_i + Δ)`` is negative binomial
(NB2) with mean the interval-integrated rate
``mu_i = b Δ + A (G(t_i + Δ) - G(t_i))`` (``G`` the shape's distribution
function, exact, no midpoint rule) and variance ``mu_i + alpha mu_i**2``,
``alpha`` fitted. ``alpha`` belongs to the interval of the data and also
absorbs what the curve misses; if the seconds within an interval are
independent, a one-second alpha is ``alpha * Δ``
(``JoinCurveFit.alpha_per_second``, measured around the local level when the
data are per second). Missing (NaN) intervals are left out.
Fitting is by maximum likelihood on the shared base
(:mod:`capplan.models._fitting`) in a well-scaled parametrisation: logs of
the positive parameters, logits of the share and of the time parameters
bounded by the window (a surge outside the data, or a time scale longer than
it, is not identified). The fit starts from each of the data's three most
prominent peaks (first with ``alpha`` held at a moment estimate, then
everything free) and keeps the best likelihood; it is deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, signal, special, stats

from capplan._text import table_text
from capplan.models import _validate
from capplan.models._fitting import Estimate, Param, maximize, nb_deviance, nb_loglike

__all__ = [
    "JoinCurveFit",
    "JoinCurveForm",
    "LobbyFlood",
    "Peak",
    "PlateauSurge",
    "fit_join_curve",
]

_COMMON = (
    Param("background_per_s", "1/s", description="background joins per second, no event's"),
    Param("audience", "joins", description="joins caused by the event (expected total)"),
)
_ALPHA = Param(
    "alpha", "1", description="over-dispersion of a count per interval: var = mu + alpha mu^2"
)
_BOOTSTRAP_DRAWS = 2000
_BOOTSTRAP_SEED = 20_250_611
_N_STARTS = 3  # candidate peaks tried as starting points


class JoinCurveForm:
    """Declaration of a join curve's shape: the density ``g`` of the event's arrivals.

    A new shape is a subclass that declares ``name``, ``params`` (a tuple of
    :class:`~capplan.models._fitting.Param`: name, unit, range), ``bounds``
    (ranges that depend on the data's window), and the core functions
    ``cdf``, ``density`` and ``start``. Background, audience, likelihood,
    optimisation, covariance and intervals come from the base. Override
    ``peak`` with a faster search where the shape allows one (the default
    scans a fine grid), and ``canonical`` for a shape with twin parameter
    sets.
    """

    name: str = "shape"
    params: tuple[Param, ...] = ()

    def cdf(self, t: np.ndarray, p: dict) -> np.ndarray:
        """Share of the audience arrived by time `t` (s)."""
        raise NotImplementedError

    def density(self, t: np.ndarray, p: dict) -> np.ndarray:
        """Arrival density at time `t` (per second); integrates to 1."""
        raise NotImplementedError

    def start(self, t: np.ndarray, excess: np.ndarray, interval_s: float, peak_s: float) -> dict:
        """Starting values of the shape for a surge peaking near `peak_s`.

        `excess` is a smoothed rate above the background (per s) at the
        interval midpoints `t` (s). The fit tries each candidate peak of the
        data (the largest local maxima) and keeps the best likelihood.
        """
        raise NotImplementedError

    def bounds(self, t0: float, t1: float, interval_s: float) -> dict:
        """Ranges ``name -> (lower, upper)`` for a window of data from `t0` to `t1` (s)."""
        return {}

    def canonical(self, p: dict) -> dict:
        """The canonical one of parameter sets with the same curve."""
        return p

    def peak(self, p: dict, t0: float, t1: float, precise: bool = True) -> tuple[float, float]:
        """Time (s) and value (per s) of the density's maximum between `t0` and `t1`."""
        grid = np.linspace(t0, t1, 20_001 if precise else 2_001)
        values = self.density(grid, p)
        i = int(np.argmax(values))
        return float(grid[i]), float(values[i])


class _LeadFlood(JoinCurveForm):
    """A lead-in (lobby, plateau) up to the surge time, then a flood; the common part.

    A subclass declares the lead-in by its unnormalised density ``lead``
    (increasing up to the surge) and its integral ``lead_mass``, both used
    at ``t <= tau`` only. After ``tau`` the lead-in hands over to the flood:
    its rate decays from where it was with the flood's rise time ``r``, so
    the rate is continuous (a lobby that stops dead would put a kink in
    the likelihood wherever ``tau`` crosses an interval edge).
    """

    def lead(self, t, p):
        raise NotImplementedError

    def lead_mass(self, t, p):
        raise NotImplementedError

    def _lead_parts(self, p):
        tau, rise = p["surge_time_s"], min(p["rise_s"], p["decay_s"])
        height = float(self.lead(np.array([tau]), p)[0])
        norm = float(self.lead_mass(np.array([tau]), p)[0]) + height * rise
        return tau, rise, height, norm

    def cdf(self, t, p):
        t = np.asarray(t, dtype=float)
        with np.errstate(all="ignore"):  # extreme parameters (bootstrap draws) give inf/NaN
            tau, rise, height, norm = self._lead_parts(p)
            u = np.maximum(t - tau, 0.0)
            mass = self.lead_mass(np.minimum(t, tau), p) + height * rise * -np.expm1(-u / rise)
            flood = 1 - _flood_survival(t - tau, p["rise_s"], p["decay_s"])
            return p["lead_share"] * mass / norm + (1 - p["lead_share"]) * flood

    def density(self, t, p):
        t = np.asarray(t, dtype=float)
        with np.errstate(all="ignore"):
            tau, rise, height, norm = self._lead_parts(p)
            u = t - tau
            lead = np.where(
                u < 0, self.lead(np.minimum(t, tau), p), height * np.exp(-np.abs(u) / rise)
            )
            flood = _flood_density(u, p["rise_s"], p["decay_s"])
            return p["lead_share"] * lead / norm + (1 - p["lead_share"]) * flood

    def canonical(self, p):
        if p["rise_s"] > p["decay_s"]:
            p = {**p, "rise_s": p["decay_s"], "decay_s": p["rise_s"]}
        return p

    def peak(self, p, t0=None, t1=None, precise=True):
        # The lead-in rises up to tau; after the flood's mode everything decays: the maximum
        # lies in [tau, tau + mode].
        tau = p["surge_time_s"]
        mode = _flood_mode(p["rise_s"], p["decay_s"])
        if precise:
            found = optimize.minimize_scalar(
                lambda u: -float(self.density(np.array([tau + u]), p)[0]),
                bounds=(0.0, mode),
                method="bounded",
                options={"xatol": 1e-9 * max(mode, 1.0)},
            )
            candidates = np.array([0.0, found.x, mode])
        else:
            candidates = np.linspace(0.0, mode, 257)
        values = self.density(tau + candidates, p)
        i = int(np.argmax(values))
        return float(tau + candidates[i]), float(values[i])


class LobbyFlood(_LeadFlood):
    """Lobby ramp up to a surge time, then a flood that rises and decays.

    See the module's docstring. The default form: notification-driven joins
    to a live stream (a lobby before the start, a flood at it).
    """

    name = "lobby + flood"
    params = (
        Param("lead_share", "share", 0.0, 1.0, "share of the audience in the lobby"),
        Param("ramp_s", "s", description="time scale of the lobby's exponential ramp"),
        Param("surge_time_s", "s", -math.inf, math.inf, "surge onset, s since the actual start"),
        Param("rise_s", "s", description="rise time scale of the flood"),
        Param("decay_s", "s", description="decay time scale of the flood"),
    )

    def bounds(self, t0, t1, interval_s):
        # Time scales longer than the window, or a surge outside it, are not identified.
        span = t1 - t0
        return {
            "ramp_s": (0.0, span),
            "surge_time_s": (t0, t1),
            "rise_s": (0.0, span),
            "decay_s": (0.0, span),
        }

    def lead(self, t, p):
        return np.exp((t - p["surge_time_s"]) / p["ramp_s"])

    def lead_mass(self, t, p):
        return p["ramp_s"] * np.exp((t - p["surge_time_s"]) / p["ramp_s"])

    def start(self, t, excess, interval_s, peak_s):
        span = float(t[-1] - t[0] + interval_s)
        i_peak = int(np.argmin(np.abs(t - peak_s)))
        t_peak, top = float(t[i_peak]), float(excess[i_peak])
        after = np.flatnonzero((t > t_peak) & (excess < top / 2))
        decay = (t[after[0]] - t_peak) / math.log(2) if len(after) else span / 4
        decay = max(decay, interval_s)
        before = np.flatnonzero((t < t_peak) & (excess < top / 2))
        rise_span = t_peak - t[before[-1]] if len(before) else interval_s
        rise = float(np.clip(rise_span / 3, interval_s / 4, decay / 3))
        tau = t_peak - _flood_mode(rise, decay)
        weight = np.where(t < tau, excess, 0.0) * interval_s
        total = max(float(np.sum(excess) * interval_s), 1e-12)
        share = float(np.clip(np.sum(weight) / total, 0.05, 0.8))
        ramp = float(np.sum(weight * (tau - t)) / np.sum(weight)) if np.sum(weight) > 0 else span
        ramp = float(np.clip(ramp, interval_s, span / 2))
        return {
            "lead_share": share,
            "ramp_s": ramp,
            "surge_time_s": tau,
            "rise_s": rise,
            "decay_s": decay,
        }


class PlateauSurge(_LeadFlood):
    """A plateau from an onset up to a surge time, then a flood that rises and decays.

    For traffic watched over a long period that ends in a surge, such as a
    match site's requests: the audience builds up around kick-off and holds
    a plateau through the match; at the final whistle comes a flood.

    Before ``tau`` the lead-in's rate is proportional to
    ``expit((t - t_on) / w)``: ``t_on`` (``onset_s``) is when the plateau
    reaches half its height, ``w`` (``onset_width_s``) how sharply it sets
    in. Where the lead-in is a pure exponential ramp that never levels off
    (the sample's notification-driven lobby) the onset is not identified:
    use :class:`LobbyFlood` there.
    """

    name = "plateau + surge"
    params = (
        Param("lead_share", "share", 0.0, 1.0, "share of the audience in the plateau"),
        Param("onset_s", "s", -math.inf, math.inf, "when the plateau reaches half its height"),
        Param("onset_width_s", "s", description="logistic time scale of the plateau's onset"),
        Param("surge_time_s", "s", -math.inf, math.inf, "surge onset, s since the actual start"),
        Param("rise_s", "s", description="rise time scale of the flood"),
        Param("decay_s", "s", description="decay time scale of the flood"),
    )

    def bounds(self, t0, t1, interval_s):
        # The background is measured before the onset: leave it a tenth of the window.
        span = t1 - t0
        return {
            "onset_s": (t0 + span / 10, t1),
            "onset_width_s": (0.0, span),
            "surge_time_s": (t0, t1),
            "rise_s": (0.0, span),
            "decay_s": (0.0, span),
        }

    def lead(self, t, p):
        return special.expit((t - p["onset_s"]) / p["onset_width_s"])

    def lead_mass(self, t, p):
        w = p["onset_width_s"]
        return w * np.logaddexp(0.0, (t - p["onset_s"]) / w)

    def start(self, t, excess, interval_s, peak_s):
        shape = LobbyFlood().start(t, excess, interval_s, peak_s)
        tau = shape["surge_time_s"]
        before = excess[t < tau]
        half = (np.median(before) if len(before) else np.max(excess)) / 2
        onset = float(t[np.flatnonzero(excess >= half)[0]])
        onset = max(onset, t[0] + (t[-1] - t[0]) / 5)
        return {
            "lead_share": max(shape["lead_share"], 0.3),
            "onset_s": min(onset, tau - interval_s),
            "onset_width_s": 4 * interval_s,
            "surge_time_s": tau,
            "rise_s": shape["rise_s"],
            "decay_s": shape["decay_s"],
        }


def _flood_survival(u, rise, decay):
    """Share of the flood still to come ``u`` seconds after its onset (1 before it)."""
    u = np.maximum(np.asarray(u, dtype=float), 0.0)
    r, d = min(rise, decay), max(rise, decay)
    if d - r < 1e-7 * d:
        return (1 + u / d) * np.exp(-u / d)
    return (d * np.exp(-u / d) - r * np.exp(-u / r)) / (d - r)


def _flood_density(u, rise, decay):
    """Flood density ``u`` seconds after its onset (0 before it)."""
    u = np.asarray(u, dtype=float)
    v = np.maximum(u, 0.0)
    r, d = min(rise, decay), max(rise, decay)
    if d - r < 1e-7 * d:
        out = v / d**2 * np.exp(-v / d)
    else:
        out = (np.exp(-v / d) - np.exp(-v / r)) / (d - r)
    return np.where(u > 0, out, 0.0)


def _flood_mode(rise, decay):
    """Time of the flood's maximum after its onset (s)."""
    r, d = min(rise, decay), max(rise, decay)
    if d - r < 1e-7 * d:
        return d
    return r * d * math.log(d / r) / (d - r)


@dataclass(frozen=True)
class Peak:
    """The peak of a fitted join rate.

    Attributes
    ----------
    rate : float
        Peak join rate (per second).
    time : float
        When it happens (s since the actual start).
    lower, upper : float
        Interval of the peak rate (per second).
    time_lower, time_upper : float
        Interval of its time (s).
    level : float
        Confidence level of the intervals.
    method : str
        How the intervals were computed.
    """

    rate: float
    time: float
    lower: float
    upper: float
    time_lower: float
    time_upper: float
    level: float
    method: str = "parametric bootstrap"


class JoinCurveFit:
    """A join curve fitted to one event's counts: data, parameters, diagnostics.

    Returned by :func:`fit_join_curve`; read-only.

    Attributes
    ----------
    data : pandas.Series
        The counts fitted (per interval), indexed by seconds since the start.
    interval_s : float
        Interval length of the data (s).
    form : JoinCurveForm
        The shape.
    estimate : Estimate
        Estimates on the fitting scale, covariance and optimiser diagnostics.
    params_ : pandas.Series
        Fitted natural values by name (rates per second, times in seconds).
    level : float
        Default confidence level of intervals.
    """

    def __init__(self, data: pd.Series, interval_s: float, form: JoinCurveForm, estimate, level):
        self.data = data.copy()
        self.interval_s = float(interval_s)
        self.form = form
        self.estimate: Estimate = estimate
        self.level = float(level)
        self.params_ = pd.Series(estimate.values, index=estimate.names, name="estimate")
        t = self.data.index.to_numpy(dtype=float)
        y = self.data.to_numpy(dtype=float)
        observed = np.isfinite(y)
        mu = self._mean_counts(estimate.values, t)
        alpha = self.params_["alpha"]
        deviance = float(np.sum(nb_deviance(y[observed], mu[observed], alpha)))
        n = int(observed.sum())
        resid2 = (y[observed] - mu[observed]) ** 2 / (mu[observed] + alpha * mu[observed] ** 2)
        self.diagnostics = {
            "n_obs": n,
            "loglike": estimate.loglike,
            "loglike_per_point": estimate.loglike / n,
            "aic": estimate.aic,
            "bic": estimate.bic,
            "deviance": deviance,
            "deviance_per_point": deviance / n,
            "pearson_dispersion": float(np.sum(resid2) / max(n - estimate.n_params, 1)),
            "converged": estimate.converged,
            **{k: v for k, v in estimate.diagnostics.items() if k != "dispersion"},
        }

    # -- the curve ---------------------------------------------------------------------------

    def _split(self, values) -> tuple[float, float, dict, float]:
        names = self.estimate.names
        p = dict(zip(names, values, strict=True))
        b, a, alpha = p.pop("background_per_s"), p.pop("audience"), p.pop("alpha")
        return b, a, p, alpha

    def _rate(self, values, t):
        b, a, shape, _ = self._split(values)
        return b + a * self.form.density(t, shape)

    def _mean_counts(self, values, t, interval_s=None):
        step = self.interval_s if interval_s is None else interval_s
        b, a, shape, _ = self._split(values)
        edges = np.append(t, t[-1] + step)
        cdf = self.form.cdf(edges, shape)
        return b * step + a * np.maximum(np.diff(cdf), 0.0)

    @property
    def alpha_per_second(self) -> float:
        """One-second over-dispersion: variance ``m + alpha m**2`` of a second's count.

        From per-second data, the excess variance of each second around its local
        level (:func:`local_alpha`): the fitted ``alpha`` also absorbs the curve's
        misfit (a flood rising a little faster than the form allows), which is not
        noise, and overstated the burst factor by 10-70% on the sample's events. From
        coarser data, ``alpha * interval_s``: an upper bound, seconds taken as
        independent within an interval.
        """
        if self.interval_s == 1:
            local = local_alpha(self.data)
            if np.isfinite(local):
                return local
        return float(self.params_["alpha"] * self.interval_s)

    def mean_counts(self, t, interval_s: float | None = None) -> np.ndarray:
        """Expected counts in intervals ``[t, t + interval_s)`` (exact integral of the rate).

        Parameters
        ----------
        t : array of float
            Interval starts (s), equally spaced by `interval_s`.
        interval_s : float, optional
            Interval length (s); the data's by default.
        """
        t = _validate.times(t)
        step = (
            self.interval_s if interval_s is None else _validate.positive(interval_s, "interval_s")
        )
        return self._mean_counts(self.estimate.values, t, step)

    def predict(self, t=None, level: float | None = None) -> pd.DataFrame:
        """The fitted join rate at times `t`, with its confidence interval.

        Parameters
        ----------
        t : float or array of float, optional
            Times (s since the actual start); the data's interval midpoints
            by default.
        level : float, optional
            Confidence level; the fit's by default.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``seconds``: ``rate_per_s`` (the instantaneous rate
            lambda(t), per second), ``lower`` and ``upper``. The interval is
            the delta method on ``log lambda(t)`` with the parameters'
            covariance (so it stays positive); it is the uncertainty of the
            curve, not of a count (see ``to_frame`` for that).
        """
        t = self._default_times() if t is None else _validate.times(t)
        level = self.level if level is None else _validate.level(level, "level")
        value, se = self.estimate.delta(lambda v: self._rate(v, t), log=True)
        z = stats.norm.ppf(0.5 + level / 2)
        return pd.DataFrame(
            {
                "rate_per_s": value,
                "lower": value * np.exp(-z * se),
                "upper": value * np.exp(z * se),
            },
            index=pd.Index(t, name="seconds"),
        )

    def peak(self, level: float | None = None) -> Peak:
        """The peak join rate, its time and their intervals.

        The point values are the fitted curve's maximum (a bounded scalar
        search between the surge time and the flood's maximum). The
        intervals are a parametric bootstrap: 2,000 parameter vectors drawn
        from the estimate's normal distribution on the fitting scale (fixed
        seed, so repeated calls agree), the peak of each curve (searched on a
        grid of 257 points), and the central quantiles. The bootstrap copes
        with a peak that may jump from the flood's maximum to the lead-in's
        end, where the delta method would not. NaN when the covariance is
        not available (see the fit's warnings).
        """
        level = self.level if level is None else _validate.level(level, "level")
        time, rate = self._peak(self.estimate.values)
        draws = self.estimate.draws(_BOOTSTRAP_DRAWS, _BOOTSTRAP_SEED)
        if np.all(np.isfinite(draws)):
            sims = np.array([self._peak(v, precise=False) for v in draws])
            q = [(1 - level) / 2, (1 + level) / 2]
            (t_lo, t_hi), (r_lo, r_hi) = np.quantile(sims[:, 0], q), np.quantile(sims[:, 1], q)
        else:
            t_lo = t_hi = r_lo = r_hi = np.nan
        return Peak(
            float(rate), float(time), float(r_lo), float(r_hi), float(t_lo), float(t_hi), level
        )

    def _peak(self, values, precise=True):
        b, a, shape, _ = self._split(values)
        t = self.data.index.to_numpy(dtype=float)
        time, density = self.form.peak(shape, t[0], t[-1] + self.interval_s, precise)
        return time, b + a * density

    # -- the face of a result ---------------------------------------------------------------

    def summary(self) -> pd.DataFrame:
        """The parameter table: ``estimate``, ``std_err``, ``lower``, ``upper``, ``unit``,
        plus the derived peak rate and time."""
        table = self.estimate.table(self.level)
        peak = self.peak()
        table.loc["peak_rate_per_s"] = [peak.rate, np.nan, peak.lower, peak.upper, "1/s"]
        table.loc["peak_time_s"] = [peak.time, np.nan, peak.time_lower, peak.time_upper, "s"]
        return table

    def __str__(self) -> str:
        d = self.diagnostics
        head = (
            f"Join curve ({self.form.name}), NB2 counts per {self.interval_s:g} s interval\n"
            f"observations: {d['n_obs']}   log-likelihood: {d['loglike']:.6g}   "
            f"AIC: {d['aic']:.6g}   deviance/point: {d['deviance_per_point']:.4g}   "
            f"converged: {d['converged']}\n"
            f"intervals: {self.level:.0%} Wald on the fitting scale (log, logit); "
            f"peak: parametric bootstrap\n"
        )
        return head + table_text(self.summary())

    def __repr__(self) -> str:
        return (
            f"<JoinCurveFit {self.form.name}: peak {self._peak_point()[1]:.4g}/s at "
            f"{self._peak_point()[0]:.0f} s, {self.diagnostics['n_obs']} intervals>"
        )

    def _peak_point(self):
        return self._peak(self.estimate.values)

    def to_frame(self) -> pd.DataFrame:
        """The data beside the fit, one row per interval.

        Columns: ``count`` (observed), ``rate_per_s`` (count / interval),
        ``fitted_count`` (mu), ``fitted_rate_per_s`` (mu / interval),
        ``lower`` and ``upper`` (delta-method interval of the fitted mean
        rate), ``predictive_lower`` and ``predictive_upper`` (central NB
        quantiles of the count at the fitted mean, as rates: where the data
        should fall), ``pearson_residual``.
        """
        t = self.data.index.to_numpy(dtype=float)
        y = self.data.to_numpy(dtype=float)
        value, se = self.estimate.delta(lambda v: self._mean_counts(v, t), log=True)
        z = stats.norm.ppf(0.5 + self.level / 2)
        alpha = self.params_["alpha"]
        n = 1 / alpha
        q = [(1 - self.level) / 2, (1 + self.level) / 2]
        lo, hi = (stats.nbinom.ppf(x, n, n / (n + value)) for x in q)
        step = self.interval_s
        return pd.DataFrame(
            {
                "count": y,
                "rate_per_s": y / step,
                "fitted_count": value,
                "fitted_rate_per_s": value / step,
                "lower": value * np.exp(-z * se) / step,
                "upper": value * np.exp(z * se) / step,
                "predictive_lower": lo / step,
                "predictive_upper": hi / step,
                "pearson_residual": (y - value) / np.sqrt(value + alpha * value**2),
            },
            index=pd.Index(t, name="seconds"),
        )

    def chart(self):
        """Data against the fitted rate with its bands (an altair Chart)."""
        from capplan import charts

        return charts.join_curve_chart(self)

    def _default_times(self):
        t = self.data.index.to_numpy(dtype=float)
        return t + self.interval_s / 2


def fit_join_curve(
    joins: pd.Series,
    *,
    form: JoinCurveForm | None = None,
    start: dict | None = None,
    level: float = 0.95,
) -> JoinCurveFit:
    """Fit a join curve to one event's counts per interval by maximum likelihood.

    Parameters
    ----------
    joins : pandas.Series
        Counts per interval (joins, or requests for a web trace), indexed by
        seconds since the actual start on a regular grid, as
        ``History.event(event_id)["joins"]`` gives it. The interval length
        comes from the index spacing; NaN marks a missing interval. The
        grid must cover the start (0 s). Slice it to fit a window only
        (e.g. ``joins.loc[:end_s]``).
    form : JoinCurveForm, optional
        The curve's shape; :class:`LobbyFlood` by default.
    start : dict, optional
        Starting values by parameter name (natural units) replacing those
        found from the data.
    level : float, default 0.95
        Confidence level of the result's intervals.

    Returns
    -------
    JoinCurveFit

    Raises
    ------
    ValueError
        Fewer than 3 non-missing intervals per parameter, all zeros, a gap
        in the index, or an index that does not cover the start.

    Warns
    -----
    ConvergenceWarning, CovarianceWarning, BoundaryWarning
        A doubtful fit, with its diagnostics.

    Notes
    -----
    Starting values come from the data: the background from the earliest
    tenth of the window (capped by its 20th percentile, should the window
    open inside an earlier surge), the audience from the total count above
    it, candidate peaks from the three most prominent maxima of a running
    mean, the decay from the half-life after a peak, the rise from the
    half-rise before it, and the lead-in from the excess before the surge.
    Each candidate is fitted with ``alpha`` held at the moment estimate of
    its residuals; the best is then fitted with everything free.

    Examples
    --------
    >>> import capplan
    >>> event = capplan.worldcup98_history().event("wc98-19980610-1530")
    >>> fit = fit_join_curve(event["requests"], form=PlateauSurge())
    >>> peak = fit.peak()
    >>> 6_000 < peak.time < 7_500  # the final whistle, about 115 min after kick-off
    True
    """
    form = LobbyFlood() if form is None else form
    if not isinstance(form, JoinCurveForm):
        raise TypeError(f"form must be a JoinCurveForm (e.g. LobbyFlood()), not {form!r}")
    level = _validate.level(level, "level")
    params = (*_COMMON, *form.params, _ALPHA)
    series = _validate.regular_series(
        joins, "joins", counts=True, min_points=3 * len(params), cover_start=True
    )
    t, y, step = series.t, series.y, series.interval_s
    observed = series.observed
    if start is not None:
        unknown = set(start) - {p.name for p in params}
        if unknown:
            raise ValueError(
                f"start has unknown parameter(s) {sorted(unknown)}; "
                f"known: {[p.name for p in params]}"
            )
    names = [p.name for p in params]
    bounds = form.bounds(float(t[0]), float(t[-1] + step), step)
    edges = series.edges
    y_obs = y[observed]
    n_obs = int(observed.sum())

    def split(values):
        p = dict(zip(names, values, strict=True))
        return p.pop("background_per_s"), p.pop("audience"), p.pop("alpha"), p

    def mean_counts(values):
        b, a, _, shape = split(values)
        return b * step + a * np.maximum(np.diff(form.cdf(edges, shape)), 0.0)

    def loglike(values):
        mu = np.maximum(mean_counts(values)[observed], 1e-300)
        return float(np.sum(nb_loglike(y_obs, mu, values[-1])))

    def canonical(values):
        b, a, alpha, shape = split(values)
        full = {"background_per_s": b, "audience": a, **form.canonical(shape), "alpha": alpha}
        return np.array([full[n] for n in names])

    def inside(values):  # starting values strictly inside their ranges
        values = np.array(values, dtype=float)
        for name, (lo, hi) in bounds.items():
            i = names.index(name)
            values[i] = float(np.clip(values[i], lo + 1e-4 * (hi - lo), hi - 1e-4 * (hi - lo)))
        return values

    # Stage 1, from each candidate start: the curve alone, alpha held at the moment estimate
    # of the starting curve's residuals. Stage 2, from the best: everything. Freeing alpha at
    # once would let a poor start be explained away as noise instead of moving the curve.
    fixed_alpha = start is not None and "alpha" in start
    best = None
    for candidate in _starts(form, t, y, step):
        if start is not None:
            candidate.update({k: float(v) for k, v in start.items()})
        x0 = inside([candidate[n] for n in names])
        if not fixed_alpha:
            x0[-1] = _moment_alpha(y_obs, mean_counts(x0)[observed])
        alpha0 = x0[-1]
        first = maximize(
            lambda v, alpha0=alpha0: loglike(np.append(v, alpha0)),
            params[:-1],
            x0[:-1],
            n_obs=n_obs,
            what="the join curve (first stage)",
            bounds=bounds,
            canonical=lambda v, alpha0=alpha0: canonical(np.append(v, alpha0))[:-1],
            covariance=False,
        )
        x1 = inside(np.append(first.values, alpha0))
        if not fixed_alpha:
            x1[-1] = _moment_alpha(y_obs, mean_counts(x1)[observed])
        ll = loglike(x1)
        if best is None or ll > best[0]:
            best = (ll, x1)
    estimate = maximize(
        loglike,
        params,
        best[1],
        n_obs=n_obs,
        what="the join curve",
        bounds=bounds,
        canonical=canonical,
    )
    index = joins.index if isinstance(joins, pd.Series) else joins.iloc[:, 0].index
    data = pd.Series(y, index=index.rename("seconds"), name=getattr(joins, "name", None))
    return JoinCurveFit(data, step, form, estimate, level)


def _starts(form: JoinCurveForm, t, y, step) -> list[dict]:
    """Starting values from the data, one set per candidate peak (see fit_join_curve's Notes)."""
    rate = pd.Series(y / step)
    n = len(rate)
    window = max(3, n // 60)
    smooth = rate.rolling(window, center=True, min_periods=1).mean().to_numpy()
    observed = np.isfinite(rate.to_numpy())
    early = rate.iloc[: max(3, n // 10)].dropna()
    background = float(early.median()) if len(early) else float(np.nanmedian(rate))
    background = min(background, float(np.nanquantile(rate, 0.2)))
    background = max(background, 0.01 * float(np.nanmean(rate)), 1e-6)
    excess = np.nan_to_num(np.maximum(smooth - background, 0.0))
    audience = max(float(np.sum(np.where(observed, rate - background, 0.0)) * step), 1.0)
    mid = t + step / 2
    peaks, props = signal.find_peaks(excess, prominence=0.05 * max(float(excess.max()), 1e-12))
    order = np.argsort(props["prominences"])[::-1][:_N_STARTS]
    candidates = [float(mid[i]) for i in peaks[order]] or [float(mid[int(np.argmax(excess))])]
    common = {"background_per_s": background, "audience": audience, "alpha": 0.1}
    return [{**common, **form.start(mid, excess, step, peak)} for peak in candidates]


def _moment_alpha(y, mu) -> float:
    """Moment estimate of NB2's alpha, ``mean(((y - mu)^2 - mu) / mu^2)``, kept in 1e-6..10."""
    mu = np.maximum(mu, 1e-9)
    ratio = float(np.mean(((y - mu) ** 2 - mu) / mu**2))
    return float(np.clip(ratio, 1e-6, 10.0)) if np.isfinite(ratio) else 0.1


def local_alpha(counts: pd.Series, window_s: int = 15) -> float:
    """Over-dispersion of per-second counts around their local level.

    For counts ``x_s`` with a slowly varying mean, the level ``m_s`` is the centred
    ``window_s`` moving average and ``r_s = x_s - m_s``; as ``m_s`` holds ``x_s`` itself,
    ``E r_s**2 = (1 - 1/window_s) v_s`` with ``v_s = m_s + alpha m_s**2``, so
    ``alpha = sum(r_s**2 / (1 - 1/window_s) - m_s) / sum(m_s**2)``: weighted to the
    busy seconds, where bursts matter. 15 s: short beside a flood's rise and fall
    (tens of seconds to minutes), long enough for a steady level. Clipped at 0
    (a capped join path counts less noise than Poisson); NaN when no window is whole.

    Parameters
    ----------
    counts : pandas.Series
        Counts per second; missing seconds (NaN) break the windows they fall in.
    window_s : int, default 15
        Width of the moving average (s).
    """
    x = counts.to_numpy(dtype=float)
    level = pd.Series(x).rolling(window_s, center=True, min_periods=window_s).mean().to_numpy()
    ok = np.isfinite(level) & np.isfinite(x) & (level > 0)
    if not ok.any():
        return np.nan
    excess = (x[ok] - level[ok]) ** 2 / (1 - 1 / window_s) - level[ok]
    return max(float(excess.sum() / np.sum(level[ok] ** 2)), 0.0)
