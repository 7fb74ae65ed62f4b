"""Checks at the boundary: every problem is a ValueError naming the table
(file or DataFrame), the column and the rows; every repair is logged.

Rows are counted from 1 after the header, so row r of a CSV file is on
line r + 1.

The rules, by kind of column:

- **timestamps**: ISO 8601 text (``2026-05-01 18:00:00+00:00``, ``...Z``,
  naive only with ``naive_timezone``) or a timestamp type, between
  :data:`EARLIEST` and :data:`LATEST`; a naive local time that a
  daylight-saving change skips or repeats is refused (write such times
  with their offset).
- **counts**: numbers or numeric text, finite, whole, not negative and
  below :data:`MAX_COUNT`; booleans, timestamps and durations are refused;
  an empty cell is missing (NaN); text such as ``'NaN'`` or ``'NA'`` is
  not a number.
- **identifiers** (``event_id``): text or integers, present.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from capplan.errors import InputError

_SHOWN_ROWS = 8
_SHOWN_CHARS = 40
# A timestamp text that carries its own offset: "...Z", "...+02:00", "...-0500", "...+05".
_OFFSET_GROUP = r"(?P<offset>Z|[+-]\d{2}(?::?\d{2})?)$"
_OFFSET_PATTERN = r"(?:Z|[+-]\d{2}(?::?\d{2})?)$"
# Plain number text, cast at C speed; the rest ('nan', 'inf', '1_000', ' ', ...) goes through
# pandas' to_numeric, which tells an unreadable value from a missing one (see _to_float).
_NUMBER_PATTERN = r"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*"
# What timestamp text may look like: an ISO 8601 date, time and optional offset.
_ISO_PATTERN = (
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?"
    r"(?:Z|[+-]\d{2}(?::?\d{2})?)?"
)

#: The internal column holding each row's number as the user counts it. A user column of
#: this name is refused (see :func:`require_column_names`).
ROW = "_capplan_row"

#: Counts must be below 2**53, the first integer that float64 (the type counts are kept
#: in) cannot tell from its neighbour; no interval of a real event counts anywhere near it.
MAX_COUNT = 2**53
#: Timestamps must fall in [EARLIEST, LATEST): nothing measured lies outside, and
#: nanosecond timestamps cannot go past 2262.
EARLIEST = pd.Timestamp("1900-01-01", tz="UTC")
LATEST = pd.Timestamp("2200-01-01", tz="UTC")

# pandas' inferred kinds of object columns, in words
_KINDS = {
    "integer": "number",
    "floating": "number",
    "mixed-integer-float": "number",
    "mixed-integer": "mixed (text and numbers)",
    "mixed": "mixed",
    "unknown-array": "list",
}
_COUNT_TYPES = (str, int, float, Decimal, np.integer, np.floating)


def format_rows(rows) -> str:
    """'rows 3, 7 and 12' or 'rows 1, 2, ... (120 in all)'."""
    rows = [int(r) for r in rows]
    shown = ", ".join(str(r) for r in rows[:_SHOWN_ROWS])
    if len(rows) == 1:
        return f"row {shown}"
    if len(rows) > _SHOWN_ROWS:
        return f"rows {shown}, ... ({len(rows)} in all)"
    return f"rows {shown}"


def format_value(value) -> str:
    """repr of one value, numpy scalars as Python's, long ones cut short."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, pd.Timestamp) and value is not pd.NaT:
        value = value.isoformat(sep=" ")
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def format_values(values) -> str:
    values = list(values)
    shown = ", ".join(format_value(v) for v in values[:_SHOWN_ROWS])
    return shown + (", ..." if len(values) > _SHOWN_ROWS else "")


@dataclass
class Table:
    """A table being loaded: its frame, where it came from, and its row numbers."""

    frame: pd.DataFrame
    source: str

    def __post_init__(self):
        # Row numbers as the user sees them, kept through sorting and filtering.
        self.frame = self.frame.reset_index(drop=True)
        if ROW in self.frame.columns:
            self.fail(
                ROW,
                None,
                "is a name capplan keeps for its own use",
                "Rename or drop that column",
            )
        self.frame.insert(0, ROW, np.arange(1, len(self.frame) + 1))

    def fail(self, column: str | None, rows, problem: str, advice: str = "") -> None:
        where = f"{self.source}: column {column!r}" if column is not None else self.source
        if rows is not None and len(rows):
            where += f", {format_rows(rows)}"
        raise InputError(f"{where}: {problem}" + (f". {advice}" if advice else ""))

    def rows(self, mask) -> np.ndarray:
        return self.frame.loc[np.asarray(mask), ROW].to_numpy()


@dataclass
class RepairLog:
    """What the loader changed or tolerated, one entry per kind of repair and place."""

    entries: list[dict] = field(default_factory=list)

    def add(self, source, column, rows, action, event_id=None) -> None:
        rows = [int(r) for r in rows]
        self.entries.append(
            {
                "source": source,
                "event_id": event_id,
                "column": column,
                "rows": rows,
                "count": len(rows),
                "action": action,
            }
        )

    def to_frame(self) -> pd.DataFrame:
        columns = ["source", "event_id", "column", "rows", "count", "action"]
        return pd.DataFrame(self.entries, columns=columns)


def require_column_names(frame: pd.DataFrame, source: str) -> None:
    """Column names are text, unique, not empty, and not capplan's own."""
    names = list(frame.columns)
    where = f"{source}: "
    not_text = [n for n in names if not isinstance(n, str)]
    if not_text:
        raise InputError(
            f"{where}column names must be text, not {format_values(not_text)}. "
            "Name every column (see capplan.data.schema)"
        )
    blank = [i + 1 for i, n in enumerate(names) if not n.strip()]
    if blank:
        raise InputError(
            f"{where}column(s) {', '.join(map(str, blank))} (counted from 1) have no name "
            "in the header. Name them or remove them (a trailing comma makes one)"
        )
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        seen.setdefault(name, []).append(i + 1)
    repeated = {n: p for n, p in seen.items() if len(p) > 1}
    if repeated:
        name, places = next(iter(repeated.items()))
        raise InputError(
            f"{where}column {name!r} appears {len(places)} times among the column names "
            f"(columns {', '.join(map(str, places))}, counted from 1). Keep one column of "
            "each name"
        )
    controlled = [n for n in names if "\x00" in n]
    if controlled:
        raise InputError(
            f"{where}column name {controlled[0]!r} holds a NUL character. Rename the column"
        )
    if ROW in seen:
        raise InputError(
            f"{where}column {ROW!r} is a name capplan keeps for its own use. Rename or drop it"
        )


def require_columns(table: Table, required, what: str) -> None:
    missing = [c for c in required if c not in table.frame.columns]
    if missing:
        table.fail(
            None,
            None,
            f"missing column(s) {', '.join(map(repr, missing))}; {what} need "
            f"{', '.join(map(repr, required))}",
        )


def require_rows(table: Table, what: str) -> None:
    if len(table.frame) == 0:
        table.fail(
            None,
            None,
            f"no rows (the table has {len(table.frame.columns) - 1} column(s) and no data)",
            f"A history needs at least one row of {what}",
        )


def require_present(table: Table, column: str) -> None:
    """NaN or empty cells in a required column are an error."""
    values = table.frame[column]
    blank = np.array(values.isna(), dtype=bool)
    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        import pyarrow.compute as pc

        stripped = pc.utf8_trim_whitespace(_arrow_strings(values))
        blank |= pc.fill_null(pc.equal(stripped, ""), True).to_numpy(zero_copy_only=False)
    if blank.any():
        table.fail(column, table.rows(blank), "is empty (NaN) but is required")


def refuse_nul(table: Table, column: str) -> None:
    """Text holds no NUL characters: no CSV can carry them, and no name means one."""
    import pyarrow.compute as pc

    found = pc.fill_null(pc.match_substring(_arrow_strings(table.frame[column]), "\x00"), False)
    found = found.to_numpy(zero_copy_only=False).astype(bool)
    if found.any():
        table.fail(
            column,
            table.rows(found),
            "holds a NUL character (\\x00), which is not text",
            "Remove it (the file was perhaps binary or corrupted)",
        )


def kind_of(values: pd.Series) -> str:
    """What a column holds: 'boolean', 'datetime', 'timedelta', 'complex', 'number',
    'string', 'empty', or for object columns pandas' inferred kind ('bytes', 'mixed', ...)."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return kind_of(pd.Series(np.asarray(values, dtype=object), index=values.index))
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "timedelta"
    if pd.api.types.is_complex_dtype(dtype):
        return "complex"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    is_object = pd.api.types.is_object_dtype(dtype)
    if not is_object and pd.api.types.is_string_dtype(dtype):
        return "string"
    if not is_object:
        return str(dtype)
    kind = pd.api.types.infer_dtype(values, skipna=True)
    return _KINDS.get(kind, kind)


def require_text(table: Table, column: str, *, numbers: str = "integer") -> None:
    """An identifier or name column: text, or numbers (``numbers='integer'``: whole
    numbers only; ``'any'``: any number), kept as text."""
    values = table.frame[column]
    kind = kind_of(values)
    if kind == "number" and numbers == "integer" and not pd.api.types.is_integer_dtype(values):
        numeric = pd.to_numeric(values, errors="coerce")
        exact = np.isfinite(numeric) & (numeric.abs() < MAX_COUNT)  # float64 holds it exactly
        whole = numeric.isna() | (exact & (numeric == np.round(numeric)))
        if not whole.all():
            table.fail(
                column,
                table.rows(~whole),
                f"must be text or whole numbers, not {format_values(values[~whole])}",
            )
        kind = "integer"
    if kind not in ("string", "number", "integer", "empty"):
        table.fail(column, None, f"holds {kind} values; expected text", "Write the column as text")
    if pd.api.types.is_float_dtype(values) and numbers == "integer":
        table.frame[column] = values.astype("Int64").astype(str)
    else:
        table.frame[column] = values.astype(str)
    refuse_nul(table, column)


def parse_utc(table: Table, column: str, naive_timezone, log: RepairLog) -> None:
    """Parse `column` to tz-aware UTC (nanoseconds) in place.

    Timestamps with another offset or zone are converted (and logged); naive
    timestamps are refused unless `naive_timezone` says what they mean.
    """
    values = table.frame[column]
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = pd.Series(np.asarray(values, dtype=object), index=values.index)
    kind = kind_of(values)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        if str(values.dt.tz) != "UTC":
            log.add(
                table.source,
                column,
                table.rows(values.notna()),
                f"converted from {values.dt.tz} to UTC",
            )
        aware = values.dt.tz_convert("UTC")
        naive = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        aware = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
        naive = values
    elif values.dtype == object or kind in ("string", "empty"):
        aware, naive = _parse_text(table, column, values, log)
    else:
        table.fail(
            column,
            None,
            f"holds {kind} values, not timestamps",
            "Expected ISO 8601 text such as '2026-05-01 18:00:00+00:00' or a timestamp type",
        )
    _check_range(table, column, aware, "")
    _check_range(table, column, naive, " (before conversion from their zone)")
    aware = aware.astype("datetime64[ns, UTC]")
    is_naive = naive.notna()
    if is_naive.any():
        if naive_timezone is None:
            table.fail(
                column,
                table.rows(is_naive),
                "timestamps have no time zone; times must be UTC",
                "Write them with an offset ('...+00:00') or pass naive_timezone='UTC' "
                "(or the zone they were recorded in) to convert them",
            )
        local = naive.astype("datetime64[ns]").dt.tz_localize(
            naive_timezone, nonexistent="NaT", ambiguous="NaT"
        )
        unplaced = is_naive & local.isna()
        if unplaced.any():
            table.fail(
                column,
                table.rows(unplaced),
                f"local times that do not exist or occur twice in {naive_timezone} (a "
                f"daylight-saving change): {format_values(values[unplaced])}",
                "Write these timestamps with their offset ('...+02:00') or in UTC",
            )
        log.add(
            table.source,
            column,
            table.rows(is_naive),
            f"naive timestamps read as {naive_timezone} and converted to UTC",
        )
        aware = aware.where(~is_naive, local.dt.tz_convert("UTC").astype("datetime64[ns, UTC]"))
    table.frame[column] = aware.astype("datetime64[ns, UTC]")


def _parse_text(table: Table, column: str, values: pd.Series, log: RepairLog):
    """Timestamp text (or Python datetimes) → (aware UTC, naive) series."""
    if values.dtype == object:
        stamps = values.map(_iso_text, na_action="ignore")
        odd = stamps.isna() & values.notna()
        if odd.any():
            table.fail(
                column,
                table.rows(odd),
                f"neither text nor timestamps: {format_values(values[odd])}",
                "Expected ISO 8601 text such as '2026-05-01 18:00:00+00:00' or a timestamp type",
            )
        values = stamps
    import pyarrow.compute as pc

    strings = pc.utf8_trim_whitespace(_arrow_strings(values))
    shaped = _matches(strings, f"^(?:{_ISO_PATTERN})$")
    has_offset = shaped & _matches(strings, _OFFSET_PATTERN)
    is_naive = shaped & ~has_offset
    text = np.asarray(strings.to_pandas(), dtype=object)
    aware = _to_datetime(text, has_offset, values.index, utc=True)
    naive = _to_datetime(text, is_naive, values.index, utc=False)
    unreadable = values.notna().to_numpy() & aware.isna().to_numpy() & naive.isna().to_numpy()
    if unreadable.any():
        table.fail(
            column,
            table.rows(unreadable),
            f"cannot be read as a timestamp: {format_values(values[unreadable])}",
            "Expected ISO 8601 text such as '2026-05-01 18:00:00+00:00'",
        )
    # Offsets other than UTC's are listed, one entry per offset.
    other = has_offset & ~_matches(strings, r"(?:Z|[+-]00(?::?00)?)$")
    if other.any():
        offsets = _offsets(pd.Series(text[other], index=values.index[other]))
        for offset, group in offsets.groupby(offsets):
            log.add(
                table.source,
                column,
                table.rows(values.index.isin(group.index)),
                f"converted from UTC{offset} to UTC",
            )
    return aware, naive


def _to_datetime(text: np.ndarray, mask: np.ndarray, index, *, utc: bool) -> pd.Series:
    """The ISO 8601 `text` where `mask` parsed (NaT elsewhere): aware UTC or naive."""
    dtype = "datetime64[ns, UTC]" if utc else "datetime64[ns]"
    if not mask.any():
        return pd.Series(pd.NaT, index=index, dtype=dtype)
    parsed = pd.to_datetime(
        pd.Series(np.where(mask, text, None), index=index),
        utc=utc,
        errors="coerce",
        format="ISO8601",
    )
    return parsed


def _arrow_strings(text: pd.Series):
    """`text` as a pyarrow string array (missing values null), for its C-speed regexes."""
    import pyarrow as pa

    return pa.array(text.astype("string"), from_pandas=True)


def _matches(strings, pattern: str) -> np.ndarray:
    """Where the pyarrow `strings` match `pattern` (False where null)."""
    import pyarrow.compute as pc

    found = pc.fill_null(pc.match_substring_regex(strings, pattern), False)
    return found.to_numpy(zero_copy_only=False).astype(bool)


def _offsets(text: pd.Series) -> pd.Series:
    """The offset at the end of each timestamp text ('Z', '+02:00', ...)."""
    import pyarrow.compute as pc

    found = pc.struct_field(pc.extract_regex(_arrow_strings(text), _OFFSET_GROUP), [0])
    return pd.Series(found.to_numpy(zero_copy_only=False), index=text.index, dtype=object)


def _iso_text(value):
    if isinstance(value, str):
        return value
    if isinstance(value, pd.Timestamp) or hasattr(value, "isoformat"):
        try:
            return value.isoformat()
        except Exception:  # an isoformat that is not a datetime's
            return None
    return None


def _check_range(table: Table, column: str, stamps: pd.Series, note: str) -> None:
    # On the numpy values (naive, UTC if aware): NaT compares False.
    naive = stamps.dt.tz_convert(None) if isinstance(stamps.dtype, pd.DatetimeTZDtype) else stamps
    values = naive.to_numpy()
    low, high = EARLIEST.tz_localize(None).to_datetime64(), LATEST.tz_localize(None).to_datetime64()
    outside = (values < low) | (values >= high)
    if outside.any():
        low, high = EARLIEST, LATEST
        table.fail(
            column,
            table.rows(outside),
            f"timestamps outside {low.year}-{high.year}{note}: {format_values(stamps[outside])}",
            "Check the year (or the unit, if the file was written from numbers)",
        )


def parse_counts(table: Table, column: str) -> None:
    """Parse a measured column to float64 counts (NaN = not measured) in place."""
    values = table.frame[column]
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = pd.Series(np.asarray(values, dtype=object), index=values.index)
    kind = kind_of(values)
    if values.dtype == object:
        types = values.map(type, na_action="ignore")
        refused = [
            t
            for t in types.dropna().unique()
            if not issubclass(t, _COUNT_TYPES) or issubclass(t, (bool, np.bool_))
        ]
        odd = values.notna() & types.isin(refused)
        if odd.any():
            table.fail(
                column,
                table.rows(odd),
                f"not a count: {format_values(values[odd])}",
                "Counts are numbers (integers), not booleans, lists or timestamps",
            )
    elif kind not in ("number", "string", "empty"):
        advice = " (1 and 0, not True and False)" if kind == "boolean" else ""
        table.fail(
            column,
            None,
            f"holds {kind} values; counts must be numbers (integers)",
            f"Write the counts as numbers{advice}",
        )
    numbers = _to_float(values, kind)
    unreadable = numbers.isna() & values.notna()
    if pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
        unreadable &= values.astype("string").str.strip().fillna("") != ""
    if unreadable.any():
        table.fail(
            column,
            table.rows(unreadable),
            f"not a number: {format_values(values[unreadable])}",
            "Write counts as numbers and leave a missing one empty",
        )
    finite = numbers.notna()
    bad = finite & ~np.isfinite(numbers)
    if bad.any():
        table.fail(column, table.rows(bad), f"not a finite count: {format_values(numbers[bad])}")
    negative = numbers < 0
    if negative.any():
        table.fail(
            column, table.rows(negative), f"negative counts: {format_values(numbers[negative])}"
        )
    fractional = finite & (numbers != np.round(numbers))
    if fractional.any():
        table.fail(
            column,
            table.rows(fractional),
            f"counts must be whole numbers: {format_values(numbers[fractional])}",
        )
    huge = numbers >= MAX_COUNT
    if huge.any():
        table.fail(
            column,
            table.rows(huge),
            f"counts of 2**53 ({MAX_COUNT:,}) or more, beyond any real interval and beyond "
            f"what float64 holds exactly: {format_values(values[huge])}",
            "Check these values (an overflow, or a sentinel such as the largest int64?)",
        )
    table.frame[column] = numbers + 0.0  # -0.0 becomes 0.0


def _to_float(values: pd.Series, kind: str) -> pd.Series:
    """Numbers as float64, NaN where missing or unreadable (told apart by the caller)."""
    if kind != "string":
        numbers = pd.to_numeric(values, errors="coerce")
        return pd.Series(np.asarray(numbers, dtype="float64"), index=values.index)
    # Plain number text is cast at C speed; the rest (few, if any) goes through to_numeric.
    import pyarrow as pa
    import pyarrow.compute as pc

    strings = _arrow_strings(values)
    plain = _matches(strings, f"^(?:{_NUMBER_PATTERN})$")
    numbers = np.full(len(values), np.nan)
    other = ~plain & values.notna().to_numpy()
    try:
        cast = pc.cast(pc.utf8_trim_whitespace(strings.filter(plain)), pa.float64())
        numbers[plain] = cast.to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:  # a form the regex allows and Arrow does not: all the slow way
        other = values.notna().to_numpy()
    if other.any():
        numbers[other] = np.asarray(pd.to_numeric(values[other], errors="coerce"), dtype="float64")
    return pd.Series(numbers, index=values.index)


def check_missing(table: Table, column: str, repair: bool, log: RepairLog) -> None:
    """Missing counts inside an event that measured the column.

    An event whose column is empty throughout did not measure it: fine. A
    few empty cells in an event that did are missing values: an error,
    unless repairing, when they stay NaN and are listed.
    """
    frame = table.frame
    missing = frame[column].isna()
    if not missing.any():
        return
    unmeasured = missing.groupby(frame["event_id"]).transform("all")
    holes = missing & ~unmeasured
    if not holes.any():
        return
    if not repair:
        table.fail(
            column,
            table.rows(holes),
            "values are missing",
            "Pass repair=True to keep them as missing (NaN), listed in History.repairs",
        )
    for event_id, rows in table.frame.loc[holes, ROW].groupby(frame.loc[holes, "event_id"]):
        log.add(table.source, column, rows, "missing values kept as NaN", event_id=event_id)
