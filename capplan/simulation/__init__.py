"""Discrete-event simulation of the join path.

A time-varying multi-server FCFS queue with general service times, a finite
waiting room, client timeouts (abandonment, or requests served for clients
that have gone) and retries after a back-off, capped per client or by a
shared retry budget. Compiled with numba; statistics are streamed per
interval, so memory does not grow with the number of requests.

Examples
--------
>>> from capplan.simulation import simulate
>>> r = simulate(arrival_rate=40.0, service_time=0.1, servers=5, duration=300, seed=1)
>>> bool(abs(r.mean_wait - 0.0554) < 0.03)  # Erlang C: 0.0554 s
True
"""

from capplan.simulation.policies import (
    ExponentialBackoff,
    ImmediateRetry,
    NoRetry,
    RetryBudget,
    RetryPolicy,
)
from capplan.simulation.result import SimulationResult
from capplan.simulation.service import (
    Deterministic,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    LogNormal,
)
from capplan.simulation.simulator import SimulationSpec, simulate

__all__ = [
    "Deterministic",
    "Distribution",
    "Empirical",
    "Exponential",
    "ExponentialBackoff",
    "Gamma",
    "ImmediateRetry",
    "LogNormal",
    "NoRetry",
    "RetryBudget",
    "RetryPolicy",
    "SimulationResult",
    "SimulationSpec",
    "simulate",
]
