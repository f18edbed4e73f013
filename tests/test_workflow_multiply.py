"""The analyses on multiplied data (`--config multiply=2`): unchanged workflow, results
under results/2020-demo-x2, yields × 2, the same fitted masses with uncertainties / √2 (H→ZZ ×3
is in test_datalake.py)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from atlasod.selection.analysis import Analysis

from .conftest import REPO, TEST_SCALE, run_snakemake

N = 2
ANALYSES = ("hyy", "z")


@pytest.fixture(scope="module")
def multiplied_run(demo_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`snakemake hyy z validate --config multiply=2` beside the session's demo run: its demo
    files are the originals and its results the unmultiplied run to compare with."""
    root = tmp_path_factory.mktemp("multiplied")
    (root / "data").mkdir()
    (root / "results").mkdir()
    (root / "data" / "demo").symlink_to(demo_run / "data" / "demo")
    (root / "results" / "2020-demo").symlink_to(demo_run / "results" / "2020-demo")
    run_snakemake(
        *ANALYSES,
        "validate",
        "--config",
        "source=demo",
        f"demo_scale={TEST_SCALE}",
        f"multiply={N}",
        f"analyses=[{','.join(ANALYSES)}]",
        f"data_dir={root / 'data'}",
        f"results_dir={root / 'results'}",
        f"logs_dir={root / 'logs'}",
    )
    return root


def _json(path: Path) -> dict:
    return json.loads(path.read_text("utf-8"))


@pytest.mark.parametrize("name", ANALYSES)
def test_multiplied_data_scale_the_yields_and_keep_the_fitted_mass(
    multiplied_run: Path, name: str
) -> None:
    base = multiplied_run / "results" / "2020-demo" / name
    run = multiplied_run / "results" / f"2020-demo-x{N}" / name
    y1, yn = _json(base / "yields.json"), _json(run / "yields.json")
    # yields × N within the statistics of the multiplied sample
    assert y1["data"] > 1000
    assert abs(yn["data"] - N * y1["data"]) <= 3 * math.sqrt(N * y1["data"])
    mc1, mcn = y1["total_mc"], yn["total_mc"]
    assert abs(mcn["yield"] - N * mc1["yield"]) <= 3 * math.sqrt(N) * mc1["stat"]
    # relative statistical uncertainties shrink like 1/√N
    assert mcn["stat"] / mcn["yield"] * math.sqrt(N) == pytest.approx(
        mc1["stat"] / mc1["yield"], rel=0.1
    )
    # the fitted peak stays within the unmultiplied fit's uncertainty; its error / √N
    m1, mn = (_json(d / "fit.json")["parameters"]["mean"] for d in (base, run))
    assert abs(mn["value"] - m1["value"]) < m1["error"]
    assert mn["error"] * math.sqrt(N) == pytest.approx(m1["error"], rel=0.15)
    # the workflow's own check says the same
    checks = _json(run / "validation.json")["checks"]
    assert [c["name"] for c in checks if c["passed"]] == [
        "data events × N",
        "total MC × N",
        "MC relative stat. uncertainty × √N",
        "fitted mean",
        "fitted mean: uncertainty × √N",
    ]


def test_the_manifest_records_the_variants_read(multiplied_run: Path) -> None:
    manifest = _json(multiplied_run / "results" / f"2020-demo-x{N}" / "hyy" / "manifest.json")
    assert manifest["config"]["multiply"] == N
    inputs = manifest["inputs"]
    data_a = [i for i in inputs if i["file"] == "data_A.GamGam.root"]
    assert [i["variant"] for i in data_a] == list(range(N))
    assert all(
        i["location"].endswith(
            f"/multiplied/seed1-smear0.3/demo/hyy/GamGam/Data/data_A.GamGam.v{k}.root"
        )
        for k, i in enumerate(data_a)
    )
    assert len({i["adler32"] for i in inputs}) == len(inputs)  # every variant is distinct


def test_one_job_processes_a_chunk_of_every_variant(multiplied_run: Path, hyy: Analysis) -> None:
    """Rule process_variants: one job (and log) per chunk of an original file, reading its N
    variants one after the other, instead of N jobs."""
    logs = multiplied_run / "logs" / f"2020-demo-x{N}" / "process_chunk" / "hyy"
    assert sorted(p.name for p in logs.iterdir()) == sorted(f"{f.stem}.x{N}" for f in hyy.files)
    log = (logs / f"data_A.GamGam.x{N}" / "0.log").read_text("utf-8")
    assert log.count("data_A.GamGam.root: chunk 1/1, entries 0-") == N
    chunks = multiplied_run / "results" / f"2020-demo-x{N}" / "hyy" / "chunks"
    assert sorted(p.name for p in chunks.glob("data_A.GamGam*")) == [
        f"data_A.GamGam.v{k}" for k in range(N)
    ]


def test_process_needs_an_output_pair_for_each_input(tmp_path: Path) -> None:
    args = ["--file", "data_A.GamGam", "--input", "a.root", "--input", "b.root"]
    args += ["--out", str(tmp_path / "a.root"), "--cutflow", str(tmp_path / "a.json")]
    proc = subprocess.run(
        [sys.executable, "-m", "atlasod", "process", "--analysis", "hyy", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert proc.returncode == 2
    assert (
        "process: 2 --input, 1 --out and 1 --cutflow given: give one --out and one --cutflow "
        "for each --input, in the same order" in proc.stderr
    )
    assert list(tmp_path.iterdir()) == []


def test_validating_a_multiplied_run_needs_the_unmultiplied_one(tmp_path: Path) -> None:
    proc = run_snakemake(
        "validate",
        "--dry-run",
        "--config",
        "source=demo",
        "multiply=2",
        "analyses=[z]",
        f"data_dir={tmp_path / 'data'}",
        f"results_dir={tmp_path / 'results'}",
        check=False,
    )
    assert proc.returncode != 0
    assert (
        f"validating z on data multiplied ×2 compares it with the run on the original data, "
        f"but {tmp_path}/results/2020-demo/z/yields.json, "
        f"{tmp_path}/results/2020-demo/z/fit.json does not exist: run "
        "`snakemake z --config source=demo release=2020` first"
    ) in proc.stdout + proc.stderr


def test_dask_makes_the_same_variants_and_histograms(multiplied_run: Path, tmp_path: Path) -> None:
    """`atlasod dask` on multiplied data: it makes the variants itself (from the same demo
    files) and sums the chunks in the workflow's order: the same bytes."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "demo").symlink_to(multiplied_run / "data" / "demo")
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "atlasod", "dask", "--analysis", "hyy", "--workers", "2"),
            *("--config", "source=demo", f"demo_scale={TEST_SCALE}", f"multiply={N}"),
            f"data_dir={tmp_path / 'data'}",
            f"results_dir={tmp_path / 'results'}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    made = tmp_path / "data" / "multiplied" / "seed1-smear0.3" / "demo" / "hyy"
    theirs = multiplied_run / "data" / "multiplied" / "seed1-smear0.3" / "demo" / "hyy"
    variants = sorted(p.relative_to(made) for p in made.rglob("*.root"))
    assert len(variants) == 9 * N
    for relative in variants:
        assert (made / relative).read_bytes() == (theirs / relative).read_bytes(), relative
    for name in ("histograms.root", "cutflow.json"):
        ours = (tmp_path / "results" / f"2020-demo-x{N}" / "hyy" / name).read_bytes()
        assert ours == (multiplied_run / "results" / f"2020-demo-x{N}" / "hyy" / name).read_bytes()
