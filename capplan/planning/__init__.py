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
"""

from capplan.planning.analogue import EventForecast, forecast_event
from capplan.planning.forecast import JoinForecast
from capplan.planning.inputs import SLO, ClientPolicy, JoinService, Margins, QueuePolicy
from capplan.planning.io import load_plan, save_plan
from capplan.planning.methods import METHODS, offered_load, stationary_servers
from capplan.planning.plan import EventPlan, plan_event
from capplan.planning.validate import PlanValidation

__all__ = [
    "METHODS",
    "SLO",
    "ClientPolicy",
    "EventForecast",
    "EventPlan",
    "JoinForecast",
    "JoinService",
    "Margins",
    "PlanValidation",
    "QueuePolicy",
    "forecast_event",
    "load_plan",
    "offered_load",
    "plan_event",
    "save_plan",
    "stationary_servers",
]
