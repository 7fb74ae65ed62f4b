"""Forecasts of an event's peak: before it starts, and during it.

- :func:`fit_peak_forecast`: log-log regression of past peaks on what was
  known before each event (audience signals, traffic in the hour before the
  scheduled start), with prediction intervals and a leave-one-out backtest.
- :func:`fit_nowcast` / :func:`nowcast`: during an event, its peak from the
  peak so far and the pre-event forecast, with intervals, and a backtest
  against the minutes elapsed.
- :func:`event_table` and :func:`pre_start_traffic`: the features and
  peaks these fit, for past events and for a new one.

Examples
--------
>>> import capplan
>>> history = capplan.sample_history()
>>> forecast = capplan.forecast.fit_peak_forecast(history)
>>> backtest = forecast.backtest()
>>> sorted(backtest.summary().index)
['peak_concurrent', 'peak_joins_per_s']
"""

from capplan.forecast.features import event_table, pre_start_traffic
from capplan.forecast.nowcast import NowcastBacktest, Nowcaster, fit_nowcast, nowcast
from capplan.forecast.peak import PeakBacktest, PeakForecast, fit_peak_forecast
from capplan.warnings import SmallSampleWarning

__all__ = [
    "NowcastBacktest",
    "Nowcaster",
    "PeakBacktest",
    "PeakForecast",
    "SmallSampleWarning",
    "event_table",
    "fit_nowcast",
    "fit_peak_forecast",
    "nowcast",
    "pre_start_traffic",
]
