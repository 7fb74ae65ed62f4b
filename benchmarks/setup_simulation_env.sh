#!/usr/bin/env bash
# Make benchmarks/.venv-simulation: capplan (editable, with numba) beside ciw, the peer
# that bench_simulation.py compares against. ciw is not a project dependency: it lives
# only in this environment.
#
#   bash benchmarks/setup_simulation_env.sh
#   benchmarks/.venv-simulation/bin/python benchmarks/bench_simulation.py
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=benchmarks/.venv-simulation
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet -e . numba "ciw>=3.2"
"$VENV/bin/python" - <<'PY'
from importlib.metadata import version
print("ready:", ", ".join(f"{p} {version(p)}" for p in ("capplan", "numba", "ciw", "numpy")))
PY
