"""Input checks for the queueing formulas: each names the argument and the bad value."""

from __future__ import annotations

import numpy as np


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> str:
    """Describe the first offending element, with its index for arrays."""
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    value = arr[idx].item()
    where = "" if arr.ndim == 0 else f" at index {idx[0] if arr.ndim == 1 else idx}"
    return f"{value!r}{where}"


def as_float(value, name: str, *, positive: bool = False, allow_inf: bool = False) -> np.ndarray:
    """A float array of non-negative (or strictly positive) numbers, or ValueError."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number or an array of numbers; got {value!r}") from exc
    bad = np.isnan(arr) | (arr <= 0 if positive else arr < 0)
    if not allow_inf:
        bad |= np.isinf(arr)
    if bad.any():
        kind = "positive" if positive else "non-negative"
        finite = "" if allow_inf else " finite"
        raise ValueError(f"{name} must be{finite} and {kind}; got {_first_bad(arr, bad)}")
    return arr


def as_count(value, name: str, *, minimum: int = 0) -> np.ndarray:
    """An int64 array of whole numbers >= minimum (integral floats such as 5.0 accepted)."""
    try:
        raw = np.asarray(value)
        arr = raw.astype(float)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be an integer or an array of integers; got {value!r}"
        ) from exc
    if raw.dtype == bool:
        raise ValueError(f"{name} must be an integer count, not a boolean; got {value!r}")
    bad = ~np.isfinite(arr) | (arr != np.floor(arr)) | (arr < minimum) | (arr > 2.0**53)
    if bad.any():
        raise ValueError(f"{name} must be a whole number >= {minimum}; got {_first_bad(arr, bad)}")
    return arr.astype(np.int64)


def as_probability(value, name: str) -> np.ndarray:
    """A float array strictly inside (0, 1): a target that can be met and is not trivial."""
    arr = as_float(value, name)
    bad = (arr <= 0) | (arr >= 1)
    if bad.any():
        raise ValueError(f"{name} must lie strictly between 0 and 1; got {_first_bad(arr, bad)}")
    return arr


def scalar_or_array(arr: np.ndarray):
    """Return a numpy scalar for 0-d results and the array otherwise."""
    return arr[()] if arr.ndim == 0 else arr
