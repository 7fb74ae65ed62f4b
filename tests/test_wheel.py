"""Installed, not only cloned: a wheel built from this checkout, installed with its
``[notebook]`` extra in a fresh virtual environment outside the checkout, runs the main
job (``capplan report``) from a folder outside the checkout, on the notebooks and the data
the wheel carries. ``.ci/run`` does the same as a step of its own.

It needs the package registry (hatchling to build, the dependencies to install; pip's
cache serves what it already has) and takes a few minutes: about 10 s to build, 2 min to
install and 4 min for the report on two busy cores.
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import capplan

ROOT = Path(__file__).resolve().parents[1]

#: pip's words when the registry cannot be reached: the test is then skipped, not failed.
OFFLINE = re.compile(
    r"NewConnectionError|Failed to establish a new connection|Temporary failure in name "
    r"resolution|Network is unreachable|Name or service not known|ConnectTimeoutError"
    r"|No connection could be made"
)


def _run(command, *, cwd, env, timeout):
    result = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result, result.stdout + result.stderr


def _outside_the_checkout(path: Path) -> bool:
    return not path.resolve().is_relative_to(ROOT)


@pytest.mark.slow
def test_the_wheel_in_a_fresh_environment_runs_capplan_report(tmp_path):
    assert _outside_the_checkout(tmp_path)
    # Nothing of the checkout's environment leaks in: no PYTHONPATH, no virtual
    # environment on PATH, Jupyter's and IPython's own folders fresh.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p and not Path(p).is_relative_to(ROOT)
    )
    env |= {
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
    }

    # Build: with the checkout's hatchling if it has one (offline), else in pip's
    # isolated build environment (hatchling from the registry).
    dist = tmp_path / "dist"
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-build-isolation"]
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, ROOT, "-w", dist]
    result, output = _run(command, cwd=tmp_path, env=env, timeout=600)
    if result.returncode != 0 and OFFLINE.search(output):
        pytest.skip(f"cannot build the wheel offline (hatchling from the registry):\n{output}")
    assert result.returncode == 0, output[-5000:]
    (wheel,) = dist.glob("capplan-*.whl")

    venv = tmp_path / "venv"
    result, output = _run([sys.executable, "-m", "venv", venv], cwd=tmp_path, env=env, timeout=300)
    assert result.returncode == 0, output[-5000:]
    python, bin_dir = venv / "bin" / "python", venv / "bin"
    env["PATH"] = os.pathsep.join([str(bin_dir), env["PATH"]])
    command = [python, "-m", "pip", "install", "-q", f"{wheel}[notebook]"]
    result, output = _run(command, cwd=tmp_path, env=env, timeout=1500)
    if result.returncode != 0 and OFFLINE.search(output):
        pytest.skip(f"cannot install the wheel's dependencies offline:\n{output[-3000:]}")
    assert result.returncode == 0, output[-5000:]

    # The installed package, its notebooks and its data, not the checkout's.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = (
        "import capplan, capplan.report as r; "
        "print(capplan.__file__); print(r.notebooks_dir()); print(capplan.__version__)"
    )
    result, output = _run([python, "-c", probe], cwd=elsewhere, env=env, timeout=300)
    assert result.returncode == 0, output[-5000:]
    package, notebooks, version = result.stdout.split()
    site = venv.resolve()
    assert Path(package).resolve().is_relative_to(site), package
    assert Path(notebooks).resolve() == Path(package).resolve().parent / "_notebooks"
    assert version == capplan.__version__

    copied = tmp_path / "mine"
    result, output = _run(
        [bin_dir / "capplan", "notebooks", copied], cwd=elsewhere, env=env, timeout=300
    )
    assert result.returncode == 0, output[-5000:]
    assert sorted(p.name for p in copied.glob("*.ipynb")) == sorted(
        p.name for p in (ROOT / "notebooks").glob("*.ipynb")
    )

    out = tmp_path / "report" / "report.html"
    command = [bin_dir / "capplan", "report", "-q", "-o", out]
    result, output = _run(command, cwd=elsewhere, env=env, timeout=1500)
    assert result.returncode == 0, output[-5000:]
    assert result.stdout.strip() == f"wrote {out}" and result.stderr == ""
    page = out.read_text(encoding="utf-8")
    header = page[page.index('<header class="capplan-report-header"') :][:4000]
    assert f"capplan {capplan.__version__}" in header
    assert "<code>03_plan_headline_event.ipynb</code>" in header
    assert "<strong>40 events</strong>" in header  # the shipped sample, from the wheel
    assert page.count('capplanEmbed("capplan-chart-') >= 5
    assert str(ROOT) not in page  # nothing ran from the checkout
