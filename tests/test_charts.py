"""Charts read as a planner reads them, checked on their specs (``chart.to_dict()``).

Time on the event's clock (minutes from the start, or UTC wall time when the chart knows
the scheduled start) with the starts marked by rules; legends that list only what a panel
draws; values on the bars; tooltips with units.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import capplan
from capplan import charts
from capplan.planning import JoinForecast, JoinService, plan_event

START = pd.Timestamp("2026-05-01 19:00", tz="UTC")


@pytest.fixture(scope="module")
def plan():
    t = np.arange(-600, 600)
    rates = pd.Series(np.where(t >= 0, 400.0, 20.0), index=t)
    fc = JoinForecast.from_rates(rates, factor=1.2, alpha_per_second=0.01)
    return plan_event(
        fc,
        ("exponential", {"mean_s": 600.0}),
        service=JoinService(0.05, scv=2.0),
        streams_per_server=5000,
        window=(-600, 600),
    )


@pytest.fixture(scope="module")
def validation(plan):
    return plan.validate(seed=1, scenarios=["point"], replications=2)


def _walk(node):
    """Every dict in a spec, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def x_titles(spec) -> set[str]:
    return {
        d["x"]["title"]
        for d in _walk(spec)
        if isinstance(d.get("x"), dict) and isinstance(d["x"].get("title"), str)
    }


def rules(spec) -> dict[str, dict]:
    """The start rules' labels -> their datasets' first row."""
    out = {}
    for d in _walk(spec):
        mark = d.get("mark")
        if (
            mark == "rule" or (isinstance(mark, dict) and mark.get("type") == "rule")
        ) and "data" in d:
            rows = spec["datasets"][d["data"]["name"]]
            if rows and "label" in rows[0] and "start" in str(rows[0]["label"]):
                out[rows[0]["label"]] = rows[0]
    return out


def tooltips(spec) -> list[dict]:
    return [t for d in _walk(spec) if isinstance(d.get("tooltip"), list) for t in d["tooltip"]]


def test_the_plan_chart_is_on_minutes_from_the_scheduled_start(plan, validation):
    spec = plan.chart(validation).to_dict()
    assert x_titles(spec) >= {"minutes from the scheduled start (min)"}
    assert not any("seconds" in t for t in x_titles(spec))
    marks = rules(spec)
    assert set(marks) == {"scheduled start"} and marks["scheduled start"]["minutes"] == 0
    # the data carry minutes beside the seconds they came from
    workers = spec["vconcat"][0]["layer"][0]
    rows = pd.DataFrame(spec["datasets"][workers["data"]["name"]])
    assert np.allclose(rows["minutes"], rows["start_s"] / 60)


def test_the_plan_chart_on_the_utc_clock_marks_both_starts(plan, validation):
    spec = charts.plan_chart(plan, validation, scheduled_start=START, actual_start_s=120).to_dict()
    assert "wall clock (UTC)" in x_titles(spec)
    assert not any("minutes" in t or "seconds" in t for t in x_titles(spec) - {""})
    marks = rules(spec)
    assert set(marks) == {"scheduled start", "actual start"}
    assert pd.Timestamp(marks["scheduled start"]["time_utc"]) == START
    assert pd.Timestamp(marks["actual start"]["time_utc"]) == START + pd.Timedelta(minutes=2)
    with pytest.raises(ValueError, match="scheduled_start must carry a timezone"):
        charts.plan_chart(plan, scheduled_start="2026-05-01 19:00")


def _legend_domain(panel) -> list:
    (color,) = [
        d["encoding"]["color"]
        for d in _walk(panel)
        if isinstance(d.get("encoding"), dict) and "scale" in d["encoding"].get("color", {})
    ]
    return color["scale"]["domain"]


def test_each_panel_of_the_plan_lists_only_what_it_draws(plan):
    spec = plan.chart().to_dict()
    assert spec["resolve"]["scale"]["color"] == "independent"
    workers, streams = spec["vconcat"][0], spec["vconcat"][1]
    assert workers["title"] == "Join-path workers" and streams["title"] == "Stream servers"
    assert not any("stream" in str(name) for name in _legend_domain(workers))
    assert len(_legend_domain(workers)) == 2
    assert not any("worker" in str(name) for name in _legend_domain(streams))
    # each legend entry is a line of the panel's data
    rows = pd.DataFrame(spec["datasets"][workers["layer"][0]["data"]["name"]])
    assert set(rows["series"]) == set(_legend_domain(workers))


def test_the_margins_bars_carry_their_values(plan):
    spec = plan.chart().to_dict()
    margins = spec["vconcat"][2]
    assert margins["title"] == "Margins"
    kinds = [
        layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
        for layer in margins["layer"]
    ]
    assert kinds == ["bar", "text"]
    text = margins["layer"][1]["encoding"]["text"]
    assert text["field"] == "added_at_peak"
    bar_data = spec["datasets"][margins["data"]["name"]]
    assert len(bar_data) == len(plan.margins_table)


def test_tooltips_name_their_units(plan, validation):
    spec = plan.chart(validation).to_dict()
    tips = tooltips(spec)
    assert tips
    titled = {t.get("title") for t in tips if isinstance(t, dict)}
    assert "minutes from the scheduled start (min)" in titled
    assert "join-path workers" in titled and "stream servers" in titled
    assert "share over the wait target" in titled
    # a tooltip of a number says what it counts: every quantitative one has a title
    for t in tips:
        assert isinstance(t, dict), t
        if t.get("type") == "quantitative":
            assert t.get("title"), t


def test_the_other_planning_charts_are_on_the_event_clock(plan):
    from capplan.planning import AutoscalerPolicy, Fleet, assess, simulate_autoscaler

    fleet = Fleet(
        name="join", resource="workers", units_per_instance=4, lead_time_s=120, price_per_hour=0.6
    )
    for chart in (
        assess(plan).chart(),
        simulate_autoscaler(plan, fleet, AutoscalerPolicy(), seed=1).chart(),
    ):
        spec = chart.to_dict()
        assert x_titles(spec) == {"minutes from the scheduled start (min)"}
        assert "scheduled start" in rules(spec)
    spec = charts.assessment_chart(assess(plan), scheduled_start=START).to_dict()
    assert x_titles(spec) == {"wall clock (UTC)"}


@pytest.mark.slow  # fits a join curve and sessions
@pytest.mark.filterwarnings("ignore::capplan.warnings.CovarianceWarning")
def test_history_and_models_on_minutes_from_the_actual_start():
    history = capplan.sample_history()
    late = history.summary()["delay_s"].idxmax()
    spec = history.chart("joins", [late]).to_dict()
    assert x_titles(spec) == {"minutes from the actual start (min)"}
    marks = rules(spec)
    delay_min = history.summary().at[late, "delay_s"] / 60
    assert marks["actual start"]["minutes"] == 0
    assert marks["scheduled start"]["minutes"] == pytest.approx(-delay_min)
    assert set(rules(history.chart("joins").to_dict())) == {"actual start"}  # many events

    event = history.event(late)
    fit = capplan.fit_join_curve(event["joins"].loc[-600:1800])
    listeners = capplan.concurrency(fit, ("exponential", {"mean_s": 600.0}))
    for chart in (fit.chart(), listeners.chart()):
        spec = chart.to_dict()
        assert x_titles(spec) == {"minutes from the actual start (min)"}
        assert "actual start" in rules(spec)
        assert "seconds" not in str(spec["title"]["subtitle"]).replace("counts per", "")


def test_simulations_in_minutes_and_on_the_event_clock_when_told():
    run = capplan.simulate(arrival_rate=40.0, service_time=0.1, servers=5, duration=600, seed=1)
    spec = run.chart().to_dict()
    assert x_titles(spec) == {"minutes from the start of the run (min)"}
    assert rules(spec) == {}
    spec = charts.simulation_comparison_chart(
        {"run": run}, start_s=-120, actual_start_s=240
    ).to_dict()
    assert x_titles(spec) == {"minutes from the scheduled start (min)"}
    marks = rules(spec)
    assert marks["scheduled start"]["minutes"] == 0 and marks["actual start"]["minutes"] == 4
    # a start outside the run is not drawn (it would stretch the axis)
    spec = charts.simulation_chart(run, start_s=600).to_dict()
    assert rules(spec) == {}


@pytest.mark.filterwarnings("ignore::capplan.warnings.CovarianceWarning")
def test_a_band_the_fit_could_not_give_is_left_out():
    """No standard errors (lower and upper all NaN): an area drawn from nothing makes the
    browser log 'Infinite extent for field "lower"' in the report, so it is not drawn."""
    event = capplan.sample_history().event("ev-014")
    fit = capplan.fit_join_curve(event["joins"].loc[-600:1800])
    frame = fit.to_frame().assign(lower=np.nan, upper=np.nan)
    bandless = SimpleNamespace(
        to_frame=lambda: frame,
        interval_s=fit.interval_s,
        peak=fit.peak,
        form=fit.form,
        level=fit.level,
    )
    spec = charts.join_curve_chart(bandless).to_dict()
    fields = {
        d["encoding"]["y"]["field"]
        for d in _walk(spec)
        if isinstance(d.get("encoding"), dict) and isinstance(d["encoding"].get("y"), dict)
    }
    assert "lower" not in fields and "fitted_rate_per_s" in fields
    assert "no confidence band" in str(spec["title"]["subtitle"])
    assert "lower" in str(fit.chart().to_dict()["layer"])  # a fit with its band draws it
