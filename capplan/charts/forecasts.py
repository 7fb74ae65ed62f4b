"""Charts of the forecasts and their backtests (:mod:`capplan.forecast`)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from capplan.charts.theme import HEIGHT, NUMBER, WIDTH, heading

__all__ = ["calibration_chart", "nowcast_backtest_chart", "peak_backtest_chart"]


_UNITS = {
    "peak_joins_per_s": "peak joins per second",
    "peak_concurrent": "peak concurrent listeners",
    "peak_requests_per_s": "peak requests per second",
}
_COVERED = alt.Scale(domain=[True, False], range=["#4c78a8", "#e45756"])


def _label(column: str) -> str:
    return _UNITS.get(column, column)


def peak_backtest_chart(result) -> alt.HConcatChart:
    """Held-out forecasts against real peaks, with their intervals, on log scales.

    Parameters
    ----------
    result : PeakBacktest or PeakForecast
        A backtest, or a forecast (its leave-one-out backtest is drawn).

    Returns
    -------
    altair.HConcatChart
        One panel per target: each past event's real peak (x) against its
        forecast from the other events (y, the median), the interval as a
        vertical bar, coloured by whether it covers the real peak, and the
        line of perfect forecasts.
    """
    backtest = result.backtest() if hasattr(result, "backtest") else result
    table = backtest.to_frame().reset_index()
    panels = []
    for target, part in table.groupby("target", sort=False):
        part = part.assign(event_id=part["event_id"].astype(object))
        summary = backtest.summary().loc[(target, "model")]
        lo = float(np.min(part[["actual", "lower"]].to_numpy()))
        hi = float(np.max(part[["actual", "upper"]].to_numpy()))
        scale = alt.Scale(type="log", domain=[lo / 1.2, hi * 1.2], nice=False)
        label = _label(target)
        base = alt.Chart(part.drop(columns="target"))
        bars = base.mark_rule(opacity=0.6).encode(
            x=alt.X("actual:Q", scale=scale, title=f"real {label}"),
            y=alt.Y("lower:Q", scale=scale, title=f"forecast {label}"),
            y2="upper:Q",
            color=alt.Color("covered:N", scale=_COVERED, title="inside interval"),
        )
        points = base.mark_point(filled=True, size=40).encode(
            x=alt.X("actual:Q", scale=scale),
            y=alt.Y("predicted:Q", scale=scale),
            color=alt.Color("covered:N", scale=_COVERED),
            tooltip=[
                alt.Tooltip("event_id:N", title="event"),
                alt.Tooltip("actual:Q", title=f"real {label}", format=NUMBER),
                alt.Tooltip("predicted:Q", title=f"forecast {label}", format=NUMBER),
                alt.Tooltip("lower:Q", title="interval from", format=NUMBER),
                alt.Tooltip("upper:Q", title="interval to", format=NUMBER),
                alt.Tooltip("covered:N", title="inside interval"),
            ],
        )
        diagonal = (
            alt.Chart(pd.DataFrame({"actual": [lo, hi], "predicted": [lo, hi]}))
            .mark_line(color="gray", strokeDash=[4, 4])
            .encode(x=alt.X("actual:Q", scale=scale), y=alt.Y("predicted:Q", scale=scale))
        )
        title = alt.TitleParams(
            f"{label.capitalize()}: held-out forecast vs real",
            subtitle=(
                f"{backtest.scheme}: {backtest.level:.0%} intervals cover "
                f"{summary['coverage']:.0%} of {summary['n_events']:.0f} events; median "
                f"|log error| {summary['median_abs_log_error']:.2f}, skill against naive "
                f"{summary['skill']:+.2f}"
            ),
        )
        panels.append(
            alt.layer(diagonal, bars, points).properties(width=320, height=320, title=title)
        )
    return alt.hconcat(*panels).resolve_scale(x="independent", y="independent")


def calibration_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Coverage by nominal level: a backtest's calibration (:meth:`PeakForecast.calibration`).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per target, forecaster and level: ``level``, ``coverage``,
        ``coverage_low``, ``coverage_high``.

    Returns
    -------
    altair.LayerChart
        Coverage against the nominal level with its 95% Clopper-Pearson bars, one colour
        per target and forecaster, and the diagonal where an honest interval lies.
    """
    data = frame.reset_index()
    data["series"] = data["target"].map(_label) + ", " + data["forecaster"]
    axis = alt.Scale(domain=[0, 1])
    x = alt.X("level:Q", scale=axis, title="nominal level")
    diagonal = (
        alt.Chart(pd.DataFrame({"level": [0.0, 1.0], "coverage": [0.0, 1.0]}))
        .mark_line(color="gray", strokeDash=[4, 4])
        .encode(x=x, y=alt.Y("coverage:Q", scale=axis))
    )
    base = alt.Chart(data)
    bars = base.mark_rule().encode(
        x=x, y=alt.Y("coverage_low:Q", scale=axis), y2="coverage_high:Q", color="series:N"
    )
    points = base.mark_line(point=True).encode(
        x=x,
        y=alt.Y("coverage:Q", scale=axis, title="share of real peaks inside"),
        color=alt.Color("series:N", title="forecast"),
        tooltip=[
            alt.Tooltip("series:N", title="forecast"),
            alt.Tooltip("level:Q", title="nominal level", format=".0%"),
            alt.Tooltip("coverage:Q", title="share inside", format=".0%"),
            alt.Tooltip("coverage_low:Q", title="95% CI from", format=".0%"),
            alt.Tooltip("coverage_high:Q", title="95% CI to", format=".0%"),
            alt.Tooltip("n_events:Q", title="events"),
        ],
    )
    scheme = frame.attrs.get("scheme", "")
    return alt.layer(diagonal, bars, points).properties(
        width=WIDTH // 2,
        height=HEIGHT,
        title=heading("Calibration: coverage by level", f"held-out events, {scheme}"),
    )


def nowcast_backtest_chart(result) -> alt.HConcatChart:
    """Error and coverage of held-out nowcasts against the minutes elapsed.

    Parameters
    ----------
    result : NowcastBacktest or Nowcaster
        A backtest, or a nowcaster (its default backtest is drawn).

    Returns
    -------
    altair.HConcatChart
        Left, the median absolute log error (``|log(real / nowcast)|``)
        against minutes since the actual start (0 is the pre-event
        forecast); right, the share of real peaks inside their intervals,
        with its 95% Clopper-Pearson interval and the nominal level.
    """
    backtest = result.backtest() if hasattr(result, "backtest") else result
    summary = backtest.summary().reset_index()
    label = _label(backtest.peak_column)
    x = alt.X("minutes:Q", title="minutes since the actual start (0: pre-event forecast)")
    error = (
        alt.Chart(summary)
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("median_abs_log_error:Q", title="median |log(real / nowcast)|"),
            tooltip=[
                alt.Tooltip("minutes:Q", title="minutes since the actual start"),
                alt.Tooltip("median_abs_log_error:Q", title="median |log error|", format=".3f"),
                alt.Tooltip(
                    "median_width_ratio:Q",
                    title="median interval width (upper/lower)",
                    format=".2f",
                ),
            ],
        )
        .properties(width=300, height=260, title=f"Nowcast error, {label}")
    )
    coverage_base = alt.Chart(summary)
    bars = coverage_base.mark_rule().encode(
        x=x,
        y=alt.Y(
            "coverage_low:Q",
            scale=alt.Scale(domain=[0, 1]),
            axis=alt.Axis(format="%"),
            title=f"real peaks inside the {backtest.level:.0%} interval",
        ),
        y2="coverage_high:Q",
    )
    points = coverage_base.mark_point(filled=True, size=50).encode(
        x=x,
        y="coverage:Q",
        tooltip=[
            alt.Tooltip("minutes:Q", title="minutes since the actual start"),
            alt.Tooltip("coverage:Q", title="share inside", format=".0%"),
            alt.Tooltip("coverage_low:Q", title="95% CI from", format=".0%"),
            alt.Tooltip("coverage_high:Q", title="95% CI to", format=".0%"),
        ],
    )
    nominal = (
        alt.Chart(pd.DataFrame({"level": [backtest.level]}))
        .mark_rule(color="gray", strokeDash=[4, 4])
        .encode(y="level:Q")
    )
    coverage = alt.layer(nominal, bars, points).properties(
        width=300, height=260, title="Coverage of the intervals (95% CI)"
    )
    return alt.hconcat(error, coverage)
