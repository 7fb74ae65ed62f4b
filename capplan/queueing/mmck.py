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

from ._validate import as_count, as_float, scalar_or_array
from .erlang import log_poisson_ratio


def _log_geom(log_rho: np.ndarray, n: np.ndarray, top: np.ndarray) -> np.ndarray:
    """``log sum_{j=0}^{n-1} rho**j - max(0, top * log rho)``; ``-inf`` at ``n = 0``.

    The shift by the largest term of the full sum keeps every log moderate, so that
    ratios of sums do not inherit the rounding of a huge ``m log rho``.
    """
    n = n.astype(float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        neg = -np.abs(log_rho)
        ratio = np.log(np.expm1(n * neg) / np.expm1(neg))
        out = np.where(log_rho > 0, (n - 1 - top) * log_rho + ratio, ratio)
        out = np.where(log_rho == 0, np.log(n), out)
    return np.where(n == 0, -np.inf, out)


def _bernoulli_g(z: np.ndarray) -> np.ndarray:
    """``z / expm1(z)``, with its limit 1 at ``z = 0``."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = z / np.expm1(z)
    out = np.where(np.isinf(z) & (z > 0), 0.0, out)
    out = np.where(np.isinf(z) & (z < 0), -z, out)
    return np.where(z == 0, 1.0, out)


# B_{2k} / (2k)! for the series of z / expm1(z); B_1 is handled separately.
_B2K = (
    1 / 12,
    -1 / 720,
    1 / 30240,
    -1 / 1209600,
    1 / 47900160,
    -691 / 1307674368000,
    1 / 74724249600,
    -3617 / 10670622842880000,
)


def _truncated_geometric_mean(log_rho: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Mean of ``J`` on ``0..m`` with ``P(J = j)`` proportional to ``rho**j``.

    Equals ``(g(-u) - g(-L)) / L`` with ``g(z) = z / expm1(z)``, ``L = log rho`` and
    ``u = (m + 1) L``; for small ``|u|`` that difference cancels, so the Bernoulli series
    ``sum_k B_2k / (2k)! L**(2k-1) ((m+1)**(2k) - 1) + m/2`` is used instead.
    """
    m = m.astype(float)
    u = (m + 1) * log_rho
    small = np.abs(u) < 0.5
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        direct = (_bernoulli_g(-u) - _bernoulli_g(-log_rho)) / log_rho
    series = 0.5 * m
    power = (m + 1) ** 2
    lpow = log_rho
    for coef in _B2K:
        series = series + coef * lpow * (power - 1.0)
        power = power * (m + 1) ** 2
        lpow = lpow * log_rho * log_rho
    return np.where(small, series, direct)


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
    m = k - c
    with np.errstate(divide="ignore"):
        log_rho = np.log(a / c)
    # Every log below is shifted by max(0, m log rho), the largest geometric term.
    with np.errstate(invalid="ignore"):
        m_log_rho = np.where(m > 0, m * log_rho, 0.0)  # log rho**m, also when rho = 0
        top = np.maximum(m_log_rho, 0.0)
    log_r = log_poisson_ratio(c, a) - top  # log of P[N < c] / P[N = c]
    log_g_all = _log_geom(log_rho, m + 1, m)  # queue states c..K
    log_g_open = _log_geom(log_rho, m, m)  # queue states c..K-1 (admitting)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        log_norm = np.logaddexp(log_r, log_g_all)  # 1 / pi_c
        blocking = np.exp(m_log_rho - top - log_norm)
        blocking = np.where(a == 0, 0.0, blocking)
        admitted = np.exp(np.logaddexp(log_r, log_g_open) - log_norm)  # 1 - blocking
        admitted = np.where(np.isposinf(log_r), 1.0, admitted)  # pmf(c) underflowed
        wait_prob = np.exp(-np.logaddexp(0.0, log_r - log_g_open))
        p_busy = np.exp(-np.logaddexp(0.0, log_r - log_g_all))  # P(all servers busy)
        mean_j = _truncated_geometric_mean(log_rho, m)
        mean_queue = np.where(a == 0, 0.0, p_busy * mean_j)
    carried = a * admitted
    throughput = carried / tau
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_wait = np.where(a == 0, 0.0, mean_queue * tau / carried)
    fields = dict(
        servers=c,
        capacity=k,
        load=a,
        mean_service_time=tau,
        blocking=blocking,
        wait_prob=np.where(a == 0, 0.0, wait_prob),
        mean_queue=mean_queue,
        mean_in_system=mean_queue + carried,
        carried_load=carried,
        utilisation=carried / c,
        throughput=throughput,
        mean_wait=mean_wait,
    )
    return MMcK(**{n: scalar_or_array(np.asarray(v)) for n, v in fields.items()})
