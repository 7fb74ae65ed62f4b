"""capplan: capacity planning for headline live events.

Fit traffic-spike and queueing models to past events and size the join
path and the stream servers of the next one. Times are seconds, rates are
per second, timestamps are UTC.

The names below are imported when first used (PEP 562): ``import capplan`` costs a
tenth of a second, and scipy.stats, statsmodels and numba load only when a name that
needs them is first used.
"""

import importlib
import importlib.util
from importlib.metadata import PackageNotFoundError, version

#: Each public name, by the module that defines it. No name may also be a submodule of
#: capplan: the submodule, once imported, would stand in its place.
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
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted([*_MODULE_OF, "__version__"])

try:
    __version__ = version("capplan")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0+unknown"


def __getattr__(name: str):
    module = _MODULE_OF.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module), name)
    elif importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f"{__name__}.{name}")  # capplan.warnings, .charts
    else:
        raise AttributeError(f"module 'capplan' has no attribute {name!r}")
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
