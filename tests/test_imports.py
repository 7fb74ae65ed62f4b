"""No import circle among capplan's modules.

Each module's module-level imports (those that run when it is imported: not inside a
function, not under ``if TYPE_CHECKING:``) are read with :mod:`ast`. Importing
``a.b.c`` also runs the packages ``a`` and ``a.b`` first, unless the importer is inside
them (then they are already being imported), so those count as edges too. The graph of
capplan modules must be acyclic: a result imports its chart inside ``chart()``, and the
charts import the results.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "capplan"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(body: list[ast.stmt]):
    """Import statements that run at import time (classes' bodies included, functions' not)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _type_checking(node.test):
                yield from _top_level_imports(node.body)
            yield from _top_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _top_level_imports(block)
            for handler in node.handlers:
                yield from _top_level_imports(handler.body)
        elif isinstance(node, ast.With | ast.ClassDef):
            yield from _top_level_imports(node.body)


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The capplan modules an import statement in ``module`` names."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names}
    if node.level:  # relative: from the importer's package, up level - 1
        package = module if _is_package(module) else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{node.module}" if node.module else package
    else:
        base = node.module or ""
    return {base} | {f"{base}.{a.name}" for a in node.names}


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        edges = set()
        for node in _top_level_imports(tree.body):
            for target in _targets(module, node):
                if target not in MODULES:
                    continue
                mine = set(_ancestors(module)) | ({module} if _is_package(module) else set())
                edges |= {t for t in [*_ancestors(target), target] if t not in mine}
        edges.discard(module)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a list of nodes (first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_graph_sees_the_known_edges():
    graph = import_graph()
    assert "capplan.charts" in MODULES and _is_package("capplan.charts")
    assert "capplan.charts.theme" in graph["capplan.charts.plans"]
    # importing capplan.planning.plan runs capplan.planning first: an edge to it
    assert "capplan.planning" in graph["capplan.charts.plans"]
    # relative imports resolve
    assert "capplan.queueing.erlang" in graph["capplan.queueing.approx"]


def test_no_import_cycle_among_capplan_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "module-level import circle: " + " -> ".join(cycle)


def test_only_the_charts_import_the_charts_at_module_level():
    """Results draw through ``chart()``, which imports :mod:`capplan.charts` when called;
    a module-level import of the charts elsewhere would be the old circle back."""
    graph = import_graph()
    outside = {
        module
        for module, edges in graph.items()
        if not module.startswith("capplan.charts")
        and any(e == "capplan.charts" or e.startswith("capplan.charts.") for e in edges)
    }
    assert outside == set()
    # the two circles of before, each now one way
    assert "capplan.simulation.result" in graph["capplan.charts.simulation"]
    assert not any(e.startswith("capplan.charts") for e in graph["capplan.simulation.result"])
    assert "capplan.planning.plan" in graph["capplan.planning.io"]
    assert "capplan.planning.io" not in graph["capplan.planning.plan"]


@pytest.mark.slow  # a fresh interpreter each
@pytest.mark.parametrize("module", ["capplan.charts", "capplan.planning", "capplan.simulation"])
def test_each_package_imports_alone(module):
    """A fresh interpreter imports each package first without a partially initialised module."""
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)


def test_import_capplan_loads_none_of_the_heavy_libraries():
    """``import capplan`` is a tenth of a second: its names load on first use (PEP 562)."""
    import subprocess
    import sys

    heavy = ("pandas", "scipy.stats", "statsmodels", "numba", "altair")
    code = f"import sys, capplan; print([m for m in {heavy!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert done.stdout.strip() == "[]"
    # a subpackage or module is there on first use too, as it was when all loaded at once
    code = "import capplan as c; print(c.warnings.CapplanWarning.__name__, c.charts.__name__)"
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert done.stdout.split() == ["CapplanWarning", "capplan.charts"]


def test_every_public_name_is_what_its_module_defines():
    import types

    import capplan

    assert set(capplan.__all__) <= set(dir(capplan))
    for name in capplan.__all__:
        value = getattr(capplan, name)
        assert not isinstance(value, types.ModuleType), name
    assert capplan.plan_event is __import__("capplan.planning", fromlist=["x"]).plan_event
    with pytest.raises(AttributeError, match="no attribute 'plan_evnt'"):
        capplan.plan_evnt  # noqa: B018
