"""The steps of a plan, in the order :func:`~capplan.planning.plan_event` runs them.

Each step is a small function of arrays with one row per planning interval, so a reader
can find the one that sizes what they care about and change it alone:

1. :func:`join_demand`: the forecast's rates per interval and the margins that multiply
   them (forecast quantile, burst, retry amplification) or add to them (attack): the
   design rate.
2. :func:`staffing`: the design rate's offered load and the least workers that meet the
   SLO's waiting target (the stationary formula of the method).
3. :func:`queue_limited`: workers raised where the queue limit would refuse more than
   the SLO allows (M/M/c/K).
4. :func:`failure_headroom`: capacity for a lost zone and N+k spares.
5. :func:`stream_servers`: the expected concurrency over streams per server, with the
   same failure headroom.

Provisioning (instances, lead times and cost) comes after the plan:
:func:`capplan.planning.provision`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from capplan.planning import methods as _methods
from capplan.queueing import mmck

__all__ = [
    "JoinDemand",
    "concurrency_of",
    "concurrency_per_interval",
    "failure_headroom",
    "join_demand",
    "offered_load",
    "proportional",
    "queue_limited",
    "staffing",
    "stream_servers",
]

MAX_SERVERS = 1e9  # beyond this the inputs' units are wrong, not the event big


@dataclass(frozen=True)
class JoinDemand:
    """Per interval: the forecast and each margin of the join path (rates in 1/s).

    ``design = amplification * burst * upper + attack_rps``.
    """

    point: np.ndarray
    upper: np.ndarray
    forecast_factor: np.ndarray
    burst: np.ndarray
    amplification: float
    attack_rps: float

    @property
    def design(self) -> np.ndarray:
        """The design rate (1/s) the workers are sized for."""
        return self.amplification * self.burst * self.upper + self.attack_rps


def join_demand(forecast, interval_s: int, margins, client) -> JoinDemand:
    """The join path's demand per interval of ``interval_s`` seconds.

    The point and upper curves are the interval means of the forecast's seconds; the
    burst factor is the worst second's quantile over that mean (``margins.burst_quantile``),
    the retry amplification the client policy's at ``margins.retry_failure_prob``.
    """
    n = forecast.t.size // interval_s
    point = forecast.point.reshape(n, interval_s).mean(axis=1)
    upper = forecast.upper.reshape(n, interval_s).mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(point > 0, upper / point, 1.0)
    return JoinDemand(
        point=point,
        upper=upper,
        forecast_factor=factor,
        burst=forecast.burst_factor(interval_s, margins.burst_quantile),
        amplification=client.retry_amplification(margins.retry_failure_prob),
        attack_rps=float(margins.attack_rps),
    )


def offered_load(rate_per_interval, service, interval_s: int, method: str) -> np.ndarray:
    """Offered load (Erlangs) per interval of a rate per interval, by the method's rule
    (:func:`capplan.planning.methods.offered_load`; ISA starts from MOL's)."""
    return _methods.offered_load(
        np.repeat(rate_per_interval, interval_s),
        service,
        interval_s,
        "mol" if method == "isa" else method,
    )


def staffing(load, slo, service) -> tuple[np.ndarray, str]:
    """The least workers per interval meeting the SLO's waiting target at ``load``
    (Erlangs), and the name of the queueing model used."""
    s = _methods.stationary_servers(load, slo, service)
    c = np.asarray(s.servers, dtype=np.int64)
    if np.any(c > MAX_SERVERS):
        raise ValueError(
            "the SLO needs more than 1e9 workers in some interval: check the "
            "forecast's units (joins per second) and the work per join (s)"
        )
    return c, s.model


def queue_limited(needed, load, *, slo, service, client, queue) -> tuple[np.ndarray, list[str]]:
    """Workers raised (1% at a time) where the queue limit would refuse more than
    ``slo.max_refused`` at the design load (M/M/c/K); with a note when any was."""
    limits = queue.limits(needed, service.mean_s, client.timeout_s)
    if limits[0] < 0:  # no queue limit: nothing is refused
        return needed, []
    bad = np.asarray(mmck(needed, needed + limits, load).blocking) > slo.max_refused
    if not np.any(bad):
        return needed, []
    raised = needed.copy()
    for _ in range(20):
        raised = np.where(bad, raised + np.maximum(1, np.ceil(0.01 * raised)), raised)
        raised = raised.astype(np.int64)
        k = (
            queue.limits(raised, service.mean_s, client.timeout_s)
            if queue.kind != "fixed"
            else limits
        )
        bad = np.asarray(mmck(raised, raised + k, load).blocking) > slo.max_refused
        if not np.any(bad):
            break
    note = (
        f"{int(np.sum(raised > needed))} interval(s) raised so that the queue "
        "limit refuses at most max_refused (M/M/c/K)"
    )
    return raised, [note]


def failure_headroom(needed, zone_loss: float, spare: int) -> np.ndarray:
    """``ceil(needed / (1 - zone_loss)) + spare``: what still holds after losing a zone's
    share of the capacity, plus N+k spares."""
    return np.ceil(np.asarray(needed) / (1 - zone_loss) - 1e-9).astype(np.int64) + int(spare)


def concurrency_per_interval(t, rates, sessions, interval_s: int, lobby_start_s) -> np.ndarray:
    """The highest expected concurrent streams (M_t/G/inf) within each interval."""
    from capplan.models import concurrency

    conc = concurrency(pd.Series(rates, index=pd.Index(t)), sessions, clock_start_s=lobby_start_s)
    return conc.frame["mean"].to_numpy().reshape(-1, interval_s).max(axis=1)


def proportional(curve, base) -> float | None:
    """``k`` when ``curve == k * base`` second by second (to 1e-12), else None."""
    busy = base > 0
    if not busy.any() or np.any(curve[~busy] != 0):
        return None
    k = curve[busy] / base[busy]
    return float(k[0]) if np.all(np.abs(k - k[0]) <= 1e-12 * k[0]) else None


def concurrency_of(forecast, sessions, interval_s: int, lobby_start_s):
    """``(point, upper)`` highest expected concurrent streams per interval.

    M_t/G/inf is linear in the join rates: an upper curve proportional to the point
    (a peak forecast's, or :meth:`JoinForecast.at_level`'s) scales the point's. Where the
    concurrency peak was forecast on its own (``forecast.concurrency_factor``), the upper
    is the point's times that factor.
    """
    point = concurrency_per_interval(
        forecast.t, forecast.point, sessions, interval_s, lobby_start_s
    )
    if forecast.concurrency_factor is not None:  # forecast on its own
        return point, forecast.concurrency_factor * point
    k = proportional(forecast.upper, forecast.point)
    if k is not None:
        return point, k * point
    upper = concurrency_per_interval(
        forecast.t, forecast.upper, sessions, interval_s, lobby_start_s
    )
    return point, upper


def stream_servers(concurrent, streams_per_server: float, margins) -> tuple[np.ndarray, np.ndarray]:
    """``(needed, with headroom)`` stream servers per interval for ``concurrent`` streams."""
    need = np.ceil(np.asarray(concurrent) / streams_per_server - 1e-9).astype(np.int64)
    return need, failure_headroom(need, margins.zone_loss, margins.spare_stream_servers)
