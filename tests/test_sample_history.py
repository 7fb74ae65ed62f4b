"""The shipped sample history, as users load it."""

import numpy as np

import capplan


def test_sample_history_loads_clean_and_spans_small_to_headline():
    history = capplan.sample_history()
    assert len(history.events) >= 40
    assert history.repairs.empty
    assert set(history._steps) == {1.0}
    summary = history.summary()
    assert summary["peak_concurrent"].min() < 2e3
    assert 8e6 <= summary["peak_concurrent"].max() <= 1.2e7
    assert (summary["delay_s"] > 180).sum() >= 5  # several delayed starts
    assert (summary["total_requests"] > summary["total_joins"]).sum() >= 5  # join errors, retries
    # the headline's flood: its joins peak within minutes of the actual start
    headline = summary.loc[summary["peak_concurrent"].idxmax()]
    assert 0 <= headline["peak_joins_time_s"] < 300
    assert headline["peak_concurrent_time_s"] > headline["peak_joins_time_s"]


def test_signals_are_known_before_the_event_and_track_its_size():
    history = capplan.sample_history()
    signals = history.signals
    assert set(signals.columns) == {"followers", "registrations", "notifications_sent"}
    peaks = history.summary()["peak_concurrent"]
    for column in signals:
        r = np.corrcoef(np.log(signals[column]), np.log(peaks[signals.index]))[0, 1]
        assert 0.5 < r < 0.999, column
