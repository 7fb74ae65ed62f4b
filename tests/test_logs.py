"""aggregate_logs: small logs with known counts, malformed lines, offsets and gaps."""

import gzip
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


# --- bad input (#20): a named refusal or malformed lines, never a traceback ----------------

LINE = '10.0.0.1 - - [10/Jun/1998:15:30:01 +0200] "GET /a HTTP/1.0" 200 1234\n'
AGGREGATE = "import sys; from capplan.scale.logs import main_aggregate as m; sys.exit(m())"


def command(*args):
    """Run ``capplan aggregate`` in a subprocess: (exit code, stdout, stderr)."""
    result = subprocess.run(
        [sys.executable, "-c", AGGREGATE, *map(str, args)], capture_output=True, text=True
    )
    return result.returncode, result.stdout, result.stderr


def command_here(capsys, *args):
    """``capplan aggregate`` in this process (faster): (exit code, stdout, stderr)."""
    from capplan.scale.logs import main_aggregate

    capsys.readouterr()
    code = main_aggregate([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(code, out, err, *names):
    assert code == 2, err
    assert "Traceback" not in err and out == ""
    assert err.count("\n") == 1 and err.startswith("capplan aggregate: error: "), err
    for name in names:
        assert str(name) in err


@pytest.mark.parametrize(
    "name, data, says",
    [
        ("truncated.log.gz", gzip.compress((LINE * 50).encode())[:40], "truncated or damaged"),
        ("plain.log.gz", (LINE * 5).encode(), "not a GZIP stream"),
        ("junk.log.zst", bytes(range(256)) * 4, "zstd"),
        (
            "truncated.csv.gz",
            gzip.compress(b"timestamp\n" + b"2024-06-10T18:00:00Z\n" * 99)[:50],
            "truncated or damaged",
        ),
        ("junk.parquet", b"PAR1" + bytes(300), "Parquet"),
    ],
    ids=["truncated-gz", "plain-gz", "junk-zst", "truncated-csv-gz", "junk-parquet"],
)
def test_compressed_or_binary_files_that_cannot_be_read_are_refused_by_name(
    tmp_path, capsys, name, data, says
):
    import duckdb

    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ValueError, match=says) as error:
        aggregate_logs(path)
    assert str(error.value).startswith(f"{path}: cannot be read")
    assert isinstance(error.value.__cause__, duckdb.Error | OSError | EOFError)
    assert_refused(*command_here(capsys, path), path)


def test_a_gzip_file_whose_checksum_is_wrong_is_refused(tmp_path):
    # Stored (level 0) data: a changed digit decodes cleanly, only the checksum tells.
    data = bytearray(gzip.compress((LINE * 20).encode(), compresslevel=0))
    at = data.index(b"15:30:01")
    data[at + 7] = ord("7")
    path = tmp_path / "flipped.log.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"flipped\.log\.gz: .*CRC check failed.*damaged"):
        aggregate_logs(path)
    good = tmp_path / "good.log.gz"
    good.write_bytes(gzip.compress((LINE * 20).encode()))
    assert aggregate_logs(good)["requests"].tolist() == [20]


def test_the_error_of_one_compressed_file_among_several_names_that_file(tmp_path):
    import duckdb

    files = [tmp_path / f"part{k}.log.zst" for k in range(4)]
    con = duckdb.connect()
    for path in files:
        con.execute(
            f"COPY (SELECT '{LINE.strip()}' AS line FROM range(5000)) TO '{path}' "
            "(FORMAT csv, HEADER false, QUOTE '', COMPRESSION zstd)"
        )
    assert aggregate_logs(files)["requests"].tolist() == [20_000]
    # DuckDB reads a zstd file cut short as far as it goes, without a word: refused here.
    data = files[1].read_bytes()
    files[1].write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"part1\.log\.zst: .*Truncated.*truncated or damaged"):
        aggregate_logs(files)
    # DuckDB's message names no file: the file is found by reading each alone.
    rng = np.random.default_rng(1)
    files[1].write_bytes(b"\x28\xb5\x2f\xfd" + rng.integers(0, 256, 64, dtype=np.uint8).tobytes())
    with pytest.raises(ValueError, match=r"part1\.log\.zst: cannot be read") as error:
        aggregate_logs(files)
    assert isinstance(error.value.__cause__, (duckdb.Error, OSError))


def test_binary_junk_is_malformed_lines_or_a_refusal_when_nothing_else_is_there(tmp_path):
    rng = np.random.default_rng(7)
    junk = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes().replace(b"\r", b"")
    mixed = tmp_path / "mixed.log"
    mixed.write_bytes(LINE.encode() * 3 + junk + b"\n" + LINE.encode() * 2)
    counts = aggregate_logs(mixed)
    assert counts["requests"].tolist() == [5]
    assert counts.attrs["malformed"] == junk.count(b"\n") + 1
    assert counts.attrs["lines"] == 5 + junk.count(b"\n") + 1
    first = counts.attrs["malformed_examples"][0]
    assert first["file"] == str(mixed) and first["line"] == 4
    only = tmp_path / "only.log"
    only.write_bytes(junk)
    with pytest.raises(ValueError, match=r"only\.log: no line could be read as Common Log"):
        aggregate_logs(only)
    assert_refused(*command(only), only)
    named = tmp_path / "packed.log"  # gzip data under a plain name: said so
    named.write_bytes(gzip.compress(LINE.encode() * 50))
    with pytest.raises(ValueError, match=r"packed\.log: .*looks gzip-compressed: name it \*\.gz"):
        aggregate_logs(named)


def test_long_lines_and_other_encodings_are_malformed_or_named(tmp_path):
    log = tmp_path / "long.log"  # a line over DuckDB's 2 MB: one malformed line, its number
    log.write_bytes(LINE.encode() + b"x" * 3_000_000 + b"\n" + LINE.encode())
    counts = aggregate_logs(log)
    assert counts["requests"].tolist() == [2] and counts.attrs["malformed"] == 1
    assert counts.attrs["malformed_examples"][0]["line"] == 2
    wide = tmp_path / "wide.log"
    wide.write_bytes(LINE.encode("utf-16"))
    with pytest.raises(ValueError, match=r"wide\.log: no line could be read.*UTF-16"):
        aggregate_logs(wide)


def test_out_of_range_epoch_numbers_are_malformed(tmp_path):
    path = tmp_path / "epoch.csv"
    values = ["1718042400", "1e300", "99999999999999", "-5", "nan", "inf", "0", "1718042401.5"]
    path.write_text("t\n" + "\n".join(values) + "\n")
    counts = aggregate_logs(path, timestamp_column="t", timestamp_unit="s")
    assert counts["timestamp"].tolist() == [utc("2024-06-10 18:00:00"), utc("2024-06-10 18:00:01")]
    assert counts["requests"].tolist() == [1, 1]
    assert counts.attrs["malformed"] == 6 and counts.attrs["lines"] == 8
    reasons = {
        e["reason"]
        for e in aggregate_logs(
            path, timestamp_column="t", timestamp_unit="s", max_examples=10
        ).attrs["malformed_examples"]
    }
    assert any("out of range" in r for r in reasons)
    ns = tmp_path / "ns.csv"  # nanoseconds of year 9999 overflow microseconds: out of range
    ns.write_text("t\n1718042400000000000\n253402300799000000000\n")
    counts = aggregate_logs(ns, timestamp_column="t", timestamp_unit="ns")
    assert counts["requests"].tolist() == [1] and counts.attrs["malformed"] == 1


def test_a_line_in_year_9999_is_malformed_not_billions_of_intervals(tmp_path):
    log = tmp_path / "far.log"
    log.write_text(LINE + LINE.replace("1998", "9999") + LINE.replace("1998", "1969"))
    counts = aggregate_logs(log)
    assert len(counts) == 1 and counts.attrs["malformed"] == 2
    assert {e["reason"] for e in counts.attrs["malformed_examples"]} == {
        "timestamp out of range (not after 1970-01-01, or not before 2262)"
    }
    csv = tmp_path / "far.csv"
    csv.write_text(
        "timestamp\n2024-06-10T18:00:00Z\n9999-12-31T23:59:59Z\ninfinity\n-infinity\nepoch\n"
        "294247-01-01T00:00:00Z\n2024-06-10 (BC)\n"
    )
    counts = aggregate_logs(csv)  # infinity and epoch are not naive times: out of range
    assert len(counts) == 1 and counts.attrs["malformed"] == 6


@pytest.mark.parametrize("offset", ["+9999", "+2500", "+0260", "+1401", "-1500", "+99:99"])
def test_clf_offsets_beyond_14_hours_or_60_minutes_are_malformed(tmp_path, offset):
    log = tmp_path / "offsets.log"
    good = [LINE.replace("+0200", o) for o in ("+1400", "-1200", "+0545", "-0000", "+02:00")]
    log.write_text(LINE + LINE.replace("+0200", offset) + "".join(good))
    counts = aggregate_logs(log, "1h")
    assert counts["requests"].sum() == 6 and counts.attrs["malformed"] == 1
    (example,) = counts.attrs["malformed_examples"]
    assert example["line"] == 2 and example["reason"].startswith("UTC offset out of range")


def test_iso_offsets_beyond_14_hours_or_60_minutes_are_malformed(tmp_path):
    path = tmp_path / "offsets.csv"
    bad = ["+99:00", "+25:00", "+14:30", "+02:60", "-15:00", "+0260", "+2500", " GMT+15"]
    good = ["+14:00", "-12:00", "-00:30", "+0545", "+05", "Z", "+02:00:30", " UTC"]
    stamps = [f"2024-06-10T18:00:00{o}" for o in bad + good]
    path.write_text("timestamp\n" + "\n".join(stamps) + "\n")
    counts = aggregate_logs(path, "1D")
    assert counts["requests"].sum() == len(good) and counts.attrs["malformed"] == len(bad)
    examples = aggregate_logs(path, "1D", max_examples=20).attrs["malformed_examples"]
    assert len(examples) == len(bad)
    assert all(e["reason"].startswith("UTC offset out of range") for e in examples)


def test_a_csv_header_is_read_as_csv(tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text(
        '"user, name",timestamp,"status"\n'
        '"ann, a",2024-06-10T18:00:00Z,200\n'
        "bob,2024-06-10T18:00:01Z,503\n"
    )
    counts = aggregate_logs(path, count_errors=True)
    assert counts["requests"].tolist() == [1, 1] and counts["join_errors"].tolist() == [0, 1]
    assert counts.attrs["malformed"] == 0
    bom = tmp_path / "bom.csv"  # a byte order mark is not part of the first name
    bom.write_bytes(b"\xef\xbb\xbftimestamp,x\r\n2024-06-10T18:00:00Z,1\r\n")
    assert aggregate_logs(bom)["requests"].tolist() == [1]
    twice = tmp_path / "twice.csv"
    twice.write_text("timestamp,timestamp\n2024-06-10T18:00:00Z,2024-06-10T18:00:00Z\n")
    with pytest.raises(ValueError, match=r"twice\.csv: line 1 names column\(s\) \['timestamp'\]"):
        aggregate_logs(twice)


def test_csv_files_with_different_headers_are_each_read_by_their_own(tmp_path):
    (tmp_path / "a.csv").write_text("timestamp,status\n2024-06-10T18:00:00Z,200\n")
    (tmp_path / "b.csv").write_text("status,timestamp,x\n503,2024-06-10T18:00:01Z,y\n")
    counts = aggregate_logs(tmp_path / "*.csv", count_errors=True)
    assert counts["requests"].tolist() == [1, 1] and counts["join_errors"].tolist() == [0, 1]


def test_bytes_that_are_not_utf8_do_not_make_a_line_unreadable(tmp_path):
    latin = LINE.replace("/a", "/caf\xe9 \xff").encode("latin-1")
    log = tmp_path / "latin.log"
    log.write_bytes(LINE.encode() + latin + b"not a line \xe9\n")
    counts = aggregate_logs(log)
    assert counts["requests"].tolist() == [2] and counts.attrs["malformed"] == 1
    (example,) = counts.attrs["malformed_examples"]
    assert example["file"] == str(log) and example["line"] == 3
    assert example["reason"] == "not a Common Log Format line"
    packed = tmp_path / "latin.log.gz"
    packed.write_bytes(gzip.compress(LINE.encode() + latin))
    assert aggregate_logs(packed)["requests"].tolist() == [2]
    csv = tmp_path / "latin.csv"  # an event named in UTF-8 keeps its name
    csv.write_bytes(
        "timestamp,event,url\n2024-06-10T18:00:00Z,coupe-été,/a\n".encode()
        + b"2024-06-10T18:00:01Z,coupe-\xc3\xa9t\xc3\xa9,/caf\xe9\n"
    )
    counts = aggregate_logs(csv, event_column="event")
    assert counts["event_id"].unique().tolist() == ["coupe-été"]
    assert counts["requests"].tolist() == [1, 1]


def test_an_unterminated_quote_refuses_the_file_with_its_line(tmp_path):
    path = tmp_path / "quote.csv"
    path.write_text(
        'timestamp,x\n2024-06-10T18:00:00Z,a\n2024-06-10T18:00:01Z,"b\n2024-06-10T18:00:02Z,c\n'
    )
    with pytest.raises(ValueError, match=r"quote\.csv, line 3: a quoted value is never closed"):
        aggregate_logs(path)


def test_a_file_with_too_many_unreadable_rows_is_refused(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("timestamp\n" + "2024-06-10T18:00:00Z,x\n" * 100_001)
    with pytest.raises(ValueError, match=r"wide\.csv: more than 100,000 rows cannot be read"):
        aggregate_logs(path)


@pytest.mark.parametrize(
    "interval",
    [
        0,
        -1,
        float("nan"),
        float("inf"),
        1e300,
        10**30,
        "0",
        "-1s",
        "nan",
        "inf",
        "1e300",
        "1ns",
        "soon",
        True,
        None,
        [1],
    ],
)
def test_bad_intervals_are_refused(clf_log, interval):
    with pytest.raises(ValueError, match="interval"):
        aggregate_logs(clf_log, interval)


def test_a_number_of_seconds_as_text_is_seconds(clf_log):
    assert aggregate_logs(clf_log, "60").attrs["interval_s"] == 60.0


@pytest.mark.parametrize(
    "arguments",
    [
        {"format": "xml"},
        {"format": None, "timestamp_unit": "minutes"},
        {"count_column": "hits"},
        {"max_examples": -1},
        {"max_examples": 10**30},
        {"max_intervals": 0},
        {"error_status": 10**30},
        {"error_status": 99.5},
        {"threads": 0},
        {"threads": "many"},
        {"memory_limit": "lots"},
        {"memory_limit": 5},
        {"naive_timezone": "Mars/Olympus"},
        {"timestamp_column": ""},
        {"timestamp_column": 5},
    ],
)
def test_every_bad_argument_is_a_value_error(clf_log, arguments):
    with pytest.raises(ValueError):
        aggregate_logs(clf_log, **arguments)


def test_paths_that_are_not_log_files_are_refused(tmp_path, clf_log):
    folder = tmp_path / "logs"
    folder.mkdir()
    with pytest.raises(ValueError, match=r"is a directory, not a file.*\*\.log"):
        aggregate_logs(folder)
    # A pattern that matches nothing: a FileNotFoundError, and a ValueError too.
    with pytest.raises(FileNotFoundError, match="no file matches") as error:
        aggregate_logs(folder / "*.log")
    assert isinstance(error.value, ValueError)
    (folder / "sub.log").mkdir()  # a directory that a pattern matches
    with pytest.raises(ValueError, match=r"sub\.log.*is a directory, not a log file"):
        aggregate_logs(folder / "*.log")
    with pytest.raises(ValueError, match="given twice"):
        aggregate_logs([clf_log, tmp_path / "*.log"])
    for paths in ([], [""], 5, [None]):
        with pytest.raises(ValueError, match="paths"):
            aggregate_logs(paths)
    odd = tmp_path / "access [1] *.log"  # characters DuckDB would read as a pattern
    odd.write_text(LINE)
    counts = aggregate_logs(odd)
    assert counts["requests"].tolist() == [1] and counts.attrs["files"] == [str(odd)]


def test_time_columns_of_the_wrong_type_are_refused_or_malformed(tmp_path):
    numbers = tmp_path / "numbers.parquet"
    pd.DataFrame({"timestamp": [1718042400, 1718042401]}).to_parquet(numbers)
    with pytest.raises(
        ValueError, match=r"numbers\.parquet: column 'timestamp' holds BIGINT.*unit"
    ):
        aggregate_logs(numbers)
    assert aggregate_logs(numbers, timestamp_unit="s")["requests"].tolist() == [1, 1]
    flags = tmp_path / "flags.parquet"
    pd.DataFrame({"timestamp": [True]}).to_parquet(flags)
    with pytest.raises(ValueError, match=r"flags\.parquet: column 'timestamp' holds BOOLEAN"):
        aggregate_logs(flags)
    stamps = tmp_path / "stamps.parquet"
    pd.DataFrame({"timestamp": pd.to_datetime(["2024-06-10 18:00:00"], utc=True)}).to_parquet(
        stamps
    )
    with pytest.raises(ValueError, match=r"stamps\.parquet: .*holds TIMESTAMP WITH TIME ZONE"):
        aggregate_logs(stamps, timestamp_unit="s")
    # Parquet files of different time types are read apart; mixed text is per row.
    text = tmp_path / "text.parquet"
    pd.DataFrame({"timestamp": ["2024-06-10T18:00:01Z", "soon"]}).to_parquet(text)
    counts = aggregate_logs([stamps, text])
    assert counts["requests"].tolist() == [1, 1] and counts.attrs["malformed"] == 1
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("timestamp\n2024-06-10T18:00:00Z\n1718042400\ntrue\n2024-06-10T18:00:01Z\n")
    counts = aggregate_logs(mixed)
    assert counts["requests"].tolist() == [1, 1] and counts.attrs["malformed"] == 2


def test_many_events_are_laid_out_at_once(tmp_path):
    path = tmp_path / "events.csv"
    rows = [f"2024-06-10T18:00:0{k % 3}Z,ev-{k:05d}" for k in range(30_000)]
    path.write_text("timestamp,event\n" + "\n".join(rows) + "\n")
    counts = aggregate_logs(path, event_column="event")
    assert counts["event_id"].nunique() == 30_000 and counts["requests"].sum() == 30_000
    assert counts.groupby("event_id").size().max() == 1
    with pytest.raises(ValueError, match="max_intervals"):
        aggregate_logs(path, event_column="event", max_intervals=29_999)


def test_command_line_refusals_are_one_line(tmp_path, clf_log, capsys):
    for arguments in (
        [clf_log, "--interval", "0"],
        [clf_log, "--interval", "nan"],
        [clf_log, "--interval", "inf"],
        [clf_log, "--interval", "-5"],
        [clf_log, "--interval", "1e300"],
        [clf_log, "--format", "xml"],
        [clf_log, "--timestamp-unit", "days"],
        [tmp_path],
        [tmp_path / "*.nothing"],
        [clf_log, "-o", tmp_path / "no" / "such" / "folder.csv"],
        [clf_log, "-o", tmp_path / "out.txt"],
        [clf_log, "--no-such-option"],
    ):
        assert_refused(*command_here(capsys, *arguments))
    assert_refused(*command(clf_log, "--interval", "nan"))  # and in a process of its own


def test_command_line_output_is_written_whole_or_not_at_all(tmp_path, clf_log):
    out = tmp_path / "counts.parquet"
    assert command(clf_log, "-o", out)[0] == 0
    before = out.read_bytes()
    broken = tmp_path / "broken.log.gz"
    broken.write_bytes(gzip.compress(CLF.encode())[:30])
    assert_refused(*command(broken, "-o", out), broken)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["access.log", "broken.log.gz", "counts.parquet"]
    )
    assert pd.read_parquet(out)["requests"].tolist() == [2, 0, 1, 1]
