"""Checks at the boundary: every problem is a ValueError naming the table
(file or DataFrame), the column and the rows; every repair is logged.

Rows are counted from 1 after the header, so row r of a CSV file is on
line r + 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

_SHOWN_ROWS = 8
# A timestamp text that carries its own offset: "...Z", "...+02:00", "...-0500".
_OFFSET_GROUP = r"(Z|[+-]\d{2}:?\d{2})$"
_OFFSET_PATTERN = r"(?:Z|[+-]\d{2}:?\d{2})$"


def format_rows(rows) -> str:
    """'rows 3, 7 and 12' or 'rows 1, 2, ... (120 in all)'."""
    rows = [int(r) for r in rows]
    shown = ", ".join(str(r) for r in rows[:_SHOWN_ROWS])
    if len(rows) == 1:
        return f"row {shown}"
    if len(rows) > _SHOWN_ROWS:
        return f"rows {shown}, ... ({len(rows)} in all)"
    return f"rows {shown}"


def format_values(values) -> str:
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:_SHOWN_ROWS])
    return shown + (", ..." if len(values) > _SHOWN_ROWS else "")


@dataclass
class Table:
    """A table being loaded: its frame, where it came from, and its row numbers."""

    frame: pd.DataFrame
    source: str

    def __post_init__(self):
        # Row numbers as the user sees them, kept through sorting and filtering.
        self.frame = self.frame.reset_index(drop=True)
        self.frame.insert(0, "_row", np.arange(1, len(self.frame) + 1))

    def fail(self, column: str | None, rows, problem: str, advice: str = "") -> None:
        where = f"{self.source}: column {column!r}" if column else self.source
        if rows is not None and len(rows):
            where += f", {format_rows(rows)}"
        raise ValueError(f"{where}: {problem}" + (f". {advice}" if advice else ""))

    def rows(self, mask) -> np.ndarray:
        return self.frame.loc[np.asarray(mask), "_row"].to_numpy()


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


def require_columns(table: Table, required, what: str) -> None:
    missing = [c for c in required if c not in table.frame.columns]
    if missing:
        table.fail(
            None,
            None,
            f"missing column(s) {', '.join(map(repr, missing))}; {what} need "
            f"{', '.join(map(repr, required))}",
        )


def require_present(table: Table, column: str) -> None:
    """NaN or empty cells in a required column are an error."""
    values = table.frame[column]
    blank = values.isna()
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        blank |= values.astype("string").str.strip().fillna("") == ""
    if blank.any():
        table.fail(column, table.rows(blank), "is empty (NaN) but is required")


def parse_utc(table: Table, column: str, naive_timezone: str | None, log: RepairLog) -> None:
    """Parse `column` to tz-aware UTC in place.

    Timestamps with another offset or zone are converted (and logged); naive
    timestamps are refused unless `naive_timezone` says what they mean.
    """
    values = table.frame[column]
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        if str(values.dt.tz) != "UTC":
            log.add(
                table.source,
                column,
                table.rows(values.notna()),
                f"converted from {values.dt.tz} to UTC",
            )
        table.frame[column] = values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
        return
    if pd.api.types.is_datetime64_dtype(values):
        aware = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
        naive = values
    else:
        text = values.astype("string").str.strip()
        has_offset = text.str.contains(_OFFSET_PATTERN, regex=True).fillna(False).astype(bool)
        aware = pd.to_datetime(text.where(has_offset), utc=True, errors="coerce", format="ISO8601")
        naive = pd.to_datetime(text.where(~has_offset), errors="coerce", format="ISO8601")
        unreadable = text.notna() & aware.isna() & naive.isna()
        if unreadable.any():
            table.fail(
                column,
                table.rows(unreadable),
                f"cannot be read as a timestamp: {format_values(values[unreadable])}",
                "Expected ISO 8601 text such as '2026-05-01 18:00:00+00:00'",
            )
        offsets = text[has_offset].str.extract(_OFFSET_GROUP)[0]
        non_utc = offsets[~offsets.isin(["Z", "+00:00", "+0000", "-00:00"])]
        for offset, group in non_utc.groupby(non_utc):
            log.add(
                table.source,
                column,
                table.rows(values.index.isin(group.index)),
                f"converted from UTC{offset} to UTC",
            )
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
        log.add(
            table.source,
            column,
            table.rows(is_naive),
            f"naive timestamps read as {naive_timezone} and converted to UTC",
        )
        aware = aware.where(~is_naive, naive.dt.tz_localize(naive_timezone).dt.tz_convert("UTC"))
    table.frame[column] = aware.astype("datetime64[ns, UTC]")


def parse_counts(table: Table, column: str) -> None:
    """Parse a measured column to float64 counts (NaN = not measured) in place."""
    values = table.frame[column]
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    unreadable = numbers.isna() & values.notna()
    if pd.api.types.is_string_dtype(values) or values.dtype == object:
        unreadable &= values.astype("string").str.strip().fillna("") != ""
    if unreadable.any():
        table.fail(
            column, table.rows(unreadable), f"not a number: {format_values(values[unreadable])}"
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
    table.frame[column] = numbers


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
    for event_id, rows in table.frame.loc[holes, "_row"].groupby(frame.loc[holes, "event_id"]):
        log.add(table.source, column, rows, "missing values kept as NaN", event_id=event_id)
