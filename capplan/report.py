"""Shareable HTML reports: run a notebook with its parameters and export one HTML file that
opens anywhere, with no network.

:func:`build_report` runs a notebook with papermill, then exports it with nbconvert's
``lab`` template, changed in three ways:

- the title, the date, the capplan version and the parameters used stand at the top;
- the Vega, Vega-Lite and Vega-Embed libraries (one bundle from vl-convert) are inlined
  once in the head, and every Vega-Lite output is drawn from its spec by ``vegaEmbed``;
- nothing is loaded from elsewhere: no require.js, MathJax or mermaid from a CDN.

The command line is ``capplan report [NOTEBOOK] [-p NAME VALUE ...] [-o OUT.html]
[--no-input]``.
"""

from __future__ import annotations

import ast
import html
import json
import re
import tempfile
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

__all__ = ["DEFAULT_NOTEBOOK", "build_report", "count_charts", "notebooks_dir", "parse_value"]

DEFAULT_NOTEBOOK = "03_plan_headline_event.ipynb"

#: Output types drawn by vegaEmbed, before anything else a chart offers.
VEGA_MIMETYPES = [
    f"application/vnd.{kind}.v{major}+json"
    for kind, majors in (("vegalite", (6, 5, 4, 3)), ("vega", (6, 5, 4)))
    for major in majors
]

#: Text that must not appear in a report: a script or style fetched from elsewhere.
EXTERNAL = re.compile(
    r"""(?:<script[^>]*\ssrc\s*=\s*["']?(?:https?:)?//|<link[^>]*\shref\s*=\s*["']?(?:https?:)?//"""
    r"""|cdn\.jsdelivr|cdnjs\.|unpkg\.com|require\.js)""",
    re.IGNORECASE,
)

_SETUP_TAG = "capplan-report-setup"
_SETUP_SOURCE = """import altair

_major = altair.SCHEMA_VERSION.lstrip("v").split(".")[0]
altair.renderers.register(
    "capplan-report",
    lambda spec, **_: {f"application/vnd.vegalite.v{_major}+json": spec, "text/plain": "<chart>"},
)
altair.renderers.enable("capplan-report")
"""

_TEMPLATE = r"""
{%- extends 'index.html.j2' -%}

{%- block html_head_js_requirejs -%}
<script type="text/javascript">
// Charts wait here until the bundle (a module, so it runs after the page is parsed) is ready.
window.capplanPending = [];
function capplanDraw(id, spec) {
  var target = document.getElementById(id);
  window.vegaEmbed(target, spec, {renderer: "svg", actions: false}).catch(function (error) {
    target.textContent = "This chart could not be drawn: " + error;
  });
}
function capplanEmbed(id, spec) {
  if (window.vegaEmbed) { capplanDraw(id, spec); } else { window.capplanPending.push([id, spec]); }
}
</script>
<script type="module">
{{ resources.capplan_vega_bundle }}
</script>
{%- endblock html_head_js_requirejs -%}

{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}

{%- block extra_css -%}
<style type="text/css">
.capplan-report-header { margin: 1em 0 2em; padding: 0.5em 1em; border-left: 4px solid #4c78a8; }
.capplan-report-header h1 { margin-top: 0.2em; }
.capplan-report-header table { border-collapse: collapse; font-size: 0.9em; }
.capplan-report-header td,
.capplan-report-header th { padding: 0.1em 0.8em 0.1em 0; text-align: left; }
.capplan-report-header code { font-size: 0.95em; }
.capplan-vega { overflow-x: auto; }
</style>
{%- endblock extra_css -%}

{%- block body_header -%}
{{ super() }}
{{ resources.capplan_header }}
{%- endblock body_header -%}

"""


def notebooks_dir() -> Path:
    """The ``notebooks/`` folder of the checkout capplan runs from."""
    return Path(__file__).resolve().parents[1] / "notebooks"


def parse_value(text: str):
    """A command-line parameter value: a Python literal (number, True, None, list, quoted
    string) if it reads as one, else the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


@lru_cache(maxsize=1)
def _vega_bundle() -> str:
    import altair as alt
    import vl_convert

    wanted = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    known = [v.lstrip("v") for v in vl_convert.get_vegalite_versions()]
    # The bundle is an ES module: the snippet hands vegaEmbed to the page and draws the
    # charts that were queued while the page was parsed.
    snippet = (
        "window.vegaEmbed = vegaEmbed;"
        "window.capplanPending.forEach(function (p) { capplanDraw(p[0], p[1]); });"
        "window.capplanPending = [];"
    )
    bundle = vl_convert.javascript_bundle(snippet, vl_version=wanted if wanted in known else None)
    return bundle.replace("</script", "<\\/script")  # keep the script element closed once


def _resolve_notebook(notebook) -> Path:
    if notebook is None:
        path = notebooks_dir() / DEFAULT_NOTEBOOK
    else:
        path = Path(notebook)
        if not path.exists() and not path.is_absolute() and (notebooks_dir() / path).exists():
            path = notebooks_dir() / path  # a name such as 04_what_if.ipynb
    if path.suffix != ".ipynb":
        raise ValueError(f"notebook must be an .ipynb file; got {str(path)!r}")
    if not path.is_file():
        raise FileNotFoundError(
            f"notebook {str(path)!r} not found (give a path, or a name in {notebooks_dir()})"
        )
    return path


def _title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _header(title: str, built: datetime, version: str, source: str, parameters: dict) -> str:
    rows = "".join(
        f"<tr><th><code>{html.escape(name)}</code></th><td><code>{html.escape(value)}</code>"
        f"</td><td>{html.escape(note)}</td></tr>"
        for name, (value, note) in parameters.items()
    )
    table = (
        f"<table><tr><th>parameter</th><th>value</th><th></th></tr>{rows}</table>"
        if rows
        else "<p>This notebook takes no parameters.</p>"
    )
    return (
        '<header class="capplan-report-header">'
        f"<h1>{html.escape(title)}</h1>"
        f"<p>Built {built:%Y-%m-%d %H:%M} UTC with capplan {html.escape(version)} from "
        f"<code>{html.escape(source)}</code>.</p>"
        f"<h3>Parameters</h3>{table}</header>"
    )


def build_report(
    notebook=None,
    output=None,
    parameters: dict | None = None,
    *,
    include_input: bool = True,
    kernel_name: str = "python3",
    progress: bool = False,
) -> Path:
    """Run a notebook with ``parameters`` and write one self-contained HTML report.

    Parameters
    ----------
    notebook : str or Path, optional
        The notebook (a path, or a name in the checkout's ``notebooks/``); by default
        ``03_plan_headline_event.ipynb``, the headline-event plan.
    output : str or Path, optional
        The HTML file to write; by default ``reports/<notebook name>.html`` under the
        current folder.
    parameters : dict, optional
        Values for the notebook's ``parameters`` cell (papermill); names it does not
        have are an error.
    include_input : bool, default True
        Show the code cells; False keeps the prose and the outputs only.
    kernel_name : str, default "python3"
    progress : bool, default False
        A progress bar over the notebook's cells (papermill's, on stderr).

    Returns
    -------
    pathlib.Path
        The report written.

    Raises
    ------
    FileNotFoundError
        The notebook does not exist.
    ValueError
        A parameter the notebook does not have; the notebook failing while it runs
        (the message names the cell and the error).
    """
    import nbformat
    import papermill
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    import capplan

    path = _resolve_notebook(notebook)
    parameters = dict(parameters or {})
    declared = papermill.inspect_notebook(str(path))
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        have = ", ".join(declared) or "none"
        raise ValueError(
            f"{path.name} has no parameter {', '.join(unknown)} (its parameters: {have})"
        )
    output = Path(output) if output is not None else Path("reports") / f"{path.stem}.html"
    if output.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"output must be an .html file; got {str(output)!r}")

    built = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        # Charts as Vega-Lite specs (altair's default output is HTML loading from a CDN):
        # a first cell, run and then removed, makes altair emit the spec itself.
        source_nb = nbformat.read(path, as_version=4)
        setup = nbformat.v4.new_code_cell(_SETUP_SOURCE)
        setup.metadata["tags"] = [_SETUP_TAG]
        source_nb.cells.insert(0, setup)
        prepared = Path(tmp) / f"prepared-{path.name}"
        nbformat.write(source_nb, prepared)
        executed = Path(tmp) / path.name
        # The kernel talks over local sockets in `tmp` (IPC), not unencrypted TCP, which
        # the kernel would warn about on stderr.
        kernel = Config()
        kernel.KernelManager.transport = "ipc"
        kernel.KernelManager.ip = str(Path(tmp) / "kernel")
        try:
            papermill.execute_notebook(
                str(prepared),
                str(executed),
                parameters=parameters,
                cwd=str(path.parent),
                kernel_name=kernel_name,
                progress_bar=progress,
                log_output=False,
                config=kernel,
            )
        except papermill.PapermillExecutionError as error:
            raise ValueError(
                f"{path.name} failed in cell {error.exec_count}: {error.ename}: {error.evalue}"
            ) from error
        nb = nbformat.read(executed, as_version=4)
    nb.cells = [c for c in nb.cells if _SETUP_TAG not in c.metadata.get("tags", [])]

    used = {}
    for name, info in declared.items():
        if name in parameters:
            used[name] = (repr(parameters[name]), "given")
        else:
            used[name] = (str(info["default"]), info.get("help") or "default")
    for n, (_cell, out, mimetype) in enumerate(_vega_outputs(nb)):
        spec = json.dumps(out["data"][mimetype]).replace("</", "<\\/")
        div = f"capplan-chart-{n}"
        out["data"] = {
            "text/html": f'<div id="{div}" class="capplan-vega" data-mime-type="{mimetype}">'
            f'</div>\n<script type="text/javascript">capplanEmbed("{div}", {spec});</script>'
        }
    title = _title(nb, path.stem)
    nb.metadata["title"] = title

    config = Config()
    config.HTMLExporter.exclude_input = not include_input
    config.HTMLExporter.exclude_input_prompt = not include_input
    config.HTMLExporter.exclude_output_prompt = not include_input
    config.NbConvertBase.display_data_priority = [
        *VEGA_MIMETYPES,
        "text/html",
        "text/markdown",
        "image/svg+xml",
        "text/latex",
        "image/png",
        "image/jpeg",
        "text/plain",
    ]
    exporter = HTMLExporter(
        config=config,
        template_name="lab",
        extra_loaders=[DictLoader({"capplan_report.html.j2": _TEMPLATE})],
    )
    exporter.template_file = "capplan_report.html.j2"
    resources = {
        "capplan_vega_bundle": _vega_bundle(),
        "capplan_vega_mimetypes": VEGA_MIMETYPES,
        "capplan_header": _header(title, built, capplan.__version__, path.name, used),
        "metadata": {"name": title},
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    leak = EXTERNAL.search(body)
    if leak:  # a guarantee of the report, not a user error
        raise RuntimeError(f"the report would load something from the network: {leak.group(0)!r}")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(body, encoding="utf-8")
    return output


def _vega_outputs(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            for out in cell.get("outputs", []):
                for mimetype in VEGA_MIMETYPES:
                    if mimetype in out.get("data", {}):
                        yield cell, out, mimetype
                        break


def count_charts(nb) -> int:
    """Vega and Vega-Lite outputs in an executed notebook (for tests and checks)."""
    return sum(1 for _ in _vega_outputs(nb))
