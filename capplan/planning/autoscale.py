"""A reactive autoscaler against the pre-warm ladder: the service level each reaches.

:func:`simulate_autoscaler` models target tracking at one-second resolution on the plan's
window. Every metric period ``P`` (from ``(1 + metric_delay_periods) P`` s after the
window's start, when the first datapoint is out) the autoscaler reads one datapoint: the
mean offered load ``a`` (Erlangs: the point forecast's first tries per second times the
work per join, the load that arrives) over a period that ended ``metric_delay_periods``
periods before (a monitoring system publishes a period's datapoint after it ends). It
sets

    desired = max(min_instances, ceil(a / (units_per_instance * target_utilization))),

which is ``ceil(instances * utilisation / target)`` when the instances were steady over
the datapoint's period (utilisation = offered load / workers, uncapped, like a
request-count metric). Above the instances held (ready and booting) and out of the
scale-out cooldown it requests the difference (at most ``max_added_per_min`` in any 60 s);
they are ready ``lead_time_s`` later (the warm-up). Below, and out of the scale-in
cooldown (since the last scaling of either kind), it releases ready instances held at
least ``min_hold_s``, oldest first; booting ones are not cancelled.

The join path is then simulated with that schedule of workers
(:func:`~capplan.planning.validate.simulate_join_path`, the forecast's over-dispersion, no
attack traffic) and judged per interval as :meth:`EventPlan.validate` judges a plan.
:func:`compare_reactive` does the same for the pre-warm ladder's ready workers with the
same seed (the same arrivals), side by side.

The autoscaler reads the forecast's load, not the simulated retries, and an uncapped
utilisation: a CPU metric that saturates at 100% scales out more slowly, so the reactive
service level here is, if anything, optimistic.
"""

from __future__ import annotations

import math
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from capplan._text import table_text
from capplan.planning.provision import (
    STEP_S,
    Fleet,
    _number,
    _whole,
    provision,
    utc_timestamp,
)
from capplan.planning.validate import judge_intervals, per_second_buffer, simulate_join_path

__all__ = [
    "AutoscalerPolicy",
    "AutoscalerRun",
    "ReactiveComparison",
    "compare_reactive",
    "simulate_autoscaler",
]

_EPS = 1e-9


@dataclass(frozen=True, kw_only=True)
class AutoscalerPolicy:
    """A target-tracking autoscaling policy on the join path's utilisation.

    Parameters
    ----------
    target_utilization : float, default 0.6
        Target of the workers' busy share (offered load / workers), in (0, 1].
    metric_period_s : int, default 60
        Seconds between evaluations, and the length of the period each datapoint
        averages over.
    metric_delay_periods : int, default 1
        Periods between a datapoint's period ending and the autoscaler acting on it
        (published one period late); 0: at once.
    scale_out_cooldown_s : float, default 60.0
        Seconds after a scale-out before the next one.
    scale_in_cooldown_s : float, default 300.0
        Seconds after any scaling before a scale-in.
    initial_instances : int or None, default None
        Instances ready at the window's start; None: the plan's need in its first interval.

    The warm-up of a new instance is its fleet's ``lead_time_s``; the fleet's
    ``max_added_per_min``, ``min_hold_s`` and ``min_instances`` apply.

    Examples
    --------
    >>> from capplan.planning.autoscale import AutoscalerPolicy
    >>> AutoscalerPolicy(target_utilization=0.5).metric_period_s
    60
    """

    target_utilization: float = 0.6
    metric_period_s: int = 60
    metric_delay_periods: int = 1
    scale_out_cooldown_s: float = 60.0
    scale_in_cooldown_s: float = 300.0
    initial_instances: int | None = None

    def __post_init__(self):
        who = "AutoscalerPolicy"
        u = _number(who, "target_utilization", self.target_utilization, strict=True)
        if u > 1:
            raise ValueError(f"{who}: target_utilization must be in (0, 1]; got {u!r}")
        _whole(who, "metric_period_s (s)", self.metric_period_s, minimum=1)
        _whole(who, "metric_delay_periods", self.metric_delay_periods, minimum=0)
        _number(who, "scale_out_cooldown_s (s)", self.scale_out_cooldown_s)
        _number(who, "scale_in_cooldown_s (s)", self.scale_in_cooldown_s)
        if self.initial_instances is not None:
            _whole(who, "initial_instances", self.initial_instances, minimum=0)


def autoscaler_schedule(load, *, fleet: Fleet, policy: AutoscalerPolicy, initial: int):
    """The reactive schedule, second by second (pure: numbers and arrays).

    Parameters
    ----------
    load : array of float
        Offered load (Erlangs) in each second from the window's start.
    fleet : Fleet
    policy : AutoscalerPolicy
    initial : int
        Instances ready at second 0 (held long enough to be released).

    Returns
    -------
    (dict of per-second arrays, list of decisions)
        ``ready`` and ``booting`` instances per second; one decision per evaluation:
        ``time_s`` (from the window's start), ``load`` (the datapoint, Erlangs),
        ``utilization`` (of the workers ready over its period), ``desired``, ``added``,
        ``released``.
    """
    load = np.asarray(load, dtype=float)
    n = load.size
    period = int(policy.metric_period_s)
    delay = int(policy.metric_delay_periods)
    units = float(fleet.units_per_instance)
    ready_delta = np.zeros(n + 1, np.int64)  # change of the ready instances at each second
    boot_delta = np.zeros(n + 1, np.int64)  # change of the booting ones
    ready_delta[0] = initial
    cohorts = deque([[-math.inf, initial]])  # [second ready from, instances], oldest first
    added = deque()  # (second, instances) of the scale-outs of the last 60 s
    last_out = last_any = -math.inf
    decisions = []
    for tick in range(period * (delay + 1), n, period):
        ready_now = sum(k for at, k in cohorts if at <= tick)
        held = sum(k for _, k in cohorts)  # ready and booting
        lo, hi = tick - (delay + 1) * period, tick - delay * period
        datapoint = float(load[lo:hi].mean())
        capacity = float(np.cumsum(ready_delta[:hi])[lo:hi].mean()) * units
        desired = max(
            fleet.min_instances, math.ceil(datapoint / (units * policy.target_utilization) - _EPS)
        )
        add = drop = 0
        if desired > held and tick - last_out >= policy.scale_out_cooldown_s:
            while added and added[0][0] <= tick - STEP_S:
                added.popleft()
            room = desired - held
            if fleet.max_added_per_min is not None:
                room = min(room, fleet.max_added_per_min - sum(k for _, k in added))
            if room > 0:
                add = int(room)
                at = math.ceil(tick + fleet.lead_time_s - _EPS)  # ready from this second
                cohorts.append([at, add])
                added.append((tick, add))
                boot_delta[tick] += add
                boot_delta[min(at, n)] -= add
                ready_delta[min(at, n)] += add
                last_out = last_any = tick
        elif desired < held and tick - last_any >= policy.scale_in_cooldown_s:
            want = min(held - desired, ready_now)
            while want and cohorts and cohorts[0][0] + fleet.min_hold_s <= tick:
                take = min(want, cohorts[0][1])
                cohorts[0][1] -= take
                want -= take
                drop += take
                if cohorts[0][1] == 0:
                    cohorts.popleft()
            if drop:
                ready_delta[tick] -= drop
                last_any = tick
        decisions.append(
            {
                "time_s": tick,
                "load": datapoint,
                "utilization": datapoint / capacity if capacity > 0 else math.inf,
                "desired": desired,
                "added": add,
                "released": drop,
            }
        )
    schedule = dict(ready=np.cumsum(ready_delta)[:n], booting=np.cumsum(boot_delta)[:n])
    return schedule, decisions


# -- the join path under a schedule of workers ----------------------------------------------


def _seed_entropy(seed) -> int:
    """An int seed from an int, a Generator or None (fresh entropy), drawn once so that
    the runs given it share their arrivals."""
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(2**63))
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    return seed


def join_path_outcome(plan, workers_per_s, seed) -> tuple[pd.DataFrame, pd.Series]:
    """Simulate the join path of ``plan``'s window on its point forecast with ``workers_per_s``
    workers and judge it as :meth:`EventPlan.validate` does.

    The forecast's over-dispersion and the plan's queue limit (its largest) apply; no attack
    traffic. The same ``seed`` gives the same arrivals whatever the workers.

    Returns
    -------
    (pandas.DataFrame, pandas.Series)
        Per interval (index ``start_s``): :func:`~capplan.planning.validate.judge_intervals`'
        columns plus ``workers_min`` (fewest workers in a second), ``plan_workers``,
        ``meets_slo``; and the window as one interval (``miss_share``, ``refused_share``...).
    """
    fc, iv = plan.forecast, plan.interval_s
    workers = np.asarray(workers_per_s, dtype=np.int64)
    # The queue limit follows the workers there are, second by second.
    limits = plan.queue.limits(workers, plan.service.mean_s, plan.client.timeout_s)
    a, b = np.random.SeedSequence(seed).spawn(2)
    per_s, _ = simulate_join_path(
        fc.point,
        workers,
        service=plan.service,
        client=plan.client,
        buffer=per_second_buffer(limits, 1),
        alpha_per_second=fc.alpha_per_second,
        cluster_per_second=fc.cluster_per_second,
        warmup_s=int(max(1, math.ceil(10 * plan.service.mean_s / iv))) * iv,
        seed=np.random.default_rng(a),
        noise_seed=np.random.default_rng(b),
    )
    drop = plan.client.on_timeout == "drop"
    slo = plan.slo
    out = judge_intervals([per_s], iv, slo, plan.window[0], drop)
    out["workers_min"] = workers.reshape(-1, iv).min(axis=1)
    out["plan_workers"] = plan.frame["workers"].to_numpy()
    out["meets_slo"] = ~(out["miss_share"] > slo.miss_limit) & ~(
        out["refused_share"] > slo.max_refused
    )
    whole = judge_intervals([per_s], workers.size, slo, plan.window[0], drop).iloc[0]
    return out, whole


def _service_row(intervals, whole, instance_hours, peak, fleet, iv) -> dict:
    breach = (intervals["arrivals"] > 0) & ~intervals["meets_slo"]
    short = intervals["workers_min"] < intervals["plan_workers"]
    return {
        "wait_slo_met_share": 1.0 - float(whole["miss_share"]),
        "refused_share": float(whole["refused_share"]),
        "minutes_in_breach": float(breach.sum()) * iv / 60.0,
        "minutes_below_plan": float(short.sum()) * iv / 60.0,
        "peak_instances": int(peak),
        "instance_hours": float(instance_hours),
        "cost": float(instance_hours) * fleet.price_per_hour,
        "currency": fleet.currency,
    }


def _check_workers_fleet(fleet) -> None:
    if not isinstance(fleet, Fleet):
        raise TypeError(f"fleet must be a Fleet; got {type(fleet).__name__}")
    if fleet.resource != "workers":
        raise ValueError(
            f"fleet {fleet.name!r} provides {fleet.resource!r}: the autoscaler sizes the join "
            "path, give a fleet with resource='workers'"
        )


# -- the reactive run -----------------------------------------------------------------------


class AutoscalerRun:
    """A reactive autoscaler simulated on a plan's window, and the join path's service level
    under it. Built by :func:`simulate_autoscaler`.

    Attributes
    ----------
    frame : pandas.DataFrame
        Per second (index ``start_s``, s from the scheduled start): ``load_erlangs`` (the
        point forecast's offered load), ``ready``, ``booting`` and ``billed`` instances,
        ``workers`` (ready instances times workers per instance) and ``plan_workers``.
    decisions : pandas.DataFrame
        Per evaluation (index ``start_s``): ``load`` (the datapoint read, Erlangs),
        ``utilization``, ``desired``, ``added``, ``released`` (instances).
    intervals : pandas.DataFrame
        The join path per plan interval (see :func:`join_path_outcome`).
    whole : pandas.Series
        The join path over the whole window.
    fleet, policy, slo, seed
    """

    label = "reactive autoscaler"

    def __init__(self, frame, decisions, intervals, whole, fleet, policy, slo, seed, interval_s):
        self.frame = frame
        self.decisions = decisions
        self.intervals = intervals
        self.whole = whole
        self.fleet = fleet
        self.policy = policy
        self.slo = slo
        self.seed = seed
        self.interval_s = int(interval_s)

    def to_frame(self) -> pd.DataFrame:
        """The per-second schedule (a copy)."""
        return self.frame.copy()

    def summary(self) -> pd.DataFrame:
        """One row: ``wait_slo_met_share`` (joins within the waiting target, a lower bound
        as in validation), ``refused_share``, ``minutes_in_breach`` (intervals missing the
        SLO), ``minutes_below_plan`` (intervals with fewer workers than the plan in some
        second), ``peak_instances`` (billed), ``instance_hours``, ``cost``, ``currency``."""
        hours = self.frame["billed"].sum() / 3600.0
        row = _service_row(
            self.intervals,
            self.whole,
            hours,
            self.frame["billed"].max(),
            self.fleet,
            self.interval_s,
        )
        return pd.DataFrame([row], index=pd.Index([self.label], name="schedule"))

    def __str__(self) -> str:
        p = self.policy
        head = (
            f"Reactive autoscaler on {self.fleet.name!r}: target utilisation "
            f"{p.target_utilization:g}, metric period {p.metric_period_s} s read "
            f"{p.metric_delay_periods} period(s) late, warm-up {self.fleet.lead_time_s:g} s\n"
            f"SLO: {self.slo.describe()}\n"
        )
        return head + table_text(self.summary().T)

    def __repr__(self) -> str:
        r = self.summary().iloc[0]
        return (
            f"<AutoscalerRun {self.fleet.name}: {r['wait_slo_met_share']:.2%} of joins within "
            f"the wait target, {r['minutes_in_breach']:g} minutes in breach>"
        )

    def chart(self):
        """Workers beside the plan's need, and the share of joins over the waiting target per
        interval (an altair Chart); see :func:`capplan.charts.reactive_chart`."""
        from capplan import charts

        return charts.reactive_chart({self.label: self.intervals}, self.slo)


def simulate_autoscaler(plan, fleet: Fleet, policy: AutoscalerPolicy | None = None, *, seed=0):
    """Simulate a target-tracking autoscaler on ``plan``'s point forecast, then the join path
    under the workers it provides.

    Parameters
    ----------
    plan : EventPlan
    fleet : Fleet
        The join path's fleet (``resource="workers"``): workers per instance, warm-up
        (``lead_time_s``), rate limit, hold and price.
    policy : AutoscalerPolicy, default AutoscalerPolicy()
    seed : int, Generator or None, default 0
        The join path simulation's randomness (the schedule itself is deterministic).

    Returns
    -------
    AutoscalerRun

    Notes
    -----
    See the module's docstring. A step in load inside metric period ``k`` is first seen
    by period ``k``'s datapoint, read at the end of period ``k + metric_delay_periods``;
    so with the default one period of delay the first extra instance is ready between
    ``lead_time_s + P`` and ``lead_time_s + 2 P`` after the step (``P`` the metric period).

    Examples
    --------
    >>> import pandas as pd
    >>> from capplan.planning import JoinForecast, JoinService, plan_event
    >>> from capplan.planning.autoscale import AutoscalerPolicy, simulate_autoscaler
    >>> from capplan.planning.provision import Fleet
    >>> rates = pd.Series([20.0] * 600 + [200.0] * 600, index=range(-600, 600))
    >>> plan = plan_event(JoinForecast.from_rates(rates, factor=1.0),
    ...                   ("exponential", {"mean_s": 300.0}), window=(-600, 600),
    ...                   service=JoinService(0.05), streams_per_server=1000)
    >>> fleet = Fleet(name="join", resource="workers", units_per_instance=1,
    ...               lead_time_s=120, price_per_hour=0.1)
    >>> run = simulate_autoscaler(plan, fleet, AutoscalerPolicy(target_utilization=0.5))
    >>> float(run.decisions.index[run.decisions["added"] > 0][0])  # [0, 60) s read at 120 s
    120.0
    """
    _check_workers_fleet(fleet)
    policy = _as_policy(policy)
    frame, table, workers = _reactive_schedule(plan, fleet, policy)
    seed = _seed_entropy(seed)
    intervals, whole = join_path_outcome(plan, workers, seed)
    return AutoscalerRun(
        frame, table, intervals, whole, fleet, policy, plan.slo, seed, plan.interval_s
    )


def _as_policy(policy) -> AutoscalerPolicy:
    policy = AutoscalerPolicy() if policy is None else policy
    if not isinstance(policy, AutoscalerPolicy):
        raise TypeError(f"policy must be an AutoscalerPolicy; got {type(policy).__name__}")
    return policy


def _reactive_schedule(plan, fleet: Fleet, policy: AutoscalerPolicy):
    """The autoscaler's instances per second on ``plan``'s window (AutoscalerRun's
    ``frame`` and ``decisions``) and the workers they provide."""
    fc, iv = plan.forecast, plan.interval_s
    need = np.repeat(plan.to_frame()["workers"].to_numpy(), iv)
    initial = policy.initial_instances
    if initial is None:
        initial = int(fleet.instances_for(need[0]))
    load = fc.point * plan.service.mean_s
    sched, decisions = autoscaler_schedule(load, fleet=fleet, policy=policy, initial=initial)
    workers = np.floor(sched["ready"] * fleet.units_per_instance + _EPS).astype(np.int64)
    start_s = plan.window[0] + np.arange(load.size)
    frame = pd.DataFrame(
        {
            "load_erlangs": load,
            "ready": sched["ready"],
            "booting": sched["booting"],
            "billed": sched["ready"] + sched["booting"],
            "workers": workers,
            "plan_workers": need,
        },
        index=pd.Index(start_s.astype(float), name="start_s"),
    )
    columns = ["time_s", "load", "utilization", "desired", "added", "released"]
    table = pd.DataFrame(decisions, columns=columns)
    table.index = pd.Index(plan.window[0] + table.pop("time_s").astype(float), name="start_s")
    return frame, table, workers


# -- reactive against scheduled -------------------------------------------------------------


class ReactiveComparison:
    """The join path's service level under the pre-warm ladder and under a reactive
    autoscaler, on the same arrivals. Built by :func:`compare_reactive`.

    Attributes
    ----------
    ladder : ProvisioningLadder
    ladder_intervals : pandas.DataFrame
        The join path per interval under the ladder's ready workers.
    ladder_whole : pandas.Series
    reactive : AutoscalerRun
    """

    def __init__(self, ladder, ladder_intervals, ladder_whole, reactive):
        self.ladder = ladder
        self.ladder_intervals = ladder_intervals
        self.ladder_whole = ladder_whole
        self.reactive = reactive

    def summary(self) -> pd.DataFrame:
        """Rows ``pre-warm ladder`` and ``reactive autoscaler``; the columns of
        :meth:`AutoscalerRun.summary` (the ladder's instance-hours include its requests
        before the window)."""
        fleet = self.reactive.fleet
        s = self.ladder.summary().loc[fleet.name]
        row = _service_row(
            self.ladder_intervals,
            self.ladder_whole,
            s["instance_hours"],
            s["peak_instances"],
            fleet,
            self.reactive.interval_s,
        )
        ladder = pd.DataFrame([row], index=pd.Index(["pre-warm ladder"], name="schedule"))
        return pd.concat([ladder, self.reactive.summary()])

    def __str__(self) -> str:
        head = (
            f"Pre-warm ladder against a reactive autoscaler on {self.reactive.fleet.name!r}, "
            f"the same simulated arrivals\nSLO: {self.reactive.slo.describe()}\n"
        )
        return head + table_text(self.summary().T)

    def __repr__(self) -> str:
        s = self.summary()["minutes_in_breach"]
        return (
            f"<ReactiveComparison minutes in breach: ladder {s.iloc[0]:g}, reactive {s.iloc[1]:g}>"
        )

    def chart(self):
        """Workers of both beside the plan's need on the wall clock (UTC), and the share of
        joins over the waiting target per interval (an altair Chart)."""
        from capplan import charts

        frames = {
            "pre-warm ladder": self.ladder_intervals,
            self.reactive.label: self.reactive.intervals,
        }
        return charts.reactive_chart(frames, self.reactive.slo, self.ladder.scheduled_start)


def compare_reactive(
    plan, fleet: Fleet, policy: AutoscalerPolicy | None = None, *, scheduled_start, seed=0
) -> ReactiveComparison:
    """The pre-warm ladder of ``fleet`` and a reactive autoscaler on it, simulated on the
    plan's point forecast with the same seed, side by side.

    Parameters
    ----------
    plan : EventPlan
    fleet : Fleet
        The join path's fleet (``resource="workers"``).
    policy : AutoscalerPolicy, default AutoscalerPolicy()
    scheduled_start : timestamp or str
        Timezone-aware (see :func:`~capplan.planning.provision.provision`).
    seed : int, Generator or None, default 0
        Shared by both simulations: the same arrivals meet both schedules.

    Returns
    -------
    ReactiveComparison
    """
    _check_workers_fleet(fleet)
    policy = _as_policy(policy)
    ladder = provision(plan, fleet, scheduled_start=utc_timestamp(scheduled_start))
    frame, table, reactive_workers = _reactive_schedule(plan, fleet, policy)
    seed = _seed_entropy(seed)
    g = ladder.frame[ladder.frame["fleet"] == fleet.name].set_index("start_s")
    minutes = g.loc[plan.window[0] :, "ready"].to_numpy()
    workers = np.repeat(minutes, STEP_S)[: frame.shape[0]] * fleet.units_per_instance
    workers = np.floor(workers + _EPS).astype(np.int64)
    # The two simulations on two cores (the simulator releases the GIL).
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(
            pool.map(lambda w: join_path_outcome(plan, w, seed), [reactive_workers, workers])
        )
    (r_intervals, r_whole), (intervals, whole) = runs
    reactive = AutoscalerRun(
        frame, table, r_intervals, r_whole, fleet, policy, plan.slo, seed, plan.interval_s
    )
    return ReactiveComparison(ladder, intervals, whole, reactive)
