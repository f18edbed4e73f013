"""Templates: each scaffolded into a fresh analyses folder, run on demo data, checked."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from atlasod.classroom.templates import available, template_releases

from .conftest import TEST_SCALE, run_snakemake

pytestmark = pytest.mark.workflow
TEMPLATES = [
    "dilepton_resonance",
    "diphoton_resonance",
    "four_lepton_resonance",
    "single_lepton_w",
    "counting_experiment",
]


def new(analyses: Path, name: str, template: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "atlasod",
            "--analyses-dir",
            str(analyses),
            "new",
            name,
            "--from",
            template,
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def config(root: Path, *extra: str) -> list[str]:
    return [
        "--config",
        "source=demo",
        f"demo_scale={TEST_SCALE}",
        f"analyses_dir={root / 'analyses'}",
        f"data_dir={root / 'data'}",
        f"results_dir={root / 'results'}",
        f"logs_dir={root / 'logs'}",
        *extra,
    ]


@pytest.fixture(scope="module")
def template_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every template scaffolded as `my_<template>` (teacher's copies) and run."""
    root = tmp_path_factory.mktemp("templates")
    for template in TEMPLATES:
        proc = new(root / "analyses", f"my_{template}", template)
        assert proc.returncode == 0, proc.stderr
    run_snakemake("all", *config(root, "solutions=true"))
    return root


def test_the_gallery_has_the_five_templates() -> None:
    assert sorted(available()) == sorted(TEMPLATES)


def fit(root: Path, name: str) -> dict:
    return json.loads((root / "results" / "2020-demo" / name / "fit.json").read_text())


def within(parameter: dict, truth: float, n_sigma: float = 3.0) -> bool:
    return abs(parameter["value"] - truth) < n_sigma * parameter["error"]


def test_dilepton_template_recovers_the_z_mass(template_run: Path) -> None:
    p = fit(template_run, "my_dilepton_resonance")["parameters"]
    assert within(p["mean"], 91.19), p["mean"]
    assert p["mean"]["error"] < 0.2


def test_diphoton_template_recovers_the_higgs_mass(template_run: Path) -> None:
    result = fit(template_run, "my_diphoton_resonance")
    assert within(result["parameters"]["mean"], 125.0), result["parameters"]["mean"]
    assert result["local_significance"] > 3


def test_four_lepton_template_mc_describes_the_data(template_run: Path) -> None:
    y = json.loads(
        (
            template_run / "results" / "2020-demo" / "my_four_lepton_resonance" / "yields.json"
        ).read_text()
    )
    assert y["data"] > 100
    assert y["total_mc"]["yield"] == pytest.approx(y["data"], rel=0.15)


def test_w_template_fits_a_normalisation_of_one(template_run: Path) -> None:
    assert within(fit(template_run, "my_single_lepton_w")["normalisation"], 1.0)


def test_counting_template_measures_the_injected_signal(template_run: Path) -> None:
    result = fit(template_run, "my_counting_experiment")
    assert within(result["signal_strength"], 1.0)
    assert result["upper_limit"]["observed"] > 1.0


def test_every_template_makes_its_plots(template_run: Path) -> None:
    for template in TEMPLATES:
        plots = template_run / "results" / "2020-demo" / f"my_{template}" / "plots"
        assert len(list(plots.glob("*.png"))) >= 2, template


def test_student_copy_leaves_the_exercise_out_and_says_so(tmp_path: Path) -> None:
    proc = new(tmp_path / "analyses", "zmass", "dilepton_resonance", "--without-solutions")
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "analyses" / "zmass" / "solutions.yaml").exists()
    run_snakemake("zmass", *config(tmp_path))
    out = tmp_path / "results" / "2020-demo" / "zmass"
    flow = json.loads((out / "cutflow.json").read_text())["data_A.2lep.root"]["cutflow"]
    assert "Z mass window (exercise: not applied)" in flow
    assert "Z mass window" not in flow
    # no output of the student's run holds the solution (25 GeV)
    for path in out.rglob("*.json"):
        assert '"window"' not in path.read_text(), path
    # asking for the solutions without them is an error that names the file
    proc = run_snakemake("zmass", *config(tmp_path, "solutions=true"), "--forceall", check=False)
    assert proc.returncode != 0
    assert f"{tmp_path / 'analyses' / 'zmass' / 'solutions.yaml'} does not exist" in (
        proc.stdout + proc.stderr
    )


def test_teacher_run_applies_the_exercise_cut(template_run: Path) -> None:
    out = template_run / "results" / "2020-demo" / "my_dilepton_resonance"
    flow = json.loads((out / "cutflow.json").read_text())["data_A.2lep.root"]["cutflow"]
    assert "Z mass window" in flow
    assert flow["Z mass window"]["events"] < flow["same flavour"]["events"]


def test_new_refuses_an_existing_folder_and_a_bad_name(tmp_path: Path) -> None:
    assert new(tmp_path, "a", "dilepton_resonance").returncode == 0
    proc = new(tmp_path, "a", "dilepton_resonance")
    assert proc.returncode == 2
    assert f"{tmp_path / 'a'} already exists; choose another name" in proc.stderr
    proc = new(tmp_path, "My-Analysis", "dilepton_resonance")
    assert proc.returncode == 2
    assert "analysis name 'My-Analysis': use lower-case letters" in proc.stderr


# The templates that run on the 2025 education release (a block for it under releases:)
TEMPLATES_2025E = ["dilepton_resonance", "diphoton_resonance"]


@pytest.fixture(scope="module")
def template_run_2025e(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 2025e templates scaffolded for 2025e (`atlasod --release 2025e new`) and run
    with `--config release=2025e`."""
    root = tmp_path_factory.mktemp("templates_2025e")
    for template in TEMPLATES_2025E:
        proc = subprocess.run(
            [
                *(sys.executable, "-m", "atlasod", "--analyses-dir", str(root / "analyses")),
                *("--release", "2025e", "new", f"my_{template}", "--from", template),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert "--config source=demo release=2025e" in proc.stderr
    run_snakemake("all", *config(root, "solutions=true", "release=2025e"))
    return root


def test_a_teacher_picks_the_release_of_a_template(tmp_path: Path) -> None:
    on_2025e = [t for t in available() if "2025e" in template_releases(t)]
    assert on_2025e == TEMPLATES_2025E
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "atlasod", "--analyses-dir", str(tmp_path)),
            *("--release", "2025e", "new", "mine", "--from", "counting_experiment"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert (
        "template counting_experiment does not run on release 2025e (it runs on 2020); "
        "templates on 2025e: dilepton_resonance, diphoton_resonance"
    ) in proc.stderr
    assert not (tmp_path / "mine").exists()


def test_templates_on_2025e_recover_their_resonances(template_run_2025e: Path) -> None:
    """The same folders on 2025e demo files (GeV, 2025e branch names and samples): the Z and
    Higgs masses of the demo truth are recovered."""
    results = template_run_2025e / "results" / "2025e-demo"
    z = json.loads((results / "my_dilepton_resonance" / "fit.json").read_text())["parameters"]
    assert within(z["mean"], 91.19, 4.0), z["mean"]
    assert z["mean"]["error"] < 0.2
    h = json.loads((results / "my_diphoton_resonance" / "fit.json").read_text())
    assert within(h["parameters"]["mean"], 125.0), h["parameters"]["mean"]
    assert h["local_significance"] > 3
