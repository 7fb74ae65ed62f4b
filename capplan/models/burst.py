"""Burst factor: how much the worst second exceeds its minute's mean.

Forecasts and many histories are per minute; a join path is sized per
second. The burst factor ``B = max over the seconds of a window of the count
/ the window's mean count per second`` turns one into the other: the
per-second sizing rate is ``B_q x`` the forecast mean rate, ``B_q`` the
``q``-quantile of ``B``.

Two estimates, side by side:

- **model**: from the noise of the seconds (:mod:`capplan.models.noise`). Each
  second's count is negative binomial with mean ``m`` (per second) and variance
  ``m (1 + cluster) + alpha m**2`` (a Poisson count of a gamma-mixed rate, squared
  CV ``alpha + cluster / m``), the seconds of a window independent, so
  ``P(max <= x) = F(x)**n`` for a window of ``n`` seconds and
  ``B_q = F^{-1}(q**(1/n)) / m``. It falls with the rate toward the pure
  over-dispersion limit, the ``q**(1/n)``-quantile of a ``Gamma(1/alpha, alpha)``
  factor, as Poisson noise and clusters fade. The noise is the fit's
  (``JoinCurveFit.alpha_per_second``, ``cluster_per_second``): from per-second
  data, that of the seconds around their minute's mean
  (:func:`~capplan.models.noise.local_noise`); from coarser data, ``alpha_interval
  x interval_s`` (seconds independent within an interval), which also carries the
  curve's misfit, so the model is then conservative, much so from a per-minute fit
  (it warns, :class:`~capplan.warnings.ResolutionWarning`). Without a fit or an
  alpha, per-second data give their own, from the windows the summary judges.
- **model, same windows** (``model_same_windows``): like for like with the
  data: each of the data's windows simulated at its observed mean, the ratio of
  each simulated window's worst second to its own mean, and the same quantile
  over the same number of windows as the empirical column takes (the median over
  the simulated sets: the 99% quantile of 6 windows is about their largest, not
  the 99% quantile of the model's distribution).
  Measured on the real per-second traces shipped (99% factor, model over
  measured): Higgs 4 July 1.11 (the 4 hours around the announcement 1.05),
  Higgs 2 July 1.09 (windows from 0.2/s), Azure code 1.08 (on/off arrivals:
  whole seconds of dozens of requests in quiet minutes), Azure conversations
  0.92, the sample's 40 events 0.95-1.16 (two with 6 and 9 busy minutes 1.28,
  1.38). Before, with one ``alpha`` for all rates (the median minute's), Higgs's
  four hours gave 0.75: its quiet minutes' requests come in clusters of up to a
  dozen (one page, many files), which ``cluster`` carries; and pooling the model's
  windows before taking the quantile gave up to 1.6 on events with few busy
  minutes.
- **empirical**: from per-second history, the ratio ``max / mean`` in each
  whole window (aligned on the start, no missing second, mean at least
  ``min_rate_per_s``), and its quantiles over the windows.

The ``model`` column divides by the *expected* window mean (what a forecast
gives); the empirical one and ``model_same_windows`` by the window's own mean.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from capplan._text import human, table_text
from capplan.models import _validate
from capplan.models.join_curve import JoinCurveFit
from capplan.models.noise import local_noise, mixing_alpha
from capplan.warnings import ResolutionWarning

__all__ = ["BurstFactor", "burst_factor"]

_MAX_DRAWS = 4_000_000  # simulated seconds for the like-for-like column (about 100 MB)
_SEED = 20_250_611  # a fixed stream: the same data give the same column


class BurstFactor:
    """Burst factors from a model and from per-second history. Built by :func:`burst_factor`.

    Attributes
    ----------
    quantiles : tuple of float
        The quantiles ``q`` reported.
    window_s : int
        Window length (s), usually 60: per-minute means to per-second peaks.
    alpha_per_second, cluster_per_second : float
        The seconds' noise used by the model, variance ``m (1 + cluster) + alpha
        m**2`` (NaN if none was given).
    rate_per_s : float
        Reference mean rate (per s) of the ``model`` column of the summary.
    windows : pandas.DataFrame
        One row per whole window of the per-second data (empty without
        data): ``start_s``, ``mean_per_s``, ``max_per_s``, ``ratio``, and
        ``expected_mean_per_s`` (from the fit, if given).
    """

    def __init__(self, quantiles, window_s, noise, rate_per_s, windows, fit):
        self.quantiles = tuple(quantiles)
        self.window_s = int(window_s)
        self.alpha_per_second, self.cluster_per_second = (float(v) for v in noise)
        self.rate_per_s = float(rate_per_s)
        self.windows = windows
        self.fit = fit
        self._ratios = None  # the model's simulated window ratios, drawn once

    def predict(self, rate_per_s, q=None) -> pd.DataFrame:
        """The model's burst factor at mean rates `rate_per_s`.

        Parameters
        ----------
        rate_per_s : float or array of float
            Window mean rates (per second), e.g. a per-minute forecast.
        q : float or sequence of float, optional
            Quantiles; the result's by default.

        Returns
        -------
        pandas.DataFrame
            Indexed by ``rate_per_s``, one column per quantile (``q0.99``):
            the factor to multiply the mean rate by.
        """
        rates = _validate.times(rate_per_s, "rate_per_s")
        if np.any(rates <= 0):
            raise ValueError("rate_per_s must be > 0 (per second)")
        qs = self.quantiles if q is None else tuple(np.atleast_1d(q).astype(float))
        for value in qs:
            _validate.level(value, "q")
        out = {
            f"q{value:g}": _model_factor(rates, self._noise, self.window_s, value) for value in qs
        }
        return pd.DataFrame(out, index=pd.Index(rates, name="rate_per_s"))

    def summary(self) -> pd.DataFrame:
        """One row per quantile.

        Columns: ``model`` (at ``rate_per_s``), ``model_same_windows`` (the
        model pooled over the data's windows, like for like with the data),
        ``empirical`` (quantile of the data's ratios), ``n_windows``.
        """
        rows = []
        for q in self.quantiles:
            model = _model_factor(np.array([self.rate_per_s]), self._noise, self.window_s, q)[0]
            rows.append(
                {
                    "q": q,
                    "model": model,
                    "model_same_windows": self._pooled(q),
                    "empirical": (
                        float(np.quantile(self.windows["ratio"], q))
                        if len(self.windows)
                        else np.nan
                    ),
                    "n_windows": len(self.windows),
                }
            )
        return pd.DataFrame(rows).set_index("q")

    def _pooled(self, q: float) -> float:
        """The empirical column's statistic on the model's seconds, like for like.

        The data's windows are simulated 20-400 times (fixed seed), each at its
        observed level: iid NB seconds (the noise at that level) of mean the observed
        window mean; each simulated window gives max / its own mean, as the data's
        ratio does, and each simulated set of windows its quantile q, as the data's
        windows give theirs; the result is the median over the sets. Conditioning on
        the observed level compares the burst within the minute, not the curve's level
        (a fit that misses the level would otherwise divide one by the other, which
        gave 12-78 against measured 5-15 on real floods). The fit's own shape within
        the minute is not used: a flood the data do not resolve (a rise far below a
        second) would pass for a burst.
        """
        if not len(self.windows) or not np.isfinite(self.alpha_per_second):
            return np.nan
        ratios = self._simulated_ratios()
        return float(np.median(np.nanquantile(ratios, q, axis=1)))

    @property
    def _noise(self) -> tuple[float, float]:
        return self.alpha_per_second, self.cluster_per_second

    def _simulated_ratios(self) -> np.ndarray:
        """Simulated sets x windows of max / mean (NaN for a window with no count)."""
        if self._ratios is None:
            levels = self.windows["mean_per_s"].to_numpy()
            means = levels[:, None] * np.ones(self.window_s)
            reps = int(np.clip(_MAX_DRAWS // means.size, 20, 400))
            rng = np.random.default_rng(_SEED)
            mixing = mixing_alpha(levels, *self._noise)[:, None] * np.ones(self.window_s)
            draws = np.broadcast_to(means, (reps, *means.shape))
            if np.any(mixing > 0):
                shape = 1 / np.where(mixing > 0, mixing, 1.0)
                gamma = rng.gamma(shape, 1 / shape, size=draws.shape)
                draws = draws * np.where(mixing > 0, gamma, 1.0)
            counts = rng.poisson(draws)
            mean = counts.mean(axis=2)
            self._ratios = counts.max(axis=2) / np.where(mean > 0, mean, np.nan)
        return self._ratios

    def __str__(self) -> str:
        head = (
            f"Burst factor: worst second over the {self.window_s} s window's mean\n"
            f"model: NB seconds, alpha per second = {self.alpha_per_second:.4g}, "
            f"cluster = {self.cluster_per_second:.4g}, "
            f"reference rate {human(self.rate_per_s, '1/s')}; "
            f"empirical: {len(self.windows)} windows\n"
        )
        return head + table_text(self.summary(), 4)

    def __repr__(self) -> str:
        return f"<BurstFactor window {self.window_s} s, {len(self.windows)} windows>"

    def to_frame(self) -> pd.DataFrame:
        """The data's windows (see ``windows``), with the model's quantiles at each mean."""
        frame = self.windows.copy()
        if len(frame) and np.isfinite(self.alpha_per_second):
            for q in self.quantiles:
                frame[f"model_q{q:g}"] = _model_factor(
                    frame["mean_per_s"].to_numpy(), self._noise, self.window_s, q
                )
        return frame

    def chart(self):
        """Ratios of the data's windows against their mean rate, with the model's quantiles."""
        from capplan import charts

        return charts.burst_chart(self)


def _model_factor(rates, noise, window_s, q):
    """q-quantile of (max of window_s iid NB seconds, mean rate, noise (alpha, cluster)) / rate."""
    rates = np.asarray(rates, dtype=float)
    if not np.all(np.isfinite(noise)):
        return np.full(rates.shape, np.nan)
    level = q ** (1.0 / window_s)
    mixing = mixing_alpha(rates, *noise)
    n = 1.0 / np.where(mixing > 0, mixing, 1.0)
    nb = stats.nbinom.ppf(level, n, n / (n + rates))
    return np.where(mixing > 0, nb, stats.poisson.ppf(level, rates)) / rates


def burst_factor(
    per_second: pd.Series | None = None,
    *,
    fit: JoinCurveFit | None = None,
    alpha_per_second: float | None = None,
    cluster_per_second: float | None = None,
    rate_per_s: float | None = None,
    window_s: int = 60,
    quantiles=(0.5, 0.9, 0.99),
    min_rate_per_s: float = 1.0,
) -> BurstFactor:
    """Burst factor of the worst second over its window's mean, from a model and from data.

    Parameters
    ----------
    per_second : pandas.Series, optional
        Counts per second (1-s intervals) of one event, indexed by seconds
        since the start (``History.event(event_id)["joins"]``): the empirical
        estimate. Windows are aligned on the start (``floor(t / window_s)``);
        partial windows and windows with a missing second are skipped.
    fit : JoinCurveFit, optional
        A fitted join curve: its ``alpha_per_second`` drives the model, its
        peak rate is the default reference rate, and with `per_second` its
        per-second means enter the model window by window.
    alpha_per_second : float, optional
        One-second over-dispersion (variance ``m (1 + cluster) + alpha m**2``),
        instead of a fit's.
    cluster_per_second : float, optional
        The ``cluster`` term of that variance (default 0), with `alpha_per_second`.
    rate_per_s : float, optional
        Reference mean rate (per s) for the model column of the summary;
        the fit's peak rate, else the data windows' median mean.
    window_s : int, default 60
        Window length (s).
    quantiles : sequence of float, default (0.5, 0.9, 0.99)
    min_rate_per_s : float, default 1
        Windows whose mean is below this rate (per s) are left out of the
        empirical estimate: the ratio means little at a few joins per minute.

    Returns
    -------
    BurstFactor

    Examples
    --------
    >>> b = burst_factor(alpha_per_second=0.02, rate_per_s=1000.0)
    >>> bool(1.2 < b.summary().loc[0.99, "model"] < 1.8)
    True
    """
    if isinstance(window_s, bool) or not isinstance(window_s, (int, np.integer)) or window_s < 2:
        raise ValueError(f"window_s must be a whole number of seconds >= 2, got {window_s!r}")
    quantiles = tuple(_validate.level(q, "quantiles") for q in np.atleast_1d(quantiles))
    min_rate_per_s = float(min_rate_per_s)
    if fit is not None and not isinstance(fit, JoinCurveFit):
        raise TypeError(
            f"fit must be a JoinCurveFit (from fit_join_curve), not {type(fit).__name__}"
        )
    if fit is not None and alpha_per_second is not None:
        raise ValueError("give fit or alpha_per_second, not both")
    if cluster_per_second is not None and alpha_per_second is None:
        raise ValueError("cluster_per_second goes with alpha_per_second")
    if alpha_per_second is not None:
        noise = (alpha_per_second, 0.0 if cluster_per_second is None else cluster_per_second)
        for name, value in zip(("alpha_per_second", "cluster_per_second"), noise, strict=True):
            if not np.isfinite(float(value)) or float(value) < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        noise = tuple(float(v) for v in noise)
    elif fit is not None:
        noise = (fit.alpha_per_second, fit.cluster_per_second)
    else:  # from per-second data below, if given: their own noise around the local level
        noise = (np.nan, np.nan)
    alpha = noise[0]
    if fit is not None and fit.interval_s > 1:
        warnings.warn(
            ResolutionWarning(
                f"the fit is per {fit.interval_s:g} s: its alpha per second "
                f"({alpha:.4g} = alpha x {fit.interval_s:g}) assumes independent seconds and "
                "includes the curve's misfit, so the model's burst factor is an upper bound",
                alpha=float(fit.params_["alpha"]),
                interval_s=fit.interval_s,
            ),
            stacklevel=2,
        )
    if per_second is None and fit is None and alpha_per_second is None:
        raise ValueError(
            "give per-second data (per_second=), a model (fit= or alpha_per_second=), or both"
        )

    columns = ["start_s", "mean_per_s", "max_per_s", "ratio", "expected_mean_per_s"]
    windows = pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    if per_second is not None:
        series = _validate.regular_series(per_second, "per_second", counts=True)
        if abs(series.interval_s - 1.0) > 1e-9:
            raise ValueError(
                f"per_second must be counts per second (1-s intervals); its interval is "
                f"{series.interval_s:g} s. Per-minute data carry no within-minute burst: use "
                "fit= or alpha_per_second= for the model instead"
            )
        if series.observed.sum() < window_s:
            raise ValueError(
                f"per_second has {int(series.observed.sum())} non-missing second(s); a window "
                f"of {window_s} s needs at least that many"
            )
        t, y = series.t, series.y
        if fit is None and alpha_per_second is None:
            noise = local_noise(pd.Series(y, index=t), window_s, min_rate_per_s)
        block = np.floor(t / window_s).astype(np.int64)
        first = block[0] + (1 if t[0] > block[0] * window_s else 0)
        starts = np.arange(first, block[-1] + 1)
        rows = []
        for b in starts:
            inside = block == b
            values = y[inside]
            if len(values) != window_s or not np.all(np.isfinite(values)):
                continue
            mean = values.mean()
            if mean < min_rate_per_s:
                continue
            rows.append((b * window_s, mean, values.max(), values.max() / mean))
        if rows:
            arr = np.array(rows)
            windows = pd.DataFrame(arr, columns=columns[:4])
            windows["expected_mean_per_s"] = np.nan
            if fit is not None:
                offsets = np.arange(window_s, dtype=float)
                grid = (windows["start_s"].to_numpy()[:, None] + offsets).ravel()
                means = fit.mean_counts(grid, 1.0).reshape(len(windows), window_s)
                windows["expected_mean_per_s"] = means.mean(axis=1)
    if rate_per_s is None:
        if fit is not None:
            rate_per_s = fit.peak().rate
        elif len(windows):
            rate_per_s = float(windows["mean_per_s"].median())
        else:
            raise ValueError("give rate_per_s (per second): the reference rate of the model")
    rate_per_s = _validate.positive(rate_per_s, "rate_per_s", " (per second)")
    return BurstFactor(quantiles, window_s, noise, rate_per_s, windows, fit)
