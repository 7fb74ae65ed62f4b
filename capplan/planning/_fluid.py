"""The fluid join path's backlog, second by second, for many scenarios at once (compiled).

Backlog ``Q`` of scenario ``j``: each second ``Q <- min(max(Q + r - mu, 0), K)`` (what
exceeds the limit ``K`` is refused); arrivals in a second see the backlog move linearly
from its start to its end and wait ``Q / mu``; in a second with no backlog the given
stationary share waits beyond the SLO and nobody times out.
"""

from __future__ import annotations

import numpy as np

from capplan.simulation._jit import njit


@njit
def _share_above(a, b, x):
    """Share of a second in which a backlog moving linearly from ``a`` to ``b`` is > ``x``."""
    if a == b:
        return 1.0 if a > x else 0.0
    f = (x - a) / (b - a)
    share = 1.0 - f if b > a else f
    return min(max(share, 0.0), 1.0)


@njit
def backlog_outcomes(rates, mu, limit, stationary, wait_s, timeout_s):
    """Per scenario and second: ``(refused, delayed, timed_out)`` joins.

    ``rates`` (scenarios x seconds, 1/s); ``mu`` the service rate per second
    (workers / work per join); ``limit`` the queue limit per second (``inf``: none);
    ``stationary`` (scenarios x seconds) the share waiting beyond ``wait_s`` without a
    backlog; ``timeout_s`` may be ``inf``.
    """
    k, n = rates.shape
    refused = np.zeros((k, n))
    delayed = np.zeros((k, n))
    timed_out = np.zeros((k, n))
    for j in range(k):
        q = 0.0
        for s in range(n):
            r, m = rates[j, s], mu[s]
            end = q + r - m
            over = max(end - limit[s], 0.0)
            end = min(max(end, 0.0), limit[s])
            admitted = r - over
            refused[j, s] = over
            if q <= 0 and end <= 0:
                delayed[j, s] = admitted * stationary[j, s]
            elif m > 0:
                delayed[j, s] = admitted * _share_above(q, end, wait_s * m)
                timed_out[j, s] = admitted * _share_above(q, end, timeout_s * m)
            else:
                delayed[j, s] = admitted
                timed_out[j, s] = admitted
            q = end
    return refused, delayed, timed_out
