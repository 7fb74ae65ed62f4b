"""Scenario sweep: capplan.sweep on 1 and 2 local Dask workers, and in-process.

The same sweep each time: 40 simulate() runs (4 server counts x 10 arrival
rates around a load of 0.95, about 4 million customers each, roughly half a
second of simulation apiece), same seed, so the three tables must be equal.
Wall time includes starting and stopping the local cluster (a few seconds)
and each worker's first import of capplan (numba's compiled code comes from
its disk cache; run the script twice if the cache was cold).

With ``--validation``, the headline plan's validation (``plan.validate(seed=1)``:
four runs of the four-hour window) three ways too: one run after the other
(``scheduler="inline"``), in threads of this process (``"threads"``, the default),
and on a local Dask cluster of one worker process per core (``scheduler=None``); the
three validations must be equal. The plan is written by ``capplan plan -o`` in a
temporary directory (about 30 s, not timed), or read from ``--plan PATH.json``.

    .venv/bin/python benchmarks/bench_sweep.py
    .venv/bin/python benchmarks/bench_sweep.py --validation --plan /tmp/p.json
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from capplan.scale import sweep

GRID = {"servers": [960, 980, 1000, 1020], "arrival_rate": list(np.linspace(900.0, 990.0, 10))}
FIXED = {"service_time": 1.0, "duration": 4000.0, "interval": 10.0}


def timed(**kwargs) -> tuple[float, pd.DataFrame]:
    start = time.perf_counter()
    table = sweep(GRID, fixed=FIXED, seed=2024, progress=False, **kwargs)
    return time.perf_counter() - start, table


_CLI = "import sys; from capplan.cli import main; sys.exit(main(sys.argv[1:]))"


def validations(plan_path: str | None) -> None:
    """The headline plan's validation inline, in threads and on a local cluster."""
    import capplan

    with tempfile.TemporaryDirectory() as tmp:
        if plan_path is None:
            out = Path(tmp) / "plan"
            subprocess.run(
                [sys.executable, "-c", _CLI, "plan", "-o", str(out)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            plan_path = f"{out}.json"
        plan = capplan.load_plan(plan_path)
    runs = {}
    for label, scheduler in (
        ("validation, one run after the other (scheduler='inline')", "inline"),
        ("validation in threads (scheduler='threads', the default)", "threads"),
        ("validation on a LocalCluster (scheduler=None)", None),
    ):
        start = time.perf_counter()
        frame = plan.validate(seed=1, scheduler=scheduler).frame
        runs[label] = (time.perf_counter() - start, frame)
    frames = [f for _, f in runs.values()]
    for other in frames[1:]:
        pd.testing.assert_frame_equal(other, frames[0], check_exact=True)
    inline = runs["validation, one run after the other (scheduler='inline')"][0]
    print()
    print("| run | wall time (s) | speed-up vs inline |")
    print("|---|---:|---:|")
    for name, (seconds, _) in runs.items():
        print(f"| {name} | {seconds:.1f} | {inline / seconds:.2f}x |")
    print("\nall three validations equal: yes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validation", action="store_true", help="time the validation too")
    parser.add_argument("--plan", help="a plan file from `capplan plan -o` (JSON)")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}; scenarios: {len(GRID['servers']) * 10}")
    sweep(
        {"servers": [10]},
        fixed={"service_time": 1.0, "duration": 10.0, "arrival_rate": 5.0},
        scheduler="inline",
        progress=False,
    )  # compile / load numba here
    runs = {
        "in-process (scheduler='inline')": timed(scheduler="inline"),
        "LocalCluster, 1 worker": timed(n_workers=1),
        "LocalCluster, 2 workers": timed(n_workers=2),
    }
    tables = [t for _, t in runs.values()]
    for other in tables[1:]:
        pd.testing.assert_frame_equal(other, tables[0])
    customers = float(tables[0]["customers"].sum())
    one = runs["LocalCluster, 1 worker"][0]
    print()
    print("| run | wall time (s) | customers/s | speed-up vs 1 worker |")
    print("|---|---:|---:|---:|")
    for name, (seconds, _) in runs.items():
        print(f"| {name} | {seconds:.1f} | {customers / seconds:,.0f} | {one / seconds:.2f}x |")
    print(f"\nall three tables equal: yes ({customers:,.0f} customers in total)")
    if args.validation:
        validations(args.plan)


if __name__ == "__main__":
    main()
