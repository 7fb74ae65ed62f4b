"""capplan.queueing beside pyworkforce's ErlangC on the same problems: speed and agreement.

Three tables:

1. Probability of waiting (Erlang C) at 10 to 10**6 servers with load
   ``c - 1.5 sqrt(c)`` (the Halfin-Whitt regime of a well-run system, where the value
   stays near 0.1 at every size): time per call of each tool, the ratio (pyworkforce's
   time over capplan's), and each tool's relative error against mpmath (40 digits,
   mpmath's incomplete gamma).
2. One staffing solve (least servers with P(W <= t) >= 0.8, t = 20 s, mean service
   180 s): time per solve, ratio, and whether the counts and achieved levels agree.
   pyworkforce steps up one server at a time from the load, each step a loop over all
   servers; where one solve would take minutes its time is extrapolated from timed
   steps (marked "est.").
3. A day of 86,400 per-second intervals: capplan solves all in one call; pyworkforce
   is timed on a sample of intervals and extrapolated (marked "est.").

Run it in the benchmark environment, which has pyworkforce (not a project dependency):

    bash benchmarks/setup_queueing_env.sh
    benchmarks/.venv-queueing/bin/python benchmarks/bench_queueing.py
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from importlib.metadata import version

import mpmath as mp
import numpy as np
from pyworkforce.queuing import ErlangC

from capplan.queueing import erlang_c, mmc, servers_for

AHT, ASA, TARGET = 180.0, 20.0, 0.8  # seconds, seconds, P(W <= ASA)


def ref_erlang_c(c: int, a: float) -> float:
    with mp.workdps(40):
        c_, a_ = mp.mpf(c), mp.mpf(a)
        log_pmf = c_ * mp.log(a_) - a_ - mp.loggamma(c_ + 1)
        b = mp.exp(log_pmf) / mp.gammainc(c_ + 1, a_, mp.inf, regularized=True)
        return float(c_ * b / (c_ - a_ * (1 - b)))


def per_call(fn, budget=0.3, max_calls=100_000) -> float:
    """Seconds per call: repeat for about ``budget`` seconds, take the best of 3."""
    fn()
    best = math.inf
    for _ in range(3):
        n, start = 0, time.perf_counter()
        while True:
            fn()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed > budget / 3 or n >= max_calls:
                break
        best = min(best, elapsed / n)
    return best


def ratio(theirs: float, ours: float) -> str:
    r = theirs / ours
    return f"{r:,.0f}x" if r >= 10 else f"{r:.2g}x"


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
        "| servers | capplan / call | pyworkforce / call | speed ratio | "
        "capplan rel. error | pyworkforce rel. error | tools' rel. difference |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for c in sizes:
        a = c - 1.5 * math.sqrt(c)
        pw = pyworkforce_model(a)
        t_cap = per_call(lambda c=c, a=a: erlang_c(c, a))
        t_pw = per_call(lambda c=c, pw=pw: pw.waiting_probability(c), max_calls=200)
        ref = ref_erlang_c(c, a)
        mine, theirs = float(erlang_c(c, a)), pw.waiting_probability(c)
        print(
            f"| {c:,} | {fmt_time(t_cap)} | {fmt_time(t_pw)} | {ratio(t_pw, t_cap)} | "
            f"{abs(mine - ref) / ref:.1e} | {abs(theirs - ref) / ref:.1e} | "
            f"{abs(mine - theirs) / ref:.1e} |"
        )


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
        "| load (Erlangs) | capplan servers | capplan / solve | pyworkforce servers | "
        "pyworkforce / solve | speed ratio | achieved level, rel. difference |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for load in loads:
        t_cap = per_call(
            lambda load=load: servers_for(load, service_level=(ASA, TARGET), mean_service_time=AHT),
            budget=0.3,
        )
        mine = servers_for(load, service_level=(ASA, TARGET), mean_service_time=AHT)
        t_pw, theirs, estimated = pyworkforce_solve_time(load, max_seconds)
        est = " (est.)" if estimated else ""
        if theirs is None:
            pw_servers, diff = "not run", "n/a"
        else:
            pw_servers = f"{theirs['raw_positions']:,}"
            diff = f"{abs(theirs['service_level'] - mine.achieved) / mine.achieved:.1e}"
        print(
            f"| {load:,.0f} | {int(mine.servers):,} | {fmt_time(t_cap)} | {pw_servers} | "
            f"{fmt_time(t_pw)}{est} | {ratio(t_pw, t_cap)} | {diff} |"
        )


def table_day(sample_size, seed=1):
    rng = np.random.default_rng(seed)
    t = np.arange(86_400)
    # A day of per-second loads from 50 to about 2,000 Erlangs with a launch spike.
    base = 600 + 500 * np.sin(2 * np.pi * (t - 30_000) / 86_400)
    spike = 1_400 * np.exp(-0.5 * ((t - 72_000) / 900) ** 2)
    load = np.maximum(50.0, (base + spike) * rng.uniform(0.95, 1.05, t.size))
    start = time.perf_counter()
    mine = servers_for(load, service_level=(ASA, TARGET), mean_service_time=AHT)
    t_cap = time.perf_counter() - start
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
    print("| tool | time for the day | speed ratio | intervals checked | same count |")
    print("|---|---:|---:|---:|---:|")
    print(f"| capplan (one call) | {fmt_time(t_cap)} | 1x | 86,400 | |")
    print(
        f"| pyworkforce ({sample_size} intervals, extrapolated) | {fmt_time(t_pw)} (est.) | "
        f"{ratio(t_pw, t_cap)} | {sample_size} | {sample_size - differ.sum()} of "
        f"{sample_size} |"
    )
    return mine, load


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
    args = parser.parse_args()
    sizes = [10, 100, 1_000, 10_000] if args.quick else [10, 100, 1_000, 10_000, 100_000, 1_000_000]
    loads = [10, 100, 1_000, 10_000] if args.quick else [10, 100, 1_000, 10_000, 100_000, 1_000_000]
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"pyworkforce {version('pyworkforce')}, capplan {version('capplan')}"
    )
    table_wait_probability(sizes)
    table_staffing(loads, max_seconds=5.0 if args.quick else 30.0)
    table_day(sample_size=50 if args.quick else 200)
    checks_where_pyworkforce_is_wrong()


if __name__ == "__main__":
    main()
