"""Human numbers, one way for every ``__str__``, summary table, CLI line and report table.

``human(8.0e6, "streams")`` is ``"8.0 M streams"``, ``human(23_658, "1/s")`` is
``"23.7 k/s"``, ``human(8.89e6, "worker-s")`` is ``"2,470 worker-hours"``; a timestamp is
``"19:05 UTC"``. Counts of a thousand and more are never in scientific notation.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

__all__ = [
    "Readable",
    "html_table",
    "human",
    "human_number",
    "human_time",
    "readable",
    "table_text",
]

_SUFFIXES = ((1e9, 1e9, "bn"), (1e6, 1e6, "M"), (1e4, 1e3, "k"))  # from, in, named
# units shown after the number as they are; the rest are named in a header
_RATE_UNITS = {"1/s", "/s", "per s"}
_SHARE_UNITS = {"share", "probability", "%"}


def human_number(x) -> str:
    """A number as a reader writes it: ``8.0 M``, ``23.7 k``, ``11,974``, ``12.4``,
    ``0.0123``. Integers below a million are written out with thousands separators;
    other numbers from ten thousand on are in thousands (k), millions (M) or billions
    (bn), with one decimal below a hundred of them."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    v = float(x)
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    a = abs(v)
    # counts (integers) are written out below a million; other numbers from 10,000 on
    whole = isinstance(x, numbers.Integral) or (v.is_integer() and a < 1e4)
    if whole and a < 1e6:
        return f"{v:,.0f}"
    for threshold, scale, suffix in _SUFFIXES:
        if a >= threshold:
            return f"{v / scale:.1f} {suffix}" if a / scale < 100 else f"{v / scale:,.0f} {suffix}"
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 1e-3:
        return f"{v:.3g}"
    return "0" if v == 0 else f"{v:.1e}"


def human_time(stamp, *, date: bool = True) -> str:
    """``2025-06-14 19:05 UTC`` (``19:05 UTC`` without the date): a timestamp on the UTC
    clock, to the minute."""
    t = pd.Timestamp(stamp)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return f"{t:%Y-%m-%d %H:%M} UTC" if date else f"{t:%H:%M} UTC"


def human(value, unit: str | None = None) -> str:
    """``value`` in ``unit`` as a reader writes it (see the module's examples).

    Seconds of work (``worker-s``, ``instance-s``) become hours; rates (``1/s``) read
    ``k/s``; shares and probabilities read as percentages; durations in ``s`` over two
    minutes read in minutes; timestamps as ``human_time``; text is left as it is.
    """
    if isinstance(value, pd.Timestamp):
        return human_time(value)
    if not isinstance(value, numbers.Number) or isinstance(value, bool):
        return str(value)
    unit = (unit or "").strip()
    if unit.endswith("-s"):  # worker-s -> worker-hours
        return f"{human_number(value / 3600)} {unit[:-2]}-hours"
    if unit in _RATE_UNITS:
        return f"{human_number(value)}/s"
    if unit.endswith("/s"):  # joins/s, attempts/s
        return f"{human_number(value)} {unit}"
    if unit in _SHARE_UNITS:
        return "n/a" if isinstance(value, float) and math.isnan(value) else f"{100 * value:.3g}%"
    if unit == "s" and abs(value) >= 120 and not math.isnan(value):
        return f"{value / 60:,.0f} min" if abs(value) >= 600 else f"{value / 60:.1f} min"
    text = human_number(value)
    return f"{text} {unit}" if unit else text


def _cell(value) -> str:
    if isinstance(value, pd.Timestamp):
        return human_time(value)
    if isinstance(value, numbers.Number) and not isinstance(value, bool):
        return human_number(value)
    return value


def _humane(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with its numbers as text; a ``value``/``unit`` pair of columns
    (the results' ``summary()``) becomes one ``value`` column with the unit in it."""
    out = frame.copy()
    if {"value", "unit"} <= set(out.columns):
        out["value"] = [human(v, u) for v, u in zip(out["value"], out["unit"], strict=True)]
        out = out.drop(columns="unit")
    for name in out.columns:
        out[name] = [_cell(v) for v in out[name]]
    if isinstance(out.index, pd.DatetimeIndex):
        out.index = pd.Index([human_time(t) for t in out.index], name=out.index.name)
    return out


def table_text(frame: pd.DataFrame, digits: int = 6, max_colwidth: int = 70) -> str:
    """``frame`` as text: every column shown, numbers as :func:`human_number` writes them.

    ``digits`` is kept for callers; human numbers have three significant figures.
    """
    del digits
    with pd.option_context(
        "display.width",
        240,
        "display.max_columns",
        None,
        "display.max_colwidth",
        max_colwidth,
    ):
        return str(_humane(frame))


def html_table(frame: pd.DataFrame) -> str:
    """``frame`` as an HTML table with human numbers (for the results' ``_repr_html_``)."""
    return _humane(frame).to_html(escape=True, border=0)


class Readable:
    """A table shown with human numbers: an HTML table in a notebook, text elsewhere.
    The numbers themselves stay in ``frame``."""

    def __init__(self, frame: pd.DataFrame):
        self.frame = frame

    def _repr_html_(self) -> str:
        return html_table(self.frame)

    def __str__(self) -> str:
        return table_text(self.frame)

    def __repr__(self) -> str:
        return table_text(self.frame)


def readable(frame: pd.DataFrame) -> Readable:
    """``frame`` to show: human numbers (8.0 M, 23.7 k/s, 2,470 worker-hours), a
    ``value``/``unit`` pair read as one value. ``readable(plan.summary())`` in a notebook
    draws an HTML table; the data are not changed."""
    if not isinstance(frame, pd.DataFrame | pd.Series):
        raise TypeError(f"readable takes a pandas DataFrame or Series; got {type(frame).__name__}")
    return Readable(frame.to_frame() if isinstance(frame, pd.Series) else frame)
