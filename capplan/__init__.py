"""capplan: capacity planning for headline live events.

Fit traffic-spike and queueing models to past events and size the join
path and the stream servers of the next one. Times are seconds, rates are
per second, timestamps are UTC.
"""

from importlib.metadata import PackageNotFoundError, version

from capplan.data import (
    History,
    azure_llm2023_history,
    azure_llm2023_requests,
    higgs2012_history,
    load_history,
    sample_history,
    worldcup98_history,
)
from capplan.forecast import (
    Nowcaster,
    PeakForecast,
    fit_nowcast,
    fit_peak_forecast,
    nowcast,
)
from capplan.models import (
    BurstFactor,
    ConcurrencyResult,
    JoinCurveFit,
    SessionsFit,
    burst_factor,
    concurrency,
    fit_join_curve,
    fit_sessions,
)
from capplan.planning import (
    SLO,
    Capacity,
    ClientPolicy,
    EventForecast,
    EventPlan,
    JoinForecast,
    JoinService,
    Margins,
    PlanValidation,
    QueuePolicy,
    assess,
    forecast_event,
    load_plan,
    plan_event,
    plan_tipping,
    save_plan,
    tipping_phase,
    waiting_room,
)
from capplan.queueing import (
    ErlangA,
    MMc,
    MMcK,
    Staffing,
    erlang_a,
    erlang_b,
    erlang_c,
    ggc_mean_wait,
    metastability,
    mmc,
    mmck,
    servers_for,
)
from capplan.scale import aggregate_logs, sweep
from capplan.simulation import (
    ExponentialBackoff,
    ImmediateRetry,
    NoRetry,
    RetryBudget,
    SimulationResult,
    simulate,
)

try:
    __version__ = version("capplan")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"

__all__ = [
    "SLO",
    "BurstFactor",
    "Capacity",
    "ClientPolicy",
    "ConcurrencyResult",
    "ErlangA",
    "EventForecast",
    "EventPlan",
    "ExponentialBackoff",
    "History",
    "ImmediateRetry",
    "JoinCurveFit",
    "JoinForecast",
    "JoinService",
    "MMc",
    "MMcK",
    "Margins",
    "NoRetry",
    "Nowcaster",
    "PeakForecast",
    "PlanValidation",
    "QueuePolicy",
    "RetryBudget",
    "SessionsFit",
    "SimulationResult",
    "Staffing",
    "__version__",
    "aggregate_logs",
    "assess",
    "azure_llm2023_history",
    "azure_llm2023_requests",
    "burst_factor",
    "concurrency",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "fit_join_curve",
    "fit_nowcast",
    "fit_peak_forecast",
    "fit_sessions",
    "forecast_event",
    "ggc_mean_wait",
    "higgs2012_history",
    "load_history",
    "load_plan",
    "metastability",
    "mmc",
    "mmck",
    "nowcast",
    "plan_event",
    "plan_tipping",
    "sample_history",
    "save_plan",
    "servers_for",
    "simulate",
    "sweep",
    "tipping_phase",
    "waiting_room",
    "worldcup98_history",
]
