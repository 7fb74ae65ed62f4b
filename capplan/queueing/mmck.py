"""The M/M/c/K queue: c servers and room for K customers in total (K - c waiting).

With ``m = K - c`` waiting places, ``rho = a/c`` and ``R = P[N <= c-1] / P[N = c]``
(``N ~ Poisson(a)``, as in Erlang B), the stationary law is ``pi_{c+j} = pi_c rho**j`` for
``j = 0..m``, so every measure is a ratio of ``R`` and geometric sums
``G_n = sum_{j<n} rho**j``, which are summed in log space with ``expm1`` so that
``rho`` near 1 and ``rho**m`` beyond the float range are both exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _compiled
from ._compiled import run_many
from ._validate import (
    ZERO_INT64,
    as_count,
    as_float,
    record,
    scalar_count,
    scalar_float,
    scalar_or_array,
)

# The arithmetic (geometric sums in log space, the truncated geometric mean by its
# Bernoulli series near rho = 1) is ._kernels.mmck.
_f64 = np.float64


@dataclass(frozen=True)
class MMcK:
    """Steady-state measures of an M/M/c/K queue; build it with :func:`mmck`.

    Attributes
    ----------
    servers, capacity, load, mean_service_time : numpy.ndarray
        The inputs, broadcast to one shape.
    blocking : numpy.ndarray
        Probability that an arrival finds the system full (``K`` present) and is lost.
    wait_prob : numpy.ndarray
        Probability that an admitted arrival waits (finds all servers busy).
    mean_queue : numpy.ndarray
        Mean number waiting (customers).
    mean_in_system : numpy.ndarray
        Mean number present, waiting or in service (customers).
    carried_load : numpy.ndarray
        Mean number of busy servers, ``a (1 - blocking)`` (Erlangs).
    utilisation : numpy.ndarray
        ``carried_load / servers``, always below 1.
    throughput : numpy.ndarray
        Admitted arrivals per unit of ``mean_service_time``'s time unit:
        ``a (1 - blocking) / mean_service_time``.
    mean_wait : numpy.ndarray
        Mean time in queue of admitted arrivals, in the unit of ``mean_service_time``.
    """

    servers: np.ndarray
    capacity: np.ndarray
    load: np.ndarray
    mean_service_time: np.ndarray
    blocking: np.ndarray
    wait_prob: np.ndarray
    mean_queue: np.ndarray
    mean_in_system: np.ndarray
    carried_load: np.ndarray
    utilisation: np.ndarray
    throughput: np.ndarray
    mean_wait: np.ndarray


def mmck(servers, capacity, load, *, mean_service_time=1.0) -> MMcK:
    """Performance of the M/M/c/K queue (finite waiting room), any load.

    Parameters
    ----------
    servers : int or array_like of int
        Number of servers ``c >= 1``.
    capacity : int or array_like of int
        Total places ``K >= c``: ``c`` in service plus ``K - c`` waiting. ``K = c`` is the
        Erlang loss system.
    load : float or array_like
        Offered load ``a`` in Erlangs (arrival rate times mean service time), any
        ``a >= 0``; ``a > c`` is fine because the finite room keeps the system stable.
    mean_service_time : float or array_like, default 1.0
        Mean service time (seconds). Only ``throughput`` and ``mean_wait`` use it; the
        default 1.0 expresses them per mean service time.

    Returns
    -------
    MMcK
        Frozen record of arrays: ``blocking``, ``wait_prob``, ``mean_queue``,
        ``mean_in_system``, ``carried_load``, ``utilisation``, ``throughput`` and
        ``mean_wait`` (of admitted arrivals).

    Notes
    -----
    Assumes Poisson arrivals, exponential service, FCFS, and that arrivals finding ``K``
    customers present are lost (no retry). As ``K`` grows with ``a < c`` the results
    tend to Erlang C; at ``K = c`` ``blocking`` is Erlang B. Evaluated in log space, so
    ``c`` and ``K`` up to 1e7 and beyond are exact to about 1e-14 relative.

    Examples
    --------
    >>> from capplan.queueing import mmck
    >>> q = mmck(servers=1, capacity=2, load=1.0)
    >>> round(float(q.blocking), 6), round(float(q.mean_queue), 6)
    (0.333333, 0.333333)
    >>> round(float(mmck(10, 10, 5.0).blocking), 6)  # Erlang B
    0.018385
    """
    c = scalar_count(servers, 1)
    k = scalar_count(capacity, 1)
    a = scalar_float(load)
    tau = scalar_float(mean_service_time, True)
    if None not in (c, k, a, tau) and k >= c:
        blocking, wait_prob, queue, in_system, carried, utilisation, throughput, wait = (
            _compiled.kernels or _compiled.load()
        ).mmck(c, k, a, tau)
        return record(
            MMcK,
            {
                "servers": ZERO_INT64 + c,
                "capacity": ZERO_INT64 + k,
                "load": _f64(a),
                "mean_service_time": _f64(tau),
                "blocking": _f64(blocking),
                "wait_prob": _f64(wait_prob),
                "mean_queue": _f64(queue),
                "mean_in_system": _f64(in_system),
                "carried_load": _f64(carried),
                "utilisation": _f64(utilisation),
                "throughput": _f64(throughput),
                "mean_wait": _f64(wait),
            },
        )
    c = as_count(servers, "servers", minimum=1)
    k = as_count(capacity, "capacity", minimum=1)
    a = as_float(load, "load")
    tau = as_float(mean_service_time, "mean_service_time", positive=True)
    c, k, a, tau = np.broadcast_arrays(c, k, a, tau)
    short = k < c
    if short.any():
        i = tuple(int(j) for j in np.argwhere(short)[0])
        where = "" if c.ndim == 0 else f" at index {i[0] if c.ndim == 1 else i}"
        raise ValueError(
            f"capacity must be at least servers (it counts those in service too); "
            f"got capacity={k[i].item()} < servers={c[i].item()}{where}"
        )
    measures = run_many("mmck_many", c, k, a, tau, outputs=8)
    return MMcK(*(scalar_or_array(np.asarray(v)) for v in (c, k, a, tau, *measures)))
