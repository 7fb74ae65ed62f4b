"""Simulate a plan's join path over forecast scenarios and judge the SLO interval by interval.

The simulation runs at one-second resolution (the workers held constant within
each planning interval); per-second first tries are over-dispersed like the
history (a gamma-mixed Poisson rate, ``alpha_per_second`` of the forecast), plus
attack traffic. Each planning interval is then judged on its pooled seconds:

- refused share: refused attempts / attempts (exact);
- wait probability: attempts that could not start at once / admitted (exact);
- waiting-time target ``(t, fraction)``: the share of joins that waited longer
  than ``t`` is bounded above from each second's wait quantiles (0 if its
  largest wait is within ``t``, at most 1% if its 99th percentile is, 10% at
  the 90th, 50% at the median, else 100%), plus the clients that gave up
  waiting: a conservative reading, tight when the seconds are well served.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from capplan._progress import progress_bar
from capplan._text import table_text
from capplan.simulation import Deterministic, simulate

__all__ = ["PlanValidation", "simulate_join_path"]


def simulate_join_path(
    rates,
    workers_per_s,
    *,
    service,
    client,
    buffer,
    alpha_per_second=0.0,
    attack_rps=0.0,
    warmup_s=0,
    seed=None,
    noise_seed=None,
):
    """One run of the join path: per-second first-try rates and workers; returns
    ``(per-second frame without the warm-up, SimulationResult)``.

    ``warmup_s`` seconds of the first second's conditions are simulated before
    and left out, so the run starts near steady state.
    """
    rng = np.random.default_rng(noise_seed)
    rates = np.asarray(rates, dtype=float)
    workers = np.asarray(workers_per_s, dtype=np.int64)
    if warmup_s:
        rates = np.concatenate([np.full(warmup_s, rates[0]), rates])
        workers = np.concatenate([np.full(warmup_s, workers[0]), workers])
    if alpha_per_second > 0:
        k = 1.0 / alpha_per_second
        rates = rates * rng.gamma(k, 1.0 / k, rates.size)
    rates = rates + attack_rps
    timeout = None if client.timeout_s is None else Deterministic(client.timeout_s)
    result = simulate(
        arrival_rate=rates,
        service_time=service.distribution(),
        servers=np.maximum(workers, 0),
        interval=1.0,
        buffer=None if buffer is None or buffer < 0 else int(buffer),
        timeout=timeout,
        on_timeout=client.on_timeout,
        retry=client.retry,
        seed=seed,
    )
    frame = result.to_frame().iloc[warmup_s:]
    return frame, result


def judge_intervals(
    frames: list[pd.DataFrame], interval_s: int, slo, start_s: float, drop: bool = False
):
    """Pool replications' per-second frames into per-interval SLO measures."""
    cols = [
        "first_tries",
        "retries",
        "arrivals",
        "refused",
        "admitted",
        "started",
        "abandoned",
        "immediate",
        "failed",
    ]
    n = len(frames[0]) // interval_s
    tot = {c: np.zeros(n) for c in cols}
    miss_up = np.zeros(n)
    p99 = np.full(n, 0.0)
    queue_end = np.zeros(n)
    for f in frames:
        for c in cols:
            tot[c] += f[c].to_numpy(dtype=float).reshape(n, interval_s).sum(axis=1)
        started = f["started"].to_numpy(dtype=float)
        if slo.kind == "service_level":
            t = slo.wait_s
            wmax = f["wait_max_s"].to_numpy(dtype=float)
            bound = np.where(
                started == 0,
                0.0,
                np.where(
                    wmax <= t,
                    0.0,
                    np.where(
                        f["wait_p99_s"].to_numpy(dtype=float) <= t,
                        0.01,
                        np.where(
                            f["wait_p90_s"].to_numpy(dtype=float) <= t,
                            0.1,
                            np.where(f["wait_p50_s"].to_numpy(dtype=float) <= t, 0.5, 1.0),
                        ),
                    ),
                ),
            )
            miss_up += (bound * started).reshape(n, interval_s).sum(axis=1)
        q = f["wait_p99_s"].to_numpy(dtype=float).reshape(n, interval_s)
        p99 = np.maximum(p99, np.nanmax(np.where(np.isnan(q), 0.0, q), axis=1))
        queue_end = np.maximum(
            queue_end, f["queue"].to_numpy(dtype=float)[interval_s - 1 :: interval_s]
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        refused_share = tot["refused"] / tot["arrivals"]
        wait_prob = 1.0 - tot["immediate"] / tot["admitted"]
        if slo.kind == "service_level":
            dropped = tot["abandoned"] if drop else 0.0  # gave up before starting
            miss = (miss_up + dropped) / (tot["started"] + dropped)
        else:
            miss = wait_prob
    out = pd.DataFrame(
        {
            "first_tries": tot["first_tries"],
            "retries": tot["retries"],
            "arrivals": tot["arrivals"],
            "refused_share": refused_share,
            "wait_prob": wait_prob,
            "miss_share": miss,
            "wait_p99_max_s": p99,
            "timed_out": tot["abandoned"],
            "failed": tot["failed"],
            "queue_end_max": queue_end,
        },
        index=pd.Index(start_s + interval_s * np.arange(n), name="start_s"),
    )
    return out


class PlanValidation:
    """The simulated service level of a plan, per interval and scenario, beside the target.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per scenario and interval (columns ``scenario``, ``start_s``,
        ``workers``, attempts, ``refused_share``, ``wait_prob``, ``miss_share``
        (share of joins missing the waiting target; an upper bound for a
        waiting-time target), ``target_miss``, ``meets_wait``, ``meets_refused``,
        ``meets_slo``, and for the streams ``concurrent``, ``stream_capacity``,
        ``meets_streams``).
    slo : SLO
    label : str
    """

    def __init__(self, frame: pd.DataFrame, slo, label: str, settings: dict):
        self.frame = frame
        self.slo = slo
        self.label = label
        self.settings = dict(settings)

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    @property
    def share_meeting_slo(self) -> float:
        """Share of (scenario, interval) rows with arrivals that meet the SLO."""
        judged = self.frame[self.frame["arrivals"] > 0]
        return float(judged["meets_slo"].mean())

    def summary(self) -> pd.DataFrame:
        """Per scenario: share of intervals meeting the SLO and the run's totals."""
        rows = {}
        for name, g in self.frame.groupby("scenario", sort=False):
            j = g[g["arrivals"] > 0]
            rows[name] = {
                "intervals": len(j),
                "share_meeting_slo": j["meets_slo"].mean(),
                "share_meeting_wait": j["meets_wait"].mean(),
                "share_meeting_refused": j["meets_refused"].mean(),
                "share_meeting_streams": g["meets_streams"].mean(),
                "worst_miss_share": j["miss_share"].max(),
                "target_miss": self.slo.miss_limit,
                "refused_share": j["refused_share"].mul(j["arrivals"]).sum() / j["arrivals"].sum(),
                "target_refused": self.slo.max_refused,
                "retries_per_first_try": j["retries"].sum() / max(j["first_tries"].sum(), 1),
                "worst_wait_p99_s": j["wait_p99_max_s"].max(),
                "timed_out": j["timed_out"].sum(),
                "peak_stream_use": (g["concurrent"] / g["stream_capacity"]).max(),
            }
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("scenario")

    def __str__(self) -> str:
        head = (
            f"Plan validation by simulation: {self.label}\nSLO: {self.slo.describe()}; "
            f"share of intervals meeting it: {self.share_meeting_slo:.1%}\n"
        )
        return head + table_text(self.summary().T, 4)

    def __repr__(self) -> str:
        return f"<PlanValidation {self.label}: {self.share_meeting_slo:.1%} of intervals meet SLO>"

    def chart(self):
        """Simulated service level against the target per interval (an altair Chart)."""
        from capplan import charts

        return charts.plan_validation_chart(self)


def validate_plan(
    plan,
    *,
    scenarios=None,
    seed=None,
    replications: int = 1,
    workers=None,
    stream_servers=None,
    client=None,
    attack_rps: float | None = None,
    forecast=None,
    label: str | None = None,
    noise: bool = True,
    progress: bool = False,
) -> PlanValidation:
    """See :meth:`EventPlan.validate`."""
    from capplan.models import concurrency

    fc = plan.forecast if forecast is None else forecast
    names = list(fc.scenarios) if scenarios is None else list(scenarios)
    missing = [s for s in names if s not in fc.scenarios]
    if missing:
        raise ValueError(f"unknown scenario(s) {missing}; the forecast has {list(fc.scenarios)}")
    if isinstance(replications, bool) or int(replications) != replications or replications < 1:
        raise ValueError(f"replications must be a whole number >= 1; got {replications!r}")
    client = plan.client if client is None else client
    attack = plan.margins.attack_rps if attack_rps is None else float(attack_rps)
    iv = plan.interval_s
    frame = plan.frame
    w = frame["workers"].to_numpy() if workers is None else np.asarray(workers)
    s_srv = (
        frame["stream_servers"].to_numpy() if stream_servers is None else np.asarray(stream_servers)
    )
    per_s = np.repeat(w, iv)
    limits = plan.queue.limits(w, plan.service.mean_s, client.timeout_s)
    buffer = None if limits[0] < 0 else int(limits.max())
    warm = int(max(1, math.ceil(10 * plan.service.mean_s / iv))) * iv
    ss = np.random.SeedSequence(seed)
    runs = [(name, child) for name in names for child in ss.spawn(replications)]

    def one_run(job):
        name, child = job
        a, b = child.spawn(2)
        frame, _ = simulate_join_path(
            fc.scenarios[name],
            per_s,
            service=plan.service,
            client=client,
            buffer=buffer,
            alpha_per_second=fc.alpha_per_second if noise else 0.0,
            attack_rps=attack,
            warmup_s=warm,
            seed=np.random.default_rng(a),
            noise_seed=np.random.default_rng(b),
        )
        return name, frame

    # The simulator's loop releases the GIL: threads run the runs on every core.
    frames = {name: [] for name in names}
    bar = progress_bar(len(runs), "simulating the plan", "run", progress)
    with ThreadPoolExecutor(max_workers=min(len(runs), os.cpu_count() or 1)) as pool:
        for name, frame in pool.map(one_run, runs):
            frames[name].append(frame)
            bar.update()
    bar.close()
    out = []
    for name in names:
        rates = fc.scenarios[name]
        g = judge_intervals(frames[name], iv, plan.slo, plan.window[0], client.on_timeout == "drop")
        g.insert(0, "scenario", name)
        g.insert(1, "workers", w)
        g.insert(2, "queue_limit", limits)
        g["target_miss"] = plan.slo.miss_limit
        g["meets_wait"] = ~(g["miss_share"] > plan.slo.miss_limit)
        g["meets_refused"] = ~(g["refused_share"] > plan.slo.max_refused)
        g["meets_slo"] = g["meets_wait"] & g["meets_refused"]
        conc = concurrency(
            pd.Series(rates, index=pd.Index(fc.t)), plan.sessions, clock_start_s=plan.lobby_start_s
        )
        n_max = conc.frame["mean"].to_numpy().reshape(-1, iv).max(axis=1)
        g["concurrent"] = n_max
        g["stream_capacity"] = s_srv * plan.streams_per_server
        g["meets_streams"] = g["concurrent"] <= g["stream_capacity"]
        out.append(g.reset_index())
    settings = dict(
        seed=seed,
        replications=replications,
        attack_rps=attack,
        noise=noise,
        buffer=buffer,
        warmup_s=warm,
    )
    return PlanValidation(
        pd.concat(out, ignore_index=True), plan.slo, label or f"{plan.method} plan", settings
    )
