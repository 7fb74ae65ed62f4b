"""Shareable HTML reports: run a notebook with its parameters and export one HTML file that
opens anywhere, with no network.

:func:`build_report` runs a notebook with papermill, then exports it with nbconvert's
``lab`` template, changed in three ways:

- a title block stands first: the data the notebook read (each history, with its number
  of events), the parameters it ran with (in human units), the capplan version and the
  date of the run;
- the Vega, Vega-Lite and Vega-Embed libraries (one bundle from vl-convert) are inlined
  once in the head, and every Vega-Lite output is drawn from its spec by ``vegaEmbed``;
- nothing is loaded from elsewhere: no require.js, MathJax or mermaid from a CDN.

What is shared leaves the code out (``with_code=False``, the default) and shows no
stderr text: capplan's caveats about a fit (a :class:`~capplan.warnings.CapplanWarning`)
become a note in the cell that raised them, and progress bars are dropped; any other
stderr output stays, for a test to catch.

The notebooks are the checkout's ``notebooks/`` when capplan runs from a checkout, and
the copy a wheel carries inside the package when installed (:func:`notebooks_dir`);
:func:`copy_notebooks` (``capplan notebooks DIR``) copies them out to edit.

The command line is ``capplan report [NOTEBOOK] [-p NAME VALUE ...] [-o OUT.html]
[--with-code]``.
"""

from __future__ import annotations

import ast
import html
import json
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from capplan._files import staged

__all__ = [
    "DEFAULT_NOTEBOOK",
    "build_report",
    "copy_notebooks",
    "count_charts",
    "notebooks_dir",
    "parse_value",
]

DEFAULT_NOTEBOOK = "03_plan_headline_event.ipynb"

_PACKAGE = Path(__file__).resolve().parent
#: Where a wheel carries the checkout's notebooks/ (pyproject.toml's force-include).
PACKAGED_NOTEBOOKS = _PACKAGE / "_notebooks"

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

_SETUP_TAG = "capplan-report-setup"  # cells the report adds, runs and removes
_PARAMETERS_TAG = "parameters"
_INJECTED_TAG = "injected-parameters"  # papermill's

#: jsonschema, imported by nbformat and altair, builds 38 IRI grammars with lark from this
#: package when it is imported (about 1.7 s) for a string format nothing in a report checks.
#: A process that is the report's alone (its kernel, ``capplan report``) goes without it:
#: ``sys.modules[IRI_GRAMMARS] = None`` before jsonschema is imported.
IRI_GRAMMARS = "rfc3987_syntax"

# The first cell: charts as Vega-Lite specs (altair's default output is HTML loading from
# a CDN), capplan's caveats as notes instead of stderr text, and a record of each history
# the notebook loads through capplan's loaders (one JSON line each, into DATA_LOG).
_SETUP_SOURCE = r"""def _capplan_report_setup(data_log):
    import functools
    import html
    import inspect
    import json
    import math
    import os
    import sys
    import warnings

    sys.modules.setdefault(IRI_GRAMMARS, None)  # the kernel is the report's alone
    import altair
    import capplan
    import capplan.data
    from capplan.warnings import CapplanWarning
    from IPython.display import HTML, display

    major = altair.SCHEMA_VERSION.lstrip("v").split(".")[0]
    altair.renderers.register(
        "capplan-report",
        lambda spec, **_: {f"application/vnd.vegalite.v{major}+json": spec,
                           "text/plain": "<chart>"},
    )
    altair.renderers.enable("capplan-report")

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, CapplanWarning):
            display(HTML('<div class="capplan-note" role="note"><strong>Note.</strong> '
                         + html.escape(str(message)) + "</div>"))
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show

    def describe(history):
        starts = history.events["scheduled_start"]
        steps = {history.interval(e) for e in history.event_ids}
        return {
            "events": len(history.events),
            "first": f"{starts.min():%Y-%m-%d}",
            "last": f"{starts.max():%Y-%m-%d}",
            "measured": history.measured,
            "intervals_s": sorted(x for x in steps if not math.isnan(x)),
        }

    def watch(name, loader):
        @functools.wraps(loader)
        def load(*args, **kwargs):
            history = loader(*args, **kwargs)
            if isinstance(history, capplan.History):
                try:
                    bound = inspect.signature(loader).bind_partial(*args, **kwargs).arguments
                except TypeError:
                    bound = {}
                entry = {
                    "loader": name,
                    "doc": (loader.__doc__ or "").strip().split("\n")[0],
                    "files": [os.fspath(v) for v in bound.values()
                              if isinstance(v, (str, os.PathLike))],
                    **describe(history),
                }
                with open(data_log, "a", encoding="utf-8") as log:
                    log.write(json.dumps(entry) + "\n")
            return history
        return load

    wrapped = {}
    for module in (capplan, capplan.data):
        for name in dir(module):
            loader = getattr(module, name)
            if name.endswith("_history") and callable(loader):
                wrapped.setdefault(name, watch(name, loader))
                setattr(module, name, wrapped[name])


_capplan_report_setup(DATA_LOG)
del _capplan_report_setup
"""

# After the parameters (and papermill's injected cell): the values the notebook runs with.
_VALUES_SOURCE = r"""def _capplan_report_values(names, path):
    import json

    values = {name: globals()[name] for name in names if name in globals()}
    with open(path, "w", encoding="utf-8") as out:
        json.dump(values, out, default=repr)


_capplan_report_values(NAMES, VALUES_LOG)
del _capplan_report_values
"""

#: One text progress bar of tqdm's, as it reaches a stream: ``desc: 50%|███ | 1/2 [...]``.
_PROGRESS_LINE = re.compile(r"^(?:.*: )?\s*\d{1,3}%\|[^|]*\|\s*\S+/\S+\s*\[[^\]]*\]\s*$")

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
.capplan-report-header p { margin: 0.3em 0; }
.capplan-report-header ul { margin: 0.2em 0; padding-left: 1.4em; }
.capplan-report-header summary { cursor: pointer; margin: 0.3em 0; }
.capplan-report-header .capplan-given { font-weight: bold; }
.capplan-report-header tr.capplan-group th { padding-top: 0.6em; font-style: italic; }
.capplan-note { margin: 0.3em 0; padding: 0.3em 0.8em; border-left: 4px solid #e4a33a;
  background: #fdf6e3; }
.capplan-vega { overflow-x: auto; }
</style>
{%- endblock extra_css -%}

{%- block body_header -%}
{{ super() }}
{{ resources.capplan_header }}
{%- endblock body_header -%}

"""


def notebooks_dir() -> Path:
    """The folder of capplan's notebooks.

    From a checkout (an editable install included), the checkout's ``notebooks/``: the
    notebooks planners edit and CI runs. Installed from a wheel, the copy it carries
    inside the package (``capplan/_notebooks``).

    Raises
    ------
    FileNotFoundError
        Neither holds the notebooks (an installation built without them).
    """
    checkout = _PACKAGE.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "notebooks").is_dir():
        return checkout / "notebooks"
    if PACKAGED_NOTEBOOKS.is_dir():
        return PACKAGED_NOTEBOOKS
    raise FileNotFoundError(
        f"capplan's notebooks were not found in {checkout / 'notebooks'} or "
        f"{PACKAGED_NOTEBOOKS}; reinstall capplan from a wheel or a checkout"
    )


def copy_notebooks(destination, *, force: bool = False) -> list[Path]:
    """Copy capplan's notebooks into ``destination`` for a planner to edit and run
    (``capplan report DESTINATION/03_plan_headline_event.ipynb``).

    Parameters
    ----------
    destination : str or Path
        A folder; made if missing.
    force : bool, default False
        Overwrite notebooks already there; without it, any existing one is an error and
        nothing is copied.

    Returns
    -------
    list of pathlib.Path
        The notebooks written, in name order.

    Raises
    ------
    FileExistsError
        A notebook of the same name is already in ``destination`` (and not ``force``).
    NotADirectoryError
        ``destination`` is a file.
    """
    destination = Path(destination)
    if destination.exists() and not destination.is_dir():
        raise NotADirectoryError(f"{destination} is a file; give a folder to copy into")
    parent = destination.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise NotADirectoryError(f"{destination}: {parent} is a file, not a folder to copy into")
    sources = sorted(notebooks_dir().glob("*.ipynb"))
    targets = [destination / source.name for source in sources]
    there = [target for target in targets if target.exists()]
    if there and not force:
        names = ", ".join(target.name for target in there)
        raise FileExistsError(
            f"{destination} already has {names}; nothing copied (force=True overwrites them)"
        )
    destination.mkdir(parents=True, exist_ok=True)
    with staged(*targets) as temporaries:  # all of them, or none
        for source, temporary in zip(sources, temporaries, strict=True):
            shutil.copyfile(source, temporary)
    return targets


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


def _parameter_groups(nb) -> dict[str, str]:
    """Each parameter's heading in the parameters cell: the comment line above its group
    (``# Service level (SLO)``), or "" before the first heading."""
    groups, heading = {}, ""
    for cell in nb.cells:
        if cell.cell_type == "code" and _PARAMETERS_TAG in cell.metadata.get("tags", []):
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    heading = line.lstrip("#").strip()
                elif match := re.match(r"([A-Za-z_]\w*)\s*(?::[^=]*)?=", line):
                    groups[match.group(1)] = heading
            break
    return groups


def _is_share(name: str, note: str) -> bool:
    words = set(name.lower().split("_"))
    return bool(
        words & {"level", "fraction", "share", "shares", "loss", "refused", "target"}
        or re.search(r"\b(share|utili[sz]ation|fraction)\b", note.lower())
    )


def _human(name: str, value, note: str = "") -> str:
    """A parameter's value in human units (:func:`capplan._text.human`), its unit read from
    its name and its comment: seconds for ``*_s``, minutes for ``*_min``, per second for
    ``*_rps``, a percentage for shares and levels, "per ..." for ``*_per_*``, UTC wall
    time for a timestamp, M and k for counts."""
    from capplan._text import human, human_number, human_time

    if isinstance(value, (list, tuple)):
        return ", ".join(_human(name, item, note) for item in value) or "none"
    if value is None:
        return "none"
    if isinstance(value, str):
        if re.match(r"\d{4}-\d{2}-\d{2}[T ]\d", value):
            try:
                return human_time(value)
            except ValueError:
                return value
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return human(value)
    if name.endswith(("_rps", "_per_s")):
        return human(value, "/s")
    if "_per_" in name:
        return f"{human_number(value)} per {name.split('_per_', 1)[1].replace('_', ' ')}"
    if name.endswith("_s"):
        return human(value, "s")
    if name.endswith("_min"):
        return human(value * 60, "s")
    if 0 <= value <= 1 and _is_share(name, note):
        return human(value, "share")
    return human(value)


def _data_item(entry: dict) -> str:
    if entry["loader"] == "load_history" or not entry["doc"]:
        what = " and ".join(f"<code>{html.escape(Path(f).name)}</code>" for f in entry["files"])
        what = (what or "tables") + f" (<code>capplan.{html.escape(entry['loader'])}</code>)"
    else:
        doc = re.sub(r"\s*\(see [^)]*\)", "", entry["doc"].replace("``", "")).rstrip(".")
        what = f"<code>capplan.{html.escape(entry['loader'])}()</code>: {html.escape(doc)}"
    from capplan._text import human

    steps = entry.get("intervals_s") or []
    step = (
        f", every {human(steps[0], 's')}"
        if len(steps) == 1
        else f", every {human(steps[0], 's')} to {human(steps[-1], 's')}"
        if steps
        else ""
    )
    events = entry["events"]
    dates = (
        entry["first"]
        if entry["first"] == entry["last"]
        else f"{entry['first']} to {entry['last']}"
    )
    return (
        f"<li>{what}: <strong>{events:,} event{'s' if events != 1 else ''}</strong> "
        f"({dates}; {html.escape(', '.join(entry['measured']))}{step})</li>"
    )


def _read_data_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    entries, seen = [], set()
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        key = (entry["loader"], tuple(entry["files"]))
        if key not in seen:
            seen.add(key)
            entries.append(entry)
    return entries


def _drop_progress_bars(nb) -> None:
    """Remove stderr text that is only progress bars: progress says nothing to a reader."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                lines = [x for x in re.split(r"[\r\n]+", out.get("text", "")) if x.strip()]
                if all(_PROGRESS_LINE.match(x) for x in lines):
                    continue
            kept.append(out)
        cell["outputs"] = kept


def _code_cell_number(cells: list, index: int) -> int:
    """The failing cell as the planner counts it in the notebook: its place among the
    notebook's own code cells (the cells the report and papermill add not counted)."""
    added = {_SETUP_TAG, _INJECTED_TAG}
    return sum(
        1
        for cell in cells[: index + 1]
        if cell.cell_type == "code" and not added & set(cell.metadata.get("tags", []))
    )


def _title(nb, fallback: str) -> str:
    """The notebook's first ``# `` heading, taken out of its cell (the title block shows
    it); ``fallback`` when it has none."""
    for n, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            lines = cell.source.splitlines()
            for i, line in enumerate(lines):
                if line.startswith("# "):
                    rest = "\n".join(lines[:i] + lines[i + 1 :]).strip("\n")
                    if rest.strip():
                        cell.source = rest
                    else:
                        del nb.cells[n]
                    return line[2:].strip()
    return fallback


def _header(
    title: str,
    built: datetime,
    version: str,
    source: str,
    parameters: list[tuple],
    data: list[dict],
    with_code: bool,
) -> str:
    """The title block: what the report was run on, with, and when."""
    run = (
        f"<p>Run {built:%Y-%m-%d %H:%M} UTC with capplan {html.escape(version)}, notebook "
        f"<code>{html.escape(source)}</code>. "
        + (
            "The full analysis, its code included."
            if with_code
            else "The shared version: the code is left out "
            "(<code>capplan report --with-code</code> shows it)."
        )
        + "</p>"
    )
    items = "".join(_data_item(entry) for entry in data)
    data_block = (
        f"<p><strong>Data</strong></p><ul>{items}</ul>"
        if items
        else "<p><strong>Data</strong>: no history loaded through capplan's loaders.</p>"
    )
    if not parameters:
        return (
            f'<header class="capplan-report-header"><h1>{html.escape(title)}</h1>{run}'
            f"{data_block}<p><strong>Parameters</strong>: this notebook takes none.</p>"
            "</header>"
        )
    given = [
        (name, value) for _group, name, value, _exact, _note, is_given in parameters if is_given
    ]
    said = (
        "set for this run: "
        + "; ".join(f"<code>{html.escape(n)}</code> {html.escape(v)}" for n, v in given)
        if given
        else "the notebook's defaults"
    )
    rows, group = [], None
    for heading, name, value, exact, note, is_given in parameters:
        if heading != group and heading:
            rows.append(
                f'<tr class="capplan-group"><th colspan="3">{html.escape(heading)}</th></tr>'
            )
        group = heading
        mark = ' class="capplan-given"' if is_given else ""
        flag = " (set for this run)" if is_given else ""
        rows.append(
            f"<tr{mark}><th><code>{html.escape(name)}</code></th>"
            f'<td title="{html.escape(exact)}">{html.escape(value)}</td>'
            f"<td>{html.escape(note)}{flag}</td></tr>"
        )
    return (
        f'<header class="capplan-report-header"><h1>{html.escape(title)}</h1>{run}{data_block}'
        f"<details><summary><strong>Parameters</strong> ({len(parameters)}): {said}</summary>"
        f"<table><tr><th>parameter</th><th>value</th><th>what it is</th></tr>"
        f"{''.join(rows)}</table></details></header>"
    )


def build_report(
    notebook=None,
    output=None,
    parameters: dict | None = None,
    *,
    with_code: bool = False,
    kernel_name: str = "python3",
    progress: bool = False,
) -> Path:
    """Run a notebook with ``parameters`` and write one self-contained HTML report.

    Parameters
    ----------
    notebook : str or Path, optional
        The notebook (a path, or a name in :func:`notebooks_dir`); by default
        ``03_plan_headline_event.ipynb``, the headline-event plan.
    output : str or Path, optional
        The HTML file to write; by default ``reports/<notebook name>.html`` under the
        current folder.
    parameters : dict, optional
        Values for the notebook's ``parameters`` cell (papermill); names it does not
        have are an error.
    with_code : bool, default False
        Show the code cells (the full analysis); by default the version that is shared:
        the prose and the outputs only.
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
    # What a planner gave is checked before the minutes of work, and before the imports.
    path = _resolve_notebook(notebook)
    output = Path(output) if output is not None else Path("reports") / f"{path.stem}.html"
    _check_output(output)
    parameters = dict(parameters or {})

    import nbformat
    import papermill
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    import capplan

    try:
        declared = papermill.inspect_notebook(str(path))
    except (ValueError, KeyError, TypeError, AttributeError) as error:  # not a notebook's JSON
        message = " ".join(str(error).split())[:300]
        raise ValueError(f"{path}: not a readable notebook ({message})") from None
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        have = ", ".join(declared) or "none"
        raise ValueError(
            f"{path.name} has no parameter {', '.join(unknown)} (its parameters: {have})"
        )

    built = datetime.now(UTC)
    # The charts' JavaScript is bundled (seconds) while the notebook runs in its kernel.
    pool = ThreadPoolExecutor(1)
    bundling = pool.submit(_vega_bundle)
    pool.shutdown(wait=False)  # the bundle is still made; its thread ends with it
    with tempfile.TemporaryDirectory() as tmp:
        # Cells run and then removed: a first one (charts as Vega-Lite specs, caveats as
        # notes, a record of the histories loaded) and one after the parameters (their
        # values, as the notebook runs with them).
        source_nb = nbformat.read(path, as_version=4)
        groups = _parameter_groups(source_nb)
        data_log, values_log = Path(tmp) / "data.jsonl", Path(tmp) / "values.json"
        setup = nbformat.v4.new_code_cell(
            _SETUP_SOURCE.replace("DATA_LOG", repr(str(data_log))).replace(
                "IRI_GRAMMARS", repr(IRI_GRAMMARS)
            )
        )
        setup.metadata["tags"] = [_SETUP_TAG]
        at = next(
            (
                i + 1
                for i, cell in enumerate(source_nb.cells)
                if _PARAMETERS_TAG in cell.metadata.get("tags", [])
            ),
            None,
        )
        if at is not None:
            values = nbformat.v4.new_code_cell(
                _VALUES_SOURCE.replace("NAMES", repr(list(declared))).replace(
                    "VALUES_LOG", repr(str(values_log))
                )
            )
            values.metadata["tags"] = [_SETUP_TAG]
            source_nb.cells.insert(at, values)
        source_nb.cells.insert(0, setup)
        # The cells as papermill runs them (its injected cell after the parameters), to
        # name a failing cell as the planner counts it.
        layout = list(source_nb.cells)
        if parameters:
            injected = nbformat.v4.new_code_cell("")
            injected.metadata["tags"] = [_INJECTED_TAG]
            layout.insert(at if at is not None else 0, injected)
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
                # Saved once at the end, not after each cell: each save rewrites (and
                # validates) every chart so far, about half a second a cell.
                request_save_on_cell_execute=False,
                # jupyter_client interrupts the kernel before it shuts it down; one that is
                # still busy then logs "KeyboardInterrupt caught in kernel" on stderr. The
                # kernel's own log says nothing a report's reader needs (a kernel that dies
                # fails the run with papermill's error).
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
                config=kernel,
            )
        except papermill.PapermillExecutionError as error:
            cell = _code_cell_number(layout, error.cell_index)
            raise ValueError(
                f"{path.name} failed in cell {cell}: {error.ename}: {error.evalue}"
            ) from error
        nb = nbformat.read(executed, as_version=4)
        data = _read_data_log(data_log)
        ran_with = json.loads(values_log.read_text(encoding="utf-8")) if at is not None else {}
    nb.cells = [c for c in nb.cells if _SETUP_TAG not in c.metadata.get("tags", [])]
    _drop_progress_bars(nb)

    used = []  # (heading, name, in human units, exactly, comment, given for this run)
    for name, info in declared.items():
        note = info.get("help") or ""
        if name in ran_with:
            value = ran_with[name]
            exact = repr(value)
        else:  # not a plain value after all: as the notebook writes it
            value = parameters.get(name, info["default"])
            exact = value if isinstance(value, str) else repr(value)
        used.append(
            (groups.get(name, ""), name, _human(name, value, note), exact, note, name in parameters)
        )
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
    config.HTMLExporter.exclude_input = not with_code
    config.HTMLExporter.exclude_input_prompt = not with_code
    config.HTMLExporter.exclude_output_prompt = not with_code
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
        "capplan_vega_bundle": bundling.result(),
        "capplan_vega_mimetypes": VEGA_MIMETYPES,
        "capplan_header": _header(
            title, built, capplan.__version__, path.name, used, data, with_code
        ),
        "metadata": {"name": title},
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    leak = EXTERNAL.search(body)
    if leak:  # a guarantee of the report, not a user error
        raise RuntimeError(f"the report would load something from the network: {leak.group(0)!r}")
    output.parent.mkdir(parents=True, exist_ok=True)
    with staged(output) as (temporary,):  # a failed write leaves an earlier report whole
        temporary.write_text(body, encoding="utf-8")
    return output


def _check_output(output: Path) -> None:
    """Refuse, before any work, an output the report could not be written to."""
    if output.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"output must be an .html file; got {str(output)!r}")
    if output.is_dir():
        raise ValueError(f"output {str(output)!r} is a folder; give an .html file")
    parent = output.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"output {str(output)!r}: {parent} is a file, not a folder")


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
