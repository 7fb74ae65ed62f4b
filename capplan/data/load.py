"""Reading and checking an event history from CSV, Parquet or DataFrames.

:func:`load_history` is a boundary: whatever is wrong with its input comes
out as one ``ValueError`` whose one-line message names the file (or
"events DataFrame"), the column, the rows (counted from 1 after the header)
or the value, what was expected and what to do. Errors of the libraries
underneath (pandas, pyarrow, decoding, time zones) are caught here and
chained to that ``ValueError``; nothing is dropped without being listed in
``History.repairs``.
"""

from __future__ import annotations

import csv
import datetime as _datetime
import io
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from capplan.data import schema
from capplan.data.history import History
from capplan.data.validate import (
    ROW,
    InputError,
    RepairLog,
    Table,
    check_missing,
    format_rows,
    format_values,
    kind_of,
    parse_counts,
    parse_utc,
    refuse_nul,
    require_column_names,
    require_columns,
    require_present,
    require_rows,
    require_text,
)
from capplan.errors import ArgumentError, MissingFileError

#: Default of ``load_history(max_fill_intervals=...)``: at most this many missing
#: intervals are inserted when repairing gaps, in all events together. A million
#: intervals is eleven days at one second, far more than a real trace misses, and
#: a few tens of megabytes; a stray row years away from its series asks for far more.
MAX_FILL_INTERVALS = 1_000_000

#: Largest CSV text read (after decompression), and most rows of a Parquet table: a
#: table beyond them would take the machine's memory to load (a loaded row costs some
#: hundred bytes, its text several times more while parsing), and a small .csv.gz can
#: hold any amount of text.
MAX_CSV_BYTES = 2**30
MAX_ROWS = 50_000_000

_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


def load_history(
    events,
    series,
    *,
    repair: bool = False,
    naive_timezone: str | None = None,
    max_fill_intervals: int = MAX_FILL_INTERVALS,
) -> History:
    """Load and check an event history.

    Parameters
    ----------
    events, series : str, os.PathLike or pandas.DataFrame
        The two tables (see ``capplan.data.schema``), as ``.csv`` (UTF-8,
        optionally ``.csv.gz``) or ``.parquet`` files or as DataFrames. A
        DataFrame's named index is read as a column.
    repair : bool, default False
        If False, every defect is a ``ValueError``. If True, the loader
        repairs what it safely can and lists each repair in
        ``History.repairs``: rows repeated exactly are kept once, gaps in a
        series are filled with missing (NaN) intervals, missing counts are
        kept as NaN. Conflicting duplicates are always an error.
    naive_timezone : str, optional
        Zone in which timestamps without an offset were recorded (e.g.
        ``"UTC"``). By default such timestamps are refused. Timestamps with
        an offset are always converted to UTC, and the conversion is listed.
        A naive local time that the zone's daylight-saving change skips or
        repeats is refused, naming its rows: write those with their offset.
    max_fill_intervals : int, default 1,000,000
        The most intervals that ``repair=True`` inserts into gaps, in all
        events together (:data:`MAX_FILL_INTERVALS`). Beyond it the gaps are
        refused, with their count: usually a stray row far from the rest of
        its series.

    Returns
    -------
    History

    Raises
    ------
    ValueError
        Naming the file (or DataFrame), the column and the rows (counted
        from 1 after the header) of the first problem found, what was
        expected and what to do. The rules are in
        :mod:`capplan.data.validate`: counts are whole, finite, not negative
        and below 2**53; timestamps lie in 1900-2200; column names are
        unique. A missing file raises an error that is both a
        ``FileNotFoundError`` and a ``ValueError``.
    TypeError
        An argument of the wrong type (a table that is neither a path nor a
        DataFrame, a ``repair`` that is not a bool).

    Examples
    --------
    >>> import capplan
    >>> h = capplan.sample_history()
    >>> h.summary().shape[0] >= 40
    True
    """
    _check_arguments(repair, naive_timezone, max_fill_intervals)
    log = RepairLog()
    events_table = _read(events, "events")
    series_table = _read(series, "series")
    with _boundary(events_table.source):
        event_frame = _check_events(events_table, naive_timezone, log)
    with _boundary(series_table.source):
        series_frame = _check_series(
            series_table, event_frame, repair, naive_timezone, log, max_fill_intervals
        )
    return History(event_frame, series_frame, log.to_frame())


def _check_arguments(repair, naive_timezone, max_fill_intervals) -> None:
    if not isinstance(repair, (bool, np.bool_)):
        raise ArgumentError("repair", f"repair must be True or False, not {repair!r}")
    if isinstance(max_fill_intervals, bool) or not isinstance(
        max_fill_intervals, (int, np.integer)
    ):
        raise ArgumentError(
            "max_fill_intervals",
            f"max_fill_intervals must be an integer, not {max_fill_intervals!r}",
        )
    if max_fill_intervals < 0:
        raise InputError(f"max_fill_intervals must be 0 or more, not {max_fill_intervals!r}")
    if naive_timezone is None:
        return
    if not isinstance(naive_timezone, (str, _datetime.tzinfo)):
        raise ArgumentError(
            "naive_timezone",
            f"naive_timezone must be a time zone name such as 'UTC', not {naive_timezone!r}",
        )
    try:
        pd.Timestamp("2000-01-01").tz_localize(naive_timezone)
    except Exception as error:  # ZoneInfoNotFoundError, ValueError, ...: all mean unknown
        raise InputError(
            f"naive_timezone={naive_timezone!r} is not a known time zone; expected an IANA "
            "name such as 'UTC' or 'Europe/Paris'"
        ) from error


@contextmanager
def _boundary(source: str) -> Iterator[None]:
    """Turn any error that is not already a refusal into one naming `source`."""
    try:
        yield
    except (InputError, MemoryError, KeyboardInterrupt):
        raise
    except Exception as error:
        raise InputError(
            f"{source}: could not be checked ({type(error).__name__}: {_first_line(error)}). "
            "Check it against capplan.data.schema; if it looks right, report this to "
            "capplan's maintainers with the file"
        ) from error


def _first_line(error: BaseException, limit: int = 160) -> str:
    lines = str(error).strip().splitlines()
    line = lines[0] if lines else "no message"
    return line if len(line) <= limit else line[: limit - 3] + "..."


# --- reading -------------------------------------------------------------------------------


def _read(source, role: str) -> Table:
    if isinstance(source, pd.DataFrame):
        name = f"{role} DataFrame"
        with _boundary(name):
            return _table(_from_frame(source), name)
    if not isinstance(source, (str, os.PathLike)):
        raise ArgumentError(
            role, f"{role} must be a path or a pandas DataFrame, not {type(source).__name__}"
        )
    path = Path(source)
    with _boundary(f"{role} file {path}"):
        suffix = "".join(path.suffixes[-2:]).lower()
        try:
            exists, folder = path.exists(), path.is_dir()
        except (OSError, ValueError) as error:  # a NUL in it, a name too long, ...
            raise InputError(
                f"{role} file {str(path)!r}: not a usable path ({_first_line(error)})"
            ) from error
        if not exists:
            relative = "" if path.is_absolute() else f" (it is relative to {Path.cwd()})"
            raise MissingFileError(f"{role} file not found: {path}. Check the path{relative}")
        if folder:
            raise InputError(
                f"{path}: is a folder, not a file; give the {role} table's .csv or .parquet file"
            )
        if suffix.endswith((".parquet", ".pq")):
            frame = _read_parquet(path)
        elif suffix.endswith((".csv", ".csv.gz")):
            frame = _read_csv(path, suffix.endswith(".gz"))
        else:
            raise InputError(
                f"{path}: unknown file type {path.suffix!r}; expected .csv, .csv.gz or .parquet"
            )
        return _table(frame, str(path))


def _table(frame: pd.DataFrame, source: str) -> Table:
    require_column_names(frame, source)
    return Table(frame, source)


def _from_frame(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    columns = {*schema.EVENT_COLUMNS, *schema.SERIES_KEYS, *schema.MEASURED_COLUMNS}
    named = [n for n in frame.index.names if n is not None]
    if named and all(n in columns and n not in frame.columns for n in named):
        # e.g. History.events, indexed by event_id: that index is a column of the table
        frame = frame.reset_index()
    for i, dtype in enumerate(frame.dtypes):
        if isinstance(dtype, pd.ArrowDtype):  # pyarrow-backed: as numpy-backed pandas holds it
            import pyarrow as pa

            frame.isetitem(i, pa.array(frame.iloc[:, i]).to_pandas().set_axis(frame.index))
    return frame


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_CSV_BYTES:
            raise _too_large(path, f"{size:,} bytes")
        return path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror or error})") from error


def _too_large(path: Path, size: str) -> InputError:
    return InputError(
        f"{path}: {size}, more than the {MAX_CSV_BYTES:,} bytes of CSV text (or "
        f"{MAX_ROWS:,} rows) a history is read from; split it by event, aggregate raw logs "
        "with capplan.aggregate_logs, or resample to a longer interval first"
    )


def _gunzip(path: Path, raw: bytes) -> bytes:
    """``raw`` decompressed, at most MAX_CSV_BYTES of it (a gzip bomb is refused)."""
    out, rest = bytearray(), raw
    while rest:
        inflate = zlib.decompressobj(wbits=31)  # one gzip member after another
        while True:
            out += inflate.decompress(rest, MAX_CSV_BYTES + 1 - len(out))
            if len(out) > MAX_CSV_BYTES:
                raise _too_large(path, "text of more than that once decompressed")
            rest = inflate.unconsumed_tail
            if inflate.eof or not rest:
                break
        if not inflate.eof:
            raise EOFError("Compressed file ended before the end-of-stream marker was reached")
        rest = inflate.unused_data
    return bytes(out)


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
        rows = pq.read_metadata(path).num_rows
    except PermissionError as error:
        raise InputError(f"{path}: cannot be read ({error.strerror or error})") from error
    except Exception as error:  # ArrowInvalid: not Parquet, truncated, ...
        raise _not_parquet(path, error) from error
    if rows > MAX_ROWS:
        raise _too_large(path, f"{rows:,} rows")
    # Checked before pandas reads the file: pyarrow cannot read repeated names by name.
    require_column_names(
        pd.DataFrame(columns=[n for n in names if not n.startswith("__")]), str(path)
    )
    try:
        frame = pd.read_parquet(path)
    except OSError as error:
        if isinstance(error, PermissionError):
            raise InputError(f"{path}: cannot be read ({error.strerror or error})") from error
        raise _not_parquet(path, error) from error
    except Exception as error:  # pyarrow's ArrowInvalid, ValueError, OutOfBounds...
        raise _not_parquet(path, error) from error
    _check_utf8(path, frame)
    return _from_frame(frame)


def _check_utf8(path: Path, frame: pd.DataFrame) -> None:
    """Parquet text is UTF-8: a corrupted file may hold text columns that are not."""
    import pyarrow as pa

    for column, dtype in frame.dtypes.items():
        if pd.api.types.is_object_dtype(dtype) or not pd.api.types.is_string_dtype(dtype):
            continue
        try:
            strings = pa.array(frame[column])
            (strings.combine_chunks() if hasattr(strings, "combine_chunks") else strings).validate(
                full=True
            )
        except pa.ArrowException as error:
            raise InputError(
                f"{path}: column {column!r}: holds bytes that are not UTF-8 text "
                f"({_first_line(error)}). The file is corrupted: write it again"
            ) from error


def _not_parquet(path: Path, error: Exception) -> InputError:
    return InputError(
        f"{path}: cannot be read as Parquet ({_first_line(error)}). Expected a Parquet file "
        "of the columns in capplan.data.schema; write it with pandas' to_parquet, or use .csv"
    )


def _read_csv(path: Path, compressed: bool) -> pd.DataFrame:
    raw = _read_bytes(path)
    if compressed:
        try:
            raw = _gunzip(path, raw)
        except (OSError, EOFError, zlib.error) as error:
            raise InputError(
                f"{path}: not a readable gzip file ({_first_line(error)}). "
                "Compress it with gzip, or name it .csv"
            ) from error
    text = _decode(path, raw)
    if not text.strip():
        raise InputError(
            f"{path}: the file is empty. Expected a header line naming the columns "
            "(see capplan.data.schema) and one line per row"
        )
    header = _check_csv_shape(path, text)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            engine="c",
        )
    except Exception as error:  # ParserError and the like, once the shape was checked
        raise InputError(
            f"{path}: cannot be read as CSV ({_first_line(error)}). Expected comma-separated "
            "UTF-8 text with a header line"
        ) from error
    if list(frame.columns) != header:
        raise InputError(
            f"{path}: the header was read as {format_values(frame.columns)}, not as written "
            f"({format_values(header)}). Quote column names plainly"
        )
    return frame


def _decode(path: Path, raw: bytes) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(
            f"{path}: is UTF-16 text (it starts with a UTF-16 byte-order mark); save it as UTF-8"
        )
    raw = raw.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark means nothing more
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        where = "the header" if line == 1 else f"row {line - 1}"
        raise InputError(
            f"{path}: line {line} ({where}): byte 0x{raw[error.start]:02x} is not UTF-8 text. "
            "Save the file as UTF-8 (it may be Latin-1 or Windows-1252)"
        ) from error
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise InputError(
            f"{path}: line {line} holds a NUL byte; a CSV file is text. "
            "Check that the file is not binary or truncated"
        )
    text = text.replace("\r\n", "\n")
    if "\r" in text:
        line = text.count("\n", 0, text.index("\r")) + 1
        raise InputError(
            f"{path}: line {line} holds a carriage return (\\r) that does not end a line. "
            "Save the file with \\n or \\r\\n line endings"
        )
    # Blank lines at the end are no rows; blank lines inside are (and are refused).
    return text.rstrip("\n") + "\n"


def _check_csv_shape(path: Path, text: str) -> list[str]:
    """The header's names; every row has as many fields as the header."""
    if '"' in text:
        try:
            records = csv.reader(io.StringIO(text, newline=""))
            header = next(records)
            widths = np.fromiter((len(r) for r in records), dtype=np.int64)
        except csv.Error as error:
            line = records.line_num
            raise InputError(
                f"{path}: line {line} cannot be read as CSV ({_first_line(error)}). Check its "
                "quotes"
            ) from error
        blank = widths == 0  # as pandas reads a blank line: one empty field
        widths = np.where(blank, 1, widths)
    else:
        header = next(csv.reader(io.StringIO(text[: text.index("\n")])), [])
        data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        newlines = np.flatnonzero(data == 10)
        commas = np.flatnonzero(data == 44)
        widths = np.bincount(np.searchsorted(newlines, commas), minlength=len(newlines))
        widths = widths[1 : len(newlines)] + 1  # the header's line first; no line after last \n
        blank = np.diff(newlines) == 1
    if not header or header == [""]:
        raise InputError(f"{path}: the first line is blank; it must be the header")
    require_column_names(pd.DataFrame(columns=header), str(path))
    wrong = np.flatnonzero(widths != len(header))
    if len(wrong):
        rows = wrong + 1
        if blank[wrong].all():
            problem = "blank (an empty line inside the table)"
            advice = "Remove the empty lines"
        else:
            found = sorted(set(widths[wrong].tolist()))
            problem = f"{' or '.join(map(str, found))} field(s), the header {len(header)}"
            problem = ("has " if len(rows) == 1 else "have ") + problem
            advice = (
                "Give every row one value per column (leave a missing one empty); a cut-off "
                "last line means the file was truncated"
            )
        verb = "is" if len(rows) == 1 else "are"
        if problem.startswith("blank"):
            problem = f"{verb} {problem}"
        raise InputError(f"{path}: {format_rows(rows)} {problem}. {advice}")
    return header


# --- checking ------------------------------------------------------------------------------


def _check_events(table: Table, naive_timezone, log: RepairLog) -> pd.DataFrame:
    required = list(schema.EVENT_COLUMNS)
    require_rows(table, "events (one per event)")
    require_columns(table, required, "events")
    for column in required:
        require_present(table, column)
    frame = table.frame
    require_text(table, "event_id")
    require_text(table, "name", numbers="any")
    repeated = frame["event_id"].duplicated(keep=False)
    if repeated.any():
        table.fail(
            "event_id",
            table.rows(repeated),
            f"event ids must be unique: {format_values(frame.loc[repeated, 'event_id'].unique())}",
        )
    for column in schema.EVENT_TIMES:
        parse_utc(table, column, naive_timezone, log)
    backwards = frame["end"] <= frame["actual_start"]
    if backwards.any():
        table.fail("end", table.rows(backwards), "the event ends before its actual start")
    for column in frame.columns.difference([*required, ROW]):
        _check_attribute(table, column)
    return frame.set_index("event_id")


def _check_attribute(table: Table, column: str) -> None:
    """Text attributes stay text; numeric-looking text becomes numbers (signals), which
    must be finite."""
    frame = table.frame
    if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column].dtype):
        if kind_of(frame[column]) in ("string", "empty"):
            refuse_nul(table, column)
            numbers = pd.to_numeric(frame[column], errors="coerce")
            if numbers.notna().sum() == frame[column].notna().sum():
                frame[column] = numbers
    if kind_of(frame[column]) == "number":
        numbers = pd.Series(np.asarray(frame[column], dtype="float64"), index=frame.index)
        infinite = numbers.notna() & ~np.isfinite(numbers)
        if infinite.any():
            table.fail(
                column,
                table.rows(infinite),
                f"signals must be finite numbers, not {format_values(numbers[infinite])}",
                "Leave an unknown value empty",
            )


def _check_series(
    table: Table, events: pd.DataFrame, repair, naive_timezone, log, max_fill_intervals
) -> pd.DataFrame:
    keys = list(schema.SERIES_KEYS)
    require_rows(table, "series (one per event and interval)")
    require_columns(table, keys, "series")
    frame = table.frame
    unknown = [
        c for c in frame.columns if c not in [*keys, ROW] and c not in schema.MEASURED_COLUMNS
    ]
    if unknown:
        table.fail(
            None,
            None,
            f"unknown column(s) {', '.join(map(repr, unknown))}",
            f"Series columns are {', '.join(keys)} and any of "
            f"{', '.join(schema.MEASURED_COLUMNS)}; rename or drop the others",
        )
    measured = [c for c in schema.MEASURED_COLUMNS if c in frame.columns]
    if not measured:
        table.fail(
            None,
            None,
            "no measured column",
            f"A series needs at least one of {', '.join(schema.MEASURED_COLUMNS)}",
        )
    for column in keys:
        require_present(table, column)
    require_text(table, "event_id")
    parse_utc(table, "timestamp", naive_timezone, log)
    for column in measured:
        parse_counts(table, column)
        check_missing(table, column, repair, log)

    unknown_events = ~frame["event_id"].isin(events.index)
    if unknown_events.any():
        table.fail(
            "event_id",
            table.rows(unknown_events),
            f"rows for events not in the events table: "
            f"{format_values(frame.loc[unknown_events, 'event_id'].unique())}",
        )
    without_series = events.index.difference(frame["event_id"].unique())
    if len(without_series):
        rows = events.loc[without_series, ROW]
        table.fail(
            "event_id",
            None,
            f"no rows for events {format_values(without_series)} (events {format_rows(rows)})",
            "Give each event its series, or remove the event",
        )

    frame = _drop_exact_duplicates(table, repair, log)
    parts = []
    budget = {"limit": max_fill_intervals, "left": max_fill_intervals}
    for event_id, part in frame.sort_values(["event_id", "timestamp"]).groupby(
        "event_id", sort=False
    ):
        part = _fill_gaps(table, part, event_id, repair, log, budget)
        _check_start_inside(table, part, events.loc[event_id], event_id)
        parts.append(part)
    series = pd.concat(parts, ignore_index=True)
    return series[keys + measured]


def _drop_exact_duplicates(table: Table, repair: bool, log: RepairLog) -> pd.DataFrame:
    frame = table.frame
    key = frame.duplicated(["event_id", "timestamp"], keep=False)
    if not key.any():
        return frame
    values = frame.columns.drop(ROW)
    exact_copy = frame.duplicated(list(values), keep="first")
    conflicting = key & ~frame.duplicated(list(values), keep=False)
    first = frame.loc[key].iloc[0]
    where = f"event {first['event_id']!r} at {first['timestamp']}"
    if conflicting.any():
        table.fail(
            "timestamp",
            table.rows(conflicting),
            f"duplicate (event_id, timestamp) with different values, first at {where}",
            "Keep one row per event and interval",
        )
    if not repair:
        table.fail(
            "timestamp",
            table.rows(key),
            f"duplicate (event_id, timestamp), first at {where}",
            "Remove the repeated rows or pass repair=True to keep one copy of each",
        )
    log.add(table.source, "timestamp", table.rows(exact_copy), "exact duplicate rows removed")
    return frame.loc[~exact_copy]


def _fill_gaps(table: Table, part: pd.DataFrame, event_id, repair, log, budget) -> pd.DataFrame:
    """Check one event's spacing is regular; fill gaps with NaN rows if repairing.

    ``budget`` holds ``limit`` (max_fill_intervals) and ``left``, the intervals that
    may still be inserted after the events before.
    """
    if len(part) < 2:
        table.fail(
            "timestamp",
            part[ROW],
            f"event {event_id!r} has a single interval",
            "A series needs at least two rows to know its interval length",
        )
    times = part["timestamp"]
    # Whole nanoseconds, so that "on the grid" is exact.
    steps = np.diff(times.array.as_unit("ns").asi8)
    # The interval is the most common step, or the shortest one when every step is a
    # whole multiple of it (then frequent gaps made a longer step the most common).
    values, counts = np.unique(steps, return_counts=True)
    step = int(values[counts == counts.max()].min())
    shortest = int(steps.min())
    if (steps % step != 0).any() and not (steps % shortest != 0).any():
        step = shortest
    seconds = step / 1e9
    irregular = steps % step != 0
    if irregular.any():
        rows = part[ROW].to_numpy()[1:][irregular]
        table.fail(
            "timestamp",
            rows,
            f"event {event_id!r}: irregular spacing (the series steps by {seconds:g} s, "
            f"these rows do not fall on that grid)",
        )
    multiples = steps // step
    gaps = multiples > 1
    if not gaps.any():
        return part
    rows_after_gaps = part[ROW].to_numpy()[1:][gaps]
    missing = int((multiples[gaps] - 1).sum())
    if not repair:
        table.fail(
            "timestamp",
            rows_after_gaps,
            f"event {event_id!r}: {missing} interval(s) of {seconds:g} s missing before these rows",
            "Fill the gaps or pass repair=True to insert them as missing (NaN) intervals",
        )
    if missing > budget["left"]:
        largest = int(np.argmax(multiples))
        before = budget["limit"] - budget["left"]
        table.fail(
            "timestamp",
            rows_after_gaps,
            f"event {event_id!r}: filling its gaps would insert {missing:,} intervals of "
            f"{seconds:g} s ({int(multiples[largest]) - 1:,} before row "
            f"{part[ROW].iloc[largest + 1]})"
            + (f", after {before:,} for the events before it" if before else "")
            + f"; max_fill_intervals is {budget['limit']:,}",
            "Check those rows' timestamps (a row far from the rest of its series?), or pass "
            "a larger max_fill_intervals",
        )
    budget["left"] -= missing
    grid = pd.date_range(times.iloc[0], times.iloc[-1], freq=pd.Timedelta(step, unit="ns"))
    filled = part.set_index("timestamp").reindex(grid).rename_axis("timestamp").reset_index()
    if len(filled) != len(part) + missing or filled[ROW].notna().sum() != len(part):
        raise AssertionError(f"filling the gaps of event {event_id!r} lost rows")
    filled["event_id"] = event_id
    log.add(
        table.source,
        "timestamp",
        rows_after_gaps,
        f"{missing} missing interval(s) inserted as NaN before these rows",
        event_id=event_id,
    )
    return filled


def _check_start_inside(table: Table, part: pd.DataFrame, event: pd.Series, event_id) -> None:
    first, last = part["timestamp"].iloc[0], part["timestamp"].iloc[-1]
    start = event["actual_start"]
    where = f"event {event_id!r} (events row {event[ROW]}): actual_start {start}"
    if start < first:
        raise InputError(
            f"{table.source}: {where} is before its series begins ({first}). "
            "Check the event's actual_start or give its series from before it"
        )
    if start > last:
        raise InputError(
            f"{table.source}: {where} is after its series ends ({last}). "
            "Check the event's actual_start or give its series until after it"
        )
