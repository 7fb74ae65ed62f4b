"""Least regret: the forecast level to plan for, by expected total cost.

A plan sized at a higher level of the forecast costs more capacity and breaks in fewer
of the events the forecast allows. :func:`least_regret` prices both: for each level
``q`` the plan re-sized for the forecast's ``q`` quantile
(:meth:`JoinForecast.at_level`, every other input and margin kept), its capacity cost
(worker-hours and stream-server-hours times their prices), and the expected cost of
its breaches over the forecast's distribution of the event's size; the level chosen is
the one of least expected total.

The distribution is :func:`~capplan.assess`'s: the event is ``M`` times the point
curve, ``log M ~ N(0, sigma**2)`` with ``sigma`` the forecast's
:attr:`~JoinForecast.peak_sigma`. The expectation weighs ``nodes`` events, each the mean
``M`` of a slice of the distribution (the slices evenly spaced in standard deviations,
so the upper tail is cut as finely as the body). In
each, the join path is run as the fluid model of :func:`~capplan.assess` (the backlog
second by second against the plan's workers and queue limit; no retries, no per-second
noise: the cost of a breach is a lower bound) and the stream path as ``M`` times the
plan's point concurrency against its stream servers.

Breach costs (any may be zero):

- ``refused_join``: per join refused at the queue limit or timed out in the line (a
  listener who did not get in on that attempt);
- ``delayed_join``: per join that waited beyond the SLO's wait;
- ``breach_minute``: per minute in which the join path misses its SLO or the streams
  exceed the stream servers;
- ``lost_listener``: per listener the stream servers cannot hold at the event's worst
  minute.

With a linear capacity cost and a cost per unit short, the optimum is the newsvendor's
critical fractile: the level at which ``P(M > m)`` equals the capacity's cost over the
shortage's, which the tests check.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from scipy import special

from capplan._text import table_text

__all__ = ["DEFAULT_LEVELS", "Costs", "LeastRegret", "least_regret"]

DEFAULT_LEVELS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995, 0.999)


@dataclass(frozen=True)
class Costs:
    """Prices of capacity and of a breach, in one currency.

    Parameters
    ----------
    worker_hour : float, default 0
        Money per join-path worker per hour.
    stream_server_hour : float, default 0
        Money per stream server per hour.
    refused_join, delayed_join : float, default 0
        Money per join refused (or timed out), per join delayed beyond the SLO's wait.
    breach_minute : float, default 0
        Money per minute in which a resource is in breach.
    lost_listener : float, default 0
        Money per listener the stream servers cannot hold (at the worst minute).
    currency : str, default "USD"
    """

    worker_hour: float = 0.0
    stream_server_hour: float = 0.0
    refused_join: float = 0.0
    delayed_join: float = 0.0
    breach_minute: float = 0.0
    lost_listener: float = 0.0
    currency: str = "USD"

    def __post_init__(self):
        for f in fields(self):
            if f.name == "currency":
                continue
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                raise ValueError(f"Costs: {f.name} must be a finite number >= 0; got {v!r}")
            if v < 0:
                raise ValueError(f"Costs: {f.name} must be >= 0 (money); got {v!r}")
        if self.worker_hour == 0 and self.stream_server_hour == 0:
            raise ValueError(
                "Costs: give worker_hour or stream_server_hour: with free capacity the "
                "highest level always wins"
            )
        breach = ("refused_join", "delayed_join", "breach_minute", "lost_listener")
        if all(getattr(self, name) == 0 for name in breach):
            raise ValueError(
                f"Costs: give at least one breach cost ({', '.join(breach)}): with free "
                "breaches the lowest level always wins"
            )


def _levels(levels) -> np.ndarray:
    arr = np.unique(np.asarray(levels, dtype=float))
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(f"levels must be at least two probabilities; got {levels!r}")
    if not np.all((arr > 0) & (arr < 1)):
        raise ValueError(f"levels must be probabilities in (0, 1); got {arr.tolist()}")
    return arr


Z_SPAN = 6.0  # the slices cover the event sizes within 6 sd; two more the tails beyond
MAX_CELLS = 50_000_000  # event sizes x seconds held at once (about 400 MB a table)


def _slices(sigma: float, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """``(M, weight)``: the event sizes ``log M ~ N(0, sigma**2)`` cut at ``nodes - 1``
    points evenly spaced in ``z`` over ``[-6, 6]``; each slice's conditional mean
    ``E[M | slice]`` and its probability.

    Means, not midpoints, so that whatever is linear in ``M`` within a slice (the joins
    short of a capacity, beyond it) is exact; even steps in ``z``, not in probability,
    so that the upper tail, where the breaches of a high level are, is as finely cut as
    the body.
    """
    z = np.concatenate(([-np.inf], np.linspace(-Z_SPAN, Z_SPAN, nodes - 1), [np.inf]))
    weight = np.diff(special.ndtr(z))
    mass = np.diff(special.ndtr(z - sigma)) * math.exp(sigma**2 / 2)
    return mass / weight, weight


def least_regret(
    plan,
    costs: Costs,
    *,
    levels=DEFAULT_LEVELS,
    nodes: int = 200,
    attack_rps: float = 0.0,
    progress: bool = False,
) -> LeastRegret:
    """The forecast level whose plan costs least in expectation, capacity plus breaches.

    Parameters
    ----------
    plan : EventPlan
        The plan to re-size: its forecast gives the distribution and its inputs the rest.
    costs : Costs
        Prices of capacity and of breaches.
    levels : list of float, default (0.5, 0.7, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995, 0.999)
        Forecast levels to compare (each a re-sized plan).
    nodes : int, default 200
        Event sizes the expectation weighs: slices of the size's distribution evenly
        spaced in standard deviations (to 6 either side), each at its mean (exact for
        costs linear in the size within a slice).
    attack_rps : float, default 0
        Requests per second added to the join path in every event (not scaled).
    progress : bool, default False
        A progress bar over the levels.

    Returns
    -------
    LeastRegret
        ``level`` (chosen), ``plan`` (re-sized at it), ``to_frame()`` (one row per
        level), ``summary()``, ``chart()``.
    """
    from capplan._progress import progress_bar
    from capplan.planning.assess import fluid_outcomes

    if not isinstance(costs, Costs):
        raise TypeError(f"costs must be a Costs(...); got {type(costs).__name__}")
    qs = _levels(levels)
    if isinstance(nodes, bool) or not isinstance(nodes, numbers.Integral) or nodes < 10:
        raise ValueError(f"nodes must be a whole number >= 10; got {nodes!r}")
    attack = float(attack_rps)
    if isinstance(attack_rps, bool) or not math.isfinite(attack) or attack < 0:
        raise ValueError(f"attack_rps must be a rate >= 0 (1/s); got {attack_rps!r}")
    fc = plan.forecast
    sigma = fc.peak_sigma
    if sigma == 0:
        raise ValueError(
            "the plan's forecast has no spread (its upper curve is its point): every level "
            "gives the same plan; plan on a forecast with an upper quantile"
        )
    iv, n = plan.interval_s, len(plan.frame)
    size, weight = _slices(sigma, nodes)  # the events' M, and how likely each is
    # the concurrency's own spread where it was forecast on its own: the same z slices
    stream_size, _ = _slices(fc.concurrency_sigma, nodes)
    if nodes * fc.t.size > MAX_CELLS:
        raise ValueError(
            f"nodes={nodes} over {fc.t.size} seconds is {nodes * fc.t.size:,} cells, more "
            f"than {MAX_CELLS:,}: give fewer nodes"
        )
    rates = size[:, None] * fc.point[None, :] + attack
    conc_point = plan.frame["concurrent"].to_numpy()
    hours = iv / 3600.0

    delays = costs.delayed_join > 0 or costs.breach_minute > 0  # else only refusals count
    rows, plans = [], {}
    bar = progress_bar(len(qs), "levels", "plan", progress)
    for q in qs:
        p = plan.replan(forecast=fc.at_level(float(q)))
        f = p.frame
        workers = f["workers"].to_numpy()
        servers = f["stream_servers"].to_numpy()
        join = fluid_outcomes(
            rates,
            np.repeat(workers, iv),
            n,
            iv,
            p.service,
            p.slo,
            p.client,
            p.queue.limits(workers, p.service.mean_s, p.client.timeout_s),
            delays=delays,
        )
        excess = (
            stream_size[:, None] * conc_point[None, :] - servers[None, :] * p.streams_per_server
        )
        minutes = ((~join["meets_slo"]) | (excess > 0)).sum(axis=1) * iv / 60.0
        lost = np.maximum(excess, 0.0).max(axis=1)
        refused = (join["refused"] + join["timed_out"]).sum(axis=1)
        delayed = join["delayed"].sum(axis=1)
        capacity_cost = hours * (
            costs.worker_hour * workers.sum() + costs.stream_server_hour * servers.sum()
        )
        breach_cost = (
            costs.refused_join * refused
            + costs.delayed_join * delayed
            + costs.breach_minute * minutes
            + costs.lost_listener * lost
        )
        rows.append(
            {
                "level": float(q),
                "size_multiplier": float(math.exp(sigma * special.ndtri(q))),
                "peak_workers": int(workers.max()),
                "peak_stream_servers": int(servers.max()),
                "worker_hours": float(workers.sum() * hours),
                "stream_server_hours": float(servers.sum() * hours),
                "p_breach": float(weight @ (minutes > 0)),
                "expected_refused": float(weight @ refused),
                "expected_delayed": float(weight @ delayed),
                "expected_breach_minutes": float(weight @ minutes),
                "expected_lost_listeners": float(weight @ lost),
                "capacity_cost": float(capacity_cost),
                "expected_breach_cost": float(weight @ breach_cost),
                "expected_total_cost": float(capacity_cost + weight @ breach_cost),
            }
        )
        plans[float(q)] = p
        bar.update(1)
    bar.close()
    frame = pd.DataFrame(rows).set_index("level")
    chosen = float(frame["expected_total_cost"].idxmin())
    notes = []
    for edge, word in ((qs[-1], "highest"), (qs[0], "lowest")):
        if chosen == edge:
            notes.append(
                f"the least expected cost is at the {word} level compared ({edge:.1%}): the "
                f"cost may fall further beyond it; compare levels past it"
            )
    return LeastRegret(
        frame, chosen, plans[chosen], costs=costs, sigma=sigma, nodes=nodes, notes=notes
    )


class LeastRegret:
    """The result of :func:`least_regret`.

    Attributes
    ----------
    level : float
        The forecast level of least expected total cost.
    plan : EventPlan
        The plan re-sized at that level.
    costs : Costs
    sigma : float
        Log-scale spread of the event's size the expectation used.
    notes : list of str
        What to know: the chosen level at an end of the levels compared.
    """

    def __init__(self, frame, level, plan, *, costs, sigma, nodes, notes=()):
        self.notes = list(notes)
        self.frame = frame
        self.plan = plan
        self.level = float(level)
        self.costs = costs
        self.sigma = float(sigma)
        self.nodes = int(nodes)

    def to_frame(self) -> pd.DataFrame:
        """One row per level: the plan's size, the expected breaches and the costs."""
        return self.frame.copy()

    def summary(self) -> pd.DataFrame:
        """Key numbers: ``value`` and ``unit`` by ``quantity``."""
        row = self.frame.loc[self.level]
        cur = self.costs.currency
        rows = [
            ("level", self.level, "quantile"),
            ("size_multiplier", row["size_multiplier"], "x point"),
            ("peak_workers", int(row["peak_workers"]), "workers"),
            ("peak_stream_servers", int(row["peak_stream_servers"]), "servers"),
            ("capacity_cost", row["capacity_cost"], cur),
            ("expected_breach_cost", row["expected_breach_cost"], cur),
            ("expected_total_cost", row["expected_total_cost"], cur),
            ("p_breach", row["p_breach"], "probability"),
        ]
        return pd.DataFrame(
            {"value": [r[1] for r in rows], "unit": [r[2] for r in rows]},
            index=pd.Index([r[0] for r in rows], name="quantity"),
        )

    def __str__(self) -> str:
        cur = self.costs.currency
        row = self.frame.loc[self.level]
        head = (
            f"Least regret: plan for the {self.level:.1%} level (x {row['size_multiplier']:.3g} "
            f"the point), expected total {row['expected_total_cost']:,.0f} {cur} "
            f"({row['capacity_cost']:,.0f} capacity + {row['expected_breach_cost']:,.0f} "
            f"expected breaches) over {self.nodes} event sizes\n"
        )
        cols = ["peak_workers", "capacity_cost", "expected_breach_cost", "expected_total_cost"]
        notes = "".join(f"\nnote: {n}" for n in self.notes)
        return head + table_text(self.frame[cols]) + notes

    def __repr__(self) -> str:
        return f"<LeastRegret level={self.level:.3g}>"

    def chart(self):
        """Cost against level: capacity, expected breaches and their total, the chosen
        level marked (altair); see :func:`capplan.charts.regret_chart`."""
        from capplan import charts

        return charts.regret_chart(self)
