"""The notebook view of each analysis: generated from the folder, valid, runs top to bottom."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from atlasod.classroom.notebook import notebook_name, render
from atlasod.data.catalogue import Catalogue
from atlasod.selection.analysis import analysis_releases, discover, load_analysis

from .conftest import ANALYSES, REPO

NOTEBOOKS = REPO / "notebooks"


# (analysis, release): every analysis on every release it runs on
VIEWS = [(n, r) for n in discover(ANALYSES) for r in analysis_releases(ANALYSES / n)]
# the notebook of each: <name>.py on 2020, <name>-<release>.py on another release
NOTEBOOK_NAMES = [n if r == "2020" else f"{n}-{r}" for n, r in VIEWS]


def test_there_is_a_notebook_per_analysis_and_release_and_no_other() -> None:
    assert "hyy-2025e" in NOTEBOOK_NAMES
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.py")) == sorted(NOTEBOOK_NAMES)


@pytest.mark.parametrize(("name", "release"), VIEWS)
def test_notebook_is_up_to_date_and_a_valid_jupyter_notebook(name: str, release: str) -> None:
    analysis = load_analysis(ANALYSES, name, Catalogue.load(release=release))
    path = NOTEBOOKS / f"{notebook_name(analysis)}.py"
    command = f"atlasod --release {release} notebook --analysis {name}"
    assert path.is_file(), f"run: {command}"
    assert path.read_text() == render(analysis), f"{path} is stale: run {command}"
    assert f'RELEASE = "{release}"' in path.read_text()
    notebook = jupytext.read(path)
    nbformat.validate(notebook)
    assert sum(c.cell_type == "code" for c in notebook.cells) >= 5


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
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
@pytest.mark.parametrize(
    ("name", "release"),
    [
        ("hyy", "2020"),
        ("hzz", "2020"),
        ("wz", "2020"),
        ("zz", "2020"),
        ("hyy", "2025e"),
        ("hzz", "2025e"),
    ],
)
def test_notebook_runs_top_to_bottom_on_demo_data(name: str, release: str, tmp_path: Path) -> None:
    env = {**os.environ, "ATLASOD_WORK": str(tmp_path), "MPLBACKEND": "Agg"}
    notebook = name if release == "2020" else f"{name}-{release}"
    proc = subprocess.run(
        [sys.executable, f"{notebook}.py"],
        cwd=NOTEBOOKS,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "events processed" in proc.stdout
    assert (tmp_path / f"{release}-demo" / name / "histograms.root").is_file()
    assert any((tmp_path / f"{release}-demo" / name / "plots").glob("*.png"))
