"""The one look of capplan's charts: sizes, colours, titles and the event's clock.

Every chart module draws with these, so a colour or a size changes here once.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

MAX_ROWS = 1500  # rows drawn per layer at most
WIDTH, HEIGHT = 640, 280
PANEL_HEIGHT = 150  # one panel of a stacked (vconcat) chart
FIT_COLOR = "#1f77b4"
DATA_COLOR = "#7f7f7f"
START_COLOR = "#d62728"
SLO_COLOR = START_COLOR
TIME_TITLE = "seconds since the actual start (s)"


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


def start_rule() -> alt.Chart:
    return (
        alt.Chart(pd.DataFrame({"seconds": [0.0], "label": ["actual start"]}))
        .mark_rule(color=START_COLOR, strokeDash=[4, 4])
        .encode(x="seconds:Q", tooltip=["label:N"])
    )


def heading(text: str, subtitle: str | list[str] = "") -> alt.TitleParams:
    """A chart's title, left-aligned, with an optional subtitle (one line or several)."""
    return alt.TitleParams(text=text, subtitle=subtitle, anchor="start")
