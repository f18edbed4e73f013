"""Shared fixtures: the repository, the catalogue, and demo workflow runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from atlasod.data.catalogue import Catalogue, SampleFile
from atlasod.selection.analysis import Analysis, analysis_releases, discover, load_analysis

REPO = Path(__file__).resolve().parents[1]
ANALYSES = REPO / "analyses"


def analyses_on(release: str) -> list[str]:
    """The analysis folders that run on ``release`` (a folder may run on 2025e alone)."""
    return [n for n in discover(ANALYSES) if release in analysis_releases(ANALYSES / n)]


ON_2020 = analyses_on("2020")
# Small demo samples keep the suite fast; the truth scales with them.
TEST_SCALE = 0.5


def env_with_venv() -> dict[str, str]:
    """Environment in which `python -m atlasod` and `snakemake` are this interpreter's."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def tool_from_environment(variable: str, what: str) -> str:
    """The path in ``variable`` (set by `make test`); a failure under CI, a skip elsewhere."""
    value = os.environ.get(variable)
    if not value:
        if os.environ.get("CI"):
            pytest.fail(f"{variable} is not set: run the tests through `make test`")
        pytest.skip(f"set {variable} to {what} (`make test` does)")
    return value


def on_demand(variable: str, cost: str) -> pytest.MarkDecorator:
    """Skip a slow test unless ``variable`` is set (it runs on demand, not in CI); ``cost``
    says what running it takes."""
    return pytest.mark.skipif(
        not os.environ.get(variable), reason=f"on demand ({variable}=1): {cost}"
    )


def snakemake_command(snakemake: str, *args: str) -> list[str]:
    return [
        snakemake,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(REPO),
        "--cores",
        "2",
        *args,
    ]


def run_snakemake(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run Snakemake 9 (this environment's) on the repository's workflow; ``args`` say where
    outputs go (``--config data_dir=... results_dir=...``)."""
    cmd = snakemake_command(str(Path(sys.executable).parent / "snakemake"), *args)
    proc = subprocess.run(
        cmd, cwd=REPO, env=env_with_venv(), capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def demo_config(root: Path) -> list[str]:
    """``--config`` of a small demo run writing into ``root``."""
    return [
        "--config",
        "source=demo",
        f"demo_scale={TEST_SCALE}",
        f"data_dir={root / 'data'}",
        f"results_dir={root / 'results'}",
        f"logs_dir={root / 'logs'}",
        "chunk_entries=5000",
    ]


def columns_of(events: list[dict]) -> dict:
    """Branch columns from events given one by one (branch -> value; a list for the
    objects' branches)."""
    import awkward as ak
    import numpy as np

    return {
        k: (ak.Array if isinstance(events[0][k], list) else np.asarray)([e[k] for e in events])
        for k in events[0]
    }


def write_hand_made_events(analysis: Analysis, columns: dict, n: int, tmp_path: Path) -> str:
    """``n`` hand-made events (``columns``: the branches they set; the others neutral)
    written as the analysis' first data file in ``tmp_path``; returns its path."""
    return write_hand_made_events_as(analysis, analysis.data_files[0], columns, tmp_path, n)


def write_hand_made_events_as(
    analysis: Analysis, sample: SampleFile, columns: dict, tmp_path: Path, n: int | None = None
) -> str:
    """Hand-made events written as ``sample`` of the analysis in ``tmp_path``."""
    from atlasod.demo.generate import complete_events, write_events

    n = len(next(iter(columns.values()))) if n is None else n
    path = tmp_path / sample.file
    write_events(path, complete_events(columns, n, sample, analysis.release), analysis.release)
    return str(path)


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return Catalogue.load()


@pytest.fixture(scope="session")
def hyy(catalogue: Catalogue) -> Analysis:
    return load_analysis(ANALYSES, "hyy", catalogue)


@pytest.fixture(scope="session")
def hzz(catalogue: Catalogue) -> Analysis:
    return load_analysis(ANALYSES, "hzz", catalogue)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`snakemake all validate --config source=demo` (every analysis) into a temporary
    directory; returns its root."""
    reuse = os.environ.get("ATLASOD_REUSE_DEMO_RUN")
    if reuse:  # developing: a finished run of the same command (no CI shortcut)
        assert not os.environ.get("CI"), "ATLASOD_REUSE_DEMO_RUN is for development only"
        return Path(reuse)
    root = tmp_path_factory.mktemp("demo_run")
    run_snakemake("all", "validate", *demo_config(root))
    return root


@pytest.fixture(scope="session")
def demo_run_2025e(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`snakemake all validate --config source=demo release=2025e` (every analysis that runs
    on the 2025 education release) into a temporary directory; returns its root."""
    reuse = os.environ.get("ATLASOD_REUSE_DEMO_RUN_2025E")
    if reuse:  # developing: a finished run of the same command (no CI shortcut)
        assert not os.environ.get("CI"), "ATLASOD_REUSE_DEMO_RUN_2025E is for development only"
        return Path(reuse)
    root = tmp_path_factory.mktemp("demo_run_2025e")
    run_snakemake("all", "validate", *demo_config(root), "release=2025e")
    return root
