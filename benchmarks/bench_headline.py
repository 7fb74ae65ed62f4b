"""The headline path, before and after: plan, validation, report, notebooks, attack as is.

Every figure is wall time on this machine, taken for the current checkout and for a
baseline revision in the same run (``--baseline``, default the commit before the speed
work), each in its own subprocess with the same virtual environment: the baseline is a
``git worktree`` of that revision, put first on ``PYTHONPATH``. The ratio is the
baseline's time over the current one (above 1: faster now).

- ``capplan plan``: the headline plan from the shipped history (the command, whole);
- validation: ``plan.validate(seed=1)`` on that plan, read back with ``load_plan``
  (in-process, imports excluded);
- attack as is: ``whatif.attack(plan, 5000, replan=False, seed=1)`` on the same plan
  (the notebook's extra attack over the plan's own 5,000/s headroom);
- ``capplan report``: the README's main job, end to end;
- each notebook, run top to bottom by papermill (kernel start included).

numba's compiled code is cached on disk: each tree warms it up once, untimed, first.

    .venv/bin/python benchmarks/bench_headline.py                  # about 15 minutes
    .venv/bin/python benchmarks/bench_headline.py --only plan validation
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_validation  # beside this file: a script's folder is on sys.path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "6dbe6ee"  # the last commit before issue #19's work
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))

_WARM = """
import numpy as np, capplan
capplan.simulate(arrival_rate=5.0, service_time=0.1, servers=2, duration=50.0, seed=1)
"""

_VALIDATE = """
import sys, time, capplan
plan = capplan.load_plan(sys.argv[1])
start = time.perf_counter()
plan.validate(seed=1)
print("SECONDS", time.perf_counter() - start)
"""

_ATTACK = """
import sys, time, capplan
from capplan.planning import whatif
plan = capplan.load_plan(sys.argv[1])
start = time.perf_counter()
whatif.attack(plan, 5000.0, replan=False, seed=1)
print("SECONDS", time.perf_counter() - start)
"""


def _run(tree: Path, args: list[str], timeout: float, cwd: Path | None = None) -> float:
    """Wall seconds of one subprocess on ``tree``'s code (or the SECONDS it prints)."""
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONDONTWRITEBYTECODE="")
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args],
        cwd=cwd or tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{args[:3]} on {tree} failed:\n{done.stderr[-3000:]}")
    for line in done.stdout.splitlines():
        if line.startswith("SECONDS "):
            return float(line.split()[1])
    return wall


def _cli(*args: str) -> list[str]:
    return ["-c", "import sys; from capplan.cli import main; sys.exit(main(sys.argv[1:]))", *args]


def measure(tree: Path, work: Path, only: set[str], timeout: float) -> dict[str, float]:
    """Every figure for one tree; the plan is made first (validation needs it)."""
    work.mkdir(parents=True, exist_ok=True)
    _run(tree, ["-c", _WARM], timeout)
    out: dict[str, float] = {}
    plan = work / "plan"
    seconds = _run(tree, _cli("plan", "-o", str(plan)), timeout)
    if "plan" in only:
        out["capplan plan"] = seconds
    if "validation" in only:
        out["validation (plan.validate)"] = _run(tree, ["-c", _VALIDATE, f"{plan}.json"], timeout)
    if "attack" in only:
        out["attack as is (+5,000/s)"] = _run(tree, ["-c", _ATTACK, f"{plan}.json"], timeout)
    if "report" in only:
        html = work / "report.html"
        out["capplan report"] = _run(tree, _cli("report", "-q", "-o", str(html)), timeout)
    if "notebooks" in only:
        for name in NOTEBOOKS:
            source = tree / "notebooks" / name
            args = ["-m", "papermill", "-k", "python3", "--no-progress-bar", str(source)]
            args.append(str(work / name))
            out[f"notebook {name}"] = _run(tree, args, timeout, cwd=source.parent)
    return out


def _row(name: str, before: float | None, after: float) -> str:
    if before is None:
        return f"| {name} | | {after:.1f} | |"
    return f"| {name} | {before:.1f} | {after:.1f} | {before / after:.2f}x |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE, help="git revision to compare with")
    parser.add_argument("--no-baseline", action="store_true", help="the current tree only")
    parser.add_argument(
        "--only",
        nargs="+",
        default=["plan", "validation", "attack", "report", "notebooks"],
        choices=["plan", "validation", "attack", "report", "notebooks"],
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per step")
    args = parser.parse_args(argv)
    only = set(args.only)
    with tempfile.TemporaryDirectory(prefix="capplan-bench-") as tmp:
        tmp = Path(tmp)
        before = None
        if not args.no_baseline:
            with bench_validation.worktree(args.baseline) as tree:
                before = measure(Path(tree), tmp / "out-baseline", only, args.timeout)
        after = measure(ROOT, tmp / "out-current", only, args.timeout)
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    load = os.getloadavg()[0]
    print(f"\nbaseline {args.baseline} against {head} (cores: {os.cpu_count()}, load {load:.1f})\n")
    print("| step | before (s) | after (s) | speed ratio |")
    print("|---|---:|---:|---:|")
    for name, seconds in after.items():
        print(_row(name, None if before is None else before.get(name), seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
