"""The command line as a user runs it."""

import json
import math
import subprocess
import sys

import pandas as pd
import pytest

import capplan
from capplan import report


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "capplan.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_describe_prints_the_summary_of_a_shipped_history():
    result = run("describe", "--history", "worldcup98")
    assert result.returncode == 0, result.stderr
    assert "40 events" in result.stdout
    assert "peak_requests_per_s" in result.stdout
    assert result.stdout.count("wc98-1998") == 40


def test_describe_reads_files_and_resamples(toy, write_csv):
    events_path, series_path = write_csv(*toy)
    result = run("describe", "--events", str(events_path), "--series", str(series_path))
    assert result.returncode == 0, result.stderr
    assert "ev-b" in result.stdout and "3,720" in result.stdout  # total joins of ev-b


def test_bad_input_is_one_line_on_stderr_and_exit_code_2(toy, write_csv):
    events, series = toy
    series.loc[4, "joins"] = -3
    events_path, series_path = write_csv(events, series)
    result = run("describe", "--events", str(events_path), "--series", str(series_path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "'joins', row 5" in result.stderr and "Traceback" not in result.stderr


def test_repair_lists_what_was_repaired(toy, write_csv):
    events, series = toy
    doubled = pd.concat([series, series.iloc[[3]]], ignore_index=True)
    events_path, series_path = write_csv(events, doubled)
    result = run("describe", "--events", str(events_path), "--series", str(series_path), "--repair")
    assert result.returncode == 0, result.stderr
    assert "Repairs:" in result.stdout and "exact duplicate rows removed" in result.stdout


@pytest.mark.slow
def test_simulate_writes_its_table_and_agrees_with_erlang_c(tmp_path):
    out = tmp_path / "run.csv"
    result = run(
        "simulate", "--arrival-rate", "40", "--service-time", "0.1", "--servers", "5",
        "--duration", "3000", "--seed", "3", "-o", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    assert abs(table["first_tries"].sum() - 40 * 3000) < 5 * (40 * 3000) ** 0.5
    waited = 1 - table["immediate"].sum() / table["started"].sum()
    assert abs(waited - float(capplan.erlang_c(5, 4.0))) < 0.05  # M/M/5 at 4 Erlangs: 0.554


def test_fit_prints_the_peak_of_a_real_event():
    result = run(
        "fit", "--history", "worldcup98", "--event", "wc98-19980625-1400",
        "--column", "requests", "--form", "plateau",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "peak_rate_per_s" in result.stdout and "Peak(" in result.stdout


def test_bad_simulation_input_is_one_line_and_exit_code_2():
    result = run("simulate", "--arrival-rate", "40", "--service-time", "0.1", "--servers", "0")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "servers" in result.stderr


@pytest.mark.slow
def test_plan_writes_json_and_csv_that_read_back(tmp_path):
    out = tmp_path / "plans" / "headline"
    result = run("plan", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "planning" in result.stderr and "Traceback" not in result.stderr  # progress bar
    plan = capplan.load_plan(out.with_suffix(".json"))
    tables = capplan.load_plan(out)
    pd.testing.assert_frame_equal(plan.to_frame(), tables.to_frame(), check_exact=False)
    # Stream servers at the peak: whole servers for the upper concurrency at 20,000 streams
    # each, enough that two thirds of them still hold it (a zone lost), 2 spares (the
    # headline's defaults).
    frame = plan.to_frame()
    peak = frame["stream_servers"].idxmax()
    needed = math.ceil(frame.at[peak, "concurrent_upper"] / 20_000)
    expected = math.ceil(needed / (2 / 3)) + 2
    assert frame.at[peak, "stream_servers"] == expected
    assert f"wrote {out}.json, {out}" in result.stdout
    # The pre-warm ladder on the wall clock: every minute of the plan has its workers and
    # stream servers ready (16 workers, 1 server an instance: notebook 03's fleets)
    ladder = pd.read_csv(out / "ladder.csv", parse_dates=["time_utc"])
    start = pd.Timestamp("2025-06-14T19:00:00Z")
    for fleet, column, per in (("join", "workers", 16), ("streams", "stream_servers", 1)):
        rows = ladder[ladder["fleet"] == fleet].set_index("start_s")
        for start_s, row in frame.iterrows():
            minute = rows.loc[start_s]
            assert minute["ready"] * per >= row[column], (fleet, start_s)
            assert minute["time_utc"] == start + pd.Timedelta(seconds=start_s)
    actions = json.loads(out.with_name(out.name + ".aws-scheduled-actions.json").read_text())
    first = actions["ScheduledUpdateGroupActions"][0]
    assert set(first) == {
        "AutoScalingGroupName", "ScheduledActionName", "StartTime", "DesiredCapacity",
        "MinSize", "MaxSize",
    }  # fmt: skip
    assert first["StartTime"].endswith("Z")
    schedule = json.loads(out.with_name(out.name + ".ladder.json").read_text())
    assert {item["fleet"] for item in schedule} == {"join", "streams"}
    assert "Pre-warm ladder" in result.stdout
    # the summary comes first, in human numbers, with the plan's own figures
    assert result.stdout.startswith("Summary\n")
    summary = result.stdout.split("\n\n")[0]
    assert f"Join workers: {int(frame['workers'].max()):,} workers at 19:00 UTC" in summary
    assert f"{int(frame['stream_servers'].max()):,} servers" in summary
    assert "e+0" not in result.stdout


@pytest.mark.parametrize(
    "fleets, message",
    [
        ("name,resource\njoin,workers\n", "row 1"),
        (
            "name,resource,units_per_instance,lead_time_s,price_per_hour\n"
            "join,workers,16,-5,0.68\n",
            "row 1",
        ),
        ("name,resource,units_per_instance,lead_time_s,price_per_hour\n", "no fleets"),
    ],
)
def test_plan_bad_fleets_fail_at_once_in_one_line(tmp_path, fleets, message):
    path = tmp_path / "fleets.csv"
    path.write_text(fleets)
    result = run("plan", "--fleets", str(path), "-q")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_plan_naive_scheduled_start_is_refused():
    result = run("plan", "--scheduled-start", "2025-06-14T19:00:00", "-q")
    assert result.returncode == 2
    assert "--scheduled-start" in result.stderr and "time zone" in result.stderr


@pytest.mark.slow
def test_plan_signals_from_a_file_or_arguments_give_the_same_plan(tmp_path):
    small = {"followers": 3e6, "registrations": 2e4, "notifications_sent": 1e6}
    table = tmp_path / "next.parquet"
    pd.DataFrame([{"name": "next", **small}]).to_parquet(table)
    from_file = run("plan", "--signals", str(table), "-o", str(tmp_path / "a"), "-q")
    assert from_file.returncode == 0, from_file.stderr
    # -q: no progress bar; a fit's doubt is still one line each
    assert all(": warning: " in line for line in from_file.stderr.splitlines())
    given = [a for name, value in small.items() for a in ("--signal", name, repr(value))]
    validated = run("plan", *given, "--validate", "-o", str(tmp_path / "b"), "-q")
    assert validated.returncode == 0, validated.stderr
    assert "Plan validation by simulation" in validated.stdout
    # beside the model's curves, the analogue's real seconds scaled to the forecast
    assert "Share of intervals meeting the SLO, by scenario:" in validated.stdout
    assert "(scaled to upper) (replay): " in validated.stdout
    a = capplan.load_plan(tmp_path / "a.json").to_frame()
    b = capplan.load_plan(tmp_path / "b.json").to_frame()
    assert a["workers"].tolist() == b["workers"].tolist()


@pytest.mark.parametrize(
    "rows, name, message",
    [
        (2, "two.csv", "one event (one row); it has 2"),
        (1, "one.xlsx", "give a .csv, .parquet or .pq file"),
        (1, "lacking.csv", "lack the column(s) ['notifications_sent']"),
    ],
)
def test_plan_bad_signals_are_one_line_and_exit_code_2(tmp_path, rows, name, message):
    signals = {"followers": [3e6] * rows, "registrations": [2e4] * rows}
    if name != "lacking.csv":
        signals["notifications_sent"] = [1e6] * rows
    path = tmp_path / name
    pd.DataFrame(signals).to_csv(path, index=False)
    result = run("plan", "--signals", str(path), "-q")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_plan_defaults_are_the_headline_notebooks():
    from papermill import inspect_notebook

    from capplan.cli import HEADLINE_FLEETS, HEADLINE_SIGNALS, _parser

    declared = inspect_notebook(str(report.notebooks_dir() / "03_plan_headline_event.ipynb"))
    default = {name: eval(p["default"]) for name, p in declared.items()}  # literals
    args = _parser().parse_args(["plan"])
    for name, value in HEADLINE_SIGNALS.items():
        assert default[name] == value
    pairs = {
        "level": "level", "wait_s": "wait_s", "wait_fraction": "wait_fraction",
        "max_refused": "max_refused", "join_work_s": "join_work_s",
        "join_work_scv": "join_work_scv", "streams_per_server": "streams_per_server",
        "client_timeout_s": "timeout_s", "attack_rps": "attack_rps", "zone_loss": "zone_loss",
        "spare": "spare", "method": "method", "seed": "seed",
    }  # fmt: skip
    for notebook_name, option in pairs.items():
        assert getattr(args, option) == default[notebook_name], notebook_name
    assert pd.Timestamp(args.scheduled_start) == pd.Timestamp(default["scheduled_start"])
    join, streams = HEADLINE_FLEETS
    assert join["units_per_instance"] == default["join_instance_workers"]
    assert streams["units_per_instance"] == default["stream_instance_servers"]
    assert join["price_per_hour"] == default["join_price_per_hour"]
    assert streams["price_per_hour"] == default["stream_price_per_hour"]
    for fleet in (join, streams):
        assert fleet["lead_time_s"] == default["instance_lead_time_s"]
        assert fleet["max_added_per_min"] == default["max_added_per_min"]
        assert fleet["min_hold_s"] == default["min_hold_s"]
