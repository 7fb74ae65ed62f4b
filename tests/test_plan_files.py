"""Saved plans read back are checked like plans made (#20), and written atomically.

Each refusal is a ValueError naming the file, the field (a JSON key path, or a CSV
file's column and row), the value and what was expected. The reproducers come from a
probe of tampered plan files and of absurd planner arguments.
"""

import dataclasses
import json
import math
import os
import shutil
import time

import numpy as np
import pandas as pd
import pytest

import capplan
from capplan.planning import (
    SLO,
    ClientPolicy,
    JoinForecast,
    JoinService,
    Margins,
    QueuePolicy,
    load_plan,
    plan_event,
    save_plan,
)
from capplan.planning.inputs import ArgumentError
from capplan.simulation import ExponentialBackoff, NoRetry, RetryBudget

# -- three cheap plans that differ in everything a file holds ----------------------------------


def plan_a(**kw):
    """MOL on rates with observed seconds (one missing) and a lobby."""
    rates = pd.Series(50.0 + 30.0 * (np.arange(600) >= 300), index=np.arange(-300, 300))
    fc = JoinForecast.from_rates(rates, factor=1.2, alpha_per_second=0.01)
    counts = np.random.default_rng(0).poisson(50, 600).astype(float)
    counts[5] = np.nan
    obs = pd.Series(counts, index=pd.RangeIndex(-300, 300, name="seconds"), name="ev-x")
    args = dict(service=JoinService(0.05, scv=2.0), streams_per_server=1000, window=(-300, 300))
    args.update(kw)
    return plan_event(
        dataclasses.replace(fc, observed=obs),
        ("lognormal", {"median_s": 600.0, "sigma": 1.0}),
        **args,
    )


def plan_b():
    """PSA on scenarios with a concurrency forecast, a fixed queue that raises workers,
    retries under a budget, no burst margin, a zone loss and attack traffic, no lobby."""
    t = np.arange(0, 240)
    scenarios = pd.DataFrame(
        {"low": 20.0 + 0 * t, "mid": 30.0 + 10 * (t >= 120), "high": 45.0 + 20 * (t >= 120)},
        index=t,
    )
    fc = dataclasses.replace(
        JoinForecast.from_scenarios(scenarios, level=0.9), concurrency_factor=1.3
    )
    retry = ExponentialBackoff(base=0.5, max_retries=None, budget=RetryBudget(ratio=0.1))
    return plan_event(
        fc,
        ("exponential", {"mean_s": 300.0}),
        service=JoinService(0.1),
        streams_per_server=500,
        window=(0, 240),
        interval_s=30,
        method="psa",
        slo=SLO(max_wait_prob=0.2, max_refused=0.001),
        queue=QueuePolicy(kind="fixed", size=2),
        client=ClientPolicy(timeout_s=5.0, retry=retry),
        margins=Margins(burst_quantile=None, zone_loss=0.25, attack_rps=5.0, spare_workers=1),
        lobby_start_s=None,
    )


def plan_c():
    """ISA (simulated) on a short window, clients that do not retry."""
    fc = JoinForecast.from_rates(pd.Series(20.0, index=np.arange(0, 120)), factor=1.1)
    return plan_event(
        fc,
        ("weibull", {"scale_s": 100.0, "shape": 0.8}),
        service=JoinService(0.05),
        streams_per_server=100,
        window=(0, 120),
        method="isa",
        isa_replications=1,
        isa_max_iter=2,
        client=ClientPolicy(retry=NoRetry()),
        seed=3,
    )


BUILDERS = {"a": plan_a, "b": plan_b, "c": plan_c}


@pytest.fixture(scope="module")
def plans():
    return {k: build() for k, build in BUILDERS.items()}


def assert_same_plan(back, plan):
    pd.testing.assert_frame_equal(back.frame, plan.frame, check_index_type=False)
    pd.testing.assert_frame_equal(back.margins_table, plan.margins_table)
    assert back.margins_table.attrs == plan.margins_table.attrs
    for name in ("slo", "service", "client", "queue", "margins", "window", "interval_s"):
        assert getattr(back, name) == getattr(plan, name), name
    assert (back.method, back.model, back.notes) == (plan.method, plan.model, plan.notes)
    assert back.sessions == plan.sessions and back.lobby_start_s == plan.lobby_start_s
    assert back.streams_per_server == plan.streams_per_server
    for k, v in plan.forecast.scenarios.items():
        np.testing.assert_array_equal(back.forecast.scenarios[k], v)
    f, g = back.forecast, plan.forecast
    assert (f.level, f.alpha_per_second, f.cluster_per_second, f.kind, f.description) == (
        g.level,
        g.alpha_per_second,
        g.cluster_per_second,
        g.kind,
        g.description,
    )
    assert f.concurrency_factor == g.concurrency_factor
    if g.observed is None:
        assert f.observed is None
    else:
        pd.testing.assert_series_equal(f.observed, g.observed, check_dtype=False)
    if plan.isa_history is None:
        assert back.isa_history is None
    else:
        pd.testing.assert_frame_equal(back.isa_history, plan.isa_history)
    assert str(back) == str(plan)


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("which", ["a", "b", "c"])
def test_every_kind_of_plan_comes_back_as_it_was(plans, tmp_path, which, fmt):
    plan = plans[which]
    path = save_plan(plan, tmp_path / ("p.json" if fmt == "json" else "p"), format=fmt)
    assert_same_plan(load_plan(path), plan)


def test_the_plans_differ_where_a_file_can(plans):
    a, b, c = plans["a"], plans["b"], plans["c"]
    assert a.forecast.observed is not None and b.forecast.observed is None
    assert b.notes and b.forecast.concurrency_factor == 1.3 and b.lobby_start_s is None
    assert c.isa_history is not None and c.method == "isa"


def test_a_plan_saved_by_an_earlier_capplan_still_loads(plans, tmp_path):
    path = save_plan(plans["a"], tmp_path / "old.json")
    doc = json.loads(path.read_text())
    del doc["observed"], doc["forecast_meta"]["cluster_per_second"]
    del doc["forecast_meta"]["concurrency_factor"]
    path.write_text(json.dumps(doc))
    back = load_plan(path)
    assert back.forecast.observed is None and back.forecast.cluster_per_second == 0.0


# -- the probe's reproducers: JSON ---------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_json(plans, tmp_path_factory):
    """Plan a's JSON text and a copy writer."""
    path = save_plan(plans["a"], tmp_path_factory.mktemp("saved") / "plan.json")
    return path.read_text()


def tampered(tmp_path, text, edit):
    """A copy of the saved plan with ``edit(doc)`` applied (or a str/bytes edit)."""
    path = tmp_path / "tampered.json"
    if callable(edit):
        doc = json.loads(text)
        out = edit(doc)
        text = json.dumps(out if isinstance(out, list) else doc)  # a list: the new document
    else:
        text = edit
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def refused(path, *parts):
    """load_plan's ValueError for ``path``, naming the file and each of ``parts``."""
    with pytest.raises(ValueError) as info:
        load_plan(path)
    message = str(info.value)
    assert str(path) in message, message
    for part in parts:
        assert part in message, (part, message)
    assert "\n" not in message
    return info.value


def _set(doc, keys, value):
    d = doc
    for k in keys[:-1]:
        d = d[k]
    d[keys[-1]] = value


def _del(doc, keys):
    d = doc
    for k in keys[:-1]:
        d = d[k]
    del d[keys[-1]]


CASES = [
    # missing keys
    (lambda d: _del(d, ["slo"]), ["slo: missing"]),
    (lambda d: _del(d, ["slo", "max_refused"]), ["slo.max_refused: missing"]),
    (lambda d: _del(d, ["frame", "workers"]), ["frame.workers: missing"]),
    (lambda d: _del(d, ["client", "retry", "base"]), ["client.retry", "missing ['base']"]),
    (lambda d: _del(d, ["forecast", "upper"]), ["forecast.upper", "missing"]),
    (lambda d: _del(d, ["forecast_meta", "level"]), ["forecast_meta.level: missing"]),
    # wrong types: a string, a list for an object, null, an object for a list
    (lambda d: _set(d, ["interval_s"], "60"), ["interval_s", "'60'"]),
    (lambda d: _set(d, ["window"], "(-300, 300)"), ["window", "'(-300, 300)'"]),
    (lambda d: _set(d, ["service"], [0.05, 2.0]), ["service", "an object"]),
    (lambda d: _set(d, ["margins"], None), ["margins", "None", "an object"]),
    (lambda d: _set(d, ["streams_per_server"], None), ["streams_per_server", "None"]),
    (lambda d: _set(d, ["frame", "workers"], {"0": 7}), ["frame.workers", "a list of numbers"]),
    (lambda d: _set(d, ["frame"], None), ["frame", "an object"]),
    (lambda d: _set(d, ["margins", "attack_rps"], "0"), ["margins.attack_rps", "'0'"]),
    (lambda d: _set(d, ["frame", "workers", 2], "7"), ["frame.workers[2]", "'7'", "a number"]),
    (lambda d: _set(d, ["sessions", "params", "median_s"], "600"), ["sessions", "'600'"]),
    (lambda d: _set(d, ["notes"], "none"), ["notes", "a list of text"]),
    (lambda d: _set(d, ["model"], 3), ["model", "text"]),
    (lambda d: _set(d, ["observed", "counts", 0], "3"), ["observed.counts[0]", "'3'"]),
    # accepted before: negative or fractional workers, a reversed window, a zero interval,
    # an unknown method, no streams per server
    (lambda d: _set(d, ["frame", "workers", 0], -3), ["frame.workers[0]", "-3", ">= 0"]),
    (lambda d: _set(d, ["frame", "workers", 1], 2.5), ["frame.workers[1]", "2.5", "whole"]),
    (lambda d: _set(d, ["window"], [300.0, -300.0]), ["window", "increasing"]),
    (lambda d: _set(d, ["interval_s"], 0), ["interval_s", ">= 1", "got 0"]),
    (lambda d: _set(d, ["method"], "bogus"), ["method", "'bogus'"]),
    (lambda d: _set(d, ["streams_per_server"], 0), ["streams_per_server", ">= 1", "got 0"]),
    (lambda d: _set(d, ["streams_per_server"], 1e-300), ["streams_per_server", "1e-300"]),
    # booleans for numbers (JSON true is a Python int)
    (lambda d: _set(d, ["interval_s"], True), ["interval_s", "True"]),
    (lambda d: _set(d, ["margins", "spare_workers"], True), ["margins.spare_workers", "True"]),
    (lambda d: _set(d, ["frame", "workers", 0], True), ["frame.workers[0]", "True"]),
    (lambda d: _set(d, ["version"], True), ["version", "True"]),
    (lambda d: _set(d, ["slo", "wait_s"], False), ["slo.wait_s", "False"]),
    # huge numbers
    (lambda d: _set(d, ["margins", "spare_workers"], 10**400), ["margins.spare_workers"]),
    (lambda d: _set(d, ["frame", "workers", 0], 10**400), ["frame.workers[0]", "float range"]),
    (lambda d: _set(d, ["margins", "spare_workers"], 10**12), ["margins.spare_workers", "1e+09"]),
    (lambda d: _set(d, ["queue", "fraction"], 1e300), ["queue", "queue limits"]),
    (lambda d: _set(d, ["client", "timeout_s"], 1e300), ["queue", "queue limits"]),
    (lambda d: _set(d, ["margins", "zone_loss"], 1 - 1e-16), ["frame", "workers", "1e+09"]),
    (lambda d: _set(d, ["sessions", "params", "median_s"], 1e300), ["sessions", "1e+15"]),
    (lambda d: _set(d, ["client", "retry", "max_retries"], 10**12), ["client", "max_retries"]),
    # out of range for the rules of the inputs
    (lambda d: _set(d, ["slo", "max_refused"], 0.0), ["slo.max_refused", "above 0"]),
    (lambda d: _set(d, ["slo", "fraction"], 1.0), ["slo.fraction", "below 1"]),
    (lambda d: _set(d, ["service", "mean_s"], -0.05), ["service.mean_s", "-0.05"]),
    (lambda d: _set(d, ["service", "family"], "cauchy"), ["service.family", "'cauchy'"]),
    (lambda d: _set(d, ["margins", "burst_quantile"], 1.5), ["margins.burst_quantile"]),
    (lambda d: _set(d, ["client", "on_timeout"], "retry"), ["client.on_timeout"]),
    (lambda d: _set(d, ["client", "retry", "type"], "Pickle"), ["client.retry", "'Pickle'"]),
    (lambda d: _set(d, ["client", "retry", "multiplier"], 0.5), ["client.retry", "multiplier"]),
    (lambda d: _set(d, ["sessions", "name"], "bogus"), ["sessions", "'bogus'"]),
    (lambda d: _set(d, ["sessions", "params", "sigma"], -1.0), ["sessions", "sigma"]),
    (lambda d: _set(d, ["sessions", "params", "sigma"], 1e300), ["sessions", "(0, 6]"]),
    (lambda d: _set(d, ["forecast_meta", "level"], 95), ["forecast_meta.level", "95"]),
    (lambda d: _set(d, ["forecast_meta", "level"], True), ["forecast_meta.level", "True"]),
    (lambda d: _set(d, ["forecast_meta", "kind"], "magic"), ["forecast", "kind", "'magic'"]),
    (lambda d: _set(d, ["forecast_meta", "alpha_per_second"], -1), ["alpha_per_second"]),
    (lambda d: _set(d, ["forecast_meta", "concurrency_factor"], 0.5), ["concurrency_factor"]),
    (lambda d: _set(d, ["lobby_start_s"], 1e6), ["lobby_start_s", "inside the window"]),
    (lambda d: _set(d, ["forecast", "upper", 7], -1.0), ["forecast.upper[7]", "-1.0", ">= 0"]),
    (lambda d: _set(d, ["observed", "counts", 3], 2.5), ["observed", "whole counts"]),
    (lambda d: _set(d, ["observed", "counts", 3], -1), ["observed", "whole counts"]),
    (lambda d: _set(d, ["isa_history"], {"iteration": [1]}), ["isa_history", "null"]),
    (lambda d: _set(d, ["format"], "capplan.Other"), ["not a capplan plan"]),
    (lambda d: _set(d, ["version"], 2), ["version", "reads version 1"]),
    (lambda d: [d], ["not a capplan plan"]),
    # extra unknown keys: refused by name
    (lambda d: _set(d, ["surprise"], 1), ["surprise", "unknown key"]),
    (lambda d: _set(d, ["slo", "extra"], 1), ["slo.extra", "unknown key"]),
    (lambda d: _set(d, ["frame", "bonus"], [0] * 10), ["frame.bonus", "unknown key"]),
    (lambda d: _set(d, ["client", "retry", "jitterbug"], 1), ["client.retry", "jitterbug"]),
    (lambda d: _set(d, ["observed_name"], "x"), ["observed_name", "unknown key"]),
    # mismatched lengths
    (lambda d: d["frame"]["workers"].pop(), ["frame.workers", "9 values", "10 intervals"]),
    (lambda d: d["forecast"]["upper"].pop(), ["forecast.upper", "599 values"]),
    (lambda d: d["forecast"]["t"].pop(), ["forecast"]),
    (lambda d: d["observed"]["counts"].pop(), ["observed.counts", "599 counts"]),
    (lambda d: d["margins_table"]["factor"].pop(), ["margins_table.factor", "8 rows"]),
    # times out of order
    (lambda d: d["forecast"]["t"].reverse(), ["forecast", "1-s grid"]),
    (lambda d: d["frame"]["start_s"].reverse(), ["frame.start_s[0]", "window start"]),
    (lambda d: d["observed"]["t"].reverse(), ["observed", "increasing"]),
    (lambda d: _set(d, ["observed", "t", 4], 1.5), ["observed.t[4]", "whole"]),
    (lambda d: _set(d, ["observed", "t", 0], 1e300), ["observed.t[0]", "1e+300"]),
    (lambda d: _set(d, ["observed"], {"name": "x", "t": [], "counts": []}), ["observed.t"]),
    (lambda d: _set(d, ["interval_s"], 10**40), ["interval_s", "1e+09"]),
    (lambda d: _set(d, ["client", "timeout_s"], None), ["queue", "needs a client timeout"]),
    # stored results that disagree with the inputs
    (
        lambda d: _set(d, ["frame", "workers", 3], d["frame"]["workers"][3] + 1),
        ["frame.workers[3]"],
    ),
    (lambda d: _set(d, ["frame", "stream_servers", 4], 1), ["frame.stream_servers[4]"]),
    (lambda d: _set(d, ["frame", "queue_limit", 0], 5), ["frame.queue_limit[0]"]),
    (lambda d: _set(d, ["frame", "workers_needed", 0], 50), ["frame.workers_needed[0]"]),
    (lambda d: _set(d, ["frame", "offered_load", 0], 1.0), ["frame.offered_load[0]"]),
    (lambda d: _set(d, ["frame", "design_rate_per_s", 9], 1.0), ["frame.design_rate_per_s[9]"]),
    (lambda d: _set(d, ["frame", "concurrent", 2], 1.0), ["frame.concurrent[2]"]),
    (lambda d: _set(d, ["frame", "burst_factor", 5], 1.0), ["frame.burst_factor[5]"]),
    (lambda d: _set(d, ["frame", "join_rate_per_s", 1], 51.0), ["frame.join_rate_per_s[1]"]),
    (lambda d: _set(d, ["frame", "end_s", 1], 0.0), ["frame.end_s[1]"]),
    (lambda d: _set(d, ["margins", "spare_workers"], 5), ["frame.workers[0]"]),
    (lambda d: _set(d, ["margins", "attack_rps"], 5.0), ["frame.attack_rps[0]"]),
    (lambda d: _set(d, ["sessions", "params", "median_s"], 700.0), ["frame.concurrent[0]"]),
    (lambda d: _set(d, ["forecast_meta", "alpha_per_second"], 0.05), ["frame.burst_factor"]),
    (lambda d: _set(d, ["margins", "burst_quantile"], 0.9), ["frame.burst_factor"]),
    (lambda d: _set(d, ["slo", "wait_s"], 0.5), ["frame.workers_needed"]),
    (lambda d: _set(d, ["service", "mean_s"], 0.06), ["frame.offered_load"]),
    (lambda d: _set(d, ["streams_per_server"], 500.0), ["frame.stream_servers_needed"]),
    (lambda d: _set(d, ["window"], [-240.0, 360.0]), ["forecast"]),
    (lambda d: _set(d, ["margins_table", "added_at_peak", 1], 9), ["added_at_peak[1]"]),
    (lambda d: _set(d, ["margins_table", "covers", 0], "x"), ["margins_table.covers[0]"]),
    (lambda d: _set(d, ["margins_attrs", "peak_interval_s"], 60.0), ["peak_interval_s"]),
    (lambda d: _set(d, ["model"], "M/M/1"), ["model", "'M/M/1'"]),
    (lambda d: _set(d, ["notes"], ["made up"]), ["notes", "made up"]),
    (lambda d: _set(d, ["method"], "psa"), ["frame.offered_load"]),
]


@pytest.mark.parametrize("edit, parts", CASES)
def test_a_tampered_json_plan_is_refused_by_name(saved_json, tmp_path, edit, parts):
    refused(tampered(tmp_path, saved_json, edit), *parts)


def test_nan_and_infinity_in_json_are_refused(saved_json, tmp_path):
    text = saved_json.replace('"streams_per_server": 1000.0', '"streams_per_server": NaN')
    refused(tampered(tmp_path, saved_json, text), "streams_per_server", "finite", "nan")
    doc = json.loads(saved_json)
    doc["frame"]["concurrent"][0] = math.inf
    refused(tampered(tmp_path, saved_json, json.dumps(doc)), "frame.concurrent[0]", "inf")
    text = saved_json.replace('"interval_s": 60', '"interval_s": 1e999')  # inf as JSON reads it
    refused(tampered(tmp_path, saved_json, text), "interval_s", "inf")


@pytest.mark.parametrize(
    "mangle, parts",
    [
        (lambda t: t[: len(t) // 2], ["not valid JSON", "line 1"]),
        (lambda t: t[:-1], ["not valid JSON"]),
        (lambda t: "", ["is empty"]),
        (lambda t: "   \n", ["is empty"]),
        (lambda t: "hello, plan", ["not valid JSON"]),
        (lambda t: t.encode().replace(b'"mol"', b'"m\xffl"'), ["not UTF-8"]),
        (lambda t: b"\xff\xfe" + t.encode("utf-16-le"), ["not UTF-8"]),
        (lambda t: t.replace('"model":', '"interval_s": 60, "model":'), ["twice"]),
        (lambda t: "[" * 100_000 + "]" * 100_000, ["not a plan's JSON"]),
    ],
)
def test_a_file_that_is_not_a_plans_json_is_refused(saved_json, tmp_path, mangle, parts):
    error = refused(tampered(tmp_path, saved_json, mangle(saved_json)), *parts)
    assert error.__cause__ is not None or "empty" in str(error)


def test_a_refusal_keeps_the_original_error(saved_json, tmp_path):
    error = refused(tampered(tmp_path, saved_json, saved_json[:100]), "not valid JSON")
    assert isinstance(error.__cause__, json.JSONDecodeError)
    error = refused(tampered(tmp_path, saved_json, lambda d: _set(d, ["slo", "fraction"], 1.0)))
    assert isinstance(error.__cause__, ValueError) and "fraction" in str(error.__cause__)
    error = refused(tampered(tmp_path, saved_json, lambda d: _set(d, ["streams_per_server"], 0)))
    assert isinstance(error.__cause__, ArgumentError)
    assert error.__cause__.argument == "streams_per_server"


def test_no_plan_at_a_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved plan at"):
        load_plan(tmp_path / "nothing.json")
    with pytest.raises(ValueError, match="no saved plan at"):
        load_plan(tmp_path / "nothing.json")
    with pytest.raises(ValueError, match=r"not a saved plan: plan\.csv is missing"):
        load_plan(tmp_path)  # a directory, but not a plan
    with pytest.raises(ValueError, match="path must be"):
        load_plan(3)


# -- the probe's reproducers: a directory of CSV tables ---------------------------------------


@pytest.fixture(scope="module")
def saved_dir(plans, tmp_path_factory):
    return save_plan(plans["a"], tmp_path_factory.mktemp("saved") / "plan", format="csv")


@pytest.fixture
def plan_dir(saved_dir, tmp_path):
    return shutil.copytree(saved_dir, tmp_path / "plan")


def edit_lines(path, edit):
    lines = path.read_text().splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n")


def set_cell(path, row, column, value):
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row, column] = value
    frame.to_csv(path, index=False)


@pytest.mark.parametrize(
    "file, row, column, value, parts",
    [
        ("plan.csv", 3, "workers", "abc", ["column 'workers', row 4 (line 5)", "'abc'"]),
        ("plan.csv", 0, "workers", "True", ["column 'workers', row 1", "'True'"]),
        ("plan.csv", 0, "workers", "2.5", ["column 'workers', row 1", "whole"]),
        ("plan.csv", 2, "workers", "-1", ["column 'workers', row 3", ">= 0"]),
        ("plan.csv", 0, "workers", "", ["column 'workers', row 1", "nan"]),
        ("plan.csv", 0, "concurrent", "inf", ["column 'concurrent', row 1", "inf"]),
        ("plan.csv", 0, "workers", "1e400", ["column 'workers', row 1", "inf"]),
        ("plan.csv", 5, "stream_servers", "1", ["column 'stream_servers', row 6"]),
        ("margins.csv", 0, "covers", "x", ["margins.csv", "column 'covers', row 1"]),
        ("margins.csv", 3, "count", "7", ["margins.csv", "column 'count', row 4"]),
        ("forecast.csv", 9, "upper", "-1", ["forecast.csv", "column 'upper', row 10"]),
        ("forecast.csv", 9, "seconds", "0.5", ["forecast.csv", "1-s grid"]),
        ("observed.csv", 9, "counts", "1.5", ["observed.csv", "whole counts"]),
        ("observed.csv", 9, "seconds", "x", ["observed.csv", "column 'seconds', row 10"]),
    ],
)
def test_a_bad_cell_is_refused_by_file_column_and_row(plan_dir, file, row, column, value, parts):
    set_cell(plan_dir / file, row, column, value)
    refused(plan_dir, str(plan_dir / file), *parts)


@pytest.mark.parametrize(
    "damage, parts",
    [
        (lambda d: (d / "plan.csv").unlink(), ["plan.csv is missing"]),
        (lambda d: (d / "inputs.json").write_text("{"), ["inputs.json", "not valid JSON"]),
        (lambda d: (d / "inputs.json").write_text(""), ["inputs.json", "is empty"]),
        (lambda d: (d / "plan.csv").write_text(""), ["plan.csv", "not a CSV table"]),
        (lambda d: (d / "plan.csv").write_bytes(b"\xff\xfe\x00junk"), ["plan.csv", "UTF-8"]),
        (lambda d: (d / "margins.csv").unlink() or (d / "margins.csv").mkdir(), ["margins.csv"]),
        (lambda d: (d / "observed.csv").unlink(), ["observed.csv", "missing"]),
        (lambda d: edit_lines(d / "plan.csv", lambda ls: ls.pop()), ["plan.csv", "10 intervals"]),
        (
            lambda d: edit_lines(d / "plan.csv", lambda ls: ls.__setitem__(-1, ls[-1][:20])),
            ["plan.csv"],
        ),
        (
            lambda d: edit_lines(d / "plan.csv", lambda ls: ls.__setitem__(0, ls[0] + ",extra")),
            ["plan.csv", "column 'extra'", "unknown column"],
        ),
        (
            lambda d: edit_lines(
                d / "plan.csv", lambda ls: ls.__setitem__(0, ls[0].replace("workers,", "w,"))
            ),
            ["plan.csv", "column 'workers'", "missing"],
        ),
        (
            lambda d: edit_lines(d / "forecast.csv", lambda ls: ls.insert(5, ls[4])),
            ["forecast.csv", "1-s grid"],
        ),
        (
            lambda d: edit_lines(d / "plan.csv", lambda ls: ls.insert(3, ls.pop(2))),
            ["plan.csv", "column 'start_s', row 2"],
        ),
    ],
)
def test_a_damaged_plan_directory_is_refused_by_name(plan_dir, damage, parts):
    damage(plan_dir)
    refused(plan_dir, *parts)


def test_inputs_json_of_a_directory_is_checked_like_a_json_plan(plan_dir):
    path = plan_dir / "inputs.json"
    doc = json.loads(path.read_text())
    doc["interval_s"] = True
    path.write_text(json.dumps(doc))
    refused(plan_dir, str(path), "interval_s", "True")
    doc["interval_s"], doc["frame"] = 60, {}
    path.write_text(json.dumps(doc))
    refused(plan_dir, str(path), "frame", "unknown key")


def test_a_stale_observed_csv_is_not_read(plans, tmp_path):
    """A directory plan saved without observed seconds over one saved with them loses the
    old observed.csv; a left-over one (a crash between the two) is not read: only a plan
    whose inputs.json names its observed seconds reads observed.csv."""
    path = save_plan(plans["a"], tmp_path / "p", format="csv")
    save_plan(plans["b"], path, format="csv")
    assert not (path / "observed.csv").exists()
    shutil.copy(tmp_path / "p" / "plan.csv", tmp_path / "p" / "observed.csv")
    assert load_plan(path).forecast.observed is None


# -- writing: atomic ------------------------------------------------------------------------


def test_a_failed_save_leaves_the_plan_that_was_there(plans, tmp_path, monkeypatch):
    json_path = save_plan(plans["a"], tmp_path / "p.json")
    dir_path = save_plan(plans["a"], tmp_path / "p", format="csv")
    before = {p.name: p.read_bytes() for p in dir_path.iterdir()}
    json_before = json_path.read_bytes()
    calls = []

    def broken(self, *a, **k):
        calls.append(1)
        if len(calls) == 2:  # plan.csv written, margins.csv fails
            raise OSError("disk full")
        return original(self, *a, **k)

    original = pd.DataFrame.to_csv
    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        save_plan(plans["b"], dir_path, format="csv")
    monkeypatch.setattr(pd.DataFrame, "to_csv", original)
    assert {p.name: p.read_bytes() for p in dir_path.iterdir()} == before  # nothing left over
    assert_same_plan(load_plan(dir_path), plans["a"])

    monkeypatch.setattr(json, "dumps", lambda *a, **k: (_ for _ in ()).throw(OSError("full")))
    with pytest.raises(OSError):
        save_plan(plans["b"], json_path)
    monkeypatch.undo()
    assert json_path.read_bytes() == json_before
    assert sorted(os.listdir(tmp_path)) == ["p", "p.json"]


def test_save_plan_refuses_what_it_cannot_write(plans, tmp_path):
    with pytest.raises(ValueError, match="format must be"):
        save_plan(plans["a"], tmp_path / "p.json", format="xml")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        save_plan(plans["a"], tmp_path / "file", format="csv")
    (tmp_path / "d.json").mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        save_plan(plans["a"], tmp_path / "d.json")
    with pytest.raises(ValueError, match="must be an EventPlan"):
        save_plan({"plan": 1}, tmp_path / "x.json")


def test_a_plans_json_is_strict_json(plans, tmp_path):
    path = save_plan(plans["c"], tmp_path / "c.json")
    json.loads(path.read_text(), parse_constant=lambda name: pytest.fail(name))


def test_the_ladders_files_are_written_atomically(plans, tmp_path, monkeypatch):
    from capplan.planning import Fleet, provision

    fleet = Fleet(
        name="join", resource="workers", units_per_instance=4, lead_time_s=120, price_per_hour=1.0
    )
    ladder = provision(plans["a"], fleet, scheduled_start="2026-05-01T19:00:00Z")
    csv_path, json_path = ladder.to_csv(tmp_path / "l.csv"), ladder.to_json(tmp_path / "l.json")
    before = csv_path.read_bytes(), json_path.read_bytes()
    monkeypatch.setattr(ladder, "schedule", lambda: [{"bad": object()}])
    with pytest.raises(TypeError):
        ladder.to_json(json_path)
    monkeypatch.setattr(pd.DataFrame, "to_csv", lambda *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        ladder.to_csv(csv_path)
    assert (csv_path.read_bytes(), json_path.read_bytes()) == before
    assert sorted(os.listdir(tmp_path)) == ["l.csv", "l.json"]


# -- plan_event's own arguments ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kw, argument, match",
    [
        (dict(streams_per_server=1e-300), "streams_per_server", ">= 1; got 1e-300"),
        (dict(streams_per_server=0.5), "streams_per_server", ">= 1"),
        (dict(streams_per_server="1000"), "streams_per_server", "a number; got '1000'"),
        (dict(streams_per_server=True), "streams_per_server", "a number; got True"),
        (dict(streams_per_server=math.nan), "streams_per_server", "finite"),
        (dict(streams_per_server=10**400), "streams_per_server", "finite"),
        (dict(interval_s=math.nan), "interval_s", "whole number"),
        (dict(interval_s=math.inf), "interval_s", "whole number"),
        (dict(interval_s=30.5), "interval_s", "whole number"),
        (dict(interval_s=10**30), "interval_s", r"<= 1e\+09"),
        (dict(interval_s=1200), "window", "whole number of intervals"),
        (dict(client=ClientPolicy(timeout_s=None)), "queue", "needs a client timeout"),
        (dict(interval_s=False), "interval_s", "whole number"),
        (dict(window=(math.nan, 300)), "window", "finite"),
        (dict(window=("a", 300)), "window", "a number"),
        (dict(window=(-300, 0, 300)), "window", r"\(start_s, end_s\)"),
        (dict(window=5), "window", r"\(start_s, end_s\)"),
        (dict(window=(False, 300)), "window", "a number"),
        (dict(window=(300, -300)), "window", "increasing"),
        (dict(method=["mol"]), "method", "one of"),
        (dict(lobby_start_s=math.nan), "lobby_start_s", "finite"),
        (dict(lobby_start_s="0"), "lobby_start_s", "a number"),
        (dict(method="isa", isa_replications=0), "isa_replications", ">= 1"),
        (dict(method="isa", isa_max_iter=-1), "isa_max_iter", ">= 1"),
        (dict(method="isa", isa_replications="3"), "isa_replications", "whole number"),
        (dict(seed="x"), "seed", "seed must be"),
        (dict(seed=-1), "seed", "non-negative"),
        (dict(margins=Margins(zone_loss=1 - 1e-12)), "margins", "1e\\+09"),
        (dict(margins=Margins(attack_rps=1e300)), "margins", "1e9 workers.*attack_rps 1e\\+300"),
        (dict(service=JoinService(1e8), client=ClientPolicy(timeout_s=1e9)), "forecast", "1e9"),
        (dict(service=JoinService(1e-300)), "queue", "queue limits"),
        (dict(client=ClientPolicy(timeout_s=1e300)), "queue", "queue limits"),
        (dict(queue=QueuePolicy(fraction=1e300)), "queue", "queue limits"),
        (dict(client=ClientPolicy(timeout_s=0.04)), "client", "no finite capacity"),
        (
            dict(client=ClientPolicy(retry=ExponentialBackoff(max_retries=10**9))),
            "client",
            "max_retries",
        ),
        (dict(slo="0.99"), "slo", "must be a SLO"),
    ],
)
def test_absurd_planner_arguments_are_refused_by_name(kw, argument, match):
    with pytest.raises(ValueError, match=match) as info:
        plan_a(**kw)
    if argument is not None:
        assert isinstance(info.value, ArgumentError) and info.value.argument == argument


@pytest.mark.parametrize(
    "sessions, match",
    [
        (("lognormal", {"median_s": 1e300, "sigma": 1.0}), "concurrent streams"),
        (("exponential", {"mean_s": 1e300}), "concurrent streams"),
        (("lognormal", {"median_s": 600.0, "sigma": 1e300}), "must be in"),
        (("lognormal", {"median_s": 600.0, "sigma": 100.0}), r"'sigma' must be in \(0, 6\]"),
        (("weibull", {"scale_s": 100.0, "shape": 1e300}), r"'shape' must be in \(0, 20\]"),
        (("weibull", {"scale_s": 1e300, "shape": 1e-300}), "no finite mean"),
        (("lognormal", {"median_s": "600", "sigma": 1.0}), "must be a number; got '600'"),
        (("lognormal", {"median_s": True, "sigma": 1.0}), "must be a number; got True"),
        (("lognormal", {"median_s": math.nan, "sigma": 1.0}), "finite"),
        (("bogus", {"median_s": 600.0}), "unknown session distribution"),
        (("lognormal", {"median_s": 600.0}), "need parameters"),
        (("lognormal", [600.0, 1.0]), "must be a dict"),
        ("lognormal", "SessionsFit"),
    ],
)
def test_absurd_sessions_are_refused_quickly(sessions, match):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=match) as info:
        plan_event(
            JoinForecast.from_rates(pd.Series(50.0, index=np.arange(600)), factor=1.2),
            sessions,
            service=JoinService(0.05),
            streams_per_server=1000,
            window=(0, 600),
        )
    assert info.value.argument == "sessions"
    assert time.perf_counter() - start < 5  # the concurrency of a mean of 1e300 s never ended


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(alpha_per_second=-1.0), "alpha_per_second must be >= 0"),
        (dict(alpha_per_second=math.nan), "alpha_per_second must be finite"),
        (dict(cluster_per_second=math.inf), "cluster_per_second must be finite"),
        (dict(kind="guess"), "kind must be one of"),
        (dict(description=None), "description must be text"),
        (dict(t=np.arange(600) * 2.0), "1-s grid"),
    ],
)
def test_a_forecast_built_by_hand_is_checked(change, match):
    fc = JoinForecast.from_rates(pd.Series(50.0, index=np.arange(600)), factor=1.2)
    with pytest.raises(ValueError, match=match) as info:
        plan_event(
            dataclasses.replace(fc, **change),
            ("exponential", {"mean_s": 300.0}),
            service=JoinService(0.05),
            streams_per_server=1000,
            window=(0, 600),
        )
    assert info.value.argument == "forecast"


def test_huge_rates_are_refused_before_the_concurrency_is_counted():
    fc = JoinForecast.from_rates(pd.Series(1e14, index=np.arange(600)), factor=1.2)
    with pytest.raises(ValueError, match=r"1e9 workers|concurrent streams"):
        plan_event(
            fc,
            ("exponential", {"mean_s": 300.0}),
            service=JoinService(1e-9, scv=1.0),
            streams_per_server=1000,
            window=(0, 600),
        )


def test_the_plans_counts_never_overflow():
    """The probe's plan with streams_per_server=1e-300 counted -9223372036854775806 stream
    servers; the largest allowed values now make plans whose counts are what they say."""
    plan = plan_a(streams_per_server=1.0, margins=Margins(spare_stream_servers=10**9 - 10**6))
    assert plan.frame["stream_servers"].min() > 10**9 - 10**6
    with pytest.raises(ValueError, match="stream servers"):
        plan_a(streams_per_server=1.0, margins=Margins(spare_stream_servers=10**9))


def test_a_generator_seed_and_good_values_still_plan():
    plan = plan_a(method="isa", isa_replications=1, isa_max_iter=1, seed=np.random.default_rng(1))
    assert plan.method == "isa" and (plan.frame["workers"] > 0).all()
    assert plan_a(interval_s=60.0, window=[-300, 300], lobby_start_s=5000).lobby_start_s is None
    assert capplan.load_plan is load_plan


def test_a_file_larger_than_any_plan_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from capplan.planning import io

    big = tmp_path / "big.json"
    big.write_text("[" + "0," * 5_000 + "0]")
    monkeypatch.setattr(io, "MAX_PLAN_FILE_BYTES", 1_000)
    with pytest.raises(ValueError, match=r"big\.json.*more than any saved plan"):
        capplan.load_plan(big)
