"""The real World Cup 1998 trace, converted and shipped, checked against the raw file."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import capplan
from capplan.converters import worldcup98

RAW = Path(__file__).resolve().parents[2] / "shared" / "data" / "worldcup98"
needs_raw = pytest.mark.skipif(not RAW.exists(), reason="raw World Cup trace not on this machine")


@pytest.fixture(scope="module")
def history():
    return capplan.worldcup98_history()


def test_shipped_history_loads_with_one_event_per_kickoff_slot(history):
    assert len(history.events) == 40  # 48 group matches, 8 pairs kicked off together
    assert (history.events["matches_in_slot"].sum()) == 48
    assert history.measured == ["requests"]
    assert set(history._steps) == {60.0}
    assert history.repairs.empty
    for event_id in history.event_ids:
        frame = history.event(event_id)
        assert frame.index[0] == -3600 and frame.index[-1] == 3 * 3600 - 60


def test_surge_peaks_near_the_final_whistle(history):
    """The trace's documented shape: the surge peaks about 115 minutes after kick-off.

    A time-zone slip of the converter (local time is UTC+2) would move every peak by 2 h.
    """
    peak_minutes = history.summary()["peak_requests_time_s"] / 60
    assert 100 <= peak_minutes.median() <= 130
    assert (peak_minutes.between(90, 140)).mean() >= 0.8


@needs_raw
def test_converter_reproduces_the_shipped_tables(tmp_path, history):
    events_path, series_path = worldcup98.write(RAW, tmp_path)
    again = capplan.load_history(events_path, series_path)
    pd.testing.assert_frame_equal(again.events, history.events)
    pd.testing.assert_frame_equal(again.series, history.series)
    notice = (tmp_path / worldcup98.NOTICE).read_bytes()
    assert notice == (RAW / worldcup98.NOTICE).read_bytes()


@needs_raw
def test_windows_hold_exactly_the_raw_counts(history):
    raw = pd.read_csv(RAW / "requests_per_minute.csv")
    raw["minute_utc"] = pd.to_datetime(raw["minute_utc"]).dt.tz_localize("UTC")
    raw = raw.set_index("minute_utc")["requests"]
    matches = pd.read_csv(RAW / "matches.csv")
    for kickoff in pd.to_datetime(matches["kickoff_utc"]).dt.tz_localize("UTC").unique():
        event_id = f"wc98-{kickoff:%Y%m%d-%H%M}"
        frame = history.event(event_id)
        expected = raw[kickoff - pd.Timedelta(hours=1) : kickoff + pd.Timedelta(minutes=179)]
        np.testing.assert_array_equal(frame["requests"].to_numpy(), expected.to_numpy())
        np.testing.assert_array_equal(frame["timestamp"].to_numpy(), expected.index.to_numpy())
