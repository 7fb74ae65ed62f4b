"""The 1998 World Cup web site trace as a history: one event per kick-off slot.

Source: M. Arlitt and T. Jin, "1998 World Cup Web Site Access Logs",
August 1998 (the Internet Traffic Archive), counted per minute. Its terms
allow use and redistribution with the notice in ``WorldCup.html`` kept
unmodified, so that file is copied beside the converted tables.

Each event is one kick-off slot (two group matches kicked off at once in
the last round; the site's traffic is their sum). Its series is the
per-minute ``requests`` from ``BEFORE`` (one hour) before to ``AFTER``
(three hours) after the kick-off, with the background traffic left in:
it holds the hour before kick-off that a forecast may use and the surge
at the final whistle, and stops before the next slot's kick-off, though
an earlier match's tail may still be in its first hour. The trace starts
no match late, so ``actual_start`` is the scheduled kick-off; ``end`` is
an estimate of the final whistle (``MATCH_LENGTH`` after kick-off: 90
minutes of play, 15 of half-time, about 5 of stoppage), not a measurement.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

BEFORE = pd.Timedelta(hours=1)
AFTER = pd.Timedelta(hours=3)
MATCH_LENGTH = pd.Timedelta(minutes=110)
NOTICE = "WorldCup.html"


def convert(source) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events and series tables from the trace folder `source`.

    `source` holds ``requests_per_minute.csv`` (``minute_utc``,
    ``requests``) and ``matches.csv`` (``kickoff_utc``, ``stage``,
    ``home``, ``away``, ``venue``), times in UTC. Minutes absent from the
    trace stay absent: the loader reports them as gaps.

    Events carry the text attributes ``stage``, ``home``, ``away``,
    ``venue`` and these signals, known before kick-off:
    ``matches_in_slot``, ``kickoff_hour_utc`` (hours), ``weekday``
    (0 = Monday) and ``requests_previous_24h`` (requests to the site in
    the 24 hours before kick-off).
    """
    source = Path(source)
    trace = pd.read_csv(source / "requests_per_minute.csv")
    trace["minute_utc"] = pd.to_datetime(trace["minute_utc"]).dt.tz_localize("UTC")
    matches = pd.read_csv(source / "matches.csv")
    matches["kickoff_utc"] = pd.to_datetime(matches["kickoff_utc"]).dt.tz_localize("UTC")
    by_minute = trace.set_index("minute_utc")["requests"]

    events, series = [], []
    for kickoff, slot in matches.groupby("kickoff_utc", sort=True):
        event_id = f"wc98-{kickoff:%Y%m%d-%H%M}"
        window = by_minute[kickoff - BEFORE : kickoff + AFTER - pd.Timedelta(minutes=1)]
        previous = by_minute[kickoff - pd.Timedelta(hours=24) : kickoff - pd.Timedelta(minutes=1)]
        events.append(
            {
                "event_id": event_id,
                "name": " / ".join(
                    f"{h} v {a}" for h, a in zip(slot["home"], slot["away"], strict=True)
                ),
                "scheduled_start": kickoff,
                "actual_start": kickoff,
                "end": kickoff + MATCH_LENGTH,
                "stage": " / ".join(slot["stage"].unique()),
                "home": " / ".join(slot["home"]),
                "away": " / ".join(slot["away"]),
                "venue": " / ".join(slot["venue"]),
                "matches_in_slot": len(slot),
                "kickoff_hour_utc": kickoff.hour + kickoff.minute / 60,
                "weekday": kickoff.day_of_week,
                "requests_previous_24h": int(previous.sum()),
            }
        )
        series.append(
            pd.DataFrame(
                {"event_id": event_id, "timestamp": window.index, "requests": window.to_numpy()}
            )
        )
    return pd.DataFrame(events), pd.concat(series, ignore_index=True)


def write(source, destination) -> tuple[Path, Path]:
    """Convert the trace in `source` into ``events.parquet`` and ``series.parquet``
    in `destination`, with the original notice copied beside them."""
    events, series = convert(source)
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    paths = destination / "events.parquet", destination / "series.parquet"
    events.to_parquet(paths[0], index=False, compression="zstd")
    series.to_parquet(paths[1], index=False, compression="zstd")
    shutil.copyfile(Path(source) / NOTICE, destination / NOTICE)
    return paths
