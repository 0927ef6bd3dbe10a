"""Every analyst notebook runs headless, top to bottom, against the shared test lake."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from gamelake.analyst import EMPTY_CHART
from gamelake.config import project_root

pytestmark = pytest.mark.integration

NOTEBOOKS = sorted((project_root() / "notebooks").glob("*.ipynb"))


@pytest.fixture
def lake_env(lake_run, monkeypatch):
    """The notebooks' parameters (env vars) pointing at the test lake's catalog, as analyst."""
    trino = lake_run.settings.trino
    monkeypatch.setenv("GAMELAKE_TRINO_HOST", trino.host)
    monkeypatch.setenv("GAMELAKE_TRINO_PORT", str(trino.port))
    monkeypatch.setenv("GAMELAKE_TRINO_CATALOG", lake_run.catalog)
    monkeypatch.setenv("GAMELAKE_TRINO_USER", "analyst")
    # Figures render to PNG without a display.
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    return lake_run


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_without_error(lake_env, path):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=180,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    tables = [o for o in outputs if "text/html" in o.get("data", {})]
    assert images, f"{path.name} drew no chart"
    assert tables, f"{path.name} showed no table"
    # Every chart had rows to draw (an empty one prints EMPTY_CHART in its cell).
    printed = " ".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert EMPTY_CHART not in printed, printed
