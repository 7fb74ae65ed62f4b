"""What-ifs: change one assumption, get a new plan (``replan=True``) or the unchanged
plan simulated under it (``replan=False``); :func:`compare` puts them side by side.

A simulation costs time in proportion to the attempts it simulates (joins, attack
requests and retries: a few seconds per scenario for the headline plan as planned):
``scenarios=["upper"]`` simulates one forecast curve instead of all, and
``progress=True`` shows a bar. A plan as is also replays its forecast's observed seconds
(see :meth:`EventPlan.validate`), except after a delayed start, whose curves are no longer
the observed event's.

``scheduler=`` says where a plan as is is simulated, as in :meth:`EventPlan.validate`:
``"threads"`` (default) in this process on every core, None a local Dask cluster, an
address or a ``distributed.Client`` a running cluster, ``"inline"`` one run after the
other. A re-plan simulates nothing and ignores it. The same seed gives the same
validation wherever it ran.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from capplan.planning.validate import PlanValidation, validate_plan
from capplan.scale.sweep import THREADS
from capplan.simulation import RetryPolicy
from capplan.simulation._validate import check_number

__all__ = ["attack", "compare", "delayed_start", "lost_zone", "retry_policy"]


def _delay_curve(t, rates, delay_s, sharpness):
    """Lobby rate held from the start until ``delay_s``; then the flood, ``sharpness``
    times faster and higher (same joins), from ``delay_s``."""
    out = rates.copy()
    before = rates[t < 0]
    lobby = before[-1] if before.size else rates[0]
    base = float(np.min(rates[t >= 0])) if np.any(t >= 0) else 0.0
    hold = (t >= 0) & (t < delay_s)
    out[hold] = lobby
    after = t >= delay_s
    src = (t[after] - delay_s) * sharpness
    excess = np.interp(src, t, rates - base, right=0.0)
    out[after] = base + sharpness * np.maximum(excess, 0.0)
    return out


def delayed_start(
    plan,
    minutes: float,
    *,
    sharpness: float = 1.5,
    replan: bool = True,
    seed=None,
    scenarios=None,
    progress=False,
    scheduler=THREADS,
):
    """The start slips ``minutes``: the lobby keeps building at its last rate, then the flood
    comes ``sharpness`` times sharper (same joins in ``1/sharpness`` of the time)."""
    fc = plan.forecast
    span_min = (fc.t[-1] - fc.t[0] + 1) / 60.0
    minutes = check_number("minutes", minutes)
    if minutes > span_min:
        raise ValueError(
            f"minutes must be at most the forecast's span ({span_min:g} min): a later start "
            f"leaves the flood outside the plan's window; got {minutes:g}"
        )
    sharpness = check_number("sharpness", sharpness, minimum=1.0)
    curves = {k: _delay_curve(fc.t, v, 60.0 * minutes, sharpness) for k, v in fc.scenarios.items()}
    new = fc.replace(
        point=curves["point"],
        upper=curves["upper"],
        scenarios=curves,
        description=f"{fc.description}; start delayed {minutes:g} min",
    )
    lobby = None if plan.lobby_start_s is None else plan.lobby_start_s + 60.0 * minutes
    if replan:
        return plan.replan(forecast=new, lobby_start_s=lobby)
    return validate_plan(
        plan,
        forecast=new,
        seed=seed,
        scenarios=scenarios,
        progress=progress,
        scheduler=scheduler,
        label=f"plan as is, start delayed {minutes:g} min",
    )


def attack(
    plan,
    rps: float,
    *,
    replan: bool = True,
    seed=None,
    scenarios=None,
    progress=False,
    scheduler=THREADS,
):
    """``rps`` attack requests per second (a finite number >= 0) added to the join path.

    As is (``replan=False``), the plan is simulated with the attack's requests added
    to the first tries (``simulate``'s ``attack_rate``): served, refused and timed out
    as joins are, but never retried (an attacker sends new requests), each second with
    its interval's queue limit. For the headline plan, +5,000/s over its 5,000/s
    headroom simulates about 330 million attempts, a minute of one core per scenario.
    """
    rps = check_number("rps", rps)
    if replan:
        return plan.replan(margins=replace(plan.margins, attack_rps=plan.margins.attack_rps + rps))
    return validate_plan(
        plan,
        attack_rps=plan.margins.attack_rps + rps,
        seed=seed,
        scenarios=scenarios,
        progress=progress,
        scheduler=scheduler,
        label=f"plan as is, attack +{rps:g}/s",
    )


def retry_policy(
    plan,
    retry,
    *,
    replan: bool = True,
    seed=None,
    scenarios=None,
    progress=False,
    scheduler=THREADS,
):
    """Clients retry with ``retry`` (a RetryPolicy) instead."""
    if not isinstance(retry, RetryPolicy):
        raise ValueError(
            "retry must be a RetryPolicy such as capplan.ImmediateRetry(max_retries=10); got "
            f"{type(retry).__name__}"
        )
    client = replace(plan.client, retry=retry)
    if replan:
        return plan.replan(client=client)
    return validate_plan(
        plan,
        client=client,
        seed=seed,
        scenarios=scenarios,
        progress=progress,
        scheduler=scheduler,
        label=f"plan as is, retry {type(retry).__name__}",
    )


def lost_zone(
    plan,
    fraction: float,
    *,
    replan: bool = False,
    seed=None,
    scenarios=None,
    progress=False,
    scheduler=THREADS,
):
    """A share ``fraction`` of workers and stream servers lost for the whole event."""
    fraction = check_number("fraction", fraction)
    if not fraction < 1:
        raise ValueError(f"fraction must be below 1 (a share of the capacity); got {fraction!r}")
    if replan:
        return plan.replan(margins=replace(plan.margins, zone_loss=fraction))
    f = plan.frame
    return validate_plan(
        plan,
        workers=np.floor(f["workers"].to_numpy() * (1 - fraction)).astype(np.int64),
        stream_servers=np.floor(f["stream_servers"].to_numpy() * (1 - fraction)).astype(np.int64),
        seed=seed,
        scenarios=scenarios,
        progress=progress,
        scheduler=scheduler,
        label=f"plan as is, {fraction:.0%} of capacity lost",
    )


def compare(items: dict) -> pd.DataFrame:
    """One row per named plan or validation: peak workers and stream servers, or the share
    of intervals meeting the SLO (over every scenario, and apart for the model's scenarios
    and the replays of observed seconds where a validation has them) and the refused
    share."""
    rows = {}
    for name, item in items.items():
        if isinstance(item, PlanValidation):
            s = item.summary()
            by = item.share_meeting_slo_by_source
            rows[name] = {
                "share_meeting_slo": item.share_meeting_slo,
                **{f"{k}_share_meeting_slo": v for k, v in by.items() if len(by) > 1},
                "worst_miss_share": s["worst_miss_share"].max(),
                "refused_share": s["refused_share"].max(),
                "retries_per_first_try": s["retries_per_first_try"].max(),
            }
        else:
            f = item.frame
            rows[name] = {
                "method": item.method,
                "peak_workers": int(f["workers"].max()),
                "peak_stream_servers": int(f["stream_servers"].max()),
                "worker_seconds": float((f["workers"] * item.interval_s).sum()),
            }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("what_if")
