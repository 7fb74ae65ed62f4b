"""``aggregate_logs``: raw request or join logs to the per-interval series of a history.

The files are scanned by DuckDB (embedded, no server), in parallel and in
bounded memory: only the per-interval counts ever reach Python. Lines that
cannot be read are counted and reported with examples, never dropped silently.
"""

from __future__ import annotations

import argparse
import glob
import sys
import zoneinfo
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from capplan.data import schema

__all__ = ["CLF_PATTERN", "aggregate_logs", "main_aggregate"]

FORMATS = ("clf", "csv", "parquet")
TIMESTAMP_UNITS = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}  # to microseconds

# Common Log Format: host ident authuser [date] "request" status bytes. Anything
# after the bytes field (the referer and user agent of the Combined Log Format)
# is allowed and ignored. Escaped quotes (\") inside the request are allowed.
CLF_PATTERN = r'^\S+ \S+ \S+ \[([^\]]+)\] "(?:[^"\\]|\\.)*" (\d{3}) \S+'
CLF_TIME_FORMAT = "%d/%b/%Y:%H:%M:%S %z"

_DELIM_NEVER = "\x01"  # CLF lines are read whole: a delimiter that text logs do not hold
_COMPRESSED = (".gz", ".zst")

# Timestamp text that carries its own offset or zone, as DuckDB reads it ("...Z",
# "...+02:00", "...+0200", "...+02", "... Europe/Paris"): text that does not match is naive.
_AWARE_TEXT = (
    r"(?i)\d{2}:\d{2}(:\d{2}(\.\d*)?)?\s*"  # the time, then
    r"(z|[+-]\d{1,2}(:?\d{2})?|[a-z][a-z0-9_/+-]*)\s*$"  # an offset or a zone name
)
_TIME = "capplan_time_"  # the parsed time, a column added to the scan
_HEAD_ROWS = 1000  # rows looked at first, to refuse a naive log before the full scan


@dataclass(frozen=True)
class _Source:
    """The files of one format and how to read them in SQL."""

    format: str
    files: list[str]
    time_type: str | None = None  # Parquet: the DuckDB type of the timestamp column


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
        ``"1min"``, or a number of seconds. Intervals are aligned to the Unix
        epoch (a minute starts at second 0 UTC).
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
        A path or pattern matches no file.
    ValueError
        An argument is out of range, a CSV/Parquet column is missing, the
        timestamps have no offset and ``naive_timezone`` is not given (the
        message names the file, the column and an example), or the result
        would exceed ``max_intervals``.

    Notes
    -----
    Malformed lines, counted but not in the result: CLF lines that do not
    match :data:`CLF_PATTERN` or whose date does not parse (including empty
    lines); CSV rows with too many or too few fields or a value of the wrong
    type (DuckDB's rejects, with their line number); rows with an empty
    timestamp or event. In CSV, empty lines are not records and are skipped
    as any CSV reader does. CSV files need a header line naming the columns.

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
    if naive_timezone is not None:
        try:
            zoneinfo.ZoneInfo(naive_timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as error:
            raise ValueError(
                f"naive_timezone must be an IANA zone such as 'UTC' or 'Europe/Paris'; "
                f"got {naive_timezone!r}"
            ) from error
    for name, value, low in (
        ("max_examples", max_examples, 0),
        ("max_intervals", max_intervals, 1),
        ("error_status", error_status, 100),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
    sources = _sources(files, format)
    if event_column is not None and any(s.format == "clf" for s in sources):
        clf = next(s for s in sources if s.format == "clf").files[0]
        raise ValueError(
            f"event_column={event_column!r} needs CSV or Parquet files; {clf} is read as "
            "Common Log Format, which has no event column: aggregate each event's logs "
            "separately, or pass format='csv' if it is a CSV file"
        )

    import duckdb  # imported here: the rest of capplan does not need it

    con = duckdb.connect(":memory:")
    try:
        # DuckDB reads a naive timestamp in its session zone; without naive_timezone
        # any naive timestamp is refused below, so the zone set here is never used.
        con.execute(f"SET TimeZone = {_sql_str(naive_timezone or 'UTC')}")
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
        if memory_limit is not None:
            con.execute("SET memory_limit = $1", [str(memory_limit)])
        reader = _Reader(
            con,
            interval_us=interval_us,
            timestamp_column=timestamp_column,
            timestamp_unit=timestamp_unit,
            event_column=event_column,
            status_column=status_column if count_errors else None,
            error_status=error_status,
        )
        sources = [part for source in sources for part in reader.by_time_type(source)]
        if naive_timezone is None:
            for source in sources:
                reader.refuse_naive(source, head=_HEAD_ROWS)
        parts = [reader.aggregate(source) for source in sources]
        if naive_timezone is None:
            for source, part in zip(sources, parts, strict=True):
                if part[0]["naive"].sum():
                    reader.refuse_naive(source)
        good = pd.concat([p[0] for p in parts], ignore_index=True)
        bad = pd.concat([p[1] for p in parts], ignore_index=True)
        examples = reader.examples(sources, bad, max_examples)
    finally:
        con.close()

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


class _Reader:
    """SQL for one aggregation: read, parse, bucket, count."""

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
    ):
        self.con = con
        self.iv = int(interval_us)
        self.ts_col = timestamp_column
        self.unit = timestamp_unit
        self.event_col = event_column
        self.status_col = status_column
        self.error_status = int(error_status)
        self.rejects: pd.DataFrame | None = None

    # --- the readers, one SQL relation per format --------------------------------

    def _scan(
        self, source: _Source, *, numbered: bool = False, typed_time: bool = False
    ) -> tuple[str, str, str, str]:
        """FROM clause and the expressions of the time (TIMESTAMPTZ), event and status.

        A CSV time column is read as text, so that naive timestamps can be told
        apart (see `_naive`); with `typed_time` DuckDB's reader parses it, and a
        row whose time does not parse becomes a reject with its line number.
        """
        files = "[" + ", ".join(_sql_str(f) for f in source.files) + "]"
        if source.format == "clf":
            scan = (
                f"read_csv({files}, columns={{'line': 'VARCHAR'}}, delim={_sql_str(_DELIM_NEVER)}, "
                "header=false, quote='', escape='', auto_detect=false, filename=true, "
                "store_rejects=true, rejects_limit=0)"
            )
            rows = "row_number() OVER () AS line_no, " if numbered else ""
            inner = (
                f"(SELECT {rows}filename, line, "
                f"regexp_extract(line, {_sql_str(CLF_PATTERN)}, ['ts', 'status']) AS m FROM {scan})"
            )
            ts = f"try_strptime(m.ts, {_sql_str(CLF_TIME_FORMAT)})"
            return inner, ts, "NULL", "TRY_CAST(nullif(m.status, '') AS INTEGER)"
        if source.format == "csv":
            self._require_columns(source)
            time_type = "TIMESTAMPTZ" if typed_time else "VARCHAR"
            columns = {self.ts_col: "DOUBLE" if self.unit else time_type}
            extra = {self.event_col: "VARCHAR", self.status_col: "INTEGER"}
            header = self._header(source.files[0])
            for name in header:
                columns[name] = extra.get(name, columns.get(name, "VARCHAR"))
            columns = {name: columns[name] for name in header}
            cols = ", ".join(f"{_sql_str(k)}: {_sql_str(v)}" for k, v in columns.items())
            not_null = f", force_not_null=[{_sql_str(self.status_col)}]" if self.status_col else ""
            scan = (
                f"read_csv({files}, columns={{{cols}}}, header=true, auto_detect=false, "
                f"filename=true, store_rejects=true, rejects_limit=0{not_null})"
            )
        else:
            self._require_columns(source)
            number = ", file_row_number=true" if numbered else ""
            scan = f"read_parquet({files}, filename=true{number})"
        ts = _quote(self.ts_col)
        if self.unit:
            factor = TIMESTAMP_UNITS[self.unit]
            ts = f"make_timestamptz(CAST(round(CAST({ts} AS DOUBLE) * {factor!r}) AS BIGINT))"
        else:
            ts = f"TRY_CAST({ts} AS TIMESTAMPTZ)"
        event = f"CAST({_quote(self.event_col)} AS VARCHAR)" if self.event_col else "NULL"
        status = f"TRY_CAST({_quote(self.status_col)} AS INTEGER)" if self.status_col else "NULL"
        line_no = ", file_row_number + 1 AS line_no" if numbered else ""
        # The time is computed once per row: text is parsed once, not in every use.
        scan = f"(SELECT *, {ts} AS {_TIME}{line_no} FROM {scan})"
        return scan, _TIME, event, status

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

    def by_time_type(self, source: _Source) -> list[_Source]:
        """Parquet files grouped by the type of their timestamp column.

        Whether a Parquet timestamp is naive is a property of the file, and
        files read together would be cast to one type: each type is read apart.
        """
        if source.format != "parquet":
            return [source]
        self._require_columns(source)
        groups: dict[str, list[str]] = {}
        for file in source.files:
            cursor = self.con.execute(
                f"SELECT {_quote(self.ts_col)} FROM read_parquet({_sql_str(file)}) LIMIT 0"
            )
            groups.setdefault(str(cursor.description[0][1]), []).append(file)
        return [replace(source, files=fs, time_type=t) for t, fs in groups.items()]

    def refuse_naive(self, source: _Source, head: int | None = None) -> None:
        """Raise ValueError at the first naive timestamp (in the first `head` rows)."""
        naive = self._naive(source)
        if naive == "false":
            return
        scan, ts, _, _ = self._scan(source, numbered=source.format == "parquet")
        rows = f"(SELECT * FROM {scan} LIMIT {int(head)})" if head else scan
        line = "line_no" if source.format == "parquet" else "NULL"
        found = self.con.execute(
            f"SELECT filename, CAST({_quote(self.ts_col)} AS VARCHAR), {line} FROM {rows} "
            f"WHERE {ts} IS NOT NULL AND {naive} LIMIT 1"
        ).fetchone()
        self._rejects(keep=False)  # counted by the full scan, not by this look
        if found is None:
            return
        file, value, line_no = found
        where = f"{file}: column {self.ts_col!r}" + (f", row {line_no}" if line_no else "")
        raise ValueError(
            f"{where}: timestamps have no time zone (for example {value!r}); times must be "
            "UTC. Write them with an offset ('...+00:00') or pass naive_timezone='UTC' "
            "(or the zone they were recorded in; --naive-timezone UTC on the command line) "
            "to convert them"
        )

    def _reason(self, source: _Source, ts: str, event: str, status: str) -> str:
        """SQL CASE naming why a row is malformed, NULL for a good row."""
        cases = []
        if source.format == "clf":
            cases += [
                ("line IS NULL OR trim(line) = ''", "empty line"),
                ("m.ts = ''", "not a Common Log Format line"),
            ]
        cases.append((f"{ts} IS NULL", "timestamp missing or unreadable"))
        if self.event_col:
            cases.append((f"{event} IS NULL OR trim({event}) = ''", "event missing"))
        if self.status_col:
            cases.append((f"{status} IS NULL", "status missing or not an integer"))
        whens = " ".join(f"WHEN {cond} THEN {_sql_str(why)}" for cond, why in cases)
        return f"CASE {whens} ELSE NULL END"

    def aggregate(self, source: _Source) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Counts per (bucket, event) of good rows; per (file, reason) of bad ones."""
        scan, ts, event, status = self._scan(source)
        reason = self._reason(source, ts, event, status)
        naive = self._naive(source)
        us = f"epoch_us({ts})"
        bucket = f"({us} - ((({us} % {self.iv}) + {self.iv}) % {self.iv}))"
        errors = (
            f"count(*) FILTER (WHERE {status} >= {self.error_status})" if self.status_col else "0"
        )
        query = f"""
            SELECT reason,
                   CASE WHEN reason IS NULL THEN NULL ELSE filename END AS file,
                   CASE WHEN reason IS NULL THEN {bucket} END AS bucket,
                   CASE WHEN reason IS NULL THEN {event} END AS event,
                   count(*) AS n, {errors} AS errors,
                   count(*) FILTER (WHERE reason IS NULL AND {naive}) AS naive
            FROM (SELECT *, {reason} AS reason FROM {scan})
            GROUP BY ALL
        """
        out = self.con.execute(query).df()
        good = out[out["reason"].isna()][["bucket", "event", "n", "errors", "naive"]]
        bad = out[out["reason"].notna()][["file", "reason", "n"]]
        rejects = self._rejects()
        if len(rejects):
            counted = rejects.groupby(["file", "reason"], as_index=False).size()
            bad = pd.concat([bad, counted.rename(columns={"size": "n"})], ignore_index=True)
        return good, bad

    def _rejects(self, keep: bool = True) -> pd.DataFrame:
        """DuckDB's rejected rows (one per line) of the last scan, with file and line.

        They are cleared from DuckDB's tables and, with `keep`, added to `self.rejects`.
        """
        if not self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'reject_errors'"
        ).fetchone()[0]:
            return pd.DataFrame(columns=["file", "line", "reason", "text"])
        rejects = self.con.execute(
            """
            SELECT s.file_path AS file, e.line AS line,
                   first(CAST(e.error_type AS VARCHAR) || ': ' || e.error_message) AS reason,
                   first(e.csv_line) AS text
            FROM reject_errors e JOIN reject_scans s USING (scan_id, file_id)
            GROUP BY ALL ORDER BY file, line
            """
        ).df()
        self.con.execute("DELETE FROM reject_errors")
        self.con.execute("DELETE FROM reject_scans")
        rejects["reason"] = "unreadable row: " + rejects["reason"].str.split("\n").str[0]
        if keep:
            self.rejects = pd.concat(
                [r for r in (self.rejects, rejects) if r is not None], ignore_index=True
            )
        return rejects

    def examples(self, sources, bad: pd.DataFrame, limit: int) -> list[dict]:
        """The first few malformed lines: rejects with line numbers, then the others."""
        if limit == 0 or bad.empty:
            return []
        rejects: list[dict] = []
        others: list[dict] = []

        def add_rejects(frame: pd.DataFrame | None) -> None:
            seen = {(r["file"], r["line"]) for r in rejects}
            for row in [] if frame is None else frame.head(limit).itertuples():
                if (row.file, int(row.line)) not in seen:
                    rejects.append(
                        {
                            "file": row.file,
                            "line": int(row.line),
                            "reason": row.reason,
                            "text": row.text,
                        }
                    )

        add_rejects(self.rejects)
        bad_files = set(bad.loc[~bad["reason"].str.startswith("unreadable row"), "file"])
        for source in sources:
            for file in source.files:
                if len(rejects) + len(others) >= limit or file not in bad_files:
                    continue
                one = replace(source, files=[file])
                # The time column typed: a CSV row whose time does not parse is a
                # reject here, with its line number (it is not one in the counting scan).
                scan, ts, event, status = self._scan(
                    one, numbered=source.format != "csv", typed_time=True
                )
                reason = self._reason(one, ts, event, status)
                query = (
                    "SELECT CAST(COLUMNS(*) AS VARCHAR) FROM "
                    f"(SELECT *, {reason} AS reason FROM {scan}) "
                    f"WHERE reason IS NOT NULL LIMIT {limit - len(rejects) - len(others)}"
                )
                cursor = self.con.execute(query)
                names = [d[0] for d in cursor.description]
                hidden = {"filename", "file_row_number", "line_no", "reason", "m", _TIME}
                for values in cursor.fetchall():
                    row = dict(zip(names, values, strict=True))
                    if source.format == "clf":
                        shown = row["line"] or ""
                    else:
                        shown = ", ".join(f"{k}={v}" for k, v in row.items() if k not in hidden)
                    line_no = row.get("line_no")
                    others.append(
                        {
                            "file": file,
                            "line": None if line_no is None else int(line_no),
                            "reason": row["reason"],
                            "text": shown,
                        }
                    )
                # The example scan repeats the counting scan's rejects: keep only new ones.
                add_rejects(self._rejects(keep=False))
        rejects.sort(key=lambda r: (r["file"], r["line"]))
        return (rejects + others)[:limit]

    # --- checks ------------------------------------------------------------------

    def _header(self, file: str) -> list[str]:
        """Column names from the first line (comma-separated, optionally quoted)."""
        first = self.con.execute(
            f"SELECT line FROM read_csv({_sql_str(file)}, columns={{'line': 'VARCHAR'}}, "
            f"delim={_sql_str(_DELIM_NEVER)}, header=false, quote='', escape='', "
            "auto_detect=false) LIMIT 1"
        ).fetchone()
        if first is None or not first[0]:
            raise ValueError(f"{file}: line 1 should be a header naming the columns; it is empty")
        return [name.strip().strip('"') for name in first[0].split(",")]

    def _require_columns(self, source: _Source) -> None:
        wanted = [c for c in (self.ts_col, self.event_col, self.status_col) if c]
        for file in source.files:
            if source.format == "csv":
                present = self._header(file)
            else:
                cursor = self.con.execute(f"SELECT * FROM read_parquet({_sql_str(file)}) LIMIT 0")
                present = [d[0] for d in cursor.description]
            missing = [c for c in wanted if c not in present]
            if missing:
                raise ValueError(
                    f"{file}: column(s) {missing} not found; the file has {present}. Name the "
                    "columns with timestamp_column=, event_column= or status_column="
                )


def _fill(good, interval_us, count_column, by_event, count_errors, max_intervals) -> pd.DataFrame:
    """Sum the parts and lay every interval of each event's span, zeros included."""
    iv = int(interval_us)
    columns = (["event_id"] if by_event else []) + ["timestamp", count_column]
    columns += ["join_errors"] if count_errors else []
    if good.empty:
        empty = pd.DataFrame({c: pd.Series(dtype="int64") for c in columns})
        empty["timestamp"] = pd.Series(dtype="datetime64[us, UTC]")
        if by_event:
            empty["event_id"] = pd.Series(dtype="str")
        return empty[columns]
    good = good.assign(event=good["event"].fillna("")) if by_event else good.assign(event="")
    summed = good.groupby(["event", "bucket"], sort=True)[["n", "errors"]].sum()
    parts = []
    total = 0
    for event, part in summed.groupby(level="event", sort=True):
        buckets = part.index.get_level_values("bucket").to_numpy(np.int64)
        lo, hi = int(buckets[0]), int(buckets[-1])
        n_int = (hi - lo) // iv + 1
        total += n_int
        if total > max_intervals:
            first, last = (pd.Timestamp(x, unit="us", tz="UTC") for x in (lo, hi))
            raise ValueError(
                f"the lines{f' of event {event!r}' if by_event else ''} span {first} to "
                f"{last}: {n_int:,} intervals of {iv / 1e6:g} s, more than max_intervals "
                f"({max_intervals:,}); look for stray timestamps, or pass a longer interval"
            )
        counts = np.zeros(n_int, np.int64)
        errors = np.zeros(n_int, np.int64)
        slot = (buckets - lo) // iv
        counts[slot] = part["n"].to_numpy(np.int64)
        errors[slot] = part["errors"].to_numpy(np.int64)
        block = {
            "timestamp": pd.to_datetime(
                lo + np.arange(n_int, dtype=np.int64) * iv, unit="us", utc=True
            ),
            count_column: counts,
        }
        if count_errors:
            block["join_errors"] = errors
        frame = pd.DataFrame(block)
        if by_event:
            frame.insert(0, "event_id", pd.array([event] * n_int, dtype="str"))
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)[columns]


# --- argument checks -----------------------------------------------------------------


def _expand(paths) -> list[str]:
    if isinstance(paths, str | Path):
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
    for entry in paths:
        entry = str(entry)
        if glob.has_magic(entry):
            matched = sorted(glob.glob(entry))
            if not matched:
                raise FileNotFoundError(f"no file matches {entry!r}")
            files.extend(matched)
        elif Path(entry).is_file():
            files.append(entry)
        else:
            what = "is a directory, not a file" if Path(entry).is_dir() else "does not exist"
            raise FileNotFoundError(f"log file {entry!r} {what}")
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
        else:
            seconds = pd.Timedelta(interval).total_seconds()
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"interval must be a duration such as '1s', '10s', '1min' or a number of "
            f"seconds; got {interval!r}"
        ) from error
    us = seconds * 1e6
    if not np.isfinite(us) or us < 1 or abs(us - round(us)) > 1e-6:
        raise ValueError(
            f"interval must be a positive whole number of microseconds; got {interval!r}"
        )
    return round(us)


def _check_choice(name: str, value, choices: list[str]):
    if value not in choices:
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
    timestamps without ``--naive-timezone`` included): one line on stderr,
    exit code 2.
    """
    parser = argparse.ArgumentParser(
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
    args = parser.parse_args(argv)
    try:
        if args.output and not args.output.lower().endswith((".csv", ".parquet")):
            raise ValueError(f"--output must end in .csv or .parquet; got {args.output!r}")
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
    except (ValueError, FileNotFoundError) as error:
        print(f"capplan aggregate: error: {error}", file=sys.stderr)
        return 2
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
            print(f"  {where}: {ex['reason']}: {ex['text'][:200]}", file=sys.stderr)
    if args.output:
        if args.output.lower().endswith(".csv"):
            frame.to_csv(args.output, index=False)
        else:
            frame.to_parquet(args.output, index=False)
        print(f"{len(frame):,} intervals from {frame.attrs['lines']:,} lines -> {args.output}")
    else:
        print(frame.to_string(index=False))
    return 0
