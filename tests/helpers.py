"""Tables of small histories whose numbers are known, shared by the tests."""

import doctest

import pandas as pd

import capplan

START = pd.Timestamp("2026-05-01 20:00", tz="UTC")


def one_event_tables(seconds, **columns) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events and series tables of one event "e" starting at START, its series at
    `seconds` since the start with the measured `columns`."""
    events = pd.DataFrame(
        {
            "event_id": ["e"],
            "name": ["E"],
            "scheduled_start": [START],
            "actual_start": [START],
            "end": [START + pd.Timedelta(hours=1)],
        }
    )
    timestamps = START + pd.to_timedelta(seconds, unit="s")
    return events, pd.DataFrame({"event_id": "e", "timestamp": timestamps, **columns})


def toy_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three small events whose summary is worked out by hand in test_history.py.

    - ev-a: 1 s intervals, starts on time at 10:00:00, ends 60 s later.
    - ev-b: 60 s intervals, scheduled 12:00, starts 5 minutes late, ends 12:15.
    - ev-c: 60 s intervals, measured requests only (a web trace).
    """
    utc = "UTC"
    events = pd.DataFrame(
        {
            "event_id": ["ev-a", "ev-b", "ev-c"],
            "name": ["Alpha", "Beta", "Gamma"],
            "scheduled_start": pd.to_datetime(
                ["2026-01-01 10:00:00", "2026-01-01 12:00:00", "2026-01-02 18:00:00"]
            ).tz_localize(utc),
            "actual_start": pd.to_datetime(
                ["2026-01-01 10:00:00", "2026-01-01 12:05:00", "2026-01-02 18:00:00"]
            ).tz_localize(utc),
            "end": pd.to_datetime(
                ["2026-01-01 10:01:00", "2026-01-01 12:15:00", "2026-01-02 19:00:00"]
            ).tz_localize(utc),
            "followers": [1000, 50_000, 2_000_000],
        }
    )
    a_times = pd.date_range("2026-01-01 09:59:58", periods=6, freq="s", tz=utc)
    b_times = pd.date_range("2026-01-01 12:00:00", periods=11, freq="min", tz=utc)
    c_times = pd.date_range("2026-01-02 17:58:00", periods=5, freq="min", tz=utc)
    nan = float("nan")
    series = pd.concat(
        [
            pd.DataFrame(
                {
                    "event_id": "ev-a",
                    "timestamp": a_times,
                    "joins": [1, 2, 5, 3, 0, 1],
                    "leaves": [0, 0, 0, 1, 1, 1],
                    "concurrent": [1, 3, 8, 10, 9, 9],
                    "requests": nan,
                }
            ),
            pd.DataFrame(
                {
                    "event_id": "ev-b",
                    "timestamp": b_times,
                    "joins": [60, 60, 120, 120, 120, 1800, 900, 300, 120, 60, 60],
                    "leaves": [0, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500],
                    "concurrent": [60, 110, 210, 300, 380, 2130, 2930, 3030, 2850, 2510, 2070],
                    "requests": nan,
                }
            ),
            pd.DataFrame(
                {
                    "event_id": "ev-c",
                    "timestamp": c_times,
                    "joins": nan,
                    "leaves": nan,
                    "concurrent": nan,
                    "requests": [600, 660, 6000, 1200, 900],
                }
            ),
        ],
        ignore_index=True,
    )
    return events, series


def docstring_examples(function) -> doctest.TestResults:
    """Run the examples in `function`'s docstring; (failed, attempted)."""
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for test in finder.find(function, function.__name__, globs={}):
        runner.run(test)
    return runner.summarize(verbose=False)


def assert_written_history_is(paths, history) -> None:
    """The events and series tables written at `paths` load as `history`'s."""
    again = capplan.load_history(*paths[:2])
    pd.testing.assert_frame_equal(again.events, history.events)
    pd.testing.assert_frame_equal(again.series, history.series)
