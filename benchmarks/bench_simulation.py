"""capplan's simulator beside ciw on the same M/M/c queues: speed and agreement.

For each queue, both tools run the same replications (same length, same warm-up,
independent seeds). The table gives customers simulated per second of wall time on
one core, and the mean wait and the probability of waiting with a 95% confidence
interval over the replications, beside the exact Erlang C values. A last column
says whether the two tools' means agree within their joint 95% interval.

Run it in the benchmark environment, which has ciw (not a project dependency):

    bash benchmarks/setup_simulation_env.sh
    benchmarks/.venv-simulation/bin/python benchmarks/bench_simulation.py

``--quick`` runs fewer, shorter replications (for a smoke test). ``--baseline REV``
also times capplan alone at a git revision (checked out in a temporary worktree, run
in a subprocess, removed), beside this tree; ``--headline`` adds one headline-scale run
of the plan's validation (see ``bench_validation.py``), for both trees with a baseline:

    benchmarks/.venv-simulation/bin/python benchmarks/bench_simulation.py \
        --baseline 6dbe6ee --headline
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path

import bench_validation  # beside this file: a script's folder is on sys.path
import ciw
import numpy as np
from scipy import stats

import capplan
from capplan.simulation import simulate

SCRIPT = str(Path(__file__).resolve())

QUEUES = [  # (servers, arrival rate per s); service mean 1 s
    (10, 8.0),
    (100, 90.0),
]


def erlang_c(c: int, a: float) -> float:
    """Probability of waiting in M/M/c, offered load a (log-space sum, no overflow)."""
    log_terms = [k * math.log(a) - math.lgamma(k + 1) for k in range(c)]
    log_top = c * math.log(a) - math.lgamma(c + 1) + math.log(c / (c - a))
    m = max(max(log_terms), log_top)
    below = sum(math.exp(t - m) for t in log_terms)
    top = math.exp(log_top - m)
    return top / (below + top)


def run_ciw(c, lam, duration, warmup, seed):
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=lam)],
        service_distributions=[ciw.dists.Exponential(rate=1.0)],
        number_of_servers=[c],
    )
    ciw.seed(seed)  # ciw's randomness is global
    start = time.perf_counter()
    sim = ciw.Simulation(network)
    sim.simulate_until_max_time(duration)
    elapsed = time.perf_counter() - start
    records = sim.get_all_records()
    waits = np.array([r.waiting_time for r in records if r.arrival_date >= warmup])
    return len(records), elapsed, waits.mean(), (waits > 0).mean()


def run_capplan(c, lam, duration, warmup, seed):
    start = time.perf_counter()
    r = simulate(lam, 1.0, c, duration, interval=duration / 100, warmup=warmup, seed=seed)
    elapsed = time.perf_counter() - start
    return r.customers, elapsed, r.mean_wait, r.wait_prob


def interval(values):
    values = np.asarray(values)
    half = stats.t.ppf(0.975, values.size - 1) * values.std(ddof=1) / math.sqrt(values.size)
    return values.mean(), half


def throughput(c, lam, customers=10_000_000):
    """capplan alone on one long run: customers per second of CPU time (one core: the run
    is one thread), steadier than wall time on a shared machine."""
    duration = customers / lam
    simulate(lam, 1.0, c, 10.0, seed=0)  # compile (or load the cache) first
    start = time.process_time()
    r = simulate(lam, 1.0, c, duration, interval=duration / 1000, seed=1)
    return r.customers / (time.process_time() - start)


def throughputs(customers):
    """:func:`throughput` of each queue, the best of three runs (the machine is shared)."""
    return {f"M/M/{c}": max(throughput(c, lam, customers) for _ in range(3)) for c, lam in QUEUES}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=10, help="replications per tool and queue")
    parser.add_argument("--customers", type=int, default=100_000, help="customers per replication")
    parser.add_argument("--quick", action="store_true", help="3 replications of 10k customers")
    parser.add_argument("--baseline", help="a git revision to time capplan alone at as well")
    parser.add_argument("--headline", action="store_true", help="one headline-scale run too")
    parser.add_argument("--child-throughput", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_throughput:
        out = throughputs(args.child_throughput)
        print(json.dumps({"module": capplan.__file__, **out}))
        return
    if args.quick:
        args.reps, args.customers = 3, 10_000

    simulate(8.0, 1.0, 10, 10.0, seed=0)  # numba compile outside the timings
    print(
        f"# python {platform.python_version()}, ciw {ciw.__version__}, numpy {np.__version__}, "
        f"{os.cpu_count()} cores; {args.reps} replications of ~{args.customers:,} customers, "
        "10% warm-up; service exponential, mean 1 s\n"
    )
    header = (
        "| queue | tool | customers/s | speed ratio | mean wait (s), 95% CI | "
        "P(wait > 0), 95% CI | tools agree |"
    )
    print(header)
    print("|---|---|---:|---:|---|---|---|")
    for c, lam in QUEUES:
        duration = args.customers / lam
        warmup = duration / 10
        C = erlang_c(c, lam)
        exact_wait = C / (c - lam)
        rows = {}
        for name, runner in (("ciw", run_ciw), ("capplan", run_capplan)):
            out = [runner(c, lam, duration, warmup, 100 + k) for k in range(args.reps)]
            n = sum(o[0] for o in out)
            seconds = sum(o[1] for o in out)
            rows[name] = (n / seconds, interval([o[2] for o in out]), interval([o[3] for o in out]))
        (m1, h1), (m2, h2) = rows["ciw"][1], rows["capplan"][1]
        agree = abs(m1 - m2) <= math.hypot(h1, h2)
        label = f"M/M/{c}, rho={lam / c:.2f}"
        for name in ("ciw", "capplan"):
            speed, (w, wh), (p, ph) = rows[name]
            ratio = speed / rows["ciw"][0]
            print(
                f"| {label} | {name} | {speed:,.0f} | {ratio:,.0f}x | {w:.4f} ± {wh:.4f} | "
                f"{p:.4f} ± {ph:.4f} | {'yes' if agree else 'NO'} |"
            )
        print(f"| {label} | Erlang C (exact) | | | {exact_wait:.4f} | {C:.4f} | |")
    print()
    n = 10_000_000 if not args.quick else 1_000_000
    now = throughputs(n)
    before = None
    if args.baseline:
        with bench_validation.worktree(args.baseline) as tree:
            before = bench_validation.run_child(tree, [SCRIPT, "--child-throughput", str(n)])
    for name, speed in now.items():
        line = f"capplan alone, {name}, one run of {n:,} customers: {speed:,.0f}/s of CPU"
        if before is not None:
            line += (
                f" (baseline {args.baseline}: {before[name]:,.0f}/s; {speed / before[name]:.2f}x)"
            )
        print(line)
    if args.headline:
        print()
        with tempfile.TemporaryDirectory(prefix="capplan-plan-") as tmp:
            plan_path = bench_validation.write_plan(tmp)
            now = bench_validation.best_headline_run(plan_path, "upper", 1)
            before = None
            if args.baseline:
                with bench_validation.worktree(args.baseline) as tree:
                    argv = [bench_validation.SCRIPT, "--child", "--plan", plan_path]
                    before = bench_validation.run_child(tree, argv)
                before["rev"] = args.baseline
            bench_validation.report("upper", now, before)


if __name__ == "__main__":
    main()
