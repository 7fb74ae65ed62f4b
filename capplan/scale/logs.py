"""``aggregate_logs``: raw request or join logs to the per-interval series of a history.

The files are scanned by DuckDB (embedded, no server), in parallel and in
bounded memory: only the per-interval counts ever reach Python. Lines that
cannot be read are counted and reported with examples, never dropped silently;
a file that cannot be read at all (damaged compression, not the format it is
read as) is refused by name, and DuckDB's own errors never reach the caller.
"""

from __future__ import annotations

import codecs
import csv
import glob
import gzip
import os
import re
import shutil
import sys
import tempfile
import threading
import zlib
import zoneinfo
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from capplan._commandline import OneLineParser, one_line
from capplan.data import schema
from capplan.errors import MissingFileError

__all__ = ["CLF_PATTERN", "aggregate_logs", "main_aggregate"]

FORMATS = ("clf", "csv", "parquet")
FORMAT_NAMES = {"clf": "Common Log Format", "csv": "CSV", "parquet": "Parquet"}
TIMESTAMP_UNITS = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}  # to microseconds

# Common Log Format: host ident authuser [date] "request" status bytes. Anything
# after the bytes field (the referer and user agent of the Combined Log Format)
# is allowed and ignored. Escaped quotes (\") inside the request are allowed.
CLF_PATTERN = r'^\S+ \S+ \S+ \[([^\]]+)\] "(?:[^"\\]|\\.)*" (\d{3}) \S+'
CLF_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"

# Text logs are read whole, one line a row: a four-byte delimiter that text does not
# hold, no quoting, and DuckDB's lenient mode (a stray carriage return in binary junk
# is a line break, not an error that stops the scan).
_DELIM_NEVER = "\x01\x02\x03\x04"
_LINES = (
    f"columns={{'line': 'VARCHAR'}}, delim='{_DELIM_NEVER}', header=false, quote='', "
    "escape='', auto_detect=false, strict_mode=false"
)
_COMPRESSED = (".gz", ".zst")
# DuckDB reads these characters of a path as a pattern: such files are read through a link.
_PATTERN_CHARS = set("*?[]{}\\")
_REJECTS_LIMIT = 100_000  # unreadable rows recorded per file; more, and the file is refused

# Timestamp text that carries its own offset or zone, as DuckDB reads it ("...Z",
# "...+02:00", "...+0200", "...+02", "... Europe/Paris"): text that does not match is naive.
_AWARE_TEXT = (
    r"(?i)\d{2}:\d{2}(:\d{2}(\.\d*)?)?\s*"  # the time, then
    r"(z|[+-]\d{1,2}(:?\d{2}){0,2}|[a-z][a-z0-9_/+-]*)\s*$"  # an offset or a zone name
)
# A numeric UTC offset after the time of day ("+02:00", "-0530", "GMT+3"), and the valid
# ones: DuckDB reads any two digits (+99:99), but real offsets lie within ±14:00.
_TIME_OF_DAY = r"\d:\d\d(?::\d\d(?:[.,]\d*)?)?\s*(?:utc|gmt)?\s*"
_OFFSET_TEXT = rf"(?i){_TIME_OF_DAY}[+-]\d[\d:]*\s*$"
_OFFSET_VALID = (
    rf"(?i){_TIME_OF_DAY}[+-](?:(?:0?\d|1[0-3])(?::?[0-5]\d){{0,2}}|14(?::?00){{0,2}})\s*$"
)
_CLF_OFFSET_VALID = r" [+-](?:(?:0\d|1[0-3])(?::?[0-5]\d)?|14(?::?00)?)$"
# Times read: after the Unix epoch and before pandas' nanosecond timestamps end (2262-04).
_WINDOW = ("1970-01-01 00:00:00+00", "2262-01-01 00:00:00+00")
_MAX_INTERVAL_US = 36_525 * 86_400 * 10**6  # 100 years

_TIME = "capplan_time_"  # the parsed time, a column added to the scan
_COLUMN = "capplan_column_"  # CSV columns not used are read under these names
_HEAD_ROWS = 1000  # rows looked at first, to refuse a naive log before the full scan

_REASONS = {
    "empty": "empty line",
    "not_clf": "not a Common Log Format line",
    "time": "timestamp missing or unreadable",
    "offset": "UTC offset out of range (beyond ±14:00, or minutes of 60 or more)",
    "window": "timestamp out of range (not after 1970-01-01, or not before 2262)",
    "event": "event missing",
    "status": "status missing or not an integer",
}


@dataclass(frozen=True)
class _Source:
    """The files of one format and layout, and how to read them in SQL."""

    format: str
    files: list[str]  # the paths DuckDB reads
    time_type: str | None = None  # Parquet: the DuckDB type of the timestamp column
    header: tuple[str, ...] | None = None  # CSV: the column names of line 1


@dataclass(frozen=True)
class _Scan:
    """A FROM clause and the SQL expressions of one row's fields."""

    relation: str
    time: str  # TIMESTAMPTZ
    event: str
    status: str
    offset_text: str | None  # the text whose UTC offset is checked, if any
    clf_offset: bool = False  # the text is a CLF date (dd/Mon/yyyy:HH:MM:SS +hhmm)


def aggregate_logs(
    paths,
    interval="1s",
    *,
    format: str | None = None,
    count_column: str = "requests",
    timestamp_column: str = "timestamp",
    timestamp_unit: str | None = None,
    event_column: str | None = None,
    count_errors: bool = False,
    status_column: str = "status",
    error_status: int = 500,
    naive_timezone: str | None = None,
    max_examples: int = 5,
    max_intervals: int = 50_000_000,
    threads: int | None = None,
    memory_limit: str | None = None,
) -> pd.DataFrame:
    """Count log lines per interval: raw logs to the series of a history.

    Each readable line (one request, or one join attempt) counts once in the
    interval that holds its timestamp. Files are scanned by DuckDB in
    parallel without loading the lines into memory; only the counts per
    interval come back.

    Parameters
    ----------
    paths : str, pathlib.Path or sequence of them
        Log files or glob patterns (``"logs/*.log.gz"``). The format is told by
        the extension (after ``.gz``/``.zst``, which are read compressed):
        ``.csv`` is CSV, ``.parquet``/``.pq`` is Parquet, anything else
        (``.log``, ``.txt``, ...) is Common Log Format; ``format`` overrides.
    interval : str or float, default "1s"
        Interval length: a pandas offset such as ``"1s"``, ``"10s"``,
        ``"1min"``, or a number of seconds: a whole number of microseconds,
        at most 100 years. Intervals are aligned to the Unix epoch (a minute
        starts at second 0 UTC).
    format : {"clf", "csv", "parquet"}, optional
        Read every file in this format, whatever its extension.
    count_column : str, default "requests"
        Name of the count column: ``"requests"`` for request logs,
        ``"joins"`` for join logs (any count column of the history format).
    timestamp_column : str, default "timestamp"
        CSV/Parquet column of the line's time: ISO 8601 text, with or without
        an offset (``2024-06-10T15:30:01.250+02:00``, ``...Z``), a Parquet
        timestamp, or epoch numbers with ``timestamp_unit``.
    timestamp_unit : {"s", "ms", "us", "ns"}, optional
        The timestamp column holds numbers since 1970-01-01 UTC in this unit.
    event_column : str, optional
        CSV/Parquet column naming the event a line belongs to: the result is
        then counted per event, with an ``event_id`` column.
    count_errors : bool, default False
        Also count lines whose HTTP status is ``error_status`` or more, as
        ``join_errors`` (a subset of the lines counted in ``count_column``).
        In CLF the status is the field after the request; in CSV/Parquet it is
        ``status_column`` (integer; a line without one is malformed).
    status_column : str, default "status"
        CSV/Parquet column of the HTTP status (with ``count_errors``).
    error_status : int, default 500
        Lowest status counted as an error: 500 counts server errors (5xx);
        400 also counts refusals such as 429 Too Many Requests.
    naive_timezone : str, optional
        IANA zone in which timestamps written without an offset ("naive") were
        recorded, such as ``"UTC"`` or ``"Europe/Paris"``. By default naive
        timestamps are refused, as by :func:`capplan.load_history`; when a
        zone is given and used, ``attrs["conversions"]`` says so. Timestamps
        with an offset or zone (all CLF ones), Parquet timestamps marked UTC
        and epoch numbers are unambiguous and converted to UTC without it.
    max_examples : int, default 5
        How many malformed lines to keep as examples.
    max_intervals : int, default 50,000,000
        Refuse a result longer than this (a stray timestamp years away would
        otherwise fill years of zero intervals).
    threads : int, optional
        DuckDB worker threads (default: all cores).
    memory_limit : str, optional
        DuckDB memory limit such as ``"2GB"`` (default: DuckDB's, 80% of RAM).

    Returns
    -------
    pandas.DataFrame
        ``timestamp`` (UTC, start of the interval), ``count_column`` (lines in
        the interval) and with ``count_errors`` ``join_errors``; with
        ``event_column``, ``event_id`` first and one run of intervals per
        event. Every interval from the first line's to the last line's is
        present (per event), **with 0 where no line fell**: in a log, a
        second without a line is a second without requests, unlike a row
        missing from an exported series. ``attrs`` holds ``"malformed"`` (lines
        that could not be read, not counted), ``"malformed_examples"`` (up to
        ``max_examples`` dicts with ``file``, ``line`` (1-based line number in
        the file, or the row number for Parquet; None where unknown),
        ``reason`` and ``text``), ``"lines"`` (all lines read, counted or not),
        ``"files"``, ``"interval_s"`` and ``"conversions"``: a list, empty
        unless naive timestamps were read in ``naive_timezone``, of dicts
        with ``column``, ``count`` (naive timestamps) and ``action``
        (``"naive timestamps read as Europe/Paris and converted to UTC"``).

    Raises
    ------
    FileNotFoundError
        A path or pattern matches no file (the error is also a ValueError).
    ValueError
        An argument is out of range; a path is a directory or is given twice;
        a CSV/Parquet column is missing or of a type that cannot be a time;
        the timestamps have no offset and ``naive_timezone`` is not given (the
        message names the file, the column and an example); a file cannot be
        read at all (compressed data truncated or damaged, not Parquet, no
        line of it readable as its format, more than 100,000 rows that DuckDB
        cannot split into fields, a quote never closed); no file holds a line;
        or the result would exceed ``max_intervals``. The message names the
        file; a DuckDB error is chained as the cause, never raised.

    Notes
    -----
    Malformed lines, counted but not in the result: CLF lines that do not
    match :data:`CLF_PATTERN` or whose date does not parse (including empty
    lines); CSV rows with too many or too few fields (DuckDB's rejects, with
    their line number); rows with an empty timestamp or event, or a value
    of the wrong type; timestamps whose UTC offset lies beyond ±14:00 or has
    60 minutes or more (``+2500``, ``+99:00``), and timestamps not after
    1970-01-01 00:00 UTC or not before 2262 (a year 9999, an epoch number
    out of range, ``infinity``). In CSV, empty lines are not records and are
    skipped as any CSV reader does. CSV files need a header line naming the
    columns; it is read as CSV (quoted names may hold commas), and files
    whose headers differ are read apart.

    Bytes that are not UTF-8 do not make a line unreadable: a plain or
    ``.gz`` file that holds some is read with each such byte replaced by
    U+FFFD (a second pass, for that file only), so a request whose URL has
    a Latin-1 byte still counts. Lines are split at line feeds, carriage
    returns and CRLF, as DuckDB splits them.

    Naive timestamps are found in the scan that counts the lines, at no
    extra pass: a file may mix them with timestamps that have an offset
    (each is then read by its own rule), so every line is checked. Without
    ``naive_timezone``, the first rows are also looked at before that scan,
    so that a naive log is refused at once rather than after a full read.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> log = pathlib.Path(tempfile.mkdtemp()) / "access.log"
    >>> _ = log.write_text(
    ...     '1.2.3.4 - - [10/Jun/1998:15:30:01 +0200] "GET / HTTP/1.0" 200 10\\n'
    ...     '1.2.3.4 - - [10/Jun/1998:15:30:03 +0200] "GET / HTTP/1.0" 503 0\\n'
    ...     "garbage\\n"
    ... )
    >>> counts = aggregate_logs(log, "1s", count_errors=True)
    >>> counts["requests"].tolist(), counts["join_errors"].tolist()
    ([1, 0, 1], [0, 0, 1])
    >>> str(counts["timestamp"].iloc[0]), counts.attrs["malformed"]
    ('1998-06-10 13:30:01+00:00', 1)
    """
    files = _expand(paths)
    interval_us = _interval_us(interval)
    count_column = _check_choice("count_column", count_column, list(schema.COUNT_COLUMNS))
    if count_errors and count_column == "join_errors":
        raise ValueError("count_column='join_errors' clashes with count_errors=True; pick one")
    if timestamp_unit is not None:
        _check_choice("timestamp_unit", timestamp_unit, list(TIMESTAMP_UNITS))
    for name, value in (
        ("timestamp_column", timestamp_column),
        ("status_column", status_column),
        ("event_column", event_column),
    ):
        if value is None and name == "event_column":
            continue
        if not isinstance(value, str) or not value.strip() or "\x00" in value:
            raise ValueError(f"{name} must be a column name (non-empty text); got {value!r}")
    if naive_timezone is not None:
        try:
            zoneinfo.ZoneInfo(naive_timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as error:
            raise ValueError(
                f"naive_timezone must be an IANA zone such as 'UTC' or 'Europe/Paris'; "
                f"got {naive_timezone!r}"
            ) from error
    for name, value, low, high in (
        ("max_examples", max_examples, 0, 10**6),
        ("max_intervals", max_intervals, 1, 2**62),
        ("error_status", error_status, 100, 999),
        ("threads", 1 if threads is None else threads, 1, 4096),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, int | np.integer)
            or not low <= value <= high
        ):
            raise ValueError(f"{name} must be an integer from {low} to {high:,}; got {value!r}")
    if memory_limit is not None and (not isinstance(memory_limit, str) or not memory_limit.strip()):
        raise ValueError(f"memory_limit must be text such as '2GB'; got {memory_limit!r}")
    sources = _sources(files, format)
    if event_column is not None and any(s.format == "clf" for s in sources):
        clf = next(s for s in sources if s.format == "clf").files[0]
        raise ValueError(
            f"event_column={event_column!r} needs CSV or Parquet files; {clf} is read as "
            "Common Log Format, which has no event column: aggregate each event's logs "
            "separately, or pass format='csv' if it is a CSV file"
        )

    import duckdb  # imported here: the rest of capplan does not need it

    con = _connect(threads, memory_limit)
    reader = None
    try:
        _configure(con, naive_timezone, threads, memory_limit)
        reader = _Reader(
            con,
            interval_us=interval_us,
            timestamp_column=timestamp_column,
            timestamp_unit=timestamp_unit,
            event_column=event_column,
            status_column=status_column if count_errors else None,
            error_status=error_status,
            max_examples=max_examples,
        )
        try:
            sources = [reader.readable(source) for source in sources]
            sources = [part for source in sources for part in reader.split(source)]
            if naive_timezone is None:
                for source in sources:
                    reader.refuse_naive(source, head=_HEAD_ROWS)
            counted = [reader.count(source) for source in sources]
            sources = [source for source, _, _ in counted]
            if naive_timezone is None:
                for source, good, _ in counted:
                    if good["naive"].sum():
                        reader.refuse_naive(source)
            good = pd.concat([c[1] for c in counted], ignore_index=True)
            bad = pd.concat([c[2] for c in counted], ignore_index=True)
            reader.refuse_unread(files, sources, good, bad)
            examples = reader.examples(sources, bad, max_examples)
        except duckdb.Error as error:
            raise reader.refusal(error) from error
    finally:
        con.close()
        if reader is not None:
            reader.clean()

    frame = _fill(
        good, interval_us, count_column, event_column is not None, count_errors, max_intervals
    )
    total_bad = int(bad["n"].sum())
    naive = int(good["naive"].sum())
    conversions = []
    if naive:
        conversions.append(
            {
                "column": timestamp_column,
                "count": naive,
                "action": f"naive timestamps read as {naive_timezone} and converted to UTC",
            }
        )
    frame.attrs.update(
        malformed=total_bad,
        malformed_examples=examples,
        lines=int(good["n"].sum()) + total_bad,
        files=files,
        interval_s=interval_us / 1e6,
        conversions=conversions,
    )
    return frame


_SHARED: dict = {}  # the process's DuckDB database, shared by calls that set no limits
_SHARED_LOCK = threading.Lock()


def _connect(threads, memory_limit):
    """A DuckDB connection of its own for one call.

    Starting a DuckDB database costs tens of milliseconds; a connection to one
    already started costs a few. Calls that set neither threads nor a memory
    limit (both global to a database) connect to one shared in-memory database:
    each connection has its own session (zone) and its own temporary tables (the
    rejects). A forked child starts its own database (the parent's threads are gone).
    """
    import duckdb

    if threads is not None or memory_limit is not None:
        return duckdb.connect(":memory:")
    with _SHARED_LOCK:
        if _SHARED.get("pid") != os.getpid():
            _SHARED.update(pid=os.getpid(), database=duckdb.connect(":memory:"))
        return _SHARED["database"].cursor()


def _configure(con, naive_timezone, threads, memory_limit) -> None:
    """The session's zone, threads and memory limit; DuckDB's refusals as ValueError."""
    import duckdb

    # DuckDB reads a naive timestamp in its session zone; without naive_timezone
    # any naive timestamp is refused, so the zone set here is never used.
    zone = naive_timezone or "UTC"
    for setting, value, what in (
        ("TimeZone", zone, f"naive_timezone {zone!r} is not a zone DuckDB knows"),
        ("threads", threads, f"threads={threads!r} is refused by DuckDB"),
        ("memory_limit", memory_limit, f"memory_limit must be such as '2GB'; got {memory_limit!r}"),
    ):
        if value is None:
            continue
        try:
            con.execute(f"SET {setting} = $1", [value if setting != "threads" else int(value)])
        except duckdb.Error as error:
            raise ValueError(f"{what} ({_duck_message(error)})") from error


class _Reader:
    """SQL for one aggregation: read, parse, bucket, count; and the refusals."""

    def __init__(
        self,
        con,
        *,
        interval_us,
        timestamp_column,
        timestamp_unit,
        event_column,
        status_column,
        error_status,
        max_examples,
    ):
        self.con = con
        self.iv = int(interval_us)
        self.ts_col = timestamp_column
        self.unit = timestamp_unit
        self.event_col = event_column
        self.status_col = status_column
        self.error_status = int(error_status)
        self.max_examples = int(max_examples)
        self.rejects: list[dict] = []  # the first rejected rows, with file and line
        self.alias: dict[str, str] = {}  # a path DuckDB reads -> the file as the caller named it
        self.headers: dict[str, tuple[str, ...]] = {}
        self.reading: _Source | None = None  # the source of the query running
        self._stored = False  # a scan that stores rejects has run
        self._tables = False  # DuckDB's tables of rejects exist
        self._tmp: str | None = None

    # --- files: the names DuckDB reads, and back ----------------------------------------

    def name(self, path) -> str:
        """The file as the caller named it, for a path DuckDB read."""
        return self.alias.get(path, path)

    def _tmpdir(self) -> str:
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="capplan-logs-")
        return self._tmp

    def clean(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def readable(self, source: _Source) -> _Source:
        """The source with paths DuckDB reads literally: absolute, and no pattern characters.

        DuckDB reads ``*``, ``?`` and ``[`` in a path as a pattern and expands ``~``:
        such a file is read through a link of a plain name, and reported by its own.
        """
        paths = []
        for file in source.files:
            path = os.path.abspath(file)
            if _PATTERN_CHARS & set(path) or not path.isprintable():
                link = os.path.join(self._tmpdir(), f"file-{len(self.alias)}{_suffixes(file)}")
                os.symlink(path, link)
                path = link
            self.alias[path] = file
            paths.append(path)
        return replace(source, files=paths)

    # --- running queries -----------------------------------------------------------------

    def run(self, query: str, source: _Source, params=None):
        """Execute a query that reads `source`; a DuckDB error is turned by `refusal`."""
        self.reading = source
        self._stored = self._stored or "store_rejects=true" in query
        cursor = self.con.execute(query, params) if params else self.con.execute(query)
        return cursor

    def refusal(self, error) -> ValueError:
        """A ValueError naming the file that a DuckDB error came from."""
        source = self.reading
        if source is None:
            return ValueError(f"DuckDB refused the query: {_duck_message(error)}")
        culprit = None
        if len(source.files) == 1:
            culprit = source.files[0]
        else:
            named = [f for f in source.files if f in str(error) or self.name(f) in str(error)]
            culprit = named[0] if named else self._probe(source)
        message = _duck_message(error, culprit)
        what = FORMAT_NAMES[source.format]
        if culprit is None:
            files = ", ".join(self.name(f) for f in source.files[:3])
            more = f" and {len(source.files) - 3} more" if len(source.files) > 3 else ""
            return ValueError(f"reading {files}{more} as {what}: {message}")
        return ValueError(
            f"{self.name(culprit)}: cannot be read as {what}: {message}"
            f"{_hint(self.name(culprit), message)}"
        )

    def _probe(self, source: _Source) -> str | None:
        """The first file of `source` that DuckDB cannot read alone, if any."""
        import duckdb

        for file in source.files:
            one = replace(source, files=[file])
            try:
                scan = self._scan(one)
                self._stored = True
                self.con.execute(f"SELECT count(*) FROM {scan.relation}").fetchall()
            except duckdb.Error:
                return file
            finally:
                self._clear_rejects()
        return None

    # --- the readers, one SQL relation per format --------------------------------

    def _scan(self, source: _Source, *, numbered: bool = False, typed: bool = False) -> _Scan:
        """FROM clause and the expressions of the time (TIMESTAMPTZ), event and status.

        CSV columns are read as text and cast in SQL, so that a value of the wrong
        type is a malformed row (not a DuckDB reject, which is kept in memory) and
        naive timestamps can be told apart (see `_naive`). With `typed`, DuckDB's
        reader parses the time and the status, and a row whose time or status does
        not parse becomes a reject with its line number (for the examples).
        """
        files = "[" + ", ".join(_sql_str(f) for f in source.files) + "]"
        rejects = f"store_rejects=true, rejects_limit={_REJECTS_LIMIT}"
        if source.format == "clf":
            scan = f"read_csv({files}, {_LINES}, filename=true, {rejects})"
            rows = "row_number() OVER () AS line_no, " if numbered else ""
            inner = (
                f"(SELECT {rows}filename, line, "
                f"regexp_extract(line, {_sql_str(CLF_PATTERN)}, ['ts', 'status']) AS m FROM {scan})"
            )
            ts = f"try_strptime(m.ts, {_sql_str(CLF_TIME_FORMAT)})"
            relation = f"(SELECT *, {ts} AS {_TIME} FROM {inner})"
            status = "TRY_CAST(nullif(m.status, '') AS INTEGER)"
            return _Scan(relation, _TIME, "NULL", status, "m.ts", clf_offset=True)
        if source.format == "csv":
            header = source.header or self._header(source.files[0])
            wanted = {self.ts_col: "VARCHAR"}
            if typed:
                wanted[self.ts_col] = "DOUBLE" if self.unit else "TIMESTAMPTZ"
            if self.event_col:
                wanted[self.event_col] = "VARCHAR"
            if self.status_col:
                wanted[self.status_col] = "INTEGER" if typed else "VARCHAR"
            columns = {
                (name if name in wanted else f"{_COLUMN}{i}"): wanted.get(name, "VARCHAR")
                for i, name in enumerate(header)
            }
            cols = ", ".join(f"{_sql_str(k)}: {_sql_str(v)}" for k, v in columns.items())
            not_null = (
                f", force_not_null=[{_sql_str(self.status_col)}]"
                if self.status_col and typed
                else ""
            )
            scan = (
                f"read_csv({files}, columns={{{cols}}}, header=true, auto_detect=false, "
                f"filename=true, {rejects}{not_null})"
            )
        else:
            number = ", file_row_number=true" if numbered else ""
            scan = f"read_parquet({files}, filename=true{number})"
        text = _quote(self.ts_col)
        if self.unit:
            factor = TIMESTAMP_UNITS[self.unit]
            us = f"(TRY_CAST({text} AS DOUBLE) * {factor!r})"
            # Out of DuckDB's range (or NaN, inf): a time that is out of the window.
            ts = (
                f"CASE WHEN abs({us}) < 9e18 THEN make_timestamptz(CAST(round({us}) AS BIGINT)) "
                f"WHEN {us} IS NOT NULL THEN TIMESTAMPTZ 'infinity' END"
            )
            offset_text = None
        else:
            ts = f"TRY_CAST({text} AS TIMESTAMPTZ)"
            textual = (source.format == "csv" and not typed) or source.time_type == "VARCHAR"
            offset_text = text if textual else None
        event = f"CAST({_quote(self.event_col)} AS VARCHAR)" if self.event_col else "NULL"
        status = f"TRY_CAST({_quote(self.status_col)} AS INTEGER)" if self.status_col else "NULL"
        line_no = ", file_row_number + 1 AS line_no" if numbered else ""
        # The time is computed once per row: text is parsed once, not in every use.
        relation = f"(SELECT *, {ts} AS {_TIME}{line_no} FROM {scan})"
        return _Scan(relation, _TIME, event, status, offset_text)

    def _naive(self, source: _Source) -> str:
        """SQL condition, true for a row whose timestamp has no offset (naive)."""
        if source.format == "clf":
            # CLF_TIME_FORMAT requires the offset (%z): a date without one is malformed.
            return "false"
        if self.unit or source.time_type == "TIMESTAMP WITH TIME ZONE":
            return "false"  # epoch numbers, or a Parquet timestamp marked as UTC
        if source.format == "csv" or source.time_type == "VARCHAR":
            text = _quote(self.ts_col)
            # "...Z" and "...+02:00" first, cheaply; the regular expression for the rest.
            return (
                f"CASE WHEN suffix({text}, 'Z') OR {text} LIKE '%+__:__' "
                f"OR {text} LIKE '%-__:__' THEN false "
                f"ELSE NOT regexp_matches({text}, {_sql_str(_AWARE_TEXT)}) END"
            )
        return "true"  # a Parquet TIMESTAMP without time zone, or a DATE

    def split(self, source: _Source) -> list[_Source]:
        """The files of a source grouped by layout, each group read in one scan.

        Files read together are read with the first one's columns: CSV files are
        grouped by their header, Parquet files by their columns and the type of
        the timestamp column (whether a Parquet timestamp is naive is a property
        of the file). Missing columns and timestamp columns of a type that cannot
        be a time are refused here, naming the file.
        """
        if source.format == "clf":
            return [source]
        wanted = [c for c in (self.ts_col, self.event_col, self.status_col) if c]
        groups: dict[tuple, list[str]] = {}
        for file in source.files:
            one = replace(source, files=[file])
            if source.format == "csv":
                present = self._header(file)
                types = dict.fromkeys(present, "VARCHAR")
                key = (present, None)
            else:
                cursor = self.run(f"SELECT * FROM read_parquet({_sql_str(file)}) LIMIT 0", one)
                types = {d[0]: str(d[1]) for d in cursor.description}
                present = tuple(types)
                key = (tuple(types.items()), types.get(self.ts_col))
            missing = [c for c in wanted if c not in present]
            if missing:
                shown = [name if len(name) <= 40 else name[:37] + "..." for name in present[:20]]
                more = f" and {len(present) - 20} more" if len(present) > 20 else ""
                raise ValueError(
                    f"{self.name(file)}: column(s) {missing} not found; the file has "
                    f"{shown}{more}. Name the columns with timestamp_column=, event_column= "
                    "or status_column="
                )
            self._check_types(file, types)
            groups.setdefault(key, []).append(file)
        if source.format == "csv":
            return [replace(source, files=fs, header=key[0]) for key, fs in groups.items()]
        return [replace(source, files=fs, time_type=key[1]) for key, fs in groups.items()]

    def _check_types(self, file: str, types: dict[str, str]) -> None:
        kind = types[self.ts_col]
        numeric = bool(
            re.fullmatch(
                r"U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|REAL|"
                r"DECIMAL\(\d+,\s*\d+\)",
                kind,
            )
        )
        if self.unit:
            ok = numeric or kind == "VARCHAR"
            need = f"numbers (timestamp_unit={self.unit!r})"
        else:
            ok = kind == "VARCHAR" or kind == "DATE" or kind.startswith("TIMESTAMP")
            need = "timestamps or text"
            if numeric:
                need += "; for epoch numbers pass timestamp_unit= ('s', 'ms', 'us' or 'ns')"
        if not ok:
            raise ValueError(
                f"{self.name(file)}: column {self.ts_col!r} holds {kind}, which cannot be read "
                f"as times: it should hold {need}"
            )
        if self.status_col:
            kind = types[self.status_col]
            numeric = bool(
                re.fullmatch(
                    r"U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|"
                    r"REAL|DECIMAL\(\d+,\s*\d+\)|VARCHAR",
                    kind,
                )
            )
            if not numeric:
                raise ValueError(
                    f"{self.name(file)}: column {self.status_col!r} holds {kind}; an HTTP "
                    "status should be an integer"
                )

    def refuse_naive(self, source: _Source, head: int | None = None) -> None:
        """Raise ValueError at the first naive timestamp (in the first `head` rows)."""
        naive = self._naive(source)
        if naive == "false":
            return
        scan = self._scan(source, numbered=source.format == "parquet")
        rows = f"(SELECT * FROM {scan.relation} LIMIT {int(head)})" if head else scan.relation
        line = "line_no" if source.format == "parquet" else "NULL"
        found = self.run(
            f"SELECT filename, CAST({_quote(self.ts_col)} AS VARCHAR), {line} FROM {rows} "
            f"WHERE {_in_window(scan.time)} AND {naive} LIMIT 1",
            source,
        ).fetchone()
        self._clear_rejects()  # counted by the full scan, not by this look
        if found is None:
            return
        file, value, line_no = found
        where = f"{self.name(file)}: column {self.ts_col!r}" + (
            f", row {line_no}" if line_no else ""
        )
        raise ValueError(
            f"{where}: timestamps have no time zone (for example {value!r}); times must be "
            "UTC. Write them with an offset ('...+00:00') or pass naive_timezone='UTC' "
            "(or the zone they were recorded in; --naive-timezone UTC on the command line) "
            "to convert them"
        )

    def _reason(self, scan: _Scan, source: _Source) -> str:
        """SQL CASE naming why a row is malformed, NULL for a good row."""
        ts = scan.time
        cases = []
        if source.format == "clf":
            cases += [
                ("line IS NULL OR trim(line) = ''", _REASONS["empty"]),
                ("m.ts = ''", _REASONS["not_clf"]),
            ]
        cases.append((f"{ts} IS NULL", _REASONS["time"]))
        if scan.offset_text:
            cases.append((_offset_bad(scan.offset_text, scan.clf_offset), _REASONS["offset"]))
        cases.append((f"NOT {_in_window(ts)}", _REASONS["window"]))
        if self.event_col:
            cases.append((f"{scan.event} IS NULL OR trim({scan.event}) = ''", _REASONS["event"]))
        if self.status_col:
            cases.append((f"{scan.status} IS NULL", _REASONS["status"]))
        whens = " ".join(f"WHEN {cond} THEN {_sql_str(why)}" for cond, why in cases)
        return f"CASE {whens} ELSE NULL END"

    # --- counting ------------------------------------------------------------------------

    def count(self, source: _Source) -> tuple[_Source, pd.DataFrame, pd.DataFrame]:
        """Count one source: good rows per (file, bucket, event), bad ones per (file, reason).

        A file with bytes that are not UTF-8 (DuckDB rejects such a line) is copied,
        uncompressed, with those bytes replaced, and the source counted again.
        DuckDB checks neither a gzip file's checksum nor whether a zstd file ends
        before its last block (a damaged byte, or a cut, can change or drop lines
        silently): the compressed files are also read beside the scan, on a thread
        of their own (zlib and libzstd, by way of pyarrow), and a file whose data,
        length or checksum is wrong is refused.
        """
        check = _CompressedCheck([f for f in source.files if f.lower().endswith(_COMPRESSED)])
        try:
            good, bad, summary = self._count_once(source)
        except BaseException:
            check.finish(stop=True)  # the scan's error is the one to report
            raise
        check.finish()
        if check.failed:
            file, error = check.failed
            kind = "gzip" if file.lower().endswith(".gz") else "zstd"
            raise ValueError(
                f"{self.name(file)}: cannot be read as {FORMAT_NAMES[source.format]}: {error} "
                f"(the {kind} data is truncated or damaged)"
            ) from error
        broken = set(summary.loc[summary["type"] == "INVALID ENCODING", "file"])
        redo = {f: self._transcode(f) for f in source.files if f in broken}
        if redo:
            redone = {self.name(f) for f in redo}
            self.rejects = [r for r in self.rejects if r["file"] not in redone]
            source = replace(source, files=[redo.get(f, f) for f in source.files])
            good, bad, summary = self._count_once(source)
        self._refuse_rejects(source, summary)
        return source, good, bad

    def _count_once(self, source: _Source):
        scan = self._scan(source)
        reason = self._reason(scan, source)
        naive = self._naive(source)
        us = f"epoch_us({scan.time})"
        bucket = f"({us} - ((({us} % {self.iv}) + {self.iv}) % {self.iv}))"
        errors = (
            f"count(*) FILTER (WHERE {scan.status} >= {self.error_status})"
            if self.status_col
            else "0"
        )
        query = f"""
            SELECT reason, filename AS file,
                   CASE WHEN reason IS NULL THEN {bucket} END AS bucket,
                   CASE WHEN reason IS NULL THEN {scan.event} END AS event,
                   count(*) AS n, {errors} AS errors,
                   count(*) FILTER (WHERE reason IS NULL AND {naive}) AS naive
            FROM (SELECT *, {reason} AS reason FROM {scan.relation})
            GROUP BY ALL
        """
        out = self.run(query, source).df()
        good = out[out["reason"].isna()][["file", "bucket", "event", "n", "errors", "naive"]]
        bad = out[out["reason"].notna()][["file", "reason", "n"]].assign(line=None)
        summary = self._take_rejects()
        if len(summary):
            counted = pd.DataFrame(
                {
                    "file": summary["file"],
                    "reason": "unreadable row: " + summary["type"],
                    "n": summary["n"],
                    "line": summary["first_line"],
                }
            )
            bad = pd.concat([bad, counted], ignore_index=True)
        return good, bad, summary

    def _transcode(self, path: str) -> str:
        """A UTF-8 copy of a file, uncompressed, bytes that are not UTF-8 replaced (U+FFFD)."""
        target = os.path.join(self._tmpdir(), f"utf8-{len(self.alias)}.txt")
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        try:
            with _open_bytes(path) as source, open(target, "wb") as out:
                while chunk := source.read(1 << 23):
                    out.write(decoder.decode(chunk).encode("utf-8"))
                out.write(decoder.decode(b"", final=True).encode("utf-8"))
        except _READ_ERRORS as error:
            raise ValueError(f"{self.name(path)}: cannot be read: {error}") from error
        self.alias[target] = self.name(path)
        if path in self.headers:
            self.headers[target] = self.headers[path]
        return target

    def _take_rejects(self) -> pd.DataFrame:
        """DuckDB's rejected rows of the last scan: counts per (file, type); the first kept.

        They are cleared from DuckDB's tables. The first `max_examples` rows, with
        file and line, are added to `self.rejects` for the examples.
        """
        columns = ["file", "type", "n", "errors", "first_line", "unterminated"]
        if not self._has_rejects():
            return pd.DataFrame(columns=columns)
        if not self.con.execute("SELECT count(*) FROM reject_errors").fetchone()[0]:
            self.con.execute("DELETE FROM reject_scans")
            return pd.DataFrame(columns=columns)
        per_line = """
            SELECT s.file_path AS file, e.line AS line,
                   min(CAST(e.error_type AS VARCHAR)) AS type,
                   min(CAST(e.error_type AS VARCHAR) || ': ' || e.error_message) AS reason,
                   min(left(e.csv_line, 1000)) AS text, count(*) AS errors,
                   bool_or(e.error_message ILIKE '%unterminated quote%') AS unterminated
            FROM reject_errors e JOIN reject_scans s USING (scan_id, file_id)
            GROUP BY ALL
        """
        summary = self.con.execute(
            f"""SELECT file, type, count(*) AS n, sum(errors) AS errors,
                       min(line) AS first_line,
                       min(line) FILTER (WHERE unterminated) AS unterminated
                FROM ({per_line}) GROUP BY ALL ORDER BY file, type"""
        ).df()
        if self.max_examples:
            first = self.con.execute(
                f"SELECT file, line, reason, text FROM ({per_line}) ORDER BY file, line "
                f"LIMIT {self.max_examples}"
            ).fetchall()
            seen = {(r["file"], r["line"]) for r in self.rejects}
            for file, line, reason, text in first:
                if (self.name(file), int(line)) not in seen:
                    self.rejects.append(
                        {
                            "file": self.name(file),
                            "line": int(line),
                            "reason": "unreadable row: " + reason.split("\n")[0],
                            "text": text,
                        }
                    )
        self._clear_rejects()
        return summary

    def _has_rejects(self) -> bool:
        """Whether DuckDB's tables of rejects exist (a scan storing them has run)."""
        if not self._tables and self._stored:
            self._tables = bool(
                self.con.execute(
                    "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'reject_errors'"
                ).fetchone()[0]
            )
        return self._tables

    def _clear_rejects(self) -> None:
        if self._has_rejects():
            self.con.execute("DELETE FROM reject_errors")
            self.con.execute("DELETE FROM reject_scans")

    def _refuse_rejects(self, source: _Source, summary: pd.DataFrame) -> None:
        """Refuse a file whose rows DuckDB could not tell apart, or could not count."""
        what = FORMAT_NAMES[source.format]
        for row in summary.itertuples():
            if pd.notna(row.unterminated):
                raise ValueError(
                    f"{self.name(row.file)}, line {int(row.unterminated)}: a quoted value is "
                    f"never closed, so the lines after it cannot be read as {what} rows; "
                    "close or remove the quote"
                )
        per_file = summary.groupby("file")["errors"].sum()
        for file, errors in per_file.items():
            if errors >= _REJECTS_LIMIT:
                first = summary.loc[summary["file"] == file].sort_values("first_line").iloc[0]
                raise ValueError(
                    f"{self.name(file)}: more than {_REJECTS_LIMIT:,} rows cannot be read as "
                    f"{what} (the first, line {int(first.first_line)}: {first.type}); is it "
                    f"a {what} file?{_hint(self.name(file), '')}"
                )

    def refuse_unread(self, files, sources, good: pd.DataFrame, bad: pd.DataFrame) -> None:
        """Refuse a file with lines of which none could be read, and input with no line."""
        formats = {f: s.format for s in sources for f in s.files}
        readable = set(good["file"].tolist())
        unread: dict[str, list] = {}
        for file, reason, n, line in bad[["file", "reason", "n", "line"]].itertuples(index=False):
            if file not in readable:
                unread.setdefault(file, []).append((-int(n), reason, line))
        for file, parts in unread.items():
            total = -sum(p[0] for p in parts)
            n, reason, line = min(parts, key=lambda p: (p[0], p[1]))
            first = f", the first at line {int(line)}" if pd.notna(line) else ""
            what = FORMAT_NAMES[formats.get(file, "clf")]
            raise ValueError(
                f"{self.name(file)}: no line could be read as {what}: {total:,} line(s), "
                f"{-n:,} of them {reason}{first}{_hint(self.name(file), '')}"
            )
        if good.empty and bad.empty:
            csv_only = all(s.format == "csv" for s in sources)
            empty = "holds only its header line" if csv_only else "is empty"
            if len(files) == 1:
                raise ValueError(f"{files[0]}: no line to count: the file {empty}")
            shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
            raise ValueError(f"no line to count: the {len(files)} files are empty ({shown})")

    # --- examples ------------------------------------------------------------------------

    def examples(self, sources, bad: pd.DataFrame, limit: int) -> list[dict]:
        """The first few malformed lines: rejects with line numbers, then the others."""
        if limit == 0 or bad.empty:
            return []
        others: list[dict] = []
        bad_files = set(bad.loc[~bad["reason"].str.startswith("unreadable row"), "file"])
        offsets = set(bad.loc[bad["reason"] == _REASONS["offset"], "file"])
        for source in sources:
            for file in source.files:
                if len(self.rejects) + len(others) >= limit or file not in bad_files:
                    continue
                one = replace(source, files=[file])
                # The time column typed: a CSV row whose time does not parse is a
                # reject here, with its line number (it is not one in the counting scan).
                passes = [True]
                if source.format == "csv" and file in offsets:
                    passes.append(False)  # a typed time has lost its offset: the text's pass
                for typed in passes:
                    want = limit - len(self.rejects) - len(others)
                    if want <= 0:
                        break
                    others += self._examples_of(one, typed=typed, limit=want)
                    # The example scan repeats the counting scan's rejects: kept once.
                    self._take_rejects()
        rejects = sorted(self.rejects, key=lambda r: (r["file"], r["line"]))
        return (rejects + others)[:limit]

    def _examples_of(self, source: _Source, *, typed: bool, limit: int) -> list[dict]:
        csv_file = source.format == "csv"
        scan = self._scan(source, numbered=not csv_file, typed=typed and csv_file)
        reason = self._reason(scan, source)
        where = "reason IS NOT NULL"
        if csv_file and not typed:
            where = f"reason = {_sql_str(_REASONS['offset'])}"
        query = (
            "SELECT CAST(COLUMNS(*) AS VARCHAR) FROM "
            f"(SELECT *, {reason} AS reason FROM {scan.relation}) "
            f"WHERE {where} LIMIT {int(limit)}"
        )
        cursor = self.run(query, source)
        names = [d[0] for d in cursor.description]
        hidden = {"filename", "file_row_number", "line_no", "reason", "m", _TIME}
        header = source.header or ()
        found = []
        for values in cursor.fetchall():
            row = dict(zip(names, values, strict=True))
            if source.format == "clf":
                shown = row["line"] or ""
            else:
                shown = ", ".join(
                    f"{_shown_name(k, header)}={v}" for k, v in row.items() if k not in hidden
                )
            line_no = row.get("line_no")
            found.append(
                {
                    "file": self.name(source.files[0]),
                    "line": None if line_no is None else int(line_no),
                    "reason": row["reason"],
                    "text": shown,
                }
            )
        return found

    # --- checks ------------------------------------------------------------------

    def _header(self, file: str) -> tuple[str, ...]:
        """Column names from the first line, read as CSV (quoted names may hold commas).

        A name used twice is refused when it is a column read, else kept apart.
        """
        if file in self.headers:
            return self.headers[file]
        try:
            with _open_bytes(file) as f:
                first = f.read(1 << 20).split(b"\n", 1)[0]
        except _READ_ERRORS as error:
            raise ValueError(
                f"{self.name(file)}: cannot be read: {error}{_hint(self.name(file), 'damaged')}"
            ) from error
        # DuckDB ends a line at a carriage return too
        text = re.split("[\r\n]", first.decode("utf-8", "replace").lstrip("\ufeff"))[0]
        if not text.strip():
            raise ValueError(
                f"{self.name(file)}: line 1 should be a header naming the columns; it is empty"
            )
        try:
            names = next(csv.reader([text]))
        except (csv.Error, StopIteration) as error:
            raise ValueError(
                f"{self.name(file)}: line 1 should be a header naming the columns; it cannot "
                f"be read as CSV ({error})"
            ) from error
        names = [name.strip() for name in names]
        wanted = {c for c in (self.ts_col, self.event_col, self.status_col) if c}
        twice = sorted({n for n in names if n in wanted and names.count(n) > 1})
        if twice:
            raise ValueError(
                f"{self.name(file)}: line 1 names column(s) {twice} more than once; which "
                "one to read is unclear"
            )
        self.headers[file] = tuple(names)
        return self.headers[file]


_READ_ERRORS = (OSError, EOFError, zlib.error, ValueError)  # ValueError: pyarrow's ArrowInvalid


def _open_bytes(path: str):
    """The file's bytes, uncompressed: gzip by zlib, zstd by pyarrow (libzstd)."""
    lower = path.lower()
    if lower.endswith(".gz"):
        return gzip.open(path, "rb")
    if lower.endswith(".zst"):
        import pyarrow as pa

        return pa.CompressedInputStream(pa.OSFile(path), "zstd")
    return open(path, "rb")


class _CompressedCheck:
    """Compressed files read through (lengths and checksums checked) on a thread.

    zlib and libzstd work without the interpreter lock, so the check runs beside
    DuckDB's scan; `finish` waits for it (or stops it, after an error of the scan).
    """

    def __init__(self, files: list[str]):
        self.failed: tuple[str, Exception] | None = None
        self._stop = threading.Event()
        self._thread = None
        if files:
            self._thread = threading.Thread(target=self._run, args=(files,), daemon=True)
            self._thread.start()

    def _run(self, files: list[str]) -> None:
        for file in files:
            try:
                with _open_bytes(file) as f:
                    while not self._stop.is_set() and f.read(1 << 22):
                        pass
            except _READ_ERRORS as error:
                self.failed = (file, error)
                return

    def finish(self, stop: bool = False) -> None:
        if self._thread is None:
            return
        if stop:
            self._stop.set()
        self._thread.join()


def _shown_name(column: str, header: tuple[str, ...]) -> str:
    """The header's name of a CSV column read under a placeholder name."""
    if column.startswith(_COLUMN) and column[len(_COLUMN) :].isdigit():
        index = int(column[len(_COLUMN) :])
        if index < len(header):
            return header[index]
    return column


def _in_window(ts: str) -> str:
    """SQL condition: the time is within the years read (false for NULL)."""
    low, high = (f"TIMESTAMPTZ {_sql_str(t)}" for t in _WINDOW)
    return f"({ts} > {low} AND {ts} < {high})"


def _offset_bad(text: str, clf: bool) -> str:
    """SQL condition: the text's UTC offset is beyond ±14:00 or has minutes of 60 or more.

    The usual forms are checked with string functions ("...+0200" in CLF,
    "...+02:00" or "...Z" in ISO text), the others with a regular expression.
    """
    if clf:
        # dd/Mon/yyyy:HH:MM:SS +hhmm: the offset's hours at 23-24, minutes at 25-26
        hh, mm = f"substr({text}, 23, 2)", f"substr({text}, 25, 2)"
        return (
            f"CASE WHEN length({text}) = 26 AND substr({text}, 21, 1) = ' ' "
            f"THEN {mm} >= '60' OR {hh} > '14' OR ({hh} = '14' AND {mm} <> '00') "
            f"ELSE NOT regexp_matches({text}, {_sql_str(_CLF_OFFSET_VALID)}) END"
        )
    hh, mm = f"substr({text}, -5, 2)", f"right({text}, 2)"
    return (
        f"CASE WHEN suffix({text}, 'Z') THEN false "
        f"WHEN {text} LIKE '%+__:__' OR {text} LIKE '%-__:__' "
        f"THEN {mm} >= '60' OR {hh} > '14' OR ({hh} = '14' AND {mm} <> '00') "
        f"ELSE regexp_matches({text}, {_sql_str(_OFFSET_TEXT)}) "
        f"AND NOT regexp_matches({text}, {_sql_str(_OFFSET_VALID)}) END"
    )


def _duck_message(error, path: str | None = None) -> str:
    """DuckDB's message on one line, without its category ("IO Error: ") or the path."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    message = lines[0] if lines else type(error).__name__
    message = re.sub(r"^[A-Za-z ]*Error: ", "", message)
    if path:
        for quoted in (f": {path}", f" '{path}'", f' "{path}"', f" {path}"):
            message = message.replace(quoted, "")
        message = message.replace(path, "the file")
    return message


_MAGIC = {
    b"\x1f\x8b": ("gzip", ".gz"),
    b"\x28\xb5\x2f\xfd": ("zstd", ".zst"),
    b"BZh": ("bzip2", None),
    b"\xfd7zXZ\x00": ("xz", None),
    b"PK\x03\x04": ("zip", None),
}


def _hint(path: str, message: str) -> str:
    """What a file that cannot be read seems to be, from its first bytes and name."""
    lower = path.lower()
    words = message.lower()
    if lower.endswith(_COMPRESSED) and any(
        w in words for w in ("gzip", "zstd", "frame", "damaged", "dictionary", "compress")
    ):
        kind = "gzip" if lower.endswith(".gz") else "zstd"
        return f" (the {kind} data is truncated or damaged, or the file is not {kind})"
    if "magic bytes" in message or "parquet" in message.lower():
        return " (not a Parquet file, or a truncated one)"
    if "state machine" in message:
        return " (binary data, or line endings that mix CR and CRLF)"
    if "memory" in words:
        return " (pass memory_limit= or fewer threads=)"
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return ""
    for magic, (kind, ext) in _MAGIC.items():
        if head.startswith(magic):
            if ext and lower.endswith(ext):
                return ""
            if ext:
                return f" (it looks {kind}-compressed: name it *{ext})"
            return f" (it looks {kind}-compressed, which is not read: decompress it first)"
    if head.startswith(b"PAR1") and not lower.endswith((".parquet", ".pq")):
        return " (it looks like Parquet: name it *.parquet or pass format='parquet')"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return " (it looks UTF-16: convert it to UTF-8)"
    if head.lstrip()[:1] in (b"{", b"["):
        return " (JSON is not read: convert it to CSV)"
    return ""


def _suffixes(file: str) -> str:
    """The file's suffixes that tell its compression and format (.log.gz, .csv)."""
    suffixes = "".join(s for s in Path(file).suffixes[-2:] if s.isascii() and s[1:].isalnum())
    return suffixes


def _fill(good, interval_us, count_column, by_event, count_errors, max_intervals) -> pd.DataFrame:
    """Sum the parts and lay every interval of each event's span, zeros included.

    The spans are checked against `max_intervals` before anything is laid out,
    and laid out at once for all events (a column with a million events is a
    million spans, not a million tables).
    """
    iv = int(interval_us)
    columns = (["event_id"] if by_event else []) + ["timestamp", count_column]
    columns += ["join_errors"] if count_errors else []
    if good.empty:
        empty = pd.DataFrame({c: pd.Series(dtype="int64") for c in columns})
        empty["timestamp"] = pd.Series(dtype="datetime64[us, UTC]")
        if by_event:
            empty["event_id"] = pd.Series(dtype="str")
        return empty[columns]
    # Sum the parts per (event, bucket): sorted by event, then bucket.
    if by_event:
        codes, events = pd.factorize(good["event"].fillna("").to_numpy(object), sort=True)
    else:
        codes, events = np.zeros(len(good), np.int64), np.array([""], object)
    buckets = good["bucket"].to_numpy(np.int64)
    order = np.lexsort((buckets, codes))
    codes, buckets = codes[order], buckets[order]
    firsts = np.flatnonzero(np.r_[True, (codes[1:] != codes[:-1]) | (buckets[1:] != buckets[:-1])])
    n = np.add.reduceat(good["n"].to_numpy(np.int64)[order], firsts)
    n_errors = np.add.reduceat(good["errors"].to_numpy(np.int64)[order], firsts)
    codes, buckets = codes[firsts], buckets[firsts]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], len(codes)] - 1
    lo, hi = buckets[starts], buckets[ends]
    spans = (hi - lo) // iv + 1
    totals = np.cumsum(spans)
    if totals[-1] > max_intervals:
        k = int(np.argmax(totals > max_intervals))
        first, last = (pd.Timestamp(int(x), unit="us", tz="UTC") for x in (lo[k], hi[k]))
        event = events[k]
        raise ValueError(
            f"the lines{f' of event {event!r}' if by_event else ''} span {first} to "
            f"{last}: {int(spans[k]):,} intervals of {iv / 1e6:g} s"
            f"{f', {int(totals[k]):,} with the events before it' if k else ''}, more than "
            f"max_intervals ({max_intervals:,}); look for stray timestamps, or pass a longer "
            "interval"
        )
    total = int(totals[-1])
    offsets = totals - spans
    slot = offsets[codes] + (buckets - lo[codes]) // iv
    counts = np.zeros(total, np.int64)
    errors = np.zeros(total, np.int64)
    counts[slot] = n
    errors[slot] = n_errors
    within = np.arange(total, dtype=np.int64) - np.repeat(offsets, spans)
    block = {
        "timestamp": pd.to_datetime(np.repeat(lo, spans) + within * iv, unit="us", utc=True),
        count_column: counts,
    }
    if count_errors:
        block["join_errors"] = errors
    frame = pd.DataFrame(block)
    if by_event:
        frame.insert(0, "event_id", pd.array(np.repeat(np.asarray(events), spans), dtype="str"))
    return frame[columns]


# --- argument checks -----------------------------------------------------------------


def _expand(paths) -> list[str]:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    try:
        paths = list(paths)
    except TypeError:
        raise ValueError(
            f"paths must be a path, a glob pattern or a list of them; got {type(paths).__name__}"
        ) from None
    if not paths:
        raise ValueError("paths is empty: give at least one log file")
    files: list[str] = []
    seen: dict[str, str] = {}
    for entry in paths:
        if isinstance(entry, os.PathLike):
            entry = os.fspath(entry)
        if not isinstance(entry, str):
            raise ValueError(f"paths must be paths or glob patterns; got {entry!r}")
        if not entry.strip() or "\x00" in entry:
            raise ValueError(f"paths must be paths or glob patterns; got {entry!r}")
        if Path(entry).is_file():  # a file named "a[1].log" is that file, not a pattern
            matched = [entry]
        elif glob.has_magic(entry):
            matched = sorted(glob.glob(entry))
            if not matched:
                raise MissingFileError(f"no file matches {entry!r}")
            for file in matched:
                if not Path(file).is_file():
                    what = "a directory" if Path(file).is_dir() else "not a regular file"
                    raise ValueError(
                        f"{file!r} (matched by {entry!r}) is {what}, not a log file: use a "
                        "pattern that matches the log files only, such as 'logs/*.log'"
                    )
        elif Path(entry).is_dir():
            raise ValueError(
                f"log file {entry!r} is a directory, not a file: pass its log files, or a "
                f"pattern such as {os.path.join(entry, '*.log')!r}"
            )
        elif Path(entry).exists():
            raise ValueError(f"log file {entry!r} is not a regular file")
        else:
            raise MissingFileError(f"log file {entry!r} does not exist")
        for file in matched:
            key = os.path.realpath(file)
            if key in seen:
                also = f" (also as {seen[key]!r})" if seen[key] != file else ""
                raise ValueError(
                    f"log file {file!r} is given twice{also}: its lines would be counted twice"
                )
            seen[key] = file
            files.append(file)
    return files


def _format_of(file: str) -> str:
    name = file.lower()
    for ext in _COMPRESSED:
        name = name.removesuffix(ext)
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    return "clf"


def _sources(files: list[str], format: str | None) -> list[_Source]:
    if format is not None:
        _check_choice("format", format, list(FORMATS))
    by_format: dict[str, list[str]] = {}
    for file in files:
        by_format.setdefault(format or _format_of(file), []).append(file)
    return [_Source(fmt, fs) for fmt, fs in by_format.items()]


def _interval_us(interval) -> int:
    if isinstance(interval, bool):
        raise ValueError(f"interval must be a duration such as '1s' or seconds; got {interval!r}")
    try:
        if isinstance(interval, int | float | np.integer | np.floating):
            seconds = float(interval)
        elif isinstance(interval, str) and re.fullmatch(
            r"\s*[-+]?[\d.]+(e[-+]?\d+)?\s*", interval, re.I
        ):
            seconds = float(interval)  # "60" on the command line: seconds, not nanoseconds
        else:
            seconds = pd.Timedelta(interval).total_seconds()
    except (ValueError, TypeError, OverflowError, ArithmeticError) as error:
        raise ValueError(
            f"interval must be a duration such as '1s', '10s', '1min' or a number of "
            f"seconds; got {interval!r}"
        ) from error
    us = seconds * 1e6
    if not np.isfinite(us) or us < 1 or abs(us - round(us)) > 1e-6:
        raise ValueError(
            f"interval must be a positive whole number of microseconds; got {interval!r}"
        )
    if us > _MAX_INTERVAL_US:
        raise ValueError(f"interval must be at most 100 years; got {interval!r}")
    return round(us)


def _check_choice(name: str, value, choices: list[str]):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}; got {value!r}")
    return value


def _sql_str(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _quote(identifier: str) -> str:
    return '"' + str(identifier).replace('"', '""') + '"'


# --- command line --------------------------------------------------------------------


def main_aggregate(argv: list[str] | None = None) -> int:
    """``capplan aggregate PATHS... [--interval 1s] [-o OUT.parquet|csv]``.

    Prints the conversions and the malformed-line report on stderr and the
    table (or a line saying where it was written) on stdout. Bad input (naive
    timestamps without ``--naive-timezone``, a file that cannot be read, a bad
    option included): one line on stderr, exit code 2. The output file is
    written under a temporary name and renamed into place only when complete.
    """
    from capplan._files import staged

    parser = OneLineParser(
        prog="capplan aggregate",
        description="Count log lines per interval (Common Log Format, CSV or Parquet), "
        "zero where no line fell, into the series format of a history.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="log files or glob patterns")
    parser.add_argument("--interval", default="1s", help="interval length (default: 1s)")
    parser.add_argument("-o", "--output", help="write the table to OUT.parquet or OUT.csv")
    parser.add_argument("--format", choices=FORMATS, help="read every file in this format")
    parser.add_argument("--count-column", default="requests", help="requests (default) or joins")
    parser.add_argument("--timestamp-column", default="timestamp")
    parser.add_argument("--timestamp-unit", choices=list(TIMESTAMP_UNITS))
    parser.add_argument("--event-column", help="CSV/Parquet column giving event_id")
    parser.add_argument(
        "--errors", action="store_true", help="also count join_errors (status >= 500)"
    )
    parser.add_argument("--status-column", default="status")
    parser.add_argument(
        "--naive-timezone",
        metavar="ZONE",
        help="zone of timestamps written without an offset, e.g. UTC or Europe/Paris "
        "(default: such timestamps are refused)",
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, or a refusal already printed on one line
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 2)

    def refuse(message) -> int:
        print(f"capplan aggregate: error: {one_line(message)}", file=sys.stderr)
        return 2

    try:
        if args.output:
            if not args.output.lower().endswith((".csv", ".parquet")):
                raise ValueError(f"--output must end in .csv or .parquet; got {args.output!r}")
            folder = Path(args.output).absolute().parent
            if not folder.is_dir() or Path(args.output).is_dir():
                what = "is a directory" if Path(args.output).is_dir() else "has no folder"
                raise ValueError(f"--output {args.output!r} {what}: nothing was read")
        frame = aggregate_logs(
            args.paths,
            args.interval,
            format=args.format,
            count_column=args.count_column,
            timestamp_column=args.timestamp_column,
            timestamp_unit=args.timestamp_unit,
            event_column=args.event_column,
            count_errors=args.errors,
            status_column=args.status_column,
            naive_timezone=args.naive_timezone,
        )
    except ValueError as error:  # FileNotFoundError for a missing log is one too
        return refuse(error)
    except OSError as error:
        if error.filename is not None and error.strerror:
            return refuse(f"{error.filename}: {error.strerror}")
        return refuse(error)
    for conversion in frame.attrs["conversions"]:
        print(
            f"{conversion['count']:,} timestamp(s) in column {conversion['column']!r}: "
            f"{conversion['action']}",
            file=sys.stderr,
        )
    malformed = frame.attrs["malformed"]
    if malformed:
        print(f"{malformed:,} malformed line(s) not counted, for example:", file=sys.stderr)
        for ex in frame.attrs["malformed_examples"]:
            where = f"{ex['file']}:{ex['line']}" if ex["line"] is not None else ex["file"]
            text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in ex["text"][:200])
            print(f"  {where}: {ex['reason']}: {text}", file=sys.stderr)
    if args.output:
        try:
            with staged(args.output) as (temporary,):
                if args.output.lower().endswith(".csv"):
                    frame.to_csv(temporary, index=False)
                else:
                    frame.to_parquet(temporary, index=False)
        except OSError as error:
            return refuse(f"{args.output}: cannot be written: {error.strerror or error}")
        print(f"{len(frame):,} intervals from {frame.attrs['lines']:,} lines -> {args.output}")
    else:
        print(frame.to_string(index=False))
    return 0
