"""Reading and checking an event history from CSV, Parquet or DataFrames."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from capplan.data import schema
from capplan.data.history import History
from capplan.data.validate import (
    RepairLog,
    Table,
    check_missing,
    format_values,
    parse_counts,
    parse_utc,
    require_columns,
    require_present,
)


def load_history(
    events,
    series,
    *,
    repair: bool = False,
    naive_timezone: str | None = None,
) -> History:
    """Load and check an event history.

    Parameters
    ----------
    events, series : str, os.PathLike or pandas.DataFrame
        The two tables (see ``capplan.data.schema``), as ``.csv`` or
        ``.parquet`` files or as DataFrames.
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

    Returns
    -------
    History

    Raises
    ------
    ValueError
        Naming the file (or DataFrame), the column and the rows (counted
        from 1 after the header) of the first problem found.

    Examples
    --------
    >>> import capplan
    >>> h = capplan.sample_history()
    >>> h.summary().shape[0] >= 40
    True
    """
    log = RepairLog()
    events_table = _read(events, "events")
    series_table = _read(series, "series")
    event_frame = _check_events(events_table, naive_timezone, log)
    series_frame = _check_series(series_table, event_frame, repair, naive_timezone, log)
    return History(event_frame, series_frame, log.to_frame())


def _read(source, role: str) -> Table:
    if isinstance(source, pd.DataFrame):
        return Table(source.copy(), f"{role} DataFrame")
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"{role} must be a path or a pandas DataFrame, not {type(source).__name__}")
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{role} file not found: {path}")
    suffix = "".join(path.suffixes[-2:]).lower()
    if suffix.endswith((".parquet", ".pq")):
        frame = pd.read_parquet(path)
    elif suffix.endswith((".csv", ".csv.gz")):
        # Everything as text first, so that unreadable values can be reported, not guessed.
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    else:
        raise ValueError(f"{path}: unknown file type {path.suffix!r}; expected .csv or .parquet")
    return Table(frame, str(path))


def _check_events(table: Table, naive_timezone, log: RepairLog) -> pd.DataFrame:
    required = list(schema.EVENT_COLUMNS)
    require_columns(table, required, "events")
    for column in required:
        require_present(table, column)
    frame = table.frame
    frame["event_id"] = frame["event_id"].astype(str)
    frame["name"] = frame["name"].astype(str)
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
    for column in frame.columns.difference([*required, "_row"]):
        # Text attributes stay text; numeric-looking text becomes numbers (signals).
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            numbers = pd.to_numeric(frame[column], errors="coerce")
            if numbers.notna().sum() == frame[column].notna().sum():
                frame[column] = numbers
    return frame.set_index("event_id")


def _check_series(table: Table, events: pd.DataFrame, repair, naive_timezone, log) -> pd.DataFrame:
    keys = list(schema.SERIES_KEYS)
    require_columns(table, keys, "series")
    frame = table.frame
    unknown = [
        c for c in frame.columns if c not in [*keys, "_row"] and c not in schema.MEASURED_COLUMNS
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
    frame["event_id"] = frame["event_id"].astype(str)
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
        raise ValueError(f"events with no rows in {table.source}: {format_values(without_series)}")

    frame = _drop_exact_duplicates(table, repair, log)
    parts = []
    for event_id, part in frame.sort_values(["event_id", "timestamp"]).groupby(
        "event_id", sort=False
    ):
        part = _fill_gaps(table, part, event_id, repair, log)
        _check_start_inside(table, part, events.loc[event_id], event_id)
        parts.append(part)
    series = pd.concat(parts, ignore_index=True)
    return series[keys + measured]


def _drop_exact_duplicates(table: Table, repair: bool, log: RepairLog) -> pd.DataFrame:
    frame = table.frame
    key = frame.duplicated(["event_id", "timestamp"], keep=False)
    if not key.any():
        return frame
    values = frame.columns.drop("_row")
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


def _fill_gaps(table: Table, part: pd.DataFrame, event_id, repair, log) -> pd.DataFrame:
    """Check one event's spacing is regular; fill gaps with NaN rows if repairing."""
    if len(part) < 2:
        table.fail(
            "timestamp",
            part["_row"],
            f"event {event_id!r} has a single interval",
            "A series needs at least two rows to know its interval length",
        )
    times = part["timestamp"]
    steps = times.diff().iloc[1:].dt.total_seconds().to_numpy()
    # The interval is the most common step, or the shortest one when every step is a
    # whole multiple of it (then frequent gaps made a longer step the most common).
    step = pd.Series(steps).mode().min()
    if _off_grid(steps, step).any() and not _off_grid(steps, steps.min()).any():
        step = steps.min()
    multiples = steps / step
    irregular = _off_grid(steps, step)
    if irregular.any():
        rows = part["_row"].to_numpy()[1:][irregular]
        table.fail(
            "timestamp",
            rows,
            f"event {event_id!r}: irregular spacing (the series steps by {step:g} s, "
            f"these rows do not fall on that grid)",
        )
    gaps = np.round(multiples) > 1
    if not gaps.any():
        return part
    rows_after_gaps = part["_row"].to_numpy()[1:][gaps]
    missing = int((np.round(multiples[gaps]) - 1).sum())
    if not repair:
        table.fail(
            "timestamp",
            rows_after_gaps,
            f"event {event_id!r}: {missing} interval(s) of {step:g} s missing before these rows",
            "Fill the gaps or pass repair=True to insert them as missing (NaN) intervals",
        )
    grid = pd.date_range(times.iloc[0], times.iloc[-1], freq=pd.Timedelta(seconds=step))
    filled = part.set_index("timestamp").reindex(grid).rename_axis("timestamp").reset_index()
    filled["event_id"] = event_id
    log.add(
        table.source,
        "timestamp",
        rows_after_gaps,
        f"{missing} missing interval(s) inserted as NaN before these rows",
        event_id=event_id,
    )
    return filled


def _off_grid(steps: np.ndarray, step: float) -> np.ndarray:
    multiples = steps / step
    return np.abs(multiples - np.round(multiples)) > 1e-9


def _check_start_inside(table: Table, part: pd.DataFrame, event: pd.Series, event_id) -> None:
    first, last = part["timestamp"].iloc[0], part["timestamp"].iloc[-1]
    start = event["actual_start"]
    where = f"event {event_id!r} (events row {event['_row']}): actual_start {start}"
    if start < first:
        raise ValueError(f"{where} is before its series in {table.source} begins ({first})")
    if start > last:
        raise ValueError(f"{where} is after its series in {table.source} ends ({last})")
