"""The simulator's per-interval buffer, its attack requests that never retry, and the
budget that refuses a run before it can take the machine's memory or its afternoon."""

import numpy as np
import pytest

from capplan.queueing import erlang_b, mmck
from capplan.simulation import ExponentialBackoff, ImmediateRetry, simulate


def test_a_buffer_per_interval_gives_each_half_its_own_blocking():
    # Two long stationary halves: a loss system (buffer 0, Erlang B), then M/M/5/15.
    half, lam, c = 20_000, 4.0, 5
    buffer = np.r_[np.zeros(half, int), np.full(half, 10)]
    r = simulate(arrival_rate=lam, service_time=1.0, servers=c, buffer=buffer, seed=3)
    frame = r.to_frame()
    first, second = frame.iloc[200:half], frame.iloc[half + 200 :]
    blocked = [part["refused"].sum() / part["arrivals"].sum() for part in (first, second)]
    expected = [erlang_b(c, lam), float(mmck(c, c + 10, lam).blocking)]
    assert blocked == pytest.approx(expected, rel=0.06)
    assert frame["queue"].iloc[:half].max() == 0
    assert 0 < frame["queue"].iloc[half:].max() <= 10


def test_buffer_arrays_are_checked_like_the_other_arrays():
    with pytest.raises(ValueError, match="buffer must be whole numbers"):
        simulate(arrival_rate=1.0, service_time=1.0, servers=1, buffer=[1.5, 2.0])
    with pytest.raises(ValueError, match="buffer has 3"):
        simulate(arrival_rate=[1.0, 1.0], service_time=1.0, servers=1, buffer=[1, 2, 3])


@pytest.mark.parametrize("replayed", [False, True])
def test_attack_requests_never_retry(replayed):
    # A loss system whose retries would come after the run: every refused client is a
    # retry still scheduled at the end, every refused attack request a failure.
    clients, attack, duration = 30.0, 10.0, 20_000
    arrivals = (
        dict(arrival_counts=np.random.default_rng(1).poisson(clients, duration))
        if replayed
        else dict(arrival_rate=clients)
    )
    r = simulate(
        **arrivals,
        attack_rate=attack,
        service_time=0.1,
        servers=4,
        buffer=0,
        retry=ImmediateRetry(delay=1e9, max_retries=1),
        duration=duration,
        seed=5,
    )
    frame = r.to_frame()
    refused = frame["refused"].sum()
    failed = frame["failed"].sum()
    assert frame["retries"].sum() == 0
    assert failed + r.diagnostics["retries_scheduled_at_end"] == refused
    share = attack / (clients + attack)
    sd = np.sqrt(share * (1 - share) / refused)
    assert abs(failed / refused - share) < 4 * sd
    # The attack's requests are among the first tries.
    expected = (clients + attack) * duration
    assert abs(frame["first_tries"].sum() - expected) < 4 * np.sqrt(expected)


def test_attack_rate_with_a_linear_rate_is_refused():
    with pytest.raises(ValueError, match="attack_rate"):
        simulate(
            arrival_rate=[1.0, 2.0],
            rate_shape="linear",
            attack_rate=1.0,
            service_time=1.0,
            servers=1,
        )


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(arrival_rate=1e12, service_time=0.1, servers=2, duration=1), "1e\\+12 first tries"),
        (dict(arrival_counts=[10**12], service_time=0.1, servers=2), "max_attempts"),
        (dict(arrival_rate=1.0, service_time=0.1, servers=10**12, duration=1), "GiB"),
        # An overloaded line with no limit: about 1e7 requests by the end.
        (dict(arrival_rate=2e3, service_time=1.0, servers=10, duration=5e3), "a buffer"),
    ],
)
def test_runs_beyond_the_budget_are_refused_before_they_start(arguments, message):
    with pytest.raises(ValueError, match=message):
        simulate(**arguments, max_memory_gb=0.5)


def test_the_budget_can_be_raised():
    small = dict(arrival_rate=100.0, service_time=0.01, servers=2, duration=100)
    with pytest.raises(ValueError, match="max_attempts=1e\\+03"):
        simulate(**small, max_attempts=1e3)
    assert simulate(**small, max_attempts=1e5, seed=1).customers > 9_000


# Stable on first tries (the estimate before the run passes), but timeouts and endless
# retries grow the load without bound.
STORM = dict(
    arrival_rate=15.0,
    service_time=0.1,
    servers=2,
    duration=36_000,
    timeout=1.0,
    retry=ExponentialBackoff(max_retries=None, max_delay=5.0),
)


def test_a_retry_storm_on_an_unbounded_line_stops_at_the_memory_budget():
    with pytest.raises(ValueError, match=r"stopped at \d+ s of 36000 s.*buffer=None"):
        simulate(**STORM, max_memory_gb=0.005, seed=2)


def test_a_retry_storm_stops_at_the_attempts_budget():
    with pytest.raises(ValueError, match=r"stopped at \d+ s of 36000 s: [\d,]+ attempts"):
        simulate(**STORM, buffer=50, max_attempts=2e6, seed=2)
