"""One headline-scale run of the plan's validation: the simulator's speed at full size.

The run is the ``upper`` scenario of the headline plan (``capplan plan``), as
``plan.validate(seed=1)`` makes it: 4 hours plus warm-up at one-second intervals,
about 12,000 workers at the peak, a 10-s client timeout ("serve"), exponential
back-off retries, log-normal service times (mean 0.05 s, scv 2) and an attack of
5,000 requests/s all window long: about 36 million joins and 72 million attack
requests. numba's compile (cached on disk) is excluded: each side runs a short
simulation first.

    .venv/bin/python benchmarks/bench_validation.py                      # this tree
    .venv/bin/python benchmarks/bench_validation.py --baseline 6dbe6ee   # and a revision

With ``--baseline REV`` the revision is checked out with ``git worktree add`` in a
temporary directory, timed in a subprocess (same interpreter, ``PYTHONPATH`` set to
the worktree) right after this tree, and removed; the script prints both times and
their ratio (CPU time is the steadier one on a shared machine). ``--repeat N`` keeps
the fastest of N runs on each side. ``--plan PATH`` uses a plan file written by
``capplan plan -o`` (default: writes one in a temporary directory, about 30 s).
``bench_simulation.py --headline`` prints the same lines after its M/M/c table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(Path(__file__).resolve())


def headline_run(plan_path: str, scenario: str = "upper", seed: int = 1) -> dict:
    """Time one run of ``scenario`` as ``plan.validate(seed=seed)`` makes it."""
    import math

    import numpy as np

    import capplan
    from capplan.planning import validate
    from capplan.simulation import simulate

    simulate(8.0, 1.0, 10, 10.0, timeout=1.0, seed=0)  # compile, or load numba's cache

    plan = capplan.load_plan(plan_path)
    fc = plan.forecast
    iv = plan.interval_s
    w = plan.frame["workers"].to_numpy()
    limits = plan.queue.limits(w, plan.service.mean_s, plan.client.timeout_s)
    if hasattr(validate, "per_second_buffer"):  # each second its interval's limit
        buffer = validate.per_second_buffer(limits, iv)
    else:  # before: the largest limit for the whole run
        buffer = None if limits[0] < 0 else int(limits.max())
    warm = int(max(1, math.ceil(10 * plan.service.mean_s / iv))) * iv
    names = list(fc.scenarios)
    child = np.random.SeedSequence(seed).spawn(len(names))[names.index(scenario)]
    a, b = child.spawn(2)
    start, cpu_start = time.perf_counter(), time.process_time()
    _, result = validate.simulate_join_path(
        fc.scenarios[scenario],
        np.repeat(w, iv),
        service=plan.service,
        client=plan.client,
        buffer=buffer,
        attack_rps=plan.margins.attack_rps,
        alpha_per_second=fc.alpha_per_second,
        cluster_per_second=fc.cluster_per_second,
        warmup_s=warm,
        seed=np.random.default_rng(a),
        noise_seed=np.random.default_rng(b),
    )
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    arrivals = int(result.to_frame()["arrivals"].sum())
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "arrivals": arrivals,
        "module": capplan.__file__,
    }


def write_plan(directory: str) -> str:
    out = os.path.join(directory, "plan")
    cmd = [sys.executable, "-c", "import sys; from capplan.cli import main; sys.exit(main())"]
    subprocess.run([*cmd, "plan", "-o", out], check=True, capture_output=True)
    return out + ".json"


@contextlib.contextmanager
def worktree(rev: str):
    """A temporary checkout of ``rev`` (``git worktree add``), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="capplan-baseline-") as tmp:
        tree = os.path.join(tmp, "tree")
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", tree, rev],
            check=True,
            capture_output=True,
        )
        try:
            yield tree
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", tree],
                check=False,
                capture_output=True,
            )


def run_child(tree: str, argv: list[str]) -> dict:
    """Run ``python argv`` (this interpreter) with ``tree`` first on the path; the JSON
    of its last line of output, checked to come from the tree's capplan."""
    env = dict(os.environ, PYTHONPATH=tree)
    done = subprocess.run(
        [sys.executable, *argv], check=True, capture_output=True, text=True, env=env, cwd=tree
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if not out["module"].startswith(tree):
        raise RuntimeError(f"the baseline imported capplan from {out['module']}, not {tree}")
    return out


def best_headline_run(plan_path: str, scenario: str, repeat: int) -> dict:
    """``repeat`` runs: the shortest wall time and the shortest CPU time (the machine is
    shared: the best of a few is the steadiest figure)."""
    runs = [headline_run(plan_path, scenario) for _ in range(repeat)]
    best = dict(runs[0])
    best["seconds"] = min(r["seconds"] for r in runs)
    best["cpu_seconds"] = min(r["cpu_seconds"] for r in runs)
    return best


def report(label: str, now: dict, before: dict | None) -> None:
    """Print this tree's headline run, and the baseline's beside it."""
    print(
        f"{label}: one headline run ({now['arrivals']:,} arrivals): {now['seconds']:.1f} s "
        f"({now['cpu_seconds']:.1f} s of CPU)"
    )
    if before is not None:
        print(
            f"{label}, baseline {before['rev']}: {before['seconds']:.1f} s "
            f"({before['cpu_seconds']:.1f} s of CPU, {before['arrivals']:,} arrivals)"
        )
        print(
            f"{label}: before {before['seconds']:.1f} s, after {now['seconds']:.1f} s: "
            f"{before['seconds'] / now['seconds']:.2f}x faster "
            f"({before['cpu_seconds'] / now['cpu_seconds']:.2f}x in CPU time)"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plan", help="plan file from `capplan plan -o` (default: write one)")
    parser.add_argument("--scenario", default="upper", help="forecast scenario (default upper)")
    parser.add_argument("--baseline", help="a git revision to time as well, e.g. 6dbe6ee")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tree, the best kept")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(best_headline_run(args.plan, args.scenario, args.repeat)))
        return

    with tempfile.TemporaryDirectory(prefix="capplan-plan-") as tmp:
        plan_path = args.plan or write_plan(tmp)
        now = best_headline_run(plan_path, args.scenario, args.repeat)
        before = None
        if args.baseline:
            with worktree(args.baseline) as tree:
                argv = [SCRIPT, "--child", "--plan", plan_path, "--scenario", args.scenario]
                before = run_child(tree, [*argv, "--repeat", str(args.repeat)])
            before["rev"] = args.baseline
        report(args.scenario, now, before)


if __name__ == "__main__":
    main()
