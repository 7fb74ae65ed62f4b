"""An upcoming event's join forecast, its peaks from its signals and its shape from a past event.

The peak forecast (:func:`~capplan.fit_peak_forecast`) says how many will come and how
fast, not the shape of the flood. The shape is borrowed from the *analogue*: the past
event whose peak concurrency is nearest the forecast one on a log scale (its peak joins
per second when the history measured no concurrency), among those whose join path kept
up (refused at most 1% of its joins). Its fitted join curve, scaled to
the forecast peak joins per second, is the point forecast; the forecast's upper over
point peak scales the whole curve for the upper quantile. The analogue's sessions give
the concurrency, hence the stream servers. The analogue's real seconds travel with the
forecast, so that a plan made from it is checked against them as well as against the
model's own curves.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from capplan._text import table_text
from capplan.planning.forecast import JoinForecast
from capplan.warnings import CapplanWarning

__all__ = ["EventForecast", "forecast_event"]

_MAX_REFUSED_SHARE = 0.01  # a past event whose join path refused more is no analogue


@dataclass(frozen=True, repr=False)
class EventForecast:
    """What the history says of an upcoming event, ready for :func:`~capplan.plan_event`.

    Attributes
    ----------
    name : str
        The event's name (the index of ``peaks``).
    peaks : pandas.Series
        Its row of :meth:`PeakForecast.predict`: peak joins per second and peak
        concurrent listeners with their interval, ``basis``, ``outside_history``.
    analogue : str
        The past event whose shape is borrowed.
    curve : JoinCurveFit
        The analogue's fitted join curve (unscaled).
    sessions : (name, params)
        Session lengths for the plan: the analogue's fitted distribution with its time
        scale stretched by ``session_scale``, so that the point curve's expected
        concurrency peaks at the forecast peak concurrency.
    sessions_fit : SessionsFit
        The analogue's fitted session lengths, as fitted.
    session_scale : float
        The stretch of the analogue's session lengths (1: none; also 1 when the peak
        forecast has no concurrency).
    joins : JoinForecast
        First tries per second over the planning window: the curve scaled to the
        forecast peak, its upper quantile the curve times upper / point. Its
        ``observed`` is the analogue's measured joins per second (named after it): a
        plan sized on ``joins`` is validated by default against them, scaled to the
        forecast's point and upper peaks, beside the model's scenarios
        (:meth:`EventPlan.validate`).
    scale : float
        Forecast peak joins per second over the analogue's fitted peak.
    """

    name: str
    peaks: pd.Series
    analogue: str
    curve: object
    sessions: object
    joins: JoinForecast
    scale: float
    implied_peak_concurrent: float
    sessions_fit: object = None
    session_scale: float = 1.0

    def summary(self) -> pd.DataFrame:
        """One row per peak: the forecast, its interval, and what the scaled curve implies.

        ``scaled_curve`` is the point join curve's own peak and, with the sessions, its
        expected concurrency peak: the plan's point. The session lengths are stretched so
        that the concurrency peak is the forecast's (``session_scale``), and the plan
        sizes stream servers on the concurrency forecast's own upper over point.
        """
        implied = {
            "peak_joins_per_s": float(self.joins.point.max()),
            "peak_concurrent": self.implied_peak_concurrent,
        }
        rows = []
        for column, label in (
            ("peak_joins_per_s", "peak joins (1/s)"),
            ("peak_concurrent", "peak concurrent listeners"),
        ):
            if column in self.peaks.index:
                rows.append(
                    {
                        "quantity": label,
                        "forecast": self.peaks[column],
                        "lower": self.peaks[f"{column}_lower"],
                        "upper": self.peaks[f"{column}_upper"],
                        "scaled_curve": implied[column],
                    }
                )
        table = pd.DataFrame(rows).set_index("quantity")
        table.attrs["level"] = self.joins.level
        return table

    def __str__(self) -> str:
        lines = [
            f"Event forecast for {self.name}: {self.joins.level:.0%} intervals; shape of "
            f"{self.analogue} scaled by {self.scale:.3g}, its session lengths by "
            f"{self.session_scale:.3g}",
            table_text(self.summary()),
        ]
        if self.peaks.get("outside_history"):
            lines.append(f"outside the history (an extrapolation): {self.peaks['outside_history']}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<EventForecast {self.name}: analogue {self.analogue}, scale {self.scale:.3g}>"


def forecast_event(
    history,
    signals,
    *,
    level: float = 0.9,
    forecaster=None,
    window: tuple[float, float] = (-3600.0, 10800.0),
    lobby_start_s: float | None = 0.0,
) -> EventForecast:
    """Forecast an upcoming event's joins from its audience signals and a past event's shape.

    Parameters
    ----------
    history : History
        Past events with their joins measured, and their leaves or concurrency (for the
        sessions).
    signals : Mapping, pandas.Series or one-row pandas.DataFrame
        The new event's audience signals, named as in the history (e.g. ``followers``,
        ``registrations``, ``notifications_sent``); a Series or DataFrame row names the
        event by its name or index, a mapping is named ``"next event"``.
    level : float, default 0.9
        Level of the intervals; the plan sizes for their upper end.
    forecaster : PeakForecast, optional
        A peak forecast already fitted to ``history`` (default: fitted here at ``level``).
    window : (start_s, end_s), default (-3600, 10800)
        Seconds from the scheduled start the join forecast covers.
    lobby_start_s : float or None, default 0.0
        Joins before this time (s) start their session then (listeners waiting in a
        lobby), as in :func:`~capplan.plan_event`; None: no lobby.

    Returns
    -------
    EventForecast
        Its ``analogue`` is the past event of nearest peak concurrency among those whose
        join path refused at most 1% of their joins (where ``join_errors`` was measured).

    Raises
    ------
    ValueError
        A signal the forecast needs is missing or not positive; no past event measured
        its joins and their leaves or concurrency.
    """
    from capplan.forecast import fit_peak_forecast
    from capplan.models import concurrency, fit_join_curve, fit_sessions

    row = _signals_row(signals)
    if forecaster is None:
        forecaster = fit_peak_forecast(history, level=level)
    peaks = forecaster.predict(row, level=level).iloc[0]
    past = history.summary()
    candidates = past.index[past["total_joins"].notna()]
    if len(candidates) == 0:
        raise ValueError(
            "forecast_event needs past events with their joins measured; this history "
            f"measured {history.measured}"
        )
    candidates = _kept_up(history, past, candidates)
    by = next(
        (
            c
            for c in ("peak_concurrent", "peak_joins_per_s")
            if past.loc[candidates, c].notna().any() and c in peaks.index
        ),
        None,
    )
    if by is None:
        raise ValueError("the peak forecast has neither peak concurrent nor peak joins to match")
    distance = np.log(past.loc[candidates, by] / peaks[by]).abs().dropna()
    analogue = str(distance.idxmin())
    frame = history.event(analogue)
    curve = fit_join_curve(frame["joins"])
    measured = {
        c: frame[c] for c in ("leaves", "concurrent") if c in frame and frame[c].notna().any()
    }
    if not measured:
        raise ValueError(
            f"{analogue}, the most similar past event, measured neither leaves nor concurrent "
            "listeners: its sessions cannot be fitted"
        )
    sessions = fit_sessions(
        joins=frame["joins"],
        leaves=measured.get("leaves"),
        concurrent=None if "leaves" in measured else measured["concurrent"],
        end_s=past.at[analogue, "duration_s"],
        clock_start_s=lobby_start_s,
    )
    joins = JoinForecast.from_peak(
        curve,
        peaks["peak_joins_per_s"],
        peaks["peak_joins_per_s_upper"],
        level=level,
        start_s=window[0],
        end_s=window[1],
        observed_name=analogue,
    )
    spec, stretch = _sessions_for(joins, sessions, peaks, lobby_start_s)
    if {"peak_concurrent", "peak_concurrent_upper"} <= set(peaks.index) and (
        peaks["peak_concurrent"] > 0
    ):
        joins = dataclasses.replace(
            joins,
            concurrency_factor=max(
                float(peaks["peak_concurrent_upper"] / peaks["peak_concurrent"]), 1.0
            ),
        )
    listeners = concurrency(
        pd.Series(joins.point, index=joins.t), spec, clock_start_s=lobby_start_s
    )
    return EventForecast(
        name=str(row.index[0]),
        peaks=peaks,
        analogue=analogue,
        curve=curve,
        sessions=spec,
        joins=joins,
        scale=float(peaks["peak_joins_per_s"] / curve.peak().rate),
        implied_peak_concurrent=float(listeners.frame["mean"].max()),
        sessions_fit=sessions,
        session_scale=stretch,
    )


def _sessions_for(joins, sessions, peaks, lobby_start_s) -> tuple[tuple, float]:
    """The analogue's sessions with every time parameter (unit ``s``) stretched by ``k``
    so that the point curve's expected concurrency peaks at the forecast's (a root in
    ``log k``: the peak grows with the session lengths), and ``k``; ``k = 1`` when the
    forecast has no concurrency peak."""
    from scipy import optimize

    from capplan.models import concurrency
    from capplan.planning.plan import _sessions_spec

    name, params = _sessions_spec(sessions)
    target = float(peaks.get("peak_concurrent", np.nan))
    if not np.isfinite(target) or target <= 0:
        return (name, params), 1.0
    timed = {p.name for p in sessions.distribution.params if p.unit == "s"}
    rates = pd.Series(joins.point, index=joins.t)

    def stretched(k):
        return name, {p: v * k if p in timed else v for p, v in params.items()}

    def gap(log_k):
        spec = stretched(math.exp(log_k))
        peak = concurrency(rates, spec, clock_start_s=lobby_start_s).frame["mean"].max()
        return math.log(peak / target)

    low, high = gap(-4.0), gap(4.0)
    if low > 0 or high < 0:  # beyond a factor e**4 either way: the shape cannot reach it
        k = math.exp(-4.0 if low > 0 else 4.0)
        warnings.warn(
            f"the analogue's sessions cannot reach the forecast peak concurrency "
            f"({target:,.0f}) within a stretch of e**4; they are stretched by {k:.3g}",
            CapplanWarning,
            stacklevel=3,
        )
        return stretched(k), k
    log_k = optimize.brentq(gap, -4.0, 4.0, xtol=1e-4)
    return stretched(math.exp(log_k)), math.exp(log_k)


def _kept_up(history, past: pd.DataFrame, candidates: pd.Index) -> pd.Index:
    """The candidates whose join path refused at most 1% of their joins (all if unmeasured).

    Where the join path refused many, the joins are its throughput, not the audience's
    demand: a flattened flood with its noise clipped, a shape to avoid copying. If every
    event was so limited, all are kept, with a warning.
    """
    if "join_errors" not in history.series:
        return candidates
    errors = history.series.groupby("event_id")["join_errors"].sum(min_count=1)
    refused = errors.reindex(candidates) / past.loc[candidates, "total_joins"]
    kept = candidates[~(refused > _MAX_REFUSED_SHARE)]
    if len(kept):
        return kept
    warnings.warn(
        CapplanWarning(
            f"every past event's join path refused over {_MAX_REFUSED_SHARE:.0%} of its joins: "
            "the analogue's join curve is a limited path's throughput, not the demand"
        ),
        stacklevel=3,
    )
    return candidates


def _signals_row(signals) -> pd.DataFrame:
    if isinstance(signals, pd.DataFrame):
        if len(signals) != 1:
            raise ValueError(f"signals: give one event (one row); got {len(signals)} rows")
        return signals
    if isinstance(signals, pd.Series):
        name = signals.name if signals.name is not None else "next event"
        return signals.to_frame(name=name).T.infer_objects()
    if isinstance(signals, Mapping):
        return pd.DataFrame([dict(signals)], index=["next event"])
    raise TypeError(
        f"signals must be a mapping, a Series or a one-row DataFrame; got {type(signals).__name__}"
    )
