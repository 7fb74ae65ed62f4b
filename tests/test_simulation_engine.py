"""The simulator's exact shortcuts give the same results as the general paths.

A fixed client timeout is checked from a FIFO (the waiting line itself, in arrival
order) instead of the event heap; a timeout drawn from a distribution still goes
through the heap. Both must give identical per-interval results, and the heap path
must still agree with queueing theory.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capplan.simulation import (
    Deterministic,
    Empirical,
    Exponential,
    ExponentialBackoff,
    ImmediateRetry,
    LogNormal,
    RetryBudget,
    SimulationSpec,
    simulate,
)

# 20 workers of mean 0.1 s (200/s); first tries 120/s with a 30-s flood of 400/s.
STORM_RATES = np.r_[np.full(30, 120.0), np.full(30, 400.0), np.full(60, 120.0)]

FIXED_TIMEOUT_SCENARIOS = {
    "serve, retries": dict(
        arrival_rate=9.5,
        service_time=LogNormal(1.0, 2.0),
        servers=10,
        duration=2000.0,
        interval=10.0,
        timeout=5.0,
        retry=ExponentialBackoff(max_retries=3),
    ),
    "drop, retries": dict(
        arrival_rate=9.5,
        service_time=LogNormal(1.0, 2.0),
        servers=10,
        duration=2000.0,
        interval=10.0,
        timeout=5.0,
        on_timeout="drop",
        retry=ExponentialBackoff(max_retries=3),
    ),
    "retry storm": dict(
        arrival_rate=STORM_RATES,
        service_time=0.1,
        servers=20,
        buffer=1000,
        timeout=1.0,
        retry=ImmediateRetry(delay=0.5, max_retries=5),
    ),
    "storm, buffer and budget": dict(
        arrival_rate=STORM_RATES,
        service_time=0.1,
        servers=20,
        buffer=50,
        timeout=1.0,
        retry=ImmediateRetry(
            delay=0.2, max_retries=None, budget=RetryBudget(ratio=0.1, window=5.0, min_per_s=1.0)
        ),
    ),
    "workers change, outage": dict(
        arrival_rate=np.r_[np.full(40, 5.0), np.full(40, 30.0), np.full(40, 5.0)],
        service_time=0.5,
        servers=np.r_[np.full(40, 4), np.full(20, 8), np.zeros(10, int), np.full(50, 2)],
        timeout=2.0,
        retry=ExponentialBackoff(max_retries=3),
    ),
    "replayed counts, drop": dict(
        arrival_counts=np.r_[np.full(50, 30), np.full(50, 90), np.full(50, 10)],
        service_time=Deterministic(0.2),
        servers=12,
        timeout=1.5,
        on_timeout="drop",
        retry=ExponentialBackoff(max_retries=3, jitter="equal"),
    ),
}


def _same_results(a, b):
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame(), check_exact=True)
    q = [0.5, 0.9, 0.99, 0.999]
    np.testing.assert_array_equal(a.wait_quantile(q), b.wait_quantile(q))
    for key in ("retries_scheduled_at_end", "ring_capacity", "longest_line"):
        assert a.diagnostics[key] == b.diagnostics[key]


@pytest.mark.parametrize("name", list(FIXED_TIMEOUT_SCENARIOS))
def test_fixed_timeouts_from_the_fifo_match_the_event_heap(name):
    spec = SimulationSpec.build(**FIXED_TIMEOUT_SCENARIOS[name])
    for seed in (1, 2):
        fifo = spec._run(seed, timeout_fifo=True)
        heap = spec._run(seed, timeout_fifo=False)
        assert fifo.to_frame()["abandoned"].sum() > 0  # the timeouts did something
        _same_results(fifo, heap)
        # The FIFO keeps the timeouts out of the heap: it only holds retries.
        assert fifo.diagnostics["event_heap_capacity"] <= heap.diagnostics["event_heap_capacity"]


@pytest.mark.parametrize("name", ["serve, retries", "drop, retries", "retry storm"])
def test_a_one_value_timeout_distribution_matches_the_fixed_timeout(name):
    # Empirical([T]) is the fixed timeout T drawn from a distribution: the heap path,
    # with draws from the timeouts' own stream (which nothing else uses).
    kw = FIXED_TIMEOUT_SCENARIOS[name]
    fixed = simulate(**kw, seed=5)
    drawn = simulate(**{**kw, "timeout": Empirical([kw["timeout"]])}, seed=5)
    _same_results(fixed, drawn)


def test_serve_mode_with_exponential_timeouts_wastes_what_theory_says():
    # M/M/c in "serve" mode without retries: timeouts leave the queue alone. An answer is
    # wasted when W + B exceeds the client's timeout T ~ Exp(theta), independent:
    # P = 1 - E[exp(-theta W)] E[exp(-theta B)], W = 0 w.p. 1 - C, else Exp(delta).
    lam, mu, c, theta = 4.5, 1.0, 5, 0.5
    a = lam / mu
    below = sum(a**k / math.factorial(k) for k in range(c))
    top = a**c / math.factorial(c) * c / (c - a)
    erlang_c = top / (below + top)
    delta = c * mu - lam
    wait_lst = (1 - erlang_c) + erlang_c * delta / (delta + theta)
    wasted = 1 - wait_lst * mu / (mu + theta)
    shares = []
    for seed in range(6):
        r = simulate(lam, 1 / mu, c, 20_000, timeout=Exponential(1 / theta), warmup=200, seed=seed)
        shares.append(r.wasted / (r.wasted + r.served))
    shares = np.array(shares)
    se = shares.std(ddof=1) / math.sqrt(shares.size)
    assert se < 0.02 * wasted
    assert abs(shares.mean() - wasted) < 4 * se, (shares.mean(), wasted, se)


# Many workers (64 or more), so that workers done at once leave their heap in bulk; the
# workers only grow or lose idle ones, so that no choice of a busy worker to remove comes in.
MANY_WORKERS_SCENARIOS = {
    "steady, lognormal": dict(
        arrival_rate=1900.0,
        service_time=LogNormal(0.05, 2.0),
        servers=120,
        duration=200.0,
        timeout=2.0,
    ),
    "flood, queue, retries": dict(
        arrival_rate=np.r_[np.full(20, 2000.0), np.full(10, 6000.0), np.full(30, 2000.0)],
        service_time=LogNormal(0.05, 2.0),
        servers=np.r_[np.full(25, 150), np.full(35, 300)],
        buffer=5000,
        timeout=1.0,
        retry=ExponentialBackoff(base=0.2, max_retries=3),
    ),
    "workers added while requests wait": dict(
        arrival_rate=np.r_[np.full(10, 1000.0), np.full(10, 3000.0), np.full(20, 1000.0)],
        service_time=Exponential(0.05),
        servers=np.r_[np.full(15, 100), np.full(5, 200), np.full(20, 400)],
        timeout=Exponential(1.0),
        on_timeout="drop",
    ),
    "replayed counts": dict(
        arrival_counts=np.r_[np.full(20, 2000), np.full(10, 4500), np.full(20, 2000)],
        service_time=LogNormal(0.05, 2.0),
        servers=np.r_[np.full(20, 120), np.full(30, 200)],
        buffer=3000,
        timeout=1.0,
        retry=ExponentialBackoff(base=0.2, max_retries=3),
    ),
    "idle workers removed": dict(
        arrival_rate=np.r_[np.full(20, 3000.0), np.full(20, 200.0)],
        service_time=Deterministic(0.05),
        servers=np.r_[np.full(25, 200), np.full(15, 80)],
        timeout=0.5,
    ),
}


@pytest.mark.parametrize("name", list(MANY_WORKERS_SCENARIOS))
def test_shortcuts_for_many_idle_workers_give_the_same_results(name):
    # Workers done at once leave their heap in bulk; first tries that find the line
    # empty and workers idle go through a loop of their own.
    spec = SimulationSpec.build(**MANY_WORKERS_SCENARIOS[name])
    for seed in (1, 2):
        bulk = spec._run(seed)
        plain = spec._run(seed, timeout_fifo=False, bulk_release=False, at_once=False)
        _same_results(bulk, plain)
        _same_results(bulk, spec._run(seed, at_once=False))
        _same_results(bulk, spec._run(seed, bulk_release=False))
        assert bulk.to_frame()["draining"].sum() == 0  # no busy worker was removed


@settings(max_examples=25, deadline=None)
@given(
    rates=st.lists(st.floats(100.0, 6000.0), min_size=6, max_size=6),
    servers=st.lists(st.integers(0, 300), min_size=6, max_size=6).filter(any).map(sorted),
    buffer=st.one_of(st.none(), st.integers(0, 2000)),
    timeout=st.sampled_from([None, 0.2, 1.0, Exponential(0.5)]),
    drop=st.booleans(),
    retry=st.sampled_from([None, ExponentialBackoff(base=0.1, max_retries=3), ImmediateRetry()]),
    seed=st.integers(0, 2**32),
)
def test_every_shortcut_gives_the_general_loop_s_results(
    rates, servers, buffer, timeout, drop, retry, seed
):
    # Workers never removed (sorted): no arbitrary choice of a busy one to remove.
    spec = SimulationSpec.build(
        rates,
        LogNormal(0.05, 2.0),
        servers,
        interval=2.0,
        buffer=buffer,
        timeout=timeout,
        on_timeout="drop" if drop else "serve",
        retry=retry,
    )
    fast = spec._run(seed)
    plain = spec._run(seed, timeout_fifo=False, bulk_release=False, at_once=False)
    _same_results(fast, plain)


@settings(max_examples=25, deadline=None)
@given(
    rates=st.lists(st.floats(100.0, 6000.0), min_size=6, max_size=6),
    servers=st.lists(st.integers(0, 300), min_size=6, max_size=6).filter(any),
    timeout=st.sampled_from([None, 0.5, Exponential(0.5)]),
    drop=st.booleans(),
    seed=st.integers(0, 2**32),
)
def test_many_workers_coming_and_going_account_for_every_request(
    rates, servers, timeout, drop, seed
):
    r = simulate(
        rates,
        LogNormal(0.05, 2.0),
        servers,
        interval=2.0,
        buffer=1000,
        timeout=timeout,
        on_timeout="drop" if drop else "serve",
        retry=ExponentialBackoff(base=0.1, max_retries=3),
        seed=seed,
    )
    f = r.to_frame()
    tot = f.sum()
    assert (f["arrivals"] == f["refused"] + f["admitted"]).all()
    assert (f["started"] == f["served"] + f["wasted"]).all()
    left_queue = tot["started"] + (tot["abandoned"] if drop else 0)
    assert tot["admitted"] == left_queue + f["queue"].iloc[-1]
    pending = r.diagnostics["retries_scheduled_at_end"]
    assert tot["refused"] + tot["abandoned"] == tot["retries"] + pending + tot["failed"]
    # Workers serving never exceed those there plus the removed ones finishing.
    assert (f["busy"] <= f["servers"] + f["draining"]).all()
    assert (f["busy_mean"] <= f["servers"] + f["draining_mean"] + 1e-9).all()
