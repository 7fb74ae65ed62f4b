"""The one look of capplan's charts: sizes, colours, titles and the event's clock.

Every chart module draws with these, so a colour or a size changes here once.
"""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd

from capplan._text import human_number

MAX_ROWS = 1500  # rows drawn per layer at most
WIDTH, HEIGHT = 640, 280
PANEL_HEIGHT = 150  # one panel of a stacked (vconcat) chart
FIT_COLOR = "#1f77b4"
DATA_COLOR = "#7f7f7f"
START_COLOR = "#d62728"
SLO_COLOR = START_COLOR
# d3 formats of tooltips and labels: four significant digits without exponent (23,660),
# whole counts (1,234), shares (1.25%)
NUMBER, COUNT, SHARE = ",.4~r", ",.0f", ".2%"


def thin(frame: pd.DataFrame, max_rows: int = MAX_ROWS) -> tuple[pd.DataFrame, int]:
    """Means over blocks of consecutive rows, so that at most `max_rows` remain."""
    k = int(np.ceil(len(frame) / max_rows))
    if k <= 1:
        return frame.reset_index(), 1
    block = np.arange(len(frame)) // k
    thinned = frame.groupby(block).mean(numeric_only=True)
    index = frame.index.to_numpy(dtype=float)
    thinned.insert(0, frame.index.name or "index", pd.Series(index).groupby(block).mean())
    return thinned.reset_index(drop=True), k


def has_values(frame: pd.DataFrame, *columns: str) -> bool:
    """Whether some row of ``frame`` has finite values in all ``columns``: a layer drawn
    from none would give the browser an infinite extent to warn about."""
    values = frame[list(columns)].to_numpy(dtype=float)
    return bool(np.isfinite(values).all(axis=1).any())


SCHEDULED, ACTUAL = "scheduled start", "actual start"


def utc_start(value, name: str = "scheduled_start") -> pd.Timestamp | None:
    """``value`` as a UTC timestamp (None stays None); an error names ``name`` if it has
    no timezone or is not a time."""
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a UTC timestamp; got {value!r}") from err
    if stamp.tzinfo is None:
        raise ValueError(
            f"{name} must carry a timezone (UTC), e.g. '2026-05-01 19:00Z'; got {value!r}"
        )
    return stamp.tz_convert("UTC")


@dataclass(frozen=True)
class Clock:
    """The event's clock a chart draws time on.

    The data hold seconds from ``origin`` (the scheduled or the actual start); the chart
    shows minutes from it or, when ``start_utc`` (the origin's wall time) is known, UTC
    wall time. The starts are marked by red rules: the scheduled start dashed, the
    actual start solid.
    """

    origin: str = SCHEDULED
    start_utc: pd.Timestamp | None = None

    @property
    def field(self) -> str:
        """The column the chart draws time from (see :meth:`put`)."""
        return "minutes" if self.start_utc is None else "time_utc"

    @property
    def title(self) -> str:
        if self.start_utc is None:
            return f"minutes from the {self.origin} (min)"
        return "wall clock (UTC)"

    def times(self, seconds):
        """Seconds from the origin as the chart's times: minutes, or UTC timestamps."""
        s = np.asarray(seconds, dtype=float)
        if self.start_utc is None:
            return s / 60.0
        return self.start_utc + pd.to_timedelta(s, unit="s")

    def put(self, frame: pd.DataFrame, seconds: str = "start_s") -> pd.DataFrame:
        """``frame`` with the time column (:attr:`field`) made from its ``seconds``."""
        return frame.assign(**{self.field: self.times(frame[seconds].to_numpy())})

    def x(self, **options) -> alt.X:
        """The x encoding: minutes from the origin, or the wall clock in hours:minutes."""
        if self.start_utc is None:
            return alt.X(f"{self.field}:Q", title=self.title, **options)
        return alt.X(
            f"{self.field}:T",
            title=self.title,
            scale=alt.Scale(type="utc"),
            axis=alt.Axis(format="%H:%M"),
            **options,
        )

    def tooltip(self) -> alt.Tooltip:
        if self.start_utc is None:
            return alt.Tooltip(f"{self.field}:Q", title=self.title, format=",.1f")
        return alt.Tooltip(f"{self.field}:T", title="UTC", format="%H:%M:%S", formatType="utc")

    def rules(
        self,
        *,
        scheduled_s: float | None = None,
        actual_s: float | None = None,
        within: tuple[float, float] | None = None,
    ) -> list[alt.Chart]:
        """The red rules at the starts (seconds from the origin; the origin's is 0), a list
        of layers to draw beside the data; given ``within`` (seconds), only those inside."""
        marks = {SCHEDULED: scheduled_s, ACTUAL: actual_s}
        if self.origin in marks:
            marks[self.origin] = 0.0
        layers = []
        for label, at in marks.items():
            if at is None or not np.isfinite(at):
                continue
            if within is not None and not within[0] <= at <= within[1]:
                continue
            when = self.times([at])[0]
            text = f"{at / 60:+,.1f} min" if self.start_utc is None else f"{when:%H:%M:%S} UTC"
            data = pd.DataFrame({self.field: [when], "label": [label], "when": [text]})
            dash = [4, 4] if label == SCHEDULED else [1, 0]
            layers.append(
                alt.Chart(data)
                .mark_rule(color=START_COLOR, strokeDash=dash)
                .encode(
                    x=self.x(),
                    tooltip=[
                        alt.Tooltip("label:N", title="start"),
                        alt.Tooltip("when:N", title="at"),
                    ],
                )
            )
        return layers


def estimate_text(value: float, lower: float | None = None, upper: float | None = None) -> str:
    """A number as the subtitles write it, with its interval: ``"8.0 M (4.0 M..16.0 M)"``."""
    text = human_number(value)
    if lower is not None and upper is not None and np.isfinite([lower, upper]).all():
        text += f" ({human_number(lower)}..{human_number(upper)})"
    return text


def minutes_text(seconds: float) -> str:
    """Seconds from a start as the subtitles write them: ``"2.0 min"``."""
    return f"{seconds / 60:,.1f} min"


def heading(text: str, subtitle: str | list[str] = "") -> alt.TitleParams:
    """A chart's title, left-aligned, with an optional subtitle (one line or several)."""
    return alt.TitleParams(text=text, subtitle=subtitle, anchor="start")
