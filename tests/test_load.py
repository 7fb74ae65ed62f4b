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
