"""capplan: capacity planning for headline live events.

Fit traffic-spike and queueing models to past events and size the join
path and the stream servers of the next one. Times are seconds, rates are
per second, timestamps are UTC.

The names below are imported when first used (:mod:`capplan._lazy`).
"""

from importlib.metadata import PackageNotFoundError, version

from capplan._lazy import attach

#: Each public name, by the module that defines it.
_EXPORTS = {
    "capplan._text": [
        "readable",
    ],
    "capplan.data": [
        "History",
        "azure_llm2023_history",
        "azure_llm2023_requests",
        "higgs2012_history",
        "load_history",
        "sample_history",
        "worldcup98_history",
    ],
    "capplan.forecast": [
        "Nowcaster",
        "PeakForecast",
        "fit_nowcast",
        "fit_peak_forecast",
        "nowcast",
    ],
    "capplan.models": [
        "BurstFactor",
        "ConcurrencyResult",
        "JoinCurveFit",
        "SessionsFit",
        "burst_factor",
        "concurrency",
        "fit_join_curve",
        "fit_sessions",
    ],
    "capplan.planning": [
        "SLO",
        "AutoscalerPolicy",
        "Capacity",
        "ClientPolicy",
        "Costs",
        "EventForecast",
        "EventPlan",
        "Fleet",
        "JoinForecast",
        "JoinService",
        "Margins",
        "PlanValidation",
        "QueuePolicy",
        "assess",
        "briefing",
        "compare_reactive",
        "forecast_event",
        "least_regret",
        "load_plan",
        "plan_event",
        "plan_tipping",
        "provision",
        "save_plan",
        "tipping_phase",
        "waiting_room",
    ],
    "capplan.queueing": [
        "ErlangA",
        "MMc",
        "MMcK",
        "Staffing",
        "erlang_a",
        "erlang_b",
        "erlang_c",
        "ggc_mean_wait",
        "metastability",
        "mmc",
        "mmck",
        "servers_for",
    ],
    "capplan.scale": [
        "aggregate_logs",
        "sweep",
    ],
    "capplan.simulation": [
        "ExponentialBackoff",
        "ImmediateRetry",
        "NoRetry",
        "RetryBudget",
        "SimulationResult",
        "simulate",
    ],
}
__getattr__, __dir__, _names = attach(__name__, _EXPORTS)
__all__ = sorted([*_names, "__version__"])

try:
    __version__ = version("capplan")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"
