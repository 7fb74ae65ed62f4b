"""What is known before an event, and the peak it then reached: the tables the forecasts fit.

Time is cut at the **cut-off**, the earlier of the scheduled and the actual
start. A forecast is made at the cut-off and may use only what was known by
then: the event's audience signals and the traffic of the ``lead_s``
seconds before the cut-off (for an event that started 40 minutes late, the
hour before its *scheduled* start, not the lobby's 40 minutes of waiting).
The **peak** it forecasts is the largest value after the cut-off, to the end
of the event's series (unlike ``History.summary()``, whose peaks span the
whole window: on the World Cup site the previous match's final whistle,
in the hour before kick-off, is not this match's peak).

Each measured load has a kind, which fixes how a window of it is summed up:

- ``joins`` and ``requests`` are *counts* per interval: a window's traffic is
  its mean rate per second (mean count / interval length), and a peak is the
  largest count of one interval divided by its length (per second, at the
  history's interval: a per-minute history gives the peak minute's mean
  rate, below the worst second's);
- ``concurrent`` is a *level*: a window's traffic is the last level in it
  (what is connected at its end), and a peak is the largest level.

An interval belongs to a window only if it lies wholly inside it; an
interval straddling the cut-off belongs to the peak, not to the pre-start
traffic. Missing (NaN) intervals are left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from capplan.data.history import History
from capplan.forecast import _validate

__all__ = [
    "LOADS",
    "default_loads",
    "event_table",
    "peak_column",
    "pre_start_column",
    "pre_start_traffic",
]

#: The loads whose peaks can be forecast, and their kind.
LOADS = {"joins": "count", "concurrent": "level", "requests": "count"}

_DEFAULT_LEAD_S = 3600.0


def default_loads(available) -> list[str]:
    """The loads forecast by default among `available`: joins and concurrent where joins are
    there, else requests, else whatever of the three is."""
    if "joins" in available:
        return [load for load in ("joins", "concurrent") if load in available]
    if "requests" in available:
        return ["requests"]
    return [load for load in LOADS if load in available]


def peak_column(load: str) -> str:
    """Name of a load's peak: ``peak_joins_per_s``, ``peak_concurrent``, ``peak_requests_per_s``
    (as in ``History.summary()``)."""
    return f"peak_{load}_per_s" if LOADS[load] == "count" else f"peak_{load}"


def pre_start_column(load: str) -> str:
    """Name of a load's pre-start traffic: ``pre_start_joins_per_s``, ``pre_start_concurrent``..."""
    return f"pre_start_{load}_per_s" if LOADS[load] == "count" else f"pre_start_{load}"


def window_value(t, y, interval_s: float, kind: str, start_s: float, stop_s: float) -> float:
    """Traffic of the intervals lying wholly in ``[start_s, stop_s)``: for a count the mean
    rate per second, for a level the last value; NaN if no interval there is observed.

    A mean rate of zero is floored at half a count over the observed window, a level of zero
    at 0.5, so that logarithms stay finite (a continuity correction).
    """
    inside = (t >= start_s - 1e-9) & (t + interval_s <= stop_s + 1e-9) & np.isfinite(y)
    if not inside.any():
        return float("nan")
    if kind == "count":
        n = int(inside.sum())
        return max(float(np.mean(y[inside])) / interval_s, 0.5 / (n * interval_s))
    return max(float(y[inside][-1]), 0.5)


def peak_value(t, y, interval_s: float, kind: str, after_s: float, until_s: float = np.inf):
    """Largest value of the intervals ending in ``(after_s, until_s]`` (per second for a
    count); NaN if none of them is observed."""
    end = t + interval_s
    inside = (end > after_s + 1e-9) & (end <= until_s + 1e-9) & np.isfinite(y)
    if not inside.any():
        return float("nan")
    top = float(np.max(y[inside]))
    return top / interval_s if kind == "count" else top


def cutoff_s(history: History, event_id) -> float:
    """The cut-off in seconds since the event's actual start: ``min(scheduled - actual, 0)``."""
    event = history.events.loc[event_id]
    delay = (event["actual_start"] - event["scheduled_start"]).total_seconds()
    return min(-delay, 0.0)


def event_table(history: History, *, lead_s: float | None = _DEFAULT_LEAD_S) -> pd.DataFrame:
    """One row per past event: what was known before it, and the peaks it reached.

    Parameters
    ----------
    history : History
        Past events and their series.
    lead_s : float or None, default 3600
        Length (s) of the window before the cut-off whose traffic is known
        before the event; None leaves the pre-start traffic out.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``event_id``: the numeric audience signals
        (``History.signals``); ``interval_s``; ``delay_s`` (actual minus
        scheduled start); ``cutoff_s`` (the cut-off, s since the actual
        start, <= 0); for each measured load (``joins``, ``concurrent``,
        ``requests``) its pre-start traffic (``pre_start_joins_per_s``: mean
        rate per second over the lead window; ``pre_start_concurrent``: the
        level at the cut-off) unless `lead_s` is None, and its peak after the
        cut-off (``peak_joins_per_s``, ``peak_concurrent``,
        ``peak_requests_per_s``). NaN where a load was not measured.

    Examples
    --------
    >>> import capplan
    >>> table = event_table(capplan.worldcup98_history())
    >>> list(table.columns[-2:])
    ['pre_start_requests_per_s', 'peak_requests_per_s']
    """
    history = _validate.history(history)
    if lead_s is not None:
        lead_s = _validate.positive(lead_s, "lead_s", " seconds (or None)")
    loads = [load for load in LOADS if load in history.measured]
    rows = []
    for event_id in history.event_ids:
        frame = history.event(event_id)
        t = frame.index.to_numpy(dtype=float)
        step = history.interval(event_id)
        cut = cutoff_s(history, event_id)
        event = history.events.loc[event_id]
        row = {
            "interval_s": step,
            "delay_s": (event["actual_start"] - event["scheduled_start"]).total_seconds(),
            "cutoff_s": cut,
        }
        for load in loads:
            y = frame[load].to_numpy(dtype=float, na_value=np.nan)
            if lead_s is not None:
                row[pre_start_column(load)] = window_value(
                    t, y, step, LOADS[load], cut - lead_s, cut
                )
            row[peak_column(load)] = peak_value(t, y, step, LOADS[load], cut)
        rows.append(row)
    table = pd.DataFrame(rows, index=pd.Index(history.event_ids, name="event_id"))
    return pd.concat([history.signals.astype(float), table], axis=1)


def pre_start_traffic(series, *, lead_s: float = _DEFAULT_LEAD_S) -> pd.Series:
    """Pre-start traffic of a new event, for :meth:`PeakForecast.predict`.

    Parameters
    ----------
    series : pandas.DataFrame or pandas.Series
        The new event's measured loads (columns ``joins``, ``concurrent``,
        ``requests``, any of them; a Series is named by its load) per
        interval, indexed by **seconds since the scheduled start** (negative
        before it) on a regular grid. Only intervals ending by the scheduled
        start are used.
    lead_s : float, default 3600
        Length (s) of the window before the scheduled start; use the
        forecast's ``lead_s``.

    Returns
    -------
    pandas.Series
        ``pre_start_joins_per_s`` (mean rate per second over the window),
        ``pre_start_concurrent`` (the last level before the start),
        ``pre_start_requests_per_s``: one value for each load given.

    Examples
    --------
    >>> import pandas as pd
    >>> joins = pd.Series([120.0] * 60, index=range(-3600, 0, 60), name="joins")
    >>> float(pre_start_traffic(joins)["pre_start_joins_per_s"])
    2.0
    """
    lead_s = _validate.positive(lead_s, "lead_s", " seconds")
    frame = series.to_frame() if isinstance(series, pd.Series) else series
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"series must be a pandas DataFrame or Series indexed by seconds since the scheduled "
            f"start, not {type(series).__name__}"
        )
    loads = [c for c in frame.columns if c in LOADS]
    if not loads:
        raise ValueError(
            f"series has no measured load to summarise: expected a column among "
            f"{list(LOADS)}, got {list(frame.columns)}"
        )
    out = {}
    for load in loads:
        t, y, step = _validate.live_series(frame[load], f"series[{load!r}]", load)
        if not np.isfinite(step):
            raise ValueError(f"series[{load!r}] needs at least two intervals to fix their length")
        value = window_value(t, y, step, LOADS[load], -lead_s, 0.0)
        if not np.isfinite(value):
            raise ValueError(
                f"series[{load!r}] has no observed interval between {-lead_s:g} s and 0 s "
                "(index: seconds since the scheduled start)"
            )
        out[pre_start_column(load)] = value
    return pd.Series(out, name="pre_start")
