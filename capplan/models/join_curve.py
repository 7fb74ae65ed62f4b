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

Limits, said plainly: :class:`LobbyFlood` and :class:`PlateauSurge` hold one
surge per window on a constant background; the default,
:class:`~capplan.models.floods.Floods`, adds floods (up to four) and a
background drifting exponentially while they lower the quasi-AIC, and its
greedy search can stay in a local optimum (one broad flood over two crests).
``rise_s <= decay_s`` for every flood.

The likelihood
--------------
The count ``y_i`` of interval ``[t_i, t_i + Δ)`` has mean the
interval-integrated rate ``mu_i = B(t_i, t_i + Δ) + A (G(t_i + Δ) - G(t_i))``
(``B`` the background's integral, ``G`` the shape's distribution function,
exact, no midpoint rule). The curve maximises the Poisson log-likelihood
(quasi-likelihood: consistent whatever the noise, and steered by the busy
intervals; NB2's own likelihood gave each interval alike and let ``alpha``
absorb a missed crest, with fitted peaks at 22-75% of real ones); then the
counts are NB2 with variance ``mu_i + alpha mu_i**2``, ``alpha`` by maximum
likelihood with the curve held, and the curve's covariance is the sandwich
under that variance (:func:`~capplan.models._fitting.fit_mean_counts`).
``alpha`` belongs to the interval of the data; a one-second alpha is
``JoinCurveFit.alpha_per_second`` (measured around the local level when the
data are per second). Missing (NaN) intervals are left out. Parameters are
on a well-scaled working scale (logs of the positive parameters, logits of
the shares and of the time parameters bounded by the window: a surge outside
the data, or a time scale longer than it, is not identified). See
:func:`fit_join_curve`'s Notes for the two passes (structure on minutes, the
estimate on the data's intervals); the fit is deterministic.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import signal, special, stats

from capplan._text import human, table_text
from capplan.models import _validate
from capplan.models._fitting import (
    Estimate,
    Param,
    fit_mean_counts,
    maximize,
    nb_deviance,
)
from capplan.models.floods import Floods
from capplan.models.join_forms import JoinCurveForm, LobbyFlood, PlateauSurge
from capplan.models.noise import SecondNoise, local_noise
from capplan.warnings import LackOfFitWarning

__all__ = [
    "Floods",
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

    def __init__(
        self,
        data: pd.Series,
        interval_s: float,
        form: JoinCurveForm,
        estimate,
        level,
        selection: pd.DataFrame | None = None,
        selection_interval_s: float | None = None,
    ):
        self.data = data.copy()
        self.selection = pd.DataFrame() if selection is None else selection.copy()
        self._noise = None  # (alpha, cluster) per second, measured on first use
        self._profiles = {}  # (name, level) -> profile interval, found on first use
        self._sums_maximum = None  # the counts a profile refits and their likelihood's maximum
        self._peaks = {}  # level -> Peak (a bootstrap of 2,000 curves), found on first use
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
            "selection_interval_s": float(selection_interval_s or interval_s),
            **self._peak_1min(mu),
            **{k: v for k, v in estimate.diagnostics.items() if k != "dispersion"},
        }

    def _peak_1min(self, mu) -> dict:
        """Fitted against observed peak of the mean rate over whole minutes (aligned on the
        start; the data's intervals where they are longer), where sizing needs the fit right."""
        t = self.data.index.to_numpy(dtype=float)
        width = max(60.0, self.interval_s)
        block = np.floor(t / width)
        frame = pd.DataFrame({"block": block, "y": self.data.to_numpy(dtype=float), "mu": mu})
        groups = frame.groupby("block")
        whole = groups["y"].count() == round(width / self.interval_s)  # no missing interval
        if not whole.any():
            whole[:] = True  # too short or too gappy for whole minutes: use what there is
        observed = groups["y"].mean()[whole] / self.interval_s
        fitted = groups["mu"].mean()[whole] / self.interval_s
        i_obs, i_fit = observed.idxmax(), fitted.idxmax()
        return {
            "peak_1min_observed_per_s": float(observed[i_obs]),
            "peak_1min_observed_time_s": float(i_obs * width),
            "peak_1min_fitted_per_s": float(fitted[i_fit]),
            "peak_1min_fitted_time_s": float(i_fit * width),
            "peak_1min_ratio": float(fitted[i_fit] / observed[i_obs]),
        }

    # -- the curve ---------------------------------------------------------------------------

    def _split(self, values) -> tuple[float, float, dict, float]:
        names = self.estimate.names
        p = dict(zip(names, values, strict=True))
        b, a, alpha = p.pop("background_per_s"), p.pop("audience"), p.pop("alpha")
        return b, a, p, alpha

    def _rate(self, values, t):
        b, a, shape, _ = self._split(values)
        return self.form.background_rate(t, b, shape) + a * self.form.density(t, shape)

    def _mean_counts(self, values, t, interval_s=None):
        step = self.interval_s if interval_s is None else interval_s
        b, a, shape, _ = self._split(values)
        return _expected_counts(self.form, np.append(t, t[-1] + step), b, a, shape)

    @property
    def alpha_per_second(self) -> float:
        """One-second over-dispersion: the ``alpha`` of variance ``m (1 + cluster) + alpha
        m**2`` of a second's count (:mod:`capplan.models.noise`).

        From per-second data, the noise of the seconds around their minute's mean
        (:func:`~capplan.models.noise.local_noise`): the fitted ``alpha`` also absorbs the
        curve's misfit (a flood rising a little faster than the form allows), which is
        not noise, and overstated the burst factor by 10-70% on the sample's events. From
        coarser data, ``alpha * interval_s``: an upper bound, seconds taken as
        independent within an interval.
        """
        return self._second_noise().alpha

    @property
    def cluster_per_second(self) -> float:
        """The ``cluster`` term of a second's variance ``m (1 + cluster) + alpha m**2``.

        From per-second data only (:func:`~capplan.models.noise.local_noise`); 0 from
        coarser data, whose ``alpha_per_second`` is already an upper bound.
        """
        return self._second_noise().cluster

    def _second_noise(self) -> SecondNoise:
        if self._noise is None:
            local = local_noise(self.data) if self.interval_s == 1 else None
            if local is not None and np.isfinite(local.alpha):
                self._noise = local
            else:
                self._noise = SecondNoise(float(self.params_["alpha"] * self.interval_s), 0.0)
        return self._noise

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
        seed, so repeated calls agree), the peak of each curve (the form's
        coarse search: 257 points from the surge time to the flood's maximum,
        a grid of 2,001 over the data's window for floods; all draws in one
        evaluation where the form declares ``peaks``), and the central
        quantiles. The bootstrap copes
        with a peak that may jump from the flood's maximum to the lead-in's
        end, where the delta method would not. NaN when the covariance is
        not available (see the fit's warnings).
        """
        level = self.level if level is None else _validate.level(level, "level")
        if level not in self._peaks:
            self._peaks[level] = self._bootstrap_peak(level)
        return self._peaks[level]

    def _bootstrap_peak(self, level: float) -> Peak:
        time, rate = self._peak(self.estimate.values)
        draws = self.estimate.draws(_BOOTSTRAP_DRAWS, _BOOTSTRAP_SEED)
        if np.all(np.isfinite(draws)):
            sims = self._draw_peaks(draws)
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

    def _draw_peaks(self, draws) -> np.ndarray:
        """(time, rate) of the coarse peak (``precise=False``) of each row of `draws`: one
        evaluation where the form declares ``peaks``, else one :meth:`_peak` a draw."""
        if not hasattr(self.form, "peaks"):
            return np.array([self._peak(v, precise=False) for v in draws])
        b, a, shapes, _ = self._split(np.asarray(draws, dtype=float).T)
        t = self.data.index.to_numpy(dtype=float)
        time, density = self.form.peaks(shapes, t[0], t[-1] + self.interval_s)
        return np.column_stack([time, b + a * density])

    # -- the face of a result ---------------------------------------------------------------

    def profile_interval(self, name: str, level: float | None = None) -> dict:
        """Profile quasi-likelihood interval of parameter `name` (the fit's level by default).

        Fix the parameter, refit the rest of the curve by Poisson quasi-likelihood, and
        keep the values whose log-likelihood is within ``chi2_1 / 2`` of the maximum,
        times the over-dispersion where the data inform the parameter
        (:mod:`capplan.models._profile`).
        It asks the data where a Wald interval cannot (a parameter named in the
        :class:`~capplan.warnings.CovarianceWarning`); a side the data do not close runs
        to the end of the parameter's range. Costs some 5-15 refits of the curve, on the
        data summed into at most 600 intervals (four hours of seconds: 24-s sums). The
        likelihood of those sums has a maximum of its own (a crest sharper than a sum
        blurs: on the headline analogue, 480 log-likelihood units above the estimate's
        value, with a rise of 4.5 s against 7.9), found once per fit: the profile falls
        from there, and the interval is widened to hold the estimate where the sums'
        maximum moved it out.

        Returns
        -------
        dict
            ``lower``, ``upper`` (natural units), ``lower_open``, ``upper_open`` (True:
            the data do not bound that side; the bound is the range's end or the
            farthest value tried).
        """
        from capplan.models._profile import profile_interval

        names = [p.name for p in (*_COMMON, *self.form.params)]
        if name not in names:
            raise ValueError(f"no parameter {name!r} in the {self.form.name} form; it has {names}")
        level = self.level if level is None else _validate.level(level, "level")
        key = (name, level)
        if key not in self._profiles:
            counts, values = self._profiled_sums()
            mean_counts, _, _, params, bounds = _likelihood(self.form, counts)
            observed = np.isfinite(counts.y)
            index = names.index(name)
            lower, upper, lower_open, upper_open = profile_interval(
                lambda v: mean_counts(v)[observed],
                counts.y[observed],
                params,
                values,
                index,
                bounds=bounds,
                step=float(np.sqrt(self.estimate.cov_theta[index, index])),
                level=level,
                jacobian=_derivatives(self.form, counts)[0],
            )
            estimate = float(self.params_[name])
            self._profiles[key] = {
                "lower": min(lower, estimate),
                "upper": max(upper, estimate),
                "lower_open": lower_open,
                "upper_open": upper_open,
            }
        return dict(self._profiles[key])

    def _profiled_sums(self):
        """The counts a profile refits (summed into at most :data:`_PROFILE_BINS`) and the
        maximum of their likelihood, from the estimate (found once, kept)."""
        if self._sums_maximum is None:
            t = self.data.index.to_numpy(dtype=float)
            given = _Counts(t, self.data.to_numpy(dtype=float), self.interval_s)
            counts = given.binned(self.interval_s, _PROFILE_BINS)
            if counts is given:  # not summed: the estimate is the maximum
                _, _, _, params, bounds = _likelihood(self.form, counts)
                estimate = self.params_[[p.name for p in params]].to_numpy()
                values = _inside(estimate, params, bounds)
            else:
                values = _refine(self.form, counts, self.params_.to_dict(), False).values
            self._sums_maximum = counts, values
        return self._sums_maximum

    def summary(self) -> pd.DataFrame:
        """The parameter table: ``estimate``, ``std_err``, ``lower``, ``upper``, ``unit``,
        ``interval`` (how it was found), plus the derived peak rate and time.

        Parameters the Wald interval cannot bound (named in the fit's
        :class:`~capplan.warnings.CovarianceWarning`) get a profile interval
        (:meth:`profile_interval`, ``interval`` "profile", or "profile, open" where the
        data leave a side unbounded: that bound is the end of the range). They are found
        on first use, a few seconds each (a progress bar shows), and kept.
        """
        from capplan._progress import progress_bar

        table = self.estimate.table(self.level)
        table["interval"] = "Wald"
        wild = table.index[~np.isfinite(table["std_err"].to_numpy(dtype=float))].drop(
            "alpha", errors="ignore"
        )
        todo = [n for n in wild if (n, self.level) not in self._profiles]
        bar = progress_bar(len(todo), "profile intervals", "parameter", len(todo) > 1)
        for name in wild:
            got = self.profile_interval(name)
            bar.update(name in todo)
            table.loc[name, ["lower", "upper"]] = [got["lower"], got["upper"]]
            table.loc[name, "interval"] = (
                "profile, open" if got["lower_open"] or got["upper_open"] else "profile"
            )
        bar.close()
        peak = self.peak()
        how = "bootstrap"
        table.loc["peak_rate_per_s"] = [peak.rate, np.nan, peak.lower, peak.upper, "1/s", how]
        table.loc["peak_time_s"] = [peak.time, np.nan, peak.time_lower, peak.time_upper, "s", how]
        return table

    def __str__(self) -> str:
        d = self.diagnostics
        head = (
            f"Join curve ({self.form.name}), NB2 counts per {self.interval_s:g} s interval\n"
            f"observations: {d['n_obs']}   log-likelihood: {d['loglike']:.6g}   "
            f"AIC: {d['aic']:.6g}   deviance/point: {d['deviance_per_point']:.4g}   "
            f"converged: {d['converged']}\n"
            f"intervals: {self.level:.0%} Wald on the fitting scale (log, logit), profile "
            f"where Wald cannot bound a parameter; peak: parametric bootstrap\n"
        )
        return head + table_text(self.summary())

    def __repr__(self) -> str:
        return (
            f"<JoinCurveFit {self.form.name}: peak {human(self._peak_point()[1], '1/s')} at "
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
        The curve's shape. By default :class:`~capplan.models.floods.Floods`: a
        lobby and as many floods (up to four), on a constant or drifting
        background, as lower the quasi-AIC. :class:`LobbyFlood` (one flood) and
        :class:`PlateauSurge` fit one surge.
    start : dict, optional
        Starting values by parameter name (natural units) of the first form
        fitted (for ``Floods``: the one-flood form), replacing those found
        from the data.
    level : float, default 0.95
        Confidence level of the result's intervals.

    Returns
    -------
    JoinCurveFit
        Its ``diagnostics`` compare the fitted and the observed peak of the
        1-minute mean (``peak_1min_*``); ``selection`` lists the forms tried.

    Raises
    ------
    ValueError
        Fewer than 3 non-missing intervals per parameter, all zeros, a gap
        in the index, or an index that does not cover the start.

    Warns
    -----
    ConvergenceWarning, CovarianceWarning, BoundaryWarning
        A doubtful fit, with its diagnostics.
    LackOfFitWarning
        The fitted peak of the 1-minute mean differs from the observed one by
        more than 15%: the form misses the crest that sizing depends on.

    Notes
    -----
    The fit runs in two passes, both maximising the Poisson log-likelihood of
    the curve (see the module's docstring). **Structure**, on the counts
    summed into minutes (coarser where that would make more than 600 bins;
    ``diagnostics["selection_interval_s"]``): starting values come from the
    data (the background from the earliest tenth of the window, capped by its
    20th percentile should the window open inside an earlier surge; the
    audience from the total count above it; candidate peaks from the three
    most prominent maxima of a running mean; the decay from the half-life
    after a peak, the rise from the half-rise before it, the lead-in from the
    excess before the surge), each candidate fitted by BFGS and the best kept.
    A form that grows (``Floods``) then tries a flood at the largest crest the
    fit misses and a drifting background, each fitted from the smaller form's
    values (by Fisher scoring and by BFGS, the likelier kept), keeping each that
    lowers the quasi-AIC of the binned counts (binned, the seconds' correlated
    noise does not pass for structure). **Estimate**, on the data's own
    intervals: the chosen form, from the first pass's values, by Fisher scoring
    and by BFGS, scoring continued from the likelier; then NB2's ``alpha`` with
    the curve held, and the sandwich covariance. A starting ``alpha`` in
    `start` is accepted and not used: the curve is fitted without it.

    Both passes use the exact gradient of the likelihood where the form declares
    it (:meth:`JoinCurveForm.cdf_gradient`; the shipped forms do), and finite
    differences where it does not. Four hours of per-second counts take one to
    two seconds on a laptop-class core.

    Examples
    --------
    >>> import capplan
    >>> event = capplan.worldcup98_history().event("wc98-19980610-1530")
    >>> fit = fit_join_curve(event["requests"], form=PlateauSurge())
    >>> peak = fit.peak()
    >>> 6_000 < peak.time < 7_500  # the final whistle, about 115 min after kick-off
    True
    """
    form = Floods() if form is None else form
    if not isinstance(form, JoinCurveForm):
        raise TypeError(f"form must be a JoinCurveForm (e.g. LobbyFlood()), not {form!r}")
    level = _validate.level(level, "level")
    current = form.first()
    params = (*_COMMON, *current.params, _ALPHA)
    series = _validate.regular_series(
        joins, "joins", counts=True, min_points=3 * len(params), cover_start=True
    )
    if start is not None:
        unknown = set(start) - {p.name for p in params}
        if unknown:
            raise ValueError(
                f"start has unknown parameter(s) {sorted(unknown)}; "
                f"known: {[p.name for p in params]}"
            )
    full = _Counts(series.t, series.y, series.interval_s)
    coarse = full.binned(_SELECTION_S, _SELECTION_BINS)

    # Pass 1, structure, on the binned counts: a larger form is kept where it lowers the
    # quasi-AIC, the Poisson deviance over the current form's dispersion plus 2 k. (BIC's
    # k log n let a crest of a few minutes, the one a plan is sized on, go unfitted.)
    estimate = _fit_first(current, coarse, start)
    dispersion = _dispersion(current, coarse, estimate)
    tried = [_selection_row(current, estimate, dispersion, True)]
    while True:
        values = dict(zip(estimate.names, estimate.values, strict=True))
        residual = coarse.smooth_rate() - coarse.rate_of(current, estimate.values)
        proposals = current.grow(values, coarse.mid, residual, coarse.step)
        required = [(f, v) for f, v, must in proposals if must]
        options = required or [(f, v) for f, v, _ in proposals]
        if not options:
            break
        # A proposal adding one parameter starts where it changes nothing (a drift of 0);
        # one adding several (a flood) starts rough.
        fits = [
            (f, _grow_from(f, coarse, v, search=len(f.params) > len(current.params) + 1))
            for f, v in options
        ]
        qaic = [_qaic(e, dispersion) for _, e in fits]
        best = int(np.argmin(qaic))
        keep = bool(required) or qaic[best] < _qaic(estimate, dispersion)
        tried += [
            _selection_row(f, e, dispersion, keep and i == best) for i, (f, e) in enumerate(fits)
        ]
        if not keep:
            break
        current, estimate = fits[best]
        dispersion = _dispersion(current, coarse, estimate)

    # Pass 2, the estimate, on the data's own intervals.
    values = dict(zip(estimate.names, estimate.values, strict=True))
    estimate = _refine(current, full, values)
    index = joins.index if isinstance(joins, pd.Series) else joins.iloc[:, 0].index
    data = pd.Series(series.y, index=index.rename("seconds"), name=getattr(joins, "name", None))
    selection = pd.DataFrame(tried).set_index("form")
    fit = JoinCurveFit(data, series.interval_s, current, estimate, level, selection, coarse.step)
    d = fit.diagnostics
    if abs(d["peak_1min_ratio"] - 1) > _PEAK_TOLERANCE:
        warnings.warn(
            LackOfFitWarning(
                "the fitted peak of the 1-minute mean, "
                f"{human(d['peak_1min_fitted_per_s'], '1/s')} at "
                f"{d['peak_1min_fitted_time_s']:.0f} s, is {d['peak_1min_ratio']:.0%} of the "
                f"observed {human(d['peak_1min_observed_per_s'], '1/s')} at "
                f"{d['peak_1min_observed_time_s']:.0f} s: the {current.name} form misses the "
                "crest a plan is sized on. Try Floods() (the default) with a larger max_k, or "
                "another form",
                fitted_per_s=d["peak_1min_fitted_per_s"],
                observed_per_s=d["peak_1min_observed_per_s"],
            ),
            stacklevel=2,
        )
    return fit


_PEAK_TOLERANCE = 0.15  # fitted 1-minute peak within 15% of the observed one
_PROFILE_BINS = 600  # a profile refits the curve some 5-15 times: on at most this many sums


# The structure pass runs on minutes, where plans are judged (and a second's correlated
# noise cannot pass for a flood), and on at most 600 bins, to bound its cost.
_SELECTION_S = 60.0
_SELECTION_BINS = 600


@dataclass(frozen=True)
class _Counts:
    """Counts on a regular grid: interval starts `t` (s), counts `y` (NaN missing), `step` (s)."""

    t: np.ndarray
    y: np.ndarray
    step: float

    @property
    def mid(self) -> np.ndarray:
        return self.t + self.step / 2

    @property
    def edges(self) -> np.ndarray:
        return np.append(self.t, self.t[-1] + self.step)

    def binned(self, width_s: float, most: int) -> _Counts:
        """Sums over consecutive groups of intervals, each about `width_s` (s) long and at
        most `most` groups (a trailing partial group left out; a group with a missing
        interval is missing)."""
        m = max(round(width_s / self.step), math.ceil(len(self.t) / most), 1)
        if m <= 1:
            return self
        n = len(self.t) // m
        y = self.y[: n * m].reshape(n, m).sum(axis=1)  # NaN where any is missing
        return _Counts(self.t[: n * m : m], y, self.step * m)

    def smooth_rate(self) -> np.ndarray:
        """Rate (per s) in a centred 3-interval running mean: a crest of a few minutes shows."""
        rate = pd.Series(self.y / self.step)
        return rate.rolling(3, center=True, min_periods=1).mean().to_numpy()

    def rate_of(self, form, values) -> np.ndarray:
        """Fitted mean rate (per s) in each interval."""
        return _likelihood(form, self)[0](values) / self.step


def _expected_counts(form: JoinCurveForm, edges, b, a, shape) -> np.ndarray:
    """Expected count in each interval between `edges` (s): background `b`, audience `a`."""
    background = form.background_counts(edges, b, shape)
    return background + a * np.maximum(np.diff(form.cdf(edges, shape)), 0.0)


def _expected_counts_jacobian(form: JoinCurveForm, edges, b, a, shape):
    """:func:`_expected_counts` and its derivatives by the natural values (background,
    audience, then the shape's parameters in their order), for a form that declares its
    gradient."""
    cdf, gradient = form.cdf_gradient(edges, shape)
    background, per_b, d_background = form.background_gradient(edges, b, shape)
    arrived = np.diff(cdf)
    rising = arrived > 0  # the clipped increments (rounding below 0) have no derivative
    jac = np.empty((len(arrived), 2 + gradient.shape[1]), order="F")  # filled by columns
    jac[:, 0] = per_b
    jac[:, 1] = np.where(rising, arrived, 0.0)
    np.multiply(np.diff(gradient, axis=0), np.where(rising, a, 0.0)[:, None], out=jac[:, 2:])
    names = [p.name for p in form.params]
    for name, value in d_background.items():
        jac[:, 2 + names.index(name)] += value
    return background + a * np.maximum(arrived, 0.0), jac


def _derivatives(form: JoinCurveForm, counts: _Counts):
    """``(jacobian, score)`` of `form` on `counts`: natural values of the curve (no alpha) ->
    ``(mu, d mu / d values)`` of the observed counts, and -> ``(loglike, gradient)`` of
    their Poisson log-likelihood; ``(None, None)`` where the form declares no gradient.

    The score is ``J' (y / mu - 1)``, with ``J``'s shape columns differences of the
    distribution function's gradient at the edges: summed by parts, it is that gradient
    times the differences of the residuals, and ``J`` itself is never formed.
    """
    if not form.declares_gradient:
        return None, None
    names = [p.name for p in (*_COMMON, *form.params)]
    shape_names = [p.name for p in form.params]
    edges = counts.edges
    observed = np.isfinite(counts.y)
    y = np.where(observed, counts.y, 0.0)
    every = bool(observed.all())

    def split(values):
        p = dict(zip(names, values[: len(names)], strict=True))
        return p.pop("background_per_s"), p.pop("audience"), p

    def jacobian(values):
        with np.errstate(all="ignore"):
            mu, jac = _expected_counts_jacobian(form, edges, *split(values))
        return (mu, jac) if every else (mu[observed], jac[observed])

    def score(values):
        b, a, shape = split(values)
        with np.errstate(all="ignore"):
            cdf, gradient = form.cdf_gradient(edges, shape)
            background, per_b, d_background = form.background_gradient(edges, b, shape)
            arrived = np.diff(cdf)
            rising = arrived > 0
            mu = np.maximum(background + a * np.maximum(arrived, 0.0), 1e-300)
            resid = np.where(observed & (mu > 1e-300), y / mu - 1.0, 0.0)
            value = float(np.sum(np.where(observed, special.xlogy(y, mu) - mu, 0.0)))
            through = np.where(rising, resid, 0.0)  # the residuals the shape's columns see
            # sum_i through_i (G_{i+1} - G_i) = sum_j G_j (through_{j-1} - through_j)
            parts = np.diff(through, prepend=0.0, append=0.0)
            out = np.empty(len(names))
            out[0] = _dot(per_b, resid)
            out[1] = _dot(arrived, through)
            out[2:] = -a * (parts @ gradient)
            for name, d in d_background.items():
                out[2 + shape_names.index(name)] += _dot(d, resid)
        return value, out

    return jacobian, score


def _dot(a, b) -> float:
    """``a @ b`` of two vectors without BLAS (whose threads, on a busy machine, made one
    dot of 10,000 seconds take milliseconds)."""
    return float(np.einsum("i,i->", a, b))


def _likelihood(form: JoinCurveForm, counts: _Counts):
    """``(mean_counts, loglike, canonical, params, bounds)`` of `form` on `counts`.

    The parameters are the curve's, without alpha; `loglike` is the Poisson
    log-likelihood of the curve (see :func:`~capplan.models._fitting.fit_mean_counts`).
    """
    params = (*_COMMON, *form.params)
    names = [p.name for p in params]
    edges, step = counts.edges, counts.step
    observed = np.isfinite(counts.y)
    y_obs = counts.y[observed]

    def split(values):
        p = dict(zip(names, values[: len(names)], strict=True))
        return p.pop("background_per_s"), p.pop("audience"), p

    def mean_counts(values):
        return _expected_counts(form, edges, *split(values))

    def loglike(values):
        mu = np.maximum(mean_counts(values)[observed], 1e-300)
        return float(np.sum(special.xlogy(y_obs, mu) - mu))

    def canonical(values):  # values may carry alpha last
        b, a, shape = split(values)
        full = {"background_per_s": b, "audience": a, **form.canonical(shape)}
        return np.append([full[n] for n in names], values[len(names) :])

    bounds = form.bounds(float(counts.t[0]), float(counts.edges[-1]), step)
    return mean_counts, loglike, canonical, params, bounds


def _inside(values, params, bounds):
    """Starting values strictly inside their ranges: declared or narrowed by `bounds` (a
    fitted value may sit on an edge, a share at 1.0 in floating point)."""
    values = np.array(values, dtype=float)
    for i, p in enumerate(params):
        lo, hi = bounds.get(p.name, (p.lower, p.upper))
        if np.isfinite(lo) and np.isfinite(hi):
            values[i] = float(np.clip(values[i], lo + 1e-4 * (hi - lo), hi - 1e-4 * (hi - lo)))
        elif np.isfinite(lo):
            values[i] = max(values[i], np.nextafter(lo, np.inf))
        elif np.isfinite(hi):
            values[i] = min(values[i], np.nextafter(hi, -np.inf))
    return values


def _fit_first(form: JoinCurveForm, counts: _Counts, start: dict | None) -> Estimate:
    """The first form from the best of the data's candidate starts (fit_join_curve's Notes)."""
    best = None
    for candidate in _starts(form, counts.t, counts.y, counts.step):
        if start is not None:
            candidate.update({k: float(v) for k, v in start.items() if k != "alpha"})
        estimate = _fit_from(form, counts, candidate)
        if best is None or estimate.loglike > best.loglike:
            best = estimate
    return best


def _fit_from(form: JoinCurveForm, counts: _Counts, values: dict) -> Estimate:
    """The curve of `form` on `counts` by BFGS from the natural `values` by name (no alpha,
    no covariance: the structure pass)."""
    _, loglike, canonical, params, bounds = _likelihood(form, counts)
    names = [p.name for p in params]
    return maximize(
        loglike,
        params,
        _inside([values[n] for n in names], params, bounds),
        n_obs=int(np.isfinite(counts.y).sum()),
        what="the join curve",
        bounds=bounds,
        canonical=canonical,
        covariance=False,
        score=_derivatives(form, counts)[1],
    )


def _refine(
    form: JoinCurveForm, counts: _Counts, values: dict, covariance: bool = True
) -> Estimate:
    """The curve of `form` on `counts` from near values by Fisher scoring, then alpha and
    the covariance (or, without `covariance`, the curve alone: a structure search).

    With `covariance` (the estimate) and a form that declares its gradient, the curve is
    also fitted by BFGS from the same values, and scoring goes on from the likelier of the
    two: under misfit scoring converges linearly (50 steps left a sample event's seconds
    190 log-likelihood units short of the maximum), while BFGS stops where an onset sits
    on an interval's edge, a kink of the likelihood, and either may end in the poorer of
    two optima (on the 40 sample events, each did on some).
    """
    if covariance and form.declares_gradient:
        first = _refine(form, counts, values, covariance=False)
        searched = _fit_from(form, counts, values)
        best = first if first.loglike >= searched.loglike else searched
        values = dict(zip(best.names, best.values, strict=True))
    mean_counts, _, canonical, params, bounds = _likelihood(form, counts)
    names = [p.name for p in params]
    observed = np.isfinite(counts.y)
    return fit_mean_counts(
        lambda v: mean_counts(v)[observed],
        counts.y[observed],
        (*params, _ALPHA),
        _inside([values[n] for n in names], params, bounds),
        what="the join curve",
        bounds=bounds,
        canonical=canonical,
        covariance=covariance,
        jacobian=_derivatives(form, counts)[0],
    )


def _grow_from(form: JoinCurveForm, counts: _Counts, values: dict, search: bool) -> Estimate:
    """A grown form from the fitted smaller one's values, by Fisher scoring; with `search`
    (a new part with rough starting values, such as a flood), also by BFGS, the likelier
    kept. Each stays in poorer optima where the other does not (Higgs' ten hours: BFGS 0.86
    of the 1-minute peak, scoring 0.97; a generated two-flood event: BFGS 1.00, scoring
    1.12). A part that starts where it changes nothing (a drift of 0) needs no search."""
    scored = _refine(form, counts, values, covariance=False)
    if not search:
        return scored
    searched = _fit_from(form, counts, values)
    return scored if scored.loglike > searched.loglike else searched


def _dispersion(form: JoinCurveForm, counts: _Counts, estimate: Estimate) -> float:
    """Pearson dispersion of `counts` about the curve, against Poisson variance."""
    mu = _likelihood(form, counts)[0](estimate.values)
    observed = np.isfinite(counts.y)
    y, mu = counts.y[observed], np.maximum(mu[observed], 1e-300)
    return max(float(np.sum((y - mu) ** 2 / mu)) / max(len(y) - estimate.n_params, 1), 1.0)


def _qaic(estimate: Estimate, dispersion: float) -> float:
    return -2 * estimate.loglike / dispersion + 2 * estimate.n_params


def _selection_row(form: JoinCurveForm, estimate: Estimate, dispersion: float, kept: bool):
    return {
        "form": form.name,
        "n_params": estimate.n_params,
        "poisson_loglike": estimate.loglike,
        "dispersion": dispersion,
        "qaic": _qaic(estimate, dispersion),
        "kept": kept,
    }


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
