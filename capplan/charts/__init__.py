"""All of capplan's charts: plain functions that take a result and return an altair Chart.

Nothing is displayed or saved here. One look throughout (:mod:`.theme`): titles with
units, time on the event's clock with a rule at the start, the data as grey points, the
fit as a line, its confidence band darker and the band where the data should fall
lighter. Long series are drawn as means over consecutive intervals (said in the subtitle)
so that a chart stays small enough to embed in a notebook's exported HTML.

The charts are grouped by what they draw:

- :mod:`.history`: past events;
- :mod:`.traffic`: the traffic models (join curve, bursts, sessions, concurrency);
- :mod:`.forecasts`: forecasts and their backtests;
- :mod:`.plans`: plans, their validation and what tests them (the capacity already
  there, the pre-warm ladder, the reactive autoscaler, least regret, the waiting room,
  the tipping phase);
- :mod:`.simulation`: simulated runs.

Results import this package inside their ``chart()`` methods, never at module level:
the charts import the results, not the other way round.
"""

from capplan.charts.forecasts import calibration_chart, nowcast_backtest_chart, peak_backtest_chart
from capplan.charts.history import history_chart
from capplan.charts.plans import (
    assessment_chart,
    ladder_chart,
    phase_chart,
    plan_chart,
    plan_validation_chart,
    reactive_chart,
    regret_chart,
    waiting_room_chart,
)
from capplan.charts.simulation import simulation_chart, simulation_comparison_chart
from capplan.charts.theme import (
    DATA_COLOR,
    FIT_COLOR,
    HEIGHT,
    MAX_ROWS,
    PANEL_HEIGHT,
    SLO_COLOR,
    START_COLOR,
    WIDTH,
)
from capplan.charts.traffic import burst_chart, concurrency_chart, join_curve_chart, sessions_chart

__all__ = [
    "DATA_COLOR",
    "FIT_COLOR",
    "HEIGHT",
    "MAX_ROWS",
    "PANEL_HEIGHT",
    "SLO_COLOR",
    "START_COLOR",
    "WIDTH",
    "assessment_chart",
    "burst_chart",
    "calibration_chart",
    "concurrency_chart",
    "history_chart",
    "join_curve_chart",
    "ladder_chart",
    "nowcast_backtest_chart",
    "peak_backtest_chart",
    "phase_chart",
    "plan_chart",
    "plan_validation_chart",
    "reactive_chart",
    "regret_chart",
    "sessions_chart",
    "simulation_chart",
    "simulation_comparison_chart",
    "waiting_room_chart",
]
