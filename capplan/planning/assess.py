"""The risk of the capacity already there: how likely the event breaks it, when, by how much.

:func:`assess` takes a forecast (or a plan, which carries one) and a :class:`Capacity`
(join-path workers, stream servers with streams per server, a tested concurrency) and
says, per resource, the probability that the event's demand exceeds it, the expected
excess given a breach, the first minute of breach in each scenario, and what breaks
first; for the join path also the joins refused or delayed beyond the SLO per scenario.

The forecast's distribution
---------------------------
The peak's predictive distribution is log-normal: its point is the median, its upper
curve the ``level`` quantile, so ``log(peak) ~ N(log(point peak), sigma**2)`` with
``sigma = log(upper peak / point peak) / z_level``, ``z_level = Phi^-1(level)``. The
whole curve scales with the peak: the event's rates are ``M * point(t)``, ``M =
exp(sigma Z)``. The concurrency (M_t/G/inf, :func:`~capplan.concurrency`) is linear in
the rates, so it scales with ``M`` too. A resource whose capacity in interval ``i`` is
``c_i`` against a point demand ``d_i`` holds while ``M <= m* = min_i c_i / d_i``:

    P(breach) = P(M > m*) = Phi(-log(m*) / sigma),

and the excess ``X(M) = max_i (M d_i - c_i)`` is increasing in ``M``, so its quantiles
given a breach are ``X`` at ``M``'s conditional quantiles and its mean an integral over
``Z > log(m*) / sigma``. Where the concurrency peak was forecast on its own
(``JoinForecast.concurrency_factor``, as :func:`~capplan.forecast_event` does), the
stream resources take its spread, ``sigma_c = log(factor) / z_level``, with the same
``Z``: ``M_c = exp(sigma_c Z)``. One ``Z`` drives every resource: the one with the smallest
``z* = log(m*) / sigma`` (the highest P(breach)) breaks in every draw where any does; it
is what breaks first.

Demand and capacity per resource
--------------------------------
- **join path**: demand is the worst second's expected join rate in each interval (the
  shape within the interval; not the per-second noise, nor retries), plus
  ``attack_rps``; capacity is the *sustainable rate* of the interval's workers: the
  highest rate ``r`` whose load ``r E[B]`` the stationary formula of the plan
  (:func:`~capplan.planning.methods.stationary_servers`, the inverse of
  :func:`~capplan.servers_for`) serves within the SLO's waiting target, and whose queue
  limit refuses at most ``max_refused`` (M/M/c/K), as the plan sizes them.
- **stream servers** / **tested concurrency**: demand is the expected concurrency
  (the rates through the sessions), the interval's highest; capacity is ``stream_servers
  x streams_per_server`` or the tested concurrency.

Joins refused or delayed (per scenario)
----------------------------------------
``method="fluid"`` (default, cheap): each second, the backlog grows by the arrivals over
the workers' full service rate ``c / E[B]`` (capped at the queue limit: the rest are
refused); an arrival waits the backlog over the service rate; where there is no backlog
the stationary formula gives the share that waits beyond the SLO. No retries, no
per-second noise: a lower bound on the harm of an overload. ``method="simulate"``: each
scenario through :func:`~capplan.planning.validate.simulate_join_path` (noise,
timeouts, retries), judged per interval as :meth:`EventPlan.validate` does: its delayed
count is the validation's conservative bound (from each second's wait quantiles).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd
from scipy import integrate, special

from capplan._text import table_text
from capplan.planning.steps import concurrency_per_interval, proportional

__all__ = ["Capacity", "CapacityAssessment", "assess"]

JOIN_PATH, STREAM_SERVERS, TESTED = "join path", "stream servers", "tested concurrency"
_ROOT_2PI = math.sqrt(2 * math.pi)
_UNITS = {JOIN_PATH: "joins/s", STREAM_SERVERS: "streams", TESTED: "streams"}


# -- the capacity ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Capacity:
    """The capacity already there, resource by resource (give at least one).

    Parameters
    ----------
    workers : int or array-like of int, optional
        Join-path workers: one number, or one per interval of the assessment.
    stream_servers : int or array-like of int, optional
        Stream servers: one number or one per interval; needs ``streams_per_server``
        (a plan's by default).
    streams_per_server : float, optional
        Concurrent streams one stream server holds.
    tested_concurrency : float, optional
        Concurrent streams the stream path was tested for (e.g. ``8e6``).

    Examples
    --------
    >>> Capacity(workers=12_000, tested_concurrency=8e6).resources
    ['join path', 'tested concurrency']
    """

    workers: object = None
    stream_servers: object = None
    streams_per_server: float | None = None
    tested_concurrency: float | None = None

    def __post_init__(self):
        for name in ("workers", "stream_servers"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _counts(f"Capacity: {name}", value))
        for name in ("streams_per_server", "tested_concurrency"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _positive(f"Capacity: {name}", value))
        if all(getattr(self, f.name) is None for f in fields(self)):
            raise ValueError(
                "Capacity: give at least one of workers, stream_servers (with "
                "streams_per_server) or tested_concurrency"
            )

    @property
    def resources(self) -> list[str]:
        """The resources this capacity names, in the order they are assessed."""
        out = []
        if self.workers is not None:
            out.append(JOIN_PATH)
        if self.stream_servers is not None:
            out.append(STREAM_SERVERS)
        if self.tested_concurrency is not None:
            out.append(TESTED)
        return out

    @classmethod
    def of_plan(cls, plan, **changes) -> Capacity:
        """A plan's own workers and stream servers (per interval), with ``changes``."""
        f = plan.frame
        base = cls(
            workers=f["workers"].to_numpy(),
            stream_servers=f["stream_servers"].to_numpy(),
            streams_per_server=plan.streams_per_server,
        )
        return replace(base, **changes)


def _counts(name, value) -> np.ndarray:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number >= 0 or one per interval; got {value!r}")
    arr = np.asarray(value.to_numpy() if isinstance(value, pd.Series) else value)
    if arr.ndim > 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(
            f"{name} must be a whole number >= 0 or one per interval (a 1-d array); got "
            f"{value!r:.80}"
        )
    arr = arr.astype(float)
    bad = ~np.isfinite(arr) | (arr < 0) | (arr != np.round(arr))
    if bad.any():
        k = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"{name} must be whole numbers >= 0; got {arr.ravel()[k]!r}")
    return arr.astype(np.int64)


def _positive(name, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number > 0; got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}")
    return float(value)


# -- the result -----------------------------------------------------------------------------


class CapacityAssessment:
    """What :func:`assess` found; read-only.

    Attributes
    ----------
    resources : pandas.DataFrame
        One row per resource (index ``resource``): see :meth:`summary`.
    frame : pandas.DataFrame
        One row per scenario, resource and interval: see :meth:`to_frame`.
    sigma : float
        Log-scale standard deviation of the peak (``log(upper / point) / z_level``).
    level : float
        The forecast's level.
    peak_point : float
        The point curve's peak join rate (1/s).
    method : str
        ``"fluid"`` or ``"simulate"``: how refused and delayed joins were counted.
    interval_s : int
    description : str
        What was assessed.
    """

    def __init__(self, resources, frame, *, sigma, level, peak_point, method, interval_s, notes):
        self.resources = resources
        self.frame = frame
        self.sigma = float(sigma)
        self.level = float(level)
        self.peak_point = float(peak_point)
        self.method = method
        self.interval_s = int(interval_s)
        self.notes = list(notes)

    @property
    def breaks_first(self) -> str | None:
        """The resource with the highest probability of a breach: one ``Z`` drives every
        resource, so it breaks in every draw where any does; None if none can break."""
        r = self.resources
        if not (r["p_breach"] > 0).any():
            return None
        return str(r["p_breach"].idxmax())

    def summary(self) -> pd.DataFrame:
        """One row per resource.

        Columns: ``unit``; ``capacity_at_peak`` (the capacity in the interval of the
        point demand's peak; for the join path the sustainable rate, joins/s);
        ``demand_point_peak``, ``demand_upper_peak``; ``headroom_factor`` (``m*``: the
        peak may grow this many times the point before a breach) and ``holds_up_to``
        (``m*`` times the point peak); ``holds_to_quantile`` (the forecast quantile at
        which it breaks); ``p_breach``; ``expected_excess``, ``excess_p50``,
        ``excess_p90`` (given a breach: the worst interval's demand over capacity);
        ``first_breach_point_s``, ``first_breach_upper_s`` (start of the first interval
        in breach, s from the start; NaN: none); ``minutes_in_breach_point`` /
        ``_upper``; for the join path ``refused_point`` / ``_upper``,
        ``delayed_point`` / ``_upper`` (joins refused, joins that waited beyond the
        SLO), ``minutes_missing_slo_point`` / ``_upper``; ``breaks_first``.
        """
        return self.resources.copy()

    def to_frame(self) -> pd.DataFrame:
        """One row per scenario, resource and interval: ``start_s``, ``minute``,
        ``demand``, ``capacity``, ``breach`` (demand over capacity), and for the join
        path ``first_tries``, ``refused``, ``delayed``, ``timed_out`` and
        ``meets_slo`` (NaN for the stream resources). The fluid counts a join in the
        interval it arrives; the simulation counts delayed joins in the interval they start
        service (the totals agree; a backlog shifts them later)."""
        return self.frame.copy()

    def __str__(self) -> str:
        z = special.ndtri(self.level)
        head = (
            f"Capacity assessment: peak log-normal, sigma {self.sigma:.3g} (the "
            f"{self.level:.0%} quantile is {math.exp(self.sigma * z):.3g} x the point peak of "
            f"{self.peak_point:,.0f} joins/s); joins refused/delayed by {self.method}\n"
        )
        first = self.breaks_first
        head += (
            f"breaks first: {first} (P = {self.resources.at[first, 'p_breach']:.3g})\n"
            if first
            else "nothing breaks in the forecast's range\n"
        )
        tail = "".join(f"\nnote: {n}" for n in self.notes)
        return head + table_text(self.resources.T, 4) + tail

    def __repr__(self) -> str:
        return f"<CapacityAssessment: breaks first {self.breaks_first}>"

    def chart(self):
        """Demand scenarios against the capacity, breach intervals shaded (altair); see
        :func:`capplan.charts.assessment_chart`."""
        from capplan import charts

        return charts.assessment_chart(self)


# -- assess ---------------------------------------------------------------------------------


def assess(
    forecast_or_plan,
    capacity=None,
    *,
    sessions=None,
    service=None,
    slo=None,
    client=None,
    queue=None,
    attack_rps: float = 0.0,
    interval_s: int | None = None,
    lobby_start_s: float | None = 0.0,
    method: str = "fluid",
    replications: int = 1,
    seed=None,
) -> CapacityAssessment:
    """The risk that an event breaks the capacity already there, resource by resource.

    Parameters
    ----------
    forecast_or_plan : EventPlan, EventForecast or JoinForecast
        An :class:`EventPlan` brings its forecast, sessions, service, SLO, client, queue
        policy, interval and streams per server (the arguments below override them); an
        :class:`EventForecast` its joins and sessions.
    capacity : Capacity or mapping, optional
        What is there (a mapping of :class:`Capacity`'s fields is accepted). None: a
        plan's own workers and stream servers.
    sessions : SessionsFit or (name, params), optional
        Session lengths, for the stream resources (a plan's or forecast's by default).
    service : JoinService, optional
        Work per join; needed for the join path (a plan's by default).
    slo, client, queue : SLO, ClientPolicy, QueuePolicy, optional
        Default: the plan's, else ``SLO(wait_s=2, fraction=0.99, max_refused=0.001)``,
        ``ClientPolicy()``, ``QueuePolicy()``.
    attack_rps : float, default 0.0
        Requests per second added to the join path's demand (not scaled with ``M``).
    interval_s : int, optional
        Length of an interval of capacity (s); a plan's, else 60.
    lobby_start_s : float or None, default 0.0
        As :func:`~capplan.plan_event` (a plan's by default).
    method : {"fluid", "simulate"}, default "fluid"
        How the joins refused and delayed per scenario are counted (module notes).
    replications : int, default 1
        Runs per scenario with ``method="simulate"``.
    seed : int, Generator or None
        Randomness of ``method="simulate"``.

    Returns
    -------
    CapacityAssessment

    Raises
    ------
    TypeError, ValueError
        An unknown input; a resource lacking what it needs (the join path a service,
        the streams sessions or streams per server); capacities per interval of the
        wrong length; a forecast that is not whole intervals long.

    Examples
    --------
    >>> import pandas as pd
    >>> from capplan.planning import JoinForecast, JoinService
    >>> fc = JoinForecast.from_rates(pd.Series(100.0, index=pd.RangeIndex(0, 600)), factor=2.0)
    >>> a = assess(fc, Capacity(workers=8), service=JoinService(0.05))
    >>> round(float(a.summary().at["join path", "p_breach"]), 2)
    0.14
    """
    from capplan.planning.analogue import EventForecast
    from capplan.planning.forecast import JoinForecast
    from capplan.planning.inputs import DEFAULT_SLO, SLO, ClientPolicy, JoinService, QueuePolicy
    from capplan.planning.plan import EventPlan, _sessions_spec

    plan = None
    if isinstance(forecast_or_plan, EventPlan):
        plan = forecast_or_plan
        fc = plan.forecast
        sessions = plan.sessions if sessions is None else sessions
        service = plan.service if service is None else service
        slo = plan.slo if slo is None else slo
        client = plan.client if client is None else client
        queue = plan.queue if queue is None else queue
        interval_s = plan.interval_s if interval_s is None else interval_s
        lobby_start_s = plan.lobby_start_s
    elif isinstance(forecast_or_plan, EventForecast):
        fc = forecast_or_plan.joins
        sessions = forecast_or_plan.sessions if sessions is None else sessions
    elif isinstance(forecast_or_plan, JoinForecast):
        fc = forecast_or_plan
    else:
        raise TypeError(
            "forecast_or_plan must be an EventPlan, an EventForecast or a JoinForecast; got "
            f"{type(forecast_or_plan).__name__}"
        )
    if capacity is None:
        if plan is None:
            raise ValueError(
                "capacity: give Capacity(workers=..., stream_servers=..., "
                "tested_concurrency=...); only a plan has capacity of its own"
            )
        capacity = Capacity.of_plan(plan)
    elif isinstance(capacity, Mapping):
        unknown = set(capacity) - {f.name for f in fields(Capacity)}
        if unknown:
            raise ValueError(
                f"capacity: unknown field(s) {sorted(unknown)}; known: "
                f"{[f.name for f in fields(Capacity)]}"
            )
        capacity = Capacity(**capacity)
    elif not isinstance(capacity, Capacity):
        raise TypeError(
            "capacity must be a Capacity (or a mapping of its fields), e.g. "
            f"Capacity(tested_concurrency=8e6); got {type(capacity).__name__}"
        )
    if plan is not None and capacity.streams_per_server is None:
        capacity = replace(capacity, streams_per_server=plan.streams_per_server)
    slo = DEFAULT_SLO if slo is None else slo
    client = ClientPolicy() if client is None else client
    queue = QueuePolicy() if queue is None else queue
    for name, value, kind in (
        ("slo", slo, SLO),
        ("client", client, ClientPolicy),
        ("queue", queue, QueuePolicy),
    ):
        if not isinstance(value, kind):
            raise TypeError(f"{name} must be a {kind.__name__}; got {type(value).__name__}")
    if method not in ("fluid", "simulate"):
        raise ValueError(f"method must be 'fluid' or 'simulate'; got {method!r}")
    attack = float(attack_rps)
    if isinstance(attack_rps, bool) or not math.isfinite(attack) or attack < 0:
        raise ValueError(f"attack_rps must be a rate >= 0 (1/s); got {attack_rps!r}")
    iv = 60 if interval_s is None else interval_s
    if isinstance(iv, bool) or int(iv) != iv or iv < 1:
        raise ValueError(f"interval_s must be a whole number of seconds >= 1; got {iv!r}")
    iv = int(iv)
    if fc.t.size % iv:
        raise ValueError(
            f"the forecast's {fc.t.size} seconds are not whole intervals of {iv} s: cut it "
            "with forecast.window(start_s, end_s) or pass interval_s"
        )
    n = fc.t.size // iv
    resources = capacity.resources
    if JOIN_PATH in resources and not isinstance(service, JoinService):
        raise ValueError(
            "the join path (workers) needs service=JoinService(mean_s, scv): the work per "
            "join turns workers into a sustainable rate"
        )
    streams = [r for r in resources if r != JOIN_PATH]
    if streams and sessions is None:
        raise ValueError(
            "the stream resources need sessions (a SessionsFit or (name, params)): they "
            "turn joins into concurrent streams"
        )
    if STREAM_SERVERS in resources and capacity.streams_per_server is None:
        raise ValueError("stream_servers needs streams_per_server (streams one server holds)")
    if streams:
        sessions = _sessions_spec(sessions)
    if lobby_start_s is not None and not fc.t[0] + 1 <= lobby_start_s <= fc.t[-1]:
        lobby_start_s = None

    # The distribution of the peak multiplier M.
    peak_point, peak_upper = float(fc.point.max()), float(fc.upper.max())
    if not peak_point > 0:
        raise ValueError("the forecast's point curve is zero everywhere: nothing to assess")
    sigma = fc.peak_sigma
    notes = []
    ratio = fc.upper / np.where(fc.point > 0, fc.point, 1.0)
    busy = fc.point > 0.01 * peak_point
    if np.ptp(ratio[busy]) > 1e-6 * ratio[busy].max():
        notes.append(
            "the forecast's upper / point varies over time; sigma is from their peaks "
            f"({peak_upper:,.0f} / {peak_point:,.0f})"
        )
    if fc.kind == "fit":
        notes.append(
            "the upper curve is a fit's parameter band: the spread of a fit, not of an event"
        )

    # Capacity and point demand per interval, per resource.
    t0 = fc.t[0]
    starts = t0 + iv * np.arange(n)
    caps, demand_of, cap_of = {}, {}, {}
    if JOIN_PATH in resources:
        w = _per_interval("workers", capacity.workers, n)
        sustainable = sustainable_rate(w, service=service, slo=slo, client=client, queue=queue)
        caps[JOIN_PATH] = sustainable - attack
        cap_of[JOIN_PATH] = sustainable
        demand_of[JOIN_PATH] = lambda rates: rates.reshape(n, iv).max(axis=1) + attack
    conc_cache = {}

    def concurrency_of(rates):
        key = rates.tobytes()
        if key not in conc_cache:
            conc_cache[key] = concurrency_per_interval(fc.t, rates, sessions, iv, lobby_start_s)
        return conc_cache[key]

    if STREAM_SERVERS in resources:
        s = _per_interval("stream_servers", capacity.stream_servers, n)
        caps[STREAM_SERVERS] = s * capacity.streams_per_server
    if TESTED in resources:
        caps[TESTED] = np.full(n, capacity.tested_concurrency)
    for r in streams:
        cap_of[r] = caps[r]
        demand_of[r] = concurrency_of

    # Scenario curves: point and upper scale the point's concurrency when proportional.
    point_conc = concurrency_of(fc.point) if streams else None

    def demand(resource, name):
        rates = fc.scenarios[name]
        if resource != JOIN_PATH:
            if name == "upper" and fc.concurrency_factor is not None:
                return point_conc * fc.concurrency_factor  # the concurrency's own forecast
            k = proportional(rates, fc.point)
            if k is not None:
                return point_conc * k
        return demand_of[resource](rates)

    rows, parts = {}, []
    outcomes = {}
    if JOIN_PATH in resources:
        w_s = np.repeat(_per_interval("workers", capacity.workers, n), iv)
        for name in fc.scenarios:
            outcomes[name] = _join_outcomes(
                fc,
                name,
                w_s,
                n,
                iv,
                service,
                slo,
                client,
                queue,
                attack,
                method,
                replications,
                seed,
            )
    for r in resources:
        d = demand(r, "point") if r != JOIN_PATH else fc.point.reshape(n, iv).max(axis=1)
        c = caps[r]  # capacity for the scaled part of demand
        risk = _risk(d, c, sigma if r == JOIN_PATH else fc.concurrency_sigma)
        i_peak = int(np.argmax(d))
        row = {
            "unit": _UNITS[r],
            "capacity_at_peak": float(cap_of[r][i_peak]),
            "demand_point_peak": float(demand(r, "point").max()),
            "demand_upper_peak": float(demand(r, "upper").max()),
            **risk,
            "holds_up_to": risk["headroom_factor"] * float(d.max()),
        }
        for name in fc.scenarios:
            dd = demand(r, name)
            breach = dd > cap_of[r]
            g = pd.DataFrame(
                {
                    "scenario": name,
                    "resource": r,
                    "start_s": starts,
                    "minute": (starts // 60).astype(np.int64),
                    "demand": dd,
                    "capacity": cap_of[r],
                    "breach": breach,
                }
            )
            if r == JOIN_PATH:
                for col, values in outcomes[name].items():
                    g[col] = values
            parts.append(g)
            if name in ("point", "upper"):
                first = starts[np.argmax(breach)] if breach.any() else np.nan
                row[f"first_breach_{name}_s"] = float(first)
                row[f"minutes_in_breach_{name}"] = float(breach.sum() * iv / 60)
                if r == JOIN_PATH:
                    o = outcomes[name]
                    row[f"refused_{name}"] = float(o["refused"].sum())
                    row[f"delayed_{name}"] = float(o["delayed"].sum())
                    row[f"minutes_missing_slo_{name}"] = float((~o["meets_slo"]).sum() * iv / 60)
        rows[r] = row
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("resource")
    table["breaks_first"] = False
    result = CapacityAssessment(
        table,
        pd.concat(parts, ignore_index=True),
        sigma=sigma,
        level=fc.level,
        peak_point=peak_point,
        method=method,
        interval_s=iv,
        notes=notes,
    )
    first = result.breaks_first
    if first is not None:
        table.loc[first, "breaks_first"] = True
    return result


def _per_interval(name, values, n) -> np.ndarray:
    values = np.atleast_1d(values)
    if values.size == 1:
        return np.full(n, values[0], dtype=np.int64)
    if values.size != n:
        raise ValueError(
            f"Capacity: {name} has {values.size} values; give one number or one per interval "
            f"({n} intervals)"
        )
    return values.astype(np.int64)


def _no_breach(m_star: float) -> dict:
    return dict(
        headroom_factor=m_star,
        holds_to_quantile=1.0,
        p_breach=0.0,
        expected_excess=np.nan,
        excess_p50=np.nan,
        excess_p90=np.nan,
    )


def _risk(d: np.ndarray, c: np.ndarray, sigma: float) -> dict:
    """P(M d_i > c_i for some i), M = exp(sigma Z), and the excess max_i(M d_i - c_i)."""
    live = d > 0
    if not live.any():
        return _no_breach(np.inf)
    dl, cl = d[live], c[live]
    m_star = float(max(np.min(cl / dl), 0.0))

    def excess(m):
        return np.max(np.multiply.outer(np.atleast_1d(m), dl) - cl, axis=-1)

    if sigma == 0:
        broken = m_star < 1
        x = float(excess(1.0)[0]) if broken else np.nan
        if not broken:
            return _no_breach(m_star)
        return dict(
            headroom_factor=m_star,
            holds_to_quantile=0.0,
            p_breach=1.0,
            expected_excess=x,
            excess_p50=x,
            excess_p90=x,
        )
    z_star = -np.inf if m_star == 0 else math.log(m_star) / sigma
    p = float(special.ndtr(-z_star))
    if p <= 0:
        return _no_breach(m_star)
    lo = float(special.ndtr(z_star))

    def at_quantile(q):  # M's quantile q given a breach
        return math.exp(sigma * float(special.ndtri(lo + q * (1 - lo))))

    mean = integrate.quad(
        lambda z: float(excess(math.exp(sigma * z))[0]) * math.exp(-z * z / 2) / _ROOT_2PI,
        max(z_star, -40.0),
        40.0,
        limit=200,
        epsabs=0.0,
        epsrel=1e-9,
    )[0]
    return dict(
        headroom_factor=m_star,
        holds_to_quantile=lo,
        p_breach=p,
        expected_excess=mean / p,
        excess_p50=float(excess(at_quantile(0.5))[0]),
        excess_p90=float(excess(at_quantile(0.9))[0]),
    )


def sustainable_rate(workers, *, service, slo, client=None, queue=None) -> np.ndarray:
    """The highest join rate (1/s) each worker count serves within the SLO, stationary.

    The largest ``r`` with ``stationary_servers(r E[B]) <= c`` (the plan's waiting
    formula: one more join per second needs another worker) and, with a finite queue
    limit ``K`` from ``queue``, M/M/c/K blocking at ``c + K`` at most ``max_refused``:
    what the plan would size ``c`` workers for. Bisection on the load, 80 halvings.
    """
    from capplan.planning.methods import stationary_measure
    from capplan.queueing import mmck

    c = np.asarray(workers, dtype=np.int64)
    lo = np.zeros(c.shape)
    hi = c.astype(float)
    limits = None
    if queue is not None and client is not None:
        limits = queue.limits(c, service.mean_s, client.timeout_s)
        if limits.size and limits.min() < 0:
            limits = None

    def ok(a):
        good = stationary_measure(np.maximum(c, 1), a, slo, service) <= slo.miss_limit
        if limits is not None:
            with np.errstate(all="ignore"):
                block = np.asarray(mmck(np.maximum(c, 1), np.maximum(c, 1) + limits, a).blocking)
            good &= block <= slo.max_refused
        return good & (c > 0)

    for _ in range(80):
        mid = (lo + hi) / 2
        good = ok(mid)
        lo = np.where(good, mid, lo)
        hi = np.where(good, hi, mid)
    return lo / service.mean_s


# -- joins refused and delayed ---------------------------------------------------------------


def _join_outcomes(fc, name, w_s, n, iv, service, slo, client, queue, attack, method, reps, seed):
    limits_i = queue.limits(w_s[::iv], service.mean_s, client.timeout_s)
    if method == "simulate":
        return _simulated(fc, name, w_s, n, iv, service, slo, client, limits_i, attack, reps, seed)
    return fluid_outcomes(fc.scenarios[name] + attack, w_s, n, iv, service, slo, client, limits_i)


def fluid_outcomes(rates, w_s, n, iv, service, slo, client, limits_i, *, delays=True):
    """Per interval: first tries, refused, delayed beyond the SLO, timed out, meets_slo.

    Backlog ``Q``: each second ``Q <- min(max(Q + r - mu, 0), K)``, ``mu = c / E[B]``
    (the rest refused); arrivals in a second see the backlog move linearly from its
    start to its end, wait ``Q / mu``; with no backlog, the stationary formula's share
    waits beyond the SLO (``delays=False`` skips it: nobody is delayed without a
    backlog, which is cheaper where only refusals count). ``rates`` is one curve per
    second, or one row per scenario (then every output has one row per scenario too).
    """
    from capplan.planning._fluid import backlog_outcomes
    from capplan.planning.methods import stationary_measure

    rates = np.asarray(rates, dtype=float)
    rows = np.atleast_2d(rates)
    mu = w_s / service.mean_s
    k_s = np.repeat(np.where(limits_i < 0, np.inf, limits_i.astype(float)), iv)
    if delays:
        w = np.broadcast_to(np.maximum(w_s, 1), rows.shape)
        stationary = stationary_measure(w, rows * service.mean_s, slo, service)
        stationary = np.where(w_s > 0, stationary, 1.0)
    else:
        stationary = np.zeros(rows.shape)
    wait_s = slo.wait_s if slo.kind == "service_level" else 0.0
    timeout = np.inf if client.timeout_s is None else client.timeout_s
    refused, delayed, timed_out = backlog_outcomes(
        np.ascontiguousarray(rows),
        np.asarray(mu, dtype=float),
        k_s,
        np.ascontiguousarray(stationary, dtype=float),
        float(wait_s),
        float(timeout),
    )
    k = rows.shape[0]
    per = {
        "first_tries": rows.reshape(k, n, iv).sum(axis=2),
        "refused": refused.reshape(k, n, iv).sum(axis=2),
        "delayed": delayed.reshape(k, n, iv).sum(axis=2),
        "timed_out": timed_out.reshape(k, n, iv).sum(axis=2),
    }
    tot = np.maximum(per["first_tries"], 1e-300)
    per["meets_slo"] = (per["refused"] / tot <= slo.max_refused) & (
        per["delayed"] / np.maximum(tot - per["refused"], 1e-300) <= slo.miss_limit
    ) | (per["first_tries"] == 0)
    return per if rates.ndim == 2 else {name: v[0] for name, v in per.items()}


def _simulated(fc, name, w_s, n, iv, service, slo, client, limits_i, attack, reps, seed):
    from capplan.planning.validate import judge_intervals, per_second_buffer, simulate_join_path

    if isinstance(reps, bool) or int(reps) != reps or reps < 1:
        raise ValueError(f"replications must be a whole number >= 1; got {reps!r}")
    buffer = per_second_buffer(limits_i, iv)
    warm = int(max(1, math.ceil(10 * service.mean_s / iv))) * iv
    frames = []
    ss = np.random.SeedSequence(seed if not isinstance(seed, np.random.Generator) else None)
    if isinstance(seed, np.random.Generator):
        ss = np.random.SeedSequence(int(seed.integers(2**63)))
    children = ss.spawn(len(fc.scenarios) * int(reps))
    offset = list(fc.scenarios).index(name) * int(reps)
    for child in children[offset : offset + int(reps)]:
        a, b = child.spawn(2)
        f, _ = simulate_join_path(
            fc.scenarios[name],
            w_s,
            service=service,
            client=client,
            buffer=buffer,
            alpha_per_second=fc.alpha_per_second,
            cluster_per_second=fc.cluster_per_second,
            attack_rps=attack,
            warmup_s=warm,
            seed=np.random.default_rng(a),
            noise_seed=np.random.default_rng(b),
        )
        frames.append(f)
    g = judge_intervals(frames, iv, slo, float(fc.t[0]), client.on_timeout == "drop")
    started = sum(f["started"].to_numpy(float).reshape(n, iv).sum(axis=1) for f in frames)
    refused = g["refused_share"].fillna(0).to_numpy() * g["arrivals"].to_numpy()
    meets = ~(g["miss_share"] > slo.miss_limit) & ~(g["refused_share"] > slo.max_refused)
    return {
        "first_tries": g["first_tries"].to_numpy() / reps,
        "refused": refused / reps,
        "delayed": np.nan_to_num(g["miss_share"].to_numpy()) * started / reps,
        "timed_out": g["timed_out"].to_numpy() / reps,
        "meets_slo": meets.to_numpy(),
    }
