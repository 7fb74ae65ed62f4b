"""Checks at the forecasts' boundary: one place, messages that name the argument and the value."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from capplan.data.history import History
from capplan.models._validate import seconds_grid


def history(value, name: str = "history") -> History:
    """A :class:`~capplan.data.history.History`."""
    if not isinstance(value, History):
        raise TypeError(
            f"{name} must be a capplan History (e.g. capplan.sample_history() or "
            f"capplan.load_history(events, series)), not {type(value).__name__}"
        )
    return value


def level(value, name: str = "level") -> float:
    """A confidence level strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise TypeError(f"{name} must be a number between 0 and 1 (e.g. 0.9), got {value!r}")
    if not 0 < value < 1:
        raise ValueError(f"{name} must be between 0 and 1 (e.g. 0.9), got {value!r}")
    return float(value)


def positive(value, name: str, unit: str = "") -> float:
    """A finite number > 0."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number > 0{unit}, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number > 0{unit}, got {value!r}") from None
    if not np.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a finite number > 0{unit}, got {value!r}")
    return x


def choice(value, name: str, allowed: Sequence[str]) -> str:
    """One of `allowed`."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def names(value, name: str) -> tuple[str, ...]:
    """A name or a sequence of names, as a tuple (no duplicates)."""
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{name} must be a name or a list of names, got {value!r}")
    if len(set(value)) != len(value):
        raise ValueError(f"{name} lists a name twice: {list(value)!r}")
    return tuple(value)


def minutes(value, name: str = "minutes") -> tuple[float, ...]:
    """Elapsed times in minutes: positive, finite, at least one."""
    values = np.atleast_1d(np.asarray(value, dtype=float))
    if (
        values.ndim != 1
        or len(values) == 0
        or not np.all(np.isfinite(values))
        or np.any(values <= 0)
    ):
        raise ValueError(f"{name} must be one or more finite numbers of minutes > 0, got {value!r}")
    return tuple(float(v) for v in values)


def live_series(value, name: str, column: str) -> tuple[np.ndarray, np.ndarray, float]:
    """A live series of one measured column, indexed by seconds since the actual start.

    Returns the interval starts (s), the values (NaN where missing) and the
    interval length (s). A DataFrame holding `column` gives that column.
    """
    if isinstance(value, pd.DataFrame):
        if column not in value.columns:
            raise ValueError(
                f"{name} is a DataFrame without a {column!r} column (it has "
                f"{list(value.columns)}); pass history.event(event_id)[{column!r}] or a frame "
                f"with that column"
            )
        value = value[column]
    if not isinstance(value, pd.Series):
        raise TypeError(
            f"{name} must be a pandas Series of {column} per interval indexed by seconds since "
            f"the actual start (as history.event(event_id)[{column!r}] gives), "
            f"not {type(value).__name__}"
        )
    t, y, interval = seconds_grid(value, name)
    if np.any(np.isinf(y)) or np.any(y[np.isfinite(y)] < 0):
        raise ValueError(f"{name} must hold finite values >= 0 (NaN for a missing interval)")
    return t, y, interval
