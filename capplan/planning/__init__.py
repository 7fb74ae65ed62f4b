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

from capplan._lazy import attach

# Imported on first use (capplan._lazy); the charts also because capplan.charts imports
# capplan.planning, so that no import circle forms.
_EXPORTS = {
    "capplan.planning.analogue": ["EventForecast", "forecast_event"],
    "capplan.planning.assess": ["Capacity", "CapacityAssessment", "assess"],
    "capplan.planning.autoscale": [
        "AutoscalerPolicy",
        "AutoscalerRun",
        "ReactiveComparison",
        "compare_reactive",
        "simulate_autoscaler",
    ],
    "capplan.planning.briefing": ["Briefing", "briefing"],
    "capplan.planning.forecast": ["JoinForecast"],
    "capplan.planning.inputs": ["SLO", "ClientPolicy", "JoinService", "Margins", "QueuePolicy"],
    "capplan.planning.io": ["load_plan", "save_plan"],
    "capplan.planning.methods": ["METHODS", "offered_load", "stationary_servers"],
    "capplan.planning.plan": ["EventPlan", "plan_event"],
    "capplan.planning.provision": ["Fleet", "ProvisioningLadder", "provision"],
    "capplan.planning.regret": ["Costs", "LeastRegret", "least_regret"],
    "capplan.planning.tipping": ["plan_tipping", "tipping_phase"],
    "capplan.planning.validate": ["PlanValidation"],
    "capplan.planning.waiting_room": ["WaitingRoomResult", "waiting_room"],
    "capplan.charts": ["phase_chart", "waiting_room_chart"],
}
__getattr__, __dir__, __all__ = attach(__name__, _EXPORTS)
