"""Nowcast: during an event, from its first minutes, how high its peak will go.

The model
---------
The peak forecast (:mod:`capplan.forecast.peak`) is a log-log regression
across past events; so is the nowcast, refitted for each elapsed time ``k``
(seconds since the actual start):

.. math::

    \\log \\text{peak}_i = a_0 + a_1 \\log S_i(k) + a_2 \\log F_i + e_i,
    \\qquad e_i \\sim N(0, \\sigma_k^2),

- ``S_i(k)``, the **peak so far**: the largest value of the event's first
  ``k`` seconds (per second for a count such as joins or requests, the
  highest level for ``concurrent``). The target is a running maximum, so
  its value so far is the live summary that carries over: early it says
  how big the audience is, and once the real peak has passed it *is* the
  peak, and the regression learns the growth still to come at that ``k``.
  A value of zero is floored at half a count in one interval (0.5 for a
  level).
- ``F_i``, the **pre-event forecast** of its peak
  (:class:`~capplan.forecast.PeakForecast`'s point), the prior information.
  A past event's ``F_i`` is *out of sample*: the forecast fitted without
  that event (leave one out), as the planner had it before the event, not
  the in-sample fit that already knew its peak (which would make the prior
  look better than it is and the intervals too narrow). In the backtest the
  held-out event is also left out of the other events' forecasts (leave two
  out), so nothing of it reaches the fit. The regression weighs prior and
  live traffic by how well each predicted the past peaks at that ``k``: the
  prior early on, the live traffic later (stacking, in the sense of
  Breiman's stacked regression).

The peak is the forecast's: the largest value after the cut-off (see
:mod:`capplan.forecast.features`).

Intervals
---------
Whatever the interval, the peak cannot be below the peak so far ``S``, so
point and bounds are raised to at least ``S``. That bound matters: once
most past events have peaked by ``k`` (a join flood is over within
minutes), ``log(peak / S)`` is exactly zero for most of them and positive
for the few still rising, a point mass beside a tail that no Gaussian error
describes. Hence two methods:

- ``"jackknife+"`` (the default): the OLS point and the jackknife+
  interval from the past events' leave-one-out errors (Barber et al.
  2021; see :mod:`capplan.forecast._regression`). No distributional
  assumption; the upper bound follows the largest growths still to come
  that past events showed.
- ``"ols"``: the OLS t predictive distribution of the log peak, conditioned
  on what is already seen: median and bounds are its quantiles truncated
  below at ``log S``,
  ``q_p = mean + scale * F_T^{-1}(F_T(u) + p (1 - F_T(u)))``, ``u`` the
  standardised ``log S``. Exact when the Gaussian model holds (a late peak,
  as on the World Cup site); too narrow when the point mass above dominates.

Without a prior (``prior=None`` in :meth:`Nowcaster.predict`) the term
``a_2 log F`` is dropped and the regression refitted: a nowcast from the
live traffic alone. A forecast with no feature carries no information
about a particular event (its leave-one-out values are a function of the
held-out peak alone, which the regression would exploit), so then the
prior is never used.

Only ``k`` changes the fit, so models are fitted on first use for each
elapsed time and kept. Past events whose series end before ``k`` are left
out of the fit at that ``k``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from capplan._text import table_text
from capplan.data.history import History
from capplan.forecast import _validate
from capplan.forecast._backtest import backtest_rows, summarise
from capplan.forecast._regression import LogLinear
from capplan.forecast.features import (
    LOADS,
    cutoff_s,
    default_loads,
    peak_column,
    peak_value,
)
from capplan.forecast.peak import PeakForecast, fit_peak_forecast

__all__ = ["NowcastBacktest", "Nowcaster", "fit_nowcast", "nowcast"]

_MIN_EVENTS = 6  # three parameters + three: two residual degrees of freedom with one held out
_DEFAULT_MINUTES = (2.0, 5.0, 10.0, 20.0)


class Nowcaster:
    """Past events' first minutes, forecasts and peaks, ready to nowcast a live event.

    Returned by :func:`fit_nowcast`; read-only (models fitted on first use
    for each elapsed time are cached).

    Attributes
    ----------
    history : History
        The past events.
    target : str
        The load whose peak is nowcast (``"joins"``, ``"concurrent"``,
        ``"requests"``).
    kind : str
        ``"count"`` (joins, requests: peaks per second) or ``"level"``
        (concurrent).
    peak_column : str
        Its peak's name (``peak_joins_per_s``...).
    interval_s : float
        Interval length (s) of the past series; a live series must have it.
    forecast : PeakForecast or None
        The pre-event forecast whose out-of-sample values are the prior.
    method : str
        ``"jackknife+"`` or ``"ols"``: how intervals are made.
    priors_ : pandas.Series or None
        Each past event's leave-one-out forecast of its peak (natural units).
    level : float
        Default level of intervals.
    """

    def __init__(self, history, target, forecast, method, level):
        self.history = history
        self.method = method
        self.target = target
        self.kind = LOADS[target]
        self.peak_column = peak_column(target)
        self.forecast = forecast
        self.level = level
        steps = {history.interval(e) for e in history.event_ids}
        if len(steps) != 1:
            raise ValueError(
                f"history's events have different intervals ({sorted(steps)} s); nowcasts compare "
                "first minutes interval by interval: resample it with history.resample(seconds)"
            )
        self.interval_s = steps.pop()
        self._series = []
        peaks = []
        for event_id in history.event_ids:
            frame = history.event(event_id)
            t = frame.index.to_numpy(dtype=float)
            y = frame[target].to_numpy(dtype=float, na_value=np.nan)
            self._series.append((t, y))
            cut = cutoff_s(history, event_id)
            peaks.append(peak_value(t, y, self.interval_s, self.kind, cut))
        self._peaks = np.array(peaks)
        bad = ~(self._peaks > 0)
        if bad.any():
            events = [history.event_ids[i] for i in np.flatnonzero(bad)[:5]]
            raise ValueError(
                f"events {events} have no positive {target} after their start: no peak to learn "
                "from; leave them out of the history"
            )
        self._log_peaks = np.log(self._peaks)
        self._priors = None
        if forecast is not None and forecast.features_[self.peak_column]:
            self._priors = forecast._loo_points(self.peak_column)
        self._models: dict = {}
        self._pair_priors: dict = {}
        self._seen_cache: dict = {}

    @property
    def priors_(self) -> pd.Series | None:
        if self._priors is None:
            return None
        return pd.Series(
            np.exp(self._priors), index=self.history.event_ids, name=f"prior_{self.peak_column}"
        )

    @property
    def uses_prior(self) -> bool:
        """Whether nowcasts can use a pre-event forecast."""
        return self._priors is not None

    # -- the regression at an elapsed time ------------------------------------------------------

    def _seen(self, elapsed_s: float) -> np.ndarray:
        """Each past event's peak so far after `elapsed_s` seconds (NaN if its series stops
        before, or nothing is observed)."""
        key = round(elapsed_s, 6)
        if key not in self._seen_cache:
            out = np.full(len(self._series), np.nan)
            for i, (t, y) in enumerate(self._series):
                if t[-1] + self.interval_s >= elapsed_s - 1e-9:
                    out[i] = peak_value(t, y, self.interval_s, self.kind, 0.0, elapsed_s)
            self._seen_cache[key] = out
        return self._seen_cache[key]

    def _log_live(self, seen: np.ndarray) -> np.ndarray:
        """The live feature: log of the peak so far, floored at half a count in one interval
        (0.5 for a level)."""
        floor = 0.5 / self.interval_s if self.kind == "count" else 0.5
        return np.log(np.maximum(seen, floor))

    def _design(self, live: np.ndarray, priors: np.ndarray | None) -> np.ndarray:
        columns = [np.ones(len(live)), live] + ([priors] if priors is not None else [])
        return np.column_stack(columns)

    def _terms(self, with_prior: bool) -> tuple[str, ...]:
        live = f"{self.peak_column}_so_far"
        return ("const", live, f"prior_{self.peak_column}") if with_prior else ("const", live)

    def _fit(self, elapsed_s: float, with_prior: bool, drop: int | None = None) -> LogLinear:
        seen = self._seen(elapsed_s)
        live = self._log_live(seen)
        priors = self._priors_without(drop) if with_prior else None
        use = np.isfinite(seen)
        if priors is not None:
            use &= np.isfinite(priors)
        if drop is not None:
            use[drop] = False
        if use.sum() < _MIN_EVENTS:
            raise ValueError(
                f"only {int(use.sum())} past events have {self.target} for the first "
                f"{elapsed_s:g} s after their start; at least {_MIN_EVENTS} are needed to nowcast"
            )
        X = self._design(live[use], None if priors is None else priors[use])
        return LogLinear.fit(X, self._log_peaks[use], self._terms(with_prior), self.method)

    def _model(self, elapsed_s: float, with_prior: bool) -> LogLinear:
        key = (round(elapsed_s, 6), with_prior)
        if key not in self._models:
            self._models[key] = self._fit(elapsed_s, with_prior)
        return self._models[key]

    def _priors_without(self, drop: int | None) -> np.ndarray:
        """Out-of-sample priors of the past events; with `drop`, from forecasts that never saw
        event `drop` either (leave two out)."""
        if drop is None:
            return self._priors
        if drop not in self._pair_priors:
            self._pair_priors[drop] = self.forecast._loo_points(self.peak_column, drop=drop)
        return self._pair_priors[drop]

    # -- nowcasts -------------------------------------------------------------------------------

    def predict(self, live, prior=None, level: float | None = None) -> pd.DataFrame:
        """Nowcast the peak of a live event from its series so far.

        Parameters
        ----------
        live : pandas.Series
            The live event's ``target`` per interval (counts; the level for
            ``concurrent``), indexed by seconds since its **actual** start,
            as ``History.event(event_id)[target]`` gives, at the history's
            interval. It must begin at or before the start (0 s; earlier
            intervals are allowed and ignored); it ends where the data ends:
            the elapsed time is the end of its last interval. A DataFrame
            holding the target column is accepted.
        prior : float or pandas.DataFrame, optional
            The pre-event point forecast of the peak (median; per second for
            joins and requests, listeners for concurrent), or the one-row
            output of :meth:`PeakForecast.predict`. None nowcasts from the
            live traffic alone.
        level : float, optional
            Level of the interval; the nowcaster's by default.

        Returns
        -------
        pandas.DataFrame
            One row indexed by ``elapsed_s``: ``seen_so_far`` (the largest
            value observed since the start), ``<peak>`` (the nowcast, a
            median), ``<peak>_lower``, ``<peak>_upper``, ``with_prior``,
            ``n_events`` (past events in the fit).

        Raises
        ------
        ValueError
            A live series that begins after the start, has no observed
            interval after it, or has another interval than the history; a
            prior that is not a number > 0, or given to a nowcaster fitted
            without a forecast.
        """
        level = self.level if level is None else _validate.level(level)
        t, y, step = self._check_live(live)
        elapsed = float(t[-1] + step)
        seen = peak_value(t, y, step, self.kind, 0.0, elapsed)
        if not np.isfinite(seen):
            raise ValueError(
                f"live has no observed (non-missing) interval between the start and {elapsed:g} s"
            )
        log_prior = self._check_prior(prior)
        with_prior = log_prior is not None
        model = self._model(elapsed, with_prior)
        x0 = self._design(self._log_live(np.array([seen])), [log_prior] if with_prior else None)
        point, lower, upper = _nowcast_quantiles(model, x0, seen, level)
        out = pd.DataFrame(
            {
                "seen_so_far": [seen],
                self.peak_column: point,
                f"{self.peak_column}_lower": lower,
                f"{self.peak_column}_upper": upper,
                "with_prior": [with_prior],
                "n_events": [model.n],
            },
            index=pd.Index([elapsed], name="elapsed_s"),
        )
        out.attrs["level"] = level
        return out

    def _check_live(self, live) -> tuple[np.ndarray, np.ndarray, float]:
        name = getattr(live, "name", None)
        if isinstance(live, pd.Series) and name in LOADS and name != self.target:
            raise ValueError(
                f"live is a series of {name}, but this nowcaster nowcasts peak {self.target}; "
                f"pass history.event(event_id)[{self.target!r}] or fit_nowcast(target={name!r})"
            )
        t, y, step = _validate.live_series(live, "live", self.target)
        if not np.isfinite(step):
            step = self.interval_s
        if abs(step - self.interval_s) > 1e-6 * self.interval_s:
            raise ValueError(
                f"live has {step:g} s intervals but the history {self.interval_s:g} s: peaks "
                "per interval are not comparable; resample one to the other"
            )
        if t[0] > 1e-9:
            raise ValueError(
                f"live starts at {t[0]:g} s, after the event's actual start (0 s): the nowcast "
                "needs the traffic from the start on; index the series by seconds since the "
                "actual start, as History.event() does"
            )
        if t[-1] + step <= 1e-9:
            raise ValueError(
                f"live ends at {t[-1] + step:g} s, before the actual start (0 s): the event has "
                "not started; use the pre-event forecast"
            )
        return t, y, step

    def _check_prior(self, prior) -> float | None:
        if prior is None:
            return None
        if isinstance(prior, pd.DataFrame):
            if self.peak_column not in prior.columns or len(prior) != 1:
                raise ValueError(
                    f"prior as a DataFrame must be one row of PeakForecast.predict() with a "
                    f"{self.peak_column!r} column; got {len(prior)} row(s) and columns "
                    f"{list(prior.columns)}"
                )
            prior = prior[self.peak_column].iloc[0]
        value = _validate.positive(prior, "prior", f" ({self.peak_column})")
        if not self.uses_prior:
            raise ValueError(
                "this nowcaster was fitted without a pre-event forecast (forecast=False, or a "
                "forecast with no feature), so it cannot use prior=; pass prior=None"
            )
        return float(np.log(value))

    def backtest(
        self,
        minutes: Sequence[float] = _DEFAULT_MINUTES,
        level: float | None = None,
        with_prior: bool | None = None,
    ) -> NowcastBacktest:
        """Nowcast each past event from its first minutes with the model fitted on the others.

        Parameters
        ----------
        minutes : list of float, default (2, 5, 10, 20)
            Elapsed times since the actual start (minutes).
        level : float, optional
            Level of the intervals; the nowcaster's by default.
        with_prior : bool, optional
            Use the out-of-sample pre-event forecasts as priors; by default
            whenever the nowcaster has them.

        Returns
        -------
        NowcastBacktest
            With the pre-event forecast's own leave-one-out backtest as
            ``minutes = 0`` when a prior is used, for comparison.
        """
        minutes = _validate.minutes(minutes)
        level = self.level if level is None else _validate.level(level)
        with_prior = self.uses_prior if with_prior is None else bool(with_prior)
        if with_prior and not self.uses_prior:
            raise ValueError("with_prior=True, but this nowcaster has no pre-event forecast")
        parts = []
        ids = self.history.event_ids
        if with_prior:
            pre = self.forecast.backtest(level).table.loc[self.peak_column]
            pre = pre.assign(seen_so_far=np.nan)
            parts.append(pre.set_index(pd.MultiIndex.from_product([[0.0], pre.index])))
        for k in minutes:
            elapsed = 60.0 * k
            seen = self._seen(elapsed)
            held = np.flatnonzero(np.isfinite(seen))
            values = np.empty((len(held), 3))
            for row, i in enumerate(held):
                model = self._fit(elapsed, with_prior, drop=i)
                x0 = self._design(
                    self._log_live(seen[[i]]), self._priors[[i]] if with_prior else None
                )
                values[row] = np.concatenate(_nowcast_quantiles(model, x0, seen[[i]], level))
            table = pd.DataFrame(
                backtest_rows(self._peaks[held], values[:, 0], values[:, 1], values[:, 2]),
                index=pd.MultiIndex.from_product([[k], [ids[i] for i in held]]),
            )
            parts.append(table.assign(seen_so_far=seen[held]))
        table = pd.concat(parts)
        table.index.names = ["minutes", "event_id"]
        return NowcastBacktest(table, level, self.peak_column, with_prior)

    # -- the face of a result -------------------------------------------------------------------

    def summary(self, minutes: Sequence[float] = _DEFAULT_MINUTES) -> pd.DataFrame:
        """Coefficients of the nowcast regression fitted on every past event at each elapsed
        time (index ``minutes``, ``term``): ``estimate``, ``std_err``, ``lower``, ``upper``,
        and ``residual_sd_log`` (the spread of log peaks the regression leaves)."""
        parts = {}
        for k in _validate.minutes(minutes):
            model = self._model(60.0 * k, self.uses_prior)
            table = model.coefficients(self.level)
            table["residual_sd_log"] = model.diagnostics()["residual_sd_log"]
            parts[k] = table
        return pd.concat(parts, names=["minutes", "term"])

    def __str__(self) -> str:
        prior = "and the pre-event forecast (leave one out)" if self.uses_prior else "alone"
        interval = "jackknife+" if self.method == "jackknife+" else "truncated t"
        head = (
            f"Nowcast of {self.peak_column} from its value so far {prior}; "
            f"{len(self._series)} past events at {self.interval_s:g} s, "
            f"{self.level:.0%} {interval} intervals, none below the peak so far\n"
        )
        return head + table_text(self.summary(), 4)

    def __repr__(self) -> str:
        return (
            f"<Nowcaster {self.peak_column}: {len(self._series)} events, prior={self.uses_prior}>"
        )

    def to_frame(self, minutes: Sequence[float] = _DEFAULT_MINUTES) -> pd.DataFrame:
        """One row per past event: its peak, its out-of-sample prior (if any), and its peak so
        far after each elapsed time (``seen_<k>min``; per second for a count)."""
        out = pd.DataFrame(
            {self.peak_column: np.exp(self._log_peaks)},
            index=pd.Index(self.history.event_ids, name="event_id"),
        )
        if self.uses_prior:
            out[f"prior_{self.peak_column}"] = np.exp(self._priors)
        for k in _validate.minutes(minutes):
            out[f"seen_{k:g}min"] = self._seen(60.0 * k)
        return out

    def chart(self):
        """Error and coverage of the backtest against elapsed minutes (an altair Chart)."""
        return self.backtest().chart()


class NowcastBacktest:
    """Out-of-sample nowcasts of past events at several elapsed times. Read-only.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per elapsed time and event (index ``minutes``,
        ``event_id``; ``minutes = 0`` is the pre-event forecast):
        ``actual``, ``predicted``, ``lower``, ``upper``, ``covered``,
        ``log_ratio`` (``log(actual / predicted)``), ``relative_error``,
        ``seen_so_far``.
    level : float
    peak_column : str
    with_prior : bool
    """

    def __init__(self, table, level, peak_column, with_prior):
        self.table = table
        self.level = level
        self.peak_column = peak_column
        self.with_prior = with_prior

    def to_frame(self) -> pd.DataFrame:
        """The table, one row per elapsed time and event."""
        return self.table.copy()

    def summary(self) -> pd.DataFrame:
        """One row per elapsed time (minutes): coverage with its 95% Clopper-Pearson interval,
        shares below and above, median |log error|, bias, median width ratio (see
        :meth:`PeakBacktest.summary`)."""
        return summarise(self.table, "minutes", self.level)

    def __str__(self) -> str:
        prior = "with prior" if self.with_prior else "live traffic alone"
        head = (
            f"Nowcast backtest of {self.peak_column} (each event held out), {prior}, "
            f"{self.level:.0%} intervals; minutes = 0 is the pre-event forecast\n"
        )
        columns = [
            *("n_events", "coverage", "coverage_low", "coverage_high"),
            *("median_abs_log_error", "mean_log_ratio", "median_width_ratio"),
        ]
        return head + table_text(self.summary()[columns], 4)

    def __repr__(self) -> str:
        return f"<NowcastBacktest {self.peak_column}: {len(self.table)} nowcasts>"

    def chart(self):
        """Median |log error| and coverage against elapsed minutes (an altair Chart)."""
        from capplan import charts

        return charts.nowcast_backtest_chart(self)


def fit_nowcast(
    history: History,
    *,
    target: str | None = None,
    forecast: PeakForecast | bool | None = None,
    method: str = "jackknife+",
    level: float = 0.9,
) -> Nowcaster:
    """Prepare nowcasts of a live event's peak from past events.

    Parameters
    ----------
    history : History
        Past events, all at one interval (``History.resample`` otherwise).
    target : str, optional
        Load whose peak to nowcast: ``"joins"``, ``"concurrent"`` or
        ``"requests"``; by default the forecast's first target (joins, or
        requests for a web trace).
    forecast : PeakForecast or bool, optional
        The pre-event forecast whose leave-one-out values serve as the
        prior, fitted on this same history. None or True fits the default
        one (:func:`fit_peak_forecast` with this target); False uses no
        prior.
    method : {"jackknife+", "ols"}, default "jackknife+"
        Intervals from the past events' leave-one-out errors, or the OLS t
        predictive distribution truncated at the peak so far (see the
        module's notes).
    level : float, default 0.9
        Default level of the intervals.

    Returns
    -------
    Nowcaster

    Examples
    --------
    >>> import capplan
    >>> history = capplan.worldcup98_history()
    >>> nowcaster = fit_nowcast(history)
    >>> live = history.event("wc98-19980610-1530")["requests"].loc[:299]  # first 5 minutes
    >>> now = nowcaster.predict(live, prior=2000.0)
    >>> list(now.index)
    [300.0]
    """
    history = _validate.history(history)
    level = _validate.level(level)
    method = _validate.choice(method, "method", ("jackknife+", "ols"))
    if forecast is not None and not isinstance(forecast, (bool, PeakForecast)):
        raise TypeError(
            f"forecast must be a PeakForecast, True, False or None, not {type(forecast).__name__}"
        )
    if target is None:
        if isinstance(forecast, PeakForecast):
            target = forecast.targets[0]
        else:
            loads = default_loads(history.measured)
            if not loads:
                raise ValueError(
                    f"history measured no load to nowcast (measured: {history.measured}); "
                    "nowcasts need joins, concurrent or requests"
                )
            target = loads[0]
    target = _validate.choice(target, "target", tuple(LOADS))
    if target not in history.measured:
        raise ValueError(f"target {target!r} was not measured; the history has {history.measured}")
    if forecast is None or forecast is True:
        forecast = fit_peak_forecast(history, targets=[target], level=level)
    elif forecast is False:
        forecast = None
    else:
        if list(forecast.data.index) != history.event_ids:
            raise ValueError(
                "forecast was fitted on other events than history; fit it on the same history "
                "(fit_peak_forecast(history, ...)) so that its leave-one-out values line up"
            )
        if target not in forecast.targets:
            raise ValueError(
                f"forecast does not forecast {target!r} (it forecasts {list(forecast.targets)}); "
                f"fit it with targets=[{target!r}, ...]"
            )
    return Nowcaster(history, target, forecast, method, level)


def nowcast(
    history: History,
    live,
    *,
    prior=None,
    target: str | None = None,
    level: float = 0.9,
) -> pd.DataFrame:
    """Nowcast a live event's peak in one call: ``fit_nowcast(...).predict(live, prior)``.

    Parameters
    ----------
    history : History
        Past events.
    live : pandas.Series
        The live event's target per interval, indexed by seconds since its
        actual start (see :meth:`Nowcaster.predict`).
    prior : float or pandas.DataFrame, optional
        The pre-event forecast of the peak, from the default
        :func:`fit_peak_forecast` (the past events' priors come from it, left
        out one by one); for another forecast, use
        ``fit_nowcast(history, forecast=...)``. None nowcasts from the live
        traffic alone.
    target : str, optional
        ``"joins"``, ``"concurrent"`` or ``"requests"``; by default the
        name of the `live` Series (``history.event(id)["concurrent"]`` is
        named ``concurrent``), else joins, or requests for a web trace.
    level : float, default 0.9
        Level of the interval.

    Returns
    -------
    pandas.DataFrame
        One row (see :meth:`Nowcaster.predict`).

    Examples
    --------
    >>> import capplan
    >>> history = capplan.sample_history()
    >>> live = history.event("ev-014")["concurrent"].loc[:299]
    >>> now = nowcast(history, live, target="concurrent")
    >>> bool(now["peak_concurrent_lower"].iloc[0] <= now["peak_concurrent"].iloc[0])
    True
    """
    if target is None and isinstance(live, pd.Series) and live.name in LOADS:
        target = str(live.name)
    forecast = None if prior is not None else False
    nowcaster = fit_nowcast(history, target=target, forecast=forecast, level=level)
    return nowcaster.predict(live, prior=prior)


def _nowcast_quantiles(model: LogLinear, x0, seen, level: float):
    """Median (point) and central `level` interval of the peak in natural units, none below
    the peak so far `seen`."""
    seen = np.asarray(seen, dtype=float)
    if model.method != "ols":
        return [np.maximum(np.exp(v), seen) for v in model.predict(x0, level)]
    # The t predictive distribution of the log peak, truncated below at log(seen).
    mean, scale, df = model.predictive(x0)
    with np.errstate(divide="ignore"):
        u = (np.log(seen) - mean) / scale
    above = stats.t.sf(u, df)  # P(peak >= seen) under the untruncated model
    out = []
    for p in (0.5, (1 - level) / 2, (1 + level) / 2):
        z = stats.t.isf((1 - p) * above, df)
        out.append(np.maximum(np.exp(mean + scale * z), seen))
    return out
