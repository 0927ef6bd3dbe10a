"""Notebooks are stored without outputs, and each opens with its parameters cell."""

from __future__ import annotations

import nbformat
import pytest

from gamelake.config import project_root

NOTEBOOKS = sorted((project_root() / "notebooks").glob("*.ipynb"))


def test_there_are_analyst_notebooks():
    assert len(NOTEBOOKS) >= 4


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, f"{path.name}: cells {dirty} keep outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_reads_its_lake_from_the_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell: parameters"
    assert "GAMELAKE_TRINO_CATALOG" in code[0].source
    # Notebooks query Trino: they never import the pipeline's jobs or Spark.
    for banned in ("from jobs", "import jobs", "pyspark"):
        assert not any(banned in c.source for c in code), f"{path.name} uses {banned}"
