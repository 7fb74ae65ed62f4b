"""History queries checked against values worked out by hand."""

import numpy as np
import pandas as pd
import pytest

import capplan


def test_summary_matches_hand_computation(toy):
    summary = capplan.load_history(*toy).summary()
    nan = np.nan
    expected = pd.DataFrame(
        {
            "name": ["Alpha", "Beta", "Gamma"],
            "interval_s": [1.0, 60.0, 60.0],
            "delay_s": [0.0, 300.0, 0.0],
            "duration_s": [60.0, 600.0, 3600.0],
            # ev-a: 5 joins in the second starting at 0; ev-b: 1800 in the minute starting at 0
            "peak_joins_per_s": [5.0, 30.0, nan],
            "peak_joins_time_s": [0.0, 0.0, nan],
            "total_joins": [12.0, 3720.0, nan],
            "peak_concurrent": [10.0, 3030.0, nan],
            "peak_concurrent_time_s": [1.0, 120.0, nan],
            # ev-c: 6000 requests in the minute starting at kick-off
            "peak_requests_per_s": [nan, nan, 100.0],
            "peak_requests_time_s": [nan, nan, 0.0],
            "total_requests": [nan, nan, 9360.0],
        },
        index=pd.Index(["ev-a", "ev-b", "ev-c"], name="event_id"),
    )
    pd.testing.assert_frame_equal(summary, expected[summary.columns], check_dtype=False)
    assert set(summary.columns) == set(expected.columns)


def test_event_is_indexed_by_seconds_since_actual_start(toy):
    history = capplan.load_history(*toy)
    beta = history.event("ev-b")  # starts 5 minutes late, per-minute series from 12:00
    assert list(beta.index) == list(range(-300, 301, 60))
    assert beta.index.name == "seconds"
    assert beta.loc[0, "joins"] == 1800
    assert history.interval("ev-b") == 60.0
    with pytest.raises(KeyError, match="ev-zz"):
        history.event("ev-zz")


def test_resample_sums_counts_averages_levels_and_lists_partial_edges(one_event):
    seconds = np.arange(-65, 125)  # whole minutes -60..119, plus 5 s at each edge
    joins = (seconds % 11).astype(float)
    concurrent = (1000 + seconds).astype(float)
    minute = capplan.load_history(*one_event(seconds, joins=joins, concurrent=concurrent))
    minute = minute.resample(60)
    frame = minute.event("e")
    assert list(frame.index) == [-60, 0, 60]
    for start in (-60, 0, 60):
        inside = (seconds >= start) & (seconds < start + 60)
        assert frame.loc[start, "joins"] == joins[inside].sum()
        assert frame.loc[start, "concurrent"] == pytest.approx(concurrent[inside].mean())
    (entry,) = minute.repairs.itertuples()
    assert entry.count == 10 and "window edges" in entry.action
    assert minute.interval("e") == 60.0


def test_resample_keeps_missing_intervals_missing(one_event):
    joins = np.ones(120)
    joins[70] = np.nan
    history = capplan.load_history(*one_event(np.arange(120), joins=joins), repair=True)
    frame = history.resample(60).event("e")
    assert frame.loc[0, "joins"] == 60
    assert np.isnan(frame.loc[60, "joins"])


def test_resample_refuses_a_finer_or_misaligned_interval(toy):
    history = capplan.load_history(*toy)
    with pytest.raises(ValueError, match="whole multiple"):
        history.resample(90)


def test_chart_draws_each_event_per_second_aligned_on_its_start():
    history = capplan.sample_history()
    chart = history.chart("joins", ["ev-014", "ev-002"], interval_s=60, log=False)
    spec = chart.to_dict()
    data = pd.DataFrame(spec["datasets"][spec["layer"][0]["data"]["name"]])
    assert set(data["event_id"]) == {"ev-014", "ev-002"}
    headline = data[data["event_id"] == "ev-014"].set_index("seconds")["value"]
    seconds = history.event("ev-014")["joins"]
    first_minute = seconds.loc[0:59].sum() / 60  # joins per second in the first minute
    assert headline.loc[0] == pytest.approx(first_minute)
    with pytest.raises(ValueError, match="not measured"):
        capplan.worldcup98_history().chart("joins")


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_to_files_writes_both_tables_or_neither(toy, tmp_path, monkeypatch, fmt):
    history = capplan.load_history(*toy)
    events_path, series_path = history.to_files(tmp_path, format=fmt)
    before = events_path.read_bytes(), series_path.read_bytes()
    writer = getattr(pd.DataFrame, f"to_{fmt}")

    def fail_on_series(frame, path, *args, **kwargs):
        if "timestamp" in frame.columns:
            raise OSError("disk full")
        return writer(frame, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, f"to_{fmt}", fail_on_series)
    with pytest.raises(OSError, match="disk full"):
        renamed = capplan.History(history.events.assign(name="X"), history.series, history.repairs)
        renamed.to_files(tmp_path, format=fmt)
    assert (events_path.read_bytes(), series_path.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [events_path.name, series_path.name]
    )
