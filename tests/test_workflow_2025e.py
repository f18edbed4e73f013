"""The workflow on the 2025 education release (2025e-13tev-beta): demo files in its layout
(tree `analysis`, its 116 branches and types, GeV, the normalisation branches of MC), the
analyses that run on it validated against their injected truth, results under
results/2025e-demo."""

import json
from pathlib import Path

import numpy as np
import pytest
import uproot

from atlasod.data.catalogue import Catalogue
from atlasod.data.release import Release
from atlasod.histio import read_histograms
from atlasod.selection.analysis import analysis_releases, discover, load_analysis

from .conftest import ANALYSES

ON_2025E = [n for n in discover(ANALYSES) if "2025e" in analysis_releases(ANALYSES / n)]


def test_some_analyses_run_on_2025e() -> None:
    assert "hyy" in ON_2025E


@pytest.mark.parametrize("name", ON_2025E)
def test_every_2025e_analysis_validates_against_its_truth(demo_run_2025e: Path, name: str) -> None:
    out = demo_run_2025e / "results" / "2025e-demo" / name
    report = json.loads((out / "validation.json").read_text())
    assert report["source"] == "demo" and report["checks"]
    failed = [c["name"] for c in report["checks"] if not c["passed"]]
    assert not failed, report
    assert (out / "manifest.json").is_file() and (out / "yields.md").is_file()


def test_2025e_demo_files_have_the_release_layout(demo_run_2025e: Path) -> None:
    """A demo file of the 2025e run is a file of that release: tree `analysis` with exactly
    the release's branches and dtypes, photon energies in GeV, and (MC) the normalisation
    branches the weights are computed from."""
    release = Release.load("2025e")
    catalogue = Catalogue.load(release="2025e")
    hyy = load_analysis(ANALYSES, "hyy", catalogue)
    data = demo_run_2025e / "data" / "demo" / "hyy" / hyy.data_files[0].relpath
    mc = demo_run_2025e / "data" / "demo" / "hyy" / hyy.mc_files[0].relpath
    assert data.name == "ODEO_FEB2025_v0_GamGam_data15_periodD.GamGam.root"
    for path in (data, mc):
        with uproot.open(path) as f:
            assert [k.split(";")[0] for k in f] == ["analysis"]
            tree = f["analysis"]
            assert set(tree.keys()) == set(release.branch_names())
            arrays = tree.arrays(["photon_pt", "photon_e", "xsec", "sum_of_weights", "mcWeight"])
    pt = np.asarray(arrays["photon_pt"][:, 0])
    assert 50 < np.median(pt) < 150  # GeV, as in the 2025e files (2020: MeV)
    assert tree["photon_e"].interpretation.content.to_dtype == np.dtype("float32")
    assert np.all(np.asarray(arrays["xsec"]) == 1.0)  # the demo normalisation (catalogue: none)
    assert np.all(np.asarray(arrays["sum_of_weights"]) == 1.0e6)


def test_2025e_hyy_histograms_and_cutflow(demo_run_2025e: Path) -> None:
    """The 2025e block's histograms (60 bins of 1 GeV in 100-160 GeV) and cuts, in order,
    with the truth's number of selected events in every data file."""
    out = demo_run_2025e / "results" / "2025e-demo" / "hyy"
    hists = read_histograms(out / "histograms.root")
    cutflow = json.loads((out / "cutflow.json").read_text())
    hyy = load_analysis(ANALYSES, "hyy", Catalogue.load(release="2025e"))
    assert len(hyy.data_files) == 16
    for sample in hyy.data_files:
        flow = cutflow[sample.file]["cutflow"]
        assert list(flow) == [
            "all",
            "two tight photons",
            "pT > 50 / 30 GeV",
            "isolation",
            "crack veto",
            "m_yy > 0",
            "pT/m",
            "100 < m_yy < 160 GeV",
        ]
        truth_file = demo_run_2025e / "data" / "demo" / "hyy" / f"{sample.relpath}.truth.json"
        truth = json.loads(truth_file.read_text())
        assert flow["100 < m_yy < 160 GeV"]["events"] == truth["selected"]
        mass = hists[f"{sample.stem}/hist_mYY_bin1"]
        assert mass.axes[0].edges.tolist() == pytest.approx([100.0 + i for i in range(61)])
        assert mass.sum(flow=True).value == truth["selected"]
