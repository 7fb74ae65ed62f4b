"""M/M/c/K against the stationary distribution summed directly in mpmath."""

import mpmath as mp
import numpy as np
import pytest

from capplan.queueing import erlang_b, erlang_c, mmck


def ref_mmck(c: int, k: int, a: float):
    """Blocking, mean queue, wait probability of admitted, mean wait (service times)."""
    with mp.workdps(50):
        a = mp.mpf(a)
        w = [mp.mpf(1)]
        for n in range(1, k + 1):
            w.append(w[-1] * a / min(n, c))
        z = mp.fsum(w)
        p = [v / z for v in w]
        admitted = 1 - p[k]
        queue = mp.fsum((n - c) * p[n] for n in range(c, k + 1))
        wait = mp.fsum(p[c:k]) / admitted
        return p[k], queue, wait, queue / (a * admitted)


CASES = [
    (c, k, a)
    for c in (1, 2, 7, 30, 100)
    for k in (c, c + 1, c + 4, c + 60, c + 800)
    for a in (0.3, 0.5 * c, 0.999 * c, 1.0 * c, 1.001 * c, 1.5 * c, 4.0 * c)
]


def test_mmck_against_mpmath():
    worst = 0.0
    for c, k, a in CASES:
        q = mmck(c, k, a)
        got = (q.blocking, q.mean_queue, q.wait_prob, q.mean_wait)
        for g, r in zip(got, ref_mmck(c, k, a), strict=True):
            if r < 1e-300:
                assert g < 1e-290
                continue
            err = float(abs(g - r) / r)
            worst = max(worst, err)
            assert err <= 1e-9, (c, k, a, g, float(r))
    assert worst < 1e-12


def test_mmck_limits():
    c, a = 20, 15.0
    # K = c is the Erlang loss system
    assert mmck(c, c, a).blocking == pytest.approx(erlang_b(c, a), rel=1e-14)
    # a large waiting room with a < c is Erlang C
    q = mmck(c, c + 2_000, a)
    assert q.wait_prob == pytest.approx(erlang_c(c, a), rel=1e-13)
    mean_queue_mmc = erlang_c(c, a) * a / (c - a)
    assert q.mean_queue == pytest.approx(mean_queue_mmc, rel=1e-13)


def test_mmck_huge_and_overloaded():
    # 1e7 servers with 1e7 waiting places at 1.001 utilisation, no overflow
    q = mmck(10_000_000, 20_000_000, 10_010_000.0, mean_service_time=0.5)
    assert 0 < q.blocking < 1 and np.isfinite(q.mean_queue)
    # Heavy overload: blocking -> 1 - c / a, the queue is nearly full
    q = mmck(10, 1_010, 40.0)
    assert q.blocking == pytest.approx(1 - 10 / 40, rel=1e-12)
    assert q.mean_queue == pytest.approx(1_000 - 1 / 3, rel=1e-9)
    # throughput = carried load / mean service time; utilisation < 1
    q = mmck(10, 15, 12.0, mean_service_time=2.0)
    assert q.throughput == pytest.approx(12.0 * (1 - q.blocking) / 2.0)
    assert q.utilisation < 1
    assert q.mean_in_system == pytest.approx(q.mean_queue + q.carried_load)


def test_mmck_zero_load_and_broadcasting():
    q = mmck(3, 5, 0.0)
    assert q.blocking == 0 and q.mean_queue == 0 and q.mean_wait == 0 and q.wait_prob == 0
    q = mmck(np.array([1, 2, 3]), np.array([[3], [6]]), 2.0)
    assert q.blocking.shape == (2, 3)
    assert q.blocking[1, 2] == mmck(3, 6, 2.0).blocking
