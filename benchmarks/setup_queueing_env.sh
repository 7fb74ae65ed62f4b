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
print("ready:", ", ".join(f"{p} {version(p)}" for p in ("capplan", "pyworkforce", "numpy", "scipy")))
PY
