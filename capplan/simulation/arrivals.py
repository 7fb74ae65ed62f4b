"""First tries: a rate curve per interval (steps, or linear by thinning) or replayed
counts per interval, turned into what the event loop reads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from capplan.simulation import engine

RATE_SHAPES = ("step", "linear")


@dataclass(frozen=True)
class FirstTries:
    """How first tries are generated, per interval.

    ``mode`` is one of engine.ARR_STEP, ARR_LINEAR, ARR_COUNTS; ``rates`` has
    one value per interval (one more for linear: the curve's value at each
    interval start and at the end); ``counts`` one per interval (counts mode).
    """

    mode: int
    rates: np.ndarray
    counts: np.ndarray

    @classmethod
    def from_rates(cls, rates: np.ndarray, n_int: int, shape: str) -> FirstTries:
        rates = np.broadcast_to(np.asarray(rates, float), (n_int,)).copy()
        if shape == "linear":
            return cls(engine.ARR_LINEAR, np.append(rates, rates[-1]), np.zeros(1, np.int64))
        return cls(engine.ARR_STEP, rates, np.zeros(1, np.int64))

    @classmethod
    def from_counts(cls, counts: np.ndarray, n_int: int) -> FirstTries:
        counts = np.broadcast_to(np.asarray(counts, np.int64), (n_int,)).copy()
        return cls(engine.ARR_COUNTS, np.zeros(1), counts)

    def offered_rate(self, lengths: np.ndarray) -> np.ndarray:
        """Expected first tries per second in each interval (1/s)."""
        n = lengths.size
        if self.mode == engine.ARR_COUNTS:
            return self.counts / lengths
        if self.mode == engine.ARR_LINEAR:
            r0, r1 = self.rates[:n], self.rates[1 : n + 1]
            full = lengths / lengths[0]  # the last interval may be cut short
            return r0 + (r1 - r0) * full / 2
        return self.rates[:n].copy()

    def any_arrivals(self) -> bool:
        if self.mode == engine.ARR_COUNTS:
            return bool(self.counts.sum() > 0)
        return bool(np.any(self.rates > 0))
