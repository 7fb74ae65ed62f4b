"""Fit times: fit_join_curve and fit_sessions now, beside a baseline revision, in one run.

Measured, each in its own subprocess (so that neither imports nor caches carry over):

- ``fit_join_curve(series)`` (default arguments) on up to four hours of per-second
  joins of a sample event (the generated history's ``ev-014``, 2.9 h);
- the same on four hours of each real per-second trace: the Higgs announcement of
  4 July and the Tevatron one of 2 July (one hour before to three after the scheduled
  time), Azure's code and conversation traces (an hour each, whole);
- a season: every one of the 40 sample events through ``fit_join_curve``;
- ``fit_sessions`` on a sample event as ``forecast_event`` calls it (per-second joins
  and leaves, ``end_s`` the event's end, ``clock_start_s=0``).

Each subprocess first fits a small problem of the same kind, untimed, so that scipy's
lazy imports are not counted in either column. Wall-clock and CPU time are both given:
on a machine shared with other jobs the wall clock swings two- to fourfold, the CPU
time far less.

The baseline is a git revision checked out with ``git worktree add`` into a temporary
folder and imported from there (``PYTHONPATH``), with the same virtual environment;
the worktree is removed at the end. The baseline's season runs on its first
``--baseline-season`` events only and is extrapolated to the whole season (marked
"est."). Beside each time, the fit's log-likelihood (NB2 for the join curve, the
chosen distribution's for the sessions) and, for the join curve, the fitted over
observed peak of the 1-minute mean: speed must not cost quality.

Run from the project's root (about five minutes on two cores)::

    .venv/bin/python benchmarks/bench_fits.py                  # --baseline 6dbe6ee
    .venv/bin/python benchmarks/bench_fits.py --repeat 3       # best of three per fit
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (label, how to get the series): evaluated inside the measuring subprocess.
JOIN_CASES = {
    "sample ev-014, per s": ("sample", "ev-014", None),
    "Higgs 4 Jul, 4 h per s": ("higgs", "higgs-20120704-0700", (-3600, 10799)),
    "Higgs 2 Jul, 4 h per s": ("higgs", "higgs-20120702-1400", (-3600, 10799)),
    "Azure code, 1 h per s": ("azure", "azure-llm2023-code", None),
    "Azure conv, 1 h per s": ("azure", "azure-llm2023-conv", None),
}
_FOUR_HOURS_S = 4 * 3600


def _series(source: str, event_id: str, window):
    import capplan

    if source == "sample":
        series = capplan.sample_history().event(event_id)["joins"]
    elif source == "higgs":
        series = capplan.higgs2012_history().event(event_id)["requests"]
    else:
        series = capplan.azure_llm2023_history().event(event_id)["requests"]
    if window is not None:
        series = series.loc[window[0] : window[1]]
    t0 = series.index[0]
    return series.loc[: t0 + _FOUR_HOURS_S - 1]


def _measure(kind: str, arg: str, repeat: int) -> dict:
    """One measurement, in this (sub)process: the best time of `repeat` and the fit's quality."""
    import warnings

    import capplan

    warnings.simplefilter("ignore")
    if kind == "join":
        series = _series(*JOIN_CASES[arg])
        capplan.fit_join_curve(series.loc[-600:1800])  # warm-up: scipy's lazy imports
        best, cpu, fit = float("inf"), float("inf"), None
        for _ in range(repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            fit = capplan.fit_join_curve(series)
            best = min(best, time.perf_counter() - start)
            cpu = min(cpu, time.process_time() - start_cpu)
        d = fit.diagnostics
        return {
            "seconds": best,
            "cpu": cpu,
            "loglike": float(fit.estimate.loglike),
            "peak_ratio": float(d["peak_1min_ratio"]),
            "form": fit.form.name,
            "hours": len(series) / 3600,
        }
    if kind == "season":
        history = capplan.sample_history()
        ids = history.event_ids[: int(arg)]
        series = [history.event(e)["joins"] for e in ids]
        capplan.fit_join_curve(series[0].loc[-600:1800])  # warm-up
        start, start_cpu = time.perf_counter(), time.process_time()
        fits = [capplan.fit_join_curve(s) for s in series]
        seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        ratios = [f.diagnostics["peak_1min_ratio"] for f in fits]
        return {
            "seconds": seconds,
            "cpu": cpu,
            "events": len(ids),
            "loglike": float(sum(f.estimate.loglike for f in fits)),
            "peak_ratio_worst": float(max(ratios, key=lambda r: abs(r - 1))),
        }
    if kind == "sessions":
        history = capplan.sample_history()
        frame = history.event(arg)
        end_s = float(history.summary().at[arg, "duration_s"])
        minutes = frame[["joins", "leaves"]].groupby(frame.index // 60 * 60).sum()
        capplan.fit_sessions(minutes["joins"], minutes["leaves"], end_s=end_s, clock_start_s=0.0)
        best, cpu, fit = float("inf"), float("inf"), None
        for _ in range(repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            fit = capplan.fit_sessions(
                frame["joins"], frame["leaves"], end_s=end_s, clock_start_s=0.0
            )
            best = min(best, time.perf_counter() - start)
            cpu = min(cpu, time.process_time() - start_cpu)
        return {
            "seconds": best,
            "cpu": cpu,
            "loglike": float(fit.estimate.loglike),
            "distribution": fit.distribution.name,
            "median_s": float(fit.median_s),
        }
    raise ValueError(f"unknown measurement {kind!r}")


def _run(pythonpath: Path, kind: str, arg: str, repeat: int) -> dict:
    """`_measure` in a fresh interpreter importing capplan from `pythonpath`."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    command = [sys.executable, __file__, "--measure", kind, arg, "--repeat", str(repeat)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} {arg} failed under {pythonpath}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _row(label, before, after, est=False, quality=("loglike",)) -> str:
    mark = " (est.)" if est else ""
    cells = [label]
    for key in ("seconds", "cpu"):
        cells += [
            f"{before[key]:.2f}{mark}",
            f"{after[key]:.2f}",
            f"{before[key] / after[key]:.1f}x{mark}",
        ]
    for key in (*quality, None)[:2]:  # two pairs of quality columns, blank where none
        for side in (before, after):
            value = None if key is None else side.get(key)
            cells.append(
                "" if value is None else f"{value:,.1f}" if key == "loglike" else f"{value:.3f}"
            )
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="6dbe6ee", help="git revision to compare with")
    parser.add_argument("--season", type=int, default=40, help="sample events in the season")
    parser.add_argument(
        "--baseline-season",
        type=int,
        default=5,
        help="events the baseline's season is timed on (then extrapolated); 0: all",
    )
    parser.add_argument("--repeat", type=int, default=1, help="best of this many fits")
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "ARG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(_measure(*args.measure, args.repeat)))
        return

    folder = Path(tempfile.mkdtemp(prefix="capplan-bench-fits-"))
    baseline = folder / "baseline"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(baseline), args.baseline],
        check=True,
        capture_output=True,
    )
    try:
        rows = []
        print(f"baseline {args.baseline} in {baseline}; current: {ROOT}", flush=True)
        for label in JOIN_CASES:
            before = _run(baseline, "join", label, args.repeat)
            after = _run(ROOT, "join", label, args.repeat)
            print(f"{label}: {before} -> {after}", flush=True)
            rows.append(_row(label, before, after, quality=("loglike", "peak_ratio")))
        n_base = args.baseline_season or args.season
        n_base = min(n_base, args.season)
        before = _run(baseline, "season", str(n_base), 1)
        after = _run(ROOT, "season", str(args.season), 1)
        print(f"season: {before} -> {after}", flush=True)
        est = n_base < args.season
        if est:
            before = {
                "seconds": before["seconds"] * args.season / n_base,
                "cpu": before["cpu"] * args.season / n_base,
                "loglike": None,
                "peak_ratio_worst": None,
            }
        rows.append(
            _row(
                f"season, {args.season} sample events",
                before,
                after,
                est=est,
                quality=("loglike", "peak_ratio_worst"),
            )
        )
        before = _run(baseline, "sessions", "ev-014", args.repeat)
        after = _run(ROOT, "sessions", "ev-014", args.repeat)
        print(f"sessions: {before} -> {after}", flush=True)
        rows.append(_row("fit_sessions, sample ev-014 per s", before, after, quality=("loglike",)))
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline)],
            check=False,
            capture_output=True,
        )
        subprocess.run(["rm", "-rf", str(folder)], check=False)
    print()
    print(
        f"fit times (s), baseline {args.baseline} against the working tree, best of "
        f"{args.repeat}: wall clock, and the process's CPU time (steadier on a shared "
        "machine); log-likelihood and fitted/observed 1-minute peak of each fit"
    )
    print()
    print(
        "| fit | before (s) | after (s) | speed-up | CPU before (s) | CPU after (s) "
        "| CPU speed-up | loglike before | loglike after | peak ratio before "
        "| peak ratio after |"
    )
    print("|---|" + "---:|" * 10)
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
