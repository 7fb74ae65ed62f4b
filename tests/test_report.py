"""Exported reports: one HTML file whose charts draw in a browser with no network."""

import re
import shutil
import subprocess
import sys

import nbformat
import pytest

import capplan
from capplan import report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "explore.html"
    path = report.build_report("01_explore_history.ipynb", out, include_input=False)
    return path, path.read_text(encoding="utf-8")


def charts_in(notebook: str) -> int:
    """Chart calls in the notebook's cells (each ends in a chart expression)."""
    cells = nbformat.read(report.notebooks_dir() / notebook, as_version=4).cells
    return sum(
        1
        for c in cells
        if c.cell_type == "code" and re.search(r"\.chart\([^)]*\)\s*$", c.source.strip())
    )


@pytest.mark.slow
def test_report_is_one_file_with_no_network_reference(built):
    path, html = built
    assert path.exists()
    assert report.EXTERNAL.search(html) is None
    assert html.count('<script type="module">') == 1  # the chart libraries, once
    header = html[html.index('class="capplan-report-header"') :][:3000]
    assert f"capplan {capplan.__version__}" in header or capplan.__version__ in header
    assert "01_explore_history.ipynb" in header


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_every_chart_draws_in_a_browser_offline(built, tmp_path):
    path, _ = built
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            f"--user-data-dir={tmp_path}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    drawn = len(re.findall(r'<svg[^>]*class="marks"', dom))
    assert drawn == charts_in("01_explore_history.ipynb") >= 4
    assert "could not be drawn: " not in dom.replace('could not be drawn: " + error', "")


def test_unknown_parameter_is_one_line_and_exit_code_2():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "capplan.cli",
            "report",
            "01_explore_history.ipynb",
            "-p",
            "nope",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "no parameter nope" in result.stderr and "Traceback" not in result.stderr
