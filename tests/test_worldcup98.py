"""The real World Cup 1998 trace, converted and shipped, checked against the raw file."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import assert_written_history_is

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
    assert_written_history_is(worldcup98.write(RAW, tmp_path), history)
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


def made_up_trace(folder: Path) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Three days of minutes (one missing, as in the real trace) and three matches in two
    slots, in `folder`; the minutes and their counts."""
    folder.mkdir(exist_ok=True)
    minutes = pd.date_range("1998-06-09 00:00", "1998-06-11 23:59", freq="min")
    requests = np.arange(len(minutes)) % 100
    keep = minutes != pd.Timestamp("1998-06-10 15:00")  # one minute missing, as in the real trace
    pd.DataFrame({"minute_utc": minutes[keep], "requests": requests[keep]}).to_csv(
        folder / "requests_per_minute.csv", index=False
    )
    pd.DataFrame(
        {
            "kickoff_utc": ["1998-06-10 15:30", "1998-06-10 19:00", "1998-06-10 19:00"],
            "stage": "group",
            "home": ["A", "C", "E"],
            "away": ["B", "D", "F"],
            "venue": ["X", "Y", "Z"],
        }
    ).to_csv(folder / "matches.csv", index=False)
    (folder / worldcup98.NOTICE).write_text("notice")
    return minutes, requests


def test_converter_on_a_small_made_up_trace(tmp_path):
    """Slots, windows and the 24-hour signal, on a trace whose counts are known."""
    minutes, requests = made_up_trace(tmp_path)
    events, series = worldcup98.convert(tmp_path)

    assert list(events["event_id"]) == ["wc98-19980610-1530", "wc98-19980610-1900"]
    assert list(events["name"]) == ["A v B", "C v D / E v F"]
    assert list(events["matches_in_slot"]) == [1, 2]
    kickoff = pd.Timestamp("1998-06-10 15:30", tz="UTC")
    start = minutes.get_loc(pd.Timestamp("1998-06-09 15:30"))
    assert (
        events.loc[0, "requests_previous_24h"]
        == requests[start : start + 1440].sum()
        - requests[minutes.get_loc(pd.Timestamp("1998-06-10 15:00"))]
    )
    first = series[series["event_id"] == "wc98-19980610-1530"]
    assert first["timestamp"].iloc[0] == kickoff - pd.Timedelta(hours=1)
    assert first["timestamp"].iloc[-1] == kickoff + pd.Timedelta(minutes=179)
    assert len(first) == 240 - 1  # the missing minute stays missing...
    with pytest.raises(ValueError, match="1 interval"):
        capplan.load_history(events, series)  # ...and the loader refuses the gap
    history = capplan.load_history(events, series, repair=True)
    (entry,) = history.repairs.itertuples()
    assert entry.event_id == "wc98-19980610-1530" and "missing interval" in entry.action


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_conversion_that_fails_part_way_leaves_the_destination_as_it_was(tmp_path, monkeypatch):
    source, destination = tmp_path / "raw", tmp_path / "history"
    made_up_trace(source)
    worldcup98.write(source, destination)
    before = contents(destination)
    assert sorted(before) == ["WorldCup.html", "events.parquet", "series.parquet"]

    def full(*args, **kwargs):  # the last step, after both tables were written
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(worldcup98.shutil, "copyfile", full)
    with pytest.raises(OSError, match="No space"):
        worldcup98.write(source, destination)
    assert contents(destination) == before  # the earlier conversion, whole; no temporary
    with pytest.raises(OSError, match="No space"):
        worldcup98.write(source, tmp_path / "fresh")
    assert not any((tmp_path / "fresh").iterdir())


def test_a_missing_notice_is_found_before_anything_is_written(tmp_path):
    source = tmp_path / "raw"
    made_up_trace(source)
    (source / worldcup98.NOTICE).unlink()
    with pytest.raises(FileNotFoundError, match=r"lacks WorldCup\.html; nothing was written"):
        worldcup98.write(source, tmp_path / "history")
    assert not (tmp_path / "history").exists()


def repeat_the_first_minute(text: str) -> str:
    lines = text.split("\n")
    return "\n".join([lines[0], lines[1], *lines[1:]])


@pytest.mark.parametrize(
    "file, edit, message",
    [
        ("requests_per_minute.csv", lambda t: t.replace(",17\n", ",many\n", 1), "'requests', row"),
        ("requests_per_minute.csv", lambda t: t.replace(",17\n", ",-1\n", 1), "whole number >= 0"),
        ("requests_per_minute.csv", lambda t: t.replace(",17\n", ",1.5\n", 1), "whole number"),
        (
            "requests_per_minute.csv",
            lambda t: t.replace("1998-06-09 00:17", "noon", 1),
            "not a time",
        ),
        ("requests_per_minute.csv", lambda t: t.replace("requests", "hits"), "lacks the column"),
        ("requests_per_minute.csv", lambda t: t.split("\n")[0], "no rows after the header"),
        ("requests_per_minute.csv", lambda t: "", "not a readable CSV table"),
        (
            "requests_per_minute.csv",
            repeat_the_first_minute,
            "row 2: 1998-06-09 00:00:00+00:00 repeats",
        ),
        ("matches.csv", lambda t: t.replace(",A,", ",,"), "column 'home', row(s) [1]"),
        ("matches.csv", lambda t: t.replace("venue", "city"), "lacks the column(s) ['venue']"),
        ("matches.csv", lambda t: t + t.split("\n")[1] + "\n", "row 4: the same match as a row"),
        ("matches.csv", lambda t: t.replace("1998-06-10 15:30", "1998-07-30 15:30"), "runs from"),
    ],
)
def test_a_trace_that_is_not_the_one_described_is_refused_naming_file_column_row(
    tmp_path, file, edit, message
):
    source = tmp_path / "raw"
    made_up_trace(source)
    path = source / file
    path.write_text(edit(path.read_text()))
    with pytest.raises(ValueError) as error:
        worldcup98.write(source, tmp_path / "history")
    assert file in str(error.value) and message in str(error.value), error.value
    assert not (tmp_path / "history").exists()
