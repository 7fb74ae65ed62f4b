"""aggregate_logs: small logs with known counts, malformed lines, offsets and gaps."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("duckdb", reason="duckdb is needed for capplan.scale (pip install duckdb)")

from capplan.scale import aggregate_logs

CLF = (
    '10.0.0.1 - - [10/Jun/1998:15:30:01 +0200] "GET /a HTTP/1.0" 200 1234\n'
    '10.0.0.2 - bob [10/Jun/1998:15:30:01 +0200] "GET /b?q=\\"x\\" HTTP/1.0" 503 -\n'
    "not a log line at all\n"
    # 15:30:02 local has no line: a second with zero requests
    '10.0.0.3 - - [10/Jun/1998:13:30:03 +0000] "POST /join HTTP/1.1" 500 12 "-" "agent/1.0"\n'
    '10.0.0.4 - - [31/Foo/1998:15:30:03 +0200] "GET /a HTTP/1.0" 200 1\n'
    "\n"
    '10.0.0.5 - - [10/Jun/1998:09:30:04 -0400] "GET /a HTTP/1.0" 404 1\n'
)


def utc(text):
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture
def clf_log(tmp_path):
    path = tmp_path / "access.log"
    path.write_text(CLF)
    return path


def test_clf_counts_per_second_in_utc_with_the_gap_as_zero(clf_log):
    counts = aggregate_logs(clf_log, "1s", count_errors=True)
    assert list(counts.columns) == ["timestamp", "requests", "join_errors"]
    assert str(counts["timestamp"].dt.tz) == "UTC"
    # +0200, +0000 and -0400 lines land on 13:30:01..04 UTC; 13:30:02 had no line
    assert counts["timestamp"].tolist() == [utc(f"1998-06-10 13:30:0{s}") for s in (1, 2, 3, 4)]
    assert counts["requests"].tolist() == [2, 0, 1, 1]
    assert counts["join_errors"].tolist() == [1, 0, 1, 0]  # 503 and 500; 404 is not >= 500


def test_clf_malformed_lines_are_counted_with_file_and_line(clf_log):
    counts = aggregate_logs(clf_log, "1s")
    assert counts.attrs["malformed"] == 3
    assert counts.attrs["lines"] == 7
    examples = counts.attrs["malformed_examples"]
    assert [(e["line"], e["reason"]) for e in examples] == [
        (3, "not a Common Log Format line"),
        (5, "timestamp missing or unreadable"),
        (6, "empty line"),
    ]
    assert examples[0]["file"] == str(clf_log) and examples[0]["text"] == "not a log line at all"
    assert aggregate_logs(clf_log, max_examples=1).attrs["malformed_examples"][0]["line"] == 3


def test_longer_intervals_align_to_the_epoch(clf_log):
    counts = aggregate_logs(clf_log, "1min")
    assert counts["timestamp"].tolist() == [utc("1998-06-10 13:30")]
    assert counts["requests"].tolist() == [4]
    assert counts.attrs["interval_s"] == 60.0


def test_csv_with_events_status_offsets_and_bad_rows(tmp_path):
    path = tmp_path / "joins.csv"
    path.write_text(
        "timestamp,event,status\n"
        "2024-06-10T18:00:00.250Z,ev-a,200\n"  # line 2
        "2024-06-10T20:00:00.900+02:00,ev-a,503\n"  # 18:00:00 UTC
        "2024-06-10T18:00:02Z,ev-a,200\n"  # 18:00:01 is a gap
        "2024-06-10 18:00:05,ev-b,200\n"  # naive: read in naive_timezone, UTC here
        "yesterday,ev-b,200\n"  # line 6: bad timestamp
        "2024-06-10T18:00:05Z,ev-b\n"  # line 7: missing column
        "2024-06-10T18:00:05Z,ev-b,200,extra\n"  # line 8: too many
        "2024-06-10T18:00:06Z,ev-b,OK\n"  # line 9: status not an integer
        "2024-06-10T18:00:06Z,,200\n"  # line 10: no event
    )
    counts = aggregate_logs(
        path,
        "1s",
        event_column="event",
        count_errors=True,
        count_column="joins",
        naive_timezone="UTC",
    )
    assert list(counts.columns) == ["event_id", "timestamp", "joins", "join_errors"]
    a = counts[counts["event_id"] == "ev-a"]
    assert a["timestamp"].tolist() == [utc("2024-06-10 18:00:0" + s) for s in "012"]
    assert a["joins"].tolist() == [2, 0, 1]
    assert a["join_errors"].tolist() == [1, 0, 0]
    b = counts[counts["event_id"] == "ev-b"]
    assert b["timestamp"].tolist() == [utc("2024-06-10 18:00:05")]
    assert b["joins"].tolist() == [1]
    assert counts.attrs["malformed"] == 5 and counts.attrs["lines"] == 9
    examples = counts.attrs["malformed_examples"]
    assert [e["line"] for e in examples[:4]] == [6, 7, 8, 9]
    assert examples[4]["reason"] == "event missing" and "ev-b" not in examples[4]["text"]
    assert counts.attrs["conversions"] == [
        {
            "column": "timestamp",
            "count": 1,
            "action": "naive timestamps read as UTC and converted to UTC",
        }
    ]


def test_naive_timezone_and_epoch_numbers(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("timestamp\n2024-06-10 20:00:00\n2024-06-10 20:00:01\n")
    counts = aggregate_logs(path, naive_timezone="Europe/Paris")
    assert counts["timestamp"].iloc[0] == utc("2024-06-10 18:00:00")
    epoch = tmp_path / "epoch.csv"
    epoch.write_text("t\n1718042400.5\n1718042402\n")
    counts = aggregate_logs(epoch, timestamp_column="t", timestamp_unit="s")
    assert counts["timestamp"].iloc[0] == utc("2024-06-10 18:00:00")
    assert counts["requests"].tolist() == [1, 0, 1]


def test_naive_timestamps_are_refused_naming_file_column_and_an_example(tmp_path):
    path = tmp_path / "naive.csv"
    path.write_text("when\n2024-06-10 20:00:00\n2024-06-10 20:00:01\n")
    with pytest.raises(ValueError) as error:
        aggregate_logs(path, timestamp_column="when")
    message = str(error.value)
    assert message.startswith(f"{path}: column 'when': timestamps have no time zone")
    assert "'2024-06-10 20:00:00'" in message  # an example value
    assert "naive_timezone='UTC'" in message and "--naive-timezone UTC" in message


def test_naive_timestamps_are_found_anywhere_in_the_file(tmp_path):
    # Offsets for longer than the first rows looked at, then one naive line: the
    # counting scan finds it. Mixing is allowed once the zone is given.
    stamps = pd.date_range("2024-06-10 18:00", periods=3000, freq="10ms", tz="UTC")
    text = [*stamps.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00"), "2024-06-10 18:00:31"]
    path = tmp_path / "mixed.csv"
    path.write_text("timestamp\n" + "\n".join(text) + "\n")
    with pytest.raises(ValueError, match=r"mixed\.csv: column 'timestamp'.*'2024-06-10 18:00:31'"):
        aggregate_logs(path)
    counts = aggregate_logs(path, naive_timezone="UTC")
    assert counts["requests"].sum() == 3001 and counts.attrs["conversions"][0]["count"] == 1


def test_naive_parquet_timestamps_are_refused_with_their_row(tmp_path):
    path = tmp_path / "naive.parquet"
    stamps = pd.to_datetime([None, "2024-06-10 20:00:00", "2024-06-10 20:00:01"])
    pd.DataFrame({"timestamp": stamps}).to_parquet(path)
    with pytest.raises(ValueError, match=r"naive\.parquet: column 'timestamp', row 2: .*no time"):
        aggregate_logs(path)
    counts = aggregate_logs(path, naive_timezone="Europe/Paris")
    assert counts["timestamp"].tolist() == [utc("2024-06-10 18:00:00"), utc("2024-06-10 18:00:01")]


def test_an_explicit_zone_shifts_counts_by_its_offset_on_the_day(tmp_path):
    # Paris clocks jumped from 02:00 CET (+01:00) to 03:00 CEST (+02:00) on 2024-03-31:
    # 01:59:55 and 03:00:05 on the wall are ten seconds apart in UTC.
    wall = ["2024-03-31 01:59:30", "2024-03-31 01:59:55", "2024-03-31 03:00:05"]
    wall += ["2024-03-31 03:00:25", "2024-03-31 03:00:29"]
    path = tmp_path / "paris.csv"
    path.write_text("timestamp\n" + "\n".join(wall) + "\n")
    counts = aggregate_logs(path, "10s", naive_timezone="Europe/Paris")
    # Independent expectation: by hand (CET is UTC+1, CEST UTC+2) ...
    assert counts["timestamp"].iloc[0] == utc("2024-03-31 00:59:30")
    assert counts["timestamp"].iloc[-1] == utc("2024-03-31 01:00:20")
    # ... and with pandas' own time-zone database.
    local = pd.to_datetime(pd.Series(wall)).dt.tz_localize("Europe/Paris")
    buckets = local.dt.tz_convert("UTC").dt.floor("10s").value_counts()
    every = pd.date_range(buckets.index.min(), buckets.index.max(), freq="10s")
    expected = buckets.reindex(every, fill_value=0)
    assert counts["timestamp"].tolist() == every.tolist()
    assert counts["requests"].tolist() == expected.tolist() == [1, 0, 1, 1, 0, 2]
    assert counts.attrs["conversions"] == [
        {
            "column": "timestamp",
            "count": 5,
            "action": "naive timestamps read as Europe/Paris and converted to UTC",
        }
    ]


def test_timestamps_with_an_offset_or_epoch_numbers_need_no_zone(tmp_path, clf_log):
    path = tmp_path / "offsets.csv"
    path.write_text(
        "timestamp\n2024-06-10T20:00:00+02:00\n2024-06-10T18:00:00.5Z\n"
        "2024-06-10 23:30:01+0530\n2024-06-10 13:00:01-05\n2024-06-10 18:00:01 UTC\n"
    )
    counts = aggregate_logs(path)
    assert counts["timestamp"].tolist() == [utc("2024-06-10 18:00:00"), utc("2024-06-10 18:00:01")]
    assert counts["requests"].tolist() == [2, 3]
    aware = tmp_path / "aware.parquet"
    stamps = pd.to_datetime(["2024-06-10 20:00:00+02:00"], utc=True)
    pd.DataFrame({"timestamp": stamps}).to_parquet(aware)
    epoch = tmp_path / "epoch.csv"
    epoch.write_text("t\n1718042400\n")
    for counts in (
        aggregate_logs(clf_log),  # CLF dates always carry an offset
        aggregate_logs(aware),
        aggregate_logs(epoch, timestamp_column="t", timestamp_unit="s"),
    ):
        assert counts.attrs["conversions"] == []


def test_parquet_and_several_files_add_up(tmp_path, clf_log):
    stamps = pd.to_datetime(["1998-06-10 13:30:01.500", None, "1998-06-10 13:30:04.000"], utc=True)
    pd.DataFrame({"timestamp": stamps}).to_parquet(tmp_path / "more.parquet")
    counts = aggregate_logs([clf_log, tmp_path / "*.parquet"], "1s")
    assert counts["requests"].tolist() == [3, 0, 1, 2]
    assert counts.attrs["malformed"] == 4
    where = {(e["file"].rsplit("/", 1)[1], e["line"]) for e in counts.attrs["malformed_examples"]}
    assert ("more.parquet", 2) in where


def test_bad_arguments_name_what_is_wrong(tmp_path, clf_log):
    with pytest.raises(FileNotFoundError, match=r"nope\.log"):
        aggregate_logs(tmp_path / "nope.log")
    with pytest.raises(ValueError, match="interval"):
        aggregate_logs(clf_log, "soon")
    with pytest.raises(ValueError, match="event_column"):
        aggregate_logs(clf_log, event_column="event")
    csv = tmp_path / "x.csv"
    csv.write_text("time\n2024-01-01T00:00:00Z\n")
    with pytest.raises(ValueError, match=r"x\.csv.*'timestamp'.*\['time'\]"):
        aggregate_logs(csv)
    csv.write_text("timestamp\n2024-01-01T00:00:00Z\n2030-01-01T00:00:00Z\n")
    with pytest.raises(ValueError, match="max_intervals"):
        aggregate_logs(csv)


def test_a_log_with_no_line_is_refused_by_name(tmp_path):
    # A header alone, an empty file: nothing to count is refused, not an empty table.
    path = tmp_path / "empty.csv"
    path.write_text("timestamp\n")
    with pytest.raises(ValueError, match=r"empty\.csv: no line to count: .*only its header"):
        aggregate_logs(path)
    log = tmp_path / "empty.log"
    log.write_text("")
    with pytest.raises(ValueError, match=r"empty\.log: no line to count: the file is empty"):
        aggregate_logs(log)
    # An empty file beside others is an hour without requests: it adds nothing.
    other = tmp_path / "other.log"
    other.write_text(CLF)
    counts = aggregate_logs([log, other])
    assert counts["requests"].sum() == 4 and counts.attrs["lines"] == 7


def test_counts_agree_with_pandas_on_a_generated_log(tmp_path):
    rng = np.random.default_rng(3)
    seconds = np.sort(rng.uniform(0, 120, 20_000))
    stamps = pd.Timestamp("2024-06-10 18:00", tz="UTC") + pd.to_timedelta(seconds, unit="s")
    path = tmp_path / "gen.csv"
    pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")}).to_csv(
        path, index=False
    )
    counts = aggregate_logs(path, "5s")
    expected = pd.Series(1, index=stamps.floor("5s")).groupby(level=0).sum()
    assert counts["requests"].tolist() == expected.tolist()
    assert counts["timestamp"].tolist() == expected.index.tolist()


def test_command_line(tmp_path, clf_log):
    out = tmp_path / "counts.csv"
    code = "import sys; from capplan.scale.logs import main_aggregate as m; sys.exit(m())"
    run = [sys.executable, "-c", code]
    result = subprocess.run([*run, str(clf_log), "-o", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "3 malformed line(s)" in result.stderr and f"{clf_log}:3" in result.stderr
    assert pd.read_csv(out)["requests"].tolist() == [2, 0, 1, 1]
    result = subprocess.run([*run, str(tmp_path / "missing.log")], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "missing.log" in result.stderr


def test_command_line_refuses_naive_timestamps_unless_given_their_zone(tmp_path):
    naive = tmp_path / "naive.csv"
    naive.write_text("timestamp\n2024-06-10 20:00:00\n2024-06-10 20:00:01\n")
    code = "import sys; from capplan.scale.logs import main_aggregate as m; sys.exit(m())"
    run = [sys.executable, "-c", code, str(naive)]
    result = subprocess.run(run, capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert str(naive) in result.stderr and "'timestamp'" in result.stderr
    assert "--naive-timezone UTC" in result.stderr
    out = tmp_path / "counts.csv"
    zone = ["--naive-timezone", "Europe/Paris", "-o", str(out)]
    result = subprocess.run([*run, *zone], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "2 timestamp(s) in column 'timestamp'" in result.stderr
    assert "read as Europe/Paris" in result.stderr
    assert pd.read_csv(out)["timestamp"].tolist() == [
        "2024-06-10 18:00:00+00:00",
        "2024-06-10 18:00:01+00:00",
    ]
