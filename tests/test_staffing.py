"""servers_for: the least count meeting each target, whole arrays at once."""

import numpy as np
import pytest

from capplan.queueing import erlang_a, erlang_b, erlang_c, mmc, mmck, servers_for

LOADS = np.array(
    [0.0, 0.3, 1.0, 4.99, 5.0, 37.2, 250.0, 1_234.5, 98_765.4, 3_000_000.0, 9_990_000.0]
)


def _meets(kind, c, a, **kw):
    """Each target's measure, from the public formulas (not the search's internals)."""
    tau = kw.get("mean_service_time")
    pat = kw.get("mean_patience")
    if kind == "max_blocking":
        if "waiting_room" in kw:
            return mmck(c, c + kw["waiting_room"], a).blocking <= kw["max_blocking"]
        return erlang_b(c, a) <= kw["max_blocking"]
    if pat is not None:
        q = erlang_a(c, a / tau, tau, pat)
        if kind == "service_level":
            t, x = kw["service_level"]
            return q.service_level(t) >= x
        value = {
            "max_wait_prob": q.wait_prob,
            "max_abandon_prob": q.abandon_prob,
            "max_mean_wait": q.mean_wait,
        }[kind]
        return value <= kw[kind]
    if c <= a:
        return False
    if kind == "max_wait_prob":
        return erlang_c(c, a) <= kw["max_wait_prob"]
    q = mmc(c, a / tau, tau)
    if kind == "service_level":
        t, x = kw["service_level"]
        return q.service_level(t) >= x
    factor = (kw.get("arrival_scv", 1.0) + kw.get("service_scv", 1.0)) / 2
    return q.mean_wait * factor <= kw["max_mean_wait"]


TARGETS = [
    ("max_wait_prob", dict(max_wait_prob=0.2)),
    ("max_wait_prob", dict(max_wait_prob=1e-6)),
    ("max_blocking", dict(max_blocking=0.001)),
    ("max_blocking", dict(max_blocking=0.01, waiting_room=5)),
    ("service_level", dict(service_level=(2.0, 0.99), mean_service_time=0.5)),
    ("max_mean_wait", dict(max_mean_wait=0.01, mean_service_time=0.5)),
    ("max_mean_wait", dict(max_mean_wait=0.01, mean_service_time=0.5, service_scv=0.2)),
    ("max_abandon_prob", dict(max_abandon_prob=0.01, mean_service_time=0.5, mean_patience=5.0)),
    ("max_wait_prob", dict(max_wait_prob=0.3, mean_service_time=0.5, mean_patience=2.0)),
    ("service_level", dict(service_level=(1.0, 0.95), mean_service_time=0.5, mean_patience=3.0)),
    ("max_mean_wait", dict(max_mean_wait=0.05, mean_service_time=0.5, mean_patience=3.0)),
]


@pytest.mark.parametrize("kind, kw", TARGETS)
def test_least_count_meets_target_and_one_fewer_does_not(kind, kw):
    result = servers_for(LOADS, **kw)
    assert result.target == kind
    assert result.servers.dtype == np.int64 and result.servers.shape == LOADS.shape
    for a, c, achieved in zip(LOADS, result.servers, result.achieved, strict=True):
        assert c >= 1
        assert _meets(kind, c, a, **kw), (a, c, achieved)
        assert c == 1 or not _meets(kind, c - 1, a, **kw), (a, c)
        waits = kind != "max_blocking" and "mean_patience" not in kw
        if waits:
            assert c > a  # never an unstable count


def test_achieved_value_is_the_measure_at_the_count():
    s = servers_for(np.array([50.0, 500.0]), max_wait_prob=0.1)
    np.testing.assert_allclose(s.achieved, erlang_c(s.servers, [50.0, 500.0]), rtol=1e-15)
    s = servers_for(40.0, service_level=(20.0, 0.8), mean_service_time=180.0)
    assert s.achieved == pytest.approx(mmc(s.servers, 40 / 180, 180.0).service_level(20.0))


def test_scalar_in_scalar_out_and_broadcasting():
    s = servers_for(10.0, max_blocking=0.01)
    assert np.ndim(s.servers) == 0 and np.ndim(s.achieved) == 0
    s = servers_for(np.array([[10.0], [20.0]]), max_blocking=np.array([0.1, 0.01, 0.001]))
    assert s.servers.shape == (2, 3)
    assert s.servers[1, 2] == servers_for(20.0, max_blocking=0.001).servers


def test_published_staffing():
    # erlang.com calculator manual: 15 lines carry 8.108 Erlangs at 1 % blocking.
    assert servers_for(8.108, max_blocking=0.01).servers == 15
    assert servers_for(8.2, max_blocking=0.01).servers == 16


def test_a_day_of_seconds_in_one_call():
    rng = np.random.default_rng(7)
    t = np.arange(86_400)
    load = 5_000 * (1.2 + np.sin(2 * np.pi * t / 86_400)) * rng.uniform(0.9, 1.1, t.size)
    s = servers_for(load, max_wait_prob=0.05)
    pick = rng.choice(t.size, 50, replace=False)
    for i in pick:
        assert erlang_c(s.servers[i], load[i]) <= 0.05 < erlang_c(s.servers[i] - 1, load[i])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(), "exactly one target"),
        (dict(max_wait_prob=0.1, max_blocking=0.1), "got max_wait_prob, max_blocking"),
        (dict(max_wait_prob=1.5), "max_wait_prob must lie strictly between 0 and 1"),
        (dict(max_wait_prob=0.0), "max_wait_prob must lie strictly between 0 and 1"),
        (dict(service_level=(20.0, 0.8)), "service_level needs mean_service_time"),
        (dict(service_level=0.8, mean_service_time=1.0), "service_level must be a pair"),
        (dict(max_mean_wait=-1.0, mean_service_time=1.0), "max_mean_wait"),
        (dict(max_abandon_prob=0.1, mean_service_time=1.0), "max_abandon_prob needs mean_patience"),
        (dict(max_wait_prob=0.1, mean_patience=3.0), "mean_patience .* needs mean_service_time"),
        (dict(max_blocking=0.1, mean_patience=3.0, mean_service_time=1.0), "mean_patience does"),
        (dict(max_wait_prob=0.1, waiting_room=3), "waiting_room applies to max_blocking"),
        (dict(max_wait_prob=0.1, service_scv=0.5), "service_scv apply to max_mean_wait"),
        (dict(max_blocking=0.1, waiting_room=-1), "waiting_room must be"),
    ],
)
def test_bad_requests(kwargs, message):
    with pytest.raises(ValueError, match=message):
        servers_for(10.0, **kwargs)


def test_bad_load():
    with pytest.raises(ValueError, match=r"^load must be"):
        servers_for([1.0, -2.0], max_wait_prob=0.1)
