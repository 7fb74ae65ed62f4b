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

from capplan.converters import _source

BEFORE = pd.Timedelta(hours=1)
AFTER = pd.Timedelta(hours=3)
MATCH_LENGTH = pd.Timedelta(minutes=110)
NOTICE = "WorldCup.html"
TRACE = "requests_per_minute.csv"
MATCHES = "matches.csv"
MATCH_COLUMNS = ("kickoff_utc", "stage", "home", "away", "venue")


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

    Raises
    ------
    FileNotFoundError
        A file missing from `source`.
    ValueError
        A file that is not the table described, naming the file, the column and the
        row: a missing column, a time that is not one, a count that is not a whole
        number >= 0, minutes out of order or repeated, a trace that does not cover
        a kick-off's window and the 24 hours before it.
    """
    source = _source.source_folder(source, (TRACE, MATCHES))
    path = source / TRACE
    trace = _source.read_csv(path, ("minute_utc", "requests"), text=("minute_utc",))
    minutes = _source.utc_times(trace, "minute_utc", path)
    _source.ordered(minutes, "minute_utc", path)
    by_minute = pd.Series(
        _source.counts(trace, "requests", path), index=pd.DatetimeIndex(minutes), name="requests"
    )
    by_minute.index.name = "minute_utc"
    path = source / MATCHES
    matches = _source.read_csv(path, MATCH_COLUMNS, text=MATCH_COLUMNS)
    _source.texts(matches, MATCH_COLUMNS[1:], path)
    repeated = matches.duplicated(keep="first")
    if repeated.any():
        row = int(repeated.to_numpy().argmax())
        raise ValueError(f"{path}, row {row + 1}: the same match as a row above; give each once")
    matches["kickoff_utc"] = _source.utc_times(matches, "kickoff_utc", path)

    events, series = [], []
    for kickoff, slot in matches.groupby("kickoff_utc", sort=True):
        _source.covers(
            minutes,
            kickoff - pd.Timedelta(hours=24),
            kickoff + AFTER - pd.Timedelta(minutes=1),
            source / TRACE,
            f"the kick-off at {kickoff} ({MATCHES}, row {slot.index[0] + 1})",
        )
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
    in `destination`, with the original notice copied beside them.

    Every input is checked before anything is written, and the three files are renamed
    into place together: a failure leaves `destination` as it was.
    """
    source = _source.source_folder(source, (TRACE, MATCHES, NOTICE))
    destination = _source.destination_folder(destination)
    events, series = convert(source)
    paths = _source.write_all(
        destination,
        {
            "events.parquet": lambda p: events.to_parquet(p, index=False, compression="zstd"),
            "series.parquet": lambda p: series.to_parquet(p, index=False, compression="zstd"),
            NOTICE: lambda p: shutil.copyfile(source / NOTICE, p),
        },
    )
    return paths[0], paths[1]
