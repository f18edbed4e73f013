"""End to end: `snakemake all validate --config source=demo`: results, report, references."""

import json
from pathlib import Path

import numpy as np
import pytest

from atlasod.data.catalogue import Catalogue
from atlasod.histio import read_histograms
from atlasod.selection.analysis import load_analysis

from .conftest import ANALYSES, ON_2020, TEST_SCALE, demo_config, run_snakemake

REFERENCE = Path(__file__).parent / "data" / "reference_histograms.json"
pytestmark = pytest.mark.workflow
ALL = ON_2020


def results(root: Path, analysis: str) -> Path:
    return root / "results" / "2020-demo" / analysis


def truth_files(root: Path, analysis: str) -> list[dict]:
    return [
        json.loads(p.read_text())
        for p in sorted((root / "data" / "demo" / analysis).rglob("*.truth.json"))
    ]


@pytest.mark.parametrize("name", ALL)
def test_outputs_of_every_analysis(demo_run: Path, name: str, catalogue: Catalogue) -> None:
    analysis = load_analysis(ANALYSES, name, catalogue)
    out = results(demo_run, name)
    for h in analysis.histograms:
        assert (out / "plots" / f"{h.name}.png").stat().st_size > 10_000, h.name
        assert (out / "plots" / f"{h.name}.pdf").stat().st_size > 5_000, h.name
    assert (out / "yields.md").read_text().startswith(f"# Yields: {name}")
    assert (out / "manifest.json").is_file()
    assert (out / "fit.json").is_file() == (analysis.fit is not None)


@pytest.mark.parametrize("name", ALL)
def test_validation_against_the_injected_truth_passes(demo_run: Path, name: str) -> None:
    validation = json.loads((results(demo_run, name) / "validation.json").read_text())
    assert validation["source"] == "demo"
    assert len(validation["checks"]) >= 3
    assert all(c["passed"] for c in validation["checks"])
    table = (results(demo_run, name) / "validation.md").read_text()
    assert table.startswith(f"# Validation: {name} (demo data)")


def test_hyy_fit_recovers_the_injected_mass(demo_run: Path) -> None:
    fit = json.loads((results(demo_run, "hyy") / "fit.json").read_text())
    truth = truth_files(demo_run, "hyy")
    injected = sum(t.get("signal_selected", 0) for t in truth)
    mean, sigma = fit["parameters"]["mean"], fit["parameters"]["sigma"]
    assert fit["valid"]
    assert abs(mean["value"] - 125.0) < 2 * mean["error"], mean  # within 2σ
    assert mean["error"] < 0.6
    assert abs(sigma["value"] - 2.4) < 2 * sigma["error"], sigma
    n = fit["signal_yield"]
    assert abs(n["value"] - injected) < 2 * n["error"], (n, injected)
    assert 0.5 < fit["chi2_ndf"] < 2.0
    assert fit["local_significance"] > 5


@pytest.mark.parametrize("name", ALL)
def test_yields_match_the_generator_truth(demo_run: Path, name: str) -> None:
    y = json.loads((results(demo_run, name) / "yields.json").read_text())
    truth = truth_files(demo_run, name)
    assert y["data"] == sum(t["selected"] for t in truth if t["file"].startswith("data_"))
    mc_truth = sum(t["weighted_selected"] for t in truth if t["file"].startswith("mc_"))
    unscaled = sum(g["yield"] / g["factor"] for g in y["groups"].values())
    assert unscaled == pytest.approx(mc_truth, rel=1e-9)


def test_hzz_zz_is_scaled_by_1p3_by_default(demo_run: Path) -> None:
    y = json.loads((results(demo_run, "hzz") / "yields.json").read_text())
    assert y["groups"]["ZZ"]["factor"] == 1.3
    assert y["groups"]["Other"]["factor"] == 1.0


def test_histograms_match_the_reference(demo_run: Path) -> None:
    """Regression: contents of the merged demo histograms (seed 42, scale TEST_SCALE)."""
    reference = json.loads(REFERENCE.read_text())
    assert reference["scale"] == TEST_SCALE
    for analysis, hists in reference["histograms"].items():
        merged = read_histograms(results(demo_run, analysis) / "histograms.root")
        for key, expected in hists.items():
            h = merged[key]
            np.testing.assert_allclose(
                h.values(flow=True), expected["values"], rtol=1e-10, err_msg=key
            )
            np.testing.assert_allclose(
                h.variances(flow=True), expected["variances"], rtol=1e-10, err_msg=key
            )


def test_rerun_is_byte_identical(demo_run: Path, tmp_path: Path) -> None:
    run_snakemake("hyy", *demo_config(tmp_path))
    first = (results(demo_run, "hyy") / "histograms.root").read_bytes()
    assert (results(tmp_path, "hyy") / "histograms.root").read_bytes() == first


def test_report_contains_plots_fits_validation_and_manifests(demo_run: Path) -> None:
    report = demo_run / "report.html"
    run_snakemake("all", "validate", *demo_config(demo_run), "--report", str(report))
    html = report.read_text(errors="replace")
    assert report.stat().st_size > 100_000
    for name in ("hist_mYY_bin1.png", "mass_four_lep.png", "fit.json", "yields.md"):
        assert name in html
    assert "validation.md" in html
    assert "manifest.json" in html


def test_every_rule_writes_a_log(demo_run: Path) -> None:
    logs = demo_run / "logs" / "2020-demo"
    for rule in (
        "generate_demo",
        "process_chunk",
        "merge_histograms",
        "plot",
        "fit",
        "yields",
        "validate",
        "manifest",
    ):
        assert any((logs / rule).rglob("*.log")), rule


def test_manifest_records_inputs_software_config_and_results(demo_run: Path) -> None:
    import hashlib
    import zlib

    manifest = json.loads((results(demo_run, "hzz") / "manifest.json").read_text())
    assert manifest["source"] == "demo"
    assert manifest["config"]["seed"] == 42
    assert manifest["config"]["demo_scale"] == TEST_SCALE
    env = manifest["environment"]
    assert env["image"] == "local"  # not run in the image
    lock = Path(__file__).parents[1] / "envs" / "requirements.lock"
    assert env["lock_sha256"] == hashlib.sha256(lock.read_bytes()).hexdigest()
    assert env["packages"]["uproot"] == "5.7.7"
    assert len(manifest["git_commit"].split("-")[0]) == 40 or manifest["git_commit"] == "unknown"
    files = {r["file"]: r for r in manifest["inputs"]}
    assert len(files) == 33
    record = files["data_A.4lep.root"]
    data = Path(record["location"]).read_bytes()
    assert record["adler32"] == f"{zlib.adler32(data) & 0xFFFFFFFF:08x}"
    assert record["size"] == len(data)
    assert "published_adler32" not in record  # generated files have none
    for path, digest in manifest["results"].items():
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == digest


def _planned_jobs(output: str) -> dict[str, int]:
    """The "Job stats" table of a Snakemake dry run: rule -> jobs."""
    import re

    table = output.partition("Job stats:")[2]
    return {
        m["rule"]: int(m["count"])
        for m in re.finditer(r"^(?P<rule>[a-z_]+)\s+(?P<count>\d+)$", table, re.MULTILINE)
        if m["rule"] != "total"
    }


def test_editing_an_analysis_file_reruns_the_steps_that_read_it(tmp_path: Path) -> None:
    """A teacher edits the folder: validation.yaml reruns the validate step alone,
    analysis.yaml everything from the demo files on (the cuts, the demo truth, the plots)."""
    import shutil

    shutil.copytree(ANALYSES / "z", tmp_path / "analyses" / "z")
    args = [
        "z",
        "validate",
        "--config",
        "source=demo",
        "demo_scale=0.05",
        f"analyses_dir={tmp_path / 'analyses'}",
        f"data_dir={tmp_path / 'data'}",
        f"results_dir={tmp_path / 'results'}",
        f"logs_dir={tmp_path / 'logs'}",
    ]
    run_snakemake(*args)
    proc = run_snakemake("--dry-run", *args)
    assert _planned_jobs(proc.stdout + proc.stderr) == {}, proc.stdout + proc.stderr

    def edited(name: str) -> dict[str, int]:  # Snakemake compares contents, not times
        with (tmp_path / "analyses" / "z" / name).open("a") as f:
            f.write("# a teacher's note\n")
        proc = run_snakemake("--dry-run", *args)
        return _planned_jobs(proc.stdout + proc.stderr)

    assert edited("validation.yaml") == {"validate": 1, "validate_analysis": 1}
    jobs = edited("analysis.yaml")
    z = load_analysis(ANALYSES, "z", Catalogue.load())
    n_files = len(z.data_files) + len(z.mc_files)
    assert jobs["generate_demo"] == n_files
    assert jobs["process_chunk"] >= n_files
    for rule in ("merge_histograms", "fit", "plot_z", "yields", "validate_analysis", "manifest"):
        assert jobs[rule] == 1, rule
