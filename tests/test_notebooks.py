"""The notebook view of each analysis: generated from the folder, valid, runs top to bottom."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from atlasod.classroom.notebook import render
from atlasod.data.catalogue import Catalogue
from atlasod.selection.analysis import discover, load_analysis

from .conftest import ANALYSES, REPO

NOTEBOOKS = REPO / "notebooks"


@pytest.mark.parametrize("name", discover(ANALYSES))
def test_notebook_is_up_to_date_and_a_valid_jupyter_notebook(
    name: str, catalogue: Catalogue
) -> None:
    path = NOTEBOOKS / f"{name}.py"
    assert path.is_file(), f"run: atlasod notebook --analysis {name}"
    assert path.read_text() == render(load_analysis(ANALYSES, name, catalogue)), (
        f"{path} is stale: run atlasod notebook --analysis {name}"
    )
    notebook = jupytext.read(path)
    nbformat.validate(notebook)
    assert sum(c.cell_type == "code" for c in notebook.cells) >= 5


@pytest.mark.parametrize("name", discover(ANALYSES))
def test_ipynb_holds_the_cells_of_its_source(name: str) -> None:
    """notebooks/<name>.ipynb (for students' JupyterLab) is generated from the jupytext
    source by tools/sync_notebooks.py: the same cells, no outputs, a valid notebook."""
    ipynb = NOTEBOOKS / f"{name}.ipynb"
    assert ipynb.is_file(), "run: python tools/sync_notebooks.py"
    spec = importlib.util.spec_from_file_location("sync", REPO / "tools" / "sync_notebooks.py")
    assert spec is not None and spec.loader is not None
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    ours = nbformat.read(ipynb, as_version=4)
    nbformat.validate(ours)
    expected = nbformat.reads(sync.ipynb_text(NOTEBOOKS / f"{name}.py"), as_version=4)
    cells = [(c.cell_type, c.source, c.id) for c in ours.cells]
    assert cells == [(c.cell_type, c.source, c.id) for c in expected.cells], (
        f"{ipynb} is stale: run python tools/sync_notebooks.py"
    )
    assert ours.metadata.kernelspec.name == "python3"
    assert all(not c.get("outputs") for c in ours.cells)


@pytest.mark.workflow
@pytest.mark.parametrize("name", ["hyy", "hzz"])
def test_notebook_runs_top_to_bottom_on_demo_data(name: str, tmp_path: Path) -> None:
    env = {**os.environ, "ATLASOD_WORK": str(tmp_path), "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, f"{name}.py"],
        cwd=NOTEBOOKS,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "events processed" in proc.stdout
    assert (tmp_path / "demo" / name / "histograms.root").is_file()
    assert any((tmp_path / "demo" / name / "plots").glob("*.png"))
