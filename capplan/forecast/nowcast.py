"""Nowcast: during an event, from its first minutes, how high its peak will go.

Candidates
----------
At each elapsed time ``k`` (seconds since the actual start) three forecasts of
the log peak compete, all from past events only:

- the **naive ratio**: ``log S(k)`` plus the past events' median of
  ``log(peak / S(k))``, with ``S(k)`` the **peak so far**, the largest value of
  the event's first ``k`` seconds (per second for a count such as joins or
  requests, the highest level for ``concurrent``; zero floored at half a
  count in one interval, 0.5 for a level);
- the **live regression** ``log peak = a_0 + a_1 log S(k) + e``;
- the **live + prior regression** ``log peak = a_0 + a_1 log S(k) + a_2 log F
  + e``, ``F`` the **pre-event forecast** of the peak
  (:class:`~capplan.forecast.PeakForecast`'s point). A past event's ``F`` is
  out of sample *in time order*: the forecast refitted on the events before
  it only, as the planner had it (``PeakForecast._rolling_points``).

The rule
--------
Events are taken in time order (``scheduled_start``). Each candidate's
**rolling-origin** point for a past event comes from the events before it
only (at least ``parameters + 3`` = 6 of them). The rule is nested,
simplest first: it starts as the naive ratio; the live regression replaces
it at an event when, over the earlier events where both had a rolling
nowcast (at least 5), its mean absolute log error is smaller by a one-sided
paired test at p < 0.05 (Diebold-Mariano with absolute loss); then the live
+ prior regression replaces the rule so far by the same test. Without a
prior the rule stops before that last step, so the prior changes a nowcast
only where it beat, out of sample and beyond noise, what the rule had
without it; and a regression only where it beat the naive ratio. A live
event is nowcast by the candidate the same tests pick over all past events'
rolling errors, refitted on all past events.

Why this rule: the absolute rather than squared error because nowcasts are
judged by their median |log error| and a few large misses (a late goal)
should not decide; the test because without it a tie decided by noise
switched candidates: on the World Cup 1998 group stage the plain smallest
error (squared or absolute) picked the live + prior regression for the
last matches at 20 minutes and raised the median |log error| from 0.156
to 0.184; at p < 0.1 the prior still entered for the last match and did
the same. On that history and on the sample history no regression passes
the test at 2 to 30 minutes: the nowcast is the naive ratio with calibrated
intervals, and the backtest shows it.

Intervals
---------
Split conformal on the time-ordered out-of-sample errors of the rule
itself: the radius is the weighted ``level``-quantile of the earlier
events' ``|log(peak / rolling nowcast)|`` at that ``k``, the weights
halving every 20 events of age (more at levels that need more events:
:func:`capplan.forecast._conformal.half_life`; recent events weigh more), with the
finite-sample ``n + 1`` correction (the missing mass sits at ``+inf``;
Barber, Candes, Ramdas and Tibshirani, "Conformal prediction beyond
exchangeability", 2023); 11 earlier errors at 90%. The interval is
``nowcast * exp(-+ radius)``, and point and bounds are raised to at least
the peak so far ``S``: the peak cannot be below it. An event is therefore
nowcast in the rolling backtest once it has ``min_history`` = 6 + 11 (at
90%) earlier events. The naive ratio's own interval is its earlier log
ratios' empirical ``(1 -+ level) / 2`` quantiles.

The backtest
------------
:meth:`Nowcaster.backtest` is rolling-origin by default (``scheme="rolling"``):
each event nowcast only from the events before it, beside the naive ratio
and the nowcast without prior on the same events. ``scheme="loo"`` keeps the
earlier leave-one-out backtest of the regressions (each event from all the
others, the priors leave-two-out, intervals by ``method``), which treats the
events as exchangeable.

``method`` (``"jackknife+"`` or ``"ols"``) sets the regressions' own
intervals: the leave-one-out backtest's, and a live nowcast's when the
history is too short to calibrate the rule (fewer than ``min_history``
events): the jackknife+ of the leave-one-out errors (Barber et al. 2021) or
the OLS t predictive distribution truncated below at ``log S``,
``q_p = mean + scale * F_T^{-1}(F_T(u) + p (1 - F_T(u)))``, ``u`` the
standardised ``log S``.

Past events whose series end before ``k`` are left out at that ``k``. No
warning but capplan's own (:mod:`capplan.warnings`) leaves a nowcast call:
any other is re-raised as a :class:`~capplan.warnings.CapplanWarning` that
names its origin.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from capplan._text import table_text
from capplan.data.history import History
from capplan.forecast import _nowcast_rolling as rolling
from capplan.forecast import _validate
from capplan.forecast._backtest import backtest_rows, summarise
from capplan.forecast._conformal import conformal_quantile
from capplan.forecast._regression import LogLinear
from capplan.forecast.features import (
    LOADS,
    cutoff_s,
    default_loads,
    peak_column,
    peak_value,
)
from capplan.forecast.peak import PeakForecast, fit_peak_forecast
from capplan.warnings import CapplanWarning

__all__ = ["NowcastBacktest", "Nowcaster", "fit_nowcast", "nowcast"]

_MIN_EVENTS = 6  # three parameters + three: two residual degrees of freedom with one held out
_DEFAULT_MINUTES = (2.0, 5.0, 10.0, 20.0)
_SCHEMES = ("rolling", "loo")
NOWCAST, WITHOUT_PRIOR = "nowcast", "without prior"
RULE = (
    "at each minute, start from the naive ratio; the live regression, then the live + prior "
    "regression, replaces the rule so far where its mean |log error| over the earlier events' "
    "rolling-origin nowcasts is smaller by a one-sided paired test at p < 0.05 (at least 5 "
    "events); intervals: weighted split conformal on the rule's earlier |log errors| "
    "(half-life 20 events or more at high levels, n + 1 correction), none below the peak so far"
)


def _capplan_warnings_only(function):
    """Let only capplan's warnings out of `function`: any other (statsmodels, numpy) is
    re-raised as a CapplanWarning naming its origin, so a user can filter one family."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = function(*args, **kwargs)
        for w in caught:
            if issubclass(w.category, CapplanWarning):
                warnings.warn(w.message, stacklevel=2)
            else:
                warnings.warn(
                    CapplanWarning(
                        f"{w.category.__name__} in a nowcast fit ({w.filename}:{w.lineno}): "
                        f"{w.message}"
                    ),
                    stacklevel=2,
                )
        return result

    return wrapper


class Nowcaster:
    """Past events' first minutes, forecasts and peaks, ready to nowcast a live event.

    Returned by :func:`fit_nowcast`; read-only (what is computed for each
    elapsed time is cached).

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
        ``"jackknife+"`` or ``"ols"``: the regressions' own intervals (the
        leave-one-out backtest, and a history too short for the rule).
    priors_ : pandas.Series or None
        Each past event's leave-one-out forecast of its peak (natural units).
    rolling_priors_ : pandas.Series or None
        Each past event's forecast from the events before it in time order
        (natural units; NaN for the first ones): the prior of the rule.
    level : float
        Default level of intervals.
    rule : str
        How the nowcast is chosen and its interval made.
    """

    rule = RULE

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
        self._order = rolling.time_order(history.events)
        self._uses_prior = forecast is not None and bool(forecast.features_[self.peak_column])
        self._priors = None
        self._rolling_priors = None
        self._models: dict = {}
        self._pair_priors: dict = {}
        self._seen_cache: dict = {}
        self._rolling_cache: dict = {}

    @property
    def priors_(self) -> pd.Series | None:
        if not self.uses_prior:
            return None
        return pd.Series(
            np.exp(self._loo_priors()),
            index=self.history.event_ids,
            name=f"prior_{self.peak_column}",
        )

    @property
    def rolling_priors_(self) -> pd.Series | None:
        if not self.uses_prior:
            return None
        return pd.Series(
            np.exp(self._time_priors()),
            index=self.history.event_ids,
            name=f"prior_{self.peak_column}",
        )

    @property
    def uses_prior(self) -> bool:
        """Whether nowcasts can use a pre-event forecast."""
        return self._uses_prior

    def min_history(self, level: float | None = None) -> int:
        """Earlier events an event needs to be nowcast in the rolling backtest at `level`:
        6 for the regressions (3 parameters + 3), then enough rolling errors of the rule to
        calibrate its conformal interval (11 at 90%)."""
        level = self.level if level is None else _validate.level(level)
        return _MIN_EVENTS + rolling.min_calibration(level)

    def _loo_priors(self) -> np.ndarray:
        if self._priors is None:
            self._priors = self.forecast._loo_points(self.peak_column)
        return self._priors

    def _time_priors(self) -> np.ndarray:
        if self._rolling_priors is None:
            self._rolling_priors = rolling.rolling_priors(
                self.forecast, self.peak_column, self._order
            )
        return self._rolling_priors

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

    @staticmethod
    def _log_seen(seen: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(seen)  # -inf for zero: no bound

    def _design(self, live: np.ndarray, priors: np.ndarray | None) -> np.ndarray:
        columns = [np.ones(len(live)), live] + ([priors] if priors is not None else [])
        return np.column_stack(columns)

    def _terms(self, with_prior: bool) -> tuple[str, ...]:
        live = f"{self.peak_column}_so_far"
        return ("const", live, f"prior_{self.peak_column}") if with_prior else ("const", live)

    def _fit(
        self,
        elapsed_s: float,
        with_prior: bool,
        drop: int | None = None,
        priors: np.ndarray | None = None,
    ) -> LogLinear:
        """The regression on every past event (but `drop`) with data at `elapsed_s`; the
        priors leave-one-out (leave-two-out with `drop`) unless given."""
        seen = self._seen(elapsed_s)
        live = self._log_live(seen)
        if with_prior and priors is None:
            priors = self._priors_without(drop)
        if not with_prior:
            priors = None
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
            return self._loo_priors()
        if drop not in self._pair_priors:
            self._pair_priors[drop] = self.forecast._loo_points(self.peak_column, drop=drop)
        return self._pair_priors[drop]

    # -- the rolling origin ---------------------------------------------------------------------

    def _rolling(self, elapsed_s: float) -> dict:
        """At `elapsed_s`: every candidate's rolling-origin log point per past event, and the
        rule's with and without the prior (points and chosen candidates)."""
        key = round(elapsed_s, 6)
        if key not in self._rolling_cache:
            seen = self._seen(elapsed_s)
            x = np.where(np.isfinite(seen), self._log_live(seen), np.nan)
            log_seen = self._log_seen(seen)
            priors = self._time_priors() if self.uses_prior else None
            points = rolling.rolling_candidates(
                self._order, x, self._log_peaks, log_seen, priors, _MIN_EVENTS
            )
            candidates = rolling.CANDIDATES if self.uses_prior else rolling.CANDIDATES[:2]
            levels, names = rolling.rolling_combination(
                points, self._log_peaks, self._order, candidates
            )
            out = {"x": x, "log_seen": log_seen, "points": points, "levels": levels}
            # Nested: the rule without the prior is the one before its candidate entered.
            for with_prior in (False, True) if self.uses_prior else (False,):
                out[with_prior] = levels[1 + with_prior], names[1 + with_prior]
            self._rolling_cache[key] = out
        return self._rolling_cache[key]

    # -- nowcasts -------------------------------------------------------------------------------

    @_capplan_warnings_only
    def predict(self, live, prior=None, level: float | None = None) -> pd.DataFrame:
        """Nowcast the peak of a live event from its series so far.

        Parameters
        ----------
        live : pandas.Series
            The live event's ``target`` per interval (counts; the level for
            ``concurrent``), indexed by seconds since its **actual** start,
            as ``History.event(event_id)[target]`` gives, at the history's
            interval. It must begin at or before the start (0 s; earlier
            intervals are allowed and ignored) and hold at least one
            interval after it; it ends where the data ends: the elapsed time
            is the end of its last interval. A DataFrame holding the target
            column is accepted.
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
            ``n_events`` (past events in the chosen candidate's fit),
            ``candidate`` (the rule's choice) and ``interval`` (how the
            interval was made: ``"conformal"``, or the regression's
            ``method`` when the history is too short for the rule).

        Raises
        ------
        ValueError
            A live series that begins after the start, ends at or before it,
            has no observed interval after it, or has another interval than
            the history; a prior that is not a number > 0, or given to a
            nowcaster fitted without a forecast.
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
        x0 = float(self._log_live(np.array([seen]))[0])
        log_seen0 = float(self._log_seen(np.array([seen]))[0])
        state = self._rolling(elapsed)
        combined, _ = state[with_prior]
        radius = conformal_quantile(
            [
                abs(self._log_peaks[j] - combined[j])
                for j in self._order
                if np.isfinite(combined[j])
            ],
            level,
        )
        if np.isfinite(radius):
            name, n_events, point = self._live_candidate(state, elapsed, x0, log_prior)
            point = max(point, log_seen0)
            bounds = (point, max(point - radius, log_seen0), point + radius)
            values = [np.array([np.exp(v)]) for v in bounds]
            interval = "conformal"
        else:  # too few past events to calibrate the rule: the regression as fitted
            model = self._model(elapsed, with_prior)
            x = self._design(np.array([x0]), [log_prior] if with_prior else None)
            values = _nowcast_quantiles(model, x, np.array([seen]), level)
            name = rolling.LIVE_PRIOR if with_prior else rolling.LIVE
            n_events, interval = model.n, self.method
        out = pd.DataFrame(
            {
                "seen_so_far": [seen],
                self.peak_column: values[0],
                f"{self.peak_column}_lower": values[1],
                f"{self.peak_column}_upper": values[2],
                "with_prior": [with_prior],
                "n_events": [n_events],
                "candidate": [name],
                "interval": [interval],
            },
            index=pd.Index([elapsed], name="elapsed_s"),
        )
        out.attrs["level"] = level
        return out

    def _live_candidate(self, state, elapsed, x0, log_prior) -> tuple[str, int, float]:
        """The rule's candidate for a live event, chosen on all past events' rolling errors
        and refitted on all past events: (name, events in its fit, log point)."""
        x, points = state["x"], state["points"]
        candidates = rolling.CANDIDATES if log_prior is not None else rolling.CANDIDATES[:2]
        priors = self._time_priors() if log_prior is not None else None
        if priors is not None and (np.isfinite(x) & np.isfinite(priors)).sum() < _MIN_EVENTS:
            candidates = rolling.CANDIDATES[:2]
        name, _ = rolling.choose(points, state["levels"], self._log_peaks, candidates)
        use = np.isfinite(x)
        if name == rolling.NAIVE:
            return name, int(use.sum()), x0 + float(np.median(self._log_peaks[use] - x[use]))
        if name == rolling.LIVE:
            model = self._model(elapsed, False)
            return name, model.n, float(model.point(np.array([[1.0, x0]]))[0])
        key = (round(elapsed, 6), "rolling priors")
        if key not in self._models:
            self._models[key] = self._fit(elapsed, True, priors=priors)
        model = self._models[key]
        return name, model.n, float(model.point(np.array([[1.0, x0, log_prior]]))[0])

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
        end = t[-1] + step
        if abs(end) <= 1e-9:
            raise ValueError(
                "live stops exactly at the event's actual start: no minute of the event has "
                "been seen yet, so there is nothing to nowcast from; use the pre-event forecast "
                "(PeakForecast.predict) instead"
            )
        if end < 0:
            raise ValueError(
                f"live ends {-end:g} s before the event's actual start: the event has not "
                "started; use the pre-event forecast (PeakForecast.predict) instead"
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

    @_capplan_warnings_only
    def backtest(
        self,
        minutes: Sequence[float] = _DEFAULT_MINUTES,
        level: float | None = None,
        with_prior: bool | None = None,
        scheme: str = "rolling",
    ) -> NowcastBacktest:
        """Nowcast past events out of sample, beside the naive ratio (and without the prior).

        Parameters
        ----------
        minutes : list of float, default (2, 5, 10, 20)
            Elapsed times since the actual start (minutes).
        level : float, optional
            Level of the intervals; the nowcaster's by default.
        with_prior : bool, optional
            Use the out-of-sample pre-event forecasts as priors; by default
            whenever the nowcaster has them.
        scheme : {"rolling", "loo"}, default "rolling"
            ``"rolling"``: in time order, each event nowcast by the rule
            from the events before it only (its priors from forecasts fitted
            on the events before it), once it has ``min_history(level)``
            earlier events. ``"loo"``: each event by the regressions fitted
            on all the others (priors leave-two-out, intervals by
            ``method``), as if events were exchangeable.

        Returns
        -------
        NowcastBacktest
            Its table's ``forecaster`` level holds ``"nowcast"``,
            ``"without prior"`` (when a prior is used) and ``"naive ratio"``,
            on the same events; ``minutes = 0`` is the pre-event forecast
            (out of sample in the same scheme; conformal interval from the
            earlier events' errors in the rolling one) when a prior is used.
        """
        minutes = _validate.minutes(minutes)
        level = self.level if level is None else _validate.level(level)
        with_prior = self.uses_prior if with_prior is None else bool(with_prior)
        scheme = _validate.choice(scheme, "scheme", _SCHEMES)
        if with_prior and not self.uses_prior:
            raise ValueError("with_prior=True, but this nowcaster has no pre-event forecast")
        if scheme == "rolling":
            parts = self._rolling_backtest(minutes, level, with_prior)
            min_history = self.min_history(level)
            label = f"rolling origin, at least {min_history} earlier events"
            if not any(p.index.get_level_values("forecaster")[0] == NOWCAST for p in parts):
                raise ValueError(
                    f"{len(self._series)} past events are too few for a rolling-origin backtest "
                    f"at {level:.0%}: an event needs {min_history} earlier ones with data at "
                    "those minutes; use scheme='loo' or a lower level"
                )
        else:
            parts = self._loo_backtest(minutes, level, with_prior)
            min_history, label = _MIN_EVENTS + 1, "leave one event out"
        table = pd.concat(parts)
        return NowcastBacktest(table, level, self.peak_column, with_prior, label, min_history)

    def _rolling_backtest(self, minutes, level, with_prior) -> list[pd.DataFrame]:
        y, order, ids = self._log_peaks, self._order, self.history.event_ids
        parts = []
        if with_prior:
            priors = self._time_priors()
            radius = rolling.rolling_radii(priors, y, order, level)
            held = [j for j in order if np.isfinite(radius[j])]
            p, r = priors[held], radius[held]
            parts.append(
                _rows(NOWCAST, 0.0, ids, held, y, p, p - r, p + r, None, "pre-event forecast")
            )
        position = {j: t for t, j in enumerate(order)}
        for k in minutes:
            state = self._rolling(60.0 * k)
            x, log_seen = state["x"], state["log_seen"]
            forecasters = [(NOWCAST, with_prior)] + ([(WITHOUT_PRIOR, False)] if with_prior else [])
            radii = {
                label: rolling.rolling_radii(state[wp][0], y, order, level)
                for label, wp in forecasters
            }
            held = [j for j in order if all(np.isfinite(r[j]) for r in radii.values())]
            if not held:
                continue
            seen = np.exp(log_seen)
            for label, wp in forecasters:
                combined, chosen = state[wp]
                p, r = combined[held], radii[label][held]
                lower = np.fmax(p - r, log_seen[held])
                names = [chosen[j] for j in held]
                parts.append(_rows(label, k, ids, held, y, p, lower, p + r, seen, names))
            values = np.array(
                [
                    rolling.naive_interval(x, y, order[: position[j]], x[j], log_seen[j], level)
                    for j in held
                ]
            )
            parts.append(_rows(rolling.NAIVE, k, ids, held, y, *values.T, seen, rolling.NAIVE))
        return parts

    def _loo_backtest(self, minutes, level, with_prior) -> list[pd.DataFrame]:
        y, ids = self._log_peaks, self.history.event_ids
        parts = []
        if with_prior:
            backtest = self.forecast.backtest
            if "scheme" in inspect.signature(backtest).parameters:
                pre = backtest(level, scheme="loo").table.loc[self.peak_column]
            else:
                pre = backtest(level).table.loc[self.peak_column]
            held = [ids.index(e) for e in pre.index]
            logs = [np.log(pre[c].to_numpy(dtype=float)) for c in ("predicted", "lower", "upper")]
            parts.append(_rows(NOWCAST, 0.0, ids, held, y, *logs, None, "pre-event forecast"))
        forecasters = [(NOWCAST, with_prior)] + ([(WITHOUT_PRIOR, False)] if with_prior else [])
        for k in minutes:
            elapsed = 60.0 * k
            seen = self._seen(elapsed)
            x = np.where(np.isfinite(seen), self._log_live(seen), np.nan)
            log_seen = self._log_seen(seen)
            held = np.flatnonzero(np.isfinite(seen))
            for label, wp in forecasters:
                values = np.empty((len(held), 3))
                for row, i in enumerate(held):
                    model = self._fit(elapsed, wp, drop=i)
                    priors = self._loo_priors()[[i]] if wp else None  # its own LOO prior
                    x0 = self._design(x[[i]], priors)
                    values[row] = np.concatenate(_nowcast_quantiles(model, x0, seen[[i]], level))
                name = rolling.LIVE_PRIOR if wp else rolling.LIVE
                logs = np.log(values).T
                parts.append(_rows(label, k, ids, held, y, *logs, seen, name))
            values = np.array(
                [
                    rolling.naive_interval(x, y, held[held != i], x[i], log_seen[i], level)
                    for i in held
                ]
            )
            parts.append(_rows(rolling.NAIVE, k, ids, held, y, *values.T, seen, rolling.NAIVE))
        return parts

    # -- the face of a result -------------------------------------------------------------------

    @_capplan_warnings_only
    def choice(self, minutes: Sequence[float] = _DEFAULT_MINUTES) -> pd.DataFrame:
        """The rule on all past events at each elapsed time (index ``minutes``): each
        challenger's mean absolute log error over the past events' rolling-origin nowcasts
        (``mae_<candidate>``) beside the rule's before it on the same events
        (``mae_rule_before_<candidate>``; NaN where not yet eligible), and the candidate a
        live nowcast uses with the prior (``with_prior``) and without it
        (``without_prior``)."""
        rows = {}
        for k in _validate.minutes(minutes):
            state = self._rolling(60.0 * k)
            row = {}
            for with_prior in (True, False) if self.uses_prior else (False,):
                candidates = rolling.CANDIDATES if with_prior else rolling.CANDIDATES[:2]
                name, compared = rolling.choose(
                    state["points"], state["levels"], self._log_peaks, candidates
                )
                row["with_prior" if with_prior else "without_prior"] = name
                if with_prior or not self.uses_prior:
                    for c in candidates[1:]:
                        mae, before = compared.get(c, (np.nan, np.nan))
                        row[f"mae_{c}"], row[f"mae_rule_before_{c}"] = mae, before
            rows[k] = row
        return pd.DataFrame(rows).T.rename_axis("minutes")

    @_capplan_warnings_only
    def summary(self, minutes: Sequence[float] = _DEFAULT_MINUTES) -> pd.DataFrame:
        """Coefficients of the regressions fitted on every past event at each elapsed time
        (index ``minutes``, ``term``; with the rolling priors when the nowcaster has a
        forecast): ``estimate``, ``std_err``, ``lower``, ``upper``, and
        ``residual_sd_log`` (the spread of log peaks the regression leaves). Which
        candidate the rule uses at each minute is :meth:`choice`; the rule is ``rule``."""
        parts = {}
        for k in _validate.minutes(minutes):
            elapsed = 60.0 * k
            if self.uses_prior:
                key = (round(elapsed, 6), "rolling priors")
                if key not in self._models:
                    self._models[key] = self._fit(elapsed, True, priors=self._time_priors())
                model = self._models[key]
            else:
                model = self._model(elapsed, False)
            table = model.coefficients(self.level)
            table["residual_sd_log"] = model.diagnostics()["residual_sd_log"]
            parts[k] = table
        out = pd.concat(parts, names=["minutes", "term"])
        out.attrs["rule"] = self.rule
        return out

    def __str__(self) -> str:
        prior = "and the pre-event forecast (rolling origin)" if self.uses_prior else "alone"
        head = (
            f"Nowcast of {self.peak_column} from its value so far {prior}; "
            f"{len(self._series)} past events at {self.interval_s:g} s, "
            f"{self.level:.0%} intervals\nRule: {self.rule}\n"
        )
        return head + table_text(self.choice(), 4) + "\n" + table_text(self.summary(), 4)

    def __repr__(self) -> str:
        return (
            f"<Nowcaster {self.peak_column}: {len(self._series)} events, prior={self.uses_prior}>"
        )

    def to_frame(self, minutes: Sequence[float] = _DEFAULT_MINUTES) -> pd.DataFrame:
        """One row per past event: its peak, its out-of-sample priors (if any: leave one out,
        and from the events before it), and its peak so far after each elapsed time
        (``seen_<k>min``; per second for a count)."""
        out = pd.DataFrame(
            {self.peak_column: np.exp(self._log_peaks)},
            index=pd.Index(self.history.event_ids, name="event_id"),
        )
        if self.uses_prior:
            out[f"prior_{self.peak_column}"] = np.exp(self._loo_priors())
            out[f"rolling_prior_{self.peak_column}"] = np.exp(self._time_priors())
        for k in _validate.minutes(minutes):
            out[f"seen_{k:g}min"] = self._seen(60.0 * k)
        return out

    def chart(self):
        """Error and coverage of the backtest against elapsed minutes (an altair Chart)."""
        return self.backtest().chart()


def _rows(forecaster, k, ids, held, y, point, lower, upper, seen, candidate) -> pd.DataFrame:
    """Backtest rows of events `held` (positions) from log-scale point and bounds."""
    held = np.asarray(held, dtype=int)
    actual = np.exp(y[held])
    table = pd.DataFrame(
        backtest_rows(actual, np.exp(point), np.exp(lower), np.exp(upper)),
        index=pd.MultiIndex.from_product(
            [[forecaster], [float(k)], [ids[i] for i in held]],
            names=["forecaster", "minutes", "event_id"],
        ),
    )
    table["seen_so_far"] = np.nan if seen is None else seen[held]
    table["candidate"] = candidate
    return table


class NowcastBacktest:
    """Out-of-sample nowcasts of past events at several elapsed times. Read-only.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per forecaster, elapsed time and event (index
        ``forecaster`` (``"nowcast"``, ``"without prior"``, ``"naive
        ratio"``), ``minutes``, ``event_id``; ``minutes = 0`` is the
        pre-event forecast): ``actual``, ``predicted``, ``lower``,
        ``upper`` (peak units), ``covered``, ``log_ratio``
        (``log(actual / predicted)``), ``relative_error``, ``seen_so_far``,
        ``candidate`` (what the rule chose).
    level : float
    peak_column : str
    with_prior : bool
    scheme : str
        ``"rolling origin, at least N earlier events"`` or ``"leave one
        event out"``.
    min_history : int
        Earlier (rolling) or other (leave one out) events a nowcast needs.
    rule : str
    """

    rule = RULE

    def __init__(self, table, level, peak_column, with_prior, scheme, min_history):
        self.table = table
        self.level = level
        self.peak_column = peak_column
        self.with_prior = with_prior
        self.scheme = scheme
        self.min_history = min_history

    def to_frame(self) -> pd.DataFrame:
        """The table, one row per forecaster, elapsed time and event."""
        return self.table.copy()

    def compare(self) -> pd.DataFrame:
        """The summary of every forecaster (index ``forecaster``, ``minutes``; columns of
        :meth:`PeakBacktest.summary`)."""
        parts = {
            name: summarise(part.droplevel("forecaster"), "minutes", self.level)
            for name, part in self.table.groupby(level="forecaster", sort=False)
        }
        return pd.concat(parts, names=["forecaster", "minutes"])

    def summary(self) -> pd.DataFrame:
        """One row per elapsed time (minutes) for the nowcast: coverage with its 95%
        Clopper-Pearson interval, shares below and above, median |log error|, bias, median
        width ratio (see :meth:`PeakBacktest.summary`); beside them the same events'
        coverage and median |log error| of the naive ratio (``naive_...``) and of the
        nowcast without prior (``without_prior_...``, when a prior is used)."""
        compared = self.compare()
        out = compared.loc[NOWCAST].copy()
        for name, prefix in ((rolling.NAIVE, "naive"), (WITHOUT_PRIOR, "without_prior")):
            if name not in compared.index.get_level_values("forecaster"):
                continue
            other = compared.loc[name].reindex(out.index)
            for column in ("coverage", "median_abs_log_error"):
                out[f"{prefix}_{column}"] = other[column]
        return out

    def __str__(self) -> str:
        prior = "with prior" if self.with_prior else "live traffic alone"
        head = (
            f"Nowcast backtest of {self.peak_column} ({self.scheme}), {prior}, "
            f"{self.level:.0%} intervals; minutes = 0 is the pre-event forecast\n"
            f"Rule: {self.rule}\n"
        )
        columns = [
            *("n_events", "coverage", "coverage_low", "coverage_high"),
            *("median_abs_log_error", "mean_log_ratio", "median_width_ratio"),
        ]
        return head + table_text(self.compare()[columns], 4)

    def __repr__(self) -> str:
        return f"<NowcastBacktest {self.peak_column}: {len(self.table)} nowcasts>"

    def chart(self):
        """Median |log error| and coverage of the nowcast against elapsed minutes (an altair
        Chart)."""
        from capplan import charts

        return charts.nowcast_backtest_chart(self)


@_capplan_warnings_only
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
        The pre-event forecast whose out-of-sample values serve as the
        prior (refitted on the events before each past event in time
        order; leave one out in ``backtest(scheme="loo")``), fitted on this
        same history. None or True fits the default
        one (:func:`fit_peak_forecast` with this target); False uses no
        prior.
    method : {"jackknife+", "ols"}, default "jackknife+"
        The regressions' own intervals (the leave-one-out backtest, and a
        history too short for the rule's conformal interval): from the past
        events' leave-one-out errors, or the OLS t predictive distribution
        truncated at the peak so far (see the module's notes).
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


@_capplan_warnings_only
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
