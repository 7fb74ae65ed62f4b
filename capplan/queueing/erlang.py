"""Erlang B and C, and M/M/c waiting-time measures, evaluated in log space.

Both Erlang formulas come from one ratio of Poisson probabilities,
``R = P[N <= c - 1] / P[N = c]`` with ``N ~ Poisson(a)``:

* ``B = 1 / (1 + R)`` (equal to ``P[N = c] / P[N <= c]``),
* ``C = 1 / (1 + R (1 - a/c))`` (equal to ``c B / (c - a (1 - B))``),

and ``log R`` is computed without factorials or powers (see ``_incgamma``), so the
results are exact to a few ulps for any server count a float can hold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _compiled
from ._compiled import run_many
from ._incgamma import log_upper_ratio
from ._validate import (
    ZERO_INT64,
    as_count,
    as_float,
    record,
    scalar_count,
    scalar_float,
    scalar_or_array,
)

_f64 = np.float64


def log_poisson_ratio(servers, load) -> np.ndarray:
    """``log(P[N <= c-1] / P[N = c])`` for ``N ~ Poisson(load)``, broadcast; -inf at c = 0."""
    c, a = np.broadcast_arrays(np.asarray(servers, dtype=float), np.asarray(load, dtype=float))
    out = np.full(c.shape, -np.inf)
    pos = c > 0
    out[pos] = log_upper_ratio(c[pos], a[pos])
    return out


def erlang_b(servers, load):
    """Blocking probability of the M/M/c/c (Erlang loss) system.

    Parameters
    ----------
    servers : int or array_like of int
        Number of servers ``c >= 0``; integral floats such as ``5.0`` are accepted.
    load : float or array_like
        Offered load ``a`` in Erlangs: arrival rate (per second) times mean holding
        time (seconds). Any ``a >= 0``, including ``a > c``.

    Returns
    -------
    float or numpy.ndarray
        ``B(c, a) = (a**c / c!) / sum_{k=0..c} a**k / k!``, the probability that an
        arrival finds all servers busy and is lost; broadcast over the arguments.
        ``B(0, a) = 1``; ``B(c, 0) = 0`` for ``c >= 1``.

    Notes
    -----
    Assumes Poisson arrivals and no waiting room. The formula is insensitive to the
    holding-time distribution beyond its mean (M/G/c/c). Evaluated in log space:
    relative error about 1e-15 for ``c`` up to 1e7 and beyond; values below the smallest
    float underflow to 0.

    Examples
    --------
    >>> from capplan.queueing import erlang_b
    >>> round(float(erlang_b(10, 5.0)), 6)
    0.018385
    >>> erlang_b([1, 2, 3], 1.0).round(4)
    array([0.5   , 0.2   , 0.0625])
    """
    c, a = scalar_count(servers), scalar_float(load)
    if c is not None and a is not None:
        return _f64((_compiled.kernels or _compiled.load()).erlang_b(c, a))
    c = as_count(servers, "servers")
    a = as_float(load, "load")
    return scalar_or_array(run_many("erlang_b_many", c, a))


def erlang_c(servers, load):
    """Probability that an arrival waits in the M/M/c (Erlang delay) system.

    Parameters
    ----------
    servers : int or array_like of int
        Number of servers ``c >= 0``.
    load : float or array_like
        Offered load ``a`` in Erlangs (arrival rate per second times mean service time in
        seconds).

    Returns
    -------
    float or numpy.ndarray
        ``C(c, a) = c B / (c - a (1 - B))`` with ``B = erlang_b(c, a)``; exactly 1.0
        where ``a >= c``, since then the queue grows without bound and every arrival
        waits.

    Notes
    -----
    Assumes Poisson arrivals, exponential service times, ``c`` identical servers and
    an unlimited first-come-first-served queue with no abandonment. Relative error about
    1e-15 up to ``c = 1e7``.

    Examples
    --------
    >>> from capplan.queueing import erlang_c
    >>> round(float(erlang_c(2, 1.0)), 6)
    0.333333
    >>> float(erlang_c(3, 3.0))
    1.0
    """
    c, a = scalar_count(servers), scalar_float(load)
    if c is not None and a is not None:
        return _f64((_compiled.kernels or _compiled.load()).erlang_c(c, a))
    c = as_count(servers, "servers")
    a = as_float(load, "load")
    return scalar_or_array(run_many("erlang_c_many", c, a))


@dataclass(frozen=True)
class MMc:
    """Steady-state measures of an M/M/c queue; build it with :func:`mmc`.

    Attributes
    ----------
    servers, arrival_rate, mean_service_time : numpy.ndarray
        The inputs (count, per second, seconds), broadcast to one shape.
    load : numpy.ndarray
        Offered load ``a = arrival_rate * mean_service_time`` (Erlangs).
    utilisation : numpy.ndarray
        ``a / c``: the share of time a server is busy when ``a < c``; above 1 the
        system is unstable and this is the offered, not the achieved, utilisation.
    wait_prob : numpy.ndarray
        Probability that an arrival waits (Erlang C); 1 where ``a >= c``.
    mean_wait : numpy.ndarray
        Mean time in queue per arrival (seconds); ``inf`` where ``a >= c``.
    mean_queue : numpy.ndarray
        Mean number waiting (customers); ``inf`` where ``a >= c``.
    """

    servers: np.ndarray
    arrival_rate: np.ndarray
    mean_service_time: np.ndarray
    load: np.ndarray
    utilisation: np.ndarray
    wait_prob: np.ndarray
    mean_wait: np.ndarray
    mean_queue: np.ndarray

    def wait_tail(self, t):
        """Probability that an arrival waits longer than ``t`` seconds, ``P(W > t)``.

        ``C exp(-(c - a) t / mean_service_time)``; 1 where ``a >= c``. ``t`` broadcasts
        against the queue's shape.
        """
        t = as_float(t, "t", allow_inf=True)
        with np.errstate(invalid="ignore", over="ignore"):
            decay = np.exp(-(self.servers - self.load) * t / self.mean_service_time)
        tail = np.where(self.load < self.servers, self.wait_prob * decay, 1.0)
        return scalar_or_array(np.asarray(tail))

    def service_level(self, t):
        """Probability that an arrival waits at most ``t`` seconds, ``P(W <= t)``."""
        return scalar_or_array(np.asarray(1.0 - self.wait_tail(t)))


def mmc(servers, arrival_rate, mean_service_time) -> MMc:
    """Performance of the M/M/c queue from rates.

    Parameters
    ----------
    servers : int or array_like of int
        Number of servers ``c >= 0``.
    arrival_rate : float or array_like
        Poisson arrival rate ``lambda`` (per second), ``>= 0``.
    mean_service_time : float or array_like
        Mean of the exponential service time (seconds), ``> 0``.

    Returns
    -------
    MMc
        Frozen record of arrays: ``wait_prob``, ``mean_wait`` (s), ``mean_queue``
        (customers), ``utilisation``, and methods ``wait_tail(t)`` and
        ``service_level(t)`` for ``t`` in seconds.

    Notes
    -----
    Assumes Poisson arrivals, exponential service, an unlimited FCFS queue and no
    abandonment (see :func:`erlang_a` for impatient customers and :func:`mmck` for a
    finite waiting room). With ``a = lambda * mean_service_time`` and ``C`` the Erlang C
    probability: ``E[W] = C mean_service_time / (c - a)``, ``E[Lq] = C a / (c - a)``,
    ``P(W > t) = C exp(-(c - a) t / mean_service_time)``.

    Examples
    --------
    >>> from capplan.queueing import mmc
    >>> q = mmc(2, arrival_rate=1.0, mean_service_time=1.0)
    >>> round(float(q.wait_prob), 4), round(float(q.mean_wait), 4), float(q.utilisation)
    (0.3333, 0.3333, 0.5)
    >>> round(float(q.service_level(1.0)), 4)
    0.8774
    """
    c = scalar_count(servers)
    lam = scalar_float(arrival_rate)
    tau = scalar_float(mean_service_time, True)
    if None not in (c, lam, tau):
        load, utilisation, wait_prob, mean_wait, mean_queue = (
            _compiled.kernels or _compiled.load()
        ).mmc(c, lam, tau)
        return record(
            MMc,
            {
                "servers": ZERO_INT64 + c,
                "arrival_rate": _f64(lam),
                "mean_service_time": _f64(tau),
                "load": _f64(load),
                "utilisation": _f64(utilisation),
                "wait_prob": _f64(wait_prob),
                "mean_wait": _f64(mean_wait),
                "mean_queue": _f64(mean_queue),
            },
        )
    c = as_count(servers, "servers")
    lam = as_float(arrival_rate, "arrival_rate")
    tau = as_float(mean_service_time, "mean_service_time", positive=True)
    c, lam, tau = np.broadcast_arrays(c, lam, tau)
    measures = run_many("mmc_many", c, lam, tau, outputs=5)
    return MMc(*(scalar_or_array(np.asarray(v)) for v in (c, lam, tau, *measures)))
