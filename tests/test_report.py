"""Exported reports: one HTML file whose charts draw in a browser with no network.

The requirement: the exported report, opened in headless Chromium (with --no-sandbox,
--disable-background-networking and a fresh --user-data-dir) with no network reachable,
renders every chart: the count of rendered vega views equals the number of charts, and the
page logs no script error. The report stays under 5 MB.

The browser checks share :func:`open_in_chromium`; the fast tests below show that what it
reports can fail: a page that throws, a page that needs a CDN, a page that fetches from a
server on this machine.
"""

import http.server
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import nbformat
import pytest

import capplan
from capplan import report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)"
)

#: Every network fetch fails. All requests, loopback included (``<-loopback>``), go to a
#: proxy on the discard port where nothing listens (net::ERR_PROXY_CONNECTION_FAILED), and
#: every host name, IP literals included, fails to resolve (net::ERR_NAME_NOT_RESOLVED).
#: Either flag alone keeps a script served on 127.0.0.1 from loading; see
#: test_the_no_network_flags_block_a_server_on_this_machine.
NO_NETWORK = [
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND",
]

MAX_REPORT_BYTES = 5_000_000

#: A console line in Chromium's log on stderr (``--enable-logging=stderr --v=0``), e.g.
#: ``[31:31:1124/112300.124975:INFO:CONSOLE:3] "Uncaught Error: boom", source: file:///p.html (3)``
#: (older versions write ``INFO:CONSOLE(3)]``). Chromium 156 logs console.log, .warn and
#: .error alike, all at INFO, so a level cannot be told apart: any console line counts.
_CONSOLE_LINE = re.compile(r"^\[[^\]]*:CONSOLE\b[^\]]*\]\s*(.*)$", re.MULTILINE)


def open_in_chromium(
    page: Path, *, offline: bool = True, budget_ms: int = 20_000
) -> tuple[str, list[str]]:
    """Open ``page`` in headless Chromium with a fresh profile; return the DOM after its
    scripts ran (for up to ``budget_ms`` of virtual time) and the console messages it
    logged: uncaught exceptions ("Uncaught ...") and console calls of any level.

    ``offline`` (the default) adds :data:`NO_NETWORK`, so that any fetch fails."""
    with tempfile.TemporaryDirectory(prefix="capplan-chromium-") as profile:
        result = subprocess.run(
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
                f"--user-data-dir={profile}",
                *(NO_NETWORK if offline else []),
                "--enable-logging=stderr",
                "--v=0",
                f"--virtual-time-budget={budget_ms}",
                "--dump-dom",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert "</html>" in result.stdout, f"chromium dumped no page:\n{result.stderr[-3000:]}"
    return result.stdout, _CONSOLE_LINE.findall(result.stderr)


def vega_views(dom: str) -> int:
    """Vega views drawn in a DOM: each draws one ``<svg class="marks">``."""
    return len(re.findall(r'<svg[^>]*class="marks"', dom))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "explore.html"
    path = report.build_report("01_explore_history.ipynb", out)  # shared: no code
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
def test_report_is_one_file_under_5_mb_with_no_network_reference(built):
    path, html = built
    assert path.exists()
    assert path.stat().st_size < MAX_REPORT_BYTES
    assert report.EXTERNAL.search(html) is None
    assert html.count('<script type="module">') == 1  # the chart libraries, once
    assert html.count('capplanEmbed("capplan-chart-') == charts_in("01_explore_history.ipynb")
    header = html[html.index('class="capplan-report-header"') :][:3000]
    assert f"capplan {capplan.__version__}" in header or capplan.__version__ in header
    assert "01_explore_history.ipynb" in header


@pytest.mark.slow
@needs_chromium
def test_every_chart_draws_offline_with_no_script_error(built):
    path, _ = built
    dom, console = open_in_chromium(path)
    assert console == []
    assert vega_views(dom) == charts_in("01_explore_history.ipynb") >= 4
    assert "could not be drawn: " not in dom.replace('could not be drawn: " + error', "")


@needs_chromium
def test_a_script_error_or_console_error_is_caught(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><body><p id='after'>not run</p>"
        '<script>console.error("x");</script>'
        '<script>throw new Error("boom");</script>'
        "<script>document.getElementById('after').textContent = 'ran';</script>"
        "</body></html>",
        encoding="utf-8",
    )
    dom, console = open_in_chromium(page, budget_ms=2_000)
    assert ">ran<" in dom  # the page did run: the DOM is dumped after its scripts
    assert any('"x"' in line for line in console), console
    assert any("Uncaught Error: boom" in line for line in console), console


@needs_chromium
def test_a_chart_that_needs_a_cdn_is_caught(tmp_path):
    # What altair's default HTML does: load the libraries from a CDN, then draw.
    page = tmp_path / "cdn.html"
    page.write_text(
        "<!DOCTYPE html><html><head>"
        '<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>'
        '<script src="https://cdn.jsdelivr.net/npm/vega-lite@5"></script>'
        '<script src="https://cdn.jsdelivr.net/npm/vega-embed@6"></script>'
        '</head><body><div id="vis"></div><script>vegaEmbed("#vis", {"mark": "point", '
        '"data": {"values": [{"x": 1}]}, "encoding": {"x": {"field": "x"}}});</script>'
        "</body></html>",
        encoding="utf-8",
    )
    dom, console = open_in_chromium(page, budget_ms=5_000)
    assert vega_views(dom) == 0
    assert any("Uncaught ReferenceError: vegaEmbed is not defined" in s for s in console)


@needs_chromium
def test_the_no_network_flags_block_a_server_on_this_machine(tmp_path):
    # Whether or not this machine reaches the internet, a script served on 127.0.0.1
    # loads without NO_NETWORK and does not with it: the flags, not the machine, cut it.
    (tmp_path / "x.js").write_text("window.loaded = true;", encoding="utf-8")
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, format, *args):
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page = tmp_path / "local.html"
        page.write_text(
            "<!DOCTYPE html><html><body><p id='state'>?</p>"
            f'<script src="http://127.0.0.1:{server.server_port}/x.js"></script>'
            "<script>document.getElementById('state').textContent = "
            "window.loaded ? 'loaded' : 'blocked';</script></body></html>",
            encoding="utf-8",
        )
        online, _ = open_in_chromium(page, offline=False, budget_ms=2_000)
        assert ">loaded<" in online and requests == ["/x.js"]
        offline, _ = open_in_chromium(page, budget_ms=2_000)
        assert ">blocked<" in offline and requests == ["/x.js"]  # no second request
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


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


def test_a_failing_cell_is_one_line_on_stderr_naming_the_cell_and_exit_code_2():
    # The kernel itself must add nothing (it warns on stderr when it talks over TCP).
    result = subprocess.run(
        [sys.executable, "-m", "capplan.cli", "report", "-p", "level", "high", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert re.fullmatch(
        r"capplan report: error: 03_plan_headline_event\.ipynb failed in cell \d+: "
        r"TypeError: level must be .*, got 'high'",
        line,
    ), line
