import os

import pytest
from helpers import one_event_tables, toy_tables
from hypothesis import settings

# Property tests draw the same examples on every run, so that a red run points at a change,
# not at luck; HYPOTHESIS_PROFILE=explore draws new ones (run it now and then).
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture
def toy():
    return toy_tables()


@pytest.fixture
def one_event():
    """Factory of one-event tables: ``one_event(seconds, joins=..., ...)``."""
    return one_event_tables


@pytest.fixture
def write_csv(tmp_path):
    """Write events and series as CSV files; return their paths."""

    def write(events, series):
        events_path, series_path = tmp_path / "events.csv", tmp_path / "series.csv"
        events.to_csv(events_path, index=False)
        series.to_csv(series_path, index=False)
        return events_path, series_path

    return write
