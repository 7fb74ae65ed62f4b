"""The real Higgs announcement trace, converted and shipped, checked against the raw file.

Independent truth: ``../shared/data/README.md`` (563,069 activities over the week, 63% of them
on 4 July; on the published clock the 4 July activity rises from 04:55, peaks at 05:55 with
1,096 in one minute, crests again at 06:45-06:50, and the week's busiest second holds 55), the
seminars' announced times (CERN: 4 July 09:00 CEST = 07:00 UTC; Fermilab: 2 July 9:00 a.m.
CDT = 14:00 UTC) and the raw per-second file itself. The shipped series are on the corrected
clock, true UTC = published + 2 h.
"""

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import assert_written_history_is, docstring_examples

import capplan
from capplan.cli import main
from capplan.converters import CONVERTERS, higgs2012
from capplan.data import shipped

RAW = Path(__file__).resolve().parents[2] / "shared" / "data" / "higgs2012"
needs_raw = pytest.mark.skipif(not RAW.exists(), reason=f"raw Higgs trace not found at {RAW}")

CERN = "higgs-20120704-0700"
TEVATRON = "higgs-20120702-1400"
WEEK_TOTAL = 563_069  # SNAP's higgs-activity_time.txt: RT 354,930 + MT 171,237 + RE 36,902


@pytest.fixture(scope="module")
def history():
    return capplan.higgs2012_history()


@pytest.fixture(scope="module")
def raw():
    """The raw per-second file, indexed by its published clock (naive, as published)."""
    frame = pd.read_csv(RAW / higgs2012.PER_SECOND)
    frame.index = pd.to_datetime(frame.pop("second_utc_as_published"))
    return frame


def test_shipped_history_is_two_events_of_ten_hours_per_second(history):
    assert history.event_ids == [TEVATRON, CERN]
    assert history.measured == ["requests"]
    assert history.repairs.empty
    events = history.events
    assert events.at[CERN, "scheduled_start"] == pd.Timestamp("2012-07-04 07:00", tz="UTC")
    assert events.at[TEVATRON, "scheduled_start"] == pd.Timestamp("2012-07-02 14:00", tz="UTC")
    assert (events["actual_start"] == events["scheduled_start"]).all()
    assert list(history.signals.columns) == ["requests_previous_24h"]
    for event_id in history.event_ids:
        assert history.interval(event_id) == 1.0
        frame = history.event(event_id)
        # 3 h before to 7 h after the start, every second present, zeros kept
        np.testing.assert_array_equal(frame.index, np.arange(-3 * 3600, 7 * 3600))
        assert (frame["requests"] >= 0).all() and (frame["requests"] == 0).any()
    first, second = (history.event(e)["timestamp"] for e in history.event_ids)
    assert first.iloc[-1] < second.iloc[0]  # the windows do not overlap


def test_shipped_totals_and_the_weeks_share(history):
    totals = history.summary()["total_requests"]
    assert totals[CERN] == 206_963 and totals[TEVATRON] == 9_817
    assert totals[CERN] / WEEK_TOTAL == pytest.approx(0.3676, abs=1e-4)


def test_busiest_minute_is_the_readmes_on_the_corrected_clock(history):
    """1,096 activities in one minute, published 05:55 = 07:55 UTC, 55 minutes after the start.

    Minutes on the clock (07:55:00-07:55:59), which the event's start (07:00) is aligned on.
    """
    frame = history.event(CERN)
    minutes = frame["requests"].groupby(frame.index // 60).sum()
    assert minutes.max() == 1_096
    assert minutes.idxmax() == 55
    assert frame.at[55 * 60, "timestamp"] == pd.Timestamp("2012-07-04 07:55", tz="UTC")
    # the second crest: published 06:45-06:50 = 105-110 minutes after the start
    assert minutes.loc[90:119].idxmax() in range(105, 111)
    # the busiest second of the peak minute holds 27; the week's busiest (55) comes later
    assert frame["requests"].loc[3300:3359].max() == 27


def test_busiest_second_is_a_retweet_burst_four_hours_after_the_start(history):
    """The README's 55 in one second is not in the flood's peak minute: it is at published
    09:05:02 (11:05:02 UTC), 4 h 5 min after the start; the flood's busiest second holds 31."""
    frame = history.event(CERN)
    assert frame["requests"].max() == 55
    assert frame["requests"].idxmax() == 4 * 3600 + 5 * 60 + 2
    assert frame["requests"].loc[0:7199].max() == 31


@pytest.mark.parametrize(("event_id", "ratio"), [(CERN, 3.0), (TEVATRON, 1.5)])
def test_surge_begins_at_the_seminar_on_the_corrected_clock(history, event_id, ratio):
    """The hour after each announced start holds several times the hour before.

    On the published clock (2 h early) both ratios would be below 1: this is the check that
    the +2 h correction puts both seminars, on two days, where their activity rises.
    """
    requests = history.event(event_id)["requests"]
    assert requests.loc[0:3599].sum() > ratio * requests.loc[-3600:-1].sum()


def test_signal_is_the_activity_of_the_day_before(history):
    assert history.events.at[CERN, "requests_previous_24h"] == 43_033
    assert history.events.at[TEVATRON, "requests_previous_24h"] == 6_461


def test_docstring_example_runs():
    assert docstring_examples(shipped.higgs2012_history).failed == 0


def test_describe_names_the_shipped_history(capsys):
    assert main(["describe", "--history", "higgs2012"]) == 0
    out = capsys.readouterr().out
    assert "2 events" in out and CERN in out and "206,963" in out
    assert CONVERTERS["higgs2012"] is higgs2012


@needs_raw
def test_raw_file_holds_the_readmes_totals(raw):
    assert len(raw) == 7 * 86_400
    assert raw["activities"].sum() == WEEK_TOTAL
    assert raw[["rt", "mt", "re"]].sum().tolist() == [354_930, 171_237, 36_902]
    assert (raw["activities"] == raw[["rt", "mt", "re"]].sum(axis=1)).all()
    on_4_july = raw.loc["2012-07-04", "activities"].sum()  # published clock's day
    assert on_4_july / WEEK_TOTAL == pytest.approx(0.63, abs=0.005)


@needs_raw
def test_windows_hold_exactly_the_raw_counts_shifted_by_two_hours(history, raw):
    """No count dropped: each shipped second is the raw second published 2 hours earlier."""
    for event_id in history.event_ids:
        frame = history.event(event_id)
        published = frame["timestamp"].dt.tz_convert(None) - pd.Timedelta(hours=2)
        expected = raw["activities"].reindex(published)
        np.testing.assert_array_equal(frame["requests"].to_numpy(), expected.to_numpy())
        start = history.events.at[event_id, "scheduled_start"].tz_convert(None)
        day_before = raw["activities"][
            start - pd.Timedelta(hours=26) : start - pd.Timedelta(hours=2, seconds=1)
        ]
        assert history.events.at[event_id, "requests_previous_24h"] == day_before.sum()


@needs_raw
def test_converter_reproduces_the_shipped_tables(tmp_path, history):
    assert_written_history_is(higgs2012.write(RAW, tmp_path), history)
    shipped_notice = Path(shipped._folder("higgs2012")) / higgs2012.NOTICE
    assert (tmp_path / higgs2012.NOTICE).read_text() == shipped_notice.read_text()


def test_converter_on_a_small_made_up_trace(tmp_path):
    """Clock shift, windows and the 24-hour signal, on a trace whose counts are known."""
    seconds = pd.date_range("2012-07-01 11:00", "2012-07-04 12:00", freq="s", inclusive="left")
    counts = np.arange(len(seconds)) % 7
    with gzip.open(tmp_path / higgs2012.PER_SECOND, "wt") as file:
        pd.DataFrame(
            {
                "second_utc_as_published": seconds.strftime("%Y-%m-%d %H:%M:%S"),
                "activities": counts,
                "rt": counts,
                "mt": 0,
                "re": 0,
                "tweets_est": counts,
            }
        ).to_csv(file, index=False)
    events, series = higgs2012.convert(tmp_path)
    history = capplan.load_history(events, series)

    by_published = pd.Series(counts, index=seconds.tz_localize("UTC"))
    for event_id, start in [
        (TEVATRON, pd.Timestamp("2012-07-02 14:00", tz="UTC")),
        (CERN, pd.Timestamp("2012-07-04 07:00", tz="UTC")),
    ]:
        frame = history.event(event_id)
        assert frame["timestamp"].iloc[0] == start - pd.Timedelta(hours=3)
        # the count at true UTC t is the count published at t - 2 h
        np.testing.assert_array_equal(
            frame["requests"].to_numpy(),
            by_published.reindex(frame["timestamp"] - pd.Timedelta(hours=2)).to_numpy(),
        )
        day_before = by_published[
            start - pd.Timedelta(hours=26) : start - pd.Timedelta(hours=2, seconds=1)
        ]
        assert history.events.at[event_id, "requests_previous_24h"] == day_before.sum()


def test_a_conversion_that_fails_part_way_leaves_the_destination_as_it_was(
    tmp_path, monkeypatch, history
):
    """The tables are written under temporary names and renamed together: a failure at the
    second table leaves an earlier conversion whole, and a fresh folder without tables."""
    events = history.events.reset_index()
    series = history.series.reset_index().head(100)
    monkeypatch.setattr(higgs2012, "convert", lambda source: (events, series))
    destination = tmp_path / "history"
    higgs2012.write(tmp_path, destination)
    before = {p.name: p.read_bytes() for p in destination.iterdir()}
    assert sorted(before) == ["NOTICE.md", "events.parquet", "series.parquet"]

    written = []

    def second_fails(frame, path):
        if written:
            raise OSError(28, "No space left on device")
        written.append(path)
        frame.to_parquet(path)

    monkeypatch.setattr(higgs2012, "write_parquet", second_fails)
    with pytest.raises(OSError, match="No space"):
        higgs2012.write(tmp_path, destination)
    assert {p.name: p.read_bytes() for p in destination.iterdir()} == before
    written.clear()
    with pytest.raises(OSError, match="No space"):
        higgs2012.write(tmp_path, tmp_path / "fresh")
    assert not any((tmp_path / "fresh").iterdir())


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "lacks activities_per_second.csv.gz; nothing was written"),
        (b"not gzip", "not a readable CSV table (Not a gzipped file"),
        (
            gzip.compress(b"second,activities\n2012-07-01 00:00:00,1\n", mtime=0),
            "lacks the column(s)",
        ),
        (
            gzip.compress(b"second_utc_as_published,activities\n2012-07-01 00:00,1\n", mtime=0),
            "column 'second_utc_as_published', row(s) [1]: not a time like",
        ),
        (
            gzip.compress(b"second_utc_as_published,activities\n2012-07-01 00:00:00,-3\n", mtime=0),
            "column 'activities', row(s) [1]: not a whole number >= 0",
        ),
        (
            gzip.compress(b"second_utc_as_published,activities\n2012-07-01 00:00:00,1\n", mtime=0),
            "runs from 2012-07-01 02:00:00+00:00 to 2012-07-01 02:00:00+00:00",
        ),
    ],
)
def test_a_trace_that_is_not_the_one_described_is_refused_before_writing(
    tmp_path, content, message
):
    if content is not None:
        (tmp_path / higgs2012.PER_SECOND).write_bytes(content)
    with pytest.raises((ValueError, FileNotFoundError)) as error:
        higgs2012.write(tmp_path, tmp_path / "history")
    assert message in str(error.value), error.value
    assert not (tmp_path / "history").exists()
