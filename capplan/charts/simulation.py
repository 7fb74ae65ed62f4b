"""Charts of simulated runs (:class:`~capplan.simulation.SimulationResult`)."""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import numpy as np
import pandas as pd

from capplan.charts.theme import COUNT, NUMBER, PANEL_HEIGHT, SCHEDULED, WIDTH, Clock
from capplan.simulation.result import SimulationResult

__all__ = ["simulation_chart", "simulation_comparison_chart"]


# Steps per series in a chart; longer runs are merged into wider steps (altair refuses
# datasets over 5000 rows unless told otherwise, which would be global state).
_MAX_POINTS = 900
_MAX_ROWS = 4500


_RATE_SERIES = {
    "first_tries_per_s": "first tries",
    "retries_per_s": "retries",
    "served_per_s": "served in time",
    "wasted_per_s": "served too late",
    "refused_per_s": "refused",
}


def _per_step(result: SimulationResult, max_points: int = _MAX_POINTS) -> pd.DataFrame:
    """The result's table in at most ``max_points`` steps: rates per second, line
    length (max), worst p99 wait."""
    f = result.to_frame()
    group = np.arange(len(f)) // max(1, -(-len(f) // max_points))
    length = f["end_s"] - f.index.to_numpy()
    g = f.assign(length=length.to_numpy()).groupby(group)
    out = pd.DataFrame(
        {
            "time_s": g.apply(lambda d: d.index[0], include_groups=False).to_numpy(float),
            "length": g["length"].sum().to_numpy(),
            "first_tries": g["first_tries"].sum().to_numpy(),
            "retries": g["retries"].sum().to_numpy(),
            "served": g["served"].sum().to_numpy(),
            "wasted": g["wasted"].sum().to_numpy(),
            "refused": g["refused"].sum().to_numpy(),
            "queue": g["queue"].max().to_numpy(),
            "wait_p99_s": g["wait_p99_s"].max().to_numpy(),
            "servers": g["servers"].min().to_numpy(),
        }
    )
    for col in ("first_tries", "retries", "served", "wasted", "refused"):
        out[col + "_per_s"] = out[col] / out["length"]
    return out


def _rates_long(steps: pd.DataFrame, names: dict[str, str], clock: Clock) -> pd.DataFrame:
    return steps.melt(
        id_vars=["time_s", clock.field],
        value_vars=list(names),
        var_name="series",
        value_name="per_s",
    ).assign(series=lambda d: d["series"].map(names))


def _on_clock(steps: pd.DataFrame, start_s, actual_start_s) -> tuple[pd.DataFrame, Clock, list]:
    """The steps with the chart's time column, the clock, and the start rules."""
    if start_s is None:
        clock = Clock("start of the run")
        return clock.put(steps, "time_s"), clock, []
    clock = Clock(SCHEDULED)
    steps = steps.assign(clock_s=steps["time_s"] + float(start_s))
    within = (float(steps["clock_s"].min()), float(steps["clock_s"].max()))
    return clock.put(steps, "clock_s"), clock, clock.rules(actual_s=actual_start_s, within=within)


def simulation_chart(
    result: SimulationResult,
    *,
    title: str | None = None,
    start_s: float | None = None,
    actual_start_s: float | None = None,
) -> alt.VConcatChart:
    """Three panels over time: attempts and answers per second, requests waiting,
    and the 99th percentile wait.

    Parameters
    ----------
    result : SimulationResult
        A run of :func:`capplan.simulation.simulate`.
    title : str, optional
        Chart title.
    start_s : float, optional
        Where the run's time 0 falls on the event's clock (seconds from the scheduled
        start): time is then drawn as minutes from the scheduled start, with the
        scheduled start (and the actual start, given ``actual_start_s`` in seconds from
        the scheduled start) marked where it falls inside the run. By default, minutes
        from the start of the run.
    actual_start_s : float, optional

    Returns
    -------
    altair.VConcatChart
        Not displayed; call ``.save(...)`` or show it in a notebook. The
        buffer (when finite) and the client timeout (when set) are drawn as
        dashed rules.
    """
    spec = result.spec
    steps, clock, rules = _on_clock(_per_step(result), start_s, actual_start_s)
    x = clock.x()
    rates = _rates_long(steps, _RATE_SERIES, clock)
    top = alt.layer(
        alt.Chart(rates)
        .mark_line(interpolate="step-after")
        .encode(
            x=x,
            y=alt.Y("per_s:Q", title="requests per second"),
            color=alt.Color("series:N", title=None, sort=list(_RATE_SERIES.values())),
            tooltip=[
                clock.tooltip(),
                alt.Tooltip("series:N", title="requests"),
                alt.Tooltip("per_s:Q", title="per second (1/s)", format=NUMBER),
            ],
        ),
        *rules,
    ).properties(width=WIDTH, height=PANEL_HEIGHT, title="Attempts and answers (1/s)")
    queue = alt.layer(
        alt.Chart(steps)
        .mark_line(interpolate="step-after", color="#444")
        .encode(
            x=x,
            y=alt.Y("queue:Q", title="requests waiting"),
            tooltip=[
                clock.tooltip(),
                alt.Tooltip("queue:Q", title="requests waiting", format=COUNT),
            ],
        ),
        *rules,
    ).properties(width=WIDTH, height=PANEL_HEIGHT, title="Requests waiting (end of step, max)")
    if spec.buffer is not None and np.ndim(spec.buffer) == 0:
        queue = queue + alt.Chart(
            pd.DataFrame({"buffer": [spec.buffer], "label": ["buffer (requests)"]})
        ).mark_rule(strokeDash=[4, 4], color="firebrick").encode(
            y="buffer:Q", tooltip=["label:N", alt.Tooltip("buffer:Q", format=COUNT)]
        )
    wait = alt.layer(
        alt.Chart(steps.dropna(subset=["wait_p99_s"]))
        .mark_line(interpolate="step-after", color="#1f77b4")
        .encode(
            x=x,
            y=alt.Y("wait_p99_s:Q", title="p99 wait (s)"),
            tooltip=[
                clock.tooltip(),
                alt.Tooltip("wait_p99_s:Q", title="p99 wait (s)", format=NUMBER),
            ],
        ),
        *rules,
    ).properties(
        width=WIDTH, height=PANEL_HEIGHT, title="99th percentile wait of started requests (s)"
    )
    if spec.timeout is not None:
        wait = wait + alt.Chart(
            pd.DataFrame({"timeout_s": [spec.timeout.mean], "label": ["client timeout (s)"]})
        ).mark_rule(strokeDash=[4, 4], color="firebrick").encode(
            y="timeout_s:Q", tooltip=["label:N", alt.Tooltip("timeout_s:Q", format=NUMBER)]
        )
    chart = alt.vconcat(top, queue, wait).resolve_scale(color="independent")
    return chart.properties(title=title) if title else chart


def simulation_comparison_chart(
    results: Mapping[str, SimulationResult],
    *,
    title: str | None = None,
    start_s: float | None = None,
    actual_start_s: float | None = None,
) -> alt.VConcatChart:
    """Scenarios side by side over time, one colour each: the offered first tries
    and all attempts per second, the requests answered in time per second, and
    the requests waiting.

    Made for a retry storm and its remedies: a scenario that stays down after
    the flood shows attempts far above first tries, few answers in time and a
    full line long after the first tries have fallen back.

    Parameters
    ----------
    results : mapping of str to SimulationResult
        Label -> result, in legend order.
    title : str, optional
        Chart title.
    start_s : float, optional
        Where the run's time 0 falls on the event's clock (seconds from the scheduled
        start): time is then drawn as minutes from the scheduled start, with the
        scheduled start (and the actual start, given ``actual_start_s`` in seconds from
        the scheduled start) marked where it falls inside the run. By default, minutes
        from the start of the run.
    actual_start_s : float, optional

    Returns
    -------
    altair.VConcatChart
    """
    if not results:
        raise ValueError("results is empty; give at least one labelled SimulationResult")
    frames = []
    for label, result in results.items():
        if not isinstance(result, SimulationResult):
            raise ValueError(
                f"results[{label!r}] must be a SimulationResult; got {type(result).__name__}"
            )
        s = _per_step(result, max(50, _MAX_ROWS // len(results)))
        s["attempts_per_s"] = s["first_tries_per_s"] + s["retries_per_s"]
        frames.append(s.assign(scenario=str(label)))
    data, clock, rules = _on_clock(pd.concat(frames, ignore_index=True), start_s, actual_start_s)
    order = [str(k) for k in results]
    x = clock.x()
    color = alt.Color("scenario:N", sort=order, title="scenario")
    base = alt.Chart(data).encode(x=x, color=color)

    def tooltip(column, name):
        return [
            alt.Tooltip("scenario:N"),
            clock.tooltip(),
            alt.Tooltip(f"{column}:Q", title=name, format=NUMBER),
        ]

    offered = (
        alt.Chart(data[data["scenario"] == order[0]])
        .mark_area(interpolate="step-after", color="#bbb", opacity=0.5)
        .encode(x=x, y="first_tries_per_s:Q")
    )
    attempts = alt.layer(
        offered,
        base.mark_line(interpolate="step-after").encode(
            y=alt.Y("attempts_per_s:Q", title="attempts per second"),
            tooltip=tooltip("attempts_per_s", "attempts per second (1/s)"),
        ),
        *rules,
    ).properties(
        width=WIDTH,
        height=PANEL_HEIGHT,
        title="Attempts (first tries + retries, 1/s); grey: first tries",
    )
    served = alt.layer(
        base.mark_line(interpolate="step-after").encode(
            y=alt.Y("served_per_s:Q", title="answered in time per second"),
            tooltip=tooltip("served_per_s", "answered in time (1/s)"),
        ),
        *rules,
    ).properties(width=WIDTH, height=PANEL_HEIGHT, title="Requests answered in time (1/s)")
    queue = alt.layer(
        base.mark_line(interpolate="step-after").encode(
            y=alt.Y("queue:Q", title="requests waiting"),
            tooltip=tooltip("queue", "requests waiting"),
        ),
        *rules,
    ).properties(width=WIDTH, height=PANEL_HEIGHT, title="Requests waiting (end of step, max)")
    chart = alt.vconcat(attempts, served, queue)
    return chart.properties(title=title) if title else chart
