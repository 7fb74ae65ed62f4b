"""Scalar calls of the queueing formulas: the compiled fast path, checked against mpmath,
against the array path, and for its input checks.

A call whose arguments are all single Python or numpy numbers runs one compiled kernel
without numpy's array machinery; anything else takes the array path. The references
below are mpmath's own algorithms (incomplete gamma by hypergeometric series, closed
forms of the geometric sums) at 50-60 digits, not the log-space forms under test.
"""

import importlib
import math

import mpmath as mp
import numpy as np
import pytest

from capplan.queueing import (
    erlang_a,
    erlang_b,
    erlang_c,
    ggc_mean_wait,
    mmc,
    mmck,
    servers_for,
)

REL = 1e-9  # the bar, for each value
WORST = 1e-12  # what the code achieves over a test (about 1e-14; Erlang A's abandonment 1e-13)
SIZES = [1, 2, 5, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000]
UTILISATIONS = [0.5, 0.9, 0.99, 1.0, 1.2]


class Errors(list):
    """Relative errors seen in one test: each within REL, the worst within WORST."""

    def check(self, got, ref, where):
        err = rel_err(got, ref)
        self.append(err)
        assert err <= REL, (where, float(got), float(ref))

    def worst(self) -> float:
        return max(self, default=0.0)


def rel_err(got, ref) -> float:
    """Relative error, or 0 for a reference below the normal floats that ``got`` matches
    to 1e-310 (values that small underflow to 0 or lose digits as subnormals)."""
    if abs(ref) < mp.mpf(2.3e-308):
        return 0.0 if abs(mp.mpf(float(got)) - ref) < mp.mpf(1e-310) else math.inf
    return float(abs(mp.mpf(float(got)) - ref) / abs(ref))


# --- references (mpmath) --------------------------------------------------------------


def ref_ratio(c, a):
    """``R = P[N <= c-1] / P[N = c]``, ``N ~ Poisson(a)``: upper incomplete gamma over
    the pmf; None where ``a < c`` and the pmf is below ``e**-760``, so that ``1 / R``
    underflows (mpmath's incomplete gamma takes minutes there at 1e7)."""
    c, a = mp.mpf(c), mp.mpf(a)
    log_pmf = c * mp.log(a) - a - mp.loggamma(c + 1)
    if a < c and log_pmf < -760:
        return None
    return mp.gammainc(c, a, mp.inf, regularized=True) / mp.exp(log_pmf)


def ref_erlang_b(c, a):
    with mp.workdps(50):
        r = ref_ratio(c, a)
        return mp.mpf(0) if r is None else 1 / (1 + r)


def ref_erlang_c(c, a):
    with mp.workdps(50):
        if a >= c:
            return mp.mpf(1)
        r = ref_ratio(c, a)
        return mp.mpf(0) if r is None else 1 / (1 + r * (1 - mp.mpf(a) / c))


def ref_mmc(c, lam, tau):
    """``(wait_prob, mean_wait, mean_queue)``."""
    with mp.workdps(50):
        a = mp.mpf(lam) * mp.mpf(tau)
        wait = ref_erlang_c(c, a)
        return wait, wait * tau / (c - a), wait * a / (c - a)


def ref_mmck(c, k, a, tau):
    """``(blocking, wait_prob, mean_queue, mean_wait)`` from the stationary law
    ``pi_{c+j} = pi_c rho**j``, with the geometric sums in closed form."""
    with mp.workdps(60):
        a, m = mp.mpf(a), k - c
        rho = a / c
        r = ref_ratio(c, a)
        if r is None:  # pi_c underflows: nobody is blocked or waits, to double precision
            return (mp.mpf(0),) * 4

        def geom(n):  # sum_{j<n} rho**j
            return mp.mpf(n) if rho == 1 else (1 - rho**n) / (1 - rho)

        moment = mp.fsum(j * rho**j for j in range(m + 1))  # sum_j j rho**j
        z = r + geom(m + 1)
        blocking = rho**m / z
        queue = moment / z
        carried = a * (1 - blocking)
        return blocking, geom(m) / (r + geom(m)), queue, queue * tau / carried


def ref_lower(s, x):
    """Regularised lower incomplete gamma; mpmath's series can give up near the mode of
    huge shapes, where the complement of the upper one is just as exact at 60 digits."""
    try:
        return mp.gammainc(s, 0, x, regularized=True)
    except mp.libmp.NoConvergence:
        pass
    try:
        return 1 - mp.gammainc(s, x, mp.inf, regularized=True)
    except mp.libmp.NoConvergence:
        pmf = mp.exp(s * mp.log(x) - x - mp.loggamma(s + 1))
        return mp.hyp1f1(1, s + 1, x, maxterms=10**6) * pmf  # P(s, x) = p 1F1(1; s+1; x)


def ref_erlang_a(n, lam, tau, pat):
    """``(wait_prob, abandon_prob)``: ``A = P(x, y) / p(x; y)``, ``D = y + (y - x)(A - 1)``
    with ``x = n pat / tau``, ``y = lam pat``, and ``R`` as in Erlang B."""
    with mp.workdps(60):
        x, y = mp.mpf(n) * pat / tau, mp.mpf(lam) * pat
        p = mp.exp(x * mp.log(y) - y - mp.loggamma(x + 1))
        big_a = ref_lower(x, y) / p
        d = y + (y - x) * (big_a - 1)
        r = ref_ratio(n, mp.mpf(lam) * tau)
        if r is None:  # pi_n underflows: nobody waits, to double precision
            return mp.mpf(0), mp.mpf(0)
        return big_a / (r + big_a), d / (y * (r + big_a))


# --- the scalar path against mpmath ---------------------------------------------------


@pytest.mark.parametrize("c", SIZES)
def test_erlang_b_c_and_mmc_against_mpmath(c):
    tau, cs2, errors = 180.0, 0.4, Errors()
    for rho in UTILISATIONS:
        a = c * rho
        errors.check(erlang_b(c, a), ref_erlang_b(c, a), ("B", rho))
        errors.check(erlang_c(c, a), ref_erlang_c(c, a), ("C", rho))
        if rho < 1:
            q = mmc(c, a / tau, tau)
            refs = ref_mmc(c, a / tau, tau)
            for name, ref in zip(("wait_prob", "mean_wait", "mean_queue"), refs, strict=True):
                errors.check(getattr(q, name), ref, (name, rho))
            with mp.workdps(50):
                ref = refs[1] * (1 + mp.mpf(cs2)) / 2
            errors.check(ggc_mean_wait(c, a / tau, tau, service_scv=cs2), ref, ("ggc", rho))
    assert errors.worst() < WORST


@pytest.mark.parametrize("c", SIZES)
def test_mmck_against_mpmath(c):
    errors = Errors()
    for rho in (0.5, 0.99, 1.0, 1.3):
        for room in (0, 1, 20):
            q = mmck(c, c + room, c * rho, mean_service_time=2.0)
            got = (q.blocking, q.wait_prob, q.mean_queue, q.mean_wait)
            for g, r in zip(got, ref_mmck(c, c + room, c * rho, 2.0), strict=True):
                if r == 0:  # nobody waits without a waiting room
                    assert g == 0
                    continue
                errors.check(g, r, (rho, room))
    assert errors.worst() < WORST


@pytest.mark.parametrize("n", SIZES)
def test_erlang_a_against_mpmath(n):
    tau, errors = 1.0, Errors()
    for rho in (0.5, 0.99, 1.01):
        for pat in (0.01, 0.5, 3.0):
            q = erlang_a(n, n * rho / tau, tau, pat)
            wait, abandon = ref_erlang_a(n, n * rho / tau, tau, pat)
            errors.check(q.wait_prob, wait, ("wait_prob", rho, pat))
            errors.check(q.abandon_prob, abandon, ("abandon_prob", rho, pat))
    assert errors.worst() < WORST


@pytest.mark.parametrize("load", [0.5, 3.7, 10.0, 100.0, 1_000.0, 1e4, 1e5, 1e6, 9.99e6])
def test_servers_for_against_mpmath(load):
    """The count meets the target by mpmath's measure and one fewer does not."""
    tau, t, level, errors = 180.0, 20.0, 0.8, Errors()

    def miss(c):  # 1 - P(W <= t) for M/M/c
        if c <= load:
            return mp.mpf(1)
        with mp.workdps(50):
            return ref_erlang_c(c, load) * mp.exp(-(c - mp.mpf(load)) * t / tau)

    s = servers_for(load, service_level=(t, level), mean_service_time=tau)
    c = int(s.servers)
    assert miss(c) <= 1 - level < miss(c - 1)
    errors.check(s.achieved, 1 - miss(c), "service_level")

    s = servers_for(load, max_blocking=0.001)
    c = int(s.servers)
    assert ref_erlang_b(c, load) <= 0.001 < (1 if c == 1 else ref_erlang_b(c - 1, load))
    errors.check(s.achieved, ref_erlang_b(c, load), "max_blocking")

    # Overloaded, P(Ab) ~ 1 - c / load: a limit that makes limit * load a whole number
    # would put a count exactly on the target, where the last bit decides.
    limit = 1 / 57
    s = servers_for(load, max_abandon_prob=limit, mean_service_time=1.0, mean_patience=0.5)
    c = int(s.servers)
    abandon = ref_erlang_a(c, load, 1.0, 0.5)[1]
    assert abandon <= limit
    assert c == 1 or ref_erlang_a(c - 1, load, 1.0, 0.5)[1] > limit
    errors.check(s.achieved, abandon, "max_abandon_prob")
    assert errors.worst() < WORST


# --- the scalar path gives what the array path gives ----------------------------------

FIELDS = {
    "mmc": ("servers", "load", "utilisation", "wait_prob", "mean_wait", "mean_queue"),
    "mmck": (
        "servers",
        "capacity",
        "blocking",
        "wait_prob",
        "mean_queue",
        "mean_in_system",
        "carried_load",
        "utilisation",
        "throughput",
        "mean_wait",
    ),
    "erlang_a": (
        "servers",
        "load",
        "wait_prob",
        "abandon_prob",
        "mean_wait",
        "mean_queue",
        "utilisation",
        "_log_wait_prob",
        "_log_a",
    ),
}


def _same(scalar, array_value, where):
    assert type(scalar) is type(array_value[()]), where  # a numpy scalar, as before
    a, b = float(scalar), float(array_value)
    if math.isinf(a) or math.isinf(b) or a == b:
        assert a == b, where
    else:
        assert abs(a - b) <= 1e-12 * abs(b), where


def _cases(seed=5, n=60):
    rng = np.random.default_rng(seed)
    c = np.unique(np.round(10 ** rng.uniform(0, 7, n)).astype(np.int64))
    rho = rng.choice([0.0, 0.3, 0.9, 0.999, 1.0, 1.05, 2.0], c.size)
    tau = 10 ** rng.uniform(-1, 3, c.size)
    pat = 10 ** rng.uniform(-2, 3, c.size)
    room = rng.choice([0, 1, 7, 1000], c.size)
    return c, c * rho, tau, pat, room


def test_scalar_equals_array_element_wise():
    c, a, tau, pat, room = _cases()
    lam = a / tau
    arrays = {
        "erlang_b": erlang_b(c, a),
        "erlang_c": erlang_c(c, a),
        "ggc": ggc_mean_wait(c, lam, tau, arrival_scv=0.7, service_scv=1.9),
        "mmc": mmc(c, lam, tau),
        "mmck": mmck(c, c + room, a, mean_service_time=tau),
        "erlang_a": erlang_a(c, lam, tau, pat),
    }
    for i in range(c.size):
        ci, ai, li, ti, pi, ri = int(c[i]), float(a[i]), float(lam[i]), tau[i], pat[i], room[i]
        _same(erlang_b(ci, ai), arrays["erlang_b"][i], ("erlang_b", i))
        _same(erlang_c(ci, ai), arrays["erlang_c"][i], ("erlang_c", i))
        got = ggc_mean_wait(ci, li, ti, arrival_scv=0.7, service_scv=1.9)
        _same(got, arrays["ggc"][i], ("ggc", i))
        scalars = {
            "mmc": mmc(ci, li, ti),
            "mmck": mmck(ci, ci + int(ri), ai, mean_service_time=ti),
            "erlang_a": erlang_a(ci, li, ti, pi),
        }
        for name, q in scalars.items():
            for field in FIELDS[name]:
                _same(getattr(q, field), getattr(arrays[name], field)[i], (name, field, i))


STAFFING = [
    dict(max_wait_prob=0.2),
    dict(max_blocking=0.001),
    dict(max_blocking=0.01, waiting_room=5),
    dict(service_level=(20.0, 0.8), mean_service_time=180.0),
    dict(max_mean_wait=0.01, mean_service_time=0.5, service_scv=0.2),
    dict(max_abandon_prob=0.01, mean_service_time=0.5, mean_patience=5.0),
    dict(max_wait_prob=0.3, mean_service_time=0.5, mean_patience=2.0),
    dict(service_level=(1.0, 0.95), mean_service_time=0.5, mean_patience=3.0),
    dict(max_mean_wait=0.05, mean_service_time=0.5, mean_patience=3.0),
]


@pytest.mark.parametrize("kw", STAFFING)
def test_servers_for_scalar_equals_array(kw):
    loads = np.concatenate([[0.0, 0.4, 1.0, 5.0], 10 ** np.linspace(1, 7, 13)])
    arrays = servers_for(loads, **kw)
    for load, servers, achieved in zip(loads, arrays.servers, arrays.achieved, strict=True):
        s = servers_for(float(load), **kw)
        assert type(s.servers) is np.int64 and s.servers == servers, load
        _same(s.achieved, np.asarray(achieved), load)
        assert (s.target, s.model) == (arrays.target, arrays.model)


# --- which path a call takes ----------------------------------------------------------


def _no_array_checks(monkeypatch):
    """Make the array path's checks fail loudly: a scalar call must not reach them."""

    def refuse(*args, **kwargs):
        raise AssertionError("the array path ran for a scalar call")

    for name in ("erlang", "mmck", "erlang_a", "approx", "staffing"):
        module = importlib.import_module(f"capplan.queueing.{name}")
        for check in ("as_count", "as_float", "as_probability"):
            if hasattr(module, check):
                monkeypatch.setattr(module, check, refuse)


SCALAR_TYPES = [
    (int, float),
    (np.int64, np.float64),
    (np.int32, np.float32),
    (np.uint16, np.float64),
    (float, int),  # integral float servers, integer loads
]


@pytest.mark.parametrize("count, real", SCALAR_TYPES)
def test_python_and_numpy_scalars_take_the_fast_path(monkeypatch, count, real):
    expected = {
        "b": erlang_b(40, 30.0),
        "c": erlang_c(40, 30.0),
        "mmc": mmc(40, 3.0, 10.0).mean_wait,
        "mmck": mmck(40, 45, 30.0, mean_service_time=2.0).blocking,
        "a": erlang_a(40, 3.0, 10.0, 4.0).abandon_prob,
        "ggc": ggc_mean_wait(40, 3.0, 10.0, service_scv=2.0),
        "s": servers_for(30.0, service_level=(20.0, 0.8), mean_service_time=10.0).servers,
        "s_a": servers_for(30.0, max_abandon_prob=0.01, mean_service_time=10, mean_patience=4.0),
    }
    _no_array_checks(monkeypatch)
    c, n, k = count(40), count(40), count(45)
    got = {
        "b": erlang_b(c, real(30)),
        "c": erlang_c(c, real(30)),
        "mmc": mmc(n, real(3), real(10)).mean_wait,
        "mmck": mmck(c, k, real(30), mean_service_time=real(2)).blocking,
        "a": erlang_a(n, real(3), real(10), real(4)).abandon_prob,
        "ggc": ggc_mean_wait(c, real(3), real(10), service_scv=real(2)),
        "s": servers_for(
            real(30), service_level=(real(20), 0.8), mean_service_time=real(10)
        ).servers,
        "s_a": servers_for(
            real(30), max_abandon_prob=0.01, mean_service_time=real(10), mean_patience=real(4)
        ),
    }
    for key, value in expected.items():  # the inputs are exact in every type
        assert got[key] == value, key


def test_arrays_and_zero_d_arrays_take_the_array_path(monkeypatch):
    _no_array_checks(monkeypatch)
    with pytest.raises(AssertionError, match="array path"):
        erlang_c(np.array(40), 30.0)
    with pytest.raises(AssertionError, match="array path"):
        mmc([40], 3.0, 10.0)
    with pytest.raises(AssertionError, match="array path"):
        servers_for(np.array([30.0]), max_wait_prob=0.1)


# --- bad scalars: the same errors as before -------------------------------------------

# The messages as the array checks wrote them before the fast path existed.
BAD = [
    (lambda: erlang_b(2.5, 1.0), "servers must be a whole number >= 0; got 2.5"),
    (lambda: erlang_b(-1, 1.0), "servers must be a whole number >= 0; got -1.0"),
    (lambda: erlang_b(True, 1.0), "servers must be an integer count, not a boolean; got True"),
    (
        lambda: erlang_b(np.bool_(True), 1.0),
        "servers must be an integer count, not a boolean; got np.True_",
    ),
    (lambda: erlang_b(math.nan, 1.0), "servers must be a whole number >= 0; got nan"),
    (lambda: erlang_b(math.inf, 1.0), "servers must be a whole number >= 0; got inf"),
    (lambda: erlang_b(np.float64(2.5), 1.0), "servers must be a whole number >= 0; got 2.5"),
    (
        lambda: erlang_b(2**60, 1.0),
        "servers must be a whole number >= 0; got 1.152921504606847e+18",
    ),
    (lambda: erlang_b(3, -1.0), "load must be finite and non-negative; got -1.0"),
    (lambda: erlang_b(3, math.nan), "load must be finite and non-negative; got nan"),
    (lambda: erlang_c(3, math.inf), "load must be finite and non-negative; got inf"),
    (lambda: erlang_c(3, np.float32(-2.0)), "load must be finite and non-negative; got -2.0"),
    (lambda: erlang_c(False, 1.0), "servers must be an integer count, not a boolean; got False"),
    (lambda: mmc(3, math.nan, 1.0), "arrival_rate must be finite and non-negative; got nan"),
    (lambda: mmc(3, 1.0, 0.0), "mean_service_time must be finite and positive; got 0.0"),
    (lambda: mmc(3, 1.0, math.inf), "mean_service_time must be finite and positive; got inf"),
    (lambda: mmc(3.5, 1.0, 1.0), "servers must be a whole number >= 0; got 3.5"),
    (lambda: mmck(0, 3, 1.0), "servers must be a whole number >= 1; got 0.0"),
    (
        lambda: mmck(3, 2, 1.0),
        "capacity must be at least servers (it counts those in service too); "
        "got capacity=2 < servers=3",
    ),
    (lambda: mmck(3, 2.5, 1.0), "capacity must be a whole number >= 1; got 2.5"),
    (lambda: mmck(3, 5, -1.0), "load must be finite and non-negative; got -1.0"),
    (lambda: mmck(True, 5, 1.0), "servers must be an integer count, not a boolean; got True"),
    (lambda: erlang_a(0, 1.0, 1.0, 1.0), "servers must be a whole number >= 1; got 0.0"),
    (
        lambda: erlang_a(2, 1.0, -1.0, 1.0),
        "mean_service_time must be finite and positive; got -1.0",
    ),
    (lambda: erlang_a(2, 1.0, 1.0, math.inf), "mean_patience must be finite and positive; got inf"),
    (lambda: erlang_a(2.5, 1.0, 1.0, 1.0), "servers must be a whole number >= 1; got 2.5"),
    (
        lambda: ggc_mean_wait(2, 1.0, 1.0, service_scv=-1.0),
        "service_scv must be finite and non-negative; got -1.0",
    ),
    (
        lambda: ggc_mean_wait(2, 1.0, 1.0, arrival_scv=math.nan),
        "arrival_scv must be finite and non-negative; got nan",
    ),
    (lambda: ggc_mean_wait(2, -1.0, 1.0), "arrival_rate must be finite and non-negative; got -1.0"),
    (
        lambda: servers_for(-1.0, max_wait_prob=0.1),
        "load must be finite and non-negative; got -1.0",
    ),
    (
        lambda: servers_for(math.inf, max_wait_prob=0.1),
        "load must be finite and non-negative; got inf",
    ),
    (
        lambda: servers_for(10.0, max_wait_prob=1.0),
        "max_wait_prob must lie strictly between 0 and 1; got 1.0",
    ),
    (
        lambda: servers_for(10.0, max_blocking=math.nan),
        "max_blocking must be finite and non-negative; got nan",
    ),
    (
        lambda: servers_for(10.0, service_level=(-1.0, 0.8), mean_service_time=1.0),
        "service_level t (seconds) must be finite and non-negative; got -1.0",
    ),
    (
        lambda: servers_for(10.0, service_level=(1.0, 0.8, 3), mean_service_time=1.0),
        "service_level must be a pair (t_seconds, fraction) meaning P(wait <= t) >= fraction; "
        "got (1.0, 0.8, 3)",
    ),
    (
        lambda: servers_for(10.0, max_mean_wait=0.0, mean_service_time=1.0),
        "max_mean_wait (seconds) must be finite and positive; got 0.0",
    ),
    (
        lambda: servers_for(10.0, max_blocking=0.1, waiting_room=2.5),
        "waiting_room must be a whole number >= 0; got 2.5",
    ),
    (
        lambda: servers_for(10.0, max_wait_prob=0.1, service_scv=math.nan),
        "arrival_scv and service_scv apply to max_mean_wait without mean_patience only",
    ),
    (
        lambda: servers_for(10.0, max_abandon_prob=0.1, mean_patience=1.0),
        "mean_patience (Erlang A) needs mean_service_time (seconds); got None",
    ),
    (
        lambda: servers_for(10.0, max_abandon_prob=0.1, mean_service_time=1.0, mean_patience=0.0),
        "mean_patience must be finite and positive; got 0.0",
    ),
]


@pytest.mark.parametrize("call, message", BAD)
def test_bad_scalars_raise_the_same_messages(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == message


def test_scalar_results_are_numpy_scalars_in_the_same_records():
    assert type(erlang_b(10, 5.0)) is np.float64
    assert type(erlang_c(10, 5)) is np.float64
    assert type(ggc_mean_wait(10, 5.0, 1.0)) is np.float64
    q = mmc(10, 5.0, 1.0)
    assert type(q.servers) is np.int64 and type(q.mean_wait) is np.float64
    assert q == mmc(np.array(10), np.array(5.0), np.array(1.0))  # the 0-d array path
    assert repr(q).startswith("MMc(servers=np.int64(10), arrival_rate=np.float64(5.0)")
    assert mmck(10, 12, 5.0) == mmck(np.array(10), np.array(12), np.array(5.0))
    assert erlang_a(10, 5.0, 1.0, 2.0) == erlang_a(np.array(10), 5.0, 1.0, np.array(2.0))
    s = servers_for(100.0, max_wait_prob=0.2)
    assert type(s.servers) is np.int64 and type(s.achieved) is np.float64
    assert s == servers_for(np.array(100.0), max_wait_prob=0.2)
    with pytest.raises(AttributeError):  # still frozen
        q.servers = 3
    # methods work on scalar results as before
    assert q.service_level(1.0) == mmc(np.array(10), 5.0, 1.0).service_level(1.0)
