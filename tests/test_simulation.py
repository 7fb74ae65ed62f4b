"""The simulator against queueing theory, on its invariants, and at its boundary.

Every theoretical reference is computed here, independently of capplan.queueing:
Erlang C and Erlang A from their textbook birth-death sums (mpmath at 50 digits),
M/M/c/K from its stationary distribution, M/G/1 from Pollaczek-Khinchine, and a
time-varying M_t/M/c_t/K from the exact transient of its Markov chain (matrix
exponentials). A simulated mean agrees when it is within 4 standard errors of the
reference (replications or independent cycles); each test also checks that its
standard error is small enough for the comparison to mean something.
"""

from __future__ import annotations

import doctest
import math
import os
import subprocess
import sys

import mpmath
import numpy as np
import pandas as pd
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

import capplan.simulation
from capplan.charts import simulation_comparison_chart
from capplan.simulation import (
    Deterministic,
    Empirical,
    Exponential,
    ExponentialBackoff,
    Gamma,
    ImmediateRetry,
    LogNormal,
    NoRetry,
    RetryBudget,
    SimulationResult,
    policies,
    service,
    simulate,
    simulator,
)

mpmath.mp.dps = 50
Z = 4.0  # standard errors allowed


def replicate(metric, n, **kwargs):
    """Mean and standard error of ``metric(simulate(..., seed=k))`` over n seeds."""
    values = np.array([metric(simulate(**kwargs, seed=1000 + k)) for k in range(n)])
    return values.mean(), values.std(ddof=1) / math.sqrt(n)


def assert_agrees(mean, se, reference, max_rel_se):
    assert se < max_rel_se * abs(reference), f"too noisy to judge: se={se:.3g}"
    assert abs(mean - reference) < Z * se, f"{mean:.6g} vs {reference:.6g} (se {se:.3g})"


# --- references, written out here ------------------------------------------------


def erlang_c(c, a):
    """Erlang C: probability of waiting in M/M/c with offered load a = lambda/mu < c."""
    a = mpmath.mpf(a)
    top = a**c / mpmath.factorial(c) * c / (c - a)
    return top / (mpmath.fsum(a**k / mpmath.factorial(k) for k in range(c)) + top)


def erlang_a(lam, mu, c, theta, n_max=400):
    """Erlang A (M/M/c+M): P(wait > 0), mean time in queue, P(abandon).

    Birth-death chain: birth lam, death min(n, c) mu + max(n - c, 0) theta.
    """
    p = [mpmath.mpf(1)]
    for n in range(1, n_max):
        p.append(p[-1] * lam / (min(n, c) * mu + max(n - c, 0) * theta))
    total = mpmath.fsum(p)
    wait = mpmath.fsum(p[c:]) / total
    queue = mpmath.fsum((n - c) * p[n] for n in range(c, n_max)) / total
    return float(wait), float(queue / lam), float(theta * queue / lam)


def mmck(lam, mu, c, k):
    """M/M/c with k waiting places: P(refused), P(wait > 0 | admitted), mean wait."""
    n_max = c + k
    p = [mpmath.mpf(1)]
    for n in range(1, n_max + 1):
        p.append(p[-1] * lam / (min(n, c) * mu))
    total = mpmath.fsum(p)
    p = [x / total for x in p]
    admitted = 1 - p[n_max]
    queue = mpmath.fsum((n - c) * p[n] for n in range(c, n_max + 1))
    return float(p[n_max]), float(mpmath.fsum(p[c:n_max]) / admitted), float(queue / lam / admitted)


# --- stationary queues against theory ----------------------------------------------


def test_mmc_agrees_with_erlang_c():
    lam, mu, c = 4.0, 1.0, 5
    C = float(erlang_c(c, lam / mu))
    wq = C / (c * mu - lam)
    kw = dict(arrival_rate=lam, service_time=1 / mu, servers=c, duration=20_000, warmup=200)
    m, se = replicate(lambda r: r.wait_prob, 8, **kw)
    assert_agrees(m, se, C, 0.02)
    m, se = replicate(lambda r: r.mean_wait, 8, **kw)
    assert_agrees(m, se, wq, 0.03)


def test_many_servers_agree_with_erlang_c():
    lam, c = 990.0, 1000  # rho = 0.99
    C = float(erlang_c(c, lam))
    kw = dict(arrival_rate=lam, service_time=1.0, servers=c, duration=1_000, warmup=50)
    m, se = replicate(lambda r: r.wait_prob, 6, **kw)
    assert_agrees(m, se, C, 0.05)
    m, se = replicate(lambda r: r.mean_wait, 6, **kw)
    assert_agrees(m, se, C / (c - lam), 0.08)


def test_mmc_wait_quantiles_follow_the_exponential_tail():
    # P(W > t) = C exp(-(c mu - lambda) t): the q-quantile for q > 1 - C.
    lam, mu, c = 8.0, 1.0, 10
    C = float(erlang_c(c, lam / mu))
    r = simulate(lam, 1 / mu, c, 100_000, warmup=100, seed=5)
    for q in (0.9, 0.99):
        expected = math.log(C / (1 - q)) / (c * mu - lam)
        assert r.wait_quantile(q) == pytest.approx(expected, rel=0.08)
    assert r.wait_quantile(0.0) == 0.0
    assert r.wait_quantile(1 - C - 0.02) == 0.0  # inside the mass of zero waits


def test_mmck_blocking_and_waits_agree_with_the_stationary_distribution():
    lam, mu, c, k = 12.0, 1.0, 10, 5
    block, wait, wq = mmck(lam, mu, c, k)
    kw = dict(arrival_rate=lam, service_time=1 / mu, servers=c, buffer=k, duration=10_000)
    results = [simulate(**kw, warmup=100, seed=s) for s in range(8)]
    for metric, ref in ((lambda r: r.refuse_prob, block), (lambda r: r.wait_prob, wait)):
        values = np.array([metric(r) for r in results])
        assert_agrees(values.mean(), values.std(ddof=1) / math.sqrt(8), ref, 0.02)
    values = np.array([r.mean_wait for r in results])
    assert_agrees(values.mean(), values.std(ddof=1) / math.sqrt(8), wq, 0.03)


def test_loss_system_agrees_with_erlang_b():
    lam, mu, c = 6.0, 1.0, 8
    a = mpmath.mpf(lam / mu)
    b = float(
        a**c / mpmath.factorial(c) / mpmath.fsum(a**j / mpmath.factorial(j) for j in range(c + 1))
    )
    kw = dict(arrival_rate=lam, service_time=1 / mu, servers=c, buffer=0, duration=20_000)
    m, se = replicate(lambda r: r.refuse_prob, 6, **kw)
    assert_agrees(m, se, b, 0.03)


def test_drop_mode_agrees_with_erlang_a():
    lam, mu, c, theta = 12.0, 1.0, 10, 0.5  # overloaded: only abandonment keeps it stable
    wait, wq, ab = erlang_a(lam, mu, c, theta)
    kw = dict(
        arrival_rate=lam,
        service_time=1 / mu,
        servers=c,
        timeout=Exponential(1 / theta),
        on_timeout="drop",
        duration=10_000,
        warmup=100,
    )
    results = [simulate(**kw, seed=s) for s in range(8)]
    for metric, ref in (
        (lambda r: r.wait_prob, wait),
        (lambda r: r.mean_wait, wq),
        (lambda r: r.abandon_prob, ab),
    ):
        values = np.array([metric(r) for r in results])
        assert_agrees(values.mean(), values.std(ddof=1) / math.sqrt(8), ref, 0.02)


def test_serve_mode_wastes_the_answers_that_come_after_the_timeout():
    # "serve" mode without retries leaves the queue an M/M/c; a request is wasted when
    # its response time W + B exceeds the timeout. W is 0 with probability 1 - C and
    # Exp(delta) otherwise (delta = c mu - lambda), B ~ Exp(mu), independent:
    # P(W + B > t) = (1 - C) e^(-mu t) + C (mu e^(-delta t) - delta e^(-mu t)) / (mu - delta).
    lam, mu, c, t = 4.5, 1.0, 5, 2.0
    C = float(erlang_c(c, lam / mu))
    delta = c * mu - lam
    late = (1 - C) * math.exp(-mu * t) + C * (
        mu * math.exp(-delta * t) - delta * math.exp(-mu * t)
    ) / (mu - delta)
    results = [simulate(lam, 1 / mu, c, 20_000, timeout=t, warmup=200, seed=s) for s in range(8)]
    for values, ref in (
        ([r.wasted / (r.wasted + r.served) for r in results], late),
        ([r.mean_wait for r in results], C / delta),  # timeouts leave the queue alone
    ):
        values = np.array(values)
        assert_agrees(values.mean(), values.std(ddof=1) / math.sqrt(8), ref, 0.05)


@pytest.mark.parametrize(
    "dist",
    [Deterministic(1.0), Gamma(1.0, scv=0.5), LogNormal(1.0, scv=1.5), Empirical([0.5, 1.5])],
    ids=lambda d: type(d).__name__,
)
def test_mg1_agrees_with_pollaczek_khinchine(dist):
    lam = 0.7  # rho = 0.7
    wq = lam * dist.mean * (1 + dist.scv) * dist.mean / (2 * (1 - lam * dist.mean))
    m, se = replicate(
        lambda r: r.mean_wait,
        8,
        arrival_rate=lam,
        service_time=dist,
        servers=1,
        duration=40_000,
        warmup=200,
    )
    assert_agrees(m, se, wq, 0.04)


def test_distributions_have_the_mean_and_scv_they_say():
    for d in (Exponential(2.0), Deterministic(0.3), LogNormal(0.2, 1.5), Gamma(3.0, 0.25)):
        x = d.sample(400_000, seed=1)
        assert x.mean() == pytest.approx(d.mean, rel=0.01)
        assert x.var() / x.mean() ** 2 == pytest.approx(d.scv, rel=0.05, abs=1e-9)
    e = Empirical([1.0, 2.0, 3.0])
    assert e.mean == 2.0 and e.scv == pytest.approx((2 / 3) / 4)
    assert set(e.sample(50, seed=2)) <= {1.0, 2.0, 3.0}


# --- time-varying queues ----------------------------------------------------------


def _transient_reference(rates, servers, mu, k, interval):
    """Exact M_t/M/c_t/K: expected queue at each interval end, expected refusals per
    interval, from the empty state. p(t) = p(0) expm(Q t) per interval; the integral
    of p over an interval from the Van Loan block matrix."""
    n_states = max(servers) + k + 1
    p = np.zeros(n_states)
    p[0] = 1.0
    queues, refused = [], []
    for lam, c in zip(rates, servers, strict=True):
        top = c + k
        q = np.zeros((n_states, n_states))
        for n in range(top + 1):
            if n < top:
                q[n, n + 1] = lam
            if n > 0:
                q[n, n - 1] = min(n, c) * mu
        q[np.diag_indices(n_states)] = -q.sum(axis=1)
        block = np.zeros((2 * n_states, 2 * n_states))
        block[:n_states, :n_states] = q
        block[:n_states, n_states:] = np.eye(n_states)
        e = scipy.linalg.expm(block * interval)
        integral = p @ e[:n_states, n_states:]  # int_0^L p(s) ds
        refused.append(lam * integral[top])
        p = p @ e[:n_states, :n_states]
        queues.append(float(np.maximum(np.arange(n_states) - c, 0) @ p))
    return np.array(queues), np.array(refused)


def test_time_varying_rates_and_servers_agree_with_the_exact_transient():
    # A cycle of six busy intervals from an empty system, then a quiet spell long
    # enough to empty it again: 1500 independent cycles in one run.
    interval, mu, k = 5.0, 1.0, 3
    busy_rates = [2.0, 8.0, 8.0, 3.0, 3.0, 3.0]
    busy_servers = [2, 2, 4, 4, 4, 4]  # workers only added while busy: no drain needed
    quiet = 10
    rates = np.tile(busy_rates + [0.0] * quiet, 1500)
    servers = np.tile(busy_servers + [4] * (quiet - 1) + [2], 1500)  # 2 again once empty
    r = simulate(rates, 1 / mu, servers, interval=interval, buffer=k, seed=11)
    frame = r.to_frame()
    cycle = len(busy_rates) + quiet
    ref_queue, ref_refused = _transient_reference(busy_rates, busy_servers, mu, k, interval)
    for column, ref in (("queue", ref_queue), ("refused", ref_refused)):
        samples = frame[column].to_numpy().reshape(-1, cycle)[:, : len(busy_rates)]
        mean = samples.mean(axis=0)
        se = samples.std(axis=0, ddof=1) / math.sqrt(samples.shape[0])
        assert np.all(np.abs(mean - ref) < Z * se + 1e-12), (column, mean, ref, se)
    assert frame["queue"].to_numpy().reshape(-1, cycle)[:, -1].max() == 0


def test_an_outage_holds_requests_until_workers_come_back():
    r = simulate(
        arrival_counts=[5, 0, 0],
        service_time=Deterministic(1.0),
        servers=[0, 5, 1],
        interval=10.0,
        seed=3,
    )
    f = r.to_frame()
    assert f["started"].tolist() == [0, 5, 0]
    assert f["queue"].tolist() == [5, 0, 0]
    assert 0 < f.loc[10.0, "wait_max_s"] <= 10.0
    assert r.wait_prob == 1.0


def test_removed_workers_go_idle_first_and_busy_ones_finish_their_request():
    # Two requests arrive in [0, 1) and take 8 s on two of three workers. At 5 s a
    # worker is removed: the idle one. At 6 s another: a busy one, which finishes its
    # request. The third request (in [5, 6)) waits for the last worker, free in [8, 9).
    r = simulate(
        arrival_counts=[2, 0, 0, 0, 0, 1, 0, 0, 0, 0],
        service_time=Deterministic(8.0),
        servers=[3, 3, 3, 3, 3, 2, 1, 1, 1, 1],
        seed=1,
    )
    f = r.to_frame()
    assert f["started"].tolist() == [2, 0, 0, 0, 0, 0, 0, 0, 1, 0]
    assert 2.0 < f.loc[8.0, "wait_max_s"] < 4.0
    assert f["served"].sum() == 3 and r.queue_at_end == 0


def test_replayed_counts_arrive_exactly():
    counts = np.array([3, 0, 7, 1, 12])
    r = simulate(arrival_counts=counts, service_time=0.01, servers=50, seed=4)
    assert r.to_frame()["first_tries"].tolist() == counts.tolist()
    assert r.spec.duration == 5.0


def test_linear_rates_are_sampled_by_thinning():
    # Rates 0, 10, 0, 10, ... at interval starts: linear gives 5 per interval on
    # average everywhere; steps would give 0 and 10 alternately.
    rates = np.tile([0.0, 10.0], 2000)
    f = simulate(rates, 0.001, 10, rate_shape="linear", seed=8).to_frame()
    counts = f["first_tries"].to_numpy()[:-2].reshape(-1, 2)  # the last interval holds
    se = counts.std(axis=0, ddof=1) / math.sqrt(counts.shape[0])
    assert np.all(np.abs(counts.mean(axis=0) - 5.0) < Z * se)
    assert f["offered_rate_per_s"].iloc[:-1].eq(5.0).all()


# --- retries, storms and their remedies ---------------------------------------------

STORM = dict(
    # 20 workers of mean 0.1 s (200/s); first tries 120/s, with a 30 s flood of 400/s;
    # clients time out after 1 s (their request is still served); 1000 waiting places.
    arrival_rate=np.r_[np.full(60, 120.0), np.full(30, 400.0), np.full(210, 120.0)],
    service_time=0.1,
    timeout=1.0,
    buffer=1000,
)
EAGER = ImmediateRetry(delay=0.5, max_retries=5)
GENTLE = ExponentialBackoff(
    base=1.0,
    max_delay=30.0,
    max_retries=5,
    budget=RetryBudget(ratio=0.1, window=10.0, min_per_s=1.0),
)
BOOST = np.r_[np.full(120, 20), np.full(30, 100), np.full(150, 20)]  # 5x workers for 30 s


def storm_scenarios(seed=7):
    return {
        "eager retries": simulate(**STORM, servers=20, retry=EAGER, seed=seed),
        "back-off + budget": simulate(**STORM, servers=20, retry=GENTLE, seed=seed),
        "eager, 5x workers 120-150 s": simulate(**STORM, servers=BOOST, retry=EAGER, seed=seed),
    }


def _tail(result, start=240.0):
    return result.to_frame().loc[start:]


def test_a_retry_storm_outlives_the_flood_and_remedies_end_it():
    runs = storm_scenarios()
    storm, budget, boost = runs.values()
    for r in runs.values():  # healthy before the flood
        head = r.to_frame().loc[:59.0]
        assert (
            head["queue_mean"].mean() < 5
            and head["served"].sum() >= 0.99 * head["first_tries"].sum()
        )

    # Metastable: 150 s after the flood, first tries are back at 120/s, well under the
    # 200/s capacity, yet the line stays full, nearly every answer comes too late,
    # and retries multiply the load.
    tail = _tail(storm)
    assert tail["queue_mean"].mean() > 950
    assert tail["served"].sum() < 0.02 * tail["first_tries"].sum()
    assert tail["arrivals"].sum() > 4 * tail["first_tries"].sum()

    # Back-off with a retry budget, or workers added for a while, end the storm; with
    # the boost the workers are back to 20 at the end, as in the storm.
    for r in (budget, boost):
        tail = _tail(r)
        assert tail["queue_mean"].mean() < 5
        assert tail["served"].sum() > 0.99 * tail["first_tries"].sum()
        assert tail["retries"].sum() < 0.01 * tail["first_tries"].sum()
    assert boost.spec.servers[-1] == storm.spec.servers[-1] == 20

    chart = simulation_comparison_chart(runs, title="Retry storm and remedies")
    spec = chart.to_dict()
    assert spec["title"] == "Retry storm and remedies" and len(spec["vconcat"]) == 3
    storm.chart().to_dict()


def test_memory_stays_bounded_in_a_storm():
    short = simulate(**STORM, servers=20, retry=EAGER, seed=1)
    rates = np.r_[STORM["arrival_rate"], np.full(900, 120.0)]
    long = simulate(**{**STORM, "arrival_rate": rates}, servers=20, retry=EAGER, seed=1)
    assert long.customers > 3 * short.customers
    assert long.to_frame()["queue"].iloc[-1] >= 990  # still in the storm
    for key in ("ring_capacity", "event_heap_capacity"):
        assert long.diagnostics[key] == short.diagnostics[key] <= 8192


def test_retry_caps_and_budgets_hold():
    capped = simulate(**STORM, servers=20, retry=ImmediateRetry(delay=0.5, max_retries=2), seed=2)
    assert capped.retries <= 2 * capped.first_tries
    budget = RetryBudget(ratio=0.05, window=5.0, min_per_s=2.0)
    r = simulate(
        **STORM,
        servers=20,
        retry=ImmediateRetry(delay=0.5, max_retries=None, budget=budget),
        seed=2,
    )
    assert 0 < r.retries <= 1.2 * (0.05 * r.first_tries + 2.0 * r.spec.duration)
    none = simulate(**STORM, servers=20, retry=NoRetry(), seed=2)
    assert none.retries == 0 and none.failed > 0


def test_drop_mode_frees_workers_from_clients_that_left():
    drop = simulate(**STORM, servers=20, retry=EAGER, on_timeout="drop", seed=7)
    assert drop.wasted == 0
    assert _tail(drop)["queue_mean"].mean() < 5  # here dropping is enough to recover


# --- invariants --------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    rate=st.floats(0.1, 20.0),
    mean=st.floats(0.05, 2.0),
    servers=st.lists(st.integers(0, 5), min_size=6, max_size=6).filter(any),
    buffer=st.one_of(st.none(), st.integers(0, 8)),
    timeout=st.one_of(st.none(), st.floats(0.05, 3.0)),
    drop=st.booleans(),
    retry=st.sampled_from([None, EAGER, GENTLE, ImmediateRetry(max_retries=1)]),
    seed=st.integers(0, 2**32),
)
def test_every_request_is_accounted_for(rate, mean, servers, buffer, timeout, drop, retry, seed):
    r = simulate(
        rate,
        LogNormal(mean, 2.0),
        servers,
        interval=5.0,
        buffer=buffer,
        timeout=timeout,
        on_timeout="drop" if drop else "serve",
        retry=retry,
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
    if buffer is not None:
        assert f["queue"].max() <= buffer
    if timeout is None:
        assert tot["abandoned"] == tot["wasted"] == 0
    if drop:
        assert tot["wasted"] == 0
    w = f.dropna(subset=["wait_max_s"])
    assert (w["wait_p50_s"] <= w["wait_p90_s"]).all() and (w["wait_p90_s"] <= w["wait_p99_s"]).all()
    assert (w["wait_p99_s"] <= w["wait_max_s"] + 1e-12).all() and (w["wait_p50_s"] >= 0).all()


# --- reproducibility ----------------------------------------------------------------


def test_same_seed_same_result_different_seed_different_result():
    kw = dict(**STORM, servers=20, retry=GENTLE)
    a, b, c = (simulate(**kw, seed=s) for s in (3, 3, 4))
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    assert not a.to_frame().equals(c.to_frame())
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    pd.testing.assert_frame_equal(
        simulate(**kw, seed=g1).to_frame(), simulate(**kw, seed=g2).to_frame()
    )
    # Same seed, another service: the first tries are the same (common random numbers).
    other = simulate(**{**kw, "service_time": Deterministic(0.1)}, seed=3)
    assert other.to_frame()["first_tries"].equals(a.to_frame()["first_tries"])


def test_the_kernel_runs_as_plain_python_with_the_same_result():
    code = (
        "from capplan.simulation import simulate, ExponentialBackoff, RetryBudget\n"
        "r = simulate([3.0, 9.0, 2.0], 0.5, [2, 3, 1], interval=20, buffer=6, timeout=1.5,\n"
        "    retry=ExponentialBackoff(budget=RetryBudget()), seed=5)\n"
        "print(r.to_frame().to_json())\n"
    )
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    plain = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    r = simulate(
        [3.0, 9.0, 2.0],
        0.5,
        [2, 3, 1],
        interval=20,
        buffer=6,
        timeout=1.5,
        retry=ExponentialBackoff(budget=RetryBudget()),
        seed=5,
    )
    assert plain.strip() == r.to_frame().to_json()


# --- the result's face ----------------------------------------------------------------


def test_result_table_summary_and_chart():
    r = simulate(
        arrival_rate=40.0, service_time=0.1, servers=5, duration=30, timeout=0.5, buffer=20, seed=1
    )
    assert isinstance(r, SimulationResult)
    f = r.to_frame()
    assert len(f) == 30 and f.index.name == "time_s"
    for col in ("first_tries", "retries", "served", "abandoned", "refused", "queue", "wait_p99_s"):
        assert col in f
    s = r.summary()
    assert list(s.columns) == ["value", "unit"] and s.loc["customers", "value"] == r.customers
    assert "wait_prob" in str(r) and "customers" in repr(r)
    spec = r.chart().to_dict()
    assert len(spec["vconcat"]) == 3


def test_long_runs_are_merged_into_wider_steps_for_charts():
    r = simulate(arrival_rate=1.0, service_time=0.1, servers=1, duration=20_000, seed=1)
    data = r.chart().to_dict()["datasets"]
    assert max(len(v) for v in data.values()) <= 5 * 900


def test_partial_last_interval():
    r = simulate(arrival_rate=10.0, service_time=0.1, servers=2, duration=2.5, seed=1)
    f = r.to_frame()
    assert f.index.tolist() == [0.0, 1.0, 2.0] and f["end_s"].iloc[-1] == 2.5


def test_docstring_examples_run():
    for module in (capplan.simulation, simulator, service, policies):
        failures, _ = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert failures == 0, module.__name__


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        (dict(arrival_rate=-1.0), "arrival_rate"),
        (dict(arrival_rate=[1.0, np.nan, 2.0], duration=None), "arrival_rate"),
        (dict(service_time=-0.5), "service_time"),
        (dict(service_time=0.0), "service_time"),
        (dict(duration=-10.0), "duration"),
        (dict(interval=0.0), "interval"),
        (dict(duration=1e7), "interval"),
        (dict(servers=0), "servers"),
        (dict(servers=[0, 0, 0], duration=None), "servers"),
        (dict(servers=2.5), "servers"),
        (dict(servers=-1), "servers"),
        (
            dict(arrival_rate=[1.0, 2.0], servers=[1, 2, 3], duration=None),
            ("arrival_rate", "servers"),
        ),
        (dict(arrival_rate=[1.0, 2.0], duration=100.0), "duration"),
        (dict(timeout=-1.0), "timeout"),
        (dict(buffer=-1), "buffer"),
        (dict(on_timeout="cancel"), "on_timeout"),
        (dict(warmup=100.0), "warmup"),
        (dict(retry="yes"), "retry"),
        (dict(seed="abc"), "seed"),
        (dict(rate_shape="spline"), "rate_shape"),
        (dict(arrival_counts=[1, 2]), "arrival_counts"),
    ],
)
def test_bad_input_names_the_argument(kwargs, names):
    base = dict(arrival_rate=1.0, service_time=0.1, servers=2, duration=10.0)
    with pytest.raises(ValueError) as info:
        simulate(**{**base, **kwargs})
    for name in (names,) if isinstance(names, str) else names:
        assert name in str(info.value)


def test_bad_counts_and_policies_name_the_field():
    with pytest.raises(ValueError, match="arrival_counts must be whole numbers"):
        simulate(arrival_counts=[1, 2.5], service_time=0.1, servers=1)
    with pytest.raises(ValueError, match="max_retries"):
        ImmediateRetry(max_retries=-1)
    with pytest.raises(ValueError, match="retry forever"):
        ImmediateRetry(max_retries=None)
    with pytest.raises(ValueError, match="jitter"):
        ExponentialBackoff(jitter="some")
    with pytest.raises(ValueError, match="RetryBudget: window"):
        RetryBudget(window=0)
    with pytest.raises(ValueError, match="LogNormal: scv"):
        LogNormal(1.0, scv=-1)
    with pytest.raises(ValueError, match="Empirical"):
        Empirical([1.0, -2.0])
