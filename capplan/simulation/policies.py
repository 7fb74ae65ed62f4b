"""Retry policies: what a client does after a failed attempt (refused, or timed out).

A policy says how long to back off before the next attempt, how many retries
a client makes at most (``max_retries``), and optionally a
:class:`RetryBudget` shared by all clients that caps retries at a fraction of
recent first tries, as Finagle's ``RetryBudget`` and gRPC's retry throttling
do. Without either cap a storm of retries can grow without bound.

Examples
--------
>>> from capplan.simulation import ExponentialBackoff, RetryBudget
>>> ExponentialBackoff(base=0.1, max_delay=10.0, max_retries=5).delays()
array([0.1, 0.2, 0.4, 0.8, 1.6])
>>> p = ExponentialBackoff(budget=RetryBudget(ratio=0.1))  # at most ~10% extra load
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capplan.simulation import engine
from capplan.simulation._validate import check_int, check_number, check_positive

__all__ = ["ExponentialBackoff", "ImmediateRetry", "NoRetry", "RetryBudget", "RetryPolicy"]

_JITTERS = {"none": engine.J_NONE, "full": engine.J_FULL, "equal": engine.J_EQUAL}


@dataclass(frozen=True, kw_only=True)
class RetryBudget:
    """Retries allowed only up to a fraction of first tries over a sliding window.

    A retry is allowed while ``retries in the window < ratio * first tries in
    the window + min_per_s * window``; a failed attempt that finds the budget
    spent is not retried (the client fails). The window slides in ten slices,
    as Finagle's does. Defaults are Finagle's (20%, 10 s, 10 retries/s).

    Parameters
    ----------
    ratio : float, default 0.2
        Retries allowed per first try (0.2: at most 20% extra load).
    window : float, default 10.0
        Length of the sliding window (s).
    min_per_s : float, default 10.0
        Retries per second always allowed, so that a quiet service can retry.
    """

    ratio: float = 0.2
    window: float = 10.0
    min_per_s: float = 10.0

    def __post_init__(self):
        check_number("RetryBudget: ratio", self.ratio)
        check_positive("RetryBudget: window", self.window)
        check_number("RetryBudget: min_per_s", self.min_per_s)


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Base of the retry policies.

    Parameters
    ----------
    max_retries : int or None
        Most retries per client after its first try; None for no cap (then a
        positive back-off is required unless a budget is given).
    budget : RetryBudget or None
        A budget shared by all clients, or None.
    """

    max_retries: int | None = 3
    budget: RetryBudget | None = None

    def __post_init__(self):
        name = type(self).__name__
        check_int(f"{name}: max_retries", self.max_retries, allow_none=True)
        if self.budget is not None and not isinstance(self.budget, RetryBudget):
            raise ValueError(
                f"{name}: budget must be a RetryBudget or None; got {type(self.budget).__name__}"
            )
        if self.max_retries is None and self.budget is None and self._min_delay() == 0:
            raise ValueError(
                f"{name}: unlimited retries (max_retries=None) with a zero back-off and no "
                "budget would retry forever at the same instant; set max_retries, a budget, "
                "or a positive delay"
            )

    def _min_delay(self) -> float:
        return 0.0

    def _backoff_code(self) -> tuple[int, float, float, float, int]:
        return engine.B_CONSTANT, 0.0, 1.0, 0.0, engine.J_NONE

    def delays(self, n: int | None = None) -> np.ndarray:
        """Back-off before retry 1, 2, ..., ``n`` (s), before jitter.

        ``n`` defaults to ``max_retries`` (or 10 when there is no cap).
        """
        if n is None:
            n = 10 if self.max_retries is None else self.max_retries
        kind, base, multiplier, max_delay, _ = self._backoff_code()
        k = np.arange(n)
        if kind == engine.B_EXPONENTIAL:
            return np.minimum(max_delay, base * multiplier**k)
        return np.full(n, base)


@dataclass(frozen=True, kw_only=True)
class NoRetry(RetryPolicy):
    """A failed attempt is final: the client does not retry."""

    max_retries: int | None = 0


@dataclass(frozen=True, kw_only=True)
class ImmediateRetry(RetryPolicy):
    """Retry after a fixed ``delay`` (s, default 0: at once), at most ``max_retries`` times."""

    delay: float = 0.0

    def __post_init__(self):
        check_number("ImmediateRetry: delay", self.delay)
        super().__post_init__()

    def _min_delay(self) -> float:
        return self.delay

    def _backoff_code(self):
        return engine.B_CONSTANT, float(self.delay), 1.0, float(self.delay), engine.J_NONE


@dataclass(frozen=True, kw_only=True)
class ExponentialBackoff(RetryPolicy):
    """Retry ``k`` (k = 1, 2, ...) waits ``min(max_delay, base * multiplier**(k-1))``,
    with jitter.

    Parameters
    ----------
    base : float, default 0.1
        First back-off (s).
    multiplier : float, default 2.0
        Growth per retry (>= 1).
    max_delay : float, default 30.0
        Cap on one back-off (s).
    jitter : {"full", "equal", "none"}, default "full"
        "full": a uniform draw on [0, delay] (what AWS recommends); "equal":
        on [delay/2, delay]; "none": exactly the delay.
    max_retries, budget
        As in :class:`RetryPolicy`.
    """

    base: float = 0.1
    multiplier: float = 2.0
    max_delay: float = 30.0
    jitter: str = "full"

    def __post_init__(self):
        check_number("ExponentialBackoff: base", self.base)
        check_number("ExponentialBackoff: multiplier", self.multiplier, minimum=1.0)
        check_number("ExponentialBackoff: max_delay", self.max_delay)
        if self.jitter not in _JITTERS:
            raise ValueError(
                f"ExponentialBackoff: jitter must be one of {sorted(_JITTERS)}; got {self.jitter!r}"
            )
        super().__post_init__()

    def _min_delay(self) -> float:
        return min(self.base, self.max_delay)

    def _backoff_code(self):
        return (
            engine.B_EXPONENTIAL,
            float(self.base),
            float(self.multiplier),
            float(self.max_delay),
            _JITTERS[self.jitter],
        )
