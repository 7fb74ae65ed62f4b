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
- Protecting the event: :func:`assess` (the risk of the capacity already there),
  :func:`waiting_room` (a line at the edge instead of a retry storm),
  :func:`tipping_phase` and :func:`plan_tipping` (which trigger leaves the join path down,
  on a plan's own path at the flood's peak and after it, and which remedy helps).
"""

from capplan.planning.analogue import EventForecast, forecast_event
from capplan.planning.assess import Capacity, CapacityAssessment, assess
from capplan.planning.forecast import JoinForecast
from capplan.planning.inputs import SLO, ClientPolicy, JoinService, Margins, QueuePolicy
from capplan.planning.io import load_plan, save_plan
from capplan.planning.methods import METHODS, offered_load, stationary_servers
from capplan.planning.plan import EventPlan, plan_event
from capplan.planning.tipping import phase_chart, plan_tipping, tipping_phase
from capplan.planning.validate import PlanValidation
from capplan.planning.waiting_room import WaitingRoomResult, waiting_room, waiting_room_chart

__all__ = [
    "METHODS",
    "SLO",
    "Capacity",
    "CapacityAssessment",
    "ClientPolicy",
    "EventForecast",
    "EventPlan",
    "JoinForecast",
    "JoinService",
    "Margins",
    "PlanValidation",
    "QueuePolicy",
    "WaitingRoomResult",
    "assess",
    "forecast_event",
    "load_plan",
    "offered_load",
    "phase_chart",
    "plan_event",
    "plan_tipping",
    "save_plan",
    "stationary_servers",
    "tipping_phase",
    "waiting_room",
    "waiting_room_chart",
]
