#!/usr/bin/env bash
# Make benchmarks/.venv-queueing: capplan (editable) beside pyworkforce, the peer that
# bench_queueing.py compares against. pyworkforce is not a project dependency: it lives
# only in this environment.
#
#   bash benchmarks/setup_queueing_env.sh
#   benchmarks/.venv-queueing/bin/python benchmarks/bench_queueing.py
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=benchmarks/.venv-queueing
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet -e . "pyworkforce>=0.5" mpmath
"$VENV/bin/python" - <<'PY'
from importlib.metadata import version

from capplan.queueing import erlang_a, mmck, servers_for

# numba compiles capplan.queueing's kernels on first use and caches them on disk (a few
# seconds, once): do it here, not in the first timed run.
servers_for([10.0, 100.0], service_level=(20.0, 0.8), mean_service_time=180.0)
servers_for(10.0, max_abandon_prob=0.01, mean_service_time=180.0, mean_patience=60.0)
mmck(10, 20, 5.0), erlang_a(10, 0.05, 180.0, 60.0)
packages = ("capplan", "pyworkforce", "numpy", "scipy", "numba")
print("ready:", ", ".join(f"{p} {version(p)}" for p in packages))
PY
