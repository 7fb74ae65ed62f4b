"""Charts of the traffic models: the join curve, bursts within the minute, sessions and
concurrent listeners (:mod:`capplan.models`)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from capplan.charts.theme import (
    DATA_COLOR,
    FIT_COLOR,
    HEIGHT,
    MAX_ROWS,
    TIME_TITLE,
    WIDTH,
    heading,
    start_rule,
    thin,
)

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
    layers = [band, line, points, start_rule(), peak_mark]
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
    left = alt.layer(points, line, start_rule(), *rules).properties(
        width=WIDTH * 0.6,
        height=HEIGHT,
        title=heading(f"{column.capitalize()}: data and fit", subtitle),
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
    layers.append(start_rule())
    subtitle = [
        f"M_t/G/inf, {result.distribution.name} sessions; dark band: {result.level:.0%} "
        "parameter uncertainty; light band: Poisson (wider if arrivals are over-dispersed)",
        f"peak {peak.listeners:.4g} ({peak.lower:.4g}..{peak.upper:.4g}) at {peak.time:.0f} s",
    ]
    if k > 1:
        subtitle.append(f"drawn as means over {result.step_s * k:g} s")
    return alt.layer(*layers).properties(
        width=WIDTH, height=HEIGHT, title=heading("Concurrent listeners", subtitle)
    )
