"""Erlang A (M/M/n+M): impatient customers with exponential patience.

Mandelbaum & Zeltyn, "The M/M/n+G queue: summary of performance measures" (2009) and
Garnett, Mandelbaum & Reiman (2002). With ``x = n mu / theta`` and ``y = lambda / theta``
(``mu`` service rate, ``theta`` abandonment rate), the queue states ``n + j`` carry weight
``pi_n t_j`` with ``t_j = y**j / ((x+1)...(x+j))``, so everything follows from

* ``A = sum_j t_j = P(x, y) / p(x; y)`` (regularised lower incomplete gamma over the
  Poisson-type pmf, :func:`._incgamma.log_lower_ratio`),
* ``D = sum_j j t_j`` (mean queue over ``pi_n``),
* ``R = P[N <= n-1] / P[N = n]``, ``N ~ Poisson(lambda / mu)``, as in Erlang B.

``P(W > 0) = A / (R + A)``, ``P(Ab) = D / (y (R + A))``, ``E[W] = P(Ab) / theta``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

# The arithmetic is ._kernels.erlang_a (and its log_a_and_moment: where
# D = y + (y - x)(A - 1) would cancel, D by 16-point Gauss-Laguerre on
# D = x y / d * int_0^inf e^-t (1 - e^(-t/d)) exp(-y h(t/d)) dt, d = x - y).
_f64 = np.float64


@dataclass(frozen=True)
class ErlangA:
    """Steady-state measures of the Erlang A queue; build it with :func:`erlang_a`.

    Attributes
    ----------
    servers, arrival_rate, mean_service_time, mean_patience : numpy.ndarray
        The inputs (count, per second, seconds, seconds), broadcast to one shape.
    load : numpy.ndarray
        Offered load ``arrival_rate * mean_service_time`` (Erlangs).
    wait_prob : numpy.ndarray
        Probability that an arrival has to wait, ``P(W > 0)``.
    abandon_prob : numpy.ndarray
        Probability that an arrival abandons before service, ``P(Ab)``.
    mean_wait : numpy.ndarray
        Mean time an arrival spends waiting, until service or abandonment (seconds).
    mean_queue : numpy.ndarray
        Mean number waiting (customers).
    utilisation : numpy.ndarray
        Share of time a server is busy, ``load (1 - abandon_prob) / servers``.
    """

    servers: np.ndarray
    arrival_rate: np.ndarray
    mean_service_time: np.ndarray
    mean_patience: np.ndarray
    load: np.ndarray
    wait_prob: np.ndarray
    abandon_prob: np.ndarray
    mean_wait: np.ndarray
    mean_queue: np.ndarray
    utilisation: np.ndarray
    _log_wait_prob: np.ndarray = field(repr=False)
    _log_a: np.ndarray = field(repr=False)

    def offered_wait_tail(self, t):
        """``P(V > t)``: probability that service has not started ``t`` seconds after
        arrival, for a customer who would wait as long as needed (the offered wait;
        others' abandonment is accounted for).

        ``P(W > 0) P(x, y e^-theta t) / P(x, y)`` with ``P`` the regularised lower
        incomplete gamma; ``t`` broadcasts against the queue's shape.
        """
        t = as_float(t, "t", allow_inf=True)
        tail = run_many(
            "erlang_a_offered_tail_many",
            *(np.asarray(v) for v in (self.servers, self.arrival_rate, self.mean_service_time)),
            *(np.asarray(v) for v in (self.mean_patience, self._log_wait_prob, self._log_a)),
            t,
        )
        return scalar_or_array(tail)

    def wait_tail(self, t):
        """``P(W > t)`` for the actual wait ``W = min(V, patience)``:
        ``offered_wait_tail(t) * exp(-t / mean_patience)``."""
        t_arr = as_float(t, "t", allow_inf=True)
        with np.errstate(under="ignore"):
            keep = np.exp(-t_arr / self.mean_patience)
        return scalar_or_array(np.asarray(self.offered_wait_tail(t) * keep))

    def miss_prob(self, t):
        """``1 - service_level(t)``: probability that an arrival abandons or waits more
        than ``t`` seconds before service, computed without cancellation.

        ``P(Ab) + P(W > t) (1 - q(t))``, where ``q(t)`` is the probability that a
        customer still waiting at ``t`` abandons later: the same formula as
        ``P(Ab | W > 0)`` with ``lambda`` scaled by ``exp(-t / mean_patience)``.
        """
        t = as_float(t, "t", allow_inf=True)
        miss = run_many(
            "erlang_a_miss_many",
            *(np.asarray(v) for v in (self.servers, self.arrival_rate, self.mean_service_time)),
            *(np.asarray(v) for v in (self.mean_patience, self.abandon_prob)),
            *(np.asarray(v) for v in (self._log_wait_prob, self._log_a)),
            t,
        )
        return scalar_or_array(miss)

    def service_level(self, t):
        """Share of arrivals served after waiting at most ``t`` seconds; abandoners
        count as not served. Tends to ``1 - abandon_prob`` as ``t`` grows."""
        return scalar_or_array(np.asarray(1.0 - self.miss_prob(t)))


def erlang_a(servers, arrival_rate, mean_service_time, mean_patience) -> ErlangA:
    """Performance of the Erlang A (M/M/n+M) queue with impatient customers.

    Parameters
    ----------
    servers : int or array_like of int
        Number of servers ``n >= 1``.
    arrival_rate : float or array_like
        Poisson arrival rate ``lambda`` (per second), ``>= 0``.
    mean_service_time : float or array_like
        Mean exponential service time ``1/mu`` (seconds), ``> 0``.
    mean_patience : float or array_like
        Mean exponential patience ``1/theta`` (seconds), ``> 0``: a waiting customer
        abandons at rate ``theta`` (a client timeout with exponential spread).

    Returns
    -------
    ErlangA
        Frozen record of arrays: ``wait_prob``, ``abandon_prob``, ``mean_wait`` (s),
        ``mean_queue``, ``utilisation``, and methods ``wait_tail(t)``,
        ``offered_wait_tail(t)``, ``service_level(t)`` and ``miss_prob(t)`` for ``t``
        in seconds.

    Notes
    -----
    Assumes Poisson arrivals, exponential service and patience, FCFS, unlimited waiting
    room; abandoners do not return. The system is stable at any load, so
    ``arrival_rate * mean_service_time`` may exceed ``servers``. Relations:
    ``mean_wait = abandon_prob * mean_patience`` and ``mean_queue = arrival_rate *
    mean_wait``. As ``mean_patience`` grows the results tend to Erlang C. Computed in
    log space through incomplete gamma ratios, stable for large ``n`` (1e7 and beyond).

    Examples
    --------
    >>> from capplan.queueing import erlang_a
    >>> q = erlang_a(servers=1, arrival_rate=1.0, mean_service_time=1.0, mean_patience=1.0)
    >>> round(float(q.wait_prob), 6), round(float(q.abandon_prob), 6)
    (0.632121, 0.367879)
    >>> round(float(q.mean_wait), 6)  # = abandon_prob * mean_patience
    0.367879
    """
    n = scalar_count(servers, 1)
    lam = scalar_float(arrival_rate)
    tau = scalar_float(mean_service_time, True)
    pat = scalar_float(mean_patience, True)
    if None not in (n, lam, tau, pat):
        load, wait_prob, abandon, wait, queue, utilisation, log_w, log_a = (
            _compiled.kernels or _compiled.load()
        ).erlang_a(n, lam, tau, pat)
        return record(
            ErlangA,
            {
                "servers": ZERO_INT64 + n,
                "arrival_rate": _f64(lam),
                "mean_service_time": _f64(tau),
                "mean_patience": _f64(pat),
                "load": _f64(load),
                "wait_prob": _f64(wait_prob),
                "abandon_prob": _f64(abandon),
                "mean_wait": _f64(wait),
                "mean_queue": _f64(queue),
                "utilisation": _f64(utilisation),
                "_log_wait_prob": _f64(log_w),
                "_log_a": _f64(log_a),
            },
        )
    n = as_count(servers, "servers", minimum=1)
    lam = as_float(arrival_rate, "arrival_rate")
    tau = as_float(mean_service_time, "mean_service_time", positive=True)
    pat = as_float(mean_patience, "mean_patience", positive=True)
    n, lam, tau, pat = np.broadcast_arrays(n, lam, tau, pat)
    measures = run_many("erlang_a_many", n, lam, tau, pat, outputs=8)
    return ErlangA(*(scalar_or_array(np.asarray(v)) for v in (n, lam, tau, pat, *measures)))
