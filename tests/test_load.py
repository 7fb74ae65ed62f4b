"""Loading histories: round trips, every validation error, and what repairs report."""

import re

import numpy as np
import pandas as pd
import pytest
from helpers import one_event_tables
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import capplan


def assert_same_history(left, right):
    pd.testing.assert_frame_equal(left.events, right.events, check_dtype=False)
    pd.testing.assert_frame_equal(left.series, right.series, check_dtype=False)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_round_trip(toy, tmp_path, fmt):
    history = capplan.load_history(*toy)
    paths = history.to_files(tmp_path, format=fmt)
    again = capplan.load_history(*paths)
    assert_same_history(history, again)
    assert again.repairs.empty
    assert str(again.series["timestamp"].dt.tz) == "UTC"


def test_dataframes_and_files_load_alike(toy, write_csv):
    assert_same_history(capplan.load_history(*toy), capplan.load_history(*write_csv(*toy)))


def test_signals_are_the_numeric_event_attributes(toy):
    history = capplan.load_history(*toy)
    assert list(history.signals.columns) == ["followers"]


def error_of(events, series, **options) -> str:
    with pytest.raises(ValueError) as caught:
        capplan.load_history(events, series, **options)
    return str(caught.value)


def test_negative_count_names_file_column_and_row(toy, write_csv):
    events, series = toy
    series.loc[4, "joins"] = -3  # row 5 of the file, line 6
    events_path, series_path = write_csv(events, series)
    message = error_of(events_path, series_path)
    assert str(series_path) in message
    assert "'joins'" in message
    assert "row 5" in message
    assert "negative" in message


def test_duplicate_row_is_refused_naming_rows(toy, write_csv):
    events, series = toy
    series = pd.concat([series.iloc[:3], series.iloc[[2]], series.iloc[3:]], ignore_index=True)
    events_path, series_path = write_csv(events, series)
    message = error_of(events_path, series_path)
    assert str(series_path) in message
    assert "'timestamp'" in message
    assert "rows 3, 4" in message
    assert "duplicate" in message


def test_exact_duplicate_is_removed_and_listed_when_repairing(toy):
    events, series = toy
    doubled = pd.concat([series.iloc[:3], series.iloc[[2]], series.iloc[3:]], ignore_index=True)
    history = capplan.load_history(events, doubled, repair=True)
    assert len(history.series) == len(series)
    (entry,) = history.repairs.itertuples()
    assert entry.rows == [4] and "duplicate" in entry.action


def test_conflicting_duplicate_is_refused_even_when_repairing(toy):
    events, series = toy
    copy = series.iloc[[2]].assign(joins=99)
    doubled = pd.concat([series.iloc[:3], copy, series.iloc[3:]], ignore_index=True)
    message = error_of(events, doubled, repair=True)
    assert "different values" in message and "rows 3, 4" in message


def test_naive_timestamps_are_refused(toy, write_csv):
    events, series = toy
    series["timestamp"] = series["timestamp"].dt.tz_localize(None)
    events_path, series_path = write_csv(events, series)
    message = error_of(events_path, series_path)
    assert str(series_path) in message and "'timestamp'" in message
    assert "no time zone" in message and "naive_timezone" in message


def test_naive_timestamps_are_converted_and_listed_when_told_their_zone(toy, write_csv):
    expected = capplan.load_history(*toy)
    events, series = toy
    series["timestamp"] = series["timestamp"].dt.tz_convert("Europe/Paris").dt.tz_localize(None)
    history = capplan.load_history(*write_csv(events, series), naive_timezone="Europe/Paris")
    assert_same_history(expected, history)
    (entry,) = history.repairs.itertuples()
    assert entry.column == "timestamp" and entry.count == len(series)
    assert "Europe/Paris" in entry.action


def test_offset_timestamps_are_converted_to_utc_and_listed(toy, write_csv):
    expected = capplan.load_history(*toy)
    events, series = toy
    local = events["actual_start"].dt.tz_convert("Europe/Paris")
    events["actual_start"] = local.map(lambda t: t.isoformat())  # text with +01:00
    history = capplan.load_history(*write_csv(events, series))
    assert_same_history(expected, history)
    (entry,) = history.repairs.itertuples()
    assert entry.column == "actual_start" and entry.rows == [1, 2, 3]
    assert "+01:00" in entry.action


def test_unreadable_timestamp(toy, write_csv):
    events, series = toy
    series["timestamp"] = series["timestamp"].astype(str)
    series.loc[7, "timestamp"] = "soon"
    message = error_of(*write_csv(events, series))
    assert "'timestamp', row 8" in message and "'soon'" in message


def test_unreadable_count(toy, write_csv):
    events, series = toy
    series["joins"] = series["joins"].astype(object)
    series.loc[1, "joins"] = "12a"
    message = error_of(*write_csv(events, series))
    assert "'joins', row 2" in message and "'12a'" in message


def test_fractional_count(toy):
    events, series = toy
    series.loc[1, "joins"] = 2.5
    assert "'joins', row 2" in error_of(events, series)


def test_missing_required_value(toy, write_csv):
    events, series = toy
    events.loc[1, "actual_start"] = pd.NaT
    events_path, series_path = write_csv(events, series)
    message = error_of(events_path, series_path)
    assert str(events_path) in message and "'actual_start', row 2" in message


def test_missing_count_inside_a_measured_event(toy):
    events, series = toy
    series.loc[8, "joins"] = np.nan
    message = error_of(events, series)
    assert "'joins', row 9" in message and "repair=True" in message
    history = capplan.load_history(events, series, repair=True)
    assert history.series["joins"].isna().sum() == 1 + 5  # ev-c never measured joins
    (entry,) = history.repairs.itertuples()
    assert entry.event_id == "ev-b" and entry.rows == [9]


def test_missing_column(toy):
    events, series = toy
    message = error_of(events.drop(columns="end"), series)
    assert "events DataFrame" in message and "'end'" in message


def test_unknown_series_column(toy):
    events, series = toy
    message = error_of(events, series.assign(bytes=1))
    assert "'bytes'" in message


def test_no_measured_column(toy):
    events, series = toy
    message = error_of(events, series[["event_id", "timestamp"]])
    assert "no measured column" in message


def test_gap_is_refused_then_filled_when_repairing(toy, write_csv):
    events, series = toy
    gappy = series.drop(index=[9, 10]).reset_index(drop=True)  # ev-b loses 12:03 and 12:04
    events_path, series_path = write_csv(events, gappy)
    message = error_of(events_path, series_path)
    assert str(series_path) in message and "'timestamp', row 10" in message
    assert "2 interval(s) of 60 s missing" in message
    history = capplan.load_history(events_path, series_path, repair=True)
    assert len(history.series) == len(series)
    beta = history.event("ev-b")
    assert beta.loc[[-120, -60], "joins"].isna().all()
    (entry,) = history.repairs.itertuples()
    assert entry.event_id == "ev-b" and entry.rows == [10]


def test_irregular_spacing(toy):
    events, series = toy
    series.loc[8, "timestamp"] += pd.Timedelta(seconds=17)
    message = error_of(events, series)
    assert "irregular" in message and "'timestamp', rows 9, 10" in message


def test_rows_for_unknown_event(toy):
    events, series = toy
    series.loc[0, "event_id"] = "ev-z"
    message = error_of(events, series)
    assert "'event_id', row 1" in message and "'ev-z'" in message


def test_event_without_series(toy):
    events, series = toy
    message = error_of(events, series[series["event_id"] != "ev-c"])
    assert "no rows" in message and "'ev-c'" in message


def test_actual_start_before_series_begins(toy):
    events, series = toy
    events.loc[0, "actual_start"] -= pd.Timedelta(minutes=5)
    message = error_of(events, series)
    assert "'ev-a'" in message and "events row 1" in message and "before its series" in message


def test_end_before_start(toy):
    events, series = toy
    events.loc[2, "end"] = events.loc[2, "actual_start"]
    assert "'end', row 3" in error_of(events, series)


def test_duplicate_event_id(toy):
    events, series = toy
    events.loc[2, "event_id"] = "ev-a"
    assert "'event_id', rows 1, 3" in error_of(events, series)


def test_unknown_file_type(toy, tmp_path):
    path = tmp_path / "events.xlsx"
    path.write_text("x")
    with pytest.raises(ValueError, match=re.escape(str(path))):
        capplan.load_history(path, toy[1])


# --- nothing is dropped silently -------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(min_value=3, max_value=40),
    # rows 0 and 1 stay, so that the interval can be seen in the data
    dropped=st.sets(st.integers(min_value=2, max_value=38), max_size=8),
    repeated=st.lists(st.integers(min_value=0, max_value=39), max_size=5),
    repair=st.booleans(),
)
def test_loading_never_drops_a_row_silently(n, dropped, repeated, repair):
    """Every input row is in the history or listed as removed; every gap is listed."""
    counts = np.arange(n) % 7
    rows = [i for i in range(n) if i not in dropped or i in (0, n - 1)]
    rows += [i for i in repeated if i in rows]
    rows.sort()
    events, series = one_event_tables(np.array(rows), joins=counts[rows])
    try:
        history = capplan.load_history(events, series, repair=repair)
    except ValueError:
        assert not repair, "repairable input refused"
        return
    repairs = history.repairs
    removed = repairs.loc[repairs["action"].str.contains("duplicate"), "count"].sum()
    inserted = history.series["joins"].isna().sum()
    assert len(history.series) == len(series) - removed + inserted
    # every measured interval survives with its value
    kept = history.series.dropna().set_index("timestamp")["joins"]
    expected = series.drop_duplicates().set_index("timestamp")["joins"].astype(float)
    pd.testing.assert_series_equal(kept, expected, check_names=False, check_index_type=False)
    if inserted:
        assert repairs["action"].str.contains("missing interval").any()


def test_frequent_gaps_do_not_hide_the_interval(one_event):
    """Seconds 0, 1, 3, 5, 7: the most common step is 2 s, but the interval is 1 s."""
    seconds = np.array([0, 1, 3, 5, 7])
    events, series = one_event(seconds, joins=np.ones(5))
    message = error_of(events, series)
    assert "3 interval(s) of 1 s missing" in message and "rows 3, 4, 5" in message


# --- the boundary: every refusal a one-line ValueError naming file, column and rows -------------


def refusal(events, series, **options) -> str:
    message = error_of(events, series, **options)
    assert "\n" not in message and "could not be checked" not in message, message
    return message


def test_unknown_naive_timezone_names_the_argument(toy):
    message = refusal(*toy, naive_timezone="Bogus/Zone")
    assert "naive_timezone='Bogus/Zone'" in message and "IANA" in message


def test_empty_csv_names_the_file(toy, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("")
    message = refusal(path, toy[1])
    assert str(path) in message and "empty" in message


def test_header_only_csv_is_no_rows(toy, tmp_path):
    path = tmp_path / "events.csv"
    toy[0].iloc[:0].to_csv(path, index=False)
    message = refusal(path, toy[1])
    assert str(path) in message and "no rows" in message


@pytest.mark.parametrize("table", ["events", "series"])
def test_zero_rows_are_refused_by_table(toy, table):
    events, series = toy
    tables = {"events": events, "series": series}
    tables[table] = tables[table].iloc[:0]
    message = refusal(tables["events"], tables["series"])
    assert f"{table} DataFrame" in message and "no rows" in message


def test_a_user_column_named_row_is_kept_or_refused_by_name(toy, write_csv):
    events, series = toy
    history = capplan.load_history(*write_csv(events.assign(_row=7), series))
    assert (history.events["_row"] == 7).all()  # an attribute like any other
    events_path, series_path = write_csv(events, series.assign(_row=1))
    message = refusal(events_path, series_path)
    assert str(series_path) in message and "'_row'" in message and "unknown column" in message
    message = refusal(events.assign(_capplan_row=1), series)
    assert "events DataFrame" in message and "'_capplan_row'" in message


def test_parquet_timestamp_out_of_range_names_file_column_and_row(toy, tmp_path):
    events, series = toy
    series["timestamp"] = series["timestamp"].astype("datetime64[us, UTC]")
    series.loc[3, "timestamp"] = pd.Timestamp("2303-01-01", tz="UTC")
    path = tmp_path / "series.parquet"
    series.to_parquet(path)
    message = refusal(events, path)
    assert str(path) in message and "'timestamp', row 4" in message and "1900-2200" in message


def test_non_utf8_csv_names_file_and_row(toy, tmp_path):
    events, series = toy
    path = tmp_path / "events.csv"
    path.write_bytes(
        events.assign(name=["Alpha", "Bêta", "Gamma"]).to_csv(index=False).encode("latin-1")
    )
    message = refusal(path, series)
    assert str(path) in message and "line 3 (row 2)" in message and "UTF-8" in message


def test_utf8_bom_is_read_as_utf8(toy, tmp_path):
    events, series = toy
    path = tmp_path / "events.csv"
    path.write_bytes(events.to_csv(index=False).encode("utf-8-sig"))
    assert_same_history(capplan.load_history(path, series), capplan.load_history(*toy))


def test_ragged_and_truncated_csv_name_file_and_rows(toy, write_csv):
    events, series = toy
    events_path, series_path = write_csv(events, series)
    lines = series_path.read_text().splitlines()
    series_path.write_text("\n".join([*lines[:4], lines[4] + ",9", *lines[5:]]) + "\n")
    message = refusal(events_path, series_path)  # row 4 has a field too many
    assert str(series_path) in message and "row 4 has 7 field(s), the header 6" in message
    series_path.write_text("\n".join([*lines[:-1], lines[-1][:20]]))  # cut in its last row
    message = refusal(events_path, series_path)
    assert f"row {len(lines) - 1} has 2 field(s)" in message and "truncated" in message


def test_blank_line_inside_csv_is_refused(toy, write_csv):
    events_path, series_path = write_csv(*toy)
    lines = series_path.read_text().splitlines()
    series_path.write_text("\n".join([*lines[:3], "", *lines[3:]]) + "\n\n")  # end blanks: fine
    assert "row 3 is blank" in refusal(events_path, series_path)


def test_nul_byte_is_refused(toy, write_csv):
    events, series = toy
    events_path, series_path = write_csv(events, series)
    series_path.write_bytes(series_path.read_bytes().replace(b"ev-b", b"ev\x00b", 1))
    message = refusal(events_path, series_path)
    assert str(series_path) in message and "NUL" in message
    assert "'name', row 2" in refusal(events.assign(name=["A", "B\x00", "C"]), series)


@pytest.mark.parametrize(
    ("local", "problem"), [("2026-03-29 02:30", "gap"), ("2026-10-25 02:30", "repeated hour")]
)
def test_local_times_a_clock_change_skips_or_repeats_are_refused(toy, local, problem):
    events, series = toy
    for column in ("scheduled_start", "actual_start", "end"):
        events[column] = events[column].dt.tz_convert("Europe/Paris").dt.tz_localize(None)
    events.loc[1, "scheduled_start"] = pd.Timestamp(local)
    message = refusal(events, series, naive_timezone="Europe/Paris")
    assert "'scheduled_start', row 2" in message and "daylight-saving" in message, problem


@pytest.mark.parametrize("fmt", ["frame", "parquet"])
def test_boolean_counts_are_refused(toy, tmp_path, fmt):
    events, series = toy
    series["joins"] = series["joins"].fillna(0) > 2
    source = series
    if fmt == "parquet":
        source = tmp_path / "series.parquet"
        series.to_parquet(source)
    message = refusal(events, source)
    assert "'joins'" in message and "boolean" in message
    assert (str(source) if fmt == "parquet" else "series DataFrame") in message


def test_boolean_text_and_mixed_booleans_are_not_counts(toy, write_csv):
    events, series = toy
    flags = series.assign(joins=np.where(series["joins"] > 2, "True", "False"))
    assert "'joins', rows 1, 2" in refusal(*write_csv(events, flags))
    mixed = series.assign(joins=[True] + [1] * (len(series) - 1))
    assert "'joins', row 1: not a count: True" in refusal(events, mixed.astype({"joins": object}))


def test_duplicated_csv_header_is_refused_by_name(toy, write_csv):
    events_path, series_path = write_csv(*toy)
    lines = events_path.read_text().splitlines()
    lines = [line + "," + line.split(",")[4] for line in lines]  # `end` again, at the end
    events_path.write_text("\n".join(lines) + "\n")
    message = refusal(events_path, series_path)
    assert str(events_path) in message and "'end' appears 2 times" in message


def test_counts_beyond_two_to_the_53_are_refused(toy, write_csv):
    events, series = toy
    series["requests"] = series["requests"].astype(object)
    series.loc[18, "requests"] = np.iinfo(np.int64).max
    message = refusal(events, series)
    assert "'requests', row 19" in message and "2**53" in message
    series.loc[18, "requests"] = 2**53 + 1  # rounds to 2**53 as float64: still refused
    events_path, series_path = write_csv(events, series)
    message = refusal(events_path, series_path)
    assert str(series_path) in message and "'requests', row 19" in message
    series.loc[18, "requests"] = 2**53 - 1
    assert capplan.load_history(events, series).series["requests"].max() == 2**53 - 1


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("-1", "negative"),
        ("2.5", "whole"),
        ("inf", "finite"),
        ("NaN", "not a number"),
        ("1_000", "not a number"),
        ("0x10", "not a number"),
        ("\uff11", "not a number"),  # a fullwidth 1
    ],
)
def test_bad_count_text(toy, write_csv, value, problem):
    events, series = toy
    series["joins"] = series["joins"].astype(object)
    series.loc[1, "joins"] = value
    events_path, series_path = write_csv(events, series)
    message = refusal(events_path, series_path)
    assert str(series_path) in message and "'joins', row 2" in message and problem in message


def test_filling_a_stray_row_years_away_is_refused_with_its_count(toy):
    events, series = toy
    stray = series.iloc[[5]].assign(timestamp=series.loc[5, "timestamp"] + pd.Timedelta(days=3650))
    message = refusal(events, pd.concat([series, stray], ignore_index=True), repair=True)
    assert "'timestamp', row 23" in message and "315,359,999 intervals" in message
    assert "max_fill_intervals is 1,000,000" in message


def test_max_fill_intervals_bounds_the_intervals_inserted_in_all(toy):
    events, series = toy
    gappy = series.drop(index=[9, 10]).reset_index(drop=True)  # ev-b misses 2 intervals
    assert len(capplan.load_history(events, gappy, repair=True, max_fill_intervals=2).series) == 22
    message = refusal(events, gappy, repair=True, max_fill_intervals=1)
    assert "'timestamp', row 10" in message and "2 intervals of 60 s" in message


def test_a_folder_a_missing_file_and_not_parquet_are_named(toy, tmp_path):
    series = toy[1]
    message = refusal(tmp_path, series)
    assert str(tmp_path) in message and "folder" in message
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        capplan.load_history(missing, series)
    assert str(missing) in refusal(missing, series)  # also a ValueError
    junk = tmp_path / "events.parquet"
    junk.write_bytes(np.random.default_rng(1).bytes(300))
    message = refusal(junk, series)
    assert str(junk) in message and "cannot be read as Parquet" in message


def test_parquet_with_repeated_column_names_is_refused_by_name(toy, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    events, series = toy
    table = pa.Table.from_pandas(events, preserve_index=False)
    path = tmp_path / "events.parquet"
    pq.write_table(table.append_column("end", table.column("end")), path)
    message = refusal(path, series)
    assert str(path) in message and "'end' appears 2 times" in message


def test_types_that_are_not_counts_or_times_are_named(toy):
    events, series = toy
    message = refusal(events, series.assign(joins=pd.to_timedelta(1, unit="s")))
    assert "'joins'" in message and "timedelta" in message
    message = refusal(events.assign(end=events["end"].astype("int64")), series)
    assert "'end'" in message and "not timestamps" in message
    message = refusal(events.assign(name=[b"a", b"b", b"c"]), series)
    assert "'name'" in message and "bytes" in message
    message = refusal(events.assign(followers=[1.0, np.inf, 3.0]), series)
    assert "'followers', row 2" in message and "finite" in message


def test_a_history_loads_back_from_its_own_tables(toy):
    """History.events is indexed by event_id: that index is read as the column."""
    history = capplan.load_history(*toy)
    assert_same_history(capplan.load_history(history.events, history.series), history)


def test_parquet_text_that_is_not_utf8_is_named_by_column(toy, tmp_path):
    events, series = toy
    path = tmp_path / "events.parquet"
    events.to_parquet(path, compression=None, use_dictionary=False)
    path.write_bytes(path.read_bytes().replace(b"Alpha", b"Alph\xff"))  # a corrupted byte
    message = refusal(path, series)
    assert str(path) in message and "'name'" in message and "not UTF-8" in message


def test_a_gzip_bomb_is_refused_before_its_text_takes_the_memory(toy, tmp_path, monkeypatch):
    import gzip

    from capplan.data import load

    events, series = toy
    events.to_csv(tmp_path / "events.csv", index=False)
    text = series.to_csv(index=False).encode()
    (tmp_path / "series.csv.gz").write_bytes(gzip.compress(text + b"\n" * 50_000))
    whole = capplan.load_history(tmp_path / "events.csv", tmp_path / "series.csv.gz")
    assert len(whole.series) == len(capplan.load_history(*toy).series)
    monkeypatch.setattr(load, "MAX_CSV_BYTES", len(text) + 1_000)  # the padding passes it
    with pytest.raises(ValueError, match=r"series\.csv\.gz: text of more than that"):
        capplan.load_history(tmp_path / "events.csv", tmp_path / "series.csv.gz")


def test_a_table_beyond_the_row_limit_is_refused_before_it_is_read(toy, tmp_path, monkeypatch):
    from capplan.data import load

    paths = capplan.load_history(*toy).to_files(tmp_path, format="parquet")
    monkeypatch.setattr(load, "MAX_ROWS", 3)
    with pytest.raises(ValueError, match=r"series\.parquet: \d+ rows, more than"):
        capplan.load_history(*paths)
