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
from math import factorial

import numpy as np
from scipy.special import roots_laguerre

from ._incgamma import _regions, log_lower_ratio, series_sums
from ._validate import as_count, as_float, scalar_or_array
from .erlang import log_poisson_ratio

_GL_T, _GL_W = roots_laguerre(16)
# D = y + (y - x)(A - 1) cancels when x - y >> sqrt(y); beyond this loss factor the
# integral form is used instead.
_MAX_CANCELLATION = 1e3


def _h(s: np.ndarray) -> np.ndarray:
    """``exp(-s) - 1 + s >= 0``, by its Taylor series below 0.1 to avoid cancellation."""
    small = s < 0.1
    ss = np.where(small, s, 0.0)
    acc = np.zeros_like(ss)
    for k in range(12, 1, -1):
        acc = acc * ss + (-1) ** k / factorial(k)
    return np.where(small, acc * ss * ss, np.expm1(-s) + s)


def _moment_integral(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``D`` for ``x - y >> sqrt(y)`` by Gauss-Laguerre on
    ``D = x y / d * int_0^inf e^-t (1 - e^(-t/d)) exp(-y h(t/d)) dt``, ``d = x - y``."""
    d = x - y
    s = _GL_T[None, :] / d[:, None]
    f = -np.expm1(-s) * np.exp(-y[:, None] * _h(s))
    return x * y / d * (f @ _GL_W)


def _log_a_and_moment(x: np.ndarray, y: np.ndarray):
    """``log A`` and ``log(D / A)`` for flat arrays ``x > 0``, ``y > 0``.

    ``D / A`` rather than ``D``: where ``A`` is huge (overload) adding a small term to
    ``log A`` would round away digits that cancel later.
    """
    log_a = log_lower_ratio(x, y)
    log_d = np.empty_like(x)  # log(D / A)
    _, series, _ = _regions(x, y)
    if series.any():
        total, moment = series_sums(x[series], y[series])
        log_d[series] = np.log(moment / total)
    rest = ~series
    xr, yr, lar = x[rest], y[rest], log_a[rest]
    # D / A = y / A + (y - x)(1 - 1/A): no overflow when A is huge (overload).
    with np.errstate(under="ignore"):
        scaled = yr * np.exp(-lar) - (yr - xr) * np.expm1(-lar)
    out = np.log(scaled)
    excess = (xr - yr) * -np.expm1(-lar)
    bad = (xr > yr) & (excess > _MAX_CANCELLATION * scaled)
    if bad.any():
        out[bad] = np.log(_moment_integral(xr[bad], yr[bad])) - lar[bad]
    log_d[rest] = out
    return log_a, log_d


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
        n, lam, tau, pat, log_w, log_a = np.broadcast_arrays(
            self.servers,
            self.arrival_rate,
            self.mean_service_time,
            self.mean_patience,
            self._log_wait_prob,
            self._log_a,
            np.zeros(np.shape(t)),
        )[:6]
        t = np.broadcast_to(t, n.shape)
        x = (n * pat / tau).ravel()
        y = (lam * pat).ravel()
        u = (t / pat).ravel()  # theta t
        out = np.zeros(x.size)
        live = (y > 0) & np.isfinite(u)
        xl, yl, ul = x[live], y[live], u[live]
        with np.errstate(under="ignore"):
            y_later = yl * np.exp(-ul)
            log_shift = -xl * ul - yl * np.expm1(-ul)  # log p(x; y') - log p(x; y)
            delta = log_shift + log_lower_ratio(xl, y_later) - log_a.ravel()[live]
            out[live] = np.exp(log_w.ravel()[live] + np.minimum(delta, 0.0))
        return scalar_or_array(out.reshape(n.shape))

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
        tail = np.asarray(self.wait_tail(t), dtype=float)
        n, lam, tau, pat, ab, tail = np.broadcast_arrays(
            self.servers,
            self.arrival_rate,
            self.mean_service_time,
            self.mean_patience,
            self.abandon_prob,
            tail,
        )
        t = np.broadcast_to(as_float(t, "t", allow_inf=True), n.shape).ravel()
        x = (n * pat / tau).ravel()
        with np.errstate(under="ignore"):
            y_t = (lam * pat).ravel() * np.exp(-t / pat.ravel())
        later = np.zeros(x.size)
        live = (y_t > 0) & (tail.ravel() > 0)
        if live.any():
            later[live] = np.exp(_log_a_and_moment(x[live], y_t[live])[1]) / y_t[live]
        miss = ab.ravel() + tail.ravel() * (1.0 - np.minimum(later, 1.0))
        return scalar_or_array(np.minimum(miss, 1.0).reshape(n.shape))

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
    n = as_count(servers, "servers", minimum=1)
    lam = as_float(arrival_rate, "arrival_rate")
    tau = as_float(mean_service_time, "mean_service_time", positive=True)
    pat = as_float(mean_patience, "mean_patience", positive=True)
    n, lam, tau, pat = np.broadcast_arrays(n, lam, tau, pat)
    shape = n.shape
    a = lam * tau
    x = (n * pat / tau).ravel()
    y = (lam * pat).ravel()
    log_r = log_poisson_ratio(n, a).ravel()
    log_w = np.full(x.size, -np.inf)
    log_a = np.zeros(x.size)
    abandon = np.zeros(x.size)
    live = y > 0
    if live.any():
        la, log_d_over_a = _log_a_and_moment(x[live], y[live])
        log_w_live = -np.logaddexp(0.0, log_r[live] - la)  # A / (R + A)
        log_a[live] = la
        log_w[live] = log_w_live
        with np.errstate(divide="ignore", under="ignore"):
            abandon[live] = np.exp(log_d_over_a - np.log(y[live]) + log_w_live)
    abandon = abandon.reshape(shape)
    mean_wait = abandon * pat
    fields = dict(
        servers=n,
        arrival_rate=lam,
        mean_service_time=tau,
        mean_patience=pat,
        load=a,
        wait_prob=np.exp(log_w).reshape(shape),
        abandon_prob=abandon,
        mean_wait=mean_wait,
        mean_queue=lam * mean_wait,
        utilisation=a * (1.0 - abandon) / n,
        _log_wait_prob=log_w.reshape(shape),
        _log_a=log_a.reshape(shape),
    )
    return ErlangA(**{k: scalar_or_array(np.asarray(v)) for k, v in fields.items()})
