"""The chunk step on a Dask cluster (a LocalCluster here) gives the workflow's histograms."""

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, TEST_SCALE

pytestmark = pytest.mark.workflow


def test_dask_local_cluster_gives_the_snakemake_histograms(demo_run: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "atlasod",
            "dask",
            "--analysis",
            "hzz",
            "--workers",
            "2",
            "--config",
            "source=demo",
            f"demo_scale={TEST_SCALE}",
            "chunk_entries=5000",
            f"data_dir={tmp_path / 'data'}",
            f"results_dir={tmp_path / 'results'}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "events in" in proc.stderr
    for name in ("histograms.root", "cutflow.json"):
        ours = (tmp_path / "results" / "demo" / "hzz" / name).read_bytes()
        assert ours == (demo_run / "results" / "demo" / "hzz" / name).read_bytes(), name


def test_dask_run_rejects_an_unknown_config_key() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "atlasod", "dask", "--analysis", "hzz", "--config", "sorce=demo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert (
        "--config expects KEY=VALUE with a key of workflows/config/config.yaml: 'sorce=demo'"
        in (proc.stderr)
    )
