"""Checks at the models' boundary: one place, messages that name the argument and the value."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Series:
    """A checked series on a regular grid of seconds.

    Attributes
    ----------
    t : numpy.ndarray
        Interval starts (s since the actual start).
    y : numpy.ndarray
        Values (float; NaN where missing).
    interval_s : float
        Interval length (s).
    name : str
        Name of the argument it came from.
    """

    t: np.ndarray
    y: np.ndarray
    interval_s: float
    name: str

    @property
    def observed(self) -> np.ndarray:
        return np.isfinite(self.y)

    @property
    def edges(self) -> np.ndarray:
        return np.append(self.t, self.t[-1] + self.interval_s)


def seconds_grid(series: pd.Series, name: str) -> tuple[np.ndarray, np.ndarray, float]:
    """The arrays of a Series indexed by seconds on a regular grid: interval starts (s),
    values (NaN where missing) and the interval (s; NaN for a single interval).

    Checks what every series indexed by seconds needs: numbers in the index and the
    values, finite seconds, strictly increasing, no gap in the grid.
    """
    index = series.index
    if not pd.api.types.is_numeric_dtype(index.dtype) or pd.api.types.is_bool_dtype(index.dtype):
        raise ValueError(
            f"{name} must be indexed by seconds since the start (numbers), but its index has "
            f"dtype {index.dtype}; use history.event(event_id)[column]"
        )
    if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        raise ValueError(f"{name} must hold numbers, but has dtype {series.dtype}")
    t = index.to_numpy(dtype=float)
    y = series.to_numpy(dtype=float, na_value=np.nan)
    if len(t) < 1:
        raise ValueError(f"{name} has no interval")
    if not np.all(np.isfinite(t)):
        raise ValueError(f"{name}'s index (seconds) holds missing or infinite values")
    if len(t) == 1:
        return t, y, float("nan")
    steps = np.diff(t)
    if np.any(steps <= 0):
        i = int(np.flatnonzero(steps <= 0)[0])
        raise ValueError(
            f"{name}'s index must increase strictly; it goes from {t[i]:g} s to {t[i + 1]:g} s "
            "(sort it, or drop the duplicates)"
        )
    interval = float(np.min(steps))
    irregular = np.abs(steps - interval) > 1e-6 * interval
    if np.any(irregular):
        i = int(np.flatnonzero(irregular)[0])
        raise ValueError(
            f"{name}'s index has a gap: {t[i]:g} s is followed by {t[i + 1]:g} s, but the "
            f"interval is {interval:g} s; reindex it on the regular grid with NaN for the "
            "missing intervals (load_history(..., repair=True) does this)"
        )
    return t, y, interval


def regular_series(
    series,
    name: str,
    *,
    counts: bool,
    min_points: int = 2,
    cover_start: bool = False,
) -> Series:
    """Check a pandas Series indexed by seconds and return its arrays.

    Parameters
    ----------
    series : pandas.Series
        Values indexed by seconds since the actual start (``History.event()``'s
        index), on a regular grid.
    name : str
        Argument name for messages.
    counts : bool
        Values must be whole numbers >= 0 (counts per interval).
    min_points : int
        Least number of non-missing values.
    cover_start : bool
        The grid must cover the actual start (t = 0).
    """
    if isinstance(series, pd.DataFrame) and series.shape[1] == 1:
        series = series.iloc[:, 0]
    if not isinstance(series, pd.Series):
        raise TypeError(
            f"{name} must be a pandas Series indexed by seconds since the start "
            f"(e.g. history.event(event_id)['joins']), not {type(series).__name__}"
        )
    if len(series) < 2:
        n = len(series)
        raise ValueError(f"{name} has {n} interval(s); at least {max(min_points, 2)} needed")
    t, y, interval = seconds_grid(series, name)
    if np.any(np.isinf(y)):
        raise ValueError(f"{name} holds infinite values at {t[np.isinf(y)][:5].tolist()} s")
    observed = np.isfinite(y)
    if counts:
        bad = observed & ((y < 0) | (y != np.round(y)))
        if np.any(bad):
            raise ValueError(
                f"{name} must hold counts per interval (whole numbers >= 0), but at "
                f"{t[bad][:5].tolist()} s it holds {y[bad][:5].tolist()}"
            )
    n_observed = int(observed.sum())
    if n_observed < min_points:
        raise ValueError(
            f"{name} has {n_observed} non-missing interval(s); at least {min_points} are needed "
            "to fit this model"
        )
    if counts and not np.any(y[observed] > 0):
        raise ValueError(f"{name} is zero in every interval: there is nothing to fit")
    if cover_start and not (t[0] <= 0 < t[-1] + interval):
        raise ValueError(
            f"{name} must cover the actual start (0 s), but runs from {t[0]:g} s to "
            f"{t[-1] + interval:g} s; index it by seconds since the actual start, as "
            "History.event() does"
        )
    return Series(t, y, interval, name)


def level(value, name: str) -> float:
    """A confidence level strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
        raise TypeError(f"{name} must be a number between 0 and 1 (e.g. 0.95), got {value!r}")
    if not 0 < value < 1:
        raise ValueError(f"{name} must be between 0 and 1 (e.g. 0.95), got {value!r}")
    return float(value)


def positive(value, name: str, unit: str = "") -> float:
    """A finite number > 0."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number > 0{unit}, got {value!r}") from None
    if isinstance(value, bool) or not np.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a finite number > 0{unit}, got {value!r}")
    return x


def times(value, name: str = "t") -> np.ndarray:
    """A 1-d array of finite times in seconds."""
    if isinstance(value, (pd.Series, pd.Index)):
        value = value.to_numpy()
    t = np.atleast_1d(np.asarray(value, dtype=float))
    if t.ndim != 1 or not np.all(np.isfinite(t)):
        raise ValueError(f"{name} must be finite times in seconds (a number or 1-d array)")
    return t
