"""Input checks for the queueing formulas: each names the argument and the bad value.

``as_*`` take numbers or arrays and raise ValueError. ``scalar_*`` are their fast
twins for one Python or numpy number: they return the value as a Python number, or
None for anything else (an array, a bool, a bad value), and the caller then runs the
``as_*`` check, which accepts the input or raises its message. So a scalar call costs a
few hundred nanoseconds of checking, and every error message comes from one place.
"""

from __future__ import annotations

import math

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


_INTS = frozenset(
    {int}
    | {
        t
        for t in set(np.sctypeDict.values())
        if issubclass(t, np.integer) and not issubclass(t, np.timedelta64)
    }
)
_FLOATS = frozenset(
    {float} | {t for t in set(np.sctypeDict.values()) if issubclass(t, np.floating)}
)
_REALS = _INTS | _FLOATS  # not bool, which as_count refuses and as_float would take as 0/1
_MAX_COUNT = 2**53
# ``ZERO_INT64 + n`` is ``np.int64(n)`` for a Python int, in a third of the time.
ZERO_INT64 = np.int64(0)


def scalar_float(value, positive: bool = False, allow_inf: bool = False) -> float | None:
    """``value`` as a float if it is one number that :func:`as_float` accepts, else None."""
    kind = type(value)
    if kind is float:
        v = value
    elif kind in _REALS:
        try:
            v = float(value)
        except OverflowError:  # an int beyond the float range
            return None
    else:
        return None
    if (v > 0.0 if positive else v >= 0.0) and (allow_inf or v != math.inf):
        return v
    return None


def scalar_count(value, minimum: int = 0) -> int | None:
    """``value`` as an int if it is one number that :func:`as_count` accepts, else None."""
    kind = type(value)
    if kind is int:
        n = value
    elif kind in _INTS:
        n = int(value)
    elif kind in _FLOATS:
        v = float(value)
        if not v.is_integer():  # also NaN and inf
            return None
        n = int(v)
    else:
        return None
    return n if minimum <= n <= _MAX_COUNT else None


def scalar_probability(value) -> float | None:
    """``value`` as a float if it is one number strictly between 0 and 1, else None."""
    v = scalar_float(value)
    return v if v is not None and 0.0 < v < 1.0 else None


def record(cls, values: dict):
    """The frozen dataclass ``cls`` holding ``values`` (one entry per field), built
    without its generated ``__init__``, which sets each field by a call to
    ``object.__setattr__``: the same object in half the time, for the scalar paths."""
    obj = object.__new__(cls)
    obj.__dict__.update(values)
    return obj
