"""REANA: the specifications, and a run the way REANA's Snakemake engine (7.32.4) does it."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from atlasod.selection.analysis import analysis_releases

from .conftest import REPO, TEST_SCALE, env_with_venv, tool_from_environment

pytestmark = pytest.mark.workflow


def _render() -> dict[Path, str]:
    import importlib.util

    spec = importlib.util.spec_from_file_location("reana_specs", REPO / "tools" / "reana_specs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render(REPO)


def test_specs_are_up_to_date_with_the_analysis_folders() -> None:
    """A spec per analysis and release it runs on (2025e: reana/<name>-2025e.yaml), and one
    of all the analyses per release, each with its release in its parameters."""
    expected = _render()
    names = sorted(p.parent.name for p in (REPO / "analyses").glob("*/analysis.yaml"))
    on_2025e = [n for n in names if "2025e" in analysis_releases(REPO / "analyses" / n)]
    on_2020 = [n for n in names if "2020" in analysis_releases(REPO / "analyses" / n)]
    assert on_2025e and set(on_2020) | set(on_2025e) == set(names)
    stems = [*on_2020, "all", *(f"{n}-2025e" for n in [*on_2025e, "all"])]
    assert {p.relative_to(REPO).as_posix() for p in expected} == {
        f"reana/{n}{suffix}" for n in stems for suffix in (".yaml", ".config.yaml")
    } | {"reana.yaml"}
    for stem in stems:
        config = yaml.safe_load((REPO / "reana" / f"{stem}.config.yaml").read_text())
        assert config["release"] == ("2025e" if stem.endswith("-2025e") else "2020"), stem
    for path, text in expected.items():
        assert path.is_file(), f"{path} missing: run python tools/reana_specs.py"
        assert path.read_text() == text, f"{path} is stale: run python tools/reana_specs.py"


def test_root_spec_is_the_hzz_one_so_reana_client_run_w_hzz_works_as_typed() -> None:
    """`reana-client run -w hzz` in the repository root reads ./reana.yaml."""
    root = yaml.safe_load((REPO / "reana.yaml").read_text())
    assert root == yaml.safe_load((REPO / "reana" / "hzz.yaml").read_text())
    config = yaml.safe_load((REPO / root["inputs"]["parameters"]["input"]).read_text())
    assert config["analyses"] == ["hzz"]


def test_specs_upload_little_and_no_parent_paths() -> None:
    for path in [REPO / "reana.yaml", *(REPO / "reana").glob("*.yaml")]:
        if path.name.endswith(".config.yaml"):
            continue
        spec = yaml.safe_load(path.read_text())
        declared = spec["inputs"]["files"] + spec["inputs"]["directories"]
        assert not any(".." in p or p.startswith("/") for p in declared), path
        files = [
            f for d in spec["inputs"]["directories"] for f in (REPO / d).rglob("*") if f.is_file()
        ]
        files = [f for f in files if "__pycache__" not in f.parts]
        assert len(files) < 200, (path, len(files))
        assert sum(f.stat().st_size for f in files) < 5_000_000, path


def _snakemake7() -> str:
    smk7 = tool_from_environment("ATLASOD_SNAKEMAKE7", "a Snakemake 7.32 executable")
    version = subprocess.run([smk7, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == "7.32.4"
    return smk7


@pytest.mark.parametrize(
    ("analysis", "release"), [("hzz", "2020"), ("hyy", "2020"), ("zz", "2020"), ("hyy", "2025e")]
)
def test_reana_engine_run_gives_the_local_histograms(
    analysis: str, release: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """What REANA does: a fresh workspace with only the declared inputs, Snakemake 7.32.4,
    the spec's parameters as config, the default target.  (The jobs run with this
    environment's package instead of the image.)"""
    smk7 = _snakemake7()
    demo_run: Path = request.getfixturevalue("demo_run" if release == "2020" else "demo_run_2025e")
    name = analysis if release == "2020" else f"{analysis}-{release}"
    spec = yaml.safe_load((REPO / "reana" / f"{name}.yaml").read_text())
    workspace = tmp_path / "workspace"
    for f in spec["inputs"]["files"]:
        (workspace / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, workspace / f)
    for d in spec["inputs"]["directories"]:
        shutil.copytree(REPO / d, workspace / d, ignore=shutil.ignore_patterns("__pycache__"))
    cmd = [
        smk7,
        "--snakefile",
        spec["workflow"]["file"],
        "--cores",
        "2",
        "--configfile",
        spec["inputs"]["parameters"]["input"],
        # the local run's size and chunking, so that the bytes can be compared
        "--config",
        f"demo_scale={TEST_SCALE}",
        "chunk_entries=5000",
    ]
    proc = subprocess.run(
        cmd, cwd=workspace, env=env_with_venv(), capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for out in spec["outputs"]["directories"]:
        assert (workspace / out).is_dir(), out
    results = workspace / "results" / f"{release}-demo" / analysis
    assert (results / "yields.md").is_file()
    assert any((results / "plots").glob("*.png"))
    local = demo_run / "results" / f"{release}-demo" / analysis / "histograms.root"
    assert (results / "histograms.root").read_bytes() == local.read_bytes()
