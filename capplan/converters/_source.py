"""What every converter checks before it writes, and how it writes.

A converter reads a folder of original files that nobody on this team wrote. Before any
work it checks that every file it will read or copy is there, and it reads each table
through :func:`read_csv`, :func:`utc_times`, :func:`counts` and :func:`texts`, which
refuse what they cannot use with a ``ValueError`` naming the file, the column and the
row (counted from 1 after the header, as the history loader counts them). It writes
every output through :func:`write_all`: all of them are renamed into place together,
once each was written, so that a failure leaves nothing that looks like a finished
conversion and leaves a previous one as it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from capplan._files import staged

INT64_MAX = np.iinfo(np.int64).max


def source_folder(source, names: Iterable[str]) -> Path:
    """The folder `source`, which must hold every file of `names`."""
    folder = Path(source)
    if not folder.exists():
        raise FileNotFoundError(f"{folder}: no such folder (give the original trace's folder)")
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder}: not a folder (give the original trace's folder)")
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}; nothing was written")
    unreadable = [name for name in names if not os.access(folder / name, os.R_OK)]
    if unreadable:
        raise PermissionError(f"{folder}: cannot read {', '.join(unreadable)}")
    return folder


def destination_folder(destination) -> Path:
    """The folder to write into; made later, when there is something to write."""
    folder = Path(destination)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder}: a file, not a folder to write the tables into")
    return folder


def read_csv(path: Path, columns: Iterable[str], text: Iterable[str] = ()) -> pd.DataFrame:
    """The CSV table at `path` (its `columns`, every one required), with at least one row;
    the `text` columns (times, names) as text, the others as pandas reads them."""
    columns = list(columns)
    dtype = dict.fromkeys(text, str)
    try:
        frame = pd.read_csv(path, usecols=lambda c: c in columns, dtype=dtype)
    except Exception as error:  # pandas', the decompressor's: the file is not this table
        reason = " ".join(str(error).split()) or type(error).__name__
        raise ValueError(f"{path}: not a readable CSV table ({reason})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{path}: lacks the column(s) {missing}; it has {[str(c) for c in frame.columns]}"
        )
    if frame.empty:
        raise ValueError(f"{path}: no rows after the header")
    return frame


def _fail(path: Path, column: str, rows: np.ndarray, what: str, values) -> None:
    first = [int(i) + 1 for i in rows[:5]]
    more = f" ({len(rows):,} rows in all)" if len(rows) > 5 else ""
    shown = ", ".join(repr(v) for v in list(values)[:3])
    raise ValueError(f"{path}: column {column!r}, row(s) {first}{more}: {what}: {shown}")


def utc_times(frame: pd.DataFrame, column: str, path: Path, format: str | None = None):
    """`column` parsed as times in UTC (a time written without an offset is UTC)."""
    text = frame[column]
    missing = text.isna() | (text.str.strip() == "")
    if missing.any():
        rows = np.flatnonzero(missing.to_numpy())
        _fail(path, column, rows, "no time given", text[missing])
    try:
        times = pd.to_datetime(text, format=format, errors="coerce", utc=True)
    except (ValueError, TypeError, OverflowError) as error:
        raise ValueError(f"{path}: column {column!r}: {' '.join(str(error).split())}") from None
    bad = times.isna()
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())
        expected = f"not a time like {format!r}" if format else "not a time"
        _fail(path, column, rows, expected, text[bad])
    return times


def counts(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    """`column` as whole numbers >= 0 (int64)."""
    text = frame[column]
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(numbers) | (numbers < 0) | (numbers != np.floor(numbers))
    bad |= numbers > INT64_MAX
    if bad.any():
        rows = np.flatnonzero(bad)
        _fail(path, column, rows, "not a whole number >= 0", text.iloc[rows])
    return numbers.astype(np.int64)


def texts(frame: pd.DataFrame, columns: Iterable[str], path: Path) -> None:
    """Refuse a missing or blank value in any of the text `columns`."""
    for column in columns:
        text = frame[column]
        blank = text.isna() | (text.str.strip() == "")
        if blank.any():
            rows = np.flatnonzero(blank.to_numpy())
            _fail(path, column, rows, "no value given", text[blank])


def ordered(times: pd.Series, column: str, path: Path) -> None:
    """Refuse times that are not strictly increasing (one row per interval, sorted)."""
    values = pd.DatetimeIndex(times).asi8
    if len(values) > 1:
        steps = values[1:] > values[:-1]
        if not steps.all():
            row = int(np.flatnonzero(~steps)[0]) + 1
            what = "repeats" if values[row] == values[row - 1] else "comes before"
            raise ValueError(
                f"{path}: column {column!r}, row {row + 1}: {times.iloc[row]} {what} the row "
                "above; give one row per interval, in time order"
            )


def covers(times: pd.Series, start, end, path: Path, what: str) -> None:
    """Refuse a trace that does not reach from `start` to `end` (inclusive)."""
    first, last = times.iloc[0], times.iloc[-1]
    if first > start or last < end:
        raise ValueError(
            f"{path} runs from {first} to {last}; {what} needs {start} to {end}: "
            "give the whole trace"
        )


def write_all(destination: Path, writers: dict[str, Callable[[Path], object]]) -> list[Path]:
    """Write each file of `writers` (its name in `destination` -> a function writing it to
    the path given), all renamed into place together once every one was written."""
    finals = [destination / name for name in writers]
    folders = [path.name for path in finals if path.is_dir()]
    if folders:  # found now, not when the first files were already renamed into place
        raise IsADirectoryError(f"{destination}: {', '.join(folders)} is a folder; nothing written")
    destination.mkdir(parents=True, exist_ok=True)
    with staged(*finals) as temporaries:
        for write, temporary in zip(writers.values(), temporaries, strict=True):
            write(temporary)
    return finals
