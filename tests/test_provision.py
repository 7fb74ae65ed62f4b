"""Fleets, the pre-warm ladder, its exports, and a reactive autoscaler against it.

The expected numbers are worked out by hand in the comments (a ladder of a handful of
minutes, the lag of an autoscaler after a step), not read from the code's output.
"""

import json
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from helpers import docstring_examples

from capplan.planning import JoinForecast, JoinService, plan_event
from capplan.planning.autoscale import (
    AutoscalerPolicy,
    autoscaler_schedule,
    compare_reactive,
    simulate_autoscaler,
)
from capplan.planning.provision import Fleet, provision

START = "2026-05-01T21:00:00+02:00"  # 19:00 UTC
START_UTC = pd.Timestamp("2026-05-01T19:00:00Z")


def fake_plan(workers, interval_s=60, column="workers"):
    """A plan-like object: ``workers`` per interval from 0 s."""
    index = pd.Index(interval_s * np.arange(len(workers), dtype=float), name="start_s")
    frame = pd.DataFrame({column: np.asarray(workers, dtype=float)}, index=index)
    return SimpleNamespace(to_frame=frame.copy, interval_s=interval_s)


def fleet(**kw):
    args = dict(name="join", resource="workers", units_per_instance=4, lead_time_s=120)
    args.update(price_per_hour=0.6, max_added_per_min=3, min_hold_s=180)
    args.update(kw)
    return Fleet(**args)


def flood_plan(low=20.0, high=400.0, step_s=0):
    """A join flood: ``low`` first tries per second, then ``high`` from ``step_s``."""
    t = np.arange(-600, 600)
    rates = pd.Series(np.where(t >= step_s, high, low), index=t)
    fc = JoinForecast.from_rates(rates, factor=1.2, alpha_per_second=0.01)
    return plan_event(
        fc,
        ("exponential", {"mean_s": 600.0}),
        service=JoinService(0.05, scv=2.0),
        streams_per_server=5000,
        window=(-600, 600),
    )


# -- the ladder by hand --------------------------------------------------------------------

# Workers per minute from 19:00 UTC; 4 workers per instance -> instances needed
# [1, 1, 10, 10, 2, 2, 2, 2, 2, 2]. At most 3 added per minute: to have 10 ready at minute
# 2, 7 at minute 1, 4 at 0, 1 at -1 (backward). Lead 120 s = 2 minutes: the +1 for -1 is
# requested at -3, the +3s at -2, -1 and 0. Hold 180 s = 3 minutes: at minute 4 the
# instances ready by minute 1 (1 + 3 + 3) may go: 10 - 7 = 3 ready; at minute 5 those of
# minute 2 too: down to the need, 2.
HAND_WORKERS = [4, 4, 40, 40, 8, 8, 8, 8, 8, 8]
HAND_MINUTES = list(range(-3, 10))
HAND_READY = [0, 0, 1, 4, 7, 10, 10, 3, 2, 2, 2, 2, 2]
# Billed = ready + requested in this minute or the one before (still booting).
HAND_BILLED = [1, 4, 7, 10, 10, 10, 10, 3, 2, 2, 2, 2, 2]


def test_ladder_by_hand():
    ladder = provision(fake_plan(HAND_WORKERS), fleet(), scheduled_start=START)
    f = ladder.to_frame()
    assert f["start_s"].tolist() == [60.0 * m for m in HAND_MINUTES]
    assert f["ready"].tolist() == HAND_READY
    assert f["billed"].tolist() == HAND_BILLED
    assert f["requested_now"].tolist() == [1, 3, 3, 3] + [0] * 9
    assert f["released_now"].tolist() == [0] * 7 + [7, 1] + [0] * 4


def test_cost_is_instance_minutes_times_price():
    ladder = provision(fake_plan(HAND_WORKERS), fleet(), scheduled_start=START)
    s = ladder.summary().loc["join"]
    minutes = 1 + 4 + 7 + 10 + 10 + 10 + 10 + 3 + 2 * 5  # HAND_BILLED, summed by hand: 65
    assert s["instance_hours"] == pytest.approx(minutes / 60)
    assert s["cost"] == pytest.approx(minutes * 0.6 / 60)  # 0.65
    assert ladder.cost == pytest.approx(0.65)
    assert s["peak_instances"] == 10 and s["peak_needed"] == 10
    assert s["first_request_utc"] == pd.Timestamp("2026-05-01T18:57:00Z")
    assert s["currency"] == "USD"
    assert "0.65" in str(ladder) and "peak 10" in repr(ladder)


def test_ready_covers_need_and_limits_hold():
    """Invariants on the small flood plan: every minute's ready workers cover the plan's;
    at most max_added_per_min added a minute; a release only of instances ready min_hold_s
    before; each addition requested lead_time_s before."""
    plan = flood_plan()
    join = fleet(units_per_instance=3, lead_time_s=150, max_added_per_min=2, min_hold_s=240)
    streams = fleet(name="streams", resource="stream_servers", units_per_instance=1, lead_time_s=60)
    ladder = provision(plan, [join, streams], scheduled_start=START)
    f = ladder.to_frame()
    need = plan.to_frame()
    for flt, column in ((join, "workers"), (streams, "stream_servers")):
        g = f[f["fleet"] == flt.name].set_index("start_s")
        inside = g.loc[need.index]
        assert np.all(inside["ready"] * flt.units_per_instance >= need[column].to_numpy())
        ready = g["ready"].to_numpy()
        added = np.diff(ready, prepend=0) + g["released_now"].to_numpy()
        assert added.max() <= flt.max_added_per_min
        assert g["requested_now"].max() <= flt.max_added_per_min
        lead = int(np.ceil(flt.lead_time_s / 60))
        # Added at minute m = requested at minute m - lead.
        assert np.array_equal(added[lead:], g["requested_now"].to_numpy()[:-lead])
        # By any minute, no more released than were ready hold minutes before.
        hold = int(np.ceil(flt.min_hold_s / 60))
        ever_ready = np.cumsum(added)
        released = np.cumsum(g["released_now"].to_numpy())
        assert np.all(released[hold:] <= ever_ready[:-hold])
    assert f.index.tz is not None and str(f.index.tz) == "UTC"
    assert np.all(f.index == START_UTC + pd.to_timedelta(f["start_s"], unit="s"))


def test_no_scale_in_for_a_dip_within_the_lead_time():
    # Need 10, 2, 2, 10 instances, lead 2 minutes, no hold: a replacement for minute 3 would
    # be requested (and billed) from minute 1, so the 8 stay.
    ladder = provision(
        fake_plan([40, 8, 8, 40]),
        fleet(max_added_per_min=None, min_hold_s=0),
        scheduled_start=START,
    )
    g = ladder.to_frame()
    assert g.loc[g["start_s"] >= 0, "ready"].tolist() == [10, 10, 10, 10]
    assert g["requested_now"].sum() == 10
    # With a dip of 3 minutes they go: 2 ready at minute 1, 8 requested at minute 2.
    ladder = provision(
        fake_plan([40, 8, 8, 8, 40]),
        fleet(max_added_per_min=None, min_hold_s=0),
        scheduled_start=START,
    )
    g = ladder.to_frame().set_index("start_s")
    assert g.loc[0:, "ready"].tolist() == [10, 2, 2, 2, 10]
    assert g.loc[120.0, "requested_now"] == 8


@pytest.mark.parametrize(
    "interval_s, workers, expected",
    [
        (30, [4, 20, 8, 8], [5, 2]),  # a minute needs the most of its two intervals
        (120, [12, 28], [3, 3, 7, 7]),  # each interval covers two minutes
    ],
)
def test_need_per_minute_from_other_intervals(interval_s, workers, expected):
    f = fleet(max_added_per_min=None, lead_time_s=0)
    ladder = provision(fake_plan(workers, interval_s), f, scheduled_start=START)
    assert ladder.to_frame()["needed"].tolist() == expected


def test_min_instances_held_throughout():
    f = fleet(min_instances=3, max_added_per_min=None, min_hold_s=0)
    g = provision(fake_plan([4, 40, 4, 4, 4]), f, scheduled_start=START).to_frame()
    assert g["ready"].min() == 3 and g["ready"].iloc[-1] == 3


# -- exports -------------------------------------------------------------------------------

AWS_FIELDS = {
    "AutoScalingGroupName",
    "ScheduledActionName",
    "StartTime",
    "DesiredCapacity",
    "MinSize",
    "MaxSize",
}


def test_aws_scheduled_actions():
    ladder = provision(fake_plan(HAND_WORKERS), fleet(), scheduled_start=START)
    actions = ladder.aws_scheduled_actions({"join": "asg-join"})
    assert all(set(a) == AWS_FIELDS for a in actions)
    # One action per change of the billed count: 1, 4, 7, 10, 3, 2 at -3, -2, -1, 0, 4, 5
    # minutes from 19:00 UTC (the scheduled start was given at +02:00).
    assert [a["DesiredCapacity"] for a in actions] == [1, 4, 7, 10, 3, 2]
    times = ["18:57", "18:58", "18:59", "19:00", "19:04", "19:05"]
    assert [a["StartTime"] for a in actions] == [f"2026-05-01T{t}:00Z" for t in times]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a["StartTime"]) for a in actions)
    assert all(a["MinSize"] <= a["DesiredCapacity"] <= a["MaxSize"] for a in actions)
    assert all(a["AutoScalingGroupName"] == "asg-join" for a in actions)
    assert len({a["ScheduledActionName"] for a in actions}) == len(actions)
    json.dumps(actions)  # plain JSON types
    with pytest.raises(ValueError, match="'stream'"):
        ladder.aws_scheduled_actions({"stream": "asg-s"})


def test_csv_and_json_a_deploy_job_reads(tmp_path):
    ladder = provision(fake_plan(HAND_WORKERS), fleet(), scheduled_start=START)
    schedule = json.loads(ladder.to_json(tmp_path / "ladder.json").read_text())
    assert [set(r) for r in schedule] == [{"time_utc", "fleet", "desired_instances"}] * 6
    assert [r["desired_instances"] for r in schedule] == [1, 4, 7, 10, 3, 2]
    assert schedule[0]["time_utc"] == "2026-05-01T18:57:00Z"
    back = pd.read_csv(ladder.to_csv(tmp_path / "ladder.csv"), index_col="time_utc")
    assert back.index[0] == "2026-05-01T18:57:00Z" and len(back) == 13
    assert back["billed"].tolist() == HAND_BILLED


def test_chart_on_the_utc_clock():
    ladder = provision(flood_plan(), fleet(), scheduled_start=START)
    spec = ladder.chart().to_dict()
    text = json.dumps(spec)
    assert '"type": "utc"' in text and "2026-05-01T19:00:00+00:00" in text


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(lead_time_s=-5), r"lead_time_s.*-5"),
        (dict(resource="cpus"), r"resource.*'cpus'"),
        (dict(units_per_instance=0), r"units_per_instance.*0"),
        (dict(max_added_per_min=0), r"max_added_per_min.*0"),
        (dict(max_added_per_min=2.5), r"max_added_per_min.*2\.5"),
        (dict(min_hold_s=float("nan")), r"min_hold_s.*nan"),
        (dict(price_per_hour=-1), r"price_per_hour.*-1"),
        (dict(min_instances=True), r"min_instances.*True"),
        (dict(name=""), r"name"),
    ],
)
def test_bad_fleet_fields_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        fleet(**kw)


def test_bad_provision_input():
    plan = fake_plan(HAND_WORKERS)
    with pytest.raises(ValueError, match="no time zone"):
        provision(plan, fleet(), scheduled_start="2026-05-01 19:00")
    with pytest.raises(ValueError, match="no time zone"):
        provision(plan, fleet(), scheduled_start=pd.Timestamp("2026-05-01 19:00"))
    with pytest.raises(ValueError, match=r"two fleets for one resource 'workers'.*'a'.*'b'"):
        provision(plan, [fleet(name="a"), fleet(name="b")], scheduled_start=START)
    with pytest.raises(ValueError, match="no column 'stream_servers'"):
        provision(plan, fleet(resource="stream_servers"), scheduled_start=START)
    with pytest.raises(ValueError, match=r"target_utilization.*1\.5"):
        AutoscalerPolicy(target_utilization=1.5)
    with pytest.raises(ValueError, match=r"metric_period_s.*0"):
        AutoscalerPolicy(metric_period_s=0)
    with pytest.raises(ValueError, match=r"'stream_servers'.*resource='workers'"):
        compare_reactive(
            flood_plan(), fleet(resource="stream_servers"), scheduled_start=START, seed=1
        )


# -- the reactive autoscaler -------------------------------------------------------------


@pytest.mark.parametrize("step_s", [600, 601, 630, 659])
@pytest.mark.parametrize("delay", [0, 1])
def test_autoscaler_lags_a_step_by_lead_plus_metric_period(step_s, delay):
    """Load 1 Erlang, then 10 from ``step_s``; target 0.5 on 1-worker instances: 2 are
    steady. The datapoint of the period holding the step [600, 660) is read at 660 + 60 *
    delay; the new instances are ready lead (150 s) later. So the first is ready between
    lead + P and lead + 2P after the step when read a period late, between lead and lead + P
    when read at once."""
    period, lead = 60, 150
    load = np.where(np.arange(1800) >= step_s, 10.0, 1.0)
    f = fleet(units_per_instance=1, lead_time_s=lead, max_added_per_min=None, min_hold_s=0)
    policy = AutoscalerPolicy(target_utilization=0.5, metric_delay_periods=delay)
    sched, _ = autoscaler_schedule(load, fleet=f, policy=policy, initial=2)
    assert np.all(sched["ready"][:step_s] == 2)
    lag = int(np.flatnonzero(sched["ready"] > 2)[0]) - step_s
    assert lead + delay * period <= lag <= lead + (delay + 1) * period
    assert lag == 660 + 60 * delay + lead - step_s
    assert sched["ready"].max() == 20  # ceil(10 / 0.5)


def test_autoscaler_respects_rate_limit_and_hold():
    # A jump to 20 instances at most 3 a minute; then, once the load drops, no instance is
    # released within 600 s of being ready.
    load = np.concatenate([np.full(300, 1.0), np.full(900, 10.0), np.full(1800, 1.0)])
    f = fleet(units_per_instance=1, lead_time_s=60, max_added_per_min=3, min_hold_s=600)
    policy = AutoscalerPolicy(target_utilization=0.5, metric_period_s=30, scale_out_cooldown_s=0)
    sched, decisions = autoscaler_schedule(load, fleet=f, policy=policy, initial=2)
    d = pd.DataFrame(decisions).set_index("time_s")
    in_60_s = d["added"].rolling(2, min_periods=1).sum()  # evaluations 30 s apart
    assert in_60_s.max() == 3
    ready = sched["ready"]
    assert ready.max() == 20
    up = np.diff(ready, prepend=2)
    became = np.repeat(np.arange(ready.size), np.maximum(up, 0))  # second each got ready
    gone = np.repeat(np.arange(ready.size), np.maximum(-up, 0))
    # The k-th release (oldest first) is at least 600 s after the k-th became ready,
    # counting the 2 initial ones as ready long before.
    assert gone.size > 0
    assert np.all(gone[2:] >= became[: gone.size - 2] + 600)


def test_simulate_autoscaler_on_a_plan():
    plan = flood_plan(step_s=30)
    f = fleet(units_per_instance=2, lead_time_s=150, max_added_per_min=None)
    run = simulate_autoscaler(plan, f, AutoscalerPolicy(target_utilization=0.6), seed=1)
    frame = run.to_frame()
    w0 = frame["workers"].iloc[0]
    assert w0 == 2 * np.ceil(plan.to_frame()["workers"].iloc[0] / 2)  # the plan's first need
    first = frame.index[(frame["workers"] > frame["workers"].loc[:29].max())][0]
    assert 150 + 60 <= first - 30 <= 150 + 120
    assert run.summary()["instance_hours"].iloc[0] == pytest.approx(frame["billed"].sum() / 3600)
    assert "reactive autoscaler" in str(run) and "minutes in breach" in repr(run)
    assert "minutes from the scheduled start" in json.dumps(run.chart().to_dict())


def test_ladder_meets_the_slo_on_a_flood_the_reactive_autoscaler_misses():
    """20 first tries per second, then 400 (20 Erlangs of work) from the start. The ladder has
    the plan's workers ready; the autoscaler holds 2 instances (4 workers) until the first
    datapoint with the flood is read (at 120 s) and its instances are ready (270 s): the
    minutes 0..3 s are at 5 times the workers' capacity, in breach."""
    plan = flood_plan()
    f = fleet(units_per_instance=2, lead_time_s=150, max_added_per_min=None, price_per_hour=1.0)
    result = compare_reactive(
        plan, f, AutoscalerPolicy(target_utilization=0.6), scheduled_start=START, seed=3
    )
    s = result.summary()
    ladder, reactive = s.loc["pre-warm ladder"], s.loc["reactive autoscaler"]
    assert ladder["minutes_in_breach"] == 0 and ladder["minutes_below_plan"] == 0
    assert ladder["wait_slo_met_share"] >= plan.slo.fraction
    assert ladder["refused_share"] <= plan.slo.max_refused
    assert reactive["minutes_in_breach"] >= 4
    assert reactive["wait_slo_met_share"] < plan.slo.fraction
    # The same arrivals met both schedules.
    first_tries = result.reactive.intervals["first_tries"]
    assert np.array_equal(result.ladder_intervals["first_tries"], first_tries)
    spec = json.dumps(result.chart().to_dict())
    assert "pre-warm ladder" in spec and '"type": "utc"' in spec


def test_schedule_leaves_a_fleet_alone_until_its_first_request():
    # Streams: lead 0, requested first at 19:00; join: lead 2 minutes, at 18:58. The stream
    # fleet's schedule starts at 19:00, not at the join fleet's 18:58 (where it holds 0).
    frame = pd.DataFrame(
        {"workers": [4.0, 40.0], "stream_servers": [3.0, 3.0]},
        index=pd.Index([0.0, 60.0], name="start_s"),
    )
    plan = SimpleNamespace(to_frame=frame.copy, interval_s=60)
    streams = fleet(name="s", resource="stream_servers", units_per_instance=1, lead_time_s=0)
    ladder = provision(plan, [fleet(max_added_per_min=None), streams], scheduled_start=START)
    by_fleet = {}
    for r in ladder.schedule():
        by_fleet.setdefault(r["fleet"], []).append((r["time_utc"][11:16], r["desired_instances"]))
    assert by_fleet == {"join": [("18:58", 1), ("18:59", 10)], "s": [("19:00", 3)]}


@pytest.mark.parametrize("function", [Fleet, provision, AutoscalerPolicy, simulate_autoscaler])
def test_docstring_examples(function):
    failed, attempted = docstring_examples(function)
    assert attempted > 0 and failed == 0


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("lead_time_s", 1e300, "lead_time_s .* <= 2.592e\\+06"),
        ("units_per_instance", 1e-300, "units_per_instance .* >= 0.001"),
        ("min_hold_s", 10**400, "min_hold_s"),
        ("price_per_hour", float("inf"), "price_per_hour"),
    ],
)
def test_fleet_numbers_beyond_any_fleet_are_refused_by_name(field, value, match):
    fields = dict(
        name="join", resource="workers", units_per_instance=20, lead_time_s=300, price_per_hour=1
    )
    with pytest.raises(ValueError, match=match):
        Fleet(**{**fields, field: value})
