"""Erlang B, Erlang C and M/M/c against mpmath, published tables and closed forms."""

import mpmath as mp
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from capplan.queueing import erlang_b, erlang_c, mmc

REL = 1e-9  # the issue's bar; the code achieves about 1e-14


def ref_erlang_b(c: int, a: float):
    """Erlang B by mpmath: exact pmf over mpmath's incomplete gamma for the cdf.

    A different algorithm from the code's (Loader + Temme in doubles). Returns None where
    the true value is below the smallest double, which the code must flush to zero.
    """
    with mp.workdps(40):
        c_, a_ = mp.mpf(c), mp.mpf(a)
        log_pmf = c_ * mp.log(a_) - a_ - mp.loggamma(c_ + 1)
        if a < c and log_pmf < -760:  # cdf > 1/2, so B < pmf underflows
            return None
        cdf = mp.gammainc(c_ + 1, a_, mp.inf, regularized=True)
        return mp.exp(log_pmf) / cdf


def ref_erlang_c(c: int, a: float):
    b = ref_erlang_b(c, a)
    if b is None:
        return None
    with mp.workdps(40):
        return c * b / (c - mp.mpf(a) * (1 - b))


UTILISATIONS = [0.5, 0.7, 0.9, 0.95, 0.99, 0.995, 0.999]
FAST_SERVERS = [1, 2, 5, 10, 50, 100, 1_000, 10_000, 100_000]
# Log-spaced 1e5..1e7 (and the end points), so no decade is skipped.
BIG_SERVERS = sorted({round(c) for c in np.logspace(5, 7, 13)} | {8_000_000})


def _check_grid(servers):
    worst = 0.0
    for c in servers:
        for rho in UTILISATIONS:
            a = c * rho
            rb, rc = ref_erlang_b(c, a), ref_erlang_c(c, a)
            b, cc = erlang_b(c, a), erlang_c(c, a)
            if rb is None:
                assert b < 1e-300 and cc < 1e-300
                continue
            for got, ref in [(b, rb), (cc, rc)]:
                if ref < mp.mpf(2.3e-308):  # subnormal: only absolute accuracy
                    assert abs(got - float(ref)) < 1e-310
                    continue
                err = float(abs(got - ref) / ref)
                worst = max(worst, err)
                assert err <= REL, (c, rho, got, float(ref))
    return worst


def test_erlang_b_and_c_against_mpmath_up_to_1e5_servers():
    assert _check_grid(FAST_SERVERS) < 1e-12


def test_erlang_b_and_c_against_mpmath_up_to_1e7_servers():
    assert _check_grid(BIG_SERVERS) < 1e-12


def test_issue_example_is_exact():
    # The plain logpmf - logcdf ratio is off by 8.7e-9 here (measured in the issue).
    got = erlang_c(8_000_000, 7_990_000)
    ref = ref_erlang_c(8_000_000, 7_990_000)
    assert float(abs(got - ref) / ref) < 1e-13


def test_overloaded_erlang_b_against_mpmath():
    for c, a in [(10, 50.0), (100, 1e4), (1_000, 1_100.0), (5, 1e7)]:
        with mp.workdps(40):
            # B = 1 / sum_j c!/(c-j)! / a**j, a short sum when a >> c.
            ref = 1 / mp.fsum(mp.rf(c - j + 1, j) / mp.mpf(a) ** j for j in range(c + 1))
        assert float(abs(erlang_b(c, a) - ref) / ref) < 1e-13
        assert erlang_c(c, a) == 1.0
    for c, a in [(100_000, 101_000.0), (100_000, 130_000.0), (10_000_000, 10_010_000.0)]:
        ref = ref_erlang_b(c, a)
        assert float(abs(erlang_b(c, a) - ref) / ref) < 1e-13
        assert erlang_c(c, a) == 1.0


def test_published_erlang_b_values():
    # erlang.com calculator manual, "How much traffic can a trunk group handle":
    # 15 lines at 1 % blocking carry 8.108 Erlangs.
    assert brentq(lambda a: erlang_b(15, a) - 0.01, 1, 20) == pytest.approx(8.108, abs=5e-4)
    # Erlang B table, "Carrier Grade Voice over IP" (2nd ed.), Appendix A: Erlangs
    # carried by N channels at 0.1 %, 1 % and 5 % blocking, to 0.1 Erlang.
    table = {
        5: (0.8, 1.4, 2.2),
        6: (1.1, 1.9, 3.0),
        7: (1.6, 2.5, 3.7),
        8: (2.1, 3.1, 4.5),
        9: (2.6, 3.8, 5.4),
    }
    for n, row in table.items():
        for p, tabled in zip((0.001, 0.01, 0.05), row, strict=True):
            a = brentq(lambda a, n=n, p=p: erlang_b(n, a) - p, 1e-6, 100)
            assert round(a, 1) == tabled, (n, p, a)
    # The issue's example: 10 servers, 5 Erlangs.
    assert round(float(erlang_b(10, 5.0)), 6) == 0.018385


def test_closed_forms():
    # M/M/1: P(wait) = rho; M/M/2: C = 2 rho^2 / (1 + rho) with rho = a / 2;
    # Erlang B recursion B(c) = a B(c-1) / (c + a B(c-1)), B(0) = 1.
    rho = np.linspace(0.01, 0.99, 50)
    np.testing.assert_allclose(erlang_c(1, rho), rho, rtol=1e-14)
    np.testing.assert_allclose(erlang_c(2, 2 * rho), 2 * rho**2 / (1 + rho), rtol=1e-14)
    a, b = 7.3, 1.0
    for c in range(1, 40):
        b = a * b / (c + a * b)
        assert erlang_b(c, a) == pytest.approx(b, rel=1e-13)


def test_edges():
    assert erlang_b(0, 3.0) == 1.0
    assert erlang_b(4, 0.0) == 0.0
    assert erlang_c(4, 0.0) == 0.0
    assert erlang_c(4, 4.0) == 1.0
    assert erlang_c(0, 0.0) == 1.0


def test_broadcasting_and_input_types():
    servers = np.array([[5], [10]])
    load = np.array([1.0, 4.0, 9.0])
    out = erlang_c(servers, load)
    assert out.shape == (2, 3)
    assert out[0, 1] == erlang_c(5, 4.0)
    assert np.isscalar(erlang_b(3, 1.0)) or np.ndim(erlang_b(3, 1.0)) == 0
    # pandas and list input give the same numbers as numpy
    np.testing.assert_array_equal(
        erlang_b(pd.Series([5, 10]), pd.Series([2.0, 3.0])), erlang_b(np.array([5, 10]), [2.0, 3.0])
    )
    assert erlang_b(5.0, 2.0) == erlang_b(5, 2.0)  # integral floats accepted


def test_mmc_measures():
    # M/M/1 closed forms: Wq = rho tau / (1 - rho), Lq = rho^2 / (1 - rho),
    # P(W > t) = rho exp(-(1 - rho) t / tau).
    q = mmc(1, arrival_rate=0.8, mean_service_time=0.5)
    rho, tau = 0.4, 0.5
    assert q.utilisation == pytest.approx(rho)
    assert q.mean_wait == pytest.approx(rho * tau / (1 - rho), rel=1e-14)
    assert q.mean_queue == pytest.approx(rho**2 / (1 - rho), rel=1e-14)
    assert q.wait_tail(2.0) == pytest.approx(rho * np.exp(-(1 - rho) * 2.0 / tau), rel=1e-14)
    assert q.service_level(0.0) == pytest.approx(1 - rho)
    # Little's law and the tail integrating to the mean, at scale
    q = mmc(5_000, arrival_rate=4_990.0, mean_service_time=1.0)
    assert q.mean_queue == pytest.approx(q.arrival_rate * q.mean_wait, rel=1e-14)
    slack = q.servers - q.load
    assert q.mean_wait == pytest.approx(q.wait_prob / slack, rel=1e-14)
    # unstable
    q = mmc(3, arrival_rate=3.0, mean_service_time=1.0)
    assert q.wait_prob == 1.0 and np.isinf(q.mean_wait) and q.wait_tail(10.0) == 1.0


def test_mmc_vectorised_tail():
    q = mmc(np.array([10, 20]), arrival_rate=np.array([8.0, 18.0]), mean_service_time=1.0)
    t = np.array([[0.0], [1.0]])
    tail = q.wait_tail(t)
    assert tail.shape == (2, 2)
    np.testing.assert_allclose(tail[0], q.wait_prob)
