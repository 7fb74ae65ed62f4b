"""Raw logs to per-second counts: capplan.aggregate_logs (DuckDB) against pandas.

Writes a CSV of ISO 8601 timestamps (one request per line, millisecond
precision, with a ``Z``) in a temporary folder, in chunks with numpy, then
counts requests per second with each tool in its own subprocess, so that the
peak memory (``resource.getrusage`` maxrss) is the tool's own. The pandas
peer is the usual chunked ``read_csv`` + ``to_datetime`` + ``groupby``.
The file is deleted at the end.

    .venv/bin/python benchmarks/bench_logs.py                      # 100 M lines, pandas on 10 M
    .venv/bin/python benchmarks/bench_logs.py --lines 2e6 --pandas-lines 2e6   # quick
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

START = np.datetime64("2024-06-10T18:00:00", "ms")
SPAN_S = 4 * 3600  # four hours of traffic
CHUNK = 5_000_000


def write_log(path: Path, lines: int, seed: int = 1) -> None:
    """One timestamp per line, sorted, about ``lines / SPAN_S`` per second."""
    rng = np.random.default_rng(seed)
    per_chunk = SPAN_S / max(1, -(-lines // CHUNK))
    with open(path, "w") as out:
        out.write("timestamp\n")
        done = 0
        for k in range(-(-lines // CHUNK)):
            n = min(CHUNK, lines - done)
            ms = np.sort(rng.uniform(k * per_chunk, (k + 1) * per_chunk, n) * 1000).astype(np.int64)
            text = np.datetime_as_string(START + ms.astype("timedelta64[ms]"), unit="ms")
            out.write("Z\n".join(text.tolist()))
            out.write("Z\n")
            done += n


def run_duckdb(path: str, limit: int) -> int:
    from capplan.scale import aggregate_logs

    frame = aggregate_logs(path, "1s")
    assert frame.attrs["malformed"] == 0
    return int(frame["requests"].sum())


def run_pandas(path: str, limit: int) -> int:
    import pandas as pd

    counts = None
    seen = 0
    for chunk in pd.read_csv(path, chunksize=CHUNK, dtype={"timestamp": "str"}, nrows=limit):
        stamps = pd.to_datetime(chunk["timestamp"], format="ISO8601", utc=True)
        part = stamps.dt.floor("s").value_counts()
        counts = part if counts is None else counts.add(part, fill_value=0)
        seen += len(chunk)
    return int(counts.sum())


def child(tool: str, path: str, limit: int) -> None:
    if tool == "write":
        write_log(Path(path), limit)
        return
    import duckdb  # noqa: F401  imports outside the timed part
    import pandas  # noqa: F401

    import capplan.scale  # noqa: F401

    base_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    rows = {"duckdb": run_duckdb, "pandas": run_pandas}[tool](path, limit)
    seconds = time.perf_counter() - start
    maxrss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        json.dumps({"rows": rows, "seconds": seconds, "maxrss_mib": maxrss_mib, "base": base_mib})
    )


def measure(tool: str, path: Path, limit: int, parse: bool = True) -> dict:
    """Run one tool in a fresh process (so that its maxrss is its own)."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", tool, str(path), str(limit)],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise RuntimeError(f"{tool} run failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1]) if parse else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=float, default=100e6)
    parser.add_argument("--pandas-lines", type=float, default=10e6)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        tool, path, limit = args.child
        child(tool, path, int(limit))
        return
    lines, pandas_lines = int(args.lines), int(args.pandas_lines)
    folder = Path(tempfile.mkdtemp(prefix="bench_logs_"))
    try:
        big = folder / "requests.csv"
        start = time.perf_counter()
        measure("write", big, lines, parse=False)
        size_gib = big.stat().st_size / 2**30
        print(f"wrote {lines:,} lines ({size_gib:.2f} GiB) in {time.perf_counter() - start:.0f} s")
        small = big
        if pandas_lines < lines:
            small = folder / "requests_small.csv"
            measure("write", small, pandas_lines, parse=False)
        results = {
            ("capplan (DuckDB)", lines): measure("duckdb", big, lines),
            ("pandas chunked", pandas_lines): measure("pandas", small, pandas_lines),
        }
        if pandas_lines < lines:
            results[("capplan (DuckDB)", pandas_lines)] = measure("duckdb", small, pandas_lines)
    finally:
        shutil.rmtree(folder)
    base = next(r for (tool, _), r in results.items() if tool.startswith("pandas"))
    base_rate = base["rows"] / base["seconds"]
    print()
    print(
        "| tool | lines | seconds | lines/s | speed ratio | peak memory (MiB) "
        "| of which imports (MiB) | s per 1e9 lines |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for (tool, n), r in results.items():
        assert r["rows"] == n, (tool, r["rows"], n)
        rate = r["rows"] / r["seconds"]
        print(
            f"| {tool} | {n:,} | {r['seconds']:.1f} | {rate:,.0f} | {rate / base_rate:.1f}x "
            f"| {r['maxrss_mib']:,.0f} | {r['base']:,.0f} | {1e9 / rate:,.0f} |"
        )


if __name__ == "__main__":
    main()
