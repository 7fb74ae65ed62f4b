"""The Higgs boson announcement on Twitter as a history: two announcements, per second.

Source: the Stanford Network Analysis Project's "Higgs Twitter Dataset"
(``higgs-activity_time.txt``: 563,069 retweets, mentions and replies about
the discovery, 1-7 July 2012), built by M. De Domenico, A. Lima, P.
Mougel and M. Musolesi, "The Anatomy of a Scientific Rumor", Scientific
Reports 3:2980 (2013), and distributed by J. Leskovec and A. Krevl, SNAP
Datasets (2014). Terms: research use, citing both. The source folder holds
it counted per second (``activities_per_second.csv.gz``); nothing else was
changed. The converter writes :data:`NOTICE_TEXT` (the citation and terms)
beside the tables.

**Clock.** The series are on true UTC, which is the published clock plus
:data:`CLOCK_CORRECTION` (2 hours). The correction is *inferred, not
documented by the dataset*: on the published clock the 4 July activity
rises at 04:55 and peaks at 05:55, two hours before and after CERN's
seminar announced for 09:00 CEST (07:00 UTC); shifted by +2 h the rise
lines up with the seminar, and so does the 2 July rise with Fermilab's
seminar at 9:00 CDT (14:00 UTC), an independent check of the same shift.
Durations and shapes do not depend on it.

**Events.**

- ``higgs-20120704-0700``: CERN's seminar where ATLAS and CMS presented the
  discovery, announced for 4 July 2012 09:00 CEST (07:00 UTC) by CERN's
  press release of June 2012 and the experiments' own pages. ``end``: an
  estimate, not a measurement: the start plus two hours (two experiments'
  talks and the discussion; CERN's press conference followed).
- ``higgs-20120702-1400``: the Tevatron's CDF and DZero seminar presenting
  their final Higgs search results, scheduled for Monday 2 July 2012,
  9:00 a.m. CDT (14:00 UTC) as "an hour-long scientific seminar" streamed
  live (Fermilab Today, "Next week is Higgs week", June 2012). ``end``: the
  start plus that announced hour, not measured. Its surge is small
  (about twice the hour before) and ragged.

No record says either seminar started late, so ``actual_start`` is the
scheduled start: a convention, not a measurement.

**Series.** One row per second, ``requests`` = activities (retweets,
mentions and replies, each counted as one arrival at its second), from
``BEFORE`` (3 hours) before to ``AFTER`` (7 hours) after the start: the
quiet baseline, the build-up, the flood with its second crest and hours of
its tail (on 4 July the tail is still about 20 times the pre-dawn level
when the window closes). A second with no activity is a real zero and is
kept. The two windows do not overlap. The series counts a topic stream
(tweets about the discovery), not all of Twitter.

**Signals** (known before the start): ``requests_previous_24h``, the
activities in the 24 hours before the scheduled start (as for the World
Cup trace). Text attribute: ``host``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from capplan.converters import _source
from capplan.converters._parquet import write_parquet

CLOCK_CORRECTION = pd.Timedelta(hours=2)  # true UTC = published clock + 2 h (inferred)
BEFORE = pd.Timedelta(hours=3)
AFTER = pd.Timedelta(hours=7)
PER_SECOND = "activities_per_second.csv.gz"
NOTICE = "NOTICE.md"

# Scheduled starts in true UTC, their announced or estimated lengths, and where each comes from.
EVENTS = (
    {
        "event_id": "higgs-20120702-1400",
        "name": "Tevatron (CDF and DZero) final Higgs search results, Fermilab seminar",
        "scheduled_start": pd.Timestamp("2012-07-02 14:00", tz="UTC"),
        "length": pd.Timedelta(hours=1),
        "host": "Fermilab",
    },
    {
        "event_id": "higgs-20120704-0700",
        "name": "CERN seminar: ATLAS and CMS announce a Higgs-like boson",
        "scheduled_start": pd.Timestamp("2012-07-04 07:00", tz="UTC"),
        "length": pd.Timedelta(hours=2),
        "host": "CERN",
    },
)

NOTICE_TEXT = """\
# Higgs Twitter Dataset: terms and citation

These tables (`events.parquet`, `series.parquet`) are converted by
`capplan.converters.higgs2012` from the Stanford Network Analysis Project's
"Higgs Twitter Dataset" (`higgs-activity_time.txt`), counted per second:
each retweet, mention or reply about the discovery of the Higgs-like boson
is one arrival at its second. Nothing else was changed, except the clock:
the published times are shifted by +2 hours to true UTC (an inference, not
documented by the dataset: see `capplan/converters/higgs2012.py`).

Terms: for research use. Cite both:

- M. De Domenico, A. Lima, P. Mougel, M. Musolesi. "The Anatomy of a
  Scientific Rumor". Scientific Reports 3:2980 (2013).
- J. Leskovec, A. Krevl. "SNAP Datasets: Stanford Large Network Dataset
  Collection". http://snap.stanford.edu/data, 2014.
"""


def read_trace(source) -> pd.Series:
    """The whole week's activities per second, indexed by true UTC (the published
    clock plus :data:`CLOCK_CORRECTION`).

    Raises
    ------
    FileNotFoundError
        ``activities_per_second.csv.gz`` missing from `source`.
    ValueError
        A file that is not that table, naming the column and the row: a missing column,
        a second not written ``YYYY-MM-DD HH:MM:SS``, a count that is not a whole number
        >= 0, seconds out of order or repeated.
    """
    path = _source.source_folder(source, (PER_SECOND,)) / PER_SECOND
    trace = _source.read_csv(
        path, ("second_utc_as_published", "activities"), text=("second_utc_as_published",)
    )
    published = _source.utc_times(trace, "second_utc_as_published", path, "%Y-%m-%d %H:%M:%S")
    _source.ordered(published, "second_utc_as_published", path)
    index = pd.DatetimeIndex(published + CLOCK_CORRECTION, name="timestamp")
    return pd.Series(_source.counts(trace, "activities", path), index=index, name="requests")


def convert(source) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events and series tables from the trace folder `source`.

    `source` holds ``activities_per_second.csv.gz``
    (``second_utc_as_published``: the published Unix seconds rendered as
    UTC; ``activities``: retweets + mentions + replies in that second),
    every second of the week, zeros included. It must cover each event's window and
    the 24 hours before its start (a ``ValueError`` otherwise, as for a table that is
    not this one: see :func:`read_trace`).
    """
    by_second = read_trace(source)
    times = by_second.index.to_series()
    events, series = [], []
    for spec in EVENTS:
        start = spec["scheduled_start"]
        _source.covers(
            times,
            min(start - pd.Timedelta(hours=24), start - BEFORE),
            start + AFTER - pd.Timedelta(seconds=1),
            Path(source) / PER_SECOND,
            f"the event {spec['event_id']} (on the corrected clock, published + 2 h)",
        )
        window = by_second[start - BEFORE : start + AFTER - pd.Timedelta(seconds=1)]
        previous = by_second[start - pd.Timedelta(hours=24) : start - pd.Timedelta(seconds=1)]
        events.append(
            {
                "event_id": spec["event_id"],
                "name": spec["name"],
                "scheduled_start": start,
                "actual_start": start,
                "end": start + spec["length"],
                "host": spec["host"],
                "requests_previous_24h": int(previous.sum()),
            }
        )
        series.append(
            pd.DataFrame(
                {
                    "event_id": spec["event_id"],
                    "timestamp": window.index,
                    "requests": window.to_numpy(),
                }
            )
        )
    return pd.DataFrame(events), pd.concat(series, ignore_index=True)


def write(source, destination) -> tuple[Path, Path]:
    """Convert the trace in `source` into ``events.parquet`` and ``series.parquet``
    in `destination`, with the citation and terms (``NOTICE.md``) beside them.

    Every input is checked before anything is written, and the three files are renamed
    into place together: a failure leaves `destination` as it was.
    """
    destination = _source.destination_folder(destination)
    events, series = convert(source)
    paths = _source.write_all(
        destination,
        {
            "events.parquet": lambda p: write_parquet(events, p),
            "series.parquet": lambda p: write_parquet(series, p),
            NOTICE: lambda p: p.write_text(NOTICE_TEXT),
        },
    )
    return paths[0], paths[1]
