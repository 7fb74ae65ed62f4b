"""The join forecast a plan is sized on: per-second rates, an upper quantile, scenarios.

One way per kind of uncertainty:

- :meth:`JoinForecast.from_fit`: a fitted join curve; the upper curve is its
  parameter band (narrow: the uncertainty of a *fit*, not of a future event).
- :meth:`JoinForecast.from_peak`: a past event's fitted join curve scaled to a
  forecast peak, its upper quantile the curve times the forecast's upper / point.
  It keeps the past event's observed seconds (``observed``), so that a plan made
  from it is also replayed on them (:meth:`EventPlan.validate`).
- :meth:`JoinForecast.from_rates`: rates per second (any regular grid) and one
  multiplicative ``factor`` for the upper quantile, e.g. a peak forecast's
  ``upper / point``.
- :meth:`JoinForecast.from_scenarios`: several forecast curves (columns); the
  point is their median and the upper curve their ``level`` quantile, second by
  second.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special

from capplan._text import human
from capplan.models.noise import mixing_alpha

__all__ = ["JoinForecast"]


def _regular(series, name: str) -> tuple[np.ndarray, float]:
    idx = np.asarray(series.index, dtype=float)
    if idx.size < 1:
        raise ValueError(f"{name} is empty: give rates indexed by seconds since the start")
    step = float(np.diff(idx).min()) if idx.size > 1 else 1.0
    if idx.size > 1 and (np.any(np.abs(np.diff(idx) - step) > 1e-9) or step <= 0):
        raise ValueError(f"{name} must be on a regular, increasing grid of seconds; it is not")
    if abs(step - round(step)) > 1e-9 or round(step) < 1:
        raise ValueError(f"{name}: its interval must be a whole number of seconds; got {step:g} s")
    return idx, float(round(step))


def _per_second(values: np.ndarray, idx: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    reps = int(step)
    t = (idx[:, None] + np.arange(reps)[None, :]).ravel()
    return t, np.repeat(values, reps, axis=0)


def _observed_of(fit, name) -> pd.Series | None:
    """The counts per second a curve was fitted on, named ``name``; None if not per second."""
    if abs(float(fit.interval_s) - 1.0) > 1e-9:
        return None
    data = fit.data.copy()
    return data.rename(data.name if name is None else name)


@dataclass(frozen=True)
class JoinForecast:
    """Per-second join rates (first tries per second) on a 1-s grid, with their upper quantile.

    Attributes
    ----------
    t : numpy.ndarray
        Start of each second (s since the start of the event).
    point : numpy.ndarray
        Point forecast of the join rate (1/s) in each second.
    upper : numpy.ndarray
        Upper quantile (at ``level``) of the join rate (1/s).
    level : float
        Level of ``upper``.
    alpha_per_second : float
        Over-dispersion of per-second counts (variance ``m (1 + cluster) + alpha m**2``,
        :mod:`capplan.models.noise`).
    kind : str
        ``"fit"``, ``"peak"``, ``"rates"`` or ``"scenarios"``: the constructor used.
    scenarios : dict of str to numpy.ndarray
        Curves to validate on (per second): at least ``point`` and ``upper``.
    description : str
    observed : pandas.Series or None
        Observed first tries per second of the past event the curve was fitted on,
        indexed by seconds since its start (NaN: a missing second), named after the
        event; :meth:`EventPlan.validate` replays them, scaled to this forecast, by
        default. None (the default, and after :meth:`replace`): nothing to replay.
    cluster_per_second : float
        The ``cluster`` term of the per-second variance (default 0): arrivals in
        clusters, which weigh at low rates.
    concurrency_factor : float or None
        Upper over point of the concurrency peak where it was forecast on its own (a
        peak forecast's concurrent listeners, :func:`~capplan.forecast_event`): the
        stream servers are sized on the point curve's concurrency times it. None (the
        default): on the upper curve's concurrency.
    """

    t: np.ndarray
    point: np.ndarray
    upper: np.ndarray
    level: float
    alpha_per_second: float
    kind: str
    scenarios: dict = field(repr=False)
    description: str = ""
    observed: pd.Series | None = field(default=None, repr=False, compare=False)
    cluster_per_second: float = 0.0
    concurrency_factor: float | None = None

    def __post_init__(self):
        level = self.level
        if isinstance(level, bool) or not isinstance(level, float | int) or not 0 < level < 1:
            raise ValueError(
                f"JoinForecast: level must be a number in (0, 1), the upper curve's quantile "
                f"(e.g. 0.95); got {level!r}"
            )
        for arr in (self.t, self.point, self.upper, *self.scenarios.values()):
            if arr.shape != self.t.shape:
                raise ValueError("JoinForecast: every curve needs one rate per second of t")
            if np.any(~np.isfinite(arr)) or (np.any(arr < 0) and arr is not self.t):
                raise ValueError("JoinForecast: rates must be finite and >= 0 (per second)")
        k = self.concurrency_factor
        if k is not None and not (isinstance(k, float | int) and math.isfinite(k) and k >= 1):
            raise ValueError(f"JoinForecast: concurrency_factor must be None or >= 1; got {k!r}")
        if self.observed is not None and not isinstance(self.observed, pd.Series):
            raise TypeError(
                "JoinForecast: observed must be a pandas Series of counts per second or None; "
                f"got {type(self.observed).__name__}"
            )

    # -- constructors ---------------------------------------------------------------------------

    @classmethod
    def from_fit(
        cls, fit, *, level: float = 0.95, start_s: float = -3600.0, end_s: float = 10800.0
    ) -> JoinForecast:
        """From a :class:`~capplan.models.JoinCurveFit`, evaluated from ``start_s`` to ``end_s``.

        The point is the curve's exact mean count in each second; the upper curve
        multiplies it by the ratio of the fit's upper band to its rate at the
        second's middle (delta method, parameter uncertainty only).
        """
        from capplan.models import JoinCurveFit

        if not isinstance(fit, JoinCurveFit):
            raise TypeError(f"fit must be a JoinCurveFit; got {type(fit).__name__}")
        t = np.arange(np.floor(start_s), np.ceil(end_s), 1.0)
        point = np.asarray(fit.mean_counts(t, 1.0), dtype=float)
        band = fit.predict(t + 0.5, level=level)
        ratio = (band["upper"] / band["rate_per_s"]).to_numpy(dtype=float)
        upper = point * np.where(np.isfinite(ratio), ratio, 1.0)
        peak = fit.peak()
        return cls(
            t,
            point,
            upper,
            float(level),
            float(fit.alpha_per_second),
            "fit",
            {"point": point, "upper": upper},
            f"fitted {fit.form.name} curve, peak {human(peak.rate, '1/s')} at {peak.time:.0f} s; "
            f"upper: {level:.0%} parameter band",
            cluster_per_second=float(fit.cluster_per_second),
        )

    @classmethod
    def from_peak(
        cls,
        fit,
        peak_per_s: float,
        upper_per_s: float,
        *,
        level: float = 0.95,
        start_s: float = -3600.0,
        end_s: float = 10800.0,
        observed_name: str | None = None,
    ) -> JoinForecast:
        """A past event's fitted join curve, scaled so that its peak is ``peak_per_s``.

        The shape of a flood comes from a past event, its size from a peak forecast
        (:meth:`PeakForecast.predict`): the point is the curve's exact mean count in each
        second times ``peak_per_s / fit.peak().rate``; the upper curve is the point times
        ``upper_per_s / peak_per_s``, the forecast's ``level`` quantile over its point.
        The curve's over-dispersion is kept.

        The counts the curve was fitted on (``fit.data``, unscaled, on the past event's
        clock) are kept as ``observed``, named ``observed_name`` (default: the data's
        name): a plan made from this forecast replays them through its workers, scaled
        to the forecast's peak, when it is validated (:meth:`EventPlan.validate`).
        Counts per interval longer than one second are not kept (nothing to replay
        second by second).
        """
        from capplan.models import JoinCurveFit

        if not isinstance(fit, JoinCurveFit):
            raise TypeError(f"fit must be a JoinCurveFit; got {type(fit).__name__}")
        for name, value in (("peak_per_s", peak_per_s), ("upper_per_s", upper_per_s)):
            if isinstance(value, bool) or not np.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be a rate > 0 (joins per second); got {value!r}")
        if upper_per_s < peak_per_s:
            raise ValueError(
                f"upper_per_s ({upper_per_s:g}) is below peak_per_s ({peak_per_s:g}): the upper "
                "quantile of the peak cannot be below its point"
            )
        scale = peak_per_s / fit.peak().rate
        t = np.arange(np.floor(start_s), np.ceil(end_s), 1.0)
        point = np.asarray(fit.mean_counts(t, 1.0), dtype=float) * scale
        factor = upper_per_s / peak_per_s
        upper = point * factor
        return cls(
            t,
            point,
            upper,
            float(level),
            float(fit.alpha_per_second),
            "peak",
            {"point": point, "upper": upper},
            f"fitted {fit.form.name} curve scaled by {scale:.4g} to a peak of "
            f"{human(peak_per_s, '1/s')}; upper = point x {factor:.4g} ({level:.0%} quantile)",
            _observed_of(fit, observed_name),
            float(fit.cluster_per_second),
        )

    @classmethod
    def from_rates(
        cls, rates: pd.Series, *, factor: float, level: float = 0.95, alpha_per_second: float = 0.0
    ) -> JoinForecast:
        """From rates (1/s) indexed by seconds and one multiplicative ``factor`` (>= 1).

        ``factor`` is the ratio of the forecast's ``level`` quantile to its point,
        for example ``PeakForecast`` upper peak joins / point peak joins.
        """
        if not isinstance(rates, pd.Series):
            raise TypeError(
                f"rates must be a pandas Series indexed by seconds; got {type(rates).__name__}"
            )
        if isinstance(factor, bool) or not np.isfinite(factor) or factor < 1:
            raise ValueError(f"factor must be a number >= 1 (upper / point); got {factor!r}")
        idx, step = _regular(rates, "rates")
        values = rates.to_numpy(dtype=float)
        if np.any(~np.isfinite(values)) or np.any(values < 0):
            raise ValueError("rates must be finite and >= 0 per second, with no missing value")
        t, point = _per_second(values, idx, step)
        upper = point * float(factor)
        return cls(
            t,
            point,
            upper,
            float(level),
            float(alpha_per_second),
            "rates",
            {"point": point, "upper": upper},
            f"rates per {step:g} s; upper = point x {factor:.4g} ({level:.0%} quantile)",
        )

    @classmethod
    def from_scenarios(
        cls, scenarios: pd.DataFrame, *, level: float = 0.95, alpha_per_second: float = 0.0
    ) -> JoinForecast:
        """From forecast curves, one per column (1/s), indexed by seconds.

        The point is the per-second median of the columns, the upper curve their
        ``level`` quantile; the columns are kept as validation scenarios.
        """
        if not isinstance(scenarios, pd.DataFrame) or scenarios.shape[1] < 2:
            raise ValueError("scenarios must be a DataFrame with at least two curves (columns)")
        idx, step = _regular(scenarios, "scenarios")
        values = scenarios.to_numpy(dtype=float)
        if np.any(~np.isfinite(values)) or np.any(values < 0):
            raise ValueError("scenarios must be finite and >= 0 per second, with no missing value")
        t, per = _per_second(values, idx, step)
        point = np.median(per, axis=1)
        upper = np.quantile(per, level, axis=1)
        curves = {str(c): per[:, i].copy() for i, c in enumerate(scenarios.columns)}
        curves.update(point=point, upper=upper)
        return cls(
            t,
            point,
            upper,
            float(level),
            float(alpha_per_second),
            "scenarios",
            curves,
            f"{scenarios.shape[1]} scenarios; upper: their {level:.0%} quantile",
        )

    # -- use --------------------------------------------------------------------------------

    @property
    def start_s(self) -> float:
        return float(self.t[0])

    @property
    def end_s(self) -> float:
        return float(self.t[-1] + 1.0)

    def window(self, start_s: float, end_s: float) -> JoinForecast:
        """The forecast cut to ``[start_s, end_s)``; an error if it does not cover it."""
        if start_s < self.start_s - 1e-9 or end_s > self.end_s + 1e-9:
            raise ValueError(
                f"the forecast covers {self.start_s:g}..{self.end_s:g} s but the planning window "
                f"is {start_s:g}..{end_s:g} s: extend the forecast or pass window=(start_s, "
                "end_s) inside it"
            )
        keep = (self.t >= start_s - 1e-9) & (self.t < end_s - 1e-9)
        return JoinForecast(
            self.t[keep],
            self.point[keep],
            self.upper[keep],
            self.level,
            self.alpha_per_second,
            self.kind,
            {k: v[keep] for k, v in self.scenarios.items()},
            self.description,
            self.observed,
            self.cluster_per_second,
            self.concurrency_factor,
        )

    @property
    def peak_sigma(self) -> float:
        """Log-scale spread of the event's size: ``log(upper peak / point peak) / z_level``.

        The peak's predictive distribution is taken as log-normal with the point as its
        median and the upper curve as its ``level`` quantile; the whole curve scales with
        the peak (``M * point``, ``log M ~ N(0, peak_sigma**2)``). 0 when the upper curve
        is no higher than the point.
        """
        peak_point, peak_upper = float(self.point.max()), float(self.upper.max())
        if not peak_point > 0:
            raise ValueError("the forecast's point curve is zero everywhere: it has no peak")
        z = float(special.ndtri(self.level))
        if z == 0.0:
            raise ValueError(
                "a forecast at the 0.5 level (its upper curve is its point) carries no spread; "
                "take the spread from the forecast it came from, or give a level other than 0.5"
            )
        return max(math.log(peak_upper / peak_point) / z, 0.0)

    @property
    def concurrency_sigma(self) -> float:
        """Log-scale spread of the concurrency peak: ``log(concurrency_factor) / z_level``
        where the concurrency was forecast on its own, else :attr:`peak_sigma`."""
        if self.concurrency_factor is None:
            return self.peak_sigma
        z = float(special.ndtri(self.level))
        if z == 0.0:
            return self.peak_sigma  # says why there is none
        return max(math.log(self.concurrency_factor) / z, 0.0)

    def at_level(self, level: float) -> JoinForecast:
        """The forecast whose upper curve is the point times the event-size multiplier's
        ``level`` quantile, ``exp(peak_sigma * z_level)`` (see :attr:`peak_sigma`): what a
        plan sized at that level is sized for. Keeps the observed seconds."""
        if not (isinstance(level, float | int) and 0 < level < 1):
            raise ValueError(f"level must be a probability in (0, 1); got {level!r}")
        z = float(special.ndtri(level))
        m = math.exp(self.peak_sigma * z)
        upper = self.point * m
        k = self.concurrency_factor
        return dataclasses.replace(
            self,
            upper=upper,
            level=float(level),
            scenarios={"point": self.point, "upper": upper},
            description=f"{self.description}; upper at the {level:.1%} quantile (x {m:.3g})",
            concurrency_factor=None
            if k is None
            else max(math.exp(self.concurrency_sigma * z), 1.0),
        )

    def replace(self, **curves) -> JoinForecast:
        """A copy with new ``point``/``upper`` (and scenarios scaled alike).

        The observed seconds are dropped (they belong to the old curves: a delayed start
        moves the flood, not the past event's seconds) unless given as ``observed=``.
        """
        point = curves.get("point", self.point)
        upper = curves.get("upper", self.upper)
        scen = curves.get("scenarios", {"point": point, "upper": upper})
        return JoinForecast(
            self.t,
            point,
            upper,
            self.level,
            self.alpha_per_second,
            self.kind,
            scen,
            curves.get("description", self.description),
            curves.get("observed"),
            self.cluster_per_second,
            self.concurrency_factor,
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per second: the scenarios' rates (1/s)."""
        return pd.DataFrame(self.scenarios, index=pd.Index(self.t, name="seconds"))

    def burst_factor(self, interval_s: int, quantile: float | None, curve=None) -> np.ndarray:
        """Per interval: ``quantile`` of the worst second's rate over the interval's mean rate.

        The rate of second ``s`` is ``m_s G_s``, ``G_s ~ Gamma(1/a_s, a_s)``
        independent, ``a_s = alpha + cluster / m_s`` (the over-dispersion beyond Poisson,
        which the stationary formulas do not see, :func:`~capplan.models.noise.mixing_alpha`):
        ``P(max_s m_s G_s <= x mean(m)) = prod_s F_s(x mean(m) / m_s)``, solved for ``x``
        by Newton's method on its logarithm (increasing in ``x``), kept inside a bracket
        that each step narrows (bisection where a step would leave it), to a relative
        1e-10. With no noise it is ``max(m) / mean(m)``, the shape within the interval.
        None: 1 (size for the interval's mean).
        """
        m = (self.upper if curve is None else curve).reshape(-1, int(interval_s))
        mean = m.mean(axis=1)
        n = m.shape[0]
        if quantile is None:
            return np.ones(n)
        with np.errstate(invalid="ignore", divide="ignore"):
            shape_ratio = np.where(mean > 0, m.max(axis=1) / mean, 1.0)
        a = mixing_alpha(m, self.alpha_per_second, self.cluster_per_second)
        if not np.any(a > 0):
            return shape_ratio
        noisy = a > 0
        k = 1.0 / np.where(noisy, a, 1.0)
        top = a.max(axis=1)
        lo = np.maximum(shape_ratio * 0.5, 1e-9)
        hi = shape_ratio * (1 + 20 * np.sqrt(top) + 10 * top) + 1.0
        target = np.log(quantile)
        # x mean(m) / m_s per unit of x; a second with no rate never binds
        per_x = np.where(m > 0, mean[:, None] / np.where(m > 0, m, 1.0), np.inf)
        log_norm = special.gammaln(k)
        x = (lo + hi) / 2
        for _ in range(60):
            z = x[:, None] * per_x * k  # G_s's bound, on the Gamma(k, 1) scale
            fixed = np.where(z >= k, 0.0, -np.inf)  # no noise: G_s = 1
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                # gammainc is the Gamma CDF without the overhead of scipy.stats
                log_cdf = np.log(special.gammainc(k, z))
                log_pdf = (k - 1) * np.log(z) - z - log_norm
                slope = np.where(noisy & (z < np.inf), np.exp(log_pdf - log_cdf) * per_x * k, 0.0)
            g = np.where(noisy, log_cdf, fixed).sum(axis=1) - target
            ok = g >= 0
            hi = np.where(ok, x, hi)
            lo = np.where(ok, lo, x)
            if np.all(hi - lo <= 1e-10 * hi):
                break
            with np.errstate(divide="ignore", invalid="ignore"):
                step = x - g / np.nansum(slope, axis=1)
            # Each step is nudged a little past the root it aims at, so that the last one
            # lands on the bracket's other side and closes it.
            step = step * (1 + np.where(ok, -4e-11, 4e-11))
            inside = np.isfinite(step) & (step > lo) & (step < hi)
            x = np.where(inside, step, (lo + hi) / 2)
        return np.where(mean > 0, hi, 1.0)
