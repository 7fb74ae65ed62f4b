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

A *replay* runs observed first tries per second (``arrival_counts``, each placed
uniformly at random within its second) through the same path instead of a forecast
curve: no gamma noise (observed counts carry their own), the same attack traffic
(Poisson counts: it is not in the observed seconds), optionally scaled to the forecast's
peak of the 1-minute mean with unbiased stochastic rounding. Only the intervals whose
every second was observed are simulated and judged; each run of them is simulated on its
own, from a warm-up at its first second's count; the rest are counted, never filled.

Every run (a replication of a scenario, a stretch of a replay) is an independent job with
its own random streams, run by :func:`capplan.scale.sweep.run_jobs` on the scheduler
asked for (threads of this process by default, or a Dask cluster), the biggest first; a
job sends back its per-interval totals, which are pooled here. Nothing is simulated that
is not judged but the warm-ups (one interval per run).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from capplan._text import table_text
from capplan.models.noise import mixing_alpha
from capplan.planning.inputs import whole_number
from capplan.scale.sweep import THREADS, run_jobs
from capplan.simulation import Deterministic, simulate
from capplan.simulation._validate import generator

__all__ = ["PlanValidation", "per_second_buffer", "simulate_join_path"]


def per_second_buffer(limits, interval_s: int):
    """The simulator's buffer for queue limits per planning interval: one limit per
    second (int64), or None when the queue is unlimited (limits of -1)."""
    limits = np.asarray(limits, dtype=np.int64)
    if limits.size == 0 or limits.min() < 0:
        return None
    return np.repeat(limits, interval_s)


def simulate_join_path(
    rates,
    workers_per_s,
    *,
    service,
    client,
    buffer,
    alpha_per_second=0.0,
    cluster_per_second=0.0,
    attack_rps=0.0,
    warmup_s=0,
    seed=None,
    noise_seed=None,
    arrival_counts=None,
):
    """One run of the join path: per-second first-try rates (or counts) and workers; returns
    ``(per-second frame without the warm-up, SimulationResult)``.

    Parameters
    ----------
    rates : array-like or None
        First tries per second (1/s), one per second; None with ``arrival_counts``.
    workers_per_s : array-like of int
        Workers in each second.
    service : JoinService
    client : ClientPolicy
        Timeout (s), retry policy and what a timed-out request becomes.
    buffer : int, array-like of int or None
        Most requests waiting: one limit, or one per second (see
        :func:`per_second_buffer`); None or < 0: unlimited.
    alpha_per_second, cluster_per_second : float, default 0.0
        Over-dispersion of the rates: each second's rate ``m`` times a Gamma(1/a, a)
        draw, ``a = alpha + cluster / m`` (:mod:`capplan.models.noise`). Not with
        ``arrival_counts`` (observed counts carry their own noise).
    attack_rps : float, default 0.0
        Attack requests per second, Poisson, added to the first tries; they never retry
        (``simulate``'s ``attack_rate``).
    warmup_s : int, default 0
        Seconds of the first second's conditions (its rate, or its count) simulated
        before and left out, so that the run starts near steady state.
    seed, noise_seed : int, Generator or None
        The simulation's randomness; the rate noise's (and the attack counts').
    arrival_counts : array-like of int, optional
        Observed first tries in each second, replayed as they came (each placed
        uniformly at random within its second, see :func:`capplan.simulate`).
    """
    rng = np.random.default_rng(noise_seed)
    workers = np.asarray(workers_per_s, dtype=np.int64)
    if buffer is not None and np.ndim(buffer) == 0:
        buffer = None if buffer < 0 else int(buffer)
    elif buffer is not None:
        buffer = np.asarray(buffer, dtype=np.int64)
        if warmup_s:
            buffer = np.concatenate([np.full(warmup_s, buffer[0]), buffer])
    if arrival_counts is not None:
        if rates is not None:
            raise ValueError("give rates or arrival_counts, not both")
        if alpha_per_second > 0 or cluster_per_second > 0:
            raise ValueError(
                "alpha_per_second and cluster_per_second apply to rates: observed counts are "
                "replayed as they came"
            )
        counts = np.asarray(arrival_counts, dtype=np.int64)
        if warmup_s:
            counts = np.concatenate([np.full(warmup_s, counts[0]), counts])
            workers = np.concatenate([np.full(warmup_s, workers[0]), workers])
        arrivals = dict(arrival_counts=counts)
    else:
        rates = np.asarray(rates, dtype=float)
        if warmup_s:
            rates = np.concatenate([np.full(warmup_s, rates[0]), rates])
            workers = np.concatenate([np.full(warmup_s, workers[0]), workers])
        mixing = mixing_alpha(rates, alpha_per_second, cluster_per_second)
        if np.any(mixing > 0):
            k = 1.0 / np.where(mixing > 0, mixing, 1.0)
            rates = rates * np.where(mixing > 0, rng.gamma(k, 1.0 / k), 1.0)
        arrivals = dict(arrival_rate=rates)
    timeout = None if client.timeout_s is None else Deterministic(client.timeout_s)
    result = simulate(
        **arrivals,
        service_time=service.distribution(),
        servers=np.maximum(workers, 0),
        interval=1.0,
        buffer=buffer,
        attack_rate=attack_rps,
        timeout=timeout,
        on_timeout=client.on_timeout,
        retry=client.retry,
        seed=seed,
    )
    frame = result.to_frame().iloc[warmup_s:]
    return frame, result


_TOTALS = (
    "first_tries",
    "retries",
    "arrivals",
    "refused",
    "admitted",
    "started",
    "abandoned",
    "immediate",
    "failed",
)


def _interval_totals(frame: pd.DataFrame, interval_s: int, slo) -> dict:
    """One run's per-second frame reduced to what :func:`judge_intervals` pools, per
    interval: the counts' sums, the joins bounded to miss a waiting-time target
    (``miss_up``), the largest 99th-percentile wait (``p99``) and the line at the end
    (``queue_end``). A few arrays of one value per interval: small to send back from
    where the run ran."""
    n = len(frame) // interval_s
    out = {c: frame[c].to_numpy(dtype=float).reshape(n, interval_s).sum(axis=1) for c in _TOTALS}
    if slo.kind == "service_level":
        t = slo.wait_s
        started = frame["started"].to_numpy(dtype=float)
        wmax = frame["wait_max_s"].to_numpy(dtype=float)
        bound = np.where(
            started == 0,
            0.0,
            np.where(
                wmax <= t,
                0.0,
                np.where(
                    frame["wait_p99_s"].to_numpy(dtype=float) <= t,
                    0.01,
                    np.where(
                        frame["wait_p90_s"].to_numpy(dtype=float) <= t,
                        0.1,
                        np.where(frame["wait_p50_s"].to_numpy(dtype=float) <= t, 0.5, 1.0),
                    ),
                ),
            ),
        )
        out["miss_up"] = (bound * started).reshape(n, interval_s).sum(axis=1)
    q = frame["wait_p99_s"].to_numpy(dtype=float).reshape(n, interval_s)
    out["p99"] = np.nanmax(np.where(np.isnan(q), 0.0, q), axis=1)
    out["queue_end"] = frame["queue"].to_numpy(dtype=float)[interval_s - 1 :: interval_s]
    return out


def judge_intervals(
    frames: list[pd.DataFrame], interval_s: int, slo, start_s: float, drop: bool = False
):
    """Pool replications' per-second frames into per-interval SLO measures."""
    return _pool(
        [_interval_totals(f, interval_s, slo) for f in frames], slo, interval_s, start_s, drop
    )


def _pool(parts: list[dict], slo, interval_s: int, start_s: float, drop: bool) -> pd.DataFrame:
    """Replications' :func:`_interval_totals` pooled into per-interval SLO measures."""
    n = parts[0]["arrivals"].size
    tot = {c: np.zeros(n) for c in _TOTALS}
    miss_up = np.zeros(n)
    p99 = np.full(n, 0.0)
    queue_end = np.zeros(n)
    for part in parts:
        for c in _TOTALS:
            tot[c] += part[c]
        if slo.kind == "service_level":
            miss_up += part["miss_up"]
        p99 = np.maximum(p99, part["p99"])
        queue_end = np.maximum(queue_end, part["queue_end"])
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

    The scenarios are the model's (the forecast's curves, ``source == "model"``) and the
    replays of observed seconds (``source == "replay"``), judged alike.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per scenario and interval (columns ``scenario``, ``source``, ``start_s``,
        ``workers``, attempts, ``refused_share``, ``wait_prob``, ``miss_share``
        (share of joins missing the waiting target; an upper bound for a
        waiting-time target), ``target_miss``, ``meets_wait``, ``meets_refused``,
        ``meets_slo``, and for the streams ``concurrent``, ``stream_capacity``,
        ``meets_streams``). A replay has rows only for the intervals it covers fully
        (see ``replays``); its ``concurrent`` is NaN (and ``meets_streams`` missing)
        from its first missing second on.
    replays : pandas.DataFrame
        One row per replay (index ``scenario``): ``series``, ``scale_to``,
        ``scale_factor``, the 1-minute peaks (1/s) of the observed seconds and of the
        forecast curve scaled to, ``intervals_judged``, ``intervals_left_out``,
        ``missing_seconds`` (NaN or absent inside the series' span) and
        ``uncovered_seconds`` (of the window, outside the series' span). Empty if none.
    slo : SLO
    label : str
    settings : dict
        Seed, replications, attack rate (1/s), noise, buffer (the largest queue limit;
        each second has its interval's), warm-up (s).
    """

    def __init__(self, frame: pd.DataFrame, slo, label: str, settings: dict, replays=None):
        self.frame = frame
        self.slo = slo
        self.label = label
        self.settings = dict(settings)
        self.replays = _REPLAY_TABLE.copy() if replays is None else replays

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    @property
    def share_meeting_slo(self) -> float:
        """Share of (scenario, interval) rows with arrivals that meet the SLO, over every
        scenario, the model's and the replays' (see :attr:`share_meeting_slo_by_source`)."""
        judged = self.frame[self.frame["arrivals"] > 0]
        return float(judged["meets_slo"].mean())

    @property
    def share_meeting_slo_by_source(self) -> pd.Series:
        """Share of intervals meeting the SLO in the model's scenarios (``model``) and in
        the replays of observed seconds (``replay``), those present."""
        judged = self.frame[self.frame["arrivals"] > 0]
        return judged.groupby("source", sort=False)["meets_slo"].mean().astype(float)

    def summary(self) -> pd.DataFrame:
        """Per scenario: share of intervals meeting the SLO and the run's totals.

        ``source`` is ``model`` or ``replay``; ``intervals`` counts the judged intervals
        with arrivals, ``intervals_left_out`` those of the window a replay does not cover
        fully (0 for the model); ``scaled_by`` the factor a replay's counts were scaled
        by (NaN for the model).
        """
        rows = {}
        for name, g in self.frame.groupby("scenario", sort=False):
            j = g[g["arrivals"] > 0]
            replay = name in self.replays.index
            rows[name] = {
                "source": g["source"].iloc[0],
                "intervals": len(j),
                "intervals_left_out": (
                    int(self.replays.at[name, "intervals_left_out"]) if replay else 0
                ),
                "scaled_by": float(self.replays.at[name, "scale_factor"]) if replay else np.nan,
                "share_meeting_slo": j["meets_slo"].mean(),
                "share_meeting_wait": j["meets_wait"].mean(),
                "share_meeting_refused": j["meets_refused"].mean(),
                "share_meeting_streams": g["meets_streams"].astype("boolean").mean(),
                "worst_miss_share": j["miss_share"].max(),
                "target_miss": self.slo.miss_limit,
                "refused_share": j["refused_share"].mul(j["arrivals"]).sum() / j["arrivals"].sum(),
                "worst_refused_share": j["refused_share"].max(),
                "target_refused": self.slo.max_refused,
                "retries_per_first_try": j["retries"].sum() / max(j["first_tries"].sum(), 1),
                "worst_wait_p99_s": j["wait_p99_max_s"].max(),
                "timed_out": j["timed_out"].sum(),
                "peak_stream_use": (g["concurrent"] / g["stream_capacity"]).max(),
            }
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("scenario")

    def __str__(self) -> str:
        by = self.share_meeting_slo_by_source
        words = {"model": "in the model's scenarios", "replay": "replaying observed seconds"}
        shares = ", ".join(f"{v:.1%} {words.get(k, k)}" for k, v in by.items())
        head = (
            f"Plan validation by simulation: {self.label}\nSLO: {self.slo.describe()}; "
            f"share of intervals meeting it: {shares}\n"
        )
        for name, r in self.replays.iterrows():
            peak = f"1-minute peak {r['observed_peak_1min_per_s']:,.0f}/s"
            scaled = (
                f"x {r['scale_factor']:.4g} ({peak} -> the forecast {r['scale_to']}'s "
                f"{r['target_peak_1min_per_s']:,.0f}/s)"
                if isinstance(r["scale_to"], str)
                else f"as observed ({peak})"
            )
            judged, left = int(r["intervals_judged"]), int(r["intervals_left_out"])
            head += (
                f"{name}: the observed seconds of {r['series']} {scaled}; {judged} of "
                f"{judged + left} intervals judged, {left} left out "
                f"({_count(r['uncovered_seconds'], 'second')} of the window outside the "
                f"series, {_count(r['missing_seconds'], 'missing second')})\n"
            )
        return head + table_text(self.summary().T, 4)

    def __repr__(self) -> str:
        return f"<PlanValidation {self.label}: {self.share_meeting_slo:.1%} of intervals meet SLO>"

    def chart(self):
        """Simulated service level against the target per interval (an altair Chart)."""
        from capplan import charts

        return charts.plan_validation_chart(self)


def _count(n, what: str) -> str:
    return f"{int(n):,} {what}" + ("" if int(n) == 1 else "s")


_REPLAY_TABLE = pd.DataFrame(
    {
        c: pd.Series(dtype=d)
        for c, d in (
            ("series", object),
            ("scale_to", object),
            ("scale_factor", float),
            ("observed_peak_1min_per_s", float),
            ("target_peak_1min_per_s", float),
            ("intervals_judged", np.int64),
            ("intervals_left_out", np.int64),
            ("missing_seconds", np.int64),
            ("uncovered_seconds", np.int64),
        )
    },
    index=pd.Index([], name="scenario", dtype=object),
)

SCALE_TO = ("point", "upper")
_MINUTE_S = 60


@dataclass(frozen=True)
class _Replay:
    """Observed seconds on the plan's window, ready to simulate."""

    name: str
    series: str
    scale_to: str | None
    counts: np.ndarray  # per second of the window; NaN where missing or not covered
    factor: float
    observed_peak: float
    target_peak: float
    judged: np.ndarray  # per interval: every second observed
    missing_s: int
    uncovered_s: int

    def segments(self):
        """(first, end) interval indices of each run of judged intervals."""
        edges = np.diff(np.concatenate([[0], self.judged.astype(np.int8), [0]]))
        return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _peak_1min(per_second: np.ndarray) -> float:
    """Highest mean over 60 consecutive seconds, all observed (NaN if none)."""
    return float(pd.Series(per_second).rolling(_MINUTE_S, min_periods=_MINUTE_S).mean().max())


def _window_counts(name: str, series, t: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The series' counts on the window's seconds ``t`` (NaN where none), and its span."""
    if isinstance(series, pd.DataFrame):
        raise TypeError(
            f"{name} must be one series of first tries per second, e.g. "
            f"History.event(id)['joins']; got a DataFrame with columns {list(series.columns)}"
        )
    if not isinstance(series, pd.Series):
        raise TypeError(
            f"{name} must be a pandas Series of first tries per second indexed by seconds "
            f"since the event's start; got {type(series).__name__}"
        )
    if series.empty:
        raise ValueError(f"{name} is empty: give first tries per second")
    index = series.index
    if not pd.api.types.is_numeric_dtype(index) or pd.api.types.is_bool_dtype(index):
        raise ValueError(
            f"{name} must be indexed by seconds since the event's start (numbers, as "
            f"History.event(id) gives); got an index of {index.dtype}"
        )
    idx = np.asarray(index, dtype=float)
    if not np.all(np.isfinite(idx)) or np.any(idx != np.round(idx)):
        raise ValueError(f"{name} must be on a 1-s grid of whole seconds; its index is not")
    steps = np.diff(idx)
    if np.any(steps <= 0):
        raise ValueError(f"{name}: its index (seconds) must be increasing with no repeat")
    if steps.size and steps.min() != 1:
        raise ValueError(
            f"{name} must be on a 1-s grid (counts per second); its smallest step is "
            f"{steps.min():g} s: replay needs per-second counts, not per-interval totals"
        )
    try:
        values = series.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must hold counts (numbers); got {series.dtype}") from None
    bad = np.isinf(values) | (values < 0) | (np.isfinite(values) & (values != np.round(values)))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must be whole counts >= 0 per second (NaN: a missing second); got "
            f"{values[k]:g} at {idx[k]:g} s"
            + (f" ({bad.sum()} such values)" if bad.sum() > 1 else "")
        )
    t0 = int(t[0])
    pos = idx.astype(np.int64) - t0
    inside = (pos >= 0) & (pos < t.size)
    out = np.full(t.size, np.nan)
    out[pos[inside]] = values[inside]
    if not np.isfinite(out).any():
        observed = idx[np.isfinite(values)]
        has = f"{observed.min():g}..{observed.max():g} s" if observed.size else "no value"
        raise ValueError(
            f"{name} does not overlap the plan's window: it has counts at {has}, the window "
            f"is {t[0]:g}..{t[-1] + 1:g} s from the start; index the series by seconds since "
            "the event's start"
        )
    return out, float(idx[0]), float(idx[-1])


def _check_scale_to(scale_to) -> tuple:
    values = scale_to if isinstance(scale_to, (list, tuple)) else (scale_to,)
    bad = [v for v in values if v is not None and v not in SCALE_TO]
    if bad or not values:
        raise ValueError(
            f"scale_to must be None, 'point', 'upper' or a list of them; got {scale_to!r}"
        )
    return tuple(dict.fromkeys(values))


def _replays(replay, scale_to, fc, interval_s: int) -> list[_Replay]:
    """The replays asked for: ``replay`` and ``scale_to`` as :meth:`EventPlan.validate`."""
    if replay is False:
        return []
    if replay is None or replay is True:
        observed = fc.observed
        if observed is None:
            if replay is True:
                raise ValueError(
                    "replay=True: the plan's forecast carries no observed seconds (a plan "
                    "from JoinForecast.from_peak or forecast_event does; a loaded plan may "
                    "not); pass the series itself, replay=series"
                )
            return []
        label = "replay" if observed.name is None else f"replay of {observed.name}"
        given = {label: observed}
        scales = SCALE_TO if scale_to is None else _check_scale_to(scale_to)
    elif isinstance(replay, (pd.Series, pd.DataFrame)):  # a DataFrame: refused, named
        given = {"replay": replay}
        scales = _check_scale_to(scale_to)
    elif isinstance(replay, Mapping):
        if not replay:
            raise ValueError("replay is an empty mapping: give name -> series")
        given = {str(k): v for k, v in replay.items()}
        scales = _check_scale_to(scale_to)
    else:
        raise TypeError(
            "replay must be a pandas Series of first tries per second, a dict of name -> "
            f"Series, True/None (the forecast's observed seconds) or False; got "
            f"{type(replay).__name__}"
        )
    out = []
    n_int = fc.t.size // interval_s
    for key, series in given.items():
        arg = "replay" if not isinstance(replay, Mapping) else f"replay[{key!r}]"
        counts, first_s, last_s = _window_counts(arg, series, fc.t)
        judged = np.isfinite(counts).reshape(n_int, interval_s).all(axis=1)
        if not judged.any():
            raise ValueError(
                f"{arg} covers no whole interval of {interval_s} s of the plan's window "
                f"({fc.t[0]:g}..{fc.t[-1] + 1:g} s) with a count in every second"
            )
        span = (fc.t >= first_s) & (fc.t <= last_s)
        missing = int(np.sum(span & ~np.isfinite(counts)))
        observed_peak = _peak_1min(counts)
        name_of = getattr(series, "name", None)
        for scale in scales:
            if scale is None:
                factor, target = 1.0, np.nan
            else:
                target = _peak_1min(fc.upper if scale == "upper" else fc.point)
                if not observed_peak > 0:
                    raise ValueError(
                        f"{arg} cannot be scaled to the forecast's {scale} peak: it has no "
                        "full minute of observed seconds with a first try in the window"
                    )
                factor = target / observed_peak
            out.append(
                _Replay(
                    name=key if scale is None else f"{key} (scaled to {scale})",
                    series=str(key if name_of is None else name_of),
                    scale_to=scale,
                    counts=counts,
                    factor=float(factor),
                    observed_peak=observed_peak,
                    target_peak=float(target),
                    judged=judged,
                    missing_s=missing,
                    uncovered_s=int(np.sum(~span)),
                )
            )
    return out


def _stochastic_round(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Whole numbers with the same expectation: ``floor(x) + 1`` with probability
    ``x - floor(x)``, else ``floor(x)``."""
    low = np.floor(x)
    return (low + (rng.random(x.size) < x - low)).astype(np.int64)


def _judge(g, name, source, w, limits, slo, concurrent, capacity):
    """The SLO columns of one scenario's per-interval frame ``g`` (index ``start_s``)."""
    g.insert(0, "scenario", name)
    g.insert(1, "source", source)
    g.insert(2, "workers", w)
    g.insert(3, "queue_limit", limits)
    g["target_miss"] = slo.miss_limit
    g["meets_wait"] = ~(g["miss_share"] > slo.miss_limit)
    g["meets_refused"] = ~(g["refused_share"] > slo.max_refused)
    g["meets_slo"] = g["meets_wait"] & g["meets_refused"]
    g["concurrent"] = concurrent
    g["stream_capacity"] = capacity
    meets = pd.array(concurrent <= capacity, dtype="boolean")
    meets[~np.isfinite(concurrent)] = pd.NA
    g["meets_streams"] = meets
    return g.reset_index()


def _seed_sequence(seed) -> np.random.SeedSequence:
    """A validation's ``seed`` (an int, a SeedSequence, a Generator, which gives up one draw,
    or None) as the SeedSequence its runs' seeds are spawned from; else a ValueError."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    rng = generator(seed)  # the check
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(rng.integers(2**63)))
    return np.random.SeedSequence(seed)


def _runs(names, replays, fc, per_s, buffer, iv, replications, seeds, noise, common):
    """Every run of a validation as a job for :func:`_run_path`, and whose it is:
    ``(scenario or replay name, replication, stretch)``.

    Each replication of a scenario or a replay has its own child of ``SeedSequence(seed)``
    (the scenarios' first, in order, then the replays'), so adding replays leaves the
    model's runs as they were. A model run draws its simulation and its rate noise from
    the child's two children. A replay's replication draws from three: the simulation's
    and the attack counts' seeds (the first stretch's themselves; stretch ``k > 0`` their
    ``k``-th child), and the stochastic rounding of its counts, done here, stretch after
    stretch. Each stretch of a replay is a job of its own, so that stretches run side by
    side like the scenarios.
    """
    ss = seeds
    jobs, whose = [], []
    for name in names:
        for rep, child in enumerate(ss.spawn(replications)):
            a, b = child.spawn(2)
            jobs.append(
                dict(
                    rates=fc.scenarios[name],
                    workers_per_s=per_s,
                    buffer=buffer,
                    alpha_per_second=fc.alpha_per_second if noise else 0.0,
                    cluster_per_second=fc.cluster_per_second if noise else 0.0,
                    seed=np.random.default_rng(a),
                    noise_seed=np.random.default_rng(b),
                    **common,
                )
            )
            whose.append((name, rep, 0))
    for r in replays:
        segments = r.segments()
        for rep, child in enumerate(ss.spawn(replications)):
            a, b, c = child.spawn(3)
            sim_seeds = [a, *a.spawn(len(segments) - 1)]
            noise_seeds = [b, *b.spawn(len(segments) - 1)]
            rounding = np.random.default_rng(c)
            for k, (i0, i1) in enumerate(segments):
                cut = slice(i0 * iv, i1 * iv)
                jobs.append(
                    dict(
                        rates=None,
                        workers_per_s=per_s[cut],
                        buffer=None if buffer is None else buffer[cut],
                        arrival_counts=_stochastic_round(r.counts[cut] * r.factor, rounding),
                        seed=np.random.default_rng(sim_seeds[k]),
                        noise_seed=np.random.default_rng(noise_seeds[k]),
                        **common,
                    )
                )
                whose.append((r.name, rep, k))
    return jobs, whose


# A replayed first try costs the simulator about 1.4 times a Poisson one (each of a
# second's counts is placed by an order statistic, a power per arrival; measured at headline
# scale): replayed first tries weigh that much more when the runs are ordered biggest first.
# The attack's requests are Poisson in every run.
_REPLAYED_COST = 1.4


def _run_cost(job: dict, attack_rps: float) -> float:
    """A run's cost, roughly, to start the biggest first: its expected first tries (warm-up
    included; replayed ones weighted by :data:`_REPLAYED_COST`) and attack requests."""
    replayed = job["rates"] is None
    first = job["arrival_counts"] if replayed else job["rates"]
    n = first.size + job["warmup_s"]
    tries = float(np.sum(first)) + job["warmup_s"] * float(first[0])
    return tries * (_REPLAYED_COST if replayed else 1.0) + attack_rps * n


def _run_path(*, interval_s: int, slo, rates, workers_per_s, **path) -> dict:
    """One run of a validation, where it runs (a thread, a Dask worker): the simulation
    of :func:`simulate_join_path` reduced to its :func:`_interval_totals`."""
    frame, _ = simulate_join_path(rates, workers_per_s, **path)
    return _interval_totals(frame, interval_s, slo)


def validate_plan(
    plan,
    *,
    scenarios=None,
    replay=None,
    scale_to=None,
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
    scheduler=THREADS,
) -> PlanValidation:
    """See :meth:`EventPlan.validate`. ``forecast`` replaces the plan's (a what-if's
    curves); the default replay is then that forecast's observed seconds, if any."""
    from capplan.models import concurrency

    fc = plan.forecast if forecast is None else forecast
    names = list(fc.scenarios) if scenarios is None else list(scenarios)
    missing = [s for s in names if s not in fc.scenarios]
    if missing:
        raise ValueError(f"unknown scenario(s) {missing}; the forecast has {list(fc.scenarios)}")
    replications = whole_number("replications", replications, minimum=1, maximum=10_000)
    seeds = _seed_sequence(seed)
    iv = plan.interval_s
    replays = _replays(replay, scale_to, fc, iv)
    clash = [r.name for r in replays if r.name in names]
    if clash or len({r.name for r in replays}) < len(replays):
        raise ValueError(f"replay names must differ from each other and the scenarios; {clash}")
    if not names and not replays:
        raise ValueError("nothing to simulate: give scenarios or a replay")
    client = plan.client if client is None else client
    attack = plan.margins.attack_rps if attack_rps is None else float(attack_rps)
    frame = plan.frame
    w = frame["workers"].to_numpy() if workers is None else np.asarray(workers)
    s_srv = (
        frame["stream_servers"].to_numpy() if stream_servers is None else np.asarray(stream_servers)
    )
    capacity = s_srv * plan.streams_per_server
    per_s = np.repeat(w, iv)
    limits = plan.queue.limits(w, plan.service.mean_s, client.timeout_s)
    buffer = per_second_buffer(limits, iv)
    warm = int(max(1, math.ceil(10 * plan.service.mean_s / iv))) * iv
    drop = client.on_timeout == "drop"
    common = dict(service=plan.service, client=client, attack_rps=attack, warmup_s=warm)
    jobs, whose = _runs(names, replays, fc, per_s, buffer, iv, replications, seeds, noise, common)
    cost = [_run_cost(job, attack) for job in jobs]
    for job in jobs:
        job.update(interval_s=iv, slo=plan.slo)
    parts, _ = run_jobs(
        _run_path,
        jobs,
        scheduler=scheduler,
        progress=progress,
        cost=cost,
        desc="simulating the plan",
        unit="run",
        name=lambda i: f"the run of {whose[i][0]!r} (replication {whose[i][1]})",
    )
    runs = {}  # scenario or replay -> stretch -> the replications' interval totals
    for (name, _, k), part in zip(whose, parts, strict=True):
        runs.setdefault(name, {}).setdefault(k, []).append(part)

    def concurrent_of(rates):
        conc = concurrency(
            pd.Series(rates, index=pd.Index(fc.t[: rates.size])),
            plan.sessions,
            clock_start_s=plan.lobby_start_s,
        )
        return conc.frame["mean"].to_numpy().reshape(-1, iv).max(axis=1)

    out = []
    for name in names:
        g = _pool(runs[name][0], plan.slo, iv, plan.window[0], drop)
        conc = concurrent_of(fc.scenarios[name])
        out.append(_judge(g, name, "model", w, limits, plan.slo, conc, capacity))
    rows = {}
    for r in replays:
        stretches = []
        for k, (i0, _) in enumerate(r.segments()):
            start = plan.window[0] + i0 * iv
            stretches.append(_pool(runs[r.name][k], plan.slo, iv, start, drop))
        g = pd.concat(stretches)
        # Expected concurrency of the replayed first tries, up to the first missing second.
        expected = r.counts * r.factor
        gap = np.flatnonzero(~np.isfinite(expected))
        whole = (expected.size if gap.size == 0 else int(gap[0])) // iv
        conc = np.full(w.size, np.nan)
        lobby = plan.lobby_start_s
        if whole and (lobby is None or fc.t[0] + whole * iv - 1 >= lobby):  # the lobby opens
            conc[:whole] = concurrent_of(expected[: whole * iv])
        j = r.judged
        out.append(_judge(g, r.name, "replay", w[j], limits[j], plan.slo, conc[j], capacity[j]))
        rows[r.name] = {
            "series": r.series,
            "scale_to": r.scale_to,
            "scale_factor": r.factor,
            "observed_peak_1min_per_s": r.observed_peak,
            "target_peak_1min_per_s": r.target_peak,
            "intervals_judged": int(j.sum()),
            "intervals_left_out": int((~j).sum()),
            "missing_seconds": r.missing_s,
            "uncovered_seconds": r.uncovered_s,
        }
    table = _REPLAY_TABLE.copy()
    if rows:
        table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("scenario")
        table = table.astype(_REPLAY_TABLE.dtypes.to_dict())
    settings = dict(
        seed=seed,
        replications=replications,
        attack_rps=attack,
        noise=noise,
        buffer=None if buffer is None else int(buffer.max()),  # the largest, at the peak
        warmup_s=warm,
    )
    return PlanValidation(
        pd.concat(out, ignore_index=True),
        plan.slo,
        label or f"{plan.method} plan",
        settings,
        table,
    )
