"""Charts of plans and what tests them (:mod:`capplan.planning`): the plan and its
validation, the capacity already there, the pre-warm ladder and the reactive autoscaler,
the least-regret level, the waiting room and the tipping phase."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from capplan.charts.theme import (
    COUNT,
    FIT_COLOR,
    NUMBER,
    SCHEDULED,
    SHARE,
    SLO_COLOR,
    WIDTH,
    Clock,
    heading,
    utc_start,
)
from capplan.planning.assess import _UNITS, CapacityAssessment
from capplan.planning.provision import STEP_S, ProvisioningLadder
from capplan.planning.regret import LeastRegret
from capplan.planning.tipping import DRAINS, STAYS_DOWN
from capplan.planning.waiting_room import ROOM_LABELS, WaitingRoomResult

__all__ = [
    "assessment_chart",
    "ladder_chart",
    "phase_chart",
    "plan_chart",
    "plan_validation_chart",
    "reactive_chart",
    "regret_chart",
    "waiting_room_chart",
]


# --- the plan -------------------------------------------------------------------------------
# Time in minutes from the scheduled start (UTC wall time given the scheduled start's
# timestamp), the starts as red rules, the SLO's limit as a red rule.

_WORKERS = {  # plan.frame's columns as the legend names them, in its order
    "workers_needed": "needed for the SLO",
    "workers": "planned (+ zone loss, spares)",
}
_STREAM_SERVERS = {
    "stream_servers_needed": "needed for the upper concurrency",
    "stream_servers": "planned (+ zone loss, spares)",
}


def _plan_clock(scheduled_start) -> Clock:
    return Clock(SCHEDULED, utc_start(scheduled_start))


def plan_validation_chart(
    validation, *, scheduled_start=None, actual_start_s: float | None = None
) -> alt.LayerChart:
    """Simulated share of joins missing the waiting target, per interval and scenario,
    against the SLO's limit (a :class:`~capplan.planning.PlanValidation`); replays of
    observed seconds dashed beside the model's scenarios.

    Parameters
    ----------
    validation : PlanValidation
    scheduled_start : timestamp, optional
        The scheduled start's wall time (UTC): time is drawn on the UTC clock instead of
        minutes from the scheduled start.
    actual_start_s : float, optional
        The actual start, seconds from the scheduled start (a late start), marked by a
        solid rule beside the scheduled start's dashed one.
    """
    clock = _plan_clock(scheduled_start)
    columns = ["scenario", "source", "start_s", "miss_share", "refused_share"]
    f = clock.put(validation.frame[columns].copy())
    line = (
        alt.Chart(f)
        .mark_line(point=True)
        .encode(
            x=clock.x(),
            y=alt.Y(
                "miss_share:Q",
                title="share of joins missing the wait target",
                axis=alt.Axis(format="%"),
            ),
            color=alt.Color("scenario:N", title="scenario"),
            strokeDash=alt.StrokeDash("source:N", sort=["model", "replay"], title="source"),
            tooltip=[
                alt.Tooltip("scenario:N"),
                alt.Tooltip("source:N"),
                clock.tooltip(),
                alt.Tooltip("miss_share:Q", title="share over the wait target", format=SHARE),
                alt.Tooltip("refused_share:Q", title="share refused", format=SHARE),
            ],
        )
    )
    target = (
        alt.Chart(pd.DataFrame({"y": [validation.slo.miss_limit], "label": ["SLO limit"]}))
        .mark_rule(color=SLO_COLOR)
        .encode(
            y="y:Q",
            tooltip=[
                alt.Tooltip("label:N", title="rule"),
                alt.Tooltip("y:Q", title="share over the wait target", format=SHARE),
            ],
        )
    )
    return alt.layer(line, *clock.rules(actual_s=actual_start_s), target).properties(
        title=heading("Simulated service level vs target", validation.slo.describe()),
        width=WIDTH,
        height=180,
    )


def plan_chart(
    plan, validation=None, *, scheduled_start=None, actual_start_s: float | None = None
) -> alt.VConcatChart:
    """Workers and stream servers per interval, the margins at the busiest interval, and
    (given a validation) the simulated service level (an :class:`~capplan.planning.EventPlan`).

    Each panel's legend names only what it draws; the margins' bars carry their values.

    Parameters
    ----------
    plan : EventPlan
    validation : PlanValidation, optional
    scheduled_start : timestamp, optional
        The scheduled start's wall time (UTC): time is drawn on the UTC clock instead of
        minutes from the scheduled start.
    actual_start_s : float, optional
        The actual start, seconds from the scheduled start, marked beside the scheduled one.
    """
    clock = _plan_clock(scheduled_start)
    f = clock.put(plan.frame.reset_index())
    rules = clock.rules(actual_s=actual_start_s)

    def steps(names, unit, title, height):
        long = f.melt(
            id_vars=["start_s", clock.field],
            value_vars=list(names),
            var_name="series",
            value_name="count",
        )
        long["series"] = long["series"].map(names)
        lines = (
            alt.Chart(long)
            .mark_line(interpolate="step-after")
            .encode(
                x=clock.x(),
                y=alt.Y("count:Q", title=unit),
                color=alt.Color(
                    "series:N", title=None, scale=alt.Scale(domain=list(names.values()))
                ),
                tooltip=[
                    clock.tooltip(),
                    alt.Tooltip("series:N", title=unit),
                    alt.Tooltip("count:Q", title=unit, format=COUNT),
                ],
            )
        )
        return alt.layer(lines, *rules).properties(width=WIDTH, height=height, title=title)

    m = plan.margins_table.copy()
    m["label"] = m["margin"] + " (" + m["applies_to"] + ")"
    unit = "workers or stream servers"
    base = alt.Chart(m).encode(
        y=alt.Y("label:N", sort=None, title=None),
        x=alt.X(
            "added_at_peak:Q",
            title=f"added at the busiest interval ({unit})",
            axis=alt.Axis(tickMinStep=1),
        ),
        tooltip=[
            alt.Tooltip("margin:N"),
            alt.Tooltip("applies_to:N", title="applies to"),
            alt.Tooltip("factor:Q", title="factor (x)", format=".3f"),
            alt.Tooltip("count:Q", title="count (requests/s, or spare workers / servers)"),
            alt.Tooltip("added_at_peak:Q", title=f"added ({unit})", format=COUNT),
            alt.Tooltip("covers:N"),
        ],
    )
    bars = alt.layer(
        base.mark_bar(color=FIT_COLOR),
        base.mark_text(align="left", baseline="middle", dx=3).encode(
            text=alt.Text("added_at_peak:Q", format=COUNT)
        ),
    )
    parts = [
        steps(_WORKERS, "join-path workers", "Join-path workers", 180),
        steps(_STREAM_SERVERS, "stream servers", "Stream servers", 150),
        bars.properties(width=WIDTH, height=160, title="Margins"),
    ]
    if validation is not None:
        parts.append(
            plan_validation_chart(
                validation, scheduled_start=scheduled_start, actual_start_s=actual_start_s
            )
        )
    marked = "dashed red: the scheduled start"
    if actual_start_s is not None:
        marked += ", solid red: the actual start"
    subtitle = [plan.slo.describe(), f"time: {clock.title}; {marked}"]
    return (
        alt.vconcat(*parts)
        .resolve_scale(color="independent", strokeDash="independent")
        .properties(title=heading(f"Event plan ({plan.method})", subtitle))
    )


# --- the capacity already there ------------------------------------------------------


def assessment_chart(result: CapacityAssessment, *, scheduled_start=None):
    """Per resource: each scenario's demand per interval against the capacity (a black
    step line), the intervals where the upper scenario breaches shaded red; time in
    minutes from the scheduled start (UTC wall time given ``scheduled_start``)."""
    clock = _plan_clock(scheduled_start)
    f = clock.put(result.frame)
    x = clock.x()
    end = f"{clock.field}_end"
    panels = []
    for resource, g in f.groupby("resource", sort=False):
        unit = _UNITS[resource]
        cap = g[g["scenario"] == "point"][["start_s", clock.field, "capacity"]]
        top = g[(g["scenario"] == "upper") & g["breach"]][["start_s", clock.field]].copy()
        top[end] = clock.times(top["start_s"].to_numpy() + result.interval_s)
        layers = []
        if len(top):  # an empty layer gives the browser an infinite extent to warn about
            shade = alt.Chart(top).mark_rect(color="#e45756", opacity=0.2)
            layers.append(shade.encode(x=x, x2=end))
        lines = (
            alt.Chart(g[["scenario", "start_s", clock.field, "demand"]])
            .mark_line(interpolate="step-after")
            .encode(
                x=x,
                y=alt.Y("demand:Q", title=f"{resource} ({unit})"),
                color=alt.Color("scenario:N", title="scenario"),
                tooltip=[
                    alt.Tooltip("scenario:N"),
                    clock.tooltip(),
                    alt.Tooltip("demand:Q", title=f"demand ({unit})", format=NUMBER),
                ],
            )
        )
        capacity = (
            alt.Chart(cap)
            .mark_line(interpolate="step-after", color="black", strokeDash=[6, 3])
            .encode(
                x=x,
                y="capacity:Q",
                tooltip=[
                    clock.tooltip(),
                    alt.Tooltip("capacity:Q", title=f"capacity ({unit})", format=NUMBER),
                ],
            )
        )
        r = result.resources.loc[resource]
        panels.append(
            alt.layer(*layers, lines, capacity, *clock.rules()).properties(
                width=WIDTH,
                height=180,
                title=f"{resource}: P(breach) {r['p_breach']:.3g}",
            )
        )
    return alt.vconcat(*panels).properties(
        title=heading(
            "Demand against the capacity already there",
            "dashed: capacity; shaded: the upper scenario in breach; red: the scheduled start",
        )
    )


# --- the pre-warm ladder and the reactive autoscaler ---------------------------------

_COUNTS = ["billed", "ready", "needed"]  # drawn in this order


def ladder_chart(ladder: ProvisioningLadder):
    """Instances needed and ready per minute, as steps on the wall clock (UTC), one panel per
    fleet, a rule at the scheduled start (an altair VConcatChart)."""

    f = ladder.frame.reset_index()
    clock = _plan_clock(ladder.scheduled_start)  # draws on the frame's time_utc
    x = clock.x()
    panels = []
    for fleet in ladder.fleets:
        g = f[f["fleet"] == fleet.name][["time_utc", *_COUNTS]]
        end = g.iloc[[-1]].assign(time_utc=g["time_utc"].iloc[-1] + pd.Timedelta(seconds=STEP_S))
        g = pd.concat([g, end], ignore_index=True)  # the last minute's step, drawn to its end
        long = g.melt("time_utc", var_name="count", value_name="instances")
        color = alt.Color(
            "count:N",
            scale=alt.Scale(domain=_COUNTS, range=["#bbbbbb", FIT_COLOR, "#000000"]),
            title=None,
        )
        tooltip = [
            clock.tooltip(),
            alt.Tooltip("count:N", title="instances"),
            alt.Tooltip("instances:Q", title="instances", format=COUNT),
        ]
        lines = [  # one layer per count, drawn in this order
            alt.Chart(long[long["count"] == count])
            .mark_line(interpolate="step-after", strokeWidth=width, strokeDash=dash)
            .encode(x=x, y=alt.Y("instances:Q", title="instances"), color=color, tooltip=tooltip)
            for count, width, dash in zip(
                _COUNTS, [1, 2.5, 1.5], [[1, 0], [1, 0], [4, 3]], strict=True
            )
        ]
        subtitle = (
            f"{fleet.resource}: {fleet.units_per_instance:g} per instance, ready "
            f"{fleet.lead_time_s:g} s after the request"
        )
        panels.append(
            alt.layer(*lines, *clock.rules()).properties(
                width=WIDTH, height=180, title=heading(fleet.name, subtitle)
            )
        )
    total = ", ".join(f"{r['cost']:,.2f} {r['currency']}" for _, r in ladder.summary().iterrows())
    return alt.vconcat(*panels).properties(
        title=heading("Pre-warm ladder: instances needed and ready (UTC)", f"cost {total}")
    )


def reactive_chart(runs: dict, slo, scheduled_start=None):
    """Per schedule, the fewest workers in each interval beside the plan's, and the share of
    joins over the waiting target against the SLO's limit (an altair VConcatChart). On the
    wall clock (UTC) given ``scheduled_start``, else in minutes from the scheduled start;
    the scheduled start marked."""

    parts = []
    for name, g in runs.items():
        f = g[["workers_min", "miss_share", "refused_share"]].rename(
            columns={"workers_min": "workers"}
        )
        parts.append(f.assign(schedule=name).reset_index())
    data = pd.concat(parts, ignore_index=True)
    first = next(iter(runs.values()))
    need = first[["plan_workers"]].rename(columns={"plan_workers": "workers"}).reset_index()
    need["schedule"] = "plan's need"
    clock = _plan_clock(scheduled_start)
    data, need = clock.put(data), clock.put(need)
    x = clock.x()
    rules = clock.rules()
    color = alt.Color("schedule:N", title=None)
    tooltip = [
        alt.Tooltip("schedule:N"),
        clock.tooltip(),
        alt.Tooltip("workers:Q", title="workers", format=COUNT),
    ]
    workers = alt.layer(
        alt.Chart(data)
        .mark_line(interpolate="step-after")
        .encode(
            x=x,
            y=alt.Y("workers:Q", title="join-path workers"),
            color=color,
            tooltip=tooltip,
        ),
        alt.Chart(need)
        .mark_line(interpolate="step-after", color="#000000", strokeDash=[4, 3])
        .encode(x=x, y="workers:Q", tooltip=tooltip),
        *rules,
    ).properties(
        width=WIDTH,
        height=200,
        title=heading("Workers", "the fewest in each interval; dashed: the plan's need"),
    )
    limit = pd.DataFrame({"y": [slo.miss_limit], "label": ["SLO limit"]})
    miss = alt.layer(
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("miss_share:Q", title="share of joins over the wait target"),
            color=color,
            tooltip=[
                alt.Tooltip("schedule:N"),
                clock.tooltip(),
                alt.Tooltip("miss_share:Q", title="share over the wait target", format=SHARE),
                alt.Tooltip("refused_share:Q", title="share refused", format=SHARE),
            ],
        ),
        alt.Chart(limit)
        .mark_rule(color=SLO_COLOR)
        .encode(
            y="y:Q",
            tooltip=[
                alt.Tooltip("label:N", title="rule"),
                alt.Tooltip("y:Q", title="share over the wait target", format=SHARE),
            ],
        ),
        *rules,
    ).properties(width=WIDTH, height=180, title=heading("Joins over the waiting target"))
    return alt.vconcat(workers, miss).properties(
        title=heading("Pre-warm ladder and reactive autoscaler", slo.describe())
    )


# --- the level to plan for ----------------------------------------------------------


def regret_chart(result: LeastRegret):
    """Expected cost against the forecast level planned for (altair Chart)."""

    f = result.frame.reset_index()
    names = {
        "capacity_cost": "capacity",
        "expected_breach_cost": "expected breaches",
        "expected_total_cost": "expected total",
    }
    long = f.melt(id_vars="level", value_vars=list(names), var_name="cost", value_name="money")
    long["cost"] = long["cost"].map(names)
    cur = result.costs.currency
    lines = (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("level:Q", title="forecast level planned for", scale=alt.Scale(zero=False)),
            y=alt.Y("money:Q", title=f"cost ({cur})"),
            color=alt.Color("cost:N", title=None, sort=list(names.values())),
            tooltip=[
                alt.Tooltip("level:Q", title="forecast level", format=".1%"),
                alt.Tooltip("cost:N"),
                alt.Tooltip("money:Q", title=f"cost ({cur})", format=",.0f"),
            ],
        )
    )
    rule = (
        alt.Chart(pd.DataFrame({"level": [result.level]}))
        .mark_rule(strokeDash=[4, 3], color="black")
        .encode(x="level:Q")
    )
    label = (
        alt.Chart(
            pd.DataFrame({"level": [result.level], "text": [f"least regret {result.level:.1%}"]})
        )
        .mark_text(align="left", dx=4, dy=-6, baseline="top")
        .encode(x="level:Q", y=alt.value(0), text="text:N")
    )
    return (lines + rule + label).properties(
        title="Which level to plan for: expected cost", width=480, height=260
    )


# --- protecting the event: the waiting room and the tipping phase ----------------------


def waiting_room_chart(
    result: WaitingRoomResult, scenario: str | None = None, *, scheduled_start=None
):
    """Listeners (or requests) waiting and the admitted's p99 wait per interval, with and
    without the room, for one scenario (default the first; an altair VConcatChart).

    Parameters
    ----------
    result : WaitingRoomResult
    scenario : str, optional
        One of ``result.frame["scenario"]``.
    scheduled_start : timestamp, optional
        The scheduled start's wall time: time on the UTC clock instead of minutes from
        the scheduled start.
    """

    if not isinstance(result, WaitingRoomResult):
        raise TypeError(f"result must be a WaitingRoomResult; got {type(result).__name__}")
    have = list(dict.fromkeys(result.frame["scenario"]))
    scenario = have[0] if scenario is None else scenario
    if scenario not in have:
        raise ValueError(f"scenario {scenario!r} is not in the result; it has {have}")
    clock = _plan_clock(scheduled_start)
    f = clock.put(result.frame[result.frame["scenario"] == scenario])
    color = alt.Color("room:N", sort=list(ROOM_LABELS), title="waiting room")

    def panel(column, title, height, fmt):
        return alt.layer(
            alt.Chart(f)
            .mark_line(point=True)
            .encode(
                x=clock.x(),
                y=alt.Y(f"{column}:Q", title=title),
                color=color,
                tooltip=[
                    alt.Tooltip("room:N", title="waiting room"),
                    clock.tooltip(),
                    alt.Tooltip(f"{column}:Q", title=title, format=fmt),
                ],
            ),
            *clock.rules(),
        ).properties(width=WIDTH, height=height)

    line = panel("line_mean", "waiting (listeners or requests, time average)", 180, COUNT)
    wait = panel("wait_p99_s", "p99 wait of the admitted (s)", 150, NUMBER)
    gave = panel("gave_up_share", "share who gave up", 120, SHARE)
    return alt.vconcat(line, wait, gave).properties(
        title=heading(
            f"The flood with and without a waiting room ({scenario})",
            f"{result.settings['rule']}; patience {result.settings['patience']}",
        )
    )


def phase_chart(frame: pd.DataFrame, *, title: str | None = None):
    """A heatmap of :func:`tipping_phase`'s (or :func:`plan_tipping`'s) table: trigger
    size by duration, coloured by recovers / stays down, the recovery seconds written in
    each cell; one column of panels per remedy and, for :func:`plan_tipping`, one row
    per operating point. Returns an altair Chart (not displayed)."""

    needed = {"remedy", "size", "duration_s", "stays_down", "recovered", "recovery_s"}
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise ValueError(f"phase_chart needs a table from tipping_phase; missing columns {missing}")
    data = frame.copy()
    draining = data["draining"] if "draining" in data else 0
    data["status"] = np.where(
        data["stays_down"] == 0,
        np.where(draining > 0, DRAINS, "recovers"),
        np.where(data["recovered"] == 0, STAYS_DOWN, "mixed"),
    )
    labels = {
        "recovers": "{t:.0f} s",
        DRAINS: "~{t:.0f} s",
        STAYS_DOWN: "down",
        "mixed": "{d} down",
    }
    data["label"] = [
        labels[s].format(t=t, d=d)
        for s, t, d in zip(data["status"], data["recovery_s"], data["stays_down"], strict=True)
    ]
    kind = frame.attrs.get("kind", data["kind"].iloc[0] if "kind" in data else "attack")
    by_share = "share" in data and "at" in data
    if by_share:
        size_field = "share:O"
        size_title = "attack (share of capacity)" if kind == "attack" else "servers lost (share)"
    else:
        size_field = "size:O"
        size_title = "attack (requests/s)" if kind == "attack" else "servers lost (share)"
    base = alt.Chart().encode(
        x=alt.X("duration_s:O", title="trigger duration (s)"),
        y=alt.Y(size_field, title=size_title, sort="descending"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "status:N",
            title="after the trigger",
            scale=alt.Scale(
                domain=["recovers", DRAINS, "mixed", STAYS_DOWN],
                range=["#4c9a5b", "#c9a227", "#e07b30", "#c0392b"],
            ),
        ),
        tooltip=[
            alt.Tooltip("remedy:N"),
            alt.Tooltip(
                "size:Q",
                title="attack (requests/s)" if kind == "attack" else "servers lost (share)",
                format=NUMBER,
            ),
            alt.Tooltip("duration_s:Q", title="trigger duration (s)"),
            alt.Tooltip("outcome:N", title="after the trigger"),
            alt.Tooltip("recovery_s:Q", title="recovery (s)", format=",.0f"),
        ],
    )
    text = base.mark_text(color="white").encode(text="label:N")
    if title is None:
        fresh = frame.attrs.get("fresh_rate")
        title = "Recovers or stays down after a trigger"
        if fresh is not None:
            title += f" (fresh {fresh:g} first tries/s)"
    layered = alt.layer(cells, text, data=data)
    facets = {}
    if data["remedy"].nunique() > 1:
        facets["column"] = alt.Column(
            "remedy:N", title="remedy", sort=list(dict.fromkeys(data["remedy"]))
        )
    if by_share and data["at"].nunique() > 1:
        data["point"] = [
            f"{a}: {n:,} workers, {r:,.0f}/s"
            for a, n, r in zip(data["at"], data["servers"], data["fresh_rate"], strict=True)
        ]
        layered = alt.layer(cells, text, data=data)
        facets["row"] = alt.Row("point:N", title=None, sort=list(dict.fromkeys(data["point"])))
    if facets:
        return layered.facet(**facets).properties(title=title)
    return layered.properties(title=title)
