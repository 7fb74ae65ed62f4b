"""capplan.queueing beside pyworkforce's ErlangC on the same problems: speed and agreement.

Tables:

1. Probability of waiting (Erlang C) at 10 to 10**6 servers with load
   ``c - 1.5 sqrt(c)`` (the Halfin-Whitt regime of a well-run system, where the value
   stays near 0.1 at every size): time per call of each tool, the ratio (pyworkforce's
   time over capplan's), and each tool's relative error against mpmath (40 digits,
   mpmath's incomplete gamma). "before" is capplan's time before the scalar fast path
   (issue #19), from the last run of this table (``BEFORE`` below).
2. One staffing solve (least servers with P(W <= t) >= 0.8, t = 20 s, mean service
   180 s): time per solve, ratio, and whether the counts and achieved levels agree.
   pyworkforce steps up one server at a time from the load, each step a loop over all
   servers; where one solve would take minutes its time is extrapolated from timed
   steps (marked "est."). "before" as in table 1.
3. Every scalar formula of capplan.queueing at 10, 1,000 and 10**6 servers (Erlangs for
   ``servers_for``): time per call now and at ``--baseline`` (the revision before the
   fast path, timed in the same run, twice, from a ``git worktree`` put first on
   ``PYTHONPATH``: the faster of the two), and pyworkforce's where it computes the same
   thing.
4. A day of 86,400 per-second intervals: capplan solves all in one call (before: the
   baseline in the same run, as in table 3); pyworkforce is timed on a sample of
   intervals and extrapolated (marked "est.").

Times per call are the fastest of many windows of about a millisecond each, so that
other processes' time slices rarely land in the best window (the machine is shared).

Run it in the benchmark environment, which has pyworkforce (not a project dependency):

    bash benchmarks/setup_queueing_env.sh
    benchmarks/.venv-queueing/bin/python benchmarks/bench_queueing.py
    benchmarks/.venv-queueing/bin/python benchmarks/bench_queueing.py --quick --no-baseline
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import mpmath as mp
import numpy as np
from pyworkforce.queuing import ErlangC

from capplan.queueing import (
    erlang_a,
    erlang_b,
    erlang_c,
    ggc_mean_wait,
    mmc,
    mmck,
    servers_for,
)

AHT, ASA, TARGET = 180.0, 20.0, 0.8  # seconds, seconds, P(W <= ASA)
PATIENCE = 60.0  # seconds, for Erlang A
ROOT = Path(__file__).resolve().parents[1]
BASELINE = "6dbe6ee"  # the last commit before issue #19's work (queueing as before it)
# capplan's seconds per call before the scalar fast path (issue #19): the last run of
# tables 1 and 2 (python 3.11.7, numpy 2.4.6, 2 shared cores), and the day (used with
# --no-baseline).
BEFORE = {
    "wait": {
        10: 195.4e-6,
        100: 114.8e-6,
        1_000: 107.7e-6,
        10_000: 105.2e-6,
        100_000: 103.3e-6,
        1_000_000: 101.7e-6,
    },
    "solve": {
        10: 300.4e-6,
        100: 368.8e-6,
        1_000: 502.6e-6,
        10_000: 492.2e-6,
        100_000: 488.8e-6,
        1_000_000: 487.2e-6,
    },
    "day": 87.41e-3,
}
FORMULA_SIZES = (10, 1_000, 1_000_000)


def ref_erlang_c(c: int, a: float) -> float:
    with mp.workdps(40):
        c_, a_ = mp.mpf(c), mp.mpf(a)
        log_pmf = c_ * mp.log(a_) - a_ - mp.loggamma(c_ + 1)
        b = mp.exp(log_pmf) / mp.gammainc(c_ + 1, a_, mp.inf, regularized=True)
        return float(c_ * b / (c_ - a_ * (1 - b)))


def per_call(fn, budget=0.3, max_calls=100_000) -> float:
    """Seconds per call: the fastest of windows of about 1 ms (at least one call, at least
    three windows) within ``budget`` seconds and ``max_calls`` calls."""
    fn()
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    n = max(1, min(max_calls // 3, int(1e-3 / max(once, 1e-9))))
    best, calls, deadline = math.inf, 0, time.perf_counter() + budget
    while calls < 3 * n or (time.perf_counter() < deadline and calls + n <= max_calls):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
        calls += n
    return best


def ratio(theirs: float, ours: float) -> str:
    r = theirs / ours
    return f"{r:,.0f}x" if r >= 10 else f"{r:.2g}x"


def before_after(before: float | None, after: float) -> str:
    return "—" if before is None else f"{before / after:,.0f}x"


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:,.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:,.2f} ms"
    return f"{seconds * 1e6:,.1f} µs"


def pyworkforce_model(load: float) -> ErlangC:
    # pyworkforce takes transactions per interval and times in one unit (minutes here).
    return ErlangC(transactions=load / (AHT / 60), aht=AHT / 60, asa=ASA / 60, interval=1)


def table_wait_probability(sizes):
    print("\n### Probability of waiting, load c - 1.5 sqrt(c)\n")
    print(
        "| servers | capplan / call | before | before/after | pyworkforce / call | "
        "speed ratio | capplan rel. error | pyworkforce rel. error | tools' rel. difference |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    pw_times = {}
    for c in sizes:
        a = c - 1.5 * math.sqrt(c)
        pw = pyworkforce_model(a)
        t_cap = per_call(lambda c=c, a=a: erlang_c(c, a))
        t_pw = per_call(lambda c=c, pw=pw: pw.waiting_probability(c), max_calls=200)
        pw_times[c] = t_pw
        ref = ref_erlang_c(c, a)
        mine, theirs = float(erlang_c(c, a)), pw.waiting_probability(c)
        before = BEFORE["wait"].get(c)
        print(
            f"| {c:,} | {fmt_time(t_cap)} | {fmt_time(before) if before else '—'} | "
            f"{before_after(before, t_cap)} | {fmt_time(t_pw)} | {ratio(t_pw, t_cap)} | "
            f"{abs(mine - ref) / ref:.1e} | {abs(theirs - ref) / ref:.1e} | "
            f"{abs(mine - theirs) / ref:.1e} |"
        )
    return pw_times


def pyworkforce_solve_time(load: float, max_seconds: float):
    """Time one pyworkforce solve, or estimate it from timed steps when too long."""
    pw = pyworkforce_model(load)
    start_c = round(pw.intensity + 1)  # where pyworkforce starts stepping
    answer = int(servers_for(load, service_level=(ASA, TARGET), mean_service_time=AHT).servers)
    steps = answer - start_c + 1
    step_time = per_call(lambda: pw.service_level(answer), budget=0.2, max_calls=20)
    if steps * step_time <= max_seconds:
        start = time.perf_counter()
        result = pw.required_positions(service_level=TARGET)
        return time.perf_counter() - start, result, False
    return steps * step_time, None, True


def table_staffing(loads, max_seconds):
    print(f"\n### One staffing solve: P(W <= {ASA:g} s) >= {TARGET}, mean service {AHT:g} s\n")
    print(
        "| load (Erlangs) | capplan servers | capplan / solve | before | before/after | "
        "pyworkforce servers | pyworkforce / solve | speed ratio | "
        "achieved level, rel. difference |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    pw_times = {}
    for load in loads:
        t_cap = per_call(
            lambda load=load: servers_for(load, service_level=(ASA, TARGET), mean_service_time=AHT),
            budget=0.3,
        )
        mine = servers_for(load, service_level=(ASA, TARGET), mean_service_time=AHT)
        t_pw, theirs, estimated = pyworkforce_solve_time(load, max_seconds)
        est = " (est.)" if estimated else ""
        pw_times[load] = (t_pw, est)
        before = BEFORE["solve"].get(load)
        if theirs is None:
            pw_servers, diff = "not run", "n/a"
        else:
            pw_servers = f"{theirs['raw_positions']:,}"
            diff = f"{abs(theirs['service_level'] - mine.achieved) / mine.achieved:.1e}"
        print(
            f"| {load:,.0f} | {int(mine.servers):,} | {fmt_time(t_cap)} | "
            f"{fmt_time(before) if before else '—'} | {before_after(before, t_cap)} | "
            f"{pw_servers} | {fmt_time(t_pw)}{est} | {ratio(t_pw, t_cap)} | {diff} |"
        )
    return pw_times


def day_loads(rng) -> np.ndarray:
    """A day of per-second loads from 50 to about 2,000 Erlangs with a launch spike."""
    t = np.arange(86_400)
    base = 600 + 500 * np.sin(2 * np.pi * (t - 30_000) / 86_400)
    spike = 1_400 * np.exp(-0.5 * ((t - 72_000) / 900) ** 2)
    return np.maximum(50.0, (base + spike) * rng.uniform(0.95, 1.05, t.size))


def time_day(load) -> float:
    """Seconds for one servers_for call on the whole day (the best of three)."""
    return per_call(
        lambda: servers_for(load, service_level=(ASA, TARGET), mean_service_time=AHT),
        budget=1.0,
        max_calls=5,
    )


def table_day(sample_size, before, seed=1):
    rng = np.random.default_rng(seed)
    load = day_loads(rng)
    t = np.arange(load.size)
    mine = servers_for(load, service_level=(ASA, TARGET), mean_service_time=AHT)
    t_cap = time_day(load)
    pick = rng.choice(t.size, sample_size, replace=False)
    start = time.perf_counter()
    theirs = [pyworkforce_model(load[i]).required_positions(service_level=TARGET) for i in pick]
    t_sample = time.perf_counter() - start
    t_pw = t_sample * t.size / sample_size
    counts = np.array([r["raw_positions"] for r in theirs])
    differ = counts != mine.servers[pick]
    # pyworkforce starts at round(load + 1): when the least stable count floor(load) + 1
    # already meets the target, it can return one server too many.
    print(
        f"\n### A day of 86,400 per-second intervals (loads "
        f"{load.min():,.0f} to {load.max():,.0f} Erlangs)\n"
    )
    print(
        "| tool | time for the day | before | before/after | speed ratio | "
        "intervals checked | same count |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| capplan (one call) | {fmt_time(t_cap)} | {fmt_time(before)} | "
        f"{before / t_cap:.2g}x | 1x | 86,400 | |"
    )
    print(
        f"| pyworkforce ({sample_size} intervals, extrapolated) | {fmt_time(t_pw)} (est.) | "
        f"| | {ratio(t_pw, t_cap)} | {sample_size} | {sample_size - differ.sum()} of "
        f"{sample_size} |"
    )
    return mine, load


def formula_calls(c: int) -> dict:
    """One scalar call of each formula at ``c`` servers (``c`` Erlangs for servers_for),
    load ``c - 1.5 sqrt(c)``, mean service 180 s, patience 60 s, room for 10 waiting."""
    a = c - 1.5 * math.sqrt(c)
    lam = a / AHT
    return {
        "erlang_b": lambda: erlang_b(c, a),
        "erlang_c": lambda: erlang_c(c, a),
        "mmc": lambda: mmc(c, lam, AHT),
        "mmck": lambda: mmck(c, c + 10, a),
        "erlang_a": lambda: erlang_a(c, lam, AHT, PATIENCE),
        "ggc_mean_wait": lambda: ggc_mean_wait(c, lam, AHT, service_scv=0.5),
        "servers_for": lambda: servers_for(
            float(c), service_level=(ASA, TARGET), mean_service_time=AHT
        ),
    }


def time_formulas() -> dict[str, dict[str, float]]:
    """Seconds per scalar call, by formula and size (JSON-friendly keys)."""
    out: dict[str, dict[str, float]] = {}
    for c in FORMULA_SIZES:
        for name, fn in formula_calls(c).items():
            out.setdefault(name, {})[str(c)] = per_call(fn)
    return out


def time_baseline() -> dict:
    """What table 3 and the day need timed on the baseline."""
    return {"formulas": time_formulas(), "day": time_day(day_loads(np.random.default_rng(1)))}


def time_baseline_at(revision: str) -> dict:
    """:func:`time_baseline` on ``revision``'s capplan: a git worktree first on PYTHONPATH,
    in a subprocess of this interpreter."""
    with tempfile.TemporaryDirectory(prefix="capplan-bench-queueing-") as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), revision],
            check=True,
            capture_output=True,
        )
        try:
            done = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--baseline-json"],
                env=dict(os.environ, PYTHONPATH=str(tree)),
                capture_output=True,
                text=True,
                check=True,
            )
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                check=False,
                capture_output=True,
            )
    return json.loads(done.stdout.strip().splitlines()[-1])


def table_formulas(before, pw_wait, pw_solve, revision):
    print("\n### Every scalar formula: time per call\n")
    where = f"at {revision}, before the scalar fast path" if before else "not timed"
    print(
        f"Load c - 1.5 sqrt(c) at c servers (servers_for: c Erlangs, P(W <= {ASA:g} s) >= "
        f"{TARGET}); before: {where}.\n"
    )
    print(
        "| formula | servers | capplan / call | before | before/after | "
        "pyworkforce / call | speed ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    now = time_formulas()
    for name, by_size in now.items():
        for size, t_cap in by_size.items():
            c = int(size)
            t_before = before[name][size] if before else None
            theirs, est = None, ""
            if name == "erlang_c" and c in pw_wait:
                theirs = pw_wait[c]
            elif name == "servers_for" and c in pw_solve:
                theirs, est = pw_solve[c]
            print(
                f"| {name} | {c:,} | {fmt_time(t_cap)} | "
                f"{fmt_time(t_before) if t_before else '—'} | {before_after(t_before, t_cap)} | "
                f"{fmt_time(theirs) + est if theirs else '—'} | "
                f"{ratio(theirs, t_cap) if theirs else '—'} |"
            )
    worst = max(t for by_size in now.values() for t in by_size.values())
    print(f"\nSlowest scalar call: {fmt_time(worst)}.")


def checks_where_pyworkforce_is_wrong():
    print("\n### Where pyworkforce fails or is wrong\n")
    # 1. Starting at round(a + 1) skips the least stable count when frac(a) >= 0.5.
    rows = []
    for load in (0.6, 1.5, 2.7, 4.6):
        pw = pyworkforce_model(load)
        theirs = pw.required_positions(service_level=0.05)["raw_positions"]
        mine = int(servers_for(load, service_level=(ASA, 0.05), mean_service_time=AHT).servers)
        rows.append((load, mine, theirs))
    for load, mine, theirs in rows:
        verdict = "agree" if mine == theirs else "pyworkforce one too many"
        print(
            f"- load {load} Erlangs, target P(W <= 20 s) >= 0.05: capplan {mine}, "
            f"pyworkforce {theirs} ({verdict}; "
            f"level at {mine}: {float(mmc(mine, load / AHT, AHT).service_level(ASA)):.3f})"
        )
    # 2. Overload: the formula is used outside its range.
    pw = pyworkforce_model(12.0)
    print(
        f"- waiting_probability(10 servers, 12 Erlangs) = {pw.waiting_probability(10):.3f} "
        f"(capplan: {float(erlang_c(10, 12.0)):.1f}, every arrival waits)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    parser.add_argument(
        "--baseline", default=BASELINE, help="git revision timed as 'before' in table 3"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the 'before' timing")
    parser.add_argument("--baseline-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_json:  # the baseline's side, run by time_baseline_at
        print(json.dumps(time_baseline()))
        return
    sizes = [10, 100, 1_000, 10_000] if args.quick else [10, 100, 1_000, 10_000, 100_000, 1_000_000]
    loads = [10, 100, 1_000, 10_000] if args.quick else [10, 100, 1_000, 10_000, 100_000, 1_000_000]
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"pyworkforce {version('pyworkforce')}, capplan {version('capplan')}"
    )
    before = None if args.no_baseline else time_baseline_at(args.baseline)
    pw_wait = table_wait_probability(sizes)
    pw_solve = table_staffing(loads, max_seconds=5.0 if args.quick else 30.0)
    if before is not None:  # timed again after the tables, the faster of the two kept
        again = time_baseline_at(args.baseline)
        before["day"] = min(before["day"], again["day"])
        for name, by_size in before["formulas"].items():
            for size, seconds in by_size.items():
                by_size[size] = min(seconds, again["formulas"][name][size])
    table_formulas(before and before["formulas"], pw_wait, pw_solve, args.baseline)
    day_before = before["day"] if before else BEFORE["day"]
    table_day(sample_size=50 if args.quick else 200, before=day_before)
    checks_where_pyworkforce_is_wrong()


if __name__ == "__main__":
    main()
