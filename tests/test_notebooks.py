"""The notebooks run top to bottom on the shipped data, stored clean, on the public API."""

import re
from pathlib import Path

import nbformat
import papermill
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def code_of(path):
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_without_outputs(path):
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_calls_only_the_public_api(path):
    for source in code_of(path):
        assert not re.search(r"\._\w", source), f"{path.name} reaches a private name: {source}"
        assert not re.search(r"from capplan\S*\._", source), path.name


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(path, tmp_path):
    papermill.execute_notebook(
        str(path),
        str(tmp_path / path.name),
        cwd=str(path.parent),
        progress_bar=False,
        kernel_name="python3",
    )
