"""Does the join path recover after a trigger, or stay down? A phase table by simulation.

:func:`capplan.queueing.metastability.metastability` says, in the mean field, where a
path with retrying clients is bistable: at a fresh rate in the band
``[fresh_rate_low, fresh_rate_critical)`` it has a good and a failed state. Which one it
ends in after a trigger (an attack adding requests per second, or a share of servers
lost, for some seconds) depends on whether the trigger pushed it past the unstable state
between them. :func:`tipping_phase` simulates the join path request by request
(:func:`capplan.simulate`) for every (trigger size, duration) cell, a few seeded
replications each, and says whether it "recovers in N s" after the trigger ends or
"stays down" to the end of the horizon; :func:`phase_chart` draws the table.

Timed-out requests are simulated with ``on_timeout="serve"``: the request stays in the
line and is still served for a client that has gone, which is the mean-field model's
assumption (the work of a timed-out attempt is still done). The simulator's timeout then
bounds the whole response (wait + service), the model's the wait alone: with a service
time much shorter than the timeout the two differ little.

Remedies compared (``remedy=``): ``"backoff"`` (exponential back-off with full jitter,
the same number of retries), ``"budget"`` (a Finagle-style :class:`RetryBudget` of 20%
of first tries), ``"shedding"`` (a line of at most half a timeout's work: requests
beyond it are refused at once instead of queued past their timeout).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from capplan.queueing.metastability import metastability
from capplan.simulation import (
    ExponentialBackoff,
    ImmediateRetry,
    RetryBudget,
    RetryPolicy,
    simulate,
)

__all__ = [
    "KINDS",
    "REMEDIES",
    "down_intervals",
    "phase_chart",
    "recovery_time",
    "tipping_phase",
]

KINDS = ("attack", "capacity_loss")
REMEDIES = ("none", "backoff", "budget", "shedding")
STAYS_DOWN = "stays down"


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
    timeout_s,
    retry,
    buffer,
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

    ``remedy`` is the label only (the policy and buffer come in ``retry`` and ``buffer``).
    """
    del remedy
    rates, counts, _, end_s = _scenario(
        servers, fresh_rate, kind, size, lead_s, duration_s, after_s, interval_s
    )
    times = []
    for rep_seed in replication_seeds:
        result = simulate(
            arrival_rate=rates,
            service_time=mean_service_s,
            servers=counts,
            interval=interval_s,
            buffer=buffer,
            timeout=timeout_s,
            on_timeout="serve",
            retry=retry,
            seed=int(rep_seed),
        )
        times.append(recovery_time(result.to_frame(), end_s, timeout_s, mean_service_s))
    times = np.array(times)
    down = int(np.isnan(times).sum())
    n = times.size
    recovered = times[~np.isnan(times)]
    worst = float(recovered.max()) if recovered.size else math.nan
    if down == n:
        outcome = STAYS_DOWN
    elif down:
        outcome = f"{STAYS_DOWN} in {down}/{n}"
    else:
        outcome = f"recovers in {worst:.0f} s"
    return {
        "stays_down": down,
        "recovered": n - down,
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


def _remedies(remedy, retry: RetryPolicy, servers, mean_service_s, timeout_s) -> list[dict]:
    """``[{"remedy": label, "retry": policy, "buffer": K or None}, ...]``."""
    items = remedy if isinstance(remedy, Sequence) and not isinstance(remedy, str) else [remedy]
    if len(items) == 0:
        raise ValueError("remedy is an empty list; give None, a name or a list of them")
    out = []
    for item in items:
        if item is None or item == "none":
            out.append({"remedy": "none", "retry": retry, "buffer": None})
        elif item == "backoff":
            policy = ExponentialBackoff(
                base=timeout_s,
                multiplier=2.0,
                max_delay=30.0 * timeout_s,
                jitter="full",
                max_retries=retry.max_retries,
                budget=retry.budget,
            )
            out.append({"remedy": "backoff", "retry": policy, "buffer": None})
        elif item == "budget":
            policy = dataclasses.replace(retry, budget=RetryBudget())
            out.append({"remedy": "budget", "retry": policy, "buffer": None})
        elif item == "shedding":
            limit = math.floor(0.5 * servers * timeout_s / mean_service_s)
            out.append({"remedy": "shedding", "retry": retry, "buffer": limit})
        elif isinstance(item, Mapping):
            unknown = sorted(set(item) - {"name", "retry", "buffer"})
            if unknown or "name" not in item:
                raise ValueError(
                    "a custom remedy is a dict with 'name' and optionally 'retry' (a "
                    f"RetryPolicy) and 'buffer' (a queue limit); got keys {sorted(item)}"
                )
            policy = _as_retry(item.get("retry", retry))
            out.append({"remedy": str(item["name"]), "retry": policy, "buffer": item.get("buffer")})
        else:
            raise ValueError(
                f"remedy must be None, one of {REMEDIES}, a dict with 'name', 'retry' and "
                f"'buffer', or a list of these; got {item!r}"
            )
    labels = [o["remedy"] for o in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f"remedy lists a remedy twice: {labels}")
    return out


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
    after_s: float = 60.0,
    lead_s: float = 10.0,
    interval_s: float = 1.0,
    replications: int = 3,
    seed: int | None = 0,
    remedy=None,
    scheduler="inline",
    progress: bool = False,
) -> pd.DataFrame:
    """Recover or stay down: simulate a trigger of each size and duration at a fresh rate.

    Each path runs ``lead_s`` at ``fresh_rate``, then the trigger for its duration,
    then ``after_s`` at ``fresh_rate`` again; it "recovers in N s" when it is up from
    N seconds after the trigger's end to the end of the horizon, and "stays down" when
    it is still down in the last interval (see :func:`down_intervals`).

    Parameters
    ----------
    servers : int
        Workers on the join path.
    mean_service_s : float
        Mean (exponential) service time (s).
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
        "buffer": K}``. A list compares several, one block of rows each.
    scheduler : "inline", None, str or distributed.Client, default "inline"
        Where the cells run, passed to :func:`capplan.scale.sweep`: ``"inline"`` in this
        process; None a local Dask cluster; an address or a client a running one.
    progress : bool, default False
        Show a progress bar over the cells.

    Returns
    -------
    pandas.DataFrame
        One row per (remedy, size, duration): ``remedy``, ``kind``, ``size`` (attack:
        requests/s; capacity loss: share), ``duration_s``; ``stays_down`` and
        ``recovered`` (replications), ``recovery_s`` (the slowest recovery, s; NaN when
        none recovered), ``recovery_median_s``, ``outcome`` ("recovers in N s", "stays
        down", or "stays down in k/n"); and the mean field's view of the trigger without
        remedy: ``trigger_fresh_rate`` (first tries/s during it),
        ``trigger_critical_rate`` (the fold of the path during it) and
        ``no_good_state`` (the trigger leaves no good state, so a long enough one tips
        the path; NaN and None for unlimited retries). ``attrs`` holds the inputs,
        the mean-field thresholds at full capacity (``fresh_rate_low``,
        ``fresh_rate_critical``, ``state``) and ``runtime_s``.

    Examples
    --------
    >>> from capplan.planning.tipping import tipping_phase
    >>> table = tipping_phase(20, 0.1, 1.0, 3, fresh_rate=120.0, trigger_sizes=[130.0],
    ...                       trigger_durations_s=[1.0, 20.0], after_s=30, replications=1)
    >>> table["outcome"].tolist()[1]
    'stays down'
    """
    from capplan.scale import sweep

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
    remedies = _remedies(remedy, retry, servers, mean_service_s, timeout_s)

    rep_seeds = np.random.SeedSequence(seed).generate_state(replications, dtype=np.uint32)
    scenarios = [
        {**r, "size": size, "duration_s": d} for r in remedies for size in sizes for d in durations
    ]
    fixed = {
        "servers": servers,
        "mean_service_s": float(mean_service_s),
        "timeout_s": float(timeout_s),
        "fresh_rate": float(fresh_rate),
        "kind": kind,
        "lead_s": float(lead_s),
        "after_s": float(after_s),
        "interval_s": float(interval_s),
        "replication_seeds": [int(s) for s in rep_seeds],
    }
    started = time.perf_counter()
    table = sweep(_cell, scenarios, fixed=fixed, scheduler=scheduler, progress=progress)
    runtime = time.perf_counter() - started
    table = table.drop(columns=["retry", "buffer"]).reset_index(drop=True)
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
        mean_service_s=float(mean_service_s),
        timeout_s=float(timeout_s),
        retry=repr(retry),
        fresh_rate=float(fresh_rate),
        kind=kind,
        lead_s=float(lead_s),
        after_s=float(after_s),
        replications=int(replications),
        seed=seed,
        fresh_rate_low=low,
        fresh_rate_critical=crit_full,
        state=state,
        runtime_s=runtime,
    )
    return table


# --- the chart ------------------------------------------------------------------------


def phase_chart(frame: pd.DataFrame, *, title: str | None = None):
    """A heatmap of :func:`tipping_phase`'s table: trigger size by duration, coloured by
    recovers / stays down, the recovery seconds written in each cell; one panel per
    remedy. Returns an altair Chart (not displayed)."""
    import altair as alt

    needed = {"remedy", "size", "duration_s", "stays_down", "recovered", "recovery_s"}
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise ValueError(f"phase_chart needs a table from tipping_phase; missing columns {missing}")
    data = frame.copy()
    data["status"] = np.where(
        data["stays_down"] == 0,
        "recovers",
        np.where(data["recovered"] == 0, STAYS_DOWN, "mixed"),
    )
    data["label"] = [
        "down" if s == STAYS_DOWN else f"{t:.0f} s" if s == "recovers" else f"{d} down"
        for s, t, d in zip(data["status"], data["recovery_s"], data["stays_down"], strict=True)
    ]
    kind = frame.attrs.get("kind", data["kind"].iloc[0] if "kind" in data else "attack")
    size_title = "attack (requests/s)" if kind == "attack" else "servers lost (share)"
    base = alt.Chart().encode(
        x=alt.X("duration_s:O", title="trigger duration (s)"),
        y=alt.Y("size:O", title=size_title, sort="descending"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "status:N",
            title="after the trigger",
            scale=alt.Scale(
                domain=["recovers", "mixed", STAYS_DOWN], range=["#4c9a5b", "#e0a030", "#c0392b"]
            ),
        ),
        tooltip=["remedy:N", "size:Q", "duration_s:Q", "outcome:N", "recovery_s:Q"],
    )
    text = base.mark_text(color="white").encode(text="label:N")
    if title is None:
        fresh = frame.attrs.get("fresh_rate")
        title = "Recovers or stays down after a trigger"
        if fresh is not None:
            title += f" (fresh {fresh:g} first tries/s)"
    layered = alt.layer(cells, text, data=data)
    if data["remedy"].nunique() > 1:
        return layered.facet(column=alt.Column("remedy:N", title="remedy")).properties(title=title)
    return layered.properties(title=title)
