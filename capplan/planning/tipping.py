"""Does the join path recover after a trigger, or stay down? A phase table by simulation.

:func:`capplan.queueing.metastability.metastability` says, in the mean field, where a
path with retrying clients is bistable: at a fresh rate in the band
``[fresh_rate_low, fresh_rate_critical)`` it has a good and a failed state. Which one it
ends in after a trigger (an attack adding requests per second, or a share of servers
lost, for some seconds) depends on whether the trigger pushed it past the unstable state
between them. :func:`tipping_phase` simulates the join path request by request
(:func:`capplan.simulate`) for every (trigger size, duration) cell, a few seeded
replications each, and says whether it "recovers in N s" after the trigger ends or
"stays down" to the end of the horizon; :func:`capplan.charts.phase_chart` draws the table.

Timed-out requests are simulated with ``on_timeout="serve"``: the request stays in the
line and is still served for a client that has gone, which is the mean-field model's
assumption (the work of a timed-out attempt is still done). The simulator's timeout then
bounds the whole response (wait + service), the model's the wait alone: with a service
time much shorter than the timeout the two differ little.

Remedies compared (``remedy=``): ``"backoff"`` (exponential back-off with full jitter,
the same number of retries), ``"budget"`` (a Finagle-style :class:`RetryBudget` of 20%
of first tries), ``"shedding"`` (a line of at most half a timeout's work: requests
beyond it are refused at once instead of queued past their timeout), ``"waiting_room"``
(a room at the edge admits one active join per worker; the rest wait in its line with
exponential patience and never retry against the workers: see
:mod:`capplan.planning.waiting_room`). With a room the workers never time out; the path
counts as down while the room's line is longer than the workers clear within the
timeout, that is while a newcomer would wait longer than the timeout.

:func:`plan_tipping` runs the table for a plan's own join path: its workers, first-try
rate and queue limit at the flood's peak and after it, its work per join (with its
variability) and its clients' timeout and retries; trigger sizes are shares of the
path's capacity there.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from capplan.planning.inputs import JoinService
from capplan.queueing.metastability import metastability
from capplan.simulation import (
    Exponential,
    ExponentialBackoff,
    ImmediateRetry,
    NoRetry,
    RetryBudget,
    RetryPolicy,
    simulate,
)

__all__ = [
    "KINDS",
    "REMEDIES",
    "down_intervals",
    "drain_time",
    "plan_tipping",
    "recovery_time",
    "tipping_phase",
]

KINDS = ("attack", "capacity_loss")
REMEDIES = ("none", "backoff", "budget", "shedding", "waiting_room")
STAYS_DOWN = "stays down"
DRAINS = "drains slowly"  # down at the end of the horizon, its line still falling


# --- one path -------------------------------------------------------------------------


def down_intervals(frame: pd.DataFrame, timeout_s: float, mean_service_s: float) -> np.ndarray:
    """Per interval of a simulation's table: is the path down at its end?

    Down when the line is longer than the servers can clear within the timeout
    (``queue > servers * timeout_s / mean_service_s``: a newcomer would time out), or
    when more than half of the attempts arriving in the interval were refused.
    """
    limit = frame["servers"].to_numpy() * (timeout_s / mean_service_s)
    queue_down = frame["queue"].to_numpy() > limit
    arrivals = frame["arrivals"].to_numpy()
    refused_down = frame["refused"].to_numpy() > 0.5 * np.maximum(arrivals, 1)
    return queue_down | refused_down


def recovery_time(
    frame: pd.DataFrame, trigger_end_s: float, timeout_s: float, mean_service_s: float
) -> float:
    """Seconds from the trigger's end until the path is up for good (s); NaN when it is
    still down in the last interval ("stays down").

    ``frame`` is :meth:`SimulationResult.to_frame`; up and down as in
    :func:`down_intervals`. 0 when the path is up in every interval from the trigger's
    end on.
    """
    down = down_intervals(frame, timeout_s, mean_service_s)
    if down[-1]:
        return math.nan
    ends = frame["end_s"].to_numpy()
    after = ends > trigger_end_s + 1e-9
    late_down = np.flatnonzero(down & after)
    if late_down.size == 0:
        return 0.0
    return float(ends[late_down[-1]] - trigger_end_s)


def drain_time(
    frame: pd.DataFrame, timeout_s: float, mean_service_s: float, window_s: float = 10.0
) -> float:
    """For a path down at the end of its run: the seconds beyond the end until its line
    falls under the down limit, extrapolated from the line's fall over the last
    ``window_s`` (a least-squares slope, s); NaN when the line is not falling there, or
    the path is down by refusals (the failed state, or a path held at its queue limit).

    A path whose attempts at the end are within capacity drains, however slowly: after a
    long trigger it may still be down at the end of the horizon without being in the
    failed state.
    """
    ends = frame["end_s"].to_numpy()
    last = ends > ends[-1] - window_s - 1e-9
    if last.sum() < 3:
        return math.nan
    arrivals = frame["arrivals"].to_numpy()[last]
    if (frame["refused"].to_numpy()[last] > 0.5 * np.maximum(arrivals, 1)).any():
        return math.nan
    queue = frame["queue"].to_numpy()[last].astype(float)
    slope = np.polyfit(ends[last], queue, 1)[0]
    if not slope < 0:
        return math.nan
    limit = frame["servers"].to_numpy()[-1] * (timeout_s / mean_service_s)
    return float(max(queue[-1] - limit, 0.0) / -slope)


def _scenario(servers, fresh_rate, kind, size, start_s, duration_s, after_s, interval_s):
    """Per-interval first-try rates and servers with the trigger in ``[start, start + d)``."""
    n_lead = round(start_s / interval_s)
    n_trig = round(duration_s / interval_s)
    n_after = math.ceil(after_s / interval_s - 1e-9)
    n = n_lead + n_trig + n_after
    rates = np.full(n, float(fresh_rate))
    counts = np.full(n, int(servers), dtype=np.int64)
    during = slice(n_lead, n_lead + n_trig)
    if kind == "attack":
        rates[during] += size
    else:
        counts[during] = round(servers * (1.0 - size))
    return rates, counts, n_lead * interval_s, (n_lead + n_trig) * interval_s


def _cell(
    *,
    remedy,
    servers,
    mean_service_s,
    service_scv,
    timeout_s,
    retry,
    buffer,
    patience_s,
    fresh_rate,
    kind,
    size,
    duration_s,
    lead_s,
    after_s,
    interval_s,
    replication_seeds,
) -> dict:
    """One (size, duration, remedy) cell: ``len(replication_seeds)`` seeded paths.

    ``remedy`` is the label only (the policy and buffer come in ``retry`` and ``buffer``);
    ``patience_s`` (a mean, s) makes the run a waiting room: its line abandons with
    exponential patience and nobody retries (``on_timeout="drop"``).
    """
    del remedy
    work = JoinService(mean_service_s, scv=service_scv).distribution()
    if patience_s is None:
        client = {"timeout": timeout_s, "on_timeout": "serve", "retry": retry}
    else:
        client = {"timeout": Exponential(patience_s), "on_timeout": "drop", "retry": NoRetry()}
    rates, counts, _, end_s = _scenario(
        servers, fresh_rate, kind, size, lead_s, duration_s, after_s, interval_s
    )
    times, draining = [], 0
    for rep_seed in replication_seeds:
        result = simulate(
            arrival_rate=rates,
            service_time=work,
            servers=counts,
            interval=interval_s,
            buffer=buffer,
            seed=int(rep_seed),
            **client,
        )
        frame = result.to_frame()
        t = recovery_time(frame, end_s, timeout_s, mean_service_s)
        if math.isnan(t):  # down at the end: still draining, or failed?
            t = (frame["end_s"].iloc[-1] - end_s) + drain_time(frame, timeout_s, mean_service_s)
            draining += math.isfinite(t)
        times.append(t)
    times = np.array(times)
    down = int(np.isnan(times).sum())
    n = times.size
    recovered = times[~np.isnan(times)]
    worst = float(recovered.max()) if recovered.size else math.nan
    if down == n:
        outcome = STAYS_DOWN
    elif down:
        outcome = f"{STAYS_DOWN} in {down}/{n}"
    elif draining:
        outcome = f"recovers in ~{worst:.0f} s (still draining at the end)"
    else:
        outcome = f"recovers in {worst:.0f} s"
    return {
        "stays_down": down,
        "recovered": n - down,
        "draining": draining,
        "recovery_s": worst,
        "recovery_median_s": float(np.median(recovered)) if recovered.size else math.nan,
        "outcome": outcome,
    }


# --- the phase table ------------------------------------------------------------------


def _as_retry(retry) -> RetryPolicy:
    if isinstance(retry, RetryPolicy):
        return retry
    if isinstance(retry, numbers.Integral) and not isinstance(retry, bool) and retry >= 0:
        return ImmediateRetry(max_retries=int(retry))
    raise ValueError(
        "retry must be a RetryPolicy such as ImmediateRetry(max_retries=3) or a number of "
        f"immediate retries >= 0; got {retry!r}"
    )


def _remedies(remedy, retry: RetryPolicy, servers, mean_service_s, timeout_s, buffer, patience_s):
    """``[{"remedy": label, "retry": policy, "buffer": K or None, "patience_s": s or None}]``.

    ``buffer`` is the path's own queue limit (None: unlimited), kept by every remedy but
    shedding (which may only shorten it) and the waiting room (whose line is the room).
    """
    items = remedy if isinstance(remedy, Sequence) and not isinstance(remedy, str) else [remedy]
    if len(items) == 0:
        raise ValueError("remedy is an empty list; give None, a name or a list of them")
    out = []
    for item in items:
        if item is None or item == "none":
            out.append({"remedy": "none", "retry": retry, "buffer": buffer})
        elif item == "backoff":
            policy = ExponentialBackoff(
                base=timeout_s,
                multiplier=2.0,
                max_delay=30.0 * timeout_s,
                jitter="full",
                max_retries=retry.max_retries,
                budget=retry.budget,
            )
            out.append({"remedy": "backoff", "retry": policy, "buffer": buffer})
        elif item == "budget":
            policy = dataclasses.replace(retry, budget=RetryBudget())
            out.append({"remedy": "budget", "retry": policy, "buffer": buffer})
        elif item == "shedding":
            limit = math.floor(0.5 * servers * timeout_s / mean_service_s)
            limit = limit if buffer is None else min(limit, buffer)
            out.append({"remedy": "shedding", "retry": retry, "buffer": limit})
        elif item == "waiting_room":
            out.append(
                {
                    "remedy": "waiting_room",
                    "retry": NoRetry(),
                    "buffer": None,
                    "patience_s": float(patience_s),
                }
            )
        elif isinstance(item, Mapping):
            unknown = sorted(set(item) - {"name", "retry", "buffer"})
            if unknown or "name" not in item:
                raise ValueError(
                    "a custom remedy is a dict with 'name' and optionally 'retry' (a "
                    f"RetryPolicy) and 'buffer' (a queue limit); got keys {sorted(item)}"
                )
            policy = _as_retry(item.get("retry", retry))
            out.append(
                {"remedy": str(item["name"]), "retry": policy, "buffer": item.get("buffer", buffer)}
            )
        else:
            raise ValueError(
                f"remedy must be None, one of {REMEDIES}, a dict with 'name', 'retry' and "
                f"'buffer', or a list of these; got {item!r}"
            )
    labels = [o["remedy"] for o in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f"remedy lists a remedy twice: {labels}")
    return [{"patience_s": None, **o} for o in out]


def _positive_list(name, values, *, upper=None) -> list[float]:
    arr = np.atleast_1d(np.asarray(values, dtype=float))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty list of numbers; got {values!r}")
    bad = ~np.isfinite(arr) | (arr <= 0) | (arr > upper if upper is not None else False)
    if bad.any():
        bound = f" and at most {upper:g}" if upper is not None else ""
        raise ValueError(f"{name} must be finite, > 0{bound}; got {arr[bad][0]!r}")
    return [float(v) for v in arr]


def tipping_phase(
    servers: int,
    mean_service_s: float,
    timeout_s: float,
    retry,
    fresh_rate: float,
    trigger_sizes,
    trigger_durations_s,
    *,
    kind: str = "attack",
    service_scv: float = 1.0,
    buffer: int | None = None,
    after_s: float = 60.0,
    lead_s: float = 10.0,
    interval_s: float = 1.0,
    replications: int = 3,
    seed: int | None = 0,
    remedy=None,
    mean_patience_s: float = 300.0,
    scheduler="threads",
    progress: bool = False,
) -> pd.DataFrame:
    """Recover or stay down: simulate a trigger of each size and duration at a fresh rate.

    Each path runs ``lead_s`` at ``fresh_rate``, then the trigger for its duration,
    then ``after_s`` at ``fresh_rate`` again; it "recovers in N s" when it is up from
    N seconds after the trigger's end to the end of the horizon, and "stays down" when
    it is still down in the last interval (see :func:`down_intervals`) with its line
    not falling. A path down at the end whose line is falling is draining (the attempts
    are back within capacity, the backlog of the trigger is not yet cleared): its
    recovery is extrapolated (:func:`drain_time`).

    Parameters
    ----------
    servers : int
        Workers on the join path.
    mean_service_s : float
        Mean service time (s): the work per join.
    timeout_s : float
        Client timeout (s); timed-out requests are still served (``on_timeout="serve"``).
    retry : RetryPolicy or int
        The clients' retry policy; an int ``R`` means ``ImmediateRetry(max_retries=R)``.
    fresh_rate : float
        First tries per second outside the trigger (best inside the bistable band of
        :func:`~capplan.queueing.metastability.metastability`).
    trigger_sizes : list of float
        ``kind="attack"``: extra first tries per second during the trigger (the attack
        retries as the clients do); ``kind="capacity_loss"``: the share of servers lost,
        in (0, 1].
    trigger_durations_s : list of float
        Trigger lengths (s), whole multiples of ``interval_s``.
    kind : {"attack", "capacity_loss"}
    service_scv : float, default 1
        Squared coefficient of variation of the work: 1 is exponential (the mean
        field's M/M/c), else as :class:`~capplan.JoinService` draws it (log-normal).
    buffer : int or None, default None
        The path's queue limit (requests waiting; None: unlimited). Refused attempts
        retry as timed-out ones do.
    after_s : float, default 60
        Horizon after the trigger's end (s). A path still down at its end "stays down".
    lead_s : float, default 10
        Time at the fresh rate before the trigger (s), a multiple of ``interval_s``.
    interval_s : float, default 1
        The simulation's interval (s): the step of the trigger and of the recovery time.
    replications : int, default 3
        Seeded paths per cell. The same seeds serve every cell (common random numbers).
    seed : int or None, default 0
        Root of the replications' seeds.
    remedy : None, str, dict or list of them
        ``None``/``"none"`` (the retry policy as given), ``"backoff"``
        (``ExponentialBackoff(base=timeout_s, multiplier=2, max_delay=30 timeout_s,
        jitter="full")`` with the same ``max_retries``), ``"budget"`` (the policy with
        ``RetryBudget()``: 20% of first tries over 10 s, plus 10 retries/s),
        ``"shedding"`` (``buffer = floor(servers * timeout_s / (2 mean_service_s))``:
        the line holds half a timeout's work), or ``{"name": ..., "retry": policy,
        "buffer": K}``, or ``"waiting_room"`` (one active join per worker; the rest wait
        in the room's line with exponential patience of mean ``mean_patience_s`` and do
        not retry). A list compares several, one block of rows each.
    mean_patience_s : float, default 300
        Mean patience in the waiting room's line (s); only with ``"waiting_room"``.
    scheduler : "threads", None, "inline", str or distributed.Client, default "threads"
        Where the cells run, one job each (:func:`capplan.scale.sweep.run_jobs`), as in
        :meth:`EventPlan.validate <capplan.planning.plan.EventPlan.validate>`:
        ``"threads"`` in this process, one thread per core (nothing to start); None a
        local Dask cluster, one worker process per core, started for this call; an
        address or a ``distributed.Client`` a running cluster; ``"inline"`` one cell
        after the other. The cells' seeds come from ``seed``, so the table is the same
        wherever it ran (but ``attrs["runtime_s"]`` and ``attrs["scheduler"]``).
    progress : bool, default False
        Show a progress bar over the cells.

    Returns
    -------
    pandas.DataFrame
        One row per (remedy, size, duration): ``remedy``, ``kind``, ``size`` (attack:
        requests/s; capacity loss: share), ``duration_s``; ``stays_down``,
        ``recovered`` and ``draining`` (replications: down at the end, but failed or
        with the line still falling, see :func:`drain_time`; draining ones count as
        recovered), ``recovery_s`` (the slowest recovery, s, extrapolated for draining
        ones; NaN when none recovered), ``recovery_median_s``, ``outcome`` ("recovers in
        N s", "recovers in ~N s (still draining at the end)", "stays down", or "stays
        down in k/n"); and the mean field's view of the trigger without
        remedy: ``trigger_fresh_rate`` (first tries/s during it),
        ``trigger_critical_rate`` (the fold of the path during it) and
        ``no_good_state`` (the trigger leaves no good state, so a long enough one tips
        the path; NaN and None for unlimited retries). ``attrs`` holds the inputs,
        the mean-field thresholds at full capacity (``fresh_rate_low``,
        ``fresh_rate_critical``, ``state``), ``runtime_s`` and ``scheduler`` (where the
        cells ran).

    Examples
    --------
    >>> from capplan.planning.tipping import tipping_phase
    >>> table = tipping_phase(20, 0.1, 1.0, 3, fresh_rate=120.0, trigger_sizes=[130.0],
    ...                       trigger_durations_s=[1.0, 20.0], after_s=30, replications=1)
    >>> table["outcome"].tolist()[1]
    'stays down'
    """
    phase = _phase(
        servers,
        mean_service_s,
        timeout_s,
        retry,
        fresh_rate,
        trigger_sizes,
        trigger_durations_s,
        kind=kind,
        service_scv=service_scv,
        buffer=buffer,
        after_s=after_s,
        lead_s=lead_s,
        interval_s=interval_s,
        replications=replications,
        seed=seed,
        remedy=remedy,
        mean_patience_s=mean_patience_s,
    )
    started = time.perf_counter()
    results, where = _run_cells(phase.jobs, scheduler, progress)
    return phase.table(results, time.perf_counter() - started, where)


def _run_cells(jobs: list[dict], scheduler, progress: bool) -> tuple[list, str]:
    """Every cell of one or more phase tables, one job each, on ``scheduler``."""
    from capplan.scale.sweep import run_jobs

    def name(i):
        job = jobs[i]
        return f"the cell {job['remedy']!r}, size {job['size']:g}, {job['duration_s']:g} s"

    return run_jobs(
        _cell,
        jobs,
        scheduler=scheduler,
        progress=progress,
        desc="tipping cells",
        unit="cell",
        name=name,
    )


def _phase(
    servers,
    mean_service_s,
    timeout_s,
    retry,
    fresh_rate,
    trigger_sizes,
    trigger_durations_s,
    *,
    kind,
    service_scv,
    buffer,
    after_s,
    lead_s,
    interval_s,
    replications,
    seed,
    remedy,
    mean_patience_s,
) -> _Phase:
    """:func:`tipping_phase`'s inputs checked, and its cells as jobs for :func:`_cell`."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
    if isinstance(servers, bool) or not isinstance(servers, numbers.Integral) or servers < 1:
        raise ValueError(f"servers must be a whole number >= 1; got {servers!r}")
    servers = int(servers)
    for name, value in (("mean_service_s", mean_service_s), ("timeout_s", timeout_s)):
        if not (isinstance(value, numbers.Real) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0 (s); got {value!r}")
    if not (isinstance(fresh_rate, numbers.Real) and math.isfinite(fresh_rate) and fresh_rate >= 0):
        raise ValueError(f"fresh_rate must be a finite number >= 0 (per s); got {fresh_rate!r}")
    for name, value in (("after_s", after_s), ("interval_s", interval_s)):
        if not (isinstance(value, numbers.Real) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0 (s); got {value!r}")
    if not (isinstance(lead_s, numbers.Real) and math.isfinite(lead_s) and lead_s >= 0):
        raise ValueError(f"lead_s must be a finite number >= 0 (s); got {lead_s!r}")
    if (
        isinstance(replications, bool)
        or not isinstance(replications, numbers.Integral)
        or replications < 1
    ):
        raise ValueError(f"replications must be a whole number >= 1; got {replications!r}")
    if not (
        isinstance(service_scv, numbers.Real) and math.isfinite(service_scv) and service_scv >= 0
    ):
        raise ValueError(f"service_scv must be a finite number >= 0; got {service_scv!r}")
    if buffer is not None and (
        isinstance(buffer, bool) or not isinstance(buffer, numbers.Integral) or buffer < 0
    ):
        raise ValueError(f"buffer must be None or a whole number >= 0; got {buffer!r}")
    if not (
        isinstance(mean_patience_s, numbers.Real)
        and math.isfinite(mean_patience_s)
        and mean_patience_s > 0
    ):
        raise ValueError(
            f"mean_patience_s must be a finite number > 0 (s); got {mean_patience_s!r}"
        )
    retry = _as_retry(retry)
    sizes = _positive_list("trigger_sizes", trigger_sizes, upper=1.0 if kind != "attack" else None)
    durations = _positive_list("trigger_durations_s", trigger_durations_s)
    for name, value in [("lead_s", lead_s)] + [("trigger_durations_s", d) for d in durations]:
        steps = value / interval_s
        if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
            raise ValueError(
                f"{name} must be a whole number of intervals of {interval_s:g} s; got "
                f"{value:g} s: pass interval_s that divides it"
            )
    buffer = None if buffer is None else int(buffer)
    remedies = _remedies(remedy, retry, servers, mean_service_s, timeout_s, buffer, mean_patience_s)

    rep_seeds = np.random.SeedSequence(seed).generate_state(replications, dtype=np.uint32)
    scenarios = [
        {**r, "size": size, "duration_s": d} for r in remedies for size in sizes for d in durations
    ]
    fixed = {
        "servers": servers,
        "mean_service_s": float(mean_service_s),
        "service_scv": float(service_scv),
        "timeout_s": float(timeout_s),
        "fresh_rate": float(fresh_rate),
        "kind": kind,
        "lead_s": float(lead_s),
        "after_s": float(after_s),
        "interval_s": float(interval_s),
        "replication_seeds": [int(s) for s in rep_seeds],
    }
    jobs = [{**fixed, **cell} for cell in scenarios]
    return _Phase(
        jobs=jobs,
        kind=kind,
        servers=servers,
        mean_service_s=float(mean_service_s),
        service_scv=float(service_scv),
        buffer=buffer,
        timeout_s=float(timeout_s),
        retry=retry,
        fresh_rate=float(fresh_rate),
        lead_s=float(lead_s),
        after_s=float(after_s),
        replications=int(replications),
        seed=seed,
    )


@dataclasses.dataclass(frozen=True)
class _Phase:
    """One phase table's cells (``jobs``, for :func:`_cell`) and what its table needs."""

    jobs: list
    kind: str
    servers: int
    mean_service_s: float
    service_scv: float
    buffer: int | None
    timeout_s: float
    retry: RetryPolicy
    fresh_rate: float
    lead_s: float
    after_s: float
    replications: int
    seed: int | None

    def table(self, results: list[dict], runtime: float, where: str) -> pd.DataFrame:
        """The phase table from the cells' results (in the order of ``jobs``)."""
        kind, servers, fresh_rate = self.kind, self.servers, self.fresh_rate
        mean_service_s, timeout_s, retry = self.mean_service_s, self.timeout_s, self.retry
        table = pd.DataFrame.from_records(
            [
                {"remedy": job["remedy"], "size": job["size"], "duration_s": job["duration_s"]}
                | result
                for job, result in zip(self.jobs, results, strict=True)
            ]
        )
        table.insert(1, "kind", kind)

        # The mean field's view of each trigger (the retry policy's R, no remedy).
        # (Unlimited retries, max_retries=None, have no finite R: the columns are NaN.)
        r = retry.max_retries
        n_rows = len(table)
        if kind == "attack":
            trigger_rate = fresh_rate + table["size"].to_numpy()
            left = np.full(n_rows, servers)
        else:
            trigger_rate = np.full(n_rows, float(fresh_rate))
            left = np.rint(servers * (1.0 - table["size"].to_numpy())).astype(int)
        if r is None:
            low = crit_full = math.nan
            state = "unknown: unlimited retries"
            critical = np.full(n_rows, math.nan)
            no_good = np.full(n_rows, None, dtype=object)
        else:
            base = metastability(servers, mean_service_s, timeout_s, r, fresh_rate)
            low, crit_full, state = base.fresh_rate_low, base.fresh_rate_critical, str(base.state)
            by_servers = {
                int(k): 0.0
                if k == 0
                else metastability(int(k), mean_service_s, timeout_s, r).fresh_rate_critical
                for k in set(left.tolist())
            }
            critical = np.array([by_servers[int(k)] for k in left])
            no_good = trigger_rate >= critical
        table["trigger_fresh_rate"] = trigger_rate
        table["trigger_critical_rate"] = critical
        table["no_good_state"] = no_good
        table.attrs.update(
            servers=servers,
            mean_service_s=mean_service_s,
            service_scv=self.service_scv,
            buffer=self.buffer,
            timeout_s=timeout_s,
            retry=repr(retry),
            fresh_rate=fresh_rate,
            kind=kind,
            lead_s=self.lead_s,
            after_s=self.after_s,
            replications=self.replications,
            seed=self.seed,
            fresh_rate_low=low,
            fresh_rate_critical=crit_full,
            state=state,
            runtime_s=runtime,
            scheduler=where,
        )
        return table


# --- a plan's own join path -------------------------------------------------------------

AFTER_SHARE = 0.1  # "after the flood": the first interval back under 10% of the peak's rate


def _operating_points(frame: pd.DataFrame, at) -> list[tuple[str, float]]:
    """``[(label, start_s), ...]`` of the plan's intervals named by ``at``."""
    items = [at] if isinstance(at, str | numbers.Real) else list(at)
    if not items:
        raise ValueError('at is empty; give "peak", "after", seconds, or a list of them')
    rates = frame["join_rate_per_s"].to_numpy()
    starts = frame.index.to_numpy(dtype=float)
    i_peak = int(np.argmax(rates))
    out = []
    for item in items:
        if item == "peak":
            out.append(("peak", float(starts[i_peak])))
        elif item == "after":
            later = np.flatnonzero(
                (np.arange(rates.size) > i_peak) & (rates <= AFTER_SHARE * rates[i_peak])
            )
            if later.size == 0:
                raise ValueError(
                    f"at='after': the plan's first-try rate never falls back under "
                    f"{AFTER_SHARE:.0%} of its peak within its window; give the time in "
                    "seconds from the scheduled start instead"
                )
            out.append(("after", float(starts[later[0]])))
        elif isinstance(item, numbers.Real) and not isinstance(item, bool):
            inside = np.flatnonzero(starts <= item)
            if (
                not math.isfinite(item)
                or inside.size == 0
                or item >= starts[-1] + (starts[-1] - starts[-2] if starts.size > 1 else math.inf)
            ):
                raise ValueError(
                    f"at={item!r} s is outside the plan's window {starts[0]:g}..{starts[-1]:g} s"
                )
            out.append((f"{item:g} s", float(starts[inside[-1]])))
        else:
            raise ValueError(
                f'at must be "peak", "after", seconds from the scheduled start, or a list of '
                f"them; got {item!r}"
            )
    return out


def plan_tipping(
    plan,
    trigger_shares=(0.25, 0.5, 1.0),
    trigger_durations_s=(15, 30, 60),
    *,
    at=("peak", "after"),
    kind: str = "attack",
    retry=None,
    queue_limit: bool = True,
    remedy=("none", "backoff", "budget", "shedding", "waiting_room"),
    replications: int = 1,
    after_s: float = 60.0,
    seed: int | None = 0,
    mean_patience_s: float = 300.0,
    scheduler="threads",
    progress: bool = False,
) -> pd.DataFrame:
    """:func:`tipping_phase` on a plan's own join path, at the flood's peak and after it.

    At each operating point the path is the plan's as it stands there: its workers and
    queue limit in that interval, its point first-try rate held constant, its work per
    join (mean and variability) and its clients' timeout and retry policy. Each trigger
    is a share of the path's capacity there (attack: ``share * workers / mean work``
    extra first tries per second; capacity loss: the share of workers lost).

    Parameters
    ----------
    plan : EventPlan
    trigger_shares : list of float, default (0.25, 0.5, 1.0)
        Trigger sizes as shares of the path's capacity (capacity loss: at most 1).
    trigger_durations_s : list of float, default (15, 30, 60)
        Trigger lengths (s).
    at : "peak", "after", float, or a list of them, default ("peak", "after")
        ``"peak"``: the interval of the highest first-try rate; ``"after"``: the first
        interval after it whose rate is back under 10% of the peak's (the plan has
        scaled down, and a late surge or an attack meets a small path); a number: the
        interval holding that second from the scheduled start.
    kind : {"attack", "capacity_loss"}
    retry : RetryPolicy, int or None
        The clients' retries; None: the plan's (``plan.client.retry``).
    queue_limit : bool, default True
        Keep the plan's queue limit in that interval (every remedy keeps it but the
        waiting room; shedding may only shorten it). False: the line is unlimited, as
        on a server that queues whatever comes. A limit of about one timeout's work
        (the plan's default) is itself load shedding: compare both.
    remedy, replications, after_s, seed, mean_patience_s, scheduler, progress
        As :func:`tipping_phase` (here one replication and every remedy by default).
        The cells of every point run together, in one call of the scheduler.

    Returns
    -------
    pandas.DataFrame
        :func:`tipping_phase`'s rows for every point, with ``at`` (the point's label),
        ``at_s`` (its interval's start, s), ``servers``, ``fresh_rate`` (1/s) and
        ``share`` in front. ``attrs["points"]``: one row per point with its workers,
        queue limit, first-try rate, capacity (attempts/s) and the mean-field band
        (``fresh_rate_low``, ``fresh_rate_critical``, ``state``); ``attrs["runtime_s"]``
        and ``attrs["scheduler"]``.

    Examples
    --------
    >>> table = plan_tipping(plan)  # doctest: +SKIP
    >>> phase_chart(table)  # doctest: +SKIP
    """
    frame = plan.to_frame()
    points = _operating_points(frame, at)
    shares = _positive_list(
        "trigger_shares", trigger_shares, upper=1.0 if kind != "attack" else None
    )
    policy = plan.client.retry if retry is None else retry
    phases, heads = [], []
    started = time.perf_counter()
    for label, start_s in points:
        servers = int(frame.at[start_s, "workers"])
        fresh = float(frame.at[start_s, "join_rate_per_s"])
        limit = int(frame.at[start_s, "queue_limit"])
        capacity = servers / plan.service.mean_s
        sizes = [s * capacity for s in shares] if kind == "attack" else shares
        phases.append(
            _phase(
                servers,
                plan.service.mean_s,
                plan.client.timeout_s,
                policy,
                fresh,
                sizes,
                trigger_durations_s,
                kind=kind,
                service_scv=plan.service.scv,
                buffer=None if limit < 0 or not queue_limit else limit,
                after_s=after_s,
                lead_s=10.0,  # tipping_phase's defaults
                interval_s=1.0,
                replications=replications,
                seed=seed,
                remedy=remedy,
                mean_patience_s=mean_patience_s,
            )
        )
        heads.append((label, start_s, servers, fresh, limit, capacity, sizes))
    # Every point's cells in one run: one cluster (if any) for all, the cores kept busy.
    results, where = _run_cells([job for ph in phases for job in ph.jobs], scheduler, progress)
    runtime = time.perf_counter() - started
    tables, rows, first = [], [], 0
    for phase, (label, start_s, servers, fresh, limit, capacity, sizes) in zip(
        phases, heads, strict=True
    ):
        table = phase.table(results[first : first + len(phase.jobs)], runtime, where)
        first += len(phase.jobs)
        share_of = dict(zip(sizes, shares, strict=True))
        head = {
            "at": label,
            "at_s": start_s,
            "servers": servers,
            "fresh_rate": fresh,
        }
        for position, (name, value) in enumerate(head.items()):
            table.insert(position, name, value)
        table.insert(4, "share", table["size"].map(share_of))
        tables.append(table)
        rows.append(
            {
                "at": label,
                "at_s": start_s,
                "servers": servers,
                "queue_limit": limit if queue_limit else -1,
                "fresh_rate": fresh,
                "capacity_rate": capacity,
                "fresh_rate_low": table.attrs["fresh_rate_low"],
                "fresh_rate_critical": table.attrs["fresh_rate_critical"],
                "state": table.attrs["state"],
            }
        )
    out = pd.concat(tables, ignore_index=True)
    out.attrs.update(
        kind=kind,
        retry=repr(_as_retry(policy)),
        timeout_s=float(plan.client.timeout_s),
        mean_service_s=float(plan.service.mean_s),
        replications=int(replications),
        seed=seed,
        points=pd.DataFrame(rows).set_index("at"),
        runtime_s=runtime,
        scheduler=where,
    )
    return out


def __getattr__(name):
    # The chart moved to capplan.charts, which imports this module. Fetched on first use:
    # the old import still works, and no import circle forms.
    if name == "phase_chart":
        from capplan import charts

        return charts.phase_chart
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
