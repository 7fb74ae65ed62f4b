"""Time-varying staffing: the offered load per interval, and servers meeting the SLO.

Which method is right
---------------------
- ``"psa"`` (pointwise stationary): staff each interval with the stationary
  formula at ``lambda(t) E[B]``. Right when the work per request is short
  against the time scale on which the rate changes (a join path with 50 ms of
  work and minute intervals); it ignores that the load lags the rate.
- ``"lagged_psa"``: the same at ``lambda(t - E[B]) E[B]``: a first correction
  when the work is comparable to the rate's time scale; exact only for
  deterministic work.
- ``"mol"`` (modified offered load): the stationary formula at the offered load
  ``m(t) = E[number in an infinite-server system] = ∫ lambda(s) P(B > t - s) ds``
  (Jennings, Mandelbaum, Massey and Whitt 1996). Right when the work is
  comparable to the rate's time scale, for waiting targets without much
  abandonment; it equals PSA when the work is short.
- ``"isa"`` (iterative staffing by simulation, Feldman, Mandelbaum, Massey and
  Whitt 2008): simulate with the current staffing, read the distribution of the
  number of requests in the system in every interval, restaff each interval at
  the quantile that meets the target, repeat until the staffing is stable. Right when
  abandonment, timeouts, retries or a finite queue matter, which no stationary
  formula captures; it costs a simulation per iteration.

All methods here take a per-second rate and return per-interval loads or
servers; they are pure functions of arrays (the plan wraps them).
"""

from __future__ import annotations

import numpy as np

from capplan.queueing import erlang_c, servers_for

__all__ = ["METHODS", "offered_load", "stationary_measure", "stationary_servers"]

METHODS = ("psa", "lagged_psa", "mol", "isa")


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    return method


def offered_load(
    rates,
    service,
    interval_steps: int,
    method: str,
    step_s: float = 1.0,
    initial_rate: float | None = None,
) -> np.ndarray:
    """Offered load (Erlangs) per interval from per-step rates.

    Parameters
    ----------
    rates : array of float
        Arrival rate (1/s) in each step of ``step_s`` seconds, piecewise constant.
    service : JoinService
        Work per request: ``mean_s`` and, for MOL, its survival function.
    interval_steps : int
        Steps per planning interval; ``len(rates)`` must be a multiple.
    method : {"psa", "lagged_psa", "mol", "isa"}
        ``"isa"`` starts from the MOL load.
    step_s : float, default 1.0
        Step length (s).
    initial_rate : float, optional
        Rate held before the first step (the system in steady state at it);
        the first rate by default.

    Returns
    -------
    numpy.ndarray
        The mean over each interval's steps of the method's load: ``lambda E[B]``
        (PSA), ``lambda(t - E[B]) E[B]`` (lagged), ``m(t)`` (MOL).
    """
    method = _check_method(method)
    rates = np.asarray(rates, dtype=float)
    tau = service.mean_s
    r0 = rates[0] if initial_rate is None else float(initial_rate)
    if method == "psa":
        per_step = rates * tau
    elif method == "lagged_psa":
        t = (np.arange(rates.size) + 0.5) * step_s - tau
        k = np.floor(t / step_s).astype(np.int64)
        per_step = np.where(k >= 0, rates[np.clip(k, 0, rates.size - 1)], r0) * tau
    else:
        per_step = _mol(rates, service, step_s, r0)
    return per_step.reshape(-1, interval_steps).mean(axis=1)


def _mol(rates, service, step_s, r0):
    """``m`` averaged over each step: arrivals uniform within steps, exact for that.

    ``m_avg(step k) = sum_j r_j (G((k-j+1)h) - 2 G((k-j)h) + G((k-j-1)h)) / h`` with
    ``G(x) = ∫_0^x H(u) du``, ``H`` the integrated survival; computed as a
    convolution of the increments of ``H`` (a trapezoid in each step is within
    O(h²) of that), plus the steady state ``r0 E[B]`` decaying from before.
    """
    from scipy.signal import fftconvolve

    n = rates.size
    horizon = min(n + 1, int(np.ceil(60 * service.mean_s / step_s)) + 2)
    x = np.arange(horizon + 1) * step_s
    h_int = service.integrated_survival(x)
    kernel_end = np.diff(h_int)  # joins of step j still in at the end of step j+i, x h
    m_end = fftconvolve(rates, kernel_end)[:n]
    tail = service.mean_s - h_int[np.minimum(np.arange(1, n + 1), horizon)]
    m_end = m_end + r0 * tail
    m_start = np.concatenate([[r0 * service.mean_s], m_end[:-1]])
    return np.maximum((m_start + m_end) / 2, 0.0)


def _time_factor(service) -> float:
    """Allen-Cunneen scaling of the waiting time of the queue for G work, Poisson arrivals."""
    return (1.0 + service.scv) / 2.0


def stationary_servers(load, slo, service):
    """Least servers meeting the SLO's waiting target at each load (a Staffing).

    ``wait_prob``: Erlang C. ``service_level``: M/M/c's ``P(W > t) = C(c, a)
    exp(-(c - a) t / E[B])`` with ``t`` divided by ``(1 + c_s²) / 2`` for
    non-exponential work (Allen-Cunneen: the conditional wait scales like the
    mean wait).
    """
    load = np.asarray(load, dtype=float)
    if slo.kind == "wait_prob":
        return servers_for(load, max_wait_prob=slo.max_wait_prob)
    t = slo.wait_s / _time_factor(service)
    return servers_for(load, service_level=(t, slo.fraction), mean_service_time=service.mean_s)


def stationary_measure(servers, load, slo, service) -> np.ndarray:
    """The SLO's miss share at ``servers`` and ``load`` (stationary formula, as above)."""
    c, a = np.broadcast_arrays(np.asarray(servers, dtype=float), np.asarray(load, dtype=float))
    stable = c > a
    if slo.kind == "wait_prob":
        decay = np.ones(c.shape)
    else:
        t = slo.wait_s / _time_factor(service)
        with np.errstate(all="ignore"):
            decay = np.where(stable, np.exp(-(c - a) * t / service.mean_s), 1.0)
    # Erlang C is at most 1: where the decay is below 1e-30 the miss share is 0 to that
    # precision, and the many seconds far from capacity need no Erlang C.
    needed = stable & (decay > 1e-30)
    pw = np.where(stable, 0.0, 1.0)
    with np.errstate(all="ignore"):
        cc = np.maximum(c[needed], 1)
        pw[needed] = erlang_c(cc, np.minimum(a[needed], cc * 0.999999))
    return pw * decay


def _miss_given_occupancy(n, c, slo, service):
    """Share of arrivals missing the SLO's waiting target when they find ``n`` requests
    in the active pool (busy current workers plus line) and ``c`` workers.

    ``wait_prob``: ``1[n >= c]`` (an arrival waits iff every worker is busy).
    ``service_level``: ``1[n >= c] P(Poisson(c t' / E[B]) <= n - c)``: the arrival
    waits for ``n - c + 1`` departures from ``c`` busy workers (exponential work),
    with ``t'`` the threshold over the Allen-Cunneen factor ``(1 + c_s²) / 2``.
    """
    from scipy import stats

    busy = n >= c
    if slo.kind == "wait_prob":
        return busy.astype(float)
    t = slo.wait_s / _time_factor(service)
    p = stats.poisson.cdf(np.maximum(n - c, 0), c * t / service.mean_s)
    return np.where(busy, p, 0.0)


def occupancy_servers(occupancy, weights, slo, service) -> np.ndarray:
    """ISA's restaffing step: per interval, the least ``c`` whose weighted share of
    sampled occupancies that miss the target is at most ``slo.miss_limit``.

    Parameters
    ----------
    occupancy : array of float, shape (intervals, samples)
        Requests in the active pool (busy current workers plus the line) in each
        sample (a second's time average) of each interval, pooled over
        replications.
    weights : array of float, same shape
        Arrivals at each sample (so the share is per arrival, as the SLO is).
    """
    n = np.asarray(occupancy, dtype=float)
    w = np.asarray(weights, dtype=float)
    total = w.sum(axis=1)
    total = np.where(total > 0, total, 1.0)
    w = np.where(w.sum(axis=1, keepdims=True) > 0, w, 1.0)  # no arrivals: plain time share
    lo = np.zeros(n.shape[0], dtype=np.int64)  # miss(lo) may exceed the limit
    hi = np.floor(n.max(axis=1)).astype(np.int64) + 1  # nobody waits: miss(hi) = 0
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        miss = (w * _miss_given_occupancy(n, mid[:, None], slo, service)).sum(axis=1) / total
        ok = miss <= slo.miss_limit
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    ok0 = (w * _miss_given_occupancy(n, lo[:, None], slo, service)).sum(axis=1) / total
    return np.where(ok0 <= slo.miss_limit, lo, hi).astype(np.int64)


def iterative_staffing(
    rates,
    start_servers,
    *,
    slo,
    service,
    client,
    queue,
    interval_steps: int,
    alpha_per_second: float = 0.0,
    replications: int = 50,
    max_iter: int = 10,
    seed=None,
    warmup_s: int = 0,
    halve: bool = False,
):
    """Iterative staffing by simulation (ISA) of Feldman, Mandelbaum, Massey and Whitt
    (2008), "Staffing of time-varying queues to achieve time-stable performance",
    Management Science 54(2).

    1. Start with ample staffing (``start_servers`` plus five square roots).
    2. Simulate ``replications`` runs of the time-varying queue with the current
       staffing ``c`` (with its timeouts, retries and queue limit), and record in
       every second the requests in the active pool: busy current workers plus the
       line (the simulator's ``in_system_mean - draining_mean``, a time average
       over the second, which is centred in the second: values at the seconds'
       ends lag by half a second, enough to bias the staffing of a steep rise).
    3. Restaff each planning interval: the least ``c`` with ``P(N >= c) <= miss``
       (delay-probability target), the empirical probability pooled over the
       interval's seconds (weighted by their arrivals) and the replications; for a
       waiting-time target, ``P(N >= c and the wait exceeds t)`` (see
       :func:`occupancy_servers`).
    4. Repeat until the staffing stops changing (or ``max_iter``). From the third
       iteration on, the samples of the previous iteration (under a staffing a few
       workers away) are pooled with the new ones (the readings are noisy); with
       ``halve=True`` each step goes half way (for targets near 0.5, where a full
       step can overshoot and oscillate).

    Why the active pool and not FMMW's N(t): when the staffing drops, the
    simulator lets a removed busy worker finish its request, and an arrival waits
    iff every *current* worker is busy; so the delay probability is exactly
    ``P(in_system - draining >= c)``. The removed workers still serving are part of
    the measured N(t) under the actual staffing, as in FMMW, but do not take new
    requests. The replications use the same random numbers in every iteration
    (common random numbers), so the iteration reaches a fixed point.

    Parameters
    ----------
    rates : array of float
        First tries per second (1/s), one per second.
    start_servers : array of int
        A staffing per interval to build the ample start from (e.g. MOL's).
    slo, service, client, queue
        As in :func:`~capplan.planning.plan_event`.
    interval_steps : int
        Seconds per planning interval.
    alpha_per_second : float
        Over-dispersion of the simulated first tries.
    replications : int, default 50
        Runs per iteration, pooled per interval. The restaffing reads a tail
        probability: its noise is about ``sqrt(miss (1 - miss) / (replications x
        interval_steps))``.
    max_iter : int, default 10
    seed : int, Generator or None
    warmup_s : int
        Seconds of the first conditions simulated before (left out).
    halve : bool, default False
        Damp the iteration (see step 4).

    Returns
    -------
    (servers, history, retries_per_first_try)
        Servers per interval, a DataFrame of the iterations (``max_change``,
        ``mean_abs_change``, ``worst_miss`` in the simulation of that iteration),
        and the simulated attempts per first try.
    """
    import pandas as pd

    from capplan.planning.validate import per_second_buffer, simulate_join_path

    start = np.asarray(start_servers, dtype=np.int64)
    c = start + np.ceil(5 * np.sqrt(np.maximum(start, 1))).astype(np.int64) + 5
    n = c.size
    children = np.random.SeedSequence(seed).spawn(replications)
    hist = []
    amp = 1.0
    previous = None
    for it in range(max_iter):
        limits = queue.limits(c, service.mean_s, client.timeout_s)
        buffer = per_second_buffer(limits, interval_steps)
        occ, arrivals, immediate, admitted = [], 0.0, 0.0, 0.0
        first = 0.0
        for child in children:
            a, b = child.spawn(2)
            f, _ = simulate_join_path(
                rates,
                np.repeat(c, interval_steps),
                service=service,
                client=client,
                buffer=buffer,
                alpha_per_second=alpha_per_second,
                warmup_s=warmup_s,
                seed=np.random.default_rng(a),
                noise_seed=np.random.default_rng(b),
            )
            active = f["in_system_mean"] - f["draining_mean"]
            occ.append(active.to_numpy().reshape(n, interval_steps))
            arrivals = arrivals + f["arrivals"].to_numpy(dtype=float)
            immediate = immediate + f["immediate"].to_numpy(dtype=float)
            admitted = admitted + f["admitted"].to_numpy(dtype=float)
            first += float(f["first_tries"].sum())
        occupancy = np.concatenate(occ, axis=1)
        weights = np.tile(arrivals.reshape(n, interval_steps), (1, replications))
        pooled = (occupancy, weights)
        if it > 1:  # near the fixed point: pool with the previous iteration's samples
            pooled = tuple(
                np.concatenate(pair, axis=1) for pair in zip(pooled, previous, strict=True)
            )
        previous = (occupancy, weights)
        new = occupancy_servers(*pooled, slo, service)
        amp = float(arrivals.sum() / max(first, 1.0))
        with np.errstate(invalid="ignore", divide="ignore"):
            adm = admitted.reshape(n, -1).sum(axis=1)
            wait_prob = 1.0 - immediate.reshape(n, -1).sum(axis=1) / adm
        if it > 0 and halve:  # halve each step: near the target the map overshoots
            d = new - c
            new = c + np.sign(d) * ((np.abs(d) + 1) // 2)
        change = np.abs(new - c)
        hist.append(
            {
                "iteration": it + 1,
                "max_change": int(change.max()),
                "mean_abs_change": float(change.mean()),
                "worst_wait_prob": float(np.nanmax(wait_prob)),
                "attempts_per_first_try": amp,
            }
        )
        c = new
        if it > 0 and change.max() == 0:
            break
    return c, pd.DataFrame(hist).set_index("iteration"), amp
