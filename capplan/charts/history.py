"""Charts of past events (:class:`~capplan.data.History`)."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

from capplan.charts.theme import ACTUAL, HEIGHT, MAX_ROWS, WIDTH, Clock, heading

__all__ = ["history_chart"]


def history_chart(
    history, column: str = "joins", event_ids=None, *, interval_s=None, log: bool = True
) -> alt.LayerChart:
    """Past events side by side, aligned on their actual start: minutes from it, the actual
    start marked (and, for one event, its scheduled start).

    Parameters
    ----------
    history : History
    column : str, default "joins"
        A measured column: counts are drawn per second (count / interval),
        ``concurrent`` as a level.
    event_ids : list of str, optional
        Events to draw (default: all).
    interval_s : float, optional
        The series are resampled to this interval first (counts summed,
        levels averaged). By default, the shortest whole number of minutes
        that keeps the chart under ``MAX_ROWS`` points in all, so that forty
        events stay light in a notebook and in exported HTML.
    log : bool, default True
        Logarithmic y axis, so that small and headline events share a chart.

    Returns
    -------
    altair.LayerChart
    """
    if column not in history.measured:
        raise ValueError(f"column {column!r} was not measured; this history has {history.measured}")
    ids = history.event_ids if event_ids is None else list(event_ids)
    if interval_s is None:
        seconds = sum(len(history.event(i)) * history.interval(i) for i in ids)
        interval_s = 60.0 * max(1, math.ceil(seconds / 60 / (2 * MAX_ROWS)))
    coarse = history.resample(interval_s)
    frames = []
    for event_id in ids:
        frame = coarse.event(event_id)[[column]].dropna()
        per_s = column != "concurrent"
        value = frame[column] / coarse.interval(event_id) if per_s else frame[column]
        frames.append(pd.DataFrame({"seconds": frame.index, "value": value, "event_id": event_id}))
    data = pd.concat(frames, ignore_index=True)
    if log:
        data = data[data["value"] > 0]
    clock = Clock(ACTUAL)
    data = clock.put(data, "seconds")
    unit = "per second (1/s)" if column != "concurrent" else "listeners"
    y = alt.Y("value:Q", title=f"{column} {unit}", scale=alt.Scale(type="log" if log else "linear"))
    lines = (
        alt.Chart(data)
        .mark_line(strokeWidth=1, opacity=0.7)
        .encode(
            x=clock.x(),
            y=y,
            color=alt.Color("event_id:N", legend=None),
            tooltip=[
                alt.Tooltip("event_id:N", title="event"),
                clock.tooltip(),
                alt.Tooltip("value:Q", title=f"{column} {unit}", format=",.4g"),
            ],
        )
    )
    scheduled_s, marked = None, "red: the actual start"
    if len(ids) == 1:
        delay_s = float(history.summary().at[ids[0], "delay_s"])
        if delay_s != 0:
            scheduled_s, marked = -delay_s, "red: the actual start, dashed: the scheduled start"
    return alt.layer(lines, *clock.rules(scheduled_s=scheduled_s)).properties(
        width=WIDTH,
        height=HEIGHT,
        title=heading(
            f"{column} of {len(ids)} past events, aligned on the actual start",
            f"means over {interval_s:g} s intervals; {marked}",
        ),
    )
