"""The rolling-origin engine of the nowcast: candidates, the rule that picks one, intervals.

Pure numpy on the log scale, one elapsed time at a time (see :mod:`capplan.forecast.nowcast`
for the model). Arrays are per past event in the history's order; ``order`` lists their
positions in time order (by scheduled start), so "earlier" means before in ``order``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from capplan.forecast._conformal import conformal_quantile

NAIVE, LIVE, LIVE_PRIOR = "naive ratio", "live regression", "live + prior regression"
CANDIDATES = (NAIVE, LIVE, LIVE_PRIOR)  # simplest first: ties go to the simpler one
MIN_SELECT = 5  # earlier rolling errors a candidate needs before the rule may pick it
P_SWITCH = 0.05  # one-sided p-value a candidate must reach to replace the simpler rule


def rolling_candidates(order, x, y, log_seen, priors, min_fit: int) -> dict:
    """Each candidate's rolling-origin log point for every past event (NaN where undefined).

    Parameters
    ----------
    order : array of int
        Positions of the events in time order.
    x : array
        The live feature, log of the peak so far (floored), NaN where unseen.
    y : array
        Log peaks.
    log_seen : array
        Log of the peak so far (``-inf`` for zero): points are raised to it.
    priors : array or None
        Rolling-origin log pre-event forecasts (NaN where undefined).
    min_fit : int
        Earlier events (with the features) a candidate needs.
    """
    n = len(y)
    out = {NAIVE: np.full(n, np.nan), LIVE: np.full(n, np.nan)}
    if priors is not None:
        out[LIVE_PRIOR] = np.full(n, np.nan)
    for t, j in enumerate(order):
        if not np.isfinite(x[j]):
            continue
        earlier = np.asarray(order[:t], dtype=int)
        e = earlier[np.isfinite(x[earlier])]
        if len(e) < min_fit:
            continue
        out[NAIVE][j] = x[j] + np.median(y[e] - x[e])
        out[LIVE][j] = _ols_point(np.column_stack([np.ones(len(e)), x[e]]), y[e], [1.0, x[j]])
        if priors is not None and np.isfinite(priors[j]):
            ep = e[np.isfinite(priors[e])]
            if len(ep) >= min_fit:
                X = np.column_stack([np.ones(len(ep)), x[ep], priors[ep]])
                out[LIVE_PRIOR][j] = _ols_point(X, y[ep], [1.0, x[j], priors[j]])
    # np.maximum, not fmax: an undefined point (NaN) must stay undefined.
    with np.errstate(invalid="ignore"):
        return {name: np.maximum(points, log_seen) for name, points in out.items()}


def _ols_point(X, y, x0) -> float:
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    return float(np.asarray(x0) @ coef)


def _mae(y, points, events) -> float:
    return float(np.mean(np.abs(y[events] - points[events])))


def _beats(y, challenger, incumbent, events) -> bool:
    """Whether `challenger` has a smaller mean |log error| than `incumbent` over `events`,
    by a one-sided paired test (Diebold-Mariano with absolute loss, one-step forecasts so no
    autocorrelation term) at ``P_SWITCH``: a tie or a lead within the noise keeps the
    incumbent, so a candidate must have earned its place."""
    if len(events) < MIN_SELECT:
        return False
    d = np.abs(y[events] - incumbent[events]) - np.abs(y[events] - challenger[events])
    sd = d.std(ddof=1)
    if not d.mean() > 0:
        return False
    if sd == 0:
        return True
    t = d.mean() / (sd / np.sqrt(len(d)))
    return bool(stats.t.sf(t, len(d) - 1) < P_SWITCH)


def rolling_combination(points: dict, y, order, candidates) -> tuple[list, list]:
    """The rule applied to every past event in time order, each from the earlier events.

    Nested: the rule starts as the naive ratio; each further candidate (in the order of
    `candidates`, simplest first) replaces the rule so far at an event when, over the
    earlier events where both had a rolling point (at least ``MIN_SELECT``), its mean
    absolute log error is smaller than the rule's so far by the test of :func:`_beats`. So
    adding a candidate (the prior) changes nothing where it did not beat what the rule had
    without it.

    Returns the rule's log points after each candidate (``levels[i]``: with the first
    ``i + 1`` candidates; NaN where undefined) and, per level, the chosen names.
    """
    combined = points[candidates[0]].copy()
    chosen = np.where(np.isfinite(combined), candidates[0], None).astype(object)
    levels, names = [combined.copy()], [list(chosen)]
    for name in candidates[1:]:
        if name not in points:
            break
        challenger = points[name]
        previous, combined = combined, combined.copy()
        for t, j in enumerate(order):
            if not (np.isfinite(challenger[j]) and np.isfinite(previous[j])):
                continue
            earlier = np.asarray(order[:t], dtype=int)
            both = earlier[np.isfinite(challenger[earlier]) & np.isfinite(previous[earlier])]
            if _beats(y, challenger, previous, both):
                combined[j], chosen[j] = challenger[j], name
        levels.append(combined.copy())
        names.append(list(chosen))
    return levels, names


def choose(points: dict, levels: list, y, candidates) -> tuple[str, dict]:
    """The rule for a new event after all past ones: the nested comparison of
    :func:`rolling_combination` over every past event. Returns the name and, per challenger,
    its mean absolute log error and the rule's before it on the same events."""
    name, compared = candidates[0], {}
    for i, challenger in enumerate(candidates[1:], start=1):
        if challenger not in points or i >= len(levels):
            break
        both = np.flatnonzero(np.isfinite(points[challenger]) & np.isfinite(levels[i - 1]))
        if len(both) < MIN_SELECT:
            continue
        mae, before = _mae(y, points[challenger], both), _mae(y, levels[i - 1], both)
        compared[challenger] = (mae, before)
        if _beats(y, points[challenger], levels[i - 1], both):
            name = challenger
    return name, compared


def min_calibration(level: float) -> int:
    """Fewest scores for which :func:`~capplan.forecast._conformal.conformal_quantile` is
    finite at `level`."""
    n = 1
    while not np.isfinite(conformal_quantile(np.zeros(n), level)):
        n += 1
    return n


def rolling_radii(point, y, order, level: float):
    """Conformal radius of each event from the earlier events' |log errors| of `point`."""
    radius = np.full(len(y), np.nan)
    scores: list[float] = []
    for j in order:
        if np.isfinite(point[j]):
            radius[j] = conformal_quantile(scores, level)
            scores.append(abs(y[j] - point[j]))
    return radius


def naive_interval(x, y, earlier, x0, log_seen0, level: float) -> tuple[float, float, float]:
    """The naive ratio's point and interval (log scale) at live feature `x0`: the median and
    the empirical ``(1 -+ level) / 2`` quantiles of the earlier events' log(peak / peak so
    far), added to `x0`, none below the log peak so far."""
    e = np.asarray(earlier, dtype=int)
    e = e[np.isfinite(x[e])]
    ratio = y[e] - x[e]
    values = x0 + np.quantile(ratio, [0.5, (1 - level) / 2, (1 + level) / 2])
    return tuple(float(max(v, log_seen0)) for v in values)


def rolling_priors(forecast, column: str, order) -> np.ndarray:
    """Log pre-event point forecasts of the past events, each refitted on the events before
    it in time order (NaN while too few): ``PeakForecast._rolling_points`` where the forecast
    has it, else :func:`fit_peak_forecast` refitted here on each earlier sub-history with the
    forecast's settings (its signals, less any constant among the earlier events)."""
    if hasattr(forecast, "_rolling_points"):
        return np.asarray(forecast._rolling_points(column), dtype=float)
    return _refitted_priors(forecast, column, order)


def _refitted_priors(forecast, column: str, order) -> np.ndarray:
    from capplan import warnings as capplan_warnings
    from capplan.data.history import History
    from capplan.forecast.peak import fit_peak_forecast
    from capplan.warnings import SmallSampleWarning

    ExtrapolationWarning = getattr(capplan_warnings, "ExtrapolationWarning", None)

    history = forecast.history
    ids = list(forecast.data.index)
    target = next(t for t in forecast.targets if f"peak_{t}" in column)
    signals = [f for f in forecast.features_[column] if not f.startswith("pre_start_")]
    out = np.full(len(ids), np.nan)
    for t in range(1, len(order)):
        earlier = [ids[i] for i in order[:t]]
        events = history.events.loc[earlier]
        series = history.series[history.series["event_id"].isin(earlier)]
        sub = History(events, series, history.repairs)
        usable = [s for s in signals if events[s].nunique() > 1]
        row = forecast.data.loc[[ids[order[t]]]]
        with warnings.catch_warnings():
            # Few earlier events, and a next event outside their range, are the point of a
            # rolling origin: the backtest's coverage reports what they cost, and only the
            # point is used here (not the interval an extrapolation warning is about).
            warnings.simplefilter("ignore", SmallSampleWarning)
            if ExtrapolationWarning is not None:
                warnings.simplefilter("ignore", ExtrapolationWarning)
            try:
                fit = fit_peak_forecast(
                    sub,
                    targets=[target],
                    signals=usable,
                    lead_s=forecast.lead_s,
                    method=forecast.method,
                )
            except ValueError:  # too few earlier events for its parameters
                continue
            out[order[t]] = float(np.log(fit.predict(row)[column].iloc[0]))
    return out


def time_order(events: pd.DataFrame) -> np.ndarray:
    """Positions of the events sorted by scheduled start (stable: ties keep their order)."""
    return np.argsort(events["scheduled_start"].to_numpy(), kind="stable")
