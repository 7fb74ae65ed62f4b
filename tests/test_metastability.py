"""The tipping point of a retry storm: mean-field thresholds against mpmath, properties,
and simulation of the bistable band (capplan.queueing.metastability, planning.tipping).

The reference is computed independently with mpmath at 30 digits: Erlang B as
``P[N = c] / P[N <= c]`` from mpmath's own regularised incomplete gamma (checked against
the textbook recursion ``B_k = a B_{k-1} / (k + a B_{k-1})`` at small ``c``), Erlang C
as ``c B / (c - a (1 - B))``, the fold by golden-section search of ``h(L) = L / (1 + f +
... + f^R)`` over ``[0, c / s]``, the fixed points by bisection of ``h(L) = lambda``.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pandas as pd
import pytest

from capplan.planning import JoinForecast, JoinService, plan_event
from capplan.planning.tipping import (
    down_intervals,
    phase_chart,
    plan_tipping,
    recovery_time,
    tipping_phase,
)
from capplan.queueing.metastability import Metastability, metastability
from capplan.simulation import ImmediateRetry, simulate

mp.mp.dps = 30

# --- the mpmath reference ---------------------------------------------------------------


def mp_erlang_b(c: int, a):
    """``P[N = c] / P[N <= c]``, ``N ~ Poisson(a)``, by mpmath's incomplete gamma."""
    a = mp.mpf(a)
    log_pmf = c * mp.log(a) - a - mp.loggamma(c + 1)
    return mp.exp(log_pmf) / mp.gammainc(c + 1, a, mp.inf, regularized=True)


def mp_erlang_b_recursion(c: int, a):
    b = mp.mpf(1)
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def mp_timeout_prob(c, s, t, rate):
    s, t = mp.mpf(s), mp.mpf(t)
    a = mp.mpf(rate) * s
    if a >= c:
        return mp.mpf(1)
    b = mp_erlang_b(c, a)
    erl_c = c * b / (c - a * (1 - b))
    return erl_c * mp.exp(-(c - a) * t / s)


def mp_fresh(c, s, t, r, rate):
    f = mp_timeout_prob(c, s, t, rate)
    return mp.mpf(rate) / mp.fsum(f**k for k in range(r + 1))


def mp_fold(c, s, t, r, iterations=110):
    """Golden-section search of the maximum of h on [0, c / s]."""
    lo, hi = mp.mpf(0), mp.mpf(c) / mp.mpf(s)
    g = (mp.sqrt(5) - 1) / 2
    x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
    h1, h2 = mp_fresh(c, s, t, r, x1), mp_fresh(c, s, t, r, x2)
    for _ in range(iterations):
        if h1 < h2:
            lo, x1, h1 = x1, x2, h2
            x2 = lo + g * (hi - lo)
            h2 = mp_fresh(c, s, t, r, x2)
        else:
            hi, x2, h2 = x2, x1, h1
            x1 = hi - g * (hi - lo)
            h1 = mp_fresh(c, s, t, r, x1)
    x = (lo + hi) / 2
    return x, mp_fresh(c, s, t, r, x)


def mp_root(c, s, t, r, lam, lo, hi, iterations=100):
    """Bisection of h(L) = lam on [lo, hi] (a bracket)."""
    lo, hi, lam = mp.mpf(lo), mp.mpf(hi), mp.mpf(lam)
    f_lo = mp_fresh(c, s, t, r, lo) - lam
    for _ in range(iterations):
        mid = (lo + hi) / 2
        f_mid = mp_fresh(c, s, t, r, mid) - lam
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return (lo + hi) / 2


def rel(x, ref) -> float:
    return float(abs((mp.mpf(x) - ref) / ref))


CASES = [
    # servers, mean service (s), timeout (s), retries
    (10, 0.1, 0.5, 3),
    (100, 0.05, 0.2, 2),
    (10_000, 0.1, 1.0, 3),
]


@pytest.mark.parametrize("c", [5, 37])
def test_reference_erlang_b_two_ways(c):
    a = mp.mpf(c) * mp.mpf("0.93")
    assert rel(mp_erlang_b(c, a), mp_erlang_b_recursion(c, a)) < 1e-25


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"c={c[0]}")
def test_thresholds_and_fold_against_mpmath(case):
    c, s, t, r = case
    m = metastability(c, s, t, r)
    fold_rate, critical = mp_fold(c, s, t, r)
    low = mp.mpf(c) / mp.mpf(s) / (r + 1)
    assert rel(m.fresh_rate_low, low) < 1e-15
    # the fold's value: flat maximum, so exact to a few ulps
    assert rel(m.fresh_rate_critical, critical) < 1e-14
    # its location is fixed only to about sqrt(eps) by the value
    assert rel(m.attempt_rate_fold, fold_rate) < 1e-8
    assert m.bistable


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"c={c[0]}")
def test_fixed_points_against_mpmath(case):
    c, s, t, r = case
    m0 = metastability(c, s, t, r)
    fold_rate, critical = mp_fold(c, s, t, r)
    low = m0.fresh_rate_low
    capacity = mp.mpf(c) / mp.mpf(s)
    lams = [0.5 * low, low + 0.5 * (float(critical) - low), 0.999 * float(critical)]
    m = metastability(c, s, t, r, arrival_rate=lams)
    assert list(m.state) == ["good only", "bistable", "bistable"]
    for i, lam in enumerate(lams):
        good = mp_root(c, s, t, r, lam, 0, fold_rate)
        assert rel(m.attempt_rate_good[i], good) < 1e-13
        if i > 0:
            unstable = mp_root(c, s, t, r, lam, fold_rate, capacity)
            assert rel(m.attempt_rate_unstable[i], unstable) < 1e-13
            assert m.attempt_rate_failed[i] == pytest.approx(lam * (r + 1), rel=1e-15)
            # each is a fixed point of L = lam (1 + f + ... + f^R)
            # (h is steep there: an ulp of L moves h by ~1e-12 relative)
            assert rel(lam, mp_fresh(c, s, t, r, m.attempt_rate_unstable[i])) < 1e-10
        else:
            assert math.isnan(m.attempt_rate_unstable[i])
            assert math.isnan(m.attempt_rate_failed[i])


def test_the_good_state_vanishes_at_the_fold():
    c, s, t, r = 10, 0.1, 0.5, 3
    _, critical = mp_fold(c, s, t, r)
    crit = float(critical)
    m = metastability(c, s, t, r, arrival_rate=[crit * (1 - 1e-9), crit * (1 + 1e-9)])
    assert list(m.state) == ["bistable", "failed only"]
    assert np.isfinite(m.attempt_rate_good[0]) and np.isfinite(m.attempt_rate_unstable[0])
    # just below the fold the two states nearly meet at the fold's attempt rate
    assert m.attempt_rate_good[0] == pytest.approx(m.attempt_rate_fold, rel=1e-3)
    assert m.attempt_rate_unstable[0] == pytest.approx(m.attempt_rate_fold, rel=1e-3)
    assert np.isnan(m.attempt_rate_good[1]) and np.isnan(m.attempt_rate_unstable[1])
    assert m.attempt_rate_failed[1] == pytest.approx(crit * (1 + 1e-9) * (r + 1))


def test_ten_million_servers_is_finite_and_ordered():
    m = metastability(10_000_000, 0.1, 1.0, 3, arrival_rate=[5e7, 99_999_999.0])
    assert m.fresh_rate_low < m.fresh_rate_critical < m.capacity_rate
    assert m.fresh_rate_critical == pytest.approx(m.capacity_rate, rel=1e-6)
    assert list(m.state) == ["bistable", "failed only"]
    assert m.attempt_rate_good[0] == pytest.approx(5e7, rel=1e-12)


# --- properties ---------------------------------------------------------------------


@pytest.mark.parametrize("c", [1, 10, 100, 10_000])
def test_more_retries_lower_the_critical_rate(c):
    crit = [metastability(c, 0.1, 0.5, r).fresh_rate_critical for r in range(1, 7)]
    low = [metastability(c, 0.1, 0.5, r).fresh_rate_low for r in range(1, 7)]
    # strictly lower in exact arithmetic; at 10 000 servers f at the fold is so small that
    # f**4 and beyond fall below an ulp of the rate
    assert np.all(np.diff(crit) <= 0) and np.diff(crit)[0] < 0
    if c <= 100:
        assert np.all(np.diff(crit) < 0)
    assert np.all(np.diff(low) < 0)
    assert np.all(np.array(crit) > np.array(low))


@pytest.mark.parametrize("c", [1, 10, 1000])
def test_no_retries_is_monostable(c):
    m = metastability(c, 0.2, 1.0, 0, arrival_rate=np.linspace(0, 2 * c / 0.2, 41))
    assert not m.bistable
    assert m.fresh_rate_low == m.fresh_rate_critical == pytest.approx(c / 0.2)
    assert "bistable" not in set(m.state)
    assert np.all(np.isnan(m.attempt_rate_unstable))
    good = m.state == "good only"
    np.testing.assert_allclose(m.attempt_rate_good[good], m.arrival_rate[good], rtol=1e-14)


def test_longer_timeouts_widen_the_good_side():
    crit = [metastability(50, 0.1, t, 3).fresh_rate_critical for t in (0.05, 0.2, 1.0, 5.0)]
    assert np.all(np.diff(crit) > 0)
    assert crit[-1] < 500.0


def test_curve_is_single_humped_below_capacity():
    for c, s, t, r in [(1, 1.0, 0.1, 1), (3, 0.1, 2.0, 5), (200, 0.05, 0.05, 2), *CASES]:
        m = metastability(c, s, t, r)
        rates = np.linspace(0, m.capacity_rate, 4001)
        h = m.fresh_rate(rates)
        top = int(np.argmax(h))
        assert np.all(np.diff(h[: top + 1]) >= 0)
        assert np.all(np.diff(h[top:]) <= 1e-12 * m.capacity_rate)
        assert h.max() <= m.fresh_rate_critical * (1 + 1e-14)


def test_result_face_and_scalar_input():
    m = metastability(20, 0.1, 1.0, 3, arrival_rate=120.0)
    assert isinstance(m, Metastability)
    assert m.state == "bistable" and np.ndim(m.attempt_rate_good) == 0
    assert m.attempt_rate_good == pytest.approx(120.0)
    summary = m.summary()
    assert summary.loc["fresh_rate_low", "value"] == 50.0
    assert summary.loc["fresh_rate_critical", "unit"] == "first tries/s"
    frame = m.to_frame()
    assert frame.shape == (1, 6) and frame["state"].iloc[0] == "bistable"
    assert "bistable for fresh rates" in str(m)
    assert metastability(20, 0.1, 1.0, 3).to_frame().empty
    assert m.timeout_prob(200.0) == 1.0 and m.timeout_prob(0.0) == 0.0
    with pytest.raises(AttributeError):
        m.servers = 3  # frozen


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"servers": 2.5}, "servers"),
        ({"servers": 0}, "servers"),
        ({"servers": True}, "servers"),
        ({"mean_service_s": 0.0}, "mean_service_s"),
        ({"mean_service_s": -1.0}, "mean_service_s"),
        ({"timeout_s": -0.1}, "timeout_s"),
        ({"timeout_s": float("nan")}, "timeout_s"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"max_retries": -1}, "max_retries"),
        ({"arrival_rate": [1.0, -2.0]}, "arrival_rate"),
        ({"arrival_rate": "fast"}, "arrival_rate"),
    ],
)
def test_bad_input_names_the_argument(kwargs, words):
    args = {"servers": 10, "mean_service_s": 0.1, "timeout_s": 1.0, "max_retries": 3, **kwargs}
    with pytest.raises(ValueError, match=words):
        metastability(**args)


# --- simulation: the bistable band ------------------------------------------------------

# 20 servers, 0.1 s mean service (200 attempts/s), timeout 1 s, 3 immediate retries:
# bistable for fresh rates in [50, 193.87) /s; the path runs at 120 first tries/s.
C, S, T, R = 20, 0.1, 1.0, 3
FRESH = 120.0
SEEDS = (11, 12, 13)


def _path(trigger_rate, trigger_s, retries=R, after_s=60.0, seed=0):
    lead = 10
    n = lead + int(trigger_s) + int(after_s)
    rates = np.full(n, FRESH)
    rates[lead : lead + int(trigger_s)] += trigger_rate
    result = simulate(
        arrival_rate=rates,
        service_time=S,
        servers=C,
        timeout=T,
        on_timeout="serve",  # timed-out work is still done, as in the mean field
        retry=ImmediateRetry(max_retries=retries),
        seed=seed,
    )
    return result.to_frame(), lead + trigger_s


def test_model_puts_the_simulated_path_in_the_band():
    m = metastability(C, S, T, R, arrival_rate=FRESH)
    assert m.state == "bistable"
    assert m.fresh_rate_low == 50.0
    assert 190 < m.fresh_rate_critical < 197
    # the simulator's timeout bounds wait + service: the band barely moves for T - s
    assert metastability(C, S, T - S, R).fresh_rate_critical > 0.9 * m.fresh_rate_critical


@pytest.mark.parametrize("seed", SEEDS)
def test_no_trigger_stays_good(seed):
    frame, _ = _path(0.0, 0, after_s=120.0, seed=seed)
    assert not down_intervals(frame, T, S).any()
    assert frame["retries"].sum() < 0.001 * frame["first_tries"].sum()


@pytest.mark.parametrize("seed", SEEDS)
def test_trigger_below_the_fold_recovers(seed):
    # 165 first tries/s keeps a good state, below the unstable one at 120/s
    frame, end = _path(45.0, 20, seed=seed)
    assert recovery_time(frame, end, T, S) == 0.0


@pytest.mark.parametrize("seed", SEEDS)
def test_long_trigger_above_the_fold_stays_failed(seed):
    # 250 first tries/s leaves no good state; after 20 s the path is past the unstable one
    frame, end = _path(130.0, 20, seed=seed)
    assert math.isnan(recovery_time(frame, end, T, S))
    last = frame.iloc[-20:]
    # the failed state of the mean field: every attempt times out and is retried R times,
    # L = lambda (R + 1) = 480 attempts/s, and almost none is answered in time
    assert last["arrivals"].sum() == pytest.approx((R + 1) * last["first_tries"].sum(), rel=0.03)
    assert last["served"].sum() < 0.01 * last["first_tries"].sum()
    assert (np.diff(last["queue"]) > 0).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_short_trigger_above_the_fold_recovers(seed):
    # the same overload for 1 s does not reach the unstable state
    frame, end = _path(130.0, 1, seed=seed)
    assert recovery_time(frame, end, T, S) == 0.0


@pytest.mark.parametrize("seed", SEEDS)
def test_without_retries_the_same_trigger_recovers(seed):
    # R = 0 is monostable: at 120/s (below capacity) there is only the good state
    frame, end = _path(130.0, 20, retries=0, seed=seed)
    assert recovery_time(frame, end, T, S) < 30.0


# --- the phase table ------------------------------------------------------------------


def test_phase_table_two_by_two():
    table = tipping_phase(
        C,
        S,
        T,
        R,
        fresh_rate=FRESH,
        trigger_sizes=[45.0, 130.0],
        trigger_durations_s=[1.0, 20.0],
        after_s=40.0,
        replications=2,
        seed=3,
    )
    assert len(table) == 4
    outcome = dict(
        zip(zip(table["size"], table["duration_s"], strict=True), table["outcome"], strict=True)
    )
    assert outcome[(45.0, 1.0)].startswith("recovers in")
    assert outcome[(45.0, 20.0)].startswith("recovers in")
    assert outcome[(130.0, 1.0)].startswith("recovers in")
    assert outcome[(130.0, 20.0)] == "stays down"
    assert table["no_good_state"].tolist() == [False, False, True, True]
    assert table.attrs["state"] == "bistable"
    assert table.attrs["fresh_rate_low"] == 50.0
    again = tipping_phase(
        C, S, T, R, FRESH, [45.0, 130.0], [1.0, 20.0], after_s=40.0, replications=2, seed=3
    )
    assert table["outcome"].equals(again["outcome"])
    chart = phase_chart(table)
    spec = chart.to_dict()
    assert "layer" in spec


def test_phase_table_remedies_and_capacity_loss():
    table = tipping_phase(
        C,
        S,
        T,
        R,
        fresh_rate=FRESH,
        trigger_sizes=[0.6],
        trigger_durations_s=[20.0],
        kind="capacity_loss",
        after_s=40.0,
        replications=1,
        remedy=[None, "backoff", "budget", "shedding"],
    )
    outcome = dict(zip(table["remedy"], table["outcome"], strict=True))
    # 8 servers left hold 80 attempts/s: no good state at 120/s
    assert table["no_good_state"].all()
    assert outcome["none"] == "stays down"
    assert outcome["backoff"] == "stays down"  # back-off alone keeps R retries per client
    assert outcome["budget"].startswith("recovers")
    assert outcome["shedding"].startswith("recovers")
    assert "facet" in phase_chart(table).to_dict()


def test_a_draining_path_is_extrapolated_to_its_recovery():
    # a retry budget keeps the attempts within capacity: the long trigger's backlog drains,
    # too slowly to clear in 40 s; the extrapolation agrees with a run long enough to see it
    short = tipping_phase(
        C, S, T, R, FRESH, [130.0], [20.0], remedy="budget", after_s=40.0, replications=2, seed=3
    )
    long = tipping_phase(
        C, S, T, R, FRESH, [130.0], [20.0], remedy="budget", after_s=400.0, replications=2, seed=3
    )
    assert short["draining"].item() == 2 and "still draining" in short["outcome"].item()
    assert long["draining"].item() == 0 and long["stays_down"].item() == 0
    assert short["recovery_s"].item() > 40.0
    assert short["recovery_s"].item() == pytest.approx(long["recovery_s"].item(), rel=0.25)
    assert "drains slowly" in str(phase_chart(short).to_dict())


# --- a plan's own join path -------------------------------------------------------------


@pytest.fixture(scope="module")
def flood_plan():
    """A plan for a two-minute flood of 200 joins/s between 20/s before and 12/s after
    (0.1 s of work per join, exponential)."""
    t = np.arange(-300, 900)
    rates = np.where((t >= 0) & (t < 120), 200.0, np.where(t < 0, 20.0, 12.0))
    fc = JoinForecast.from_rates(pd.Series(rates, index=pd.RangeIndex(-300, 900)), factor=1.0)
    return plan_event(
        fc,
        ("exponential", {"mean_s": 300.0}),
        window=(-300, 900),
        service=JoinService(0.1),
        streams_per_server=1e6,
        lobby_start_s=None,
    )


def test_plan_tipping_runs_the_plans_own_path(flood_plan):
    frame = flood_plan.to_frame()
    table = plan_tipping(
        flood_plan,
        [0.25, 1.0],
        [15, 60],
        queue_limit=False,
        retry=ImmediateRetry(max_retries=3),
        replications=2,
        seed=1,
    )
    # the operating points, read off the plan by hand
    rates = frame["join_rate_per_s"].tolist()
    i_peak = rates.index(max(rates))
    i_after = next(i for i in range(i_peak + 1, len(rates)) if rates[i] <= 0.1 * rates[i_peak])
    points = table.attrs["points"]
    for label, i in (("peak", i_peak), ("after", i_after)):
        start = frame.index[i]
        workers = int(frame["workers"].iloc[i])
        assert points.at[label, "at_s"] == start
        assert points.at[label, "servers"] == workers
        assert points.at[label, "fresh_rate"] == rates[i]
        assert points.at[label, "state"] == "bistable"
        rows = table[table["at"] == label]
        assert np.allclose(rows["size"], rows["share"] * workers / 0.1)
    assert points["queue_limit"].eq(-1).all()

    outcome = table.set_index(["at", "remedy", "share", "duration_s"])["outcome"]
    # at the peak, a capacity-sized attack for a minute leaves no good state and tips the
    # path; a quarter of it for 15 s does not reach the unstable state
    assert outcome["peak", "none", 1.0, 60.0] == "stays down"
    assert outcome["peak", "none", 0.25, 15.0].startswith("recovers")
    assert table.set_index(["at", "remedy", "share", "duration_s"]).loc[
        ("peak", "none", 1.0, 60.0), "no_good_state"
    ]
    assert outcome["peak", "backoff", 1.0, 60.0] == "stays down"  # back-off keeps R retries
    for remedy in ("shedding", "waiting_room"):  # each removes the failed state
        assert table[table["remedy"] == remedy]["stays_down"].eq(0).all(), remedy
    assert "facet" in phase_chart(table).to_dict()


def test_plan_tipping_keeps_the_plans_queue_limit(flood_plan):
    frame = flood_plan.to_frame()
    table = plan_tipping(flood_plan, [0.5], [15], at="peak", remedy="none", seed=1)
    peak = frame["join_rate_per_s"].idxmax()
    assert table.attrs["points"].at["peak", "queue_limit"] == frame.at[peak, "queue_limit"]
    assert table["remedy"].tolist() == ["none"]


@pytest.mark.parametrize(
    "at, words",
    [("never", "at must be"), (1e6, "outside the plan's window"), ([], "at is empty")],
)
def test_plan_tipping_bad_points(flood_plan, at, words):
    with pytest.raises(ValueError, match=words):
        plan_tipping(flood_plan, at=at)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"kind": "flood"}, "kind"),
        ({"trigger_sizes": [1.5], "kind": "capacity_loss"}, "trigger_sizes"),
        ({"trigger_sizes": []}, "trigger_sizes"),
        ({"trigger_durations_s": [0.5]}, "whole number of intervals"),
        ({"retry": "often"}, "retry"),
        ({"remedy": "prayer"}, "remedy"),
        ({"replications": 0}, "replications"),
        ({"servers": 2.5}, "servers"),
        ({"fresh_rate": -1.0}, "fresh_rate"),
    ],
)
def test_phase_table_bad_input(kwargs, words):
    args = {
        "servers": C,
        "mean_service_s": S,
        "timeout_s": T,
        "retry": R,
        "fresh_rate": FRESH,
        "trigger_sizes": [10.0],
        "trigger_durations_s": [1.0],
        **kwargs,
    }
    with pytest.raises(ValueError, match=words):
        tipping_phase(**args)


@pytest.mark.parametrize("module", ["capplan.queueing.metastability", "capplan.planning.tipping"])
def test_docstring_examples(module):
    import doctest
    import importlib

    failed, tried = doctest.testmod(
        importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert tried > 0 and failed == 0
