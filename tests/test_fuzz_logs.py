"""aggregate_logs on bad logs, generated: a result that accounts for every line, or a refusal.

Valid logs (Common Log Format, CSV with ISO times or epoch numbers, Parquet) are
drawn with the second of every line known, then damaged: lines truncated, cut by
a carriage return, given bad UTC offsets, bad dates, years out of range, huge
epochs, binary junk, bytes that are not UTF-8, extra or missing fields; files
truncated, compressed and corrupted, emptied, given a byte order mark or CRLF
line ends, quoted headers. Each line's fate is known by construction: counted
in its second, malformed, or (a few, where the damage decides) one of the two.

Asserted for every log: aggregate_logs returns or raises ValueError, nothing
else; a refusal names the file and happens only where the damage allows one
(a file that cannot be read at all); a result counts every line once, either
in its interval or as malformed (no line lost, none counted twice), counts no
bad value (every counted line is in its own second, so no bad offset or date
shifted a count), and its examples name the file and a line that exists.

The quick profile (unmarked) draws a hundred logs, in seconds; the slow one a
thousand (about a minute of CPU). Examples are derandomized: a red run points at
a change, not at luck. Each log is drawn with some damage, so each is a bad log.
"""

from __future__ import annotations

import gzip
import io
import itertools
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

pytest.importorskip("duckdb", reason="duckdb is needed for capplan.scale (pip install duckdb)")

from capplan.scale.logs import CLF_PATTERN, aggregate_logs

START = pd.Timestamp("2024-06-10 18:00:00", tz="UTC")
SPAN_S = 600  # good lines fall in ten minutes from START
START_S = int(START.timestamp())
CLF_BYTES = re.compile(CLF_PATTERN.encode())
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

GOOD_CLF_OFFSETS = ["+0000", "+0200", "-0400", "+0545", "+1400", "-1200", "-0930", "+0100"]
BAD_CLF_OFFSETS = ["+9999", "+2500", "+0260", "+1401", "-1500", "+1460", "-9900", "+2400"]
GOOD_ISO_OFFSETS = ["Z", "+00:00", "+02:00", "-04:00", "+05:45", "+14:00", "-12:00", "+0530"]
BAD_ISO_OFFSETS = ["+99:00", "+25:00", "+14:30", "+02:60", "-15:00", "+2500", "+0260", "-99:99"]
BAD_CLF_DATES = [  # (text to put in the brackets), all unreadable or out of range
    "10/Foo/2024:18:00:00 +0000",
    "32/Jun/2024:18:00:00 +0000",
    "31/Jun/2024:18:00:00 +0000",
    "10/Jun/2024:25:00:00 +0000",
    "10/Jun/2024:18:61:00 +0000",
    "10/Jun/9999:18:00:00 +0000",
    "10/Jun/1969:18:00:00 +0000",
    "01/Jan/1970:00:00:00 +0000",
    "10/Jun/24:18:00:00 +0000",
    "10/Jun/2024 18:00:00 +0000",
    "10/Jun/2024:18:00:00",
    "",
]
BAD_ISO_TIMES = [
    "yesterday",
    "2024-13-01T00:00:00Z",
    "2024-06-10T25:00:00Z",
    "2024-02-30T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "1969-07-20T20:17:00Z",
    "0001-01-01T00:00:00Z",
    "infinity",
    "-infinity",
    "epoch",
    "1970-01-01T00:00:00Z",
    "12345",
    "2024-06-10 (BC)",
    "294247-01-01T00:00:00Z",
]
BAD_EPOCHS = ["1e300", "-5", "0", "nan", "inf", "-inf", "99999999999999", "abc", "1e19", "-1e300"]

# Bytes for junk: no line ends (a line is cut only where a test means it).
JUNK = st.binary(min_size=1, max_size=60).map(lambda b: b.replace(b"\n", b"").replace(b"\r", b""))
# Bytes that may stand inside a CLF request: anything but a quote, a backslash and line ends.
URL_BYTES = st.binary(min_size=1, max_size=12).map(
    lambda b: bytes(c for c in b if c not in b'"\\\n\r') or b"\xe9"
)


@dataclass
class Line:
    """One physical line and its fate: 'good' at `second` (UTC), 'bad', or 'maybe'.

    A 'maybe' line is either malformed or counted at `second` (the damage decides).
    """

    data: bytes
    fate: str
    second: int | None = None
    error: bool = False


@dataclass
class Log:
    name: str
    data: bytes
    lines: list[Line]
    kwargs: dict = field(default_factory=dict)
    refusal: str = "never"  # "never", "allowed" or "required"
    what: str = ""  # the damage, for a failing example's message
    whole: str = "plain"  # what was done to the file as a whole
    physical: int = 0  # lines in the text, header and blank lines included


# --- Common Log Format ----------------------------------------------------------------------


def clf_date(second: int, offset: str) -> str:
    sign = 1 if offset[0] == "+" else -1
    shift = sign * (int(offset[1:3]) * 3600 + int(offset[3:5]) * 60)
    local = pd.Timestamp(START_S + second + shift, unit="s")
    return f"{local.day:02d}/{MONTHS[local.month - 1]}/{local.year}:{local:%H:%M:%S} {offset}"


def clf_line(second, offset, status, path=b"/a", agent=b'"-" "agent/1.0"') -> tuple[bytes, int]:
    """A CLF line and the length of its shortest valid prefix (through one byte of size)."""
    head = f"10.0.{second % 250}.{status % 7} - - [{clf_date(second, offset)}] ".encode()
    request = b'"GET ' + path + b' HTTP/1.1"'
    tail = f" {status} ".encode()
    line = head + request + tail + b"1234 " + agent
    return line, len(head + request + tail) + 1


def fragment(data: bytes, good_second: int | None, error: bool) -> Line:
    """The fate of a piece of a good line: counted where it still is a CLF line."""
    if good_second is not None and CLF_BYTES.match(data):
        return Line(data, "good", good_second, error)
    return Line(data, "bad")


@st.composite
def clf_logs(draw) -> Log:
    n = draw(st.integers(1, 25))
    count_errors = draw(st.booleans())
    lines: list[Line] = []
    damage: list[str] = []
    for _ in range(n):
        second = draw(st.integers(0, SPAN_S - 1))
        offset = draw(st.sampled_from(GOOD_CLF_OFFSETS))
        status = draw(st.sampled_from([200, 200, 304, 404, 429, 500, 503]))
        error = count_errors and status >= 500
        kind = draw(
            st.sampled_from(
                ["keep"] * 6
                + ["offset", "date", "cut", "junk", "empty", "url", "agent", "cr", "escape"]
                + ["junk_after"]
            )
        )
        damage.append(kind)
        line, shortest = clf_line(second, offset, status)
        if kind == "keep":
            lines.append(Line(line, "good", second, error))
        elif kind == "offset":
            bad = draw(st.sampled_from(BAD_CLF_OFFSETS))
            lines.append(Line(line.replace(f" {offset}]".encode(), f" {bad}]".encode()), "bad"))
        elif kind == "date":
            date = draw(st.sampled_from(BAD_CLF_DATES)).encode()
            lines.append(Line(re.sub(rb"\[[^\]]*\]", b"[" + date + b"]", line), "bad"))
        elif kind == "cut":  # cut before the size field: not a CLF line
            lines.append(Line(line[: draw(st.integers(0, shortest - 2))], "bad"))
        elif kind == "junk":
            lines.append(Line(draw(JUNK).replace(b"[", b"("), "bad"))
        elif kind == "empty":
            lines.append(Line(draw(st.sampled_from([b"", b" ", b"\t", b"  \t "])), "bad"))
        elif kind == "url":  # bytes that are not UTF-8 (or NUL, controls) in the URL
            path = b"/" + draw(URL_BYTES)
            line = clf_line(second, offset, status, path=path)[0]
            lines.append(Line(line, "good", second, error))
        elif kind == "agent":
            agent = b'"-" "' + draw(URL_BYTES) + b'"'
            lines.append(
                Line(clf_line(second, offset, status, agent=agent)[0], "good", second, error)
            )
        elif kind == "escape":  # an escaped quote inside the request
            path = b'/q?x=\\"' + draw(st.sampled_from([b"a", b"\\\\", b"\xff"])) + b'\\"'
            line = clf_line(second, offset, status, path=path)[0]
            lines.append(Line(line, "good", second, error))
        elif kind == "cr":  # a carriage return alone splits the line in two
            at = draw(st.integers(1, len(line) - 1))
            lines.append(fragment(line[:at], second, error))
            lines.append(fragment(line[at:], second, error))
        elif kind == "junk_after":
            lines.append(Line(line, "good", second, error))
            for _ in range(draw(st.integers(1, 3))):
                lines.append(Line(draw(JUNK).replace(b"[", b"("), "bad"))
    log = Log("access.log", b"", lines, {"count_errors": count_errors}, what=",".join(damage))
    clean = all(d == "keep" for d in damage)
    return draw(text_file(log, crlf_ok=all(d != "cr" for d in damage), clean=clean))


# --- CSV ------------------------------------------------------------------------------------


@st.composite
def csv_logs(draw) -> Log:
    epoch = draw(st.booleans())
    count_errors = draw(st.booleans())
    extra = draw(st.sampled_from([None, "user", '"user, name"', '"a ""b"" c"']))
    order = ["timestamp", "status"] + ([extra] if extra else [])
    order = [*draw(st.permutations(order)), "url"]  # the URL last (a cut there keeps the row)
    header = ",".join(order).encode()
    kwargs = {"count_errors": count_errors}
    if epoch:
        kwargs.update(timestamp_unit="s")
    n = draw(st.integers(1, 25))
    lines: list[Line] = []
    damage: list[str] = []
    for _ in range(n):
        second = draw(st.integers(0, SPAN_S - 1))
        status = draw(st.sampled_from([200, 200, 404, 500, 503]))
        error = count_errors and status >= 500
        if epoch:
            time = f"{START_S + second}" + draw(st.sampled_from(["", ".0", ".25", ".999"]))
        else:
            offset = draw(st.sampled_from(GOOD_ISO_OFFSETS))
            time = iso(second, offset, draw(st.sampled_from(["", ".5", ".123456"])))
        values = {"timestamp": time, "status": str(status), "url": "/a"}
        if extra:
            values[extra] = draw(st.sampled_from(["ann", '"b, c"', ""]))
        kinds = ["keep"] * 5 + ["time", "extra", "missing", "url", "quoted", "junk", "blank"]
        if count_errors:
            kinds.append("status")
        if not epoch:
            kinds.append("offset")
        kind = draw(st.sampled_from(kinds))
        damage.append(kind)
        fate, data = "good", None
        if kind == "time":
            values["timestamp"] = draw(st.sampled_from(BAD_EPOCHS if epoch else BAD_ISO_TIMES))
            fate = "bad"
        elif kind == "offset":
            values["timestamp"] = iso(second, "+00:00", "")[:-6] + draw(
                st.sampled_from(BAD_ISO_OFFSETS)
            )
            fate = "bad"
        elif kind == "status":
            values["status"] = draw(st.sampled_from(["OK", "", "5xx", "2OO"]))
            fate = "bad"
        elif kind == "quoted":
            values["url"] = '"/a,b ""c"" d"'
        row = ",".join(values[c] for c in order).encode()
        if kind == "extra":
            row, fate = row + b",x", "bad"
        elif kind == "missing":
            row, fate = row[: row.rindex(b",")], "bad"
        elif kind == "url":
            row = row[: row.rindex(b",") + 1] + draw(URL_BYTES).replace(b",", b";")
        elif kind == "junk":  # one field: too few (and no line at all if empty)
            data = draw(JUNK).replace(b",", b";").replace(b'"', b"'")
            row, fate = data, "bad" if data else "skip"
        if kind == "blank":  # an empty line is no record: skipped, not counted
            lines.append(Line(b"", "skip"))
        lines.append(Line(row, fate, second if fate == "good" else None, error))
    log = Log("joins.csv", header, lines, kwargs, what=",".join(damage))
    clean = all(d in ("keep", "quoted") for d in damage)
    return draw(text_file(log, crlf_ok=True, csv_header=header, clean=clean))


def iso(second: int, offset: str, fraction: str) -> str:
    if offset == "Z":
        shift = 0
    else:
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        shift = sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60)
    local = pd.Timestamp(START_S + second + shift, unit="s")
    return f"{local:%Y-%m-%dT%H:%M:%S}{fraction}{offset}"


# --- the file: line ends, truncation, compression, damage ----------------------------------


@st.composite
def text_file(draw, log: Log, crlf_ok: bool, csv_header=None, clean=False) -> Log:
    """Lay out the lines, then damage or compress the file as a whole.

    A log whose lines are all whole gets damage of the file's: every log is a bad one.
    """
    lines = log.lines
    end = b"\r\n" if crlf_ok and draw(st.booleans()) else b"\n"
    damage = ["bom", "truncate", "gzip_cut", "gzip_flip", "not_gzip", "zstd_cut", "empty"]
    damage.append("all_junk")
    whole = draw(
        st.sampled_from(
            damage if clean else ["plain"] * 4 + damage + ["no_last_end", "gzip", "zstd"]
        )
    )
    log.what += f" | {whole} {end!r}"
    if whole == "all_junk":  # nothing readable: refused, or malformed if a header is read
        junk = [draw(JUNK).replace(b"[", b"(") for _ in range(draw(st.integers(1, 5)))]
        lines = [Line(data, "bad") for data in junk]
        log.refusal = "required"
    kept = [line for line in lines if line.fate != "skip"]
    if whole == "truncate" and kept:
        last = kept[-1]
        lines = lines[: lines.index(last)]
        if csv_header is None:
            cut = last.data[: draw(st.integers(0, len(last.data)))]
            good = last.second if last.fate == "good" else None
            if cut:  # (cut to nothing, the line is gone)
                lines.append(fragment(cut, good, last.error))
        elif last.fate != "good":  # a bad row cut could be a good one: left whole
            lines.append(last)
        else:  # in the URL, the last field: the row stays whole unless its comma goes
            comma = last.data.rfind(b",")
            at = draw(st.integers(comma, len(last.data)))
            cut = last.data[:at]
            if b'"' in last.data:
                lines.append(Line(cut, "maybe", last.second, last.error))
                log.refusal = "allowed"  # a quote the cut may leave open
            elif at == comma:
                lines.append(Line(cut, "bad"))
            else:
                lines.append(Line(cut, "good", last.second, last.error))
        end_last = False
    else:
        end_last = whole != "no_last_end"
    body = end.join(line.data for line in lines) + (end if end_last and lines else b"")
    if csv_header is not None:
        body = csv_header + end + body
    log.physical = body.count(b"\n") + 1
    if whole == "bom":
        body = b"\xef\xbb\xbf" + body
    if whole == "empty":
        body, lines = b"", []
        log.refusal = "required"
    name = log.name
    if whole in ("gzip", "gzip_cut", "gzip_flip"):
        name += ".gz"
        level = 0 if whole == "gzip_flip" else draw(st.sampled_from([0, 1, 6]))
        body = gzip.compress(body, compresslevel=level, mtime=0)
        if whole == "gzip_cut":
            body = body[: draw(st.integers(0, len(body) - 1))]
            log.refusal = "required"
        elif whole == "gzip_flip":  # in the stored data: decoded cleanly, the checksum tells
            at = draw(st.integers(min(15, len(body) - 1), max(15, len(body) - 9)))
            # (a mask under 128 keeps text text: only the checksum can tell)
            body = body[:at] + bytes([body[at] ^ draw(st.integers(1, 127))]) + body[at + 1 :]
            log.refusal = "allowed" if log.refusal != "required" else "required"
    elif whole == "not_gzip":
        name += ".gz"
        log.refusal = "required"
    elif whole in ("zstd", "zstd_cut"):
        import pyarrow as pa

        name += ".zst"
        body = pa.Codec("zstd").compress(body, asbytes=True)
        if whole == "zstd_cut":
            body = body[: draw(st.integers(0, len(body) - 1))]
            log.refusal = "required"
    log.name, log.data, log.lines, log.whole = name, body, lines, whole
    return log


# --- Parquet and JSON lines -------------------------------------------------------------------


@st.composite
def parquet_logs(draw) -> Log:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = draw(st.integers(1, 20))
    values, lines = [], []
    for _ in range(n):
        second = draw(st.integers(0, SPAN_S - 1))
        kind = draw(st.sampled_from(["keep"] * 4 + ["null", "9999", "1969", "epoch", "max"]))
        if kind == "keep":
            values.append(pd.Timestamp(START_S + second, unit="s", tz="UTC").to_pydatetime())
            lines.append(Line(b"", "good", second))
        else:
            far = {
                "null": None,
                "9999": "9999-12-31 23:59:59",
                "1969": "1969-12-31 23:59:59",
                "epoch": "1970-01-01 00:00:00",
                "max": "2262-06-01 00:00:00",
            }[kind]
            values.append(None if far is None else pd.Timestamp(far, tz="UTC").to_pydatetime())
            lines.append(Line(b"", "bad"))
    if all(line.fate == "good" for line in lines):  # every log is a bad one
        values[-1], lines[-1] = None, Line(b"", "bad")
    table = pa.table({"timestamp": pa.array(values, pa.timestamp("us", tz="UTC"))})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    data = buffer.getvalue()
    log = Log("events.parquet", data, lines, what="parquet", physical=n)
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data) - 1))
        log.data, log.refusal, log.what = data[:cut], "required", f"parquet cut at {cut}"
        log.lines = []
    log.whole = "parquet"
    return log


@st.composite
def jsonl_logs(draw) -> Log:
    n = draw(st.integers(1, 10))
    rows = [
        f'{{"timestamp": "{iso(draw(st.integers(0, SPAN_S - 1)), "Z", "")}", "status": 200}}'
        for _ in range(n)
    ]
    name = draw(st.sampled_from(["events.jsonl", "events.json", "events.ndjson"]))
    log = Log(name, ("\n".join(rows) + "\n").encode(), [], refusal="required", what="jsonl")
    log.whole = "jsonl"
    return log


LOGS = st.one_of(clf_logs(), clf_logs(), csv_logs(), csv_logs(), parquet_logs(), jsonl_logs())


# --- the check ------------------------------------------------------------------------------

_counter = itertools.count()


def check(log: Log, folder: Path) -> str:
    """Aggregate one log and hold the result (or refusal) to the lines' fates."""
    path = folder / f"{next(_counter)}-{log.name}"
    path.write_bytes(log.data)
    try:
        counts = aggregate_logs(path, "1s", max_examples=3, **log.kwargs)
    except ValueError as error:
        message = str(error)
        assert str(path) in message, f"the refusal does not name the file: {message}"
        good = [line for line in log.lines if line.fate == "good"]
        assert log.refusal != "never" or not good, f"refused ({log.what}): {message}"
        return "refused"
    finally:
        path.unlink()
    assert log.refusal != "required", f"read although it cannot be ({log.what})"
    lines = [line for line in log.lines if line.fate != "skip"]
    expected = {}
    errors = {}
    maybe = {}
    for line in lines:
        if line.fate == "good":
            expected[line.second] = expected.get(line.second, 0) + 1
            errors[line.second] = errors.get(line.second, 0) + line.error
        elif line.fate == "maybe":
            maybe[line.second] = maybe.get(line.second, 0) + 1
    seen = {
        int((t - START).total_seconds()): int(n)
        for t, n in zip(counts["timestamp"], counts[counts.columns[1]], strict=True)
        if n
    }
    where = f"({log.what})"
    for second, n in seen.items():
        low = expected.get(second, 0)
        assert low <= n <= low + maybe.get(second, 0), f"second {second}: {n} lines {where}"
    for second, n in expected.items():
        assert seen.get(second, 0) >= n, f"second {second}: {seen.get(second, 0)}, not {n} {where}"
    attrs = counts.attrs
    assert attrs["lines"] == len(lines), f"{attrs['lines']} lines read, not {len(lines)} {where}"
    assert attrs["malformed"] == attrs["lines"] - sum(seen.values())
    if log.kwargs.get("count_errors"):
        got = dict(
            zip(
                (int((t - START).total_seconds()) for t in counts["timestamp"]),
                counts["join_errors"],
                strict=True,
            )
        )
        for second, n in errors.items():
            assert got.get(second, 0) >= n, f"second {second}: errors {where}"
    for example in attrs["malformed_examples"]:
        assert example["file"] == str(path)
        assert example["line"] is None or 1 <= example["line"] <= log.physical, example
    if not counts.empty:
        assert counts["timestamp"].min() >= START
        assert counts["timestamp"].max() < START + pd.Timedelta(seconds=SPAN_S)
    return "read"


def fuzz(examples: int):
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory(prefix="capplan-fuzz-logs-") as name:
        yield Path(name)


@fuzz(100)
@given(log=LOGS)
def test_bad_logs_are_read_line_by_line_or_refused_by_name(folder, log):
    event(f"{log.whole}: {check(log, folder)}")


@pytest.mark.slow
@fuzz(1000)
@given(log=LOGS)
def test_bad_logs_are_read_line_by_line_or_refused_by_name_long(folder, log):
    event(f"{log.whole}: {check(log, folder)}")
