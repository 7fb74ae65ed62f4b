"""The command line as a user runs it."""

import subprocess
import sys

import pandas as pd

import capplan


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
