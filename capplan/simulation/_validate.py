"""Checks at the simulator's boundary. Each error is a ValueError that names the
argument, says what was expected and what came."""

from __future__ import annotations

import math
import numbers

import numpy as np


def _show(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return repr(value)


def check_number(name: str, value, *, minimum: float = 0.0, strict: bool = False) -> float:
    """A finite real number >= minimum (> minimum if ``strict``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number; got {type(value).__name__} {_show(value)}")
    try:
        value = float(value)
    except OverflowError:  # an int beyond the float range
        value = math.inf
    bad = not math.isfinite(value) or value < minimum or (strict and value == minimum)
    if bad:
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be finite and {relation} {minimum:g}; got {value!r}")
    return value


def check_positive(name: str, value) -> float:
    return check_number(name, value, minimum=0.0, strict=True)


def check_int(name: str, value, *, minimum: int = 0, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(value)
        else:
            what = "a whole number" + (" or None" if allow_none else "")
            raise ValueError(f"{name} must be {what}; got {_show(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}")
    return int(value)


def check_series(name: str, value, *, integer: bool = False) -> np.ndarray:
    """A number or a 1-D array-like of finite values >= 0, as a float (or int64) array.

    A number comes back as an array of length 1.
    """
    try:
        arr = np.asarray(value, dtype=float)
    except OverflowError:  # ints beyond the float range
        raise ValueError(
            f"{name} must be finite numbers; got an int beyond the float range"
        ) from None
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a number or a 1-D sequence of numbers; got {type(value).__name__}"
        ) from None
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a number or a 1-D sequence; got shape {arr.shape}")
    arr = arr.reshape(-1)
    if arr.size == 0:
        raise ValueError(f"{name} is empty; give a number or one value per interval")
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        idx = np.flatnonzero(bad)
        raise ValueError(
            f"{name} must be finite and >= 0; got {arr[idx[0]].item()!r} at index {idx[0]}"
            + (f" ({idx.size} bad values in all)" if idx.size > 1 else "")
        )
    if integer:
        frac = arr != np.floor(arr)
        if frac.any():
            i = int(np.flatnonzero(frac)[0])
            raise ValueError(f"{name} must be whole numbers; got {arr[i].item()!r} at index {i}")
        return arr.astype(np.int64)
    return arr


def generator(seed) -> np.random.Generator:
    """A numpy Generator from ``seed`` (int, SeedSequence, Generator or None)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (numbers.Integral, np.random.SeedSequence)):
        if isinstance(seed, bool) or (isinstance(seed, numbers.Integral) and seed < 0):
            raise ValueError(f"seed must be a non-negative int, a Generator or None; got {seed!r}")
        return np.random.default_rng(seed)
    raise ValueError(
        f"seed must be an int, a numpy.random.Generator or None; got {type(seed).__name__}"
    )


def streams(seed, n: int) -> list[np.random.Generator]:
    """``n`` independent Generators derived from ``seed``.

    An int or None is turned into a SeedSequence whose children seed the
    streams; a Generator gives up one draw of entropy (so calling again with the
    same Generator gives new streams, as drawing from it would).
    """
    if isinstance(seed, np.random.Generator):
        ss = np.random.SeedSequence(seed.integers(0, 2**63, size=4, dtype=np.int64).tolist())
    else:
        generator(seed)  # validates
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return [np.random.Generator(np.random.PCG64(child)) for child in ss.spawn(n)]
