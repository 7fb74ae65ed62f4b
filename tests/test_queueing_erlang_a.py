"""Erlang A (M/M/n+M) against mpmath: the birth-death chain summed state by state, and
mpmath's incomplete gamma for large n."""

import mpmath as mp
import numpy as np
import pytest
from scipy.integrate import quad

from capplan.queueing import erlang_a, erlang_c


def ref_chain(n, lam, patience, t=None):
    """P(W > 0), P(Ab) and optionally P(V > t), service rate 1, by summing the chain."""
    with mp.workdps(40):
        lam, theta = mp.mpf(lam), 1 / mp.mpf(patience)
        below, weight = mp.mpf(0), mp.mpf(0)
        for k in range(n, 0, -1):  # pi_{k-1} / pi_n
            weight += mp.log(k) - mp.log(lam)
            below += mp.exp(weight)
        terms, total, moment, j = [mp.mpf(1)], mp.mpf(1), mp.mpf(0), 0
        while True:
            j += 1
            terms.append(terms[-1] * lam / (n + j * theta))
            total += terms[-1]
            moment += j * terms[-1]
            if terms[-1] < mp.mpf(10) ** -45 * total and lam < n + j * theta:
                break
        z = below + total
        out = [total / z, theta * moment / (lam * z)]
        if t is not None:
            # Offered wait behind j others: -log(Beta(n/theta, j+1)) / theta.
            w, x = mp.exp(-theta * t), n / theta
            out.append(
                mp.fsum(
                    v * mp.betainc(x, i + 1, 0, w, regularized=True) for i, v in enumerate(terms)
                )
                / z
            )
        return out


def _lower(s, x):
    """Regularised lower incomplete gamma; mpmath's series gives up near the mode of huge
    shapes, where the complement of the upper one is just as exact at 60 digits."""
    try:
        return mp.gammainc(s, 0, x, regularized=True)
    except mp.libmp.NoConvergence:
        return 1 - mp.gammainc(s, x, mp.inf, regularized=True)


def ref_incomplete_gamma(n, lam, patience, t):
    """The same measures from mpmath's upper incomplete gamma at 60 digits:
    ``A = P(x, y) / p(x; y)``, ``D = y + (y - x)(A - 1)`` (the cancellation is harmless
    at that precision)."""
    with mp.workdps(60):
        n, lam, pat = mp.mpf(n), mp.mpf(lam), mp.mpf(patience)
        x, y = n * pat, lam * pat
        lower = _lower(x, y)
        a_ = lower / mp.exp(x * mp.log(y) - y - mp.loggamma(x + 1))
        d_ = y + (y - x) * (a_ - 1)
        log_pmf = n * mp.log(lam) - lam - mp.loggamma(n + 1)
        r = mp.gammainc(n, lam, mp.inf, regularized=True) / mp.exp(log_pmf)
        wait = a_ / (r + a_)
        later = _lower(x, y * mp.exp(-t / pat))
        return wait, d_ / (y * (r + a_)), wait * later / lower


@pytest.mark.parametrize(
    "n",
    [1, 3, 10, 50, pytest.param(200, marks=pytest.mark.slow)],  # 200: a chain of 7 s
)
def test_erlang_a_against_chain(n):
    for rho in (0.5, 0.9, 0.999, 1.0, 1.2, 3.0):
        for patience in (0.01, 0.3, 1.0, 10.0, 300.0):
            lam = n * rho
            q = erlang_a(n, lam, 1.0, patience)
            ref = ref_chain(n, lam, patience)
            for g, r in zip([q.wait_prob, q.abandon_prob], ref, strict=True):
                if r < 1e-300:
                    assert g < 1e-290
                    continue
                assert float(abs(g - r) / r) <= 1e-11, (n, rho, patience, g, float(r))


@pytest.mark.parametrize(
    "n, rho, patience",
    [
        (1, 0.5, 0.3),
        (1, 3.0, 10.0),
        (3, 0.9, 1.0),
        (3, 1.2, 0.3),
        (10, 0.999, 10.0),
        (10, 0.5, 0.01),
    ],
)
def test_offered_wait_tail_against_chain(n, rho, patience):
    # A short t: the chain's truncation (1e-45 of the mass) must not matter.
    q = erlang_a(n, n * rho, 1.0, patience)
    for t in (0.01, 0.1):
        ref = ref_chain(n, n * rho, patience, t)[2]
        assert float(abs(q.offered_wait_tail(t) - ref) / ref) <= 1e-11


@pytest.mark.parametrize(
    "n, rho, patience, t",
    [
        (100, 0.9, 1e4, 0.01),
        (1e4, 0.99, 1e3, 0.001),
        (1e5, 0.99, 1e3, 1e-4),
        (1e5, 0.999, 10.0, 0.01),
        (1_000, 0.95, 1e6, 0.05),
        (1e6, 0.999, 1.0, 0.001),
        (1e7, 0.9995, 0.5, 1e-4),
        (1e6, 1.05, 2.0, 0.01),
    ],
)
def test_erlang_a_large_against_incomplete_gamma(n, rho, patience, t):
    q = erlang_a(n, n * rho, 1.0, patience)
    for g, r in zip(
        [q.wait_prob, q.abandon_prob, q.offered_wait_tail(t)],
        ref_incomplete_gamma(n, n * rho, patience, t),
        strict=True,
    ):
        assert float(abs(g - r) / r) <= 1e-9


def test_long_patience_tends_to_erlang_c():
    q = erlang_a(50, 45.0, 1.0, 1e9)
    assert q.wait_prob == pytest.approx(erlang_c(50, 45.0), rel=1e-6)
    assert q.abandon_prob < 1e-8


def test_tail_consistency():
    q = erlang_a(20, 19.0, 1.0, 2.0)
    # E[W] = int_0^inf P(W > t) dt; E[W] = P(Ab) * patience; E[Lq] = lambda E[W]
    integral, _ = quad(lambda t: float(q.wait_tail(t)), 0, np.inf, epsabs=0, epsrel=1e-12)
    assert integral == pytest.approx(q.mean_wait, rel=1e-9)
    assert q.mean_wait == pytest.approx(q.abandon_prob * 2.0, rel=1e-14)
    assert q.mean_queue == pytest.approx(19.0 * q.mean_wait, rel=1e-14)
    assert q.offered_wait_tail(0.0) == pytest.approx(q.wait_prob, rel=1e-14)
    # served within t: 1 - P(W > 0) at t = 0, 1 - P(Ab) as t grows, increasing between
    levels = q.service_level(np.array([0.0, 0.1, 1.0, 10.0, 100.0]))
    assert levels[0] == pytest.approx(1 - q.wait_prob, rel=1e-13)
    assert levels[-1] == pytest.approx(1 - q.abandon_prob, rel=1e-13)
    assert np.all(np.diff(levels) >= 0)


def test_served_within_t_against_quadrature():
    # P(served, W <= t) = P(W = 0) + int_0^t f_V(v) exp(-theta v) dv, with the offered
    # wait's density differentiated and integrated by mpmath.
    n, lam, pat, t = 8, 7.5, 1.5, 0.7
    q = erlang_a(n, lam, 1.0, pat)
    with mp.workdps(30):
        x, y, theta = mp.mpf(n) * pat, mp.mpf(lam) * pat, 1 / mp.mpf(pat)
        p_wait = mp.mpf(float(q.wait_prob))

        def offered_tail(v):
            return p_wait * (
                mp.gammainc(x, 0, y * mp.exp(-theta * v), regularized=True)
                / mp.gammainc(x, 0, y, regularized=True)
            )

        def served(upper):
            return (
                1
                - p_wait
                + mp.quad(lambda v: -mp.diff(offered_tail, v) * mp.exp(-theta * v), [0, upper])
            )

        assert float(abs(q.service_level(t) - served(t))) < 1e-13
        assert float(abs((1 - q.abandon_prob) - served(mp.inf))) < 1e-13


def test_overload_and_zero_load():
    q = erlang_a(10, 100.0, 1.0, 1.0)  # ten times overloaded: most abandon
    assert q.abandon_prob == pytest.approx(0.9, rel=1e-2)
    assert q.utilisation <= 1.0 + 1e-12
    q = erlang_a(5, 0.0, 1.0, 1.0)
    assert q.wait_prob == 0 and q.abandon_prob == 0 and q.offered_wait_tail(1.0) == 0
