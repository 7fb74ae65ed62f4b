"""All of capplan's charts: plain functions that take a result and return an altair Chart.

Nothing is displayed or saved here. One look throughout: titles with units,
time in seconds since the actual start with a rule at the start, the data
as grey points, the fit as a line, its confidence band darker and the band
where the data should fall lighter. Long series are drawn as means over
consecutive intervals (said in the subtitle) so that a chart stays small
enough to embed in a notebook's exported HTML.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import altair as alt
import numpy as np
import pandas as pd

from capplan.simulation.result import SimulationResult

__all__ = [
    "burst_chart",
    "concurrency_chart",
    "history_chart",
    "join_curve_chart",
    "nowcast_backtest_chart",
    "peak_backtest_chart",
    "plan_chart",
    "plan_validation_chart",
    "sessions_chart",
    "simulation_chart",
    "simulation_comparison_chart",
]

MAX_ROWS = 1500  # rows drawn per layer at most
WIDTH, HEIGHT = 640, 280
FIT_COLOR = "#1f77b4"
DATA_COLOR = "#7f7f7f"
START_COLOR = "#d62728"
TIME_TITLE = "seconds since the actual start (s)"


def _thin(frame: pd.DataFrame, max_rows: int = MAX_ROWS) -> tuple[pd.DataFrame, int]:
    """Means over blocks of consecutive rows, so that at most `max_rows` remain."""
    k = int(np.ceil(len(frame) / max_rows))
    if k <= 1:
        return frame.reset_index(), 1
    block = np.arange(len(frame)) // k
    thinned = frame.groupby(block).mean(numeric_only=True)
    index = frame.index.to_numpy(dtype=float)
    thinned.insert(0, frame.index.name or "index", pd.Series(index).groupby(block).mean())
    return thinned.reset_index(drop=True), k


def _start_rule() -> alt.Chart:
    return (
        alt.Chart(pd.DataFrame({"seconds": [0.0], "label": ["actual start"]}))
        .mark_rule(color=START_COLOR, strokeDash=[4, 4])
        .encode(x="seconds:Q", tooltip=["label:N"])
    )


def _title(text: str, subtitle: str | list[str] = "") -> alt.TitleParams:
    return alt.TitleParams(text=text, subtitle=subtitle, anchor="start")


def history_chart(
    history, column: str = "joins", event_ids=None, *, interval_s=None, log: bool = True
) -> alt.LayerChart:
    """Past events side by side, aligned on their actual start.

    Parameters
    ----------
    history : History
    column : str, default "joins"
        A measured column: counts are drawn per second (count / interval),
        ``concurrent`` as a level.
    event_ids : list of str, optional
        Events to draw (default: all).
    interval_s : float, optional
        The series are resampled to this interval first (counts summed,
        levels averaged). By default, the shortest whole number of minutes
        that keeps the chart under ``MAX_ROWS`` points in all, so that forty
        events stay light in a notebook and in exported HTML.
    log : bool, default True
        Logarithmic y axis, so that small and headline events share a chart.

    Returns
    -------
    altair.LayerChart
    """
    if column not in history.measured:
        raise ValueError(f"column {column!r} was not measured; this history has {history.measured}")
    ids = history.event_ids if event_ids is None else list(event_ids)
    if interval_s is None:
        seconds = sum(len(history.event(i)) * history.interval(i) for i in ids)
        interval_s = 60.0 * max(1, math.ceil(seconds / 60 / (2 * MAX_ROWS)))
    coarse = history.resample(interval_s)
    frames = []
    for event_id in ids:
        frame = coarse.event(event_id)[[column]].dropna()
        per_s = column != "concurrent"
        value = frame[column] / coarse.interval(event_id) if per_s else frame[column]
        frames.append(pd.DataFrame({"seconds": frame.index, "value": value, "event_id": event_id}))
    data = pd.concat(frames, ignore_index=True)
    if log:
        data = data[data["value"] > 0]
    unit = "per second (1/s)" if column != "concurrent" else "listeners"
    y = alt.Y("value:Q", title=f"{column} {unit}", scale=alt.Scale(type="log" if log else "linear"))
    lines = (
        alt.Chart(data)
        .mark_line(strokeWidth=1, opacity=0.7)
        .encode(
            x=alt.X("seconds:Q", title=TIME_TITLE),
            y=y,
            color=alt.Color("event_id:N", legend=None),
            tooltip=["event_id:N", "seconds:Q", alt.Tooltip("value:Q", format=",.4g")],
        )
    )
    return alt.layer(lines, _start_rule()).properties(
        width=WIDTH,
        height=HEIGHT,
        title=_title(
            f"{column} of {len(ids)} past events, aligned on the actual start",
            f"means over {interval_s:g} s intervals; red: the actual start",
        ),
    )


def join_curve_chart(fit) -> alt.LayerChart:
    """Join rate per second: data against the fitted curve, its band and the data's band.

    Parameters
    ----------
    fit : JoinCurveFit

    Returns
    -------
    altair.LayerChart
    """
    frame, k = _thin(fit.to_frame())
    step = fit.interval_s * k
    x = alt.X("seconds:Q", title=TIME_TITLE)
    y_title = "joins per second (1/s)"
    base = alt.Chart(frame).encode(x=x)
    predictive = base.mark_area(opacity=0.15, color=FIT_COLOR).encode(
        y=alt.Y("predictive_lower:Q", title=y_title), y2="predictive_upper:Q"
    )
    band = base.mark_area(opacity=0.35, color=FIT_COLOR).encode(y="lower:Q", y2="upper:Q")
    line = base.mark_line(color=FIT_COLOR).encode(
        y=alt.Y("fitted_rate_per_s:Q", title=y_title),
        tooltip=["seconds:Q", "rate_per_s:Q", "fitted_rate_per_s:Q"],
    )
    points = base.mark_circle(size=12, color=DATA_COLOR, opacity=0.7).encode(y="rate_per_s:Q")
    peak = fit.peak()
    peak_mark = (
        alt.Chart(
            pd.DataFrame(
                {
                    "seconds": [peak.time],
                    "rate": [peak.rate],
                    "label": [f"peak {peak.rate:.4g}/s at {peak.time:.0f} s"],
                }
            )
        )
        .mark_point(shape="triangle-down", size=80, color="black", filled=True)
        .encode(x="seconds:Q", y="rate:Q", tooltip=["label:N"])
    )
    layers = [band, line, points, _start_rule(), peak_mark]
    if k == 1:
        layers.insert(0, predictive)
    subtitle = [
        f"{fit.form.name}, NB counts per {fit.interval_s:g} s; band: {fit.level:.0%} "
        "confidence of the curve" + ("; light band: where the data should fall" if k == 1 else ""),
        f"peak {peak.rate:.4g}/s ({peak.lower:.4g}..{peak.upper:.4g}) at {peak.time:.0f} s",
    ]
    if k > 1:
        subtitle.append(f"drawn as means over {step:g} s")
    return alt.layer(*layers).properties(
        width=WIDTH, height=HEIGHT, title=_title("Join rate (joins per second)", subtitle)
    )


def burst_chart(result) -> alt.LayerChart | alt.Chart:
    """Worst second over the window's mean against the mean rate, data and model quantiles.

    Parameters
    ----------
    result : BurstFactor
    """
    x = alt.X(
        "rate_per_s:Q", title="window mean rate (joins per second)", scale=alt.Scale(type="log")
    )
    layers = []
    windows = result.to_frame()
    if len(windows):
        lo, hi = windows["mean_per_s"].min(), windows["mean_per_s"].max()
        points = windows.rename(columns={"mean_per_s": "rate_per_s"})
        if len(points) > MAX_ROWS:
            points = points.sample(MAX_ROWS, random_state=0)
        layers.append(
            alt.Chart(points)
            .mark_circle(size=14, color=DATA_COLOR, opacity=0.6)
            .encode(
                x=x,
                y=alt.Y("ratio:Q", title="worst second / window mean"),
                tooltip=["start_s:Q", "rate_per_s:Q", "ratio:Q"],
            )
        )
    else:
        lo = hi = result.rate_per_s
    if np.isfinite(result.alpha_per_second):
        rates = np.geomspace(max(lo / 2, 0.1), max(hi * 2, lo + 1), 80)
        model = (
            result.predict(rates)
            .reset_index()
            .melt(id_vars="rate_per_s", var_name="quantile", value_name="factor")
        )
        layers.append(
            alt.Chart(model)
            .mark_line()
            .encode(
                x=x,
                y=alt.Y("factor:Q", title="worst second / window mean"),
                color=alt.Color("quantile:N", title="model quantile"),
            )
        )
    subtitle = (
        f"{result.window_s} s windows; model: NB seconds, alpha per second "
        f"{result.alpha_per_second:.3g}, cluster {result.cluster_per_second:.3g}; "
        f"points: {len(windows)} windows of the data"
    )
    return alt.layer(*layers).properties(
        width=WIDTH, height=HEIGHT, title=_title("Burst factor (ratio, 1)", subtitle)
    )


def sessions_chart(fit) -> alt.HConcatChart:
    """Observed against fitted leaves (or concurrency) per second, and the survival curve.

    Parameters
    ----------
    fit : SessionsFit
    """
    column = "leaves" if fit.method == "leaves" else "concurrent"
    frame = fit.to_frame()
    scale = fit.interval_s if column == "leaves" else 1.0
    shown = pd.DataFrame(
        {
            "observed": frame[column] / scale,
            "fitted": frame[f"fitted_{column}"] / scale,
            "in_fit": frame["in_fit"].astype(float),
        },
        index=frame.index,
    )
    shown, k = _thin(shown)
    unit = "leaves per second (1/s)" if column == "leaves" else "listeners connected"
    x = alt.X("seconds:Q", title=TIME_TITLE)
    base = alt.Chart(shown).encode(x=x)
    points = base.mark_circle(size=10, color=DATA_COLOR, opacity=0.6).encode(
        y=alt.Y("observed:Q", title=unit)
    )
    line = base.mark_line(color=FIT_COLOR).encode(y="fitted:Q")
    window = shown.loc[shown["in_fit"] > 0, "seconds"]
    rules = []
    if len(window):
        rules.append(
            alt.Chart(pd.DataFrame({"seconds": [window.max()], "label": ["end of the fit"]}))
            .mark_rule(color="black", strokeDash=[2, 2])
            .encode(x="seconds:Q", tooltip=["label:N"])
        )
    subtitle = f"{fit.distribution.name} sessions by {fit.method}"
    if k > 1:
        subtitle += f"; drawn as means over {fit.interval_s * k:g} s"
    left = alt.layer(points, line, _start_rule(), *rules).properties(
        width=WIDTH * 0.6,
        height=HEIGHT,
        title=_title(f"{column.capitalize()}: data and fit", subtitle),
    )
    survival = fit.predict().reset_index()
    sx = alt.X("session_s:Q", title="session length (s)", scale=alt.Scale(type="log"))
    sbase = alt.Chart(survival).encode(x=sx)
    right = alt.layer(
        sbase.mark_area(opacity=0.3, color=FIT_COLOR).encode(
            y=alt.Y("lower:Q", title="P(session > x)"), y2="upper:Q"
        ),
        sbase.mark_line(color=FIT_COLOR).encode(y="survival:Q"),
    ).properties(
        width=WIDTH * 0.35,
        height=HEIGHT,
        title=_title(
            "Session survival",
            f"median {fit.median_s:.0f} s, mean {fit.mean_s:.0f} s; band {fit.level:.0%}",
        ),
    )
    return alt.hconcat(left, right)


def concurrency_chart(result) -> alt.LayerChart:
    """Expected concurrent listeners over time, with the parameter and Poisson bands.

    Parameters
    ----------
    result : ConcurrencyResult
    """
    frame, k = _thin(result.frame)
    x = alt.X("seconds:Q", title=TIME_TITLE)
    base = alt.Chart(frame).encode(x=x)
    y_title = "listeners connected"
    layers = [
        base.mark_area(opacity=0.15, color=FIT_COLOR).encode(
            y=alt.Y("poisson_lower:Q", title=y_title), y2="poisson_upper:Q"
        ),
    ]
    if frame["lower"].notna().any():
        layers.append(
            base.mark_area(opacity=0.35, color=FIT_COLOR).encode(y="lower:Q", y2="upper:Q")
        )
    layers.append(
        base.mark_line(color=FIT_COLOR).encode(y="mean:Q", tooltip=["seconds:Q", "mean:Q"])
    )
    peak = result.peak()
    layers.append(
        alt.Chart(
            pd.DataFrame(
                {
                    "seconds": [peak.time],
                    "listeners": [peak.listeners],
                    "label": [f"peak {peak.listeners:.4g} at {peak.time:.0f} s"],
                }
            )
        )
        .mark_point(shape="triangle-down", size=80, color="black", filled=True)
        .encode(x="seconds:Q", y="listeners:Q", tooltip=["label:N"])
    )
    layers.append(_start_rule())
    subtitle = [
        f"M_t/G/inf, {result.distribution.name} sessions; dark band: {result.level:.0%} "
        "parameter uncertainty; light band: Poisson (wider if arrivals are over-dispersed)",
        f"peak {peak.listeners:.4g} ({peak.lower:.4g}..{peak.upper:.4g}) at {peak.time:.0f} s",
    ]
    if k > 1:
        subtitle.append(f"drawn as means over {result.step_s * k:g} s")
    return alt.layer(*layers).properties(
        width=WIDTH, height=HEIGHT, title=_title("Concurrent listeners", subtitle)
    )


# --- simulations ------------------------------------------------------------------------

# Steps per series in a chart; longer runs are merged into wider steps (altair refuses
# datasets over 5000 rows unless told otherwise, which would be global state).
_MAX_POINTS = 900
_MAX_ROWS = 4500
PANEL_HEIGHT = 150


_RATE_SERIES = {
    "first_tries_per_s": "first tries",
    "retries_per_s": "retries",
    "served_per_s": "served in time",
    "wasted_per_s": "served too late",
    "refused_per_s": "refused",
}


def _per_step(result: SimulationResult, max_points: int = _MAX_POINTS) -> pd.DataFrame:
    """The result's table in at most ``max_points`` steps: rates per second, line
    length (max), worst p99 wait."""
    f = result.to_frame()
    group = np.arange(len(f)) // max(1, -(-len(f) // max_points))
    length = f["end_s"] - f.index.to_numpy()
    g = f.assign(length=length.to_numpy()).groupby(group)
    out = pd.DataFrame(
        {
            "time_s": g.apply(lambda d: d.index[0], include_groups=False).to_numpy(float),
            "length": g["length"].sum().to_numpy(),
            "first_tries": g["first_tries"].sum().to_numpy(),
            "retries": g["retries"].sum().to_numpy(),
            "served": g["served"].sum().to_numpy(),
            "wasted": g["wasted"].sum().to_numpy(),
            "refused": g["refused"].sum().to_numpy(),
            "queue": g["queue"].max().to_numpy(),
            "wait_p99_s": g["wait_p99_s"].max().to_numpy(),
            "servers": g["servers"].min().to_numpy(),
        }
    )
    for col in ("first_tries", "retries", "served", "wasted", "refused"):
        out[col + "_per_s"] = out[col] / out["length"]
    return out


def _rates_long(steps: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    return steps.melt(
        id_vars=["time_s"], value_vars=list(names), var_name="series", value_name="per_s"
    ).assign(series=lambda d: d["series"].map(names))


def simulation_chart(result: SimulationResult, *, title: str | None = None) -> alt.VConcatChart:
    """Three panels over time: attempts and answers per second, requests waiting,
    and the 99th percentile wait.

    Parameters
    ----------
    result : SimulationResult
        A run of :func:`capplan.simulation.simulate`.
    title : str, optional
        Chart title.

    Returns
    -------
    altair.VConcatChart
        Not displayed; call ``.save(...)`` or show it in a notebook. The
        buffer (when finite) and the client timeout (when set) are drawn as
        dashed rules.
    """
    spec = result.spec
    steps = _per_step(result)
    x = alt.X("time_s:Q", title="time (s)")
    rates = _rates_long(steps, _RATE_SERIES)
    top = (
        alt.Chart(rates)
        .mark_line(interpolate="step-after")
        .encode(
            x=x,
            y=alt.Y("per_s:Q", title="requests per second"),
            color=alt.Color("series:N", title=None, sort=list(_RATE_SERIES.values())),
            tooltip=["time_s:Q", "series:N", alt.Tooltip("per_s:Q", format=".4g")],
        )
        .properties(width=WIDTH, height=PANEL_HEIGHT, title="Attempts and answers (1/s)")
    )
    queue = (
        alt.Chart(steps)
        .mark_line(interpolate="step-after", color="#444")
        .encode(x=x, y=alt.Y("queue:Q", title="requests waiting"))
        .properties(width=WIDTH, height=PANEL_HEIGHT, title="Requests waiting (end of step, max)")
    )
    if spec.buffer is not None:
        queue = queue + alt.Chart(pd.DataFrame({"buffer": [spec.buffer]})).mark_rule(
            strokeDash=[4, 4], color="firebrick"
        ).encode(y="buffer:Q")
    wait = (
        alt.Chart(steps.dropna(subset=["wait_p99_s"]))
        .mark_line(interpolate="step-after", color="#1f77b4")
        .encode(x=x, y=alt.Y("wait_p99_s:Q", title="p99 wait (s)"))
        .properties(
            width=WIDTH, height=PANEL_HEIGHT, title="99th percentile wait of started requests (s)"
        )
    )
    if spec.timeout is not None:
        wait = wait + alt.Chart(pd.DataFrame({"timeout_s": [spec.timeout.mean]})).mark_rule(
            strokeDash=[4, 4], color="firebrick"
        ).encode(y="timeout_s:Q")
    chart = alt.vconcat(top, queue, wait).resolve_scale(color="independent")
    return chart.properties(title=title) if title else chart


def simulation_comparison_chart(
    results: Mapping[str, SimulationResult], *, title: str | None = None
) -> alt.VConcatChart:
    """Scenarios side by side over time, one colour each: the offered first tries
    and all attempts per second, the requests answered in time per second, and
    the requests waiting.

    Made for a retry storm and its remedies: a scenario that stays down after
    the flood shows attempts far above first tries, few answers in time and a
    full line long after the first tries have fallen back.

    Parameters
    ----------
    results : mapping of str to SimulationResult
        Label -> result, in legend order.
    title : str, optional
        Chart title.

    Returns
    -------
    altair.VConcatChart
    """
    if not results:
        raise ValueError("results is empty; give at least one labelled SimulationResult")
    frames = []
    for label, result in results.items():
        if not isinstance(result, SimulationResult):
            raise ValueError(
                f"results[{label!r}] must be a SimulationResult; got {type(result).__name__}"
            )
        s = _per_step(result, max(50, _MAX_ROWS // len(results)))
        s["attempts_per_s"] = s["first_tries_per_s"] + s["retries_per_s"]
        frames.append(s.assign(scenario=str(label)))
    data = pd.concat(frames, ignore_index=True)
    order = [str(k) for k in results]
    x = alt.X("time_s:Q", title="time (s)")
    color = alt.Color("scenario:N", sort=order, title="scenario")
    base = alt.Chart(data).encode(x=x, color=color)

    offered = (
        alt.Chart(data[data["scenario"] == order[0]])
        .mark_area(interpolate="step-after", color="#bbb", opacity=0.5)
        .encode(x=x, y="first_tries_per_s:Q")
    )
    attempts = offered + base.mark_line(interpolate="step-after").encode(
        y=alt.Y("attempts_per_s:Q", title="attempts per second"),
        tooltip=["scenario:N", "time_s:Q", alt.Tooltip("attempts_per_s:Q", format=".4g")],
    ).properties(
        width=WIDTH,
        height=PANEL_HEIGHT,
        title="Attempts (first tries + retries, 1/s); grey: first tries",
    )
    served = (
        base.mark_line(interpolate="step-after")
        .encode(
            y=alt.Y("served_per_s:Q", title="answered in time per second"),
        )
        .properties(width=WIDTH, height=PANEL_HEIGHT, title="Requests answered in time (1/s)")
    )
    queue = (
        base.mark_line(interpolate="step-after")
        .encode(
            y=alt.Y("queue:Q", title="requests waiting"),
        )
        .properties(width=WIDTH, height=PANEL_HEIGHT, title="Requests waiting (end of step, max)")
    )
    chart = alt.vconcat(attempts, served, queue)
    return chart.properties(title=title) if title else chart


# --- forecasts ----------------------------------------------------------------------------

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
            tooltip=["event_id", "actual", "predicted", "lower", "upper", "covered"],
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
        tooltip=["series", "level", "coverage", "coverage_low", "coverage_high", "n_events"],
    )
    scheme = frame.attrs.get("scheme", "")
    return alt.layer(diagonal, bars, points).properties(
        width=WIDTH // 2,
        height=HEIGHT,
        title=_title("Calibration: coverage by level", f"held-out events, {scheme}"),
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
            tooltip=["minutes", "median_abs_log_error", "median_width_ratio"],
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
        x=x, y="coverage:Q", tooltip=["minutes", "coverage", "coverage_low", "coverage_high"]
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


# --- plans ----------------------------------------------------------------------------------
# Plans and their validations (capplan.planning): time in seconds from the scheduled start,
# the SLO's limit as a red rule.

SLO_COLOR = START_COLOR


def plan_validation_chart(validation) -> alt.LayerChart:
    """Simulated share of joins missing the waiting target, per interval and scenario,
    against the SLO's limit (a :class:`~capplan.planning.PlanValidation`); replays of
    observed seconds dashed beside the model's scenarios."""
    columns = ["scenario", "source", "start_s", "miss_share", "refused_share"]
    f = validation.frame[columns].copy()
    line = (
        alt.Chart(f)
        .mark_line(point=True)
        .encode(
            x=alt.X("start_s:Q", title="seconds from the scheduled start (s)"),
            y=alt.Y("miss_share:Q", title="share of joins missing the wait target"),
            color="scenario:N",
            strokeDash=alt.StrokeDash("source:N", sort=["model", "replay"], title="source"),
            tooltip=columns,
        )
    )
    target = (
        alt.Chart(pd.DataFrame({"y": [validation.slo.miss_limit], "label": ["SLO limit"]}))
        .mark_rule(color=SLO_COLOR)
        .encode(y="y:Q", tooltip=["label:N"])
    )
    return alt.layer(line, _start_rule(), target).properties(
        title=_title("Simulated service level vs target", validation.slo.describe()),
        width=WIDTH,
        height=180,
    )


def plan_chart(plan, validation=None) -> alt.VConcatChart:
    """Workers and stream servers per interval, the margins at the busiest interval, and
    (given a validation) the simulated service level (an :class:`~capplan.planning.EventPlan`)."""
    f = plan.frame.reset_index()
    x = alt.X("start_s:Q", title="seconds from the scheduled start (s)")

    def steps(columns, title):
        return (
            alt.Chart(f)
            .transform_fold(columns)
            .mark_line(interpolate="step-after")
            .encode(x=x, y=alt.Y("value:Q", title=title), color="key:N")
        )

    m = plan.margins_table.copy()
    m["label"] = m["margin"] + " (" + m["applies_to"] + ")"
    bars = (
        alt.Chart(m)
        .mark_bar(color=FIT_COLOR)
        .encode(
            y=alt.Y("label:N", sort=None, title=None),
            x=alt.X("added_at_peak:Q", title="added at the busiest interval (workers / servers)"),
            tooltip=["margin", "applies_to", "factor", "count", "covers"],
        )
    )
    parts = [
        steps(["workers_needed", "workers"], "join-path workers").properties(
            width=WIDTH, height=180, title="Join-path workers"
        ),
        steps(["stream_servers_needed", "stream_servers"], "stream servers").properties(
            width=WIDTH, height=150, title="Stream servers"
        ),
        bars.properties(width=WIDTH, height=160, title="Margins"),
    ]
    if validation is not None:
        parts.append(plan_validation_chart(validation))
    return alt.vconcat(*parts).properties(
        title=_title(f"Event plan ({plan.method})", plan.slo.describe())
    )
