"""CI runs the very commands the README gives."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Start here")
    blocks = re.findall(r"```bash\n(.*?)```", text[start:], flags=re.S)[:2]
    return [line for block in blocks for line in block.splitlines() if not line.startswith("#")]


def test_ci_runs_the_readme_commands():
    setup, tests = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert setup in ci and tests in ci
    assert ci.index(setup) < ci.index(tests)
    assert "set -euo pipefail" in ci  # a failing test fails CI
