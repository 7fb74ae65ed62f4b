"""Event plans: time-varying sizing of the join path and the stream servers, with explicit
margins, validated by simulation.

- :func:`plan_event` → :class:`EventPlan`: workers, queue limit and stream servers per
  interval, each margin on its own line (forecast quantile, burst, retry amplification,
  attack headroom, zone loss, N+k).
- :func:`forecast_event` → :class:`EventForecast`: an upcoming event's join forecast
  from its audience signals, shaped like the most similar past event.
- Inputs: :class:`JoinForecast` (rates with their uncertainty), :class:`SLO`,
  :class:`JoinService`, :class:`ClientPolicy`, :class:`QueuePolicy`, :class:`Margins`.
- Methods (:mod:`capplan.planning.methods`): PSA, lagged PSA, modified offered load,
  iterative staffing by simulation (ISA).
- :meth:`EventPlan.validate` → :class:`PlanValidation`: simulated service level per
  interval beside the target.
- What-ifs (:mod:`capplan.planning.whatif`) and :func:`compare`.
- :func:`save_plan` / :func:`load_plan`: JSON or CSV.
- From plan to action: :func:`provision` (a pre-warm ladder of instances on the wall
  clock for :class:`Fleet` kinds, its cost, CSV/JSON and AWS scheduled actions),
  :func:`compare_reactive` (a target-tracking autoscaler against it),
  :func:`least_regret` (the forecast level to plan for by expected cost, :class:`Costs`);
  the load test that proves it is :mod:`capplan.loadtest`.
- Protecting the event: :func:`assess` (the risk of the capacity already there),
  :func:`waiting_room` (a line at the edge instead of a retry storm),
  :func:`tipping_phase` and :func:`plan_tipping` (which trigger leaves the join path down,
  on a plan's own path at the flood's peak and after it, and which remedy helps).
"""

from capplan.planning.analogue import EventForecast, forecast_event
from capplan.planning.assess import Capacity, CapacityAssessment, assess
from capplan.planning.autoscale import (
    AutoscalerPolicy,
    AutoscalerRun,
    ReactiveComparison,
    compare_reactive,
    simulate_autoscaler,
)
from capplan.planning.briefing import Briefing, briefing
from capplan.planning.forecast import JoinForecast
from capplan.planning.inputs import SLO, ClientPolicy, JoinService, Margins, QueuePolicy
from capplan.planning.io import load_plan, save_plan
from capplan.planning.methods import METHODS, offered_load, stationary_servers
from capplan.planning.plan import EventPlan, plan_event
from capplan.planning.provision import Fleet, ProvisioningLadder, provision
from capplan.planning.regret import Costs, LeastRegret, least_regret
from capplan.planning.tipping import plan_tipping, tipping_phase
from capplan.planning.validate import PlanValidation
from capplan.planning.waiting_room import WaitingRoomResult, waiting_room

__all__ = [
    "METHODS",
    "SLO",
    "AutoscalerPolicy",
    "AutoscalerRun",
    "Briefing",
    "Capacity",
    "CapacityAssessment",
    "ClientPolicy",
    "Costs",
    "EventForecast",
    "EventPlan",
    "Fleet",
    "JoinForecast",
    "JoinService",
    "LeastRegret",
    "Margins",
    "PlanValidation",
    "ProvisioningLadder",
    "QueuePolicy",
    "ReactiveComparison",
    "WaitingRoomResult",
    "assess",
    "briefing",
    "compare_reactive",
    "forecast_event",
    "least_regret",
    "load_plan",
    "offered_load",
    "phase_chart",
    "plan_event",
    "plan_tipping",
    "provision",
    "save_plan",
    "simulate_autoscaler",
    "stationary_servers",
    "tipping_phase",
    "waiting_room",
    "waiting_room_chart",
]


_CHARTS = ("phase_chart", "waiting_room_chart")


def __getattr__(name):
    # Charts live in capplan.charts, which imports capplan.planning: fetched on first use
    # (`from capplan.planning import phase_chart`), so that no import circle forms.
    if name in _CHARTS:
        from capplan import charts

        return getattr(charts, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
