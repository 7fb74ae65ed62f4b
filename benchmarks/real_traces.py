"""Scorecard on real per-second traces: does the default model hold where nobody tuned it?

For each shipped real per-second trace (and, beside them, events of the generated
sample) it prints:

- the default ``fit_join_curve(series)``: its form, fitted against observed peak of the
  1-minute mean and their times, and the fit's wall time (s);
- the burst factor at the 99% quantile: the model like for like
  (``model_same_windows``) against the measured one (worst second over its minute's
  mean);
- beside each, a naive baseline: the peak of a 15-minute running mean of the data, and
  the burst of Poisson seconds (no over-dispersion);
- a plan built the documented way from the fitted curve (``JoinForecast.from_fit``,
  ``plan_event`` with the defaults below), replayed on the trace's real seconds
  (``plan.validate(replay=series)``): the share of minutes meeting the SLO, beside the
  model's own validation.

Run from the project's root (about ten minutes on two cores)::

    .venv/bin/python benchmarks/real_traces.py            # every trace
    .venv/bin/python benchmarks/real_traces.py --quick    # no plans, fits and bursts only
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd

import capplan

SESSIONS = ("lognormal", {"median_s": 600.0, "sigma": 1.0})  # streams are not judged here
SERVICE = capplan.JoinService(0.05, scv=2.0)  # 50 ms of work per arrival, as the headline
# Burst factors judge the minutes of at least 1 arrival/s (the library's default), or of
# 0.2/s on a trace with no such minute (Higgs 2 July).
MIN_RATES = (1.0, 0.2)


def traces():
    """(label, per-second counts indexed by seconds since the start) of every real trace."""
    higgs, azure = capplan.higgs2012_history(), capplan.azure_llm2023_history()
    sample = capplan.sample_history()
    out = [
        ("higgs 4 Jul (real)", higgs.event("higgs-20120704-0700")["requests"]),
        (
            "higgs 4 Jul, 4 h (real)",
            higgs.event("higgs-20120704-0700")["requests"].loc[-3600:10799],
        ),
        ("higgs 2 Jul (real)", higgs.event("higgs-20120702-1400")["requests"]),
        ("azure code (real)", azure.event("azure-llm2023-code")["requests"]),
        ("azure conv (real)", azure.event("azure-llm2023-conv")["requests"]),
    ]
    out += [(f"{e} (sample)", sample.event(e)["joins"]) for e in ("ev-014", "ev-005", "ev-020")]
    return out


def score(label, series, plans: bool) -> dict:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        fit = capplan.fit_join_curve(series)
        fit_s = time.perf_counter() - start
    d = fit.diagnostics
    minute = np.floor(series.index.to_numpy(dtype=float) / 60)
    busiest = series.groupby(minute).mean().max()
    min_rate = next((r for r in MIN_RATES if busiest >= r), MIN_RATES[-1])
    burst = capplan.burst_factor(series, fit=fit, min_rate_per_s=min_rate).summary().loc[0.99]
    # Naive baselines: a 15-minute running mean as the curve, Poisson seconds as the burst.
    naive = series.rolling(900, center=True, min_periods=1).mean()
    naive_peak = naive.groupby(minute).mean().max() / d["peak_1min_observed_per_s"]
    poisson = capplan.burst_factor(series, alpha_per_second=0.0, min_rate_per_s=min_rate)
    row = {
        "trace": label,
        "hours": len(series) / 3600,
        "form": fit.form.name,
        "peak_1min_observed": d["peak_1min_observed_per_s"],
        "peak_1min_fitted": d["peak_1min_fitted_per_s"],
        "peak_ratio": d["peak_1min_ratio"],
        "peak_ratio_naive": naive_peak,
        "peak_time_observed_s": d["peak_1min_observed_time_s"],
        "peak_time_fitted_s": d["peak_1min_fitted_time_s"],
        "burst_min_rate": min_rate,
        "burst99_measured": burst["empirical"],
        "burst99_model": burst["model_same_windows"],
        "burst_ratio": burst["model_same_windows"] / burst["empirical"],
        "burst_ratio_poisson": poisson.summary().loc[0.99, "model_same_windows"]
        / burst["empirical"],
        "fit_s": fit_s,
        "warnings": len(caught),
    }
    if plans:
        t = series.index.to_numpy(dtype=float)
        minutes = (t[-1] + 1 - t[0]) // 60  # the plan's window: whole minutes of the trace
        window = (float(t[0]), float(t[0] + 60 * minutes))
        forecast = capplan.JoinForecast.from_fit(fit, start_s=window[0], end_s=window[1])
        plan = capplan.plan_event(
            forecast, SESSIONS, service=SERVICE, streams_per_server=1e6, window=window
        )
        checked = plan.validate(replay=series, seed=1).summary()
        row["slo_model_point"] = checked.loc["point", "share_meeting_slo"]
        replay = [name for name in checked.index if str(name).startswith("replay")]
        row["slo_replay"] = checked.loc[replay[0], "share_meeting_slo"] if replay else float("nan")
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fits and bursts only, no plans")
    args = parser.parse_args()
    rows = []
    for label, series in traces():
        rows.append(score(label, series, plans=not args.quick))
        print(pd.Series(rows[-1]).to_string(), flush=True)
    table = pd.DataFrame(rows).set_index("trace")
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(table.round(3).to_string())


if __name__ == "__main__":
    main()
