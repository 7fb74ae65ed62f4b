"""Fuzzing load_history with bad history file pairs.

Each example starts from a small valid pair (tests/helpers.py's toy tables),
mutates it (columns dropped, repeated, renamed or retyped; cells set to bad
timestamps, bad counts, huge values, text, booleans, lists; rows dropped,
repeated, shuffled or all removed; times shifted), writes it as CSV and as
Parquet, mutates the bytes of those files (truncated, cut, re-encoded,
garbage inserted, lines repeated or blanked) and loads it those two ways and
as DataFrames, with repair False or True (drawn; a pair that loads without
repair is loaded again with it and must come out the same). Whatever it
loads to must be
either one ``ValueError`` whose single-line message names the file (and is
not the loader's last-resort "could not be checked") or a History in which
every count is a finite, whole, non-negative number below 2**53, every time
is UTC, and every row in is a row out or a listed repair.

The examples are derandomized: the same on every run. The quick test is a
hundred pairs; the slow one (``-m slow``) is 1,000.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import tempfile
import warnings
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import toy_tables
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import capplan
from capplan.data import schema
from capplan.data.validate import EARLIEST, LATEST, MAX_COUNT

UTC = "UTC"
TIMES = ("scheduled_start", "actual_start", "end")
FALLBACK = "could not be checked"  # the loader's last resort: a case it did not foresee

VALUES = [
    None,
    np.nan,
    "",
    " ",
    "soon",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "NA",
    "null",
    "True",
    True,
    False,
    -1,
    -0.0,
    0.5,
    float("inf"),
    2**53,
    2**53 - 1,
    2**63 - 1,
    10**30,
    "1e3",
    "1_000",
    "0x10",
    "\uff11\uff12",  # fullwidth 12
    "\u0663",  # Arabic-Indic 3
    "1,5",
    " 7 ",
    "+3",
    "-0",
    "ev-a",
    "ev-zz",
    "\x00",
    "a\nb",
    'q"uote',
    "é",
    [1, 2],
    {"a": 1},
    b"bytes",
    Decimal("12"),
    Decimal("1.5"),
    complex(1, 1),
    pd.Timedelta(seconds=1),
    datetime.date(2026, 1, 1),
    datetime.time(10, 0),
    pd.Timestamp("2303-01-01", tz=UTC),
    pd.Timestamp("1850-01-01", tz=UTC),
    pd.Timestamp("2026-01-01 10:00:00"),
    pd.Timestamp("2026-01-01 10:00:00", tz="Asia/Kolkata"),
    "2026-02-30 10:00:00+00:00",
    "2026-01-01T10:00:00+25:00",
    "2026-01-01T10:00:00+00:00",
    "2026-01-01T10:00:00Z",
    "2026-01-01T10:00:00+05",
    "2026-01-01 10:00:00 UTC",
    "2026-03-29 02:30:00",
    "2026-10-25 02:30:00",
    "0001-01-01",
    "9999-12-31T23:59:59Z",
    "2026-01-01 10:00:00.123456789+00:00",
    "20260101T100000Z",
    1_700_000_000,
    1_700_000_000_000_000_000,
]
NAMES = ["", " ", "_row", "_capplan_row", "End", "joins", "timestamp", "événement", "a,b"]
NAMES += ['q"uote', "new\nline", "0", "Unnamed: 0", "end.1", "requests", "event_id", "bytes"]
SHIFTS = [1, 0.5, 17, -1, -3600, 59.999, 1e-3, 86_400 * 3650, 86_400 * 365 * 300, -(10**10)]
ZONES = [None] * 8 + [UTC, UTC, "Europe/Paris", "America/New_York", "Bogus/Zone", ""]
BYTES = [b"\xff", b"\xe9", b"\x00", b"\r", b'"', b",", b"\n", b"\n\n", b"\xef\xbb\xbf"]
BYTES += [b"\xc3", b"\xed\xa0\x80", b"\t", b";", b"#", b" ", b"\\", b"'"]
ENCODINGS = ["latin-1", "utf-16", "utf-8-sig", "cp1252", "utf-32"]

# How other tools write the files: most often as pandas does by default.
CSV_OPTIONS = [{}, {}, {}, {"quoting": csv.QUOTE_ALL}, {"quoting": csv.QUOTE_NONNUMERIC}]
CSV_OPTIONS += [{"lineterminator": "\r\n"}, {"date_format": "%Y-%m-%dT%H:%M:%S.%f%z"}]
CSV_OPTIONS += [{"index": True}, {"header": False}, {"sep": ";"}, {"float_format": "%.3e"}]
CSV_OPTIONS += [{"na_rep": "NaN"}, {"encoding": "utf-16"}, {"date_format": "%d/%m/%Y %H:%M"}]
PARQUET_OPTIONS = [{}, {}, {}, {"coerce_timestamps": "ms", "allow_truncated_timestamps": True}]
PARQUET_OPTIONS += [{"index": True}, {"compression": None}, {"row_group_size": 3}]
PARQUET_OPTIONS += [{"coerce_timestamps": "us"}, {"use_dictionary": False}]
# Parquet types other writers choose (cast column by column where Arrow can).
ARROW_TYPES = [pa.string(), pa.large_string(), pa.dictionary(pa.int32(), pa.string())]
ARROW_TYPES += [pa.float32(), pa.float16(), pa.int8(), pa.uint64(), pa.decimal128(38, 2)]
ARROW_TYPES += [pa.date32(), pa.timestamp("s"), pa.timestamp("ms", tz="Europe/Paris")]
ARROW_TYPES += [pa.duration("s"), pa.bool_(), pa.null(), pa.binary(), pa.list_(pa.int64())]
ARROW_TYPES += [pa.time64("us"), pa.struct([("a", pa.int64())]), pa.string_view()]

table_choice = st.sampled_from(["events", "series"])
row_list = st.lists(st.integers(0, 40), min_size=1, max_size=4)
frame_mutation = st.one_of(
    st.tuples(st.just("drop_column"), table_choice, st.integers(0, 9)),
    st.tuples(st.just("duplicate_column"), table_choice, st.integers(0, 9)),
    st.tuples(st.just("rename_column"), table_choice, st.integers(0, 9), st.sampled_from(NAMES)),
    st.tuples(
        st.just("set_cells"), table_choice, st.integers(0, 9), row_list, st.sampled_from(VALUES)
    ),
    st.tuples(
        st.just("retype"),
        table_choice,
        st.integers(0, 9),
        st.sampled_from(["bool", "str", "category", "timedelta", "float", "int", "object"]),
    ),
    st.tuples(st.just("drop_rows"), table_choice, row_list),
    st.tuples(st.just("duplicate_rows"), table_choice, row_list),
    st.tuples(st.just("shuffle"), table_choice, st.integers(0, 2**16)),
    st.tuples(st.just("empty"), table_choice),
    st.tuples(
        st.just("shift_time"),
        table_choice,
        st.sampled_from(TIMES),
        row_list,
        st.sampled_from(SHIFTS),
    ),
    st.tuples(st.just("swap_columns"), table_choice, st.integers(0, 9), st.integers(0, 9)),
    st.tuples(st.just("add_column"), table_choice, st.sampled_from(NAMES), st.sampled_from(VALUES)),
    st.tuples(st.just("naive"), table_choice, st.sampled_from(["UTC", "Europe/Paris"])),
    st.tuples(st.just("backend"), table_choice, st.sampled_from(["pyarrow", "numpy_nullable"])),
    st.tuples(
        st.just("scale"), st.sampled_from(["joins", "requests", "concurrent"]), st.integers(1, 63)
    ),
)
byte_mutation = st.one_of(
    st.tuples(st.just("truncate"), table_choice, st.floats(0, 1)),
    st.tuples(st.just("insert"), table_choice, st.floats(0, 1), st.sampled_from(BYTES)),
    st.tuples(st.just("delete"), table_choice, st.floats(0, 1), st.integers(1, 40)),
    st.tuples(st.just("flip"), table_choice, st.floats(0, 1)),
    st.tuples(st.just("encode"), table_choice, st.sampled_from(ENCODINGS)),
    st.tuples(st.just("repeat_line"), table_choice, st.integers(0, 30)),
    st.tuples(st.just("delete_line"), table_choice, st.integers(0, 30)),
    st.tuples(st.just("blank_line"), table_choice, st.integers(0, 30)),
    st.tuples(st.just("delimiter"), table_choice, st.sampled_from([";", "\t", "|"])),
    st.tuples(st.just("empty_file"), table_choice),
    st.tuples(st.just("header_only"), table_choice),
)
# A few pairs come out unmutated: those must load.
bad_pair = st.fixed_dictionaries(
    {
        "frame": st.lists(frame_mutation, max_size=3),
        "bytes": st.lists(byte_mutation, max_size=2),
        "zone": st.sampled_from(ZONES),
        "repair": st.booleans(),
        "save_as": st.sampled_from(["csv", "parquet"]),
        "csv": st.sampled_from(CSV_OPTIONS),
        "parquet": st.sampled_from(PARQUET_OPTIONS),
        "cast": st.lists(
            st.tuples(table_choice, st.integers(0, 9), st.sampled_from(ARROW_TYPES)), max_size=2
        ),
    }
)


# --- mutations -------------------------------------------------------------------------------


BASE = toy_tables()


def mutate_frames(mutations) -> dict[str, pd.DataFrame]:
    events, series = (table.copy() for table in BASE)
    tables = {"events": events, "series": series}
    for mutation in mutations:
        kind, name = mutation[0], mutation[1]
        frame = tables.get(name)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if kind == "scale":  # a huge count: 2**k in a measured column
                    frame = tables["series"]
                    column = mutation[1]
                    frame[column] = frame[column].astype(object)
                    frame.loc[frame[column].notna(), column] = 2 ** mutation[2]
                    continue
                tables[name] = apply(frame, mutation)
        except Exception:  # a mutation pandas cannot make: the pair stays as it was
            pass
    return tables


def column_at(frame: pd.DataFrame, i: int):
    return frame.columns[i % len(frame.columns)] if len(frame.columns) else None


def apply(frame: pd.DataFrame, mutation) -> pd.DataFrame:
    kind = mutation[0]
    rows = lambda picks: sorted({p % len(frame) for p in picks}) if len(frame) else []  # noqa: E731
    if kind == "drop_column":
        return frame.drop(columns=column_at(frame, mutation[2]))
    if kind == "duplicate_column":
        column = column_at(frame, mutation[2])
        return pd.concat([frame, frame[[column]]], axis=1)
    if kind == "rename_column":
        return frame.rename(columns={column_at(frame, mutation[2]): mutation[3]})
    if kind == "set_cells":
        column = column_at(frame, mutation[2])
        frame = frame.copy()
        frame[column] = frame[column].astype(object)
        for row in rows(mutation[3]):
            frame.iat[row, frame.columns.get_loc(column)] = mutation[4]
        return frame
    if kind == "retype":
        column, to = column_at(frame, mutation[2]), mutation[3]
        values = frame[column]
        if to == "bool":
            frame[column] = values.notna()
        elif to == "str":
            frame[column] = values.astype(str)
        elif to == "category":
            frame[column] = values.astype("category")
        elif to == "timedelta":
            frame[column] = pd.to_timedelta(pd.to_numeric(values, errors="coerce"), unit="s")
        elif to == "float":
            frame[column] = pd.to_numeric(values, errors="coerce").astype(float)
        elif to == "int":
            frame[column] = pd.to_numeric(values, errors="coerce").fillna(0).astype(np.int64)
        else:
            frame[column] = values.astype(object)
            frame.iat[0, frame.columns.get_loc(column)] = 7
        return frame
    if kind == "drop_rows":
        return frame.drop(index=frame.index[rows(mutation[2])]).reset_index(drop=True)
    if kind == "duplicate_rows":
        picked = frame.iloc[rows(mutation[2])]
        return pd.concat([frame, picked]).sort_index(kind="stable").reset_index(drop=True)
    if kind == "shuffle":
        return frame.sample(frac=1, random_state=mutation[2]).reset_index(drop=True)
    if kind == "empty":
        return frame.iloc[:0]
    if kind == "shift_time":
        column = mutation[2] if mutation[2] in frame.columns else "timestamp"
        frame = frame.copy()
        shift = pd.Timedelta(seconds=mutation[4])
        for row in rows(mutation[3]):
            frame.iat[row, frame.columns.get_loc(column)] += shift
        return frame
    if kind == "swap_columns":
        a, b = column_at(frame, mutation[2]), column_at(frame, mutation[3])
        return frame.rename(columns={a: b, b: a})
    if kind == "add_column":
        return frame.assign(**{mutation[2]: [mutation[3]] * len(frame)})
    if kind == "backend":
        return frame.convert_dtypes(dtype_backend=mutation[2])
    if kind == "naive":
        frame = frame.copy()
        for column in frame.columns:
            if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
                frame[column] = frame[column].dt.tz_convert(mutation[2]).dt.tz_localize(None)
        return frame
    raise AssertionError(kind)


def write_csv(frame: pd.DataFrame, path: Path, options: dict) -> bool:
    try:
        frame.to_csv(path, **{"index": False, **options})
        return True
    except Exception:
        return False


def write_parquet(frame: pd.DataFrame, path: Path, options: dict, casts=()) -> bool:
    if casts:
        return write_cast_parquet(frame, path, casts)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame.to_parquet(path, **{"index": False, **options})
        return True
    except Exception:
        pass
    try:  # repeated column names: pandas refuses, pyarrow writes them
        arrays = [pa.array(frame.iloc[:, i], from_pandas=True) for i in range(frame.shape[1])]
        pq.write_table(pa.Table.from_arrays(arrays, names=[str(c) for c in frame.columns]), path)
        return True
    except Exception:
        return False


def write_cast_parquet(frame: pd.DataFrame, path: Path, casts) -> bool:
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except Exception:
        return False
    for i, to in casts:
        if not table.num_columns:
            break
        i %= table.num_columns
        try:
            column = table.column(i).cast(to)
        except Exception:  # not every column casts to every type
            continue
        table = table.set_column(i, table.field(i).name, column)
    try:
        pq.write_table(table, path)
        return True
    except Exception:
        return False


def mutate_bytes(data: bytes, mutation, fmt: str) -> bytes:
    kind = mutation[0]
    if kind == "truncate":
        return data[: int(len(data) * mutation[2])]
    if kind == "insert":
        at = int(len(data) * mutation[2])
        return data[:at] + mutation[3] + data[at:]
    if kind == "delete":
        at = int(len(data) * mutation[2])
        return data[:at] + data[at + mutation[3] :]
    if kind == "flip":
        at = min(int(len(data) * mutation[2]), len(data) - 1)
        return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :] if data else data
    if kind == "empty_file":
        return b""
    if fmt == "parquet":  # the text mutations below mean nothing to a binary file
        return data
    text = data.decode("utf-8", errors="surrogateescape")
    lines = text.splitlines(keepends=True)
    if kind == "encode":
        return text.encode(mutation[2], errors="replace")
    if kind in ("repeat_line", "delete_line", "blank_line") and lines:
        i = mutation[2] % len(lines)
        if kind == "repeat_line":
            lines.insert(i, lines[i])
        elif kind == "delete_line":
            del lines[i]
        else:
            lines.insert(i, "\n")
        return "".join(lines).encode("utf-8", errors="surrogateescape")
    if kind == "delimiter":
        return text.replace(",", mutation[2]).encode("utf-8", errors="surrogateescape")
    if kind == "header_only":
        return "".join(lines[:1]).encode("utf-8", errors="surrogateescape")
    return data


def rows_in_file(path: Path, fmt: str) -> int:
    """The data rows of a file that loaded, counted without capplan."""
    if fmt == "parquet":
        return pq.ParquetFile(path).metadata.num_rows
    text = path.read_bytes().decode("utf-8-sig").replace("\r\n", "\n").rstrip("\n")
    return sum(1 for _ in csv.reader(io.StringIO(text + "\n", newline=""))) - 1


# --- the checks ------------------------------------------------------------------------------


def load(events, series, names: list[str], **options):
    """A History, or the refusal's message after checking it names a table."""
    try:
        return capplan.load_history(events, series, **options)
    except ValueError as error:
        message = str(error)
        assert "\n" not in message, f"a message of more than one line: {message!r}"
        assert FALLBACK not in message, f"a case the loader did not foresee: {message}"
        if options.get("naive_timezone") in ("Bogus/Zone", ""):
            assert "naive_timezone" in message, message
        else:
            assert any(name in message for name in names), f"names no table: {message}"
        return message


def inserted_intervals(repairs: pd.DataFrame) -> pd.Series:
    filled = repairs[repairs["action"].str.contains("missing interval", regex=False)]
    counts = filled["action"].str.extract(r"^(\d+) missing interval")[0].astype(int)
    return counts.groupby(filled["event_id"]).sum()


def check_history(history, rows_in: int, events_in: int, repair: bool) -> None:
    series, events, repairs = history.series, history.events, history.repairs
    assert len(events) == events_in
    assert events.index.is_unique and events.index.notna().all()
    for column in TIMES:
        assert str(events[column].dtype) == "datetime64[ns, UTC]"
        assert events[column].notna().all()
    assert str(series["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert series["timestamp"].between(EARLIEST, LATEST, inclusive="left").all()
    assert set(series["event_id"]) == set(events.index)
    for column in history.measured:
        values = series[column].to_numpy(dtype=float)
        known = values[~np.isnan(values)]
        assert np.isfinite(known).all() and (known >= 0).all(), column
        assert (known == np.round(known)).all() and (known < MAX_COUNT).all(), column
    if not repair:
        assert repairs["action"].str.contains("converted|read as", regex=True).all()
    # Rows in, less the duplicates listed as removed, plus the intervals listed as inserted.
    removed = repairs.loc[repairs["action"].str.contains("duplicate"), "count"].sum()
    inserted = inserted_intervals(repairs)
    assert len(series) == rows_in - removed + inserted.sum()
    # Every missing value is an inserted interval or listed (or its event never measured it).
    listed = repairs[repairs["action"].str.contains("missing values", regex=False)]
    for event_id, part in series.groupby("event_id"):
        for column in history.measured:
            missing = int(part[column].isna().sum())
            if missing in (0, len(part)):
                continue
            mine = listed[(listed["event_id"] == event_id) & (listed["column"] == column)]
            filled = int(inserted.get(event_id, 0))
            assert filled <= missing <= filled + mine["count"].sum(), (event_id, column)


def check_pair(mutations) -> str:
    """Load the mutated pair as CSV, Parquet (and DataFrames) with ``mutations["repair"]``;
    what loads as it is must load alike when repairing. Returns the outcome."""
    tables = mutate_frames(mutations["frame"])
    zone, repair = mutations["zone"], mutations["repair"]
    outcomes = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        # As DataFrames too, when no bytes were mutated (else it would load what was).
        plain = not mutations["bytes"] and not mutations.get("csv")
        for fmt in ("csv", "parquet") + (("frame",) if plain else ()):
            if fmt == "frame":
                sources = [tables["events"], tables["series"]]
                names = ["events DataFrame", "series DataFrame"]
            else:
                options = mutations.get(fmt, {})
                casts = mutations.get("cast", ())
                sources = write_pair(tables, mutations["bytes"], folder, fmt, options, casts)
                if sources is None:
                    continue
                names = [str(p) for p in sources]
            result = load(*sources, names, repair=repair, naive_timezone=zone)
            if isinstance(result, str):
                outcomes.append("refused")
                continue
            outcomes.append("loaded")
            if fmt == "frame":
                rows_in, events_in = len(tables["series"]), len(tables["events"])
            else:
                rows_in = rows_in_file(sources[1], fmt)
                events_in = rows_in_file(sources[0], fmt)
            check_history(result, rows_in, events_in, repair)
            if outcomes.count("loaded") > 1:
                continue  # the first way that loads is saved and loaded again
            check_round_trip(result, folder / "saved", repair, mutations["save_as"])
            if not repair:
                repaired = load(*sources, names, repair=True, naive_timezone=zone)
                assert not isinstance(repaired, str), f"refused when repairing: {repaired}"
                pd.testing.assert_frame_equal(result.series, repaired.series)
    if not outcomes:
        return "unwritable"
    return "refused" if set(outcomes) == {"refused"} else "loaded"


def check_round_trip(history, folder: Path, repair: bool, fmt: str) -> None:
    """What loaded is saved and loads again to the same series and times (with
    repair=True if it was repaired: its NaN holes are missing values again)."""
    again = capplan.load_history(*history.to_files(folder / fmt, format=fmt), repair=repair)
    pd.testing.assert_frame_equal(again.series, history.series, check_dtype=False)
    pd.testing.assert_index_equal(again.events.index, history.events.index)
    for column in TIMES:
        pd.testing.assert_series_equal(again.events[column], history.events[column])


def write_pair(
    tables, byte_mutations, folder: Path, fmt: str, options, casts_of=()
) -> list[Path] | None:
    """The two tables written as `fmt`, then their bytes mutated; None if unwritable."""
    paths = []
    for name in ("events", "series"):
        path = folder / f"{name}.{fmt}"
        if fmt == "csv":
            written = write_csv(tables[name], path, options)
        else:
            casts = [(i, to) for table, i, to in casts_of if table == name]
            written = write_parquet(tables[name], path, options, casts)
        if not written:
            return None
        data = path.read_bytes()
        for mutation in byte_mutations:
            if mutation[1] == name:
                data = mutate_bytes(data, mutation, fmt)
        path.write_bytes(data)
        paths.append(path)
    return paths


FUZZ = dict(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@settings(max_examples=100, **FUZZ)
@given(mutations=bad_pair)
def test_bad_history_files_are_refused_by_name_or_load_right(mutations):
    event(check_pair(mutations))


@pytest.mark.slow
@settings(max_examples=1000, **FUZZ)
@given(mutations=bad_pair)
def test_many_bad_history_files_are_refused_by_name_or_load_right(mutations):
    event(check_pair(mutations))


def test_the_fuzz_base_pair_loads():
    """The mutations start from a valid pair: without any, it loads in all three ways."""
    for repair in (False, True):
        for fmt in ("csv", "parquet"):
            plain = {"frame": [], "bytes": [], "zone": None, "repair": repair, "save_as": fmt}
            assert check_pair(plain) == "loaded"
    assert set(schema.EVENT_COLUMNS) <= set(toy_tables()[0].columns)


def test_the_fuzz_counts_rows_as_the_loader_does(tmp_path):
    series = toy_tables()[1]
    series.to_csv(tmp_path / "s.csv", index=False)
    assert rows_in_file(tmp_path / "s.csv", "csv") == len(series)
    assert re.search(r"^(\d+) missing", "3 missing interval(s) inserted as NaN").group(1) == "3"
