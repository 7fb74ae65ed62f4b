"""Service-time (and timeout) distributions: small objects with ``mean``, ``scv``
and a sampler.

Each is a frozen dataclass. ``mean`` is in seconds, ``scv`` is the squared
coefficient of variation (variance / mean², the ``c_s²`` of the queueing
formulas). ``sample(size, seed)`` draws with numpy; the simulator draws the
same distribution inside its compiled loop from the code returned by
``_code()``.

Examples
--------
>>> from capplan.simulation import LogNormal
>>> d = LogNormal(mean=0.2, scv=1.5)
>>> round(d.mean, 3), round(d.scv, 3)
(0.2, 1.5)
>>> d.sample(3, seed=1).shape
(3,)
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from capplan.simulation import engine
from capplan.simulation._validate import check_positive, generator

__all__ = [
    "Deterministic",
    "Distribution",
    "Empirical",
    "Exponential",
    "Gamma",
    "LogNormal",
    "as_distribution",
]

_EMPTY = np.zeros(1)


class Distribution:
    """Base class of the distributions the simulator can draw from."""

    mean: float

    @property
    def scv(self) -> float:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def sample(self, size: int, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """Draw ``size`` values (s).

        Parameters
        ----------
        size : int
            How many values.
        seed : int, numpy.random.Generator or None
            Randomness; the same seed gives the same values.
        """
        return self._sample(generator(seed), int(size))

    def _sample(self, rng: np.random.Generator, size: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _code(self) -> tuple[int, float, float, np.ndarray]:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class Exponential(Distribution):
    """Exponential with mean ``mean`` (s); ``scv`` = 1. The "M" of M/M/c."""

    mean: float

    def __post_init__(self):
        check_positive("Exponential: mean", self.mean)

    @property
    def scv(self) -> float:
        return 1.0

    def _sample(self, rng, size):
        return rng.exponential(self.mean, size)

    def _code(self):
        return engine.D_EXP, float(self.mean), 0.0, _EMPTY


@dataclass(frozen=True)
class Deterministic(Distribution):
    """Always ``value`` (s); ``scv`` = 0. A fixed client timeout, or the "D" of M/D/c."""

    value: float

    def __post_init__(self):
        check_positive("Deterministic: value", self.value)

    @property
    def mean(self) -> float:
        return float(self.value)

    @property
    def scv(self) -> float:
        return 0.0

    def _sample(self, rng, size):
        return np.full(size, float(self.value))

    def _code(self):
        return engine.D_DET, float(self.value), 0.0, _EMPTY


@dataclass(frozen=True)
class LogNormal(Distribution):
    """Log-normal with mean ``mean`` (s) and squared coefficient of variation ``scv``.

    ``log B ~ Normal(mu, sigma²)`` with ``sigma² = log(1 + scv)`` and
    ``mu = log(mean) - sigma² / 2``.
    """

    mean: float
    scv: float = 1.0

    def __post_init__(self):
        check_positive("LogNormal: mean", self.mean)
        check_positive("LogNormal: scv", self.scv)

    @property
    def sigma(self) -> float:
        return math.sqrt(math.log1p(self.scv))

    @property
    def mu(self) -> float:
        return math.log(self.mean) - 0.5 * math.log1p(self.scv)

    def _sample(self, rng, size):
        return rng.lognormal(self.mu, self.sigma, size)

    def _code(self):
        return engine.D_LOGNORMAL, self.mu, self.sigma, _EMPTY


@dataclass(frozen=True)
class Gamma(Distribution):
    """Gamma with mean ``mean`` (s) and squared coefficient of variation ``scv``
    (shape ``1 / scv``); ``scv = 1/k`` is Erlang-k."""

    mean: float
    scv: float = 1.0

    def __post_init__(self):
        check_positive("Gamma: mean", self.mean)
        check_positive("Gamma: scv", self.scv)

    def _sample(self, rng, size):
        return rng.gamma(1.0 / self.scv, self.mean * self.scv, size)

    def _code(self):
        return engine.D_GAMMA, 1.0 / self.scv, self.mean * self.scv, _EMPTY


@dataclass(frozen=True)
class Empirical(Distribution):
    """Resample measured values (s) uniformly with replacement."""

    values: np.ndarray = field(repr=False)

    def __post_init__(self):
        values = np.array(self.values, dtype=float).ravel()
        if values.size == 0:
            raise ValueError("Empirical: values is empty; pass at least one measured time (s)")
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError(
                "Empirical: values must be finite and >= 0 s; "
                f"got {values[~np.isfinite(values) | (values < 0)][:5].tolist()}"
            )
        if not np.any(values > 0):
            raise ValueError("Empirical: values are all 0 s; at least one must be positive")
        values.flags.writeable = False
        object.__setattr__(self, "values", values)

    @property
    def mean(self) -> float:
        return float(self.values.mean())

    @property
    def scv(self) -> float:
        return float(self.values.var() / self.values.mean() ** 2)

    def _sample(self, rng, size):
        return self.values[rng.integers(0, self.values.size, size)]

    def _code(self):
        return engine.D_EMPIRICAL, 0.0, 0.0, self.values

    def __eq__(self, other):
        return isinstance(other, Empirical) and np.array_equal(self.values, other.values)

    def __hash__(self):
        return hash(self.values.tobytes())


def as_distribution(value, name: str, number_means: type[Distribution]) -> Distribution:
    """A Distribution from ``value``: itself, or ``number_means(value)`` for a number.

    The error names ``name`` (the caller's argument).
    """
    if isinstance(value, Distribution):
        return value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return number_means(check_positive(name, value))
    raise ValueError(
        f"{name} must be a number of seconds or a distribution such as "
        f"Exponential(mean) or LogNormal(mean, scv); got {type(value).__name__} {value!r}"
    )
