"""Exported reports: one HTML file whose charts draw in a browser with no network.

The requirement: the exported report, opened in headless Chromium (with --no-sandbox,
--disable-background-networking and a fresh --user-data-dir) with no network reachable,
renders every chart: the count of rendered vega views equals the number of charts, and the
page logs no script error. The report stays under 5 MB.

The browser checks share :func:`open_in_chromium`; the fast tests below show that what it
reports can fail: a page that throws, a page that needs a CDN, a page that fetches from a
server on this machine.

The headline report (notebook 03, the version that is shared) is also read as text: no
``Warning``, no traceback, no stderr output, no scientific notation in its tables, and a
title block first that states the data, the parameters in human units, the version and
the date; in the browser it draws every chart and its screenshot shows a page, the title
block leaving most of the first screen to what follows. A tiny notebook checks the title
block, the notes and the cell numbering in seconds.
"""

import fcntl
import http.server
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import zlib
from pathlib import Path

import nbformat
import papermill
import pytest
from helpers import toy_tables

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


#: The first screen: a laptop's browser window.
SCREEN = (1280, 900)


def _chromium(page: Path, action: list[str], *, offline: bool, budget_ms: int, window=SCREEN):
    with tempfile.TemporaryDirectory(prefix="capplan-chromium-") as profile:
        return subprocess.run(
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
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                *(NO_NETWORK if offline else []),
                "--enable-logging=stderr",
                "--v=0",
                f"--window-size={window[0]},{window[1]}",
                f"--virtual-time-budget={budget_ms}",
                *action,
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )


def open_in_chromium(
    page: Path, *, offline: bool = True, budget_ms: int = 20_000
) -> tuple[str, list[str]]:
    """Open ``page`` in headless Chromium with a fresh profile; return the DOM after its
    scripts ran (for up to ``budget_ms`` of virtual time) and the console messages it
    logged: uncaught exceptions ("Uncaught ...") and console calls of any level.

    ``offline`` (the default) adds :data:`NO_NETWORK`, so that any fetch fails."""
    result = _chromium(page, ["--dump-dom"], offline=offline, budget_ms=budget_ms)
    assert "</html>" in result.stdout, f"chromium dumped no page:\n{result.stderr[-3000:]}"
    return result.stdout, _CONSOLE_LINE.findall(result.stderr)


def screenshot_in_chromium(
    page: Path, png: Path, *, budget_ms: int = 20_000, window=SCREEN
) -> list[str]:
    """Save the first screen of ``page`` (``window`` pixels) as ``png``, offline, after its
    scripts ran; return the console messages, as :func:`open_in_chromium`."""
    result = _chromium(
        page, [f"--screenshot={png}"], offline=True, budget_ms=budget_ms, window=window
    )
    assert png.is_file(), f"chromium saved no screenshot:\n{result.stderr[-3000:]}"
    return _CONSOLE_LINE.findall(result.stderr)


def png_facts(png: Path) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values of a PNG's (filtered) pixel
    data: a blank page's data is a handful of values (filter bytes, white), a drawn page's
    hundreds."""
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    pos, idat = 8, b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


#: Run after the page loads, in a copy of a report: where the title block lies on the
#: first screen, written into the DOM for --dump-dom to show.
_MEASURE = """<script>
window.addEventListener("load", function () {
  var box = document.querySelector(".capplan-report-header").getBoundingClientRect();
  document.body.setAttribute("data-capplan-header",
    [box.top, box.bottom, window.innerHeight].join(","));
  var summary = document.querySelector(".capplan-summary");
  document.body.setAttribute("data-capplan-summary",
    summary ? summary.getBoundingClientRect().top : -1);
});
</script>"""


def readable(page_html: str) -> str:
    """A report's HTML without its scripts (the chart libraries, the specs) and styles:
    what a reader sees, with its tags."""
    text = re.sub(r"<script\b.*?</script>", "", page_html, flags=re.S | re.I)
    return re.sub(r"<style\b.*?</style>", "", text, flags=re.S | re.I)


def header_of(page_html: str) -> str:
    start = page_html.index('<header class="capplan-report-header"')
    return page_html[start : page_html.index("</header>", start)]


def vega_views(dom: str) -> int:
    """Vega views drawn in a DOM: each draws one ``<svg class="marks">``."""
    return len(re.findall(r'<svg[^>]*class="marks"', dom))


@pytest.fixture(scope="module")
def headline(tmp_path_factory, worker_id):
    """The main job's report: notebook 03, shared (no code), as `capplan report` writes it.

    Built once per run: the pytest-xdist workers share one file under a lock (it takes
    minutes)."""
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent  # the run's folder, above each worker's own
    out = shared / "headline-report" / "headline.html"
    out.parent.mkdir(exist_ok=True)
    with open(out.parent / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not out.exists():
            report.build_report(output=out)
    return out, out.read_text(encoding="utf-8")


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


def around(text: str, needle: str, width: int = 300) -> str:
    at = text.find(needle)
    return text[max(0, at - width) : at + width] if at >= 0 else ""


@pytest.mark.slow
def test_the_headline_report_has_no_warning_traceback_or_stderr_text(headline):
    _, page = headline
    text = readable(page)
    for needle in ("Warning", "Traceback", 'data-mime-type="application/vnd.jupyter.stderr"'):
        assert needle not in text, around(text, needle)


#: A count in scientific notation, as pandas prints a float column: 2.365810e+04 (a small
#: quantity such as a probability, 1.3e-08, may be written so; a count may not).
SCIENTIFIC = re.compile(r"\d(?:\.\d+)?[eE]\+\d+")


def tables_in(page: str) -> list[str]:
    """The tables a reader sees in a report, the title block's aside: HTML tables and
    printed text outputs (a DataFrame or a result's text)."""
    text = readable(page).replace(header_of(page), "")
    tables = re.findall(r"<table\b.*?</table>", text, flags=re.S)
    printed = re.findall(r'data-mime-type="text/plain"[^>]*>\s*<pre>(.*?)</pre>', text, flags=re.S)
    return tables + printed


@pytest.mark.slow
def test_tables_of_counts_have_no_scientific_notation(headline):
    _, page = headline
    tables = tables_in(page)
    assert len(tables) >= 3
    found = [
        (m.group(0), around(t, m.group(0), 120)) for t in tables for m in SCIENTIFIC.finditer(t)
    ]
    assert found == []


@pytest.mark.slow
def test_the_headline_title_block_comes_first_with_data_parameters_version_and_date(headline):
    _, page = headline
    # the first thing in the page's body
    assert re.search(
        r'<body class="jp-Notebook"[^>]*>\s*<main>\s*<header class="capplan-report', page
    )
    header = header_of(page)
    assert re.search(
        r"Run \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC with capplan " + re.escape(capplan.__version__),
        header,
    )
    assert "The shared version" in header and "jp-InputArea-editor" not in readable(page)
    assert "<code>capplan.sample_history()</code>" in header
    assert "<strong>40 events</strong>" in header
    declared = papermill.inspect_notebook(str(report.notebooks_dir() / report.DEFAULT_NOTEBOOK))
    assert len(declared) >= 10
    for name in declared:
        assert f"<th><code>{name}</code></th>" in header, name
    for text in ("2025-06-14 19:00 UTC", "300 M", "90%", "the notebook's defaults"):
        assert text in header, text
    assert "300000000" not in header.replace('title="300000000"', "")


@pytest.mark.slow
@needs_chromium
def test_the_headline_report_draws_every_chart_and_leaves_its_first_screen_to_the_reader(
    headline, tmp_path
):
    path, page = headline
    charts = page.count('capplanEmbed("capplan-chart-')
    before, _, after = page.rpartition("</body>")
    measured = tmp_path / "measured.html"
    measured.write_text(before + _MEASURE + "</body>" + after, encoding="utf-8")
    dom, console = open_in_chromium(measured, budget_ms=30_000)
    assert console == []
    assert vega_views(dom) == charts >= 5
    assert "could not be drawn: " not in dom.replace('could not be drawn: " + error', "")
    box = re.search(r'data-capplan-header="([^"]+)"', dom)
    top, bottom, screen = (float(x) for x in box.group(1).split(","))
    # the title block first, and short: the rest of the first screen is the reader's
    assert 0 <= top < 100 and bottom < screen / 2, (top, bottom, screen)
    # the plan's summary (capplan.briefing) starts on the first screen
    summary_top = float(re.search(r'data-capplan-summary="([^"]+)"', dom).group(1))
    assert 0 <= summary_top < 0.75 * screen, (summary_top, screen)
    assert readable(page).count("<h1") == 1  # the notebook's title is the title block's

    png = tmp_path / "first-screen.png"
    assert screenshot_in_chromium(path, png, budget_ms=30_000) == []
    width, height, values = png_facts(png)
    assert (width, height) == SCREEN
    assert png.stat().st_size > 20_000 and values > 50  # a drawn page, not a blank one


def test_a_blank_page_is_told_from_a_drawn_one(tmp_path):
    # What png_facts reads: a uniform PNG has few byte values, one with content many.
    def png(rows: list[bytes], width: int) -> Path:
        raw = b"".join(b"\x00" + row for row in rows)
        ihdr = struct.pack(">IIBBBBB", width, len(rows), 8, 0, 0, 0, 0)  # 8-bit grey

        def chunk(kind, body):
            crc = zlib.crc32(kind + body)
            return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

        path = tmp_path / f"p{len(list(tmp_path.iterdir()))}.png"
        path.write_bytes(
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b"")
        )
        return path

    assert png_facts(png([b"\xff" * 64] * 32, 64)) == (64, 32, 2)
    assert png_facts(png([bytes(range(i, i + 64)) for i in range(32)], 64))[2] > 50


@pytest.mark.parametrize(
    ("name", "value", "note", "text"),
    [
        ("followers", 300_000_000, "followers of the host", "300 M"),
        ("registrations", 2_000_000, "", "2.0 M"),
        ("scheduled_start", "2025-06-14T21:00:00+02:00", "UTC", "2025-06-14 19:00 UTC"),
        ("level", 0.9, "level of the forecast intervals", "90%"),
        ("max_refused", 0.001, "at most this share of joins refused", "0.1%"),
        ("zone_loss", 1 / 3, "share of capacity that may be lost at once", "33.3%"),
        ("autoscaler_target", 0.6, "target utilisation of a reactive autoscaler", "60%"),
        ("wait_s", 2.0, "", "2 s"),
        ("instance_lead_time_s", 330, "", "5.5 min"),
        ("delay_min", 40, "", "40 min"),
        ("attack_rps", 5_000, "", "5,000/s"),
        ("max_added_per_min", 200, "", "200 per min"),
        ("join_price_per_hour", 0.68, "", "0.68 per hour"),
        ("tipping_attack_shares", [0.25, 0.5, 1.0], "", "25%, 50%, 100%"),
        ("tipping_durations_s", [15, 30, 60], "", "15 s, 30 s, 60 s"),
        ("method", "mol", "", "mol"),
        ("seed", 1, "", "1"),
        ("spare", 2, "", "2"),
    ],
)
def test_parameters_read_in_human_units(name, value, note, text):
    assert report._human(name, value, note) == text


TINY_PARAMETERS = """# The event
scheduled_start = "2025-06-14T19:00:00+00:00"  # UTC
followers = 300_000_000  # followers of the host

# Margins
zone_loss = 1 / 3  # share of capacity that may be lost at once
wait_s = 2.0  # a join should wait less than this (s)
"""


def tiny_notebook(folder: Path) -> Path:
    """A notebook of three code cells: parameters under two headings; a history loaded
    from files, a capplan warning, a progress bar and a print; a check that fails when
    there are a billion followers or more."""
    events, series = toy_tables()
    events.to_csv(folder / "events.csv", index=False)
    series.to_csv(folder / "series.csv", index=False)
    parameters = nbformat.v4.new_code_cell(TINY_PARAMETERS)
    parameters.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A tiny report"),
        parameters,
        nbformat.v4.new_code_cell(
            "import warnings\n"
            "from tqdm import tqdm\n"
            "import capplan\n"
            "from capplan.warnings import CovarianceWarning\n"
            f"history = capplan.load_history({str(folder / 'events.csv')!r}, "
            f"{str(folder / 'series.csv')!r})\n"
            'warnings.warn(CovarianceWarning("no standard errors for rise_s"))\n'
            'for _ in tqdm(range(3), desc="counting"):\n'
            "    pass\n"
            'print(f"followers: {followers:,}")'
        ),
        nbformat.v4.new_code_cell('assert followers < 1e9, "too many followers"'),
    ]
    path = folder / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny notebook's report, shared with one parameter given, and with its code."""
    folder = tmp_path_factory.mktemp("tiny")
    path = tiny_notebook(folder)
    shared = report.build_report(path, folder / "shared.html", {"followers": 2_000_000})
    full = report.build_report(path, folder / "full.html", with_code=True)
    return path, shared.read_text(encoding="utf-8"), full.read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_title_block_states_the_data_the_parameters_the_version_and_the_date(tiny):
    _, shared, full = tiny
    header = header_of(shared)
    assert re.search(
        r"Run \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC with capplan " + re.escape(capplan.__version__),
        header,
    )
    assert "<h1>A tiny report</h1>" in header and readable(shared).count("<h1") == 1
    assert "<code>tiny.ipynb</code>" in header
    assert "<code>events.csv</code> and <code>series.csv</code>" in header
    assert "<strong>3 events</strong>" in header
    # in human units, under the parameters cell's headings, with their comments
    for text in ("2025-06-14 19:00 UTC", "33.3%", "2 s", "The event", "Margins", "(s)"):
        assert text in header, text
    assert "followers of the host (set for this run)" in header
    assert "set for this run: <code>followers</code> 2.0 M" in header
    assert '<td title="2000000">2.0 M</td>' in header
    assert '<td title="0.3333333333333333">33.3%</td>' in header
    full_header = header_of(full)
    assert "300 M" in full_header and "the notebook's defaults" in full_header


@pytest.mark.slow
def test_the_shared_version_leaves_the_code_out_and_with_code_shows_it(tiny):
    _, shared, full = tiny
    assert "The shared version" in header_of(shared) and "jp-InputArea-editor" not in readable(
        shared
    )
    assert "The full analysis" in header_of(full) and "jp-InputArea-editor" in readable(full)
    assert "too many followers" in full and "too many followers" not in shared
    assert "followers: 2,000,000" in shared and "followers: 300,000,000" in full


@pytest.mark.slow
def test_a_capplan_warning_is_a_note_and_progress_bars_are_dropped(tiny):
    _, shared, _ = tiny
    text = readable(shared)
    assert (
        '<div class="capplan-note" role="note"><strong>Note.</strong> '
        "no standard errors for rise_s</div>"
    ) in text
    assert "Warning" not in text and "vnd.jupyter.stderr" not in text
    assert "counting" not in text and "%|" not in text


@pytest.mark.slow
def test_a_failing_cell_is_named_as_the_planner_counts_it(tiny, tmp_path):
    path, _, _ = tiny  # cell 1 is the parameters; the report's cells and papermill's not counted
    with pytest.raises(
        ValueError, match=r"^tiny\.ipynb failed in cell 3: AssertionError: too many"
    ):
        report.build_report(path, tmp_path / "r.html", {"followers": 2_000_000_000})


def test_notebooks_are_the_checkouts_when_capplan_runs_from_a_checkout():
    assert report.notebooks_dir() == Path(__file__).resolve().parents[1] / "notebooks"
    assert (report.notebooks_dir() / report.DEFAULT_NOTEBOOK).is_file()


def cli(capsys, *args) -> tuple[int, str, str]:
    """``capplan ARGS`` in this process: its exit code, stdout and stderr."""
    from capplan.cli import main

    try:
        code = main(list(args))
    except SystemExit as stop:  # argparse's usage errors
        code = stop.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_capplan_notebooks_copies_them_out_and_overwrites_only_with_force(tmp_path, capsys):
    target = tmp_path / "mine"
    names = sorted(p.name for p in report.notebooks_dir().glob("*.ipynb"))
    original = (report.notebooks_dir() / report.DEFAULT_NOTEBOOK).read_bytes()
    code, out, err = cli(capsys, "notebooks", str(target))
    assert code == 0, err
    assert sorted(p.name for p in target.iterdir()) == names
    headline = target / report.DEFAULT_NOTEBOOK
    assert headline.read_bytes() == original
    assert f"capplan report {headline}" in out

    headline.write_text("edited", encoding="utf-8")
    code, out, err = cli(capsys, "notebooks", str(target))
    assert code == 2 and out == ""
    (line,) = err.splitlines()
    assert line.startswith(f"capplan notebooks: error: {target} already has {names[0]}, ")
    assert line.endswith("; nothing copied (--force overwrites them)")
    assert headline.read_text(encoding="utf-8") == "edited"  # nothing was copied

    code, out, err = cli(capsys, "notebooks", str(target), "--force")
    assert code == 0, err
    assert headline.read_bytes() == original

    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    code, out, err = cli(capsys, "notebooks", str(tmp_path / "a-file"))
    assert code == 2
    assert err.splitlines() == [
        f"capplan notebooks: error: {tmp_path / 'a-file'} is a file; give a folder to copy into"
    ]


def test_report_options_with_code_and_the_old_no_input_are_exclusive(capsys):
    code, _, err = cli(capsys, "report", "--with-code", "--no-input")
    assert code == 2 and "not allowed with argument" in err


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
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    (line,) = lines
    assert re.fullmatch(
        r"capplan report: error: 03_plan_headline_event\.ipynb failed in cell \d+: "
        r"TypeError: level must be .*, got 'high'",
        line,
    ), line
