"""Charts of the traffic models: the join curve, bursts within the minute, sessions and
concurrent listeners (:mod:`capplan.models`)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from capplan.charts.theme import (
    ACTUAL,
    DATA_COLOR,
    FIT_COLOR,
    HEIGHT,
    MAX_ROWS,
    NUMBER,
    WIDTH,
    Clock,
    estimate_text,
    has_values,
    heading,
    minutes_text,
    thin,
)

# The models' time is seconds since the actual start: drawn as minutes from it.
CLOCK = Clock(ACTUAL)

__all__ = ["burst_chart", "concurrency_chart", "join_curve_chart", "sessions_chart"]


def join_curve_chart(fit) -> alt.LayerChart:
    """Join rate per second: data against the fitted curve, its band and the data's band.

    Parameters
    ----------
    fit : JoinCurveFit

    Returns
    -------
    altair.LayerChart
    """
    frame, k = thin(fit.to_frame())
    frame = CLOCK.put(frame, "seconds")
    step = fit.interval_s * k
    y_title = "joins per second (1/s)"
    base = alt.Chart(frame).encode(x=CLOCK.x())
    predictive = base.mark_area(opacity=0.15, color=FIT_COLOR).encode(
        y=alt.Y("predictive_lower:Q", title=y_title), y2="predictive_upper:Q"
    )
    band = base.mark_area(opacity=0.35, color=FIT_COLOR).encode(y="lower:Q", y2="upper:Q")
    line = base.mark_line(color=FIT_COLOR).encode(
        y=alt.Y("fitted_rate_per_s:Q", title=y_title),
        tooltip=[
            CLOCK.tooltip(),
            alt.Tooltip("rate_per_s:Q", title="observed (joins/s)", format=NUMBER),
            alt.Tooltip("fitted_rate_per_s:Q", title="fitted (joins/s)", format=NUMBER),
        ],
    )
    points = base.mark_circle(size=12, color=DATA_COLOR, opacity=0.7).encode(y="rate_per_s:Q")
    peak = fit.peak()
    peak_mark = (
        alt.Chart(
            pd.DataFrame(
                {
                    CLOCK.field: CLOCK.times([peak.time]),
                    "rate": [peak.rate],
                    "label": [
                        f"peak {estimate_text(peak.rate)} joins/s at {minutes_text(peak.time)}"
                    ],
                }
            )
        )
        .mark_point(shape="triangle-down", size=80, color="black", filled=True)
        .encode(x=CLOCK.x(), y="rate:Q", tooltip=[alt.Tooltip("label:N", title="peak")])
    )
    # A band the fit could not give (no standard errors: all NaN) is left out: an empty
    # layer gives the browser an infinite extent to warn about.
    has_band = has_values(frame, "lower", "upper")
    has_predictive = k == 1 and has_values(frame, "predictive_lower", "predictive_upper")
    layers = [*([band] if has_band else []), line, points, *CLOCK.rules(), peak_mark]
    if has_predictive:
        layers.insert(0, predictive)
    bands = [f"band: {fit.level:.0%} confidence of the curve"] if has_band else []
    if has_predictive:
        bands.append("light band: where the data should fall")
    if not has_band:
        bands.append("no confidence band: the data do not identify the curve's parameters")
    subtitle = [
        f"{fit.form.name}, NB counts per {fit.interval_s:g} s; " + "; ".join(bands),
        f"peak {estimate_text(peak.rate, peak.lower, peak.upper)} joins/s at "
        f"{minutes_text(peak.time)}; red: the actual start",
    ]
    if k > 1:
        subtitle.append(f"drawn as means over {step:g} s")
    return alt.layer(*layers).properties(
        width=WIDTH, height=HEIGHT, title=heading("Join rate (joins per second)", subtitle)
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
                tooltip=[
                    alt.Tooltip("start_s:Q", title="window start (s since the actual start)"),
                    alt.Tooltip("rate_per_s:Q", title="window mean (joins/s)", format=NUMBER),
                    alt.Tooltip("ratio:Q", title="worst second / mean", format=".3f"),
                ],
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
                tooltip=[
                    alt.Tooltip("quantile:N", title="model quantile"),
                    alt.Tooltip("rate_per_s:Q", title="mean rate (joins/s)", format=NUMBER),
                    alt.Tooltip("factor:Q", title="worst second / mean", format=".3f"),
                ],
            )
        )
    subtitle = (
        f"{result.window_s} s windows; model: NB seconds, alpha per second "
        f"{result.alpha_per_second:.3g}, cluster {result.cluster_per_second:.3g}; "
        f"points: {len(windows)} windows of the data"
    )
    return alt.layer(*layers).properties(
        width=WIDTH, height=HEIGHT, title=heading("Burst factor (ratio, 1)", subtitle)
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
    shown, k = thin(shown)
    shown = CLOCK.put(shown, "seconds")
    unit = "leaves per second (1/s)" if column == "leaves" else "listeners connected"
    short = "leaves/s" if column == "leaves" else "listeners"
    base = alt.Chart(shown).encode(x=CLOCK.x())
    tooltip = [
        CLOCK.tooltip(),
        alt.Tooltip("observed:Q", title=f"observed ({short})", format=NUMBER),
        alt.Tooltip("fitted:Q", title=f"fitted ({short})", format=NUMBER),
    ]
    points = base.mark_circle(size=10, color=DATA_COLOR, opacity=0.6).encode(
        y=alt.Y("observed:Q", title=unit), tooltip=tooltip
    )
    line = base.mark_line(color=FIT_COLOR).encode(y="fitted:Q", tooltip=tooltip)
    window = shown.loc[shown["in_fit"] > 0, "seconds"]
    rules = []
    if len(window):
        end = pd.DataFrame({CLOCK.field: CLOCK.times([window.max()]), "label": ["end of the fit"]})
        rules.append(
            alt.Chart(end)
            .mark_rule(color="black", strokeDash=[2, 2])
            .encode(x=CLOCK.x(), tooltip=[alt.Tooltip("label:N", title="mark")])
        )
    subtitle = f"{fit.distribution.name} sessions by {fit.method}; red: the actual start"
    if k > 1:
        subtitle += f"; drawn as means over {fit.interval_s * k:g} s"
    left = alt.layer(points, line, *CLOCK.rules(), *rules).properties(
        width=WIDTH * 0.6,
        height=HEIGHT,
        title=heading(f"{column.capitalize()}: data and fit", subtitle),
    )
    survival = fit.predict().reset_index()
    sx = alt.X("session_s:Q", title="session length (s)", scale=alt.Scale(type="log"))
    sbase = alt.Chart(survival).encode(x=sx)
    band = sbase.mark_area(opacity=0.3, color=FIT_COLOR).encode(y="lower:Q", y2="upper:Q")
    right = alt.layer(
        *([band] if has_values(survival, "lower", "upper") else []),
        sbase.mark_line(color=FIT_COLOR).encode(
            y=alt.Y("survival:Q", title="P(session > x)"),
            tooltip=[
                alt.Tooltip("session_s:Q", title="session length (s)", format=NUMBER),
                alt.Tooltip("survival:Q", title="P(session > x)", format=".3f"),
            ],
        ),
    ).properties(
        width=WIDTH * 0.35,
        height=HEIGHT,
        title=heading(
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
    frame, k = thin(result.frame)
    frame = CLOCK.put(frame, "seconds")
    base = alt.Chart(frame).encode(x=CLOCK.x())
    y_title = "listeners connected"
    layers = []
    if has_values(frame, "poisson_lower", "poisson_upper"):
        layers.append(
            base.mark_area(opacity=0.15, color=FIT_COLOR).encode(
                y=alt.Y("poisson_lower:Q", title=y_title), y2="poisson_upper:Q"
            )
        )
    if has_values(frame, "lower", "upper"):
        layers.append(
            base.mark_area(opacity=0.35, color=FIT_COLOR).encode(y="lower:Q", y2="upper:Q")
        )
    layers.append(
        base.mark_line(color=FIT_COLOR).encode(
            y=alt.Y("mean:Q", title=y_title),
            tooltip=[
                CLOCK.tooltip(),
                alt.Tooltip("mean:Q", title="expected listeners", format=",.0f"),
            ],
        )
    )
    peak = result.peak()
    layers.append(
        alt.Chart(
            pd.DataFrame(
                {
                    CLOCK.field: CLOCK.times([peak.time]),
                    "listeners": [peak.listeners],
                    "label": [
                        f"peak {estimate_text(peak.listeners)} listeners at "
                        f"{minutes_text(peak.time)}"
                    ],
                }
            )
        )
        .mark_point(shape="triangle-down", size=80, color="black", filled=True)
        .encode(x=CLOCK.x(), y="listeners:Q", tooltip=[alt.Tooltip("label:N", title="peak")])
    )
    layers.extend(CLOCK.rules())
    subtitle = [
        f"M_t/G/inf, {result.distribution.name} sessions; dark band: {result.level:.0%} "
        "parameter uncertainty; light band: Poisson (wider if arrivals are over-dispersed)",
        f"peak {estimate_text(peak.listeners, peak.lower, peak.upper)} listeners at "
        f"{minutes_text(peak.time)}; red: the actual start",
    ]
    if k > 1:
        subtitle.append(f"drawn as means over {result.step_s * k:g} s")
    return alt.layer(*layers).properties(
        width=WIDTH, height=HEIGHT, title=heading("Concurrent listeners", subtitle)
    )
