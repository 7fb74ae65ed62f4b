"""`History`: past events and their measured series, checked and read-only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from capplan._files import staged
from capplan.data import schema
from capplan.data.validate import ROW


class History:
    """Past events with their per-interval series.

    Build one with :func:`capplan.load_history`; it is checked on the way in
    and never changed afterwards (methods return new objects).

    Attributes
    ----------
    events : pandas.DataFrame
        One row per event, indexed by ``event_id``: ``name``,
        ``scheduled_start``, ``actual_start``, ``end`` (UTC) and the event's
        other attributes; the numeric ones are audience signals.
    series : pandas.DataFrame
        ``event_id``, ``timestamp`` (UTC, interval start) and the measured
        columns, sorted by event and time.
    repairs : pandas.DataFrame
        What the loader repaired or tolerated: source, event_id, column,
        rows (counted from 1 after the header), count, action.
    """

    def __init__(self, events: pd.DataFrame, series: pd.DataFrame, repairs: pd.DataFrame):
        self.events = events.drop(columns=ROW, errors="ignore")
        self.series = series
        self.repairs = repairs
        # Row positions of each event's series: event() is called once per event by the
        # forecasts, and a mask over the whole series each time is quadratic in the events.
        self._rows = series.groupby("event_id", sort=False).indices
        self._steps = series.groupby("event_id", sort=False)["timestamp"].apply(
            lambda t: t.diff().min().total_seconds() if len(t) > 1 else np.nan
        )

    def __repr__(self) -> str:
        measured = ", ".join(self.measured)
        return (
            f"<History: {len(self.events)} events, {len(self.series)} intervals "
            f"({measured}), {len(self.repairs)} repair(s)>"
        )

    @property
    def event_ids(self) -> list[str]:
        return list(self.events.index)

    @property
    def measured(self) -> list[str]:
        """The measured columns present in the series."""
        return [c for c in schema.MEASURED_COLUMNS if c in self.series.columns]

    @property
    def signals(self) -> pd.DataFrame:
        """The numeric event attributes: audience signals known before each event."""
        extra = self.events.drop(columns=list(schema.EVENT_COLUMNS)[1:])
        return extra.select_dtypes("number")

    def interval(self, event_id: str) -> float:
        """Length of one interval of the event's series, in seconds."""
        self._require_event(event_id)
        return float(self._steps[event_id])

    def event(self, event_id: str) -> pd.DataFrame:
        """One event's series indexed by seconds since its actual start.

        The index, ``seconds``, is the interval start in seconds relative to
        ``actual_start`` (negative before it); columns are ``timestamp`` and
        the measured columns (counts per interval; ``concurrent`` a level).
        """
        self._require_event(event_id)
        rows = self._rows.get(event_id, np.array([], dtype=np.int64))
        part = self.series.iloc[rows].drop(columns="event_id")
        start = self.events.at[event_id, "actual_start"]
        seconds = (part["timestamp"] - start).dt.total_seconds().to_numpy()
        if np.all(seconds == np.round(seconds)):
            seconds = seconds.astype(np.int64)
        return part.set_index(pd.Index(seconds, name="seconds"))

    def resample(self, interval_s: float) -> History:
        """The same history at a coarser interval.

        Counts are summed, so totals are kept; ``concurrent`` is averaged
        over the interval. Intervals are aligned on each event's actual
        start. An interval with a missing (NaN) value becomes missing; the
        partial intervals at either end of a window are dropped and listed
        in the new history's ``repairs``.

        Parameters
        ----------
        interval_s : float
            New interval in seconds, a whole multiple of every event's
            current interval.
        """
        ratios = interval_s / self._steps
        misfit = (ratios < 1) | ((ratios - ratios.round()).abs() > 1e-9)
        if misfit.any():
            event_id = misfit.index[misfit][0]
            raise ValueError(
                f"interval_s={interval_s!r} is not a whole multiple of event {event_id!r}'s "
                f"interval of {self._steps[event_id]:g} s"
            )
        parts, log = [], []
        for event_id in self.event_ids:
            step = self.interval(event_id)
            ratio = round(ratios[event_id])
            frame = self.event(event_id)
            bins = np.floor(frame.index.to_numpy() / interval_s).astype(np.int64)
            sizes = pd.Series(bins).value_counts()
            partial = sizes.index[sizes < ratio]
            if len(partial):
                log.append(
                    {
                        "source": "resample",
                        "event_id": event_id,
                        "column": "timestamp",
                        "rows": [],
                        "count": int(sizes[partial].sum()),
                        "action": f"{int(sizes[partial].sum())} interval(s) of {step:g} s at the "
                        f"window edges dropped: they do not fill a whole {interval_s:g} s interval",
                    }
                )
            keep = ~np.isin(bins, partial)
            if not keep.any():
                raise ValueError(
                    f"event {event_id!r} has no whole interval of {interval_s:g} s to resample"
                )
            grouped = frame[keep].groupby(bins[keep])
            counts = [c for c in schema.COUNT_COLUMNS if c in frame.columns]
            levels = [c for c in schema.LEVEL_COLUMNS if c in frame.columns]
            # min_count=ratio: an interval with a missing value stays missing, not a low count.
            out = grouped[counts].sum(min_count=ratio)
            for column in levels:
                out[column] = grouped[column].mean().where(grouped[column].count() == ratio)
            start = self.events.at[event_id, "actual_start"]
            out.insert(0, "timestamp", start + pd.to_timedelta(out.index * interval_s, unit="s"))
            out.insert(0, "event_id", event_id)
            parts.append(out[["event_id", "timestamp", *self.measured]])
        series = pd.concat(parts, ignore_index=True)
        repairs = pd.concat(
            [self.repairs, pd.DataFrame(log, columns=self.repairs.columns)], ignore_index=True
        )
        return History(self.events, series, repairs)

    def summary(self) -> pd.DataFrame:
        """One row per event: its peaks, their times and its totals.

        Columns: ``name``; ``interval_s``; ``delay_s`` (actual minus
        scheduled start); ``duration_s`` (end minus actual start);
        ``peak_joins_per_s`` and ``peak_joins_time_s`` (seconds since the
        actual start of the interval holding the peak); ``peak_concurrent``
        and ``peak_concurrent_time_s``; ``total_joins``; and, where
        requests were measured, ``peak_requests_per_s``,
        ``peak_requests_time_s``, ``total_requests``. Rates are per second
        (an interval's count divided by its length). Columns for what was
        not measured are NaN. Totals skip missing intervals.
        """
        rows = []
        loads = ["joins"] + (["requests"] if "requests" in self.series.columns else [])
        for event_id in self.event_ids:
            event = self.events.loc[event_id]
            frame = self.event(event_id)
            step = self.interval(event_id)
            row = {
                "event_id": event_id,
                "name": event["name"],
                "interval_s": step,
                "delay_s": (event["actual_start"] - event["scheduled_start"]).total_seconds(),
                "duration_s": (event["end"] - event["actual_start"]).total_seconds(),
            }
            for column in loads:
                values = frame[column] if column in frame else pd.Series(dtype=float)
                peak_time = values.idxmax() if values.notna().any() else np.nan
                row[f"peak_{column}_per_s"] = values.max() / step
                row[f"peak_{column}_time_s"] = peak_time
                row[f"total_{column}"] = values.sum(min_count=1)
                if column == "joins":
                    concurrent = (
                        frame["concurrent"] if "concurrent" in frame else pd.Series(dtype=float)
                    )
                    row["peak_concurrent"] = concurrent.max()
                    row["peak_concurrent_time_s"] = (
                        concurrent.idxmax() if concurrent.notna().any() else np.nan
                    )
            rows.append(row)
        return pd.DataFrame(rows).set_index("event_id")

    def chart(self, column: str = "joins", event_ids=None, **options):
        """The events' `column` aligned on their actual start: see
        :func:`capplan.charts.history_chart`."""
        from capplan import charts

        return charts.history_chart(self, column, event_ids, **options)

    def to_files(self, directory, format: str = "parquet") -> tuple[Path, Path]:
        """Write ``events`` and ``series`` tables into `directory`.

        ``format`` is ``"parquet"`` or ``"csv"``; timestamps are written
        in UTC with their offset. Returns the two paths.
        """
        if format not in ("parquet", "csv"):
            raise ValueError(f"format must be 'parquet' or 'csv', not {format!r}")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = directory / f"events.{format}", directory / f"series.{format}"
        # Counts are whole numbers (checked on load): write them as integers, missing as empty.
        series = self.series.astype({c: "Int64" for c in self.measured})
        # Both files or neither: written under temporary names, renamed when both are.
        with staged(*paths) as temporaries:
            frames = (self.events.reset_index(), series)
            for frame, path in zip(frames, temporaries, strict=True):
                if format == "parquet":
                    frame.to_parquet(path, index=False, compression="zstd")
                else:
                    frame.to_csv(path, index=False)
        return paths

    def _require_event(self, event_id) -> None:
        if event_id not in self.events.index:
            raise KeyError(f"no event {event_id!r}; events are {', '.join(self.event_ids[:8])}...")
