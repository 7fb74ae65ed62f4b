"""Invariants of the queueing formulas, checked by hypothesis over wide ranges."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from capplan.queueing import erlang_a, erlang_b, erlang_c, ggc_mean_wait, mmc, mmck

servers = st.integers(min_value=1, max_value=2_000_000)
utilisation = st.floats(min_value=0.01, max_value=0.9999)
load_any = st.floats(min_value=0.0, max_value=1e7, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(servers, load_any)
def test_probabilities_in_unit_interval(c, a):
    for p in (erlang_b(c, a), erlang_c(c, a), mmck(c, c + 3, a).blocking):
        assert 0.0 <= p <= 1.0


@settings(max_examples=200, deadline=None)
@given(servers, utilisation)
def test_monotone_in_servers_and_load(c, rho):
    a = c * rho
    b, cc = erlang_b(c, a), erlang_c(c, a)
    assert erlang_b(c + 1, a) <= b and erlang_c(c + 1, a) <= cc
    a_up = a * (1 + 1e-3)
    assert erlang_b(c, a_up) >= b and erlang_c(c, a_up) >= cc


@settings(max_examples=200, deadline=None)
@given(servers, utilisation)
def test_c_from_b(c, rho):
    a = c * rho
    b, cc = erlang_b(c, a), erlang_c(c, a)
    assert cc >= b
    if b > 1e-290:
        assert abs(cc - c * b / (c - a * (1 - b))) <= 1e-12 * cc


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=100_000), st.floats(min_value=0.0, max_value=1e6))
def test_mmck_equals_erlang_b_at_k_equal_c(c, a):
    b = erlang_b(c, a)
    assert abs(mmck(c, c, a).blocking - b) <= 1e-12 * b + 1e-300


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=100_000), st.floats(min_value=0.05, max_value=0.95))
def test_mmck_tends_to_erlang_c(c, rho):
    a = c * rho
    room = int(np.ceil(40 / -np.log(rho)))  # rho**room < 1e-17
    q = mmck(c, c + room, a)
    cc = erlang_c(c, a)
    assert abs(q.wait_prob - cc) <= 1e-11 * cc + 1e-300
    assert q.blocking <= 1e-16


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=10_000),
    st.floats(min_value=0.05, max_value=3.0),
    st.floats(min_value=0.01, max_value=100.0),
)
def test_erlang_a_bounds(n, rho, patience):
    q = erlang_a(n, n * rho, 1.0, patience)
    assert 0 <= q.abandon_prob <= q.wait_prob <= 1
    assert q.utilisation <= 1 + 1e-12
    more = erlang_a(n + 1, n * rho, 1.0, patience)
    assert more.abandon_prob <= q.abandon_prob * (1 + 1e-12)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=1_000),
    utilisation,
    st.floats(min_value=0.0, max_value=4.0),
    st.floats(min_value=0.0, max_value=4.0),
)
def test_allen_cunneen_scales_mmc(c, rho, ca2, cs2):
    rate = c * rho / 2.0  # utilisation rho with 2-s service (c * rho was 2 rho: unstable)
    base = mmc(c, rate, 2.0).mean_wait
    assert np.isclose(
        ggc_mean_wait(c, rate, 2.0, arrival_scv=ca2, service_scv=cs2),
        base * (ca2 + cs2) / 2,
        rtol=1e-14,
        atol=0,
    )
