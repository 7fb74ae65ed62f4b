"""Scenario sweep: capplan.sweep on 1 and 2 local Dask workers, and in-process.

The same sweep each time: 40 simulate() runs (4 server counts x 10 arrival
rates around a load of 0.95, about 4 million customers each, roughly half a
second of simulation apiece), same seed, so the three tables must be equal.
Wall time includes starting and stopping the local cluster (a few seconds)
and each worker's first import of capplan (numba's compiled code comes from
its disk cache; run the script twice if the cache was cold).

    .venv/bin/python benchmarks/bench_sweep.py
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd

from capplan.scale import sweep

GRID = {"servers": [960, 980, 1000, 1020], "arrival_rate": list(np.linspace(900.0, 990.0, 10))}
FIXED = {"service_time": 1.0, "duration": 4000.0, "interval": 10.0}


def timed(**kwargs) -> tuple[float, pd.DataFrame]:
    start = time.perf_counter()
    table = sweep(GRID, fixed=FIXED, seed=2024, progress=False, **kwargs)
    return time.perf_counter() - start, table


def main() -> None:
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


if __name__ == "__main__":
    main()
