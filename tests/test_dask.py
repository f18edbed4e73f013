"""The chunk step on a Dask cluster (a LocalCluster here) gives the workflow's histograms."""

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, TEST_SCALE

pytestmark = pytest.mark.workflow


@pytest.mark.parametrize("release", ["2020", "2025e"])
def test_dask_local_cluster_gives_the_snakemake_histograms(
    release: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    demo_run: Path = request.getfixturevalue("demo_run" if release == "2020" else "demo_run_2025e")
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
            f"release={release}",
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
        ours = (tmp_path / "results" / f"{release}-demo" / "hzz" / name).read_bytes()
        theirs = demo_run / "results" / f"{release}-demo" / "hzz" / name
        assert ours == theirs.read_bytes(), name


def test_coffea_processor_on_dask_gives_the_snakemake_numbers(
    demo_run: Path, tmp_path: Path
) -> None:
    """--engine coffea: coffea's Runner + DaskExecutor over the analysis as a processor; its
    own chunking, so equal to rounding (and equal cutflows), not to the byte."""
    import json

    import numpy as np

    from atlasod.histio import read_histograms

    proc = subprocess.run(
        [
            *(sys.executable, "-m", "atlasod", "dask", "--analysis", "hzz"),
            *("--engine", "coffea", "--workers", "2", "--config", "source=demo"),
            *(f"demo_scale={TEST_SCALE}", "chunk_entries=5000", f"data_dir={tmp_path / 'data'}"),
            f"results_dir={tmp_path / 'results'}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "coffea processor over 33 files" in proc.stderr
    ours_dir = tmp_path / "results" / "2020-demo" / "hzz"
    local_dir = demo_run / "results" / "2020-demo" / "hzz"
    ours, local = (read_histograms(d / "histograms.root") for d in (ours_dir, local_dir))
    assert ours.keys() == local.keys()
    for key, h in local.items():
        np.testing.assert_allclose(ours[key].values(flow=True), h.values(flow=True), rtol=1e-9)
        np.testing.assert_allclose(
            ours[key].variances(flow=True), h.variances(flow=True), rtol=1e-9
        )
    flows = [json.loads((d / "cutflow.json").read_text()) for d in (ours_dir, local_dir)]
    for file, record in flows[1].items():
        assert flows[0][file]["entries"] == record["entries"]
        for cut, counts in record["cutflow"].items():
            assert flows[0][file]["cutflow"][cut]["events"] == counts["events"], (file, cut)


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
