"""Intervals calibrated on time-ordered out-of-sample errors, and the rule that widens them
for an event unlike the history.

Weighted conformal prediction (Barber, Candes, Ramdas and Tibshirani, "Conformal
prediction beyond exchangeability", Annals of Statistics 51, 2023): past events' scores
``r_j`` (here the level of the t prediction interval that would just have covered event
``j``, from a fit on the events before ``j`` only), weights ``w_j`` that fall with age (a
half-life of ``HALF_LIFE`` events, longer for a level that needs more events), and the
bound ``q``, the level-quantile of the distribution putting mass ``w_j / (sum w + 1)`` on
each ``r_j`` and the rest on ``+inf``. When the
errors grow with time (a season that drifts away from its start), the recent ones weigh
most and the interval widens; the coverage gap under drift is bounded by the weighted
distance from exchangeability (their Theorem 2), not assumed away.
"""

from __future__ import annotations

import numpy as np

HALF_LIFE = 20.0  # events: a score 20 events old weighs half as much as the newest


def half_life(level: float) -> float:
    """Events over which a score's weight halves: ``HALF_LIFE``, or twice the events a
    `level` needs (``level / (1 - level)``) if more: the weights must add up to that."""
    return max(HALF_LIFE, 2 * level / (1 - level))


def conformal_quantile(scores, level: float) -> float:
    """Weighted conformal bound of `scores` (oldest first) at `level`; inf if too few."""
    r = np.asarray(scores, dtype=float)
    r = r[np.isfinite(r)]
    if not len(r):
        return np.inf
    age = np.arange(len(r))[::-1]  # 0 for the newest
    w = 0.5 ** (age / half_life(level))
    order = np.argsort(r)
    cum = np.cumsum(w[order]) / (w.sum() + 1.0)  # the newest-event mass at +inf
    reach = np.searchsorted(cum, level - 1e-12)
    return float(r[order][reach]) if reach < len(r) else np.inf


def widening(distance: np.ndarray, unseen: np.ndarray) -> np.ndarray:
    """Factor on an interval's log half-width for an event outside the history.

    ``1 + d + u``: ``d`` the largest distance of a numeric feature (on the log scale)
    beyond the history's range, in units of that range (an event one range beyond the
    largest past value doubles the interval's log half-width); ``u`` the number of
    category levels the history never saw (each adds one half-width). 1 inside the
    history. The regression's own leverage already widens the interval with the
    distance; the rule adds what the model cannot know: that its form may not hold out
    there.
    """
    return 1.0 + np.asarray(distance, dtype=float) + np.asarray(unseen, dtype=float)
