"""A virtual waiting room at the edge: the same flood with and without one, by simulation.

When demand exceeds what the join path holds, a waiting room admits listeners at a set
pace and the rest wait in line; some give up (their *patience*). The join path then never
sees more than it can serve, so nobody times out against the workers and nobody retries:
the room trades a visible wait for a path that stays up. :func:`waiting_room` runs a
plan's forecast scenarios through the plan's join path twice, with no room (the workers,
queue limit, client timeouts and retries of the plan, as :meth:`EventPlan.validate` does)
and with one, and reports both side by side per minute.

Two kinds of admission, both simulated with :func:`capplan.simulate`:

``max_active`` (up to ``N`` active joins; the default)
    A listener leaves the line when one of ``N`` slots is free and holds it while the
    join path works on its join. With ``N <= workers`` each active join has a worker of
    its own, so the room plus the join path is *exactly* one FCFS queue on ``N`` servers
    whose service is the work per join, whose line is the room and whose patience is
    abandonment (``on_timeout="drop"``, no retry): M_t/G/N+G. With exponential work and
    patience at a constant rate it is Erlang A (M/M/N+M), which the tests check. The
    join path then waits for nobody and refuses nobody; a client times out only if its
    work alone exceeds the timeout (``P(B > timeout)``, reported as an expected count).
    Above the workers (``N > c``) the workers are the bottleneck: the run uses
    ``min(N, c)`` slots and the waits include the short queue at the workers (at most
    ``(N - c) E[B] / c`` s, in which patience still counts: slightly conservative); an
    ``N`` whose queue at the workers would reach the client timeout is refused.

``admit_rate_per_s`` (a rate limiter)
    At most ``round(rate * rate_window_s)`` admissions in any window of
    ``rate_window_s`` seconds (a sliding-window limiter; one slot every ``1 / rate`` s is
    a pacer). That is exactly a FCFS queue on ``round(rate * window)`` servers with a
    deterministic service time of ``window`` seconds: a slot is reused one window after
    it admitted someone. The admitted listeners then go through the plan's join path (a
    second simulation, the tandem's second stage): each second's admissions replayed as
    counts, placed uniformly at random within the second (the simulator keeps counts per
    second, not times; random placement is a little burstier than the limiter's, so the
    join path's figures are slightly pessimistic). A join that times out at the join path
    retries there as the client's policy says (not back through the room).

Sizing, when neither is given (``max_active`` mode): ``N`` = the plan's workers in each
interval, all of them. One active join per worker is the fewest that keeps every worker
busy whenever someone waits (the room's throughput is the workers' ``c / E[B]``), and
admitted joins then meet the SLO's wait at once, with nothing refused. More slots add no
throughput, only a queue at the workers. The plan's failure headroom needs no holding
back: if ``k`` workers fail, ``k`` active joins wait about one service time each.

Sizing of a rate (``admit_rate_per_s="auto"``): per interval, the highest Poisson rate at
which the workers that remain after the plan's failure headroom, ``floor((workers -
spare_workers) (1 - zone_loss))``, still meet the SLO by the plan's stationary formula
(waiting target, and the queue limit refusing at most ``max_refused``, M/M/c/K). A rate
above what the remaining workers hold lets the join path's queue grow without bound, so
the headroom is kept here.

Not modelled: attack traffic (the margins' ``attack_rps``) is not added (in front of a
room it would queue as listeners; put it in the forecast to see it); listeners who give up
do not come back; a join that times out at the join path in ``max_active`` mode (rare, see
above) is counted, not re-queued.

Per-minute wait percentiles pool the simulator's per-second ones (each second's waits
interpolated linearly between 0, its p50, p90, p99 and its largest wait; the histogram
behind them has bins about 7% wide): close when waits drift slowly within a minute. Mean
waits and the shares who give up are exact counts.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from capplan._text import table_text
from capplan.models.noise import mixing_alpha
from capplan.planning import methods as _methods
from capplan.planning.forecast import JoinForecast
from capplan.planning.validate import per_second_buffer, simulate_join_path
from capplan.queueing import mmck
from capplan.simulation import Deterministic, Distribution, Exponential, NoRetry, simulate

__all__ = ["WaitingRoomResult", "waiting_room"]

DEFAULT_MEAN_PATIENCE_S = 300.0
ROOM_LABELS = ("without", "with")

_COUNT_COLUMNS = ("first_tries", "arrivals", "admitted", "gave_up")


# -- validation --------------------------------------------------------------------------------


def _check_plan(plan):
    from capplan.planning.plan import EventPlan

    if isinstance(plan, JoinForecast):
        raise TypeError(
            "plan must be an EventPlan (it holds the workers, the client's timeout and "
            "retries the room is compared with); plan the forecast first: "
            "plan_event(forecast, sessions, service=..., streams_per_server=...)"
        )
    if not isinstance(plan, EventPlan):
        raise TypeError(f"plan must be an EventPlan (from plan_event); got {type(plan).__name__}")
    return plan


def _whole(name, value, minimum=1):
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer, float, np.floating))
        or not math.isfinite(value)
        or int(value) != value
        or value < minimum
    ):
        raise ValueError(f"{name} must be a whole number >= {minimum}; got {value!r}")
    return int(value)


def _per_interval(name, value, n, *, whole):
    """A number or one value per plan interval, as a float array of ``n``."""
    try:
        arr = None if isinstance(value, (str, bool)) else np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.ndim > 1:
        raise ValueError(
            f"{name} must be a number or one value per interval of the plan ({n}); got {value!r}"
        )
    if arr.ndim == 1 and arr.size != n:
        raise ValueError(f"{name} has {arr.size} values; the plan has {n} intervals")
    arr = np.broadcast_to(arr, (n,)).astype(float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be finite and > 0 in every interval; got {value!r}")
    if whole and np.any(arr != np.round(arr)):
        raise ValueError(f"{name} must be whole numbers of active joins; got {value!r}")
    return arr


def _patience_of(mean_patience_s, patience):
    """The patience distribution (None: listeners wait for ever) and a description."""
    if patience is not None:
        if mean_patience_s is not None:
            raise ValueError(
                "give mean_patience_s (exponential patience) or patience (a distribution), not both"
            )
        if not isinstance(patience, Distribution):
            raise ValueError(
                "patience must be a distribution from capplan.simulation, e.g. "
                f"LogNormal(mean=300, scv=1) or Deterministic(600); got {type(patience).__name__}"
            )
        return patience, f"{type(patience).__name__}, mean {patience.mean:.4g} s"
    m = DEFAULT_MEAN_PATIENCE_S if mean_patience_s is None else mean_patience_s
    if isinstance(m, bool) or not isinstance(m, (int, float, np.integer, np.floating)) or m <= 0:
        raise ValueError(
            f"mean_patience_s must be a positive number of seconds (inf: nobody gives up); "
            f"got {mean_patience_s!r}"
        )
    if math.isinf(m):
        return None, "none (listeners wait for ever)"
    return Exponential(float(m)), f"exponential, mean {float(m):.4g} s"


# -- sizing ------------------------------------------------------------------------------------


def admission_rate_for(plan) -> np.ndarray:
    """The admission rate (1/s) per plan interval that the plan's join path holds.

    The highest Poisson rate at which ``floor((workers - spare_workers) * (1 -
    zone_loss))`` workers (at least 1) meet the plan's SLO by its stationary formula
    (:func:`capplan.planning.methods.stationary_measure`: the waiting target) with the
    plan's queue limit refusing at most ``max_refused`` (M/M/c/K); bisection on the load.
    """
    m = plan.margins
    w = plan.frame["workers"].to_numpy(dtype=float)
    c = np.maximum(np.floor((w - m.spare_workers) * (1.0 - m.zone_loss) + 1e-9), 1.0)
    tau = plan.service.mean_s
    limits = plan.queue.limits(c.astype(np.int64), tau, plan.client.timeout_s)
    lo, hi = np.zeros_like(c), c.copy()
    for _ in range(60):
        mid = (lo + hi) / 2
        ok = _methods.stationary_measure(c, mid, plan.slo, plan.service) <= plan.slo.miss_limit
        if limits[0] >= 0:
            with np.errstate(all="ignore"):
                blocking = np.asarray(mmck(c, c + limits, np.maximum(mid, 1e-12)).blocking)
            ok &= blocking <= plan.slo.max_refused
        lo, hi = np.where(ok, mid, lo), np.where(ok, hi, mid)
    return lo / tau


# -- pooled percentiles ------------------------------------------------------------------------

_LEVELS = np.array([0.0, 0.5, 0.9, 0.99, 1.0])


def _pooled_quantiles(weights, knots, qs):
    """Quantiles ``qs`` of mixtures of piecewise-linear CDFs.

    ``weights`` (groups, k): starts per second; ``knots`` (groups, k, 5): 0, p50, p90,
    p99 and max of each second (s). Returns (groups, len(qs)); NaN where no weight.
    """
    w = np.where(np.isfinite(weights), weights, 0.0)
    x = np.where(np.isfinite(knots), knots, 0.0)
    x = np.maximum.accumulate(x, axis=-1)
    total = w.sum(axis=1)

    def cdf(v):  # (groups,) -> mixture CDF at v per group
        vv = v[:, None, None]
        lo, hi = x[..., :-1], x[..., 1:]
        flo, fhi = _LEVELS[:-1], _LEVELS[1:]
        width = np.maximum(hi - lo, 1e-300)
        seg = np.where(vv >= hi, fhi, np.where(vv >= lo, flo + (fhi - flo) * (vv - lo) / width, 0))
        f = seg.max(axis=-1)
        return (w * f).sum(axis=1) / np.where(total > 0, total, 1.0)

    out = np.full((w.shape[0], len(qs)), np.nan)
    top = x[..., -1].max(axis=1) if x.shape[1] else np.zeros(w.shape[0])
    at_zero = cdf(np.zeros(w.shape[0]))
    for j, q in enumerate(qs):
        lo, hi = np.zeros(w.shape[0]), top.copy()
        for _ in range(50):
            mid = (lo + hi) / 2
            ok = cdf(mid) >= q
            lo, hi = np.where(ok, lo, mid), np.where(ok, mid, hi)
        out[:, j] = np.where(at_zero >= q, 0.0, hi)
    out[total <= 0] = np.nan
    return out


# -- the runs ----------------------------------------------------------------------------------


def _noisy(rates, fc, noise, rng):
    if not noise:
        return rates
    mixing = mixing_alpha(rates, fc.alpha_per_second, fc.cluster_per_second)
    if not np.any(mixing > 0):
        return rates
    k = 1.0 / np.where(mixing > 0, mixing, 1.0)
    return rates * np.where(mixing > 0, rng.gamma(k, 1.0 / k), 1.0)


def _per_minute(frames, iv, *, line, counts):
    """Per-interval measures pooled over replications' per-second frames."""
    n = len(frames[0]) // iv
    reps = len(frames)

    def stack(col):
        return np.stack([f[col].to_numpy(dtype=float).reshape(n, iv) for f in frames], axis=1)

    out = {}
    for name, col in counts.items():
        out[name] = stack(col).sum(axis=(1, 2)) / reps
    out["line_mean"] = stack(line[0]).mean(axis=(1, 2))
    out["line_max"] = stack(line[1]).max(axis=(1, 2))
    out["line_end"] = stack(line[1])[:, :, -1].mean(axis=1)
    started = stack("started").reshape(n, reps * iv)
    wsum = (stack("wait_mean_s") * stack("started")).reshape(n, reps * iv)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["wait_mean_s"] = np.nansum(wsum, axis=1) / started.sum(axis=1)
    knots = np.stack(
        [np.zeros((n, reps * iv))]
        + [stack(c).reshape(n, reps * iv) for c in ("wait_p50_s", "wait_p90_s", "wait_p99_s")]
        + [stack("wait_max_s").reshape(n, reps * iv)],
        axis=-1,
    )
    q = _pooled_quantiles(started, knots, (0.5, 0.9, 0.99))
    out["wait_p50_s"], out["wait_p90_s"], out["wait_p99_s"] = q.T
    return out, (started, knots)


def waiting_room(
    plan,
    *,
    max_active=None,
    admit_rate_per_s=None,
    mean_patience_s: float | None = None,
    patience: Distribution | None = None,
    forecast: JoinForecast | None = None,
    scenarios=None,
    interval_s: int = 60,
    rate_window_s: float = 1.0,
    replications: int = 1,
    warmup_s: float | None = None,
    noise: bool = True,
    seed=None,
) -> WaitingRoomResult:
    """Simulate a plan's flood with and without a waiting room in front of its join path.

    Parameters
    ----------
    plan : EventPlan
        The plan (from :func:`~capplan.plan_event`): workers per interval, work per join,
        the client's timeout and retries, the queue limit, the SLO and the forecast.
    max_active : int or array-like of int, optional
        Most active joins (listeners admitted and not yet joined), in every interval or
        one per plan interval. Default (with ``admit_rate_per_s`` None): the plan's
        workers per interval (see the module notes for why).
    admit_rate_per_s : float, array-like or "auto", optional
        Admit at most this many listeners per second instead (one per plan interval, or
        one for all); ``"auto"``: :func:`admission_rate_for` (what the workers that
        remain after the failure headroom hold within the SLO). Not with ``max_active``.
    mean_patience_s : float, default 300
        Mean patience (s) of a listener in the line, exponential; ``inf``: nobody gives
        up. Not with ``patience``.
    patience : Distribution, optional
        Patience of a listener in the line (s), e.g. ``LogNormal(mean=300, scv=1)``.
    forecast : JoinForecast, optional
        Curves to run instead of the plan's (a flood beyond what was planned); it must
        cover the plan's window.
    scenarios : list of str, optional
        Names among the forecast's scenarios (default all: ``point``, ``upper``, ...).
    interval_s : int, default 60
        Reporting interval (s): the rows of :meth:`WaitingRoomResult.to_frame`; must
        divide the plan's window.
    rate_window_s : float, default 1.0
        Window (s) of the rate limiter: at most ``round(rate * window)`` admissions in
        any window of this length (``admit_rate_per_s`` only).
    replications : int, default 1
        Runs per scenario, pooled per interval (the same arrivals with and without the
        room: common random numbers).
    warmup_s : float, optional
        Seconds simulated at the first second's conditions before the window and left
        out. Default: 10 works per join rounded up to a plan interval (as plan
        validation).
    noise : bool, default True
        Over-dispersed per-second first tries (the forecast's alpha); False: Poisson.
    seed : int, Generator or None
        Randomness of every run; the same seed gives the same result.

    Returns
    -------
    WaitingRoomResult

    Raises
    ------
    TypeError
        ``plan`` not an EventPlan (a forecast: plan it first), ``forecast`` not a
        JoinForecast.
    ValueError
        Both ``max_active`` and ``admit_rate_per_s``, or both patience arguments; sizes
        that are not positive (whole for ``max_active``); a ``max_active`` whose queue at
        the workers would reach the client's timeout; a rate below one admission per
        ``rate_window_s``; an unknown scenario; an ``interval_s`` that does not divide the
        window (each message names the argument).

    Examples
    --------
    >>> import pandas as pd
    >>> from capplan.planning import JoinForecast, JoinService, plan_event
    >>> from capplan.planning.waiting_room import waiting_room
    >>> fc = JoinForecast.from_rates(pd.Series(100.0, index=pd.RangeIndex(0, 300)), factor=1.2)
    >>> plan = plan_event(fc, ("exponential", {"mean_s": 300.0}), window=(0, 300),
    ...                   service=JoinService(0.05), streams_per_server=1000)
    >>> flood = JoinForecast.from_rates(pd.Series(300.0, index=pd.RangeIndex(0, 300)),
    ...                                 factor=1.0)
    >>> room = waiting_room(plan, forecast=flood, scenarios=["point"], seed=1)
    >>> s = room.summary().set_index("room")
    >>> bool(s.loc["with", "path_refused_share"] == 0 < s.loc["without", "path_timed_out"])
    True
    """
    plan = _check_plan(plan)
    if max_active is not None and admit_rate_per_s is not None:
        raise ValueError("give max_active (active joins) or admit_rate_per_s (a rate), not both")
    pat, pat_text = _patience_of(mean_patience_s, patience)
    fc = plan.forecast if forecast is None else forecast
    if not isinstance(fc, JoinForecast):
        raise TypeError(f"forecast must be a JoinForecast or None; got {type(fc).__name__}")
    start_s, end_s = plan.window
    fc = fc.window(start_s, end_s)
    names = list(fc.scenarios) if scenarios is None else list(scenarios)
    unknown = [s for s in names if s not in fc.scenarios]
    if unknown or not names:
        raise ValueError(
            f"scenarios: unknown or none {unknown or names}; the forecast has {list(fc.scenarios)}"
        )
    iv = _whole("interval_s", interval_s)
    length = round(end_s - start_s)
    if length % iv:
        raise ValueError(
            f"interval_s ({iv} s) must divide the plan's window ({start_s:g}..{end_s:g} s, "
            f"{length} s)"
        )
    reps = _whole("replications", replications)
    piv = plan.interval_s
    n_plan = len(plan.frame)
    workers = plan.frame["workers"].to_numpy(dtype=np.int64)
    service, client = plan.service, plan.client
    tau = service.mean_s
    if warmup_s is None:
        warm = int(max(1, math.ceil(10 * tau / piv))) * piv
    else:
        if isinstance(warmup_s, bool) or not np.isfinite(warmup_s) or warmup_s < 0:
            raise ValueError(f"warmup_s must be a number of seconds >= 0; got {warmup_s!r}")
        warm = math.ceil(warmup_s)
    rate_window_s = float(rate_window_s)
    if not (math.isfinite(rate_window_s) and rate_window_s > 0):
        raise ValueError(
            f"rate_window_s must be a positive number of seconds; got {rate_window_s!r}"
        )
    notes = []

    # The admission per plan interval.
    if admit_rate_per_s is None:
        mode = "max_active"
        if max_active is None:
            active = workers.astype(float)
            rule = "max_active = the plan's workers (one active join per worker)"
        else:
            active = _per_interval("max_active", max_active, n_plan, whole=True)
            rule = "max_active as given"
        slots = np.minimum(active, workers).astype(np.int64)
        over = active > workers
        if np.any(over) and client.timeout_s is not None:
            inner = (active - workers) * tau / np.maximum(workers, 1) + tau
            bad = inner >= client.timeout_s
            if np.any(bad):
                i = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"max_active ({active[i]:g} at {plan.frame.index[i]:g} s) is so far above the "
                    f"{workers[i]} workers that admitted joins would queue about {inner[i]:.3g} s "
                    f"at the workers, past the client timeout ({client.timeout_s:g} s); give at "
                    f"most {int(workers[i] * (client.timeout_s / tau))} there"
                )
        if np.any(over):
            notes.append(
                f"max_active is above the workers in {int(over.sum())} interval(s): there the "
                "workers are the bottleneck; simulated on min(max_active, workers) slots, waits "
                "include the short queue at the workers"
            )
        rate_eff = np.full(n_plan, np.nan)
    else:
        mode = "admit_rate"
        if isinstance(admit_rate_per_s, str):
            if admit_rate_per_s != "auto":
                raise ValueError(
                    f"admit_rate_per_s must be a rate (1/s), one per interval, or 'auto'; got "
                    f"{admit_rate_per_s!r}"
                )
            rate = admission_rate_for(plan)
            rule = (
                "admit_rate = the highest rate that floor((workers - spare) (1 - zone_loss)) "
                "workers hold within the SLO (stationary formula)"
            )
        else:
            rate = _per_interval("admit_rate_per_s", admit_rate_per_s, n_plan, whole=False)
            rule = "admit_rate as given"
        slots = np.round(rate * rate_window_s).astype(np.int64)
        if np.any(slots < 1):
            i = int(np.flatnonzero(slots < 1)[0])
            raise ValueError(
                f"admit_rate_per_s ({rate[i]:.4g}/s at {plan.frame.index[i]:g} s) admits less "
                f"than one listener per rate_window_s ({rate_window_s:g} s); raise "
                f"rate_window_s to at least {1.0 / rate[i]:.3g} s"
            )
        rate_eff = slots / rate_window_s
        active = np.full(n_plan, np.nan)
    admission = pd.DataFrame(
        {
            "workers": workers,
            "max_active": active,
            "admit_rate_per_s": rate_eff,
            "slots": slots,
            "path_capacity_per_s": workers / tau,
        },
        index=plan.frame.index.copy(),
    )

    limits = plan.queue.limits(workers, tau, client.timeout_s)
    buffer = per_second_buffer(limits, piv)
    w_s = np.repeat(workers, piv)
    slots_s = np.repeat(slots, piv)
    room_service = Deterministic(rate_window_s) if mode == "admit_rate" else service.distribution()
    ss = np.random.SeedSequence(seed)
    jobs = [(name, child) for name in names for child in ss.spawn(reps)]

    def pad(x):
        return np.concatenate([np.full(warm, x[0]), x]) if warm else x

    def one(job):
        name, child = job
        a, b, c = child.spawn(3)
        rates = _noisy(fc.scenarios[name], fc, noise, np.random.default_rng(a))
        without, _ = simulate_join_path(
            rates,
            w_s,
            service=service,
            client=client,
            buffer=buffer,
            warmup_s=warm,
            seed=np.random.default_rng(b),
        )
        room = simulate(
            arrival_rate=pad(rates),
            service_time=room_service,
            servers=pad(slots_s),
            timeout=pat,
            on_timeout="drop",
            retry=NoRetry(),
            warmup=float(warm),
            seed=np.random.default_rng(b),  # the same first tries as without (CRN)
        )
        room_frame = room.to_frame().iloc[warm:]
        path = None
        if mode == "admit_rate":
            path, _ = simulate_join_path(
                None,
                pad(w_s),
                arrival_counts=room.to_frame()["started"].to_numpy(),
                service=service,
                client=client,
                buffer=None if buffer is None else pad(buffer),
                seed=np.random.default_rng(c),
            )
            path = path.iloc[warm:]
        totals = (room.abandon_prob, room.mean_wait, room.customers)
        return name, without, room_frame, path, totals

    runs = {name: [] for name in names}
    with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1)) as pool:
        for name, *rest in pool.map(one, jobs):
            runs[name].append(rest)

    n = length // iv
    starts = start_s + iv * np.arange(n)
    w_iv = np.repeat(workers, piv).reshape(n, iv).max(axis=1)
    slots_iv = np.repeat(slots, piv).reshape(n, iv).max(axis=1)
    rate_iv = np.repeat(rate_eff, piv).reshape(n, iv).max(axis=1)
    late = float(service.survival(client.timeout_s)) if client.timeout_s is not None else 0.0
    rows, totals, pooled = [], [], {}
    for name in names:
        out = runs[name]
        without = [o[0] for o in out]
        room = [o[1] for o in out]
        g0, k0 = _per_minute(
            without,
            iv,
            line=("queue_mean", "queue"),
            counts={
                "first_tries": "first_tries",
                "arrivals": "arrivals",
                "admitted": "started",
                "gave_up": "failed",
                "path_refused": "refused",
                "path_timed_out": "abandoned",
                "path_retries": "retries",
            },
        )
        g0["path_wait_p99_s"] = g0["wait_p99_s"]
        g1, k1 = _per_minute(
            room,
            iv,
            line=("queue_mean", "queue"),
            counts={
                "first_tries": "first_tries",
                "arrivals": "arrivals",
                "admitted": "started",
                "gave_up": "abandoned",
            },
        )
        if mode == "admit_rate":
            paths = [o[2] for o in out]
            gp, _ = _per_minute(
                paths,
                iv,
                line=("queue_mean", "queue"),
                counts={
                    "path_refused": "refused",
                    "path_timed_out": "abandoned",
                    "path_retries": "retries",
                    "path_arrivals": "arrivals",
                },
            )
            g1.update(
                path_refused=gp["path_refused"],
                path_timed_out=gp["path_timed_out"],
                path_retries=gp["path_retries"],
                path_wait_p99_s=gp["wait_p99_s"],
            )
            g1["_path_arrivals"] = gp["path_arrivals"]
        else:
            g1.update(
                path_refused=np.zeros(n),
                path_timed_out=g1["admitted"] * late,
                path_retries=np.zeros(n),
                path_wait_p99_s=np.zeros(n),
            )
        for label, g in (("without", g0), ("with", g1)):
            path_att = g.pop(
                "_path_arrivals", g["arrivals"] if label == "without" else g["admitted"]
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                frame = pd.DataFrame(
                    {
                        "scenario": name,
                        "room": label,
                        "start_s": starts,
                        "workers": w_iv,
                        "slots": slots_iv if label == "with" else np.nan,
                        "admit_rate_per_s": rate_iv if label == "with" else np.nan,
                        "first_tries": g["first_tries"],
                        "arrivals": g["arrivals"],
                        "admitted": g["admitted"],
                        "line_mean": g["line_mean"],
                        "line_max": g["line_max"],
                        "wait_mean_s": g["wait_mean_s"],
                        "wait_p50_s": g["wait_p50_s"],
                        "wait_p90_s": g["wait_p90_s"],
                        "wait_p99_s": g["wait_p99_s"],
                        "gave_up": g["gave_up"],
                        "gave_up_share": g["gave_up"] / g["first_tries"],
                        "path_refused_share": g["path_refused"] / path_att,
                        "path_timed_out": g["path_timed_out"],
                        "path_retries": g["path_retries"],
                        "path_wait_p99_s": g["path_wait_p99_s"],
                    }
                )
            rows.append(frame)
            pooled[(name, label)] = (g, path_att)
        # Totals over the window, from counts (exact) and pooled percentiles.
        for label, g, (weights, knots) in (("without", g0, k0), ("with", g1, k1)):
            path_att = pooled[(name, label)][1]
            q = _pooled_quantiles(
                weights.reshape(1, -1), knots.reshape(1, -1, 5), (0.5, 0.9, 0.99)
            )[0]
            first = g["first_tries"].sum()
            if label == "with":
                ab = np.array([o[3] for o in out], dtype=float)  # (p_ab, mean wait, n)
                share = float(np.sum(ab[:, 0] * ab[:, 2]) / ab[:, 2].sum())
                mean_wait = float(np.sum(ab[:, 1] * ab[:, 2]) / ab[:, 2].sum())
            else:
                share = g["gave_up"].sum() / first if first else np.nan
                started = weights.sum()
                mean_wait = (
                    float(
                        np.nansum(g["wait_mean_s"] * g["admitted"])
                        / max(g["admitted"].sum(), 1e-300)
                    )
                    if started
                    else np.nan
                )
            att = path_att.sum()
            totals.append(
                {
                    "scenario": name,
                    "room": label,
                    "first_tries": first,
                    "gave_up_share": share,
                    "mean_wait_s": mean_wait,
                    "wait_p50_s": q[0],
                    "wait_p90_s": q[1],
                    "wait_p99_s": q[2],
                    "peak_line": g["line_max"].max(),
                    "peak_line_mean": g["line_mean"].max(),
                    "line_at_end": g["line_end"][-1],
                    "worst_wait_p99_s": np.nanmax(g["wait_p99_s"])
                    if np.isfinite(g["wait_p99_s"]).any()
                    else np.nan,
                    "path_refused_share": g["path_refused"].sum() / att if att else np.nan,
                    "path_timed_out": g["path_timed_out"].sum(),
                    "path_retries_per_first_try": g["path_retries"].sum() / first
                    if first
                    else np.nan,
                    "worst_path_wait_p99_s": np.nanmax(g["path_wait_p99_s"])
                    if np.isfinite(g["path_wait_p99_s"]).any()
                    else np.nan,
                }
            )
    frame = pd.concat(rows, ignore_index=True)
    settings = dict(
        mode=mode,
        rule=rule,
        patience=pat_text,
        interval_s=iv,
        rate_window_s=rate_window_s if mode == "admit_rate" else np.nan,
        replications=reps,
        warmup_s=warm,
        noise=noise,
        seed=seed,
        buffer=None if buffer is None else int(buffer.max()),  # the largest, at the peak
        client_timeout_s=client.timeout_s,
    )
    return WaitingRoomResult(frame, pd.DataFrame(totals), admission, settings, notes, plan.slo)


class WaitingRoomResult:
    """A flood with and without a waiting room, per interval and scenario; read-only.

    Built by :func:`waiting_room`.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per scenario, ``room`` (``"without"``, ``"with"``) and interval
        (``start_s``, s from the start). Counts are per run (the mean over replications):
        ``first_tries``, ``arrivals`` (attempts, retries included, at the join path
        without a room; listeners entering the line with one), ``admitted`` (started at a
        worker without; let out of the line with), ``gave_up`` (clients that gave up for
        good after their retries without; listeners who left the line with), and
        ``gave_up_share`` (over first tries). The line: ``line_mean`` (time average) and
        ``line_max`` (largest at a second's end) of requests waiting for a worker without,
        of listeners in the room with. Waits (s) of the admitted: ``wait_mean_s``,
        ``wait_p50_s``, ``wait_p90_s``, ``wait_p99_s``. The join path:
        ``path_refused_share`` (refused by its queue limit, over attempts),
        ``path_timed_out`` (attempts whose client timed out; expected count in
        ``max_active`` mode), ``path_retries``, ``path_wait_p99_s`` (s). ``workers``,
        ``slots`` and ``admit_rate_per_s`` (1/s) are the capacities.
    totals : pandas.DataFrame
        One row per scenario and room over the window: see :meth:`summary`.
    admission : pandas.DataFrame
        Per plan interval: ``workers``, ``max_active``, ``admit_rate_per_s`` (1/s, the
        rate the limiter's whole slots give), ``slots`` (servers of the room's queue) and
        ``path_capacity_per_s`` (workers / work per join).
    settings : dict
        Mode, sizing rule, patience, intervals, replications, warm-up, seed, ...
    notes : list of str
    slo : SLO
        The plan's.
    """

    def __init__(self, frame, totals, admission, settings, notes, slo):
        self.frame = frame
        self.totals = totals
        self.admission = admission
        self.settings = dict(settings)
        self.notes = list(notes)
        self.slo = slo

    @property
    def mode(self) -> str:
        """``"max_active"`` or ``"admit_rate"``."""
        return self.settings["mode"]

    def to_frame(self) -> pd.DataFrame:
        """The per-interval table (a copy): one row per scenario, room and interval."""
        return self.frame.copy()

    def summary(self) -> pd.DataFrame:
        """Per scenario and room, over the window.

        ``first_tries`` (per run); ``gave_up_share``: with the room, listeners who left
        the line over those who entered (the simulator's abandonment probability, after
        the warm-up); without, clients who gave up for good over first tries.
        ``mean_wait_s``: with the room, the mean time in the line of every listener
        (until admitted or until giving up: Erlang A's ``mean_wait``); without, of the
        attempts that started at a worker. ``wait_p50_s``... of the admitted (pooled,
        see the module notes); ``peak_line`` (listeners or requests waiting),
        ``peak_line_mean``; ``line_at_end`` (still waiting when the window ends: neither
        admitted nor given up, so not in the shares); ``worst_wait_p99_s`` (worst
        interval); the join path's ``path_refused_share``, ``path_timed_out``,
        ``path_retries_per_first_try`` and ``worst_path_wait_p99_s`` (s).
        """
        return self.totals.copy()

    def __str__(self) -> str:
        s = self.settings
        head = (
            f"Waiting room ({s['mode']}): {s['rule']}\npatience: {s['patience']}; "
            f"{s['replications']} run(s) per scenario, intervals of {s['interval_s']} s; "
            f"SLO of the join path: {self.slo.describe()}\n"
        )
        body = table_text(self.summary().set_index(["scenario", "room"]).T, 4)
        return head + body + "".join(f"\nnote: {n}" for n in self.notes)

    def __repr__(self) -> str:
        t = self.totals.set_index(["scenario", "room"])
        worst = t.xs("with", level="room")["gave_up_share"].max()
        return f"<WaitingRoomResult {self.mode}: at most {worst:.2%} give up in the room>"

    def chart(self, scenario: str | None = None):
        """Line length and waits per interval, with and without the room (an altair
        Chart); see :func:`capplan.charts.waiting_room_chart`."""
        from capplan import charts

        return charts.waiting_room_chart(self, scenario)


def __getattr__(name):
    # The chart moved to capplan.charts, which imports this module. Fetched on first use:
    # the old import still works, and no import circle forms.
    if name == "waiting_room_chart":
        from capplan import charts

        return charts.waiting_room_chart
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
