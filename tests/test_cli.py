"""The command line as a user runs it."""

import subprocess
import sys

import pandas as pd


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
