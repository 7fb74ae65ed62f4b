"""The summary a decision-maker reads first: how many, how fast, what to run when, the
risk and the cost, in words and one small table, from the results already computed.

:func:`briefing` only reads results (a plan, and optionally the event forecast, its
backtest, the pre-warm ladder and a capacity assessment); it computes nothing new, so
the CLI and the report print the same sentences.
"""

from __future__ import annotations

import html

import pandas as pd

from capplan._text import html_table, human, human_number, human_time, table_text

__all__ = ["Briefing", "briefing"]


def _clock(start, seconds: float) -> str:
    if start is None:
        return f"{human(seconds, 's')} from the start"
    return human_time(start + pd.Timedelta(seconds=float(seconds)), date=False)


def briefing(
    plan, *, forecast=None, backtest=None, ladder=None, risk=None, scheduled_start=None
) -> Briefing:
    """The summary of a plan: the forecast peaks with their intervals and measured
    coverage, the workers and stream servers (and instances and cost) on the event's
    clock, the risk of the capacity already there and what breaks first.

    Parameters
    ----------
    plan : EventPlan
    forecast : EventForecast, optional
        The forecast the plan came from (its peaks and intervals).
    backtest : PeakBacktest, optional
        The peak forecast's backtest (``forecaster.backtest()``): the coverage its
        intervals reached on held-out past events.
    ladder : ProvisioningLadder, optional
        Instances, first requests and cost; its scheduled start sets the clock.
    risk : CapacityAssessment, optional
        The risk of the capacity already there (:func:`capplan.assess`).
    scheduled_start : timestamp or str, optional
        The event's scheduled start (UTC clock); the ladder's by default.
    """
    from capplan.planning.provision import utc_timestamp

    if scheduled_start is not None:
        start = utc_timestamp(scheduled_start)
    elif ladder is not None:
        start = ladder.scheduled_start
    else:
        start = None
    lines, rows = [], []
    level = plan.forecast.level
    if forecast is not None:
        peaks = forecast.peaks
        for column, label, unit in (
            ("peak_joins_per_s", "peak joins", "1/s"),
            ("peak_concurrent", "peak concurrent listeners", "streams"),
        ):
            if column not in peaks.index:
                continue
            text = (
                f"{label.capitalize()}: {human(peaks[column], unit)} "
                f"({level:.0%} interval {human_number(peaks[f'{column}_lower'])} to "
                f"{human(peaks[f'{column}_upper'], unit)})"
            )
            if backtest is not None:
                row = backtest.summary().loc[(column, "model")]
                text += (
                    f"; such intervals covered {int(row['covered'])} of "
                    f"{int(row['n_events'])} past peaks forecast from the events before them"
                )
            lines.append(text + ".")
            rows.append((label, peaks[column], peaks[f"{column}_upper"], unit))
    f = plan.frame
    i_w, i_s = int(f["workers"].to_numpy().argmax()), int(f["stream_servers"].to_numpy().argmax())
    t_w, t_s = float(f.index[i_w]), float(f.index[i_s])
    before = f["workers"].iloc[i_w - 1] if i_w > 0 else None
    text = f"Join workers: {human(int(f['workers'].iloc[i_w]), 'workers')} at {_clock(start, t_w)}"
    if before is not None:
        text += f" (from {human(int(before))} the minute before)"
    lines.append(
        text + f"; {human(float((f['workers'] * plan.interval_s).sum()), 'worker-s')} in all."
    )
    lines.append(
        f"Stream servers: {human(int(f['stream_servers'].iloc[i_s]), 'servers')} at "
        f"{_clock(start, t_s)}, for {human(float(f['concurrent_upper'].max()), 'streams')} at "
        f"the upper forecast ({human(float(f['concurrent'].max()), 'streams')} at its point)."
    )
    rows += [
        ("join workers at the peak", int(f["workers"].max()), None, "workers"),
        ("stream servers at the peak", int(f["stream_servers"].max()), None, "servers"),
    ]
    if ladder is not None:
        s = ladder.summary()
        parts = [
            f"{fleet}: {human(int(r['peak_instances']), 'instances')} at the peak, the first "
            f"requested at {human_time(r['first_request_utc'], date=False)}"
            for fleet, r in s.iterrows()
        ]
        currency = s["currency"].iloc[0]
        lines.append(
            "Instances to ask for (" + "; ".join(parts) + f"); the window costs "
            f"{human(ladder.cost)} {currency}."
        )
        rows.append(("cost of the window", ladder.cost, None, currency))
    if risk is not None:
        r = risk.resources
        parts = [f"{name} {human(p, 'probability')}" for name, p in r["p_breach"].items()]
        first = risk.breaks_first
        lines.append(
            "Chance the event exceeds the capacity there: "
            + ", ".join(parts)
            + (f"; what breaks first: the {first}." if first else "; nothing breaks.")
        )
        for name, p in r["p_breach"].items():
            rows.append((f"P(breach): {name}", p, None, "probability"))
    table = pd.DataFrame(
        [
            {
                "quantity": q,
                "value": human(v, u),
                "upper": "" if up is None else human(up, u),
            }
            for q, v, up, u in rows
        ]
    ).set_index("quantity")
    return Briefing(lines, table)


class Briefing:
    """The summary of a plan: ``lines`` (sentences), ``table`` (a small table of text)."""

    def __init__(self, lines, table):
        self.lines = list(lines)
        self.table = table

    def summary(self) -> pd.DataFrame:
        """The small table (a copy)."""
        return self.table.copy()

    def __str__(self) -> str:
        return (
            "Summary\n"
            + "\n".join(f"- {line}" for line in self.lines)
            + "\n\n"
            + (table_text(self.table))
        )

    def __repr__(self) -> str:
        return f"<Briefing: {len(self.lines)} lines>"

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines)
        return (
            f'<div class="capplan-summary"><h3>Summary</h3><ul>{items}</ul>'
            f"{html_table(self.table)}</div>"
        )
