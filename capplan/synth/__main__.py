"""Regenerate the sample history: ``python -m capplan.synth data/sample``."""

from __future__ import annotations

import argparse
import sys
import time

import pandas as pd
import pyarrow

from capplan.synth.sample import DEFAULT_SEED, write_sample


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m capplan.synth",
        description="Write the generated sample history (events.parquet, series.parquet).",
    )
    parser.add_argument("directory", help="folder to write into, e.g. data/sample")
    parser.add_argument("--n-events", type=int, default=40, help="number of events (default 40)")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"seed (default {DEFAULT_SEED})"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    paths = write_sample(args.directory, n_events=args.n_events, seed=args.seed)
    seconds = time.perf_counter() - started
    for path in paths:
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    print(
        f"{args.n_events} events, seed {args.seed}, pyarrow {pyarrow.__version__}, {seconds:.1f} s"
    )
    events = pd.read_parquet(paths[0])
    series = pd.read_parquet(paths[1])
    peaks = series.groupby("event_id").agg(
        rows=("joins", "size"),
        peak_joins_per_s=("joins", "max"),
        peak_concurrent=("concurrent", "max"),
        join_errors=("join_errors", "sum"),
    )
    table = events.set_index("event_id")[["scheduled_start", "actual_start", "followers"]]
    delay = table.pop("actual_start") - table["scheduled_start"]
    table["delay_min"] = delay.dt.total_seconds() / 60
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(table.join(peaks).to_string(float_format="{:.1f}".format))
    return 0


if __name__ == "__main__":
    sys.exit(main())
