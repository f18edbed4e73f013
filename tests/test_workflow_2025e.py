"""The workflow on the 2025 education release (2025e-13tev-beta): demo files in its layout
(tree `analysis`, its 116 branches and types, GeV, the normalisation branches of MC), the
analyses that run on it validated against their injected truth, results under
results/2025e-demo."""

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

import awkward as ak
import hist
import numpy as np
import pytest
import uproot

from atlasod.data.catalogue import Catalogue
from atlasod.data.fetch import fetch_file
from atlasod.data.release import Release
from atlasod.errors import AtlasodError
from atlasod.histio import read_histograms
from atlasod.selection.analysis import load_analysis

from .conftest import (
    ANALYSES,
    TEST_SCALE,
    analyses_on,
    columns_of,
    run_snakemake,
    write_hand_made_events,
    write_hand_made_events_as,
)
from .servers import RangeHTTPServer, catalogue_for, xrootd_server

ON_2025E = analyses_on("2025e")


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


def test_2025e_hzz_significance_and_periods_of_the_demo_run(demo_run_2025e: Path) -> None:
    """The H→ZZ notebook's figures from the run's outputs: N_s and N_b are the Higgs and the
    background MC of the merged histograms in 122.5-130 GeV (bins 17-19), Z = N_s /
    sqrt(N_b + 0.3 N_b²); yields.json counts the selected data events of each period, which
    add up to the data's."""
    out = demo_run_2025e / "results" / "2025e-demo" / "hzz"
    fit = json.loads((out / "fit.json").read_text())
    yields = json.loads((out / "yields.json").read_text())
    hzz = load_analysis(ANALYSES, "hzz", Catalogue.load(release="2025e"))
    with uproot.open(out / "histograms.root") as f:

        def window(group: str) -> float:
            stems = [s.stem for s in hzz.group(group).samples]
            return sum(float(f[f"{s}/mass_four_lep"].values()[17:20].sum()) for s in stems)

        s, b = window("Higgs"), window("Other") + window("ZZ")
        data = sum(
            float(f[f"{d.stem}/mass_four_lep"].values()[17:20].sum()) for d in hzz.data_files
        )
    assert fit["model"] == "window_significance" and not fit["signal_includes_background"]
    assert fit["n_signal"]["value"] == pytest.approx(s, rel=1e-12) and s > 0
    assert fit["n_background"]["value"] == pytest.approx(b, rel=1e-12) and b > 0
    assert fit["significance"] == pytest.approx(s / (b + 0.3 * b * b) ** 0.5, rel=1e-12)
    assert fit["data"] == data
    periods = yields["data_periods"]
    assert list(periods) == list(hzz.release.periods) and sum(periods.values()) == yields["data"]
    assert all(n > 0 for n in periods.values())


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


def _lepton_events(rows: list[dict]) -> dict:
    """2025e columns (GeV) of four-lepton events from per-event lists of (type, charge, pT,
    flags); every lepton is trigger-matched unless its flags say otherwise."""
    out: dict[str, list] = {}
    for key in ("type", "charge", "pt", "eta", "phi", "e"):
        out[f"lep_{key}"] = []
    for flag in ("isMediumID", "isLooseID", "isLooseIso", "isTrigMatched"):
        out[f"lep_{flag}"] = []
    out["trigE"], out["trigM"] = [], []
    for row in rows:
        leptons = row["leptons"]
        out["lep_type"].append([t for t, _, _ in leptons])
        out["lep_charge"].append([q for _, q, _ in leptons])
        out["lep_pt"].append([pt for _, _, pt in leptons])
        out["lep_eta"].append([0.1 * i for i in range(len(leptons))])
        out["lep_phi"].append([1.5 * i for i in range(len(leptons))])
        out["lep_e"].append([pt * np.cosh(0.1 * i) for i, (_, _, pt) in enumerate(leptons)])
        for flag in ("isMediumID", "isLooseID", "isLooseIso", "isTrigMatched"):
            bad = row.get("fail", {}).get(flag, ())
            out[f"lep_{flag}"].append([i not in bad for i in range(len(leptons))])
        out["trigE"].append(row.get("trig", True))
        out["trigM"].append(False)
    return out


def test_2025e_hzz_selection_on_hand_made_events(tmp_path: Path) -> None:
    """The 2025e H→ZZ block (the 2025 notebook's cuts) on events with known outcomes,
    including its quirk: e+e+μ-μ- passes (no opposite-charge pairs are asked for)."""
    from atlasod.selection.chunk import process_chunk

    catalogue = Catalogue.load(release="2025e")
    hzz = load_analysis(ANALYSES, "hzz", catalogue)
    good = [(11, 1, 50.0), (11, -1, 40.0), (13, 1, 30.0), (13, -1, 20.0)]
    rows = [
        {"leptons": good},  # passes
        {"leptons": [(11, 1, 50.0), (11, 1, 40.0), (13, -1, 30.0), (13, -1, 20.0)]},  # quirk
        {"leptons": good, "trig": False},  # no trigger
        {"leptons": good, "fail": {"isTrigMatched": (0, 1, 2, 3)}},  # none trigger-matched
        {"leptons": [(11, 1, 50.0), (11, -1, 40.0), (13, 1, 9.0), (13, -1, 8.0)]},  # pT[2]
        {"leptons": good, "fail": {"isMediumID": (2,)}},  # a muon not medium
        {"leptons": good, "fail": {"isMediumID": (0,)}},  # an electron: not asked, passes
        {"leptons": good, "fail": {"isLooseIso": (1,)}},  # an electron not isolated
        {"leptons": [(11, 1, 50.0), (11, -1, 40.0), (11, 1, 30.0), (13, -1, 20.0)]},  # 46
        {"leptons": [(11, 1, 50.0), (11, -1, 40.0), (13, 1, 30.0), (13, 1, 20.0)]},  # charge
    ]
    columns = {
        k: np.asarray(v) if k.startswith("trig") else ak.Array(v)
        for k, v in _lepton_events(rows).items()
    }
    path = write_hand_made_events(hzz, columns, len(rows), tmp_path)
    result = process_chunk(hzz, hzz.data_files[0], path, 0, 1, hzz.lumi_pb, catalogue)
    assert {name: int(v["events"]) for name, v in result.cutflow.items()} == {
        "all": 10,
        "trigger": 9,
        "trigger-matched lepton": 8,
        "pT 20/15/10 GeV": 7,
        "four good leptons": 5,
        "eeee/mumumumu/eemumu": 4,
        "zero charge": 3,
    }


def _top_event(row: dict) -> dict:
    """One 2025e tt̄-like event (GeV) from a row's changes to a passing one: an electron of
    50 GeV at η 0.5, E_T^miss 60 GeV opposite in φ, two b-tagged and two light jets."""
    b_jets = [(120.0, 0.2, 1.0, True, 5), (90.0, -0.2, 1.6, True, 4)]
    jets = row.get("jets", [*b_jets, (70.0, 0.6, 0.2, True, 1), (45.0, -1.2, -2.5, True, 1)])
    lepton = {"type": 11, "eta": 0.5, "tight_iso": True, **row.get("lepton", {})}
    return {
        "lep_pt": [50.0],
        "lep_eta": [lepton["eta"]],
        "lep_phi": [0.0],
        "lep_e": [50.0 * np.cosh(lepton["eta"])],
        "lep_type": [lepton["type"]],
        "lep_charge": [1],
        "lep_isTightID": [True],
        "lep_isTightIso": [lepton["tight_iso"]],
        "lep_isTrigMatched": [True],
        "jet_pt": [j[0] for j in jets],
        "jet_eta": [j[1] for j in jets],
        "jet_phi": [j[2] for j in jets],
        "jet_e": [j[0] * np.cosh(j[1]) for j in jets],
        "jet_jvt": [j[3] for j in jets],
        "jet_btag_quantile": [j[4] for j in jets],
        "met": row.get("met", 60.0),
        "met_phi": row.get("met_phi", np.pi),
        "trigE": row.get("trig", True),
        "trigM": False,
    }


def test_2025e_ttbar_selection_on_hand_made_events(tmp_path: Path) -> None:
    """The 2025e tt̄ block (the 2025 C++ framework's cuts) on events with known outcomes,
    each failing one cut, and its top mass: the three jets of largest summed pT."""
    from atlasod.selection.chunk import process_chunk

    catalogue = Catalogue.load(release="2025e")
    ttbar = load_analysis(ANALYSES, "ttbar", catalogue)
    light = (60.0, 0.0, 0.5, True, 1)
    rows = [
        {},  # passes
        {"jets": [(120.0, 0.2, 1.0, True, 5), (90.0, -0.2, 1.6, True, 4), light]},  # 3 jets
        {"met": 20.0},  # E_T^miss
        {"trig": False},  # trigger
        {"lepton": {"tight_iso": False}},  # not isolated
        {"lepton": {"eta": 1.4}},  # an electron in the crack
        {
            "jets": [
                (120.0, 0.2, 1.0, True, 5),
                (90.0, -0.2, 1.6, True, 4),
                light,
                (70.0, 1.0, -1.0, False, 1),
                (40.0, 3.0, 1.0, True, 1),
            ]
        },  # JVT, |η|
        {"jets": [(120.0, 0.2, 1.0, True, 5), (90.0, -0.2, 1.6, True, 3), light, light]},  # b
        {"met_phi": 0.0},  # mT(W) = 0
        {"lepton": {"type": 13, "eta": 2.45}},  # a muon at |η| 2.45: passes
    ]
    events = [_top_event(r) for r in rows]
    path = write_hand_made_events(ttbar, columns_of(events), len(rows), tmp_path)
    result = process_chunk(ttbar, ttbar.data_files[0], path, 0, 1, ttbar.lumi_pb, catalogue)
    assert {name: int(v["events"]) for name, v in result.cutflow.items()} == {
        "all": 10,
        "at least four jets": 9,
        "missing ET > 30 GeV": 8,
        "trigger": 7,
        "exactly one good lepton": 5,
        "at least four good jets": 4,
        "at least two b-tagged jets": 3,
        "mT(W) > 30 GeV": 2,
    }
    # the two passing events have the same jets: their top candidate is the three jets of
    # largest vector-sum pT among the four, computed here with vector
    import itertools

    import vector

    jets = [
        vector.obj(pt=j[0], eta=j[1], phi=j[2], energy=j[0] * np.cosh(j[1]))
        for j in zip(*(events[0][f"jet_{k}"] for k in ("pt", "eta", "phi")), strict=True)
    ]
    best = max(itertools.combinations(jets, 3), key=lambda c: (c[0] + c[1] + c[2]).pt)
    m_jjj = (best[0] + best[1] + best[2]).mass
    top = result.histograms["hist_Topmass"]
    assert 100 < m_jjj < 250 and top.sum().value == 2
    assert top.values()[top.axes[0].index(m_jjj)] == 2


def _reco_event(row: dict) -> dict:
    """One 2025e event (GeV) for the tt̄ reconstruction from a row's changes to a passing one:
    an electron of 50 GeV at (η 0.5, φ 0), E_T^miss 60 GeV at φ 1.2 (m_T 61.9 GeV), a b-jet
    far from the lepton (φ 2.8) and one close to it (φ 0.4), three light jets."""
    jets = row.get("jets", RECO_JETS)
    lep_phi = row.get("lep_phi", 0.0)
    leptons = row.get("lep_pt", [50.0])
    return {
        "lep_pt": leptons,
        "lep_eta": [0.5] * len(leptons),
        "lep_phi": [lep_phi] * len(leptons),
        "lep_e": [pt * np.cosh(0.5) for pt in leptons],
        "lep_type": [11] * len(leptons),
        "lep_charge": [1] * len(leptons),
        "lep_isTrigMatched": [row.get("matched", True)] * len(leptons),
        "jet_pt": [j[0] for j in jets],
        "jet_eta": [j[1] for j in jets],
        "jet_phi": [j[2] for j in jets],
        "jet_e": [j[0] * np.cosh(j[1]) for j in jets],
        "jet_btag_quantile": [j[3] for j in jets],
        "met": row.get("met", 60.0),
        "met_phi": row.get("met_phi", lep_phi + 1.2),
        "trigE": row.get("trig", True),
        "trigM": False,
    }


# (pT, η, φ, b-tag quantile): b-jets at quantile 4 and 5, light jets at 1 and 2
RECO_JETS = [(120, 0.2, 2.8, 5), (90, -0.2, 0.4, 4), (70, 0.6, -1.5, 1), (45, -1.2, -2.5, 1)]
RECO_JETS += [(35, 0.3, 1.9, 2)]


def _reco_truth(event: dict, wrap: bool) -> dict:
    """m_jj, m_jjj and the two m(ℓνb) of an event, computed here with vector and a numerical
    solution of m(ℓ + ν) = 80.4 GeV."""
    import itertools

    import vector
    from scipy.optimize import brentq

    def p4(prefix: str, i: int) -> vector.MomentumObject4D:
        pt, eta, phi = (event[f"{prefix}_{k}"][i] for k in ("pt", "eta", "phi"))
        return vector.obj(pt=pt, eta=eta, phi=phi, energy=event[f"{prefix}_e"][i])

    lep = p4("lep", 0)
    jets = [p4("jet", i) for i in range(len(event["jet_pt"]))]
    tagged = [j for j, q in zip(jets, event["jet_btag_quantile"], strict=True) if q >= 4]
    light = [j for j, q in zip(jets, event["jet_btag_quantile"], strict=True) if q < 4]

    def dr(jet: vector.MomentumObject4D) -> float:
        dphi = jet.phi - lep.phi
        return float(np.hypot(jet.eta - lep.eta, lep.deltaphi(jet) if wrap else dphi))

    far, near = max(tagged, key=dr), min(tagged, key=dr)
    pair = min(itertools.combinations(light, 2), key=lambda p: abs((p[0] + p[1]).mass - 80.4))
    met, phi = event["met"], event["met_phi"]

    def nu(pz: float) -> vector.MomentumObject4D:
        return vector.obj(px=met * np.cos(phi), py=met * np.sin(phi), pz=pz, E=np.hypot(met, pz))

    # m(ℓ+ν)² - 80.4² changes sign once on each side of its minimum: the two roots
    f = lambda pz: (lep + nu(pz)).mass2 - 80.4**2  # noqa: E731
    low = float(lep.pz * met / lep.pt)  # (near the minimum of m(ℓ + ν) in p_z)
    roots = [brentq(f, low, 1e4), brentq(f, -1e4, low)]
    return {
        "m_jj": (pair[0] + pair[1]).mass,
        "m_jjj": (pair[0] + pair[1] + far).mass,
        "m_lvb": [(lep + nu(pz) + near).mass for pz in roots],
        "pz": roots,
    }


def test_2025e_ttbar_reco_on_hand_made_events(tmp_path: Path) -> None:
    """The tt̄ notebook's cuts, each failed by one event, and both tops of the passing events
    against vector and a numerical neutrino solution; its two quirk switches."""
    from atlasod.selection.chunk import process_chunk

    catalogue = Catalogue.load(release="2025e")
    reco = load_analysis(ANALYSES, "ttbar_reco", catalogue)
    # a b-jet at φ -3.0 next to a lepton at φ 3.0 (ΔR 0.28 across ±π; 6.0 without the wrap)
    wrapped = [(120, 0.5, -3.0, 5), (90, 0.5, 1.0, 4), *RECO_JETS[2:]]
    rows = [
        {},  # passes
        {"lep_phi": 3.0, "met_phi": 3.0 + 1.2 - 2 * np.pi, "jets": wrapped},  # passes
        {"jets": [*RECO_JETS[:2], (200, 0.0, -1.5, 1), (200, 0.0, 1.5, 1)]},  # passes, no W
        {"trig": False},
        {"lep_pt": [50.0, 20.0]},  # two leptons
        {"matched": False},
        {"lep_pt": [29.0]},
        {"met": 29.0},
        {"met_phi": 0.2},  # m_T = 10.3 GeV
        {"jets": [*RECO_JETS[:3], (25, -1.2, -2.5, 1), (25, 0.3, 1.9, 2)]},  # three of 30 GeV
        {"jets": [RECO_JETS[0], (90, -0.2, 0.4, 3), *RECO_JETS[2:]]},  # one b-jet
    ]
    events = [_reco_event(r) for r in rows]
    path = write_hand_made_events(reco, columns_of(events), len(rows), tmp_path)

    def run(**options: bool) -> dict:
        data = reco.data_files[0]
        return process_chunk(reco, data, path, 0, 1, reco.lumi_pb, catalogue, options)

    result = run()
    assert {name: int(v["events"]) for name, v in result.cutflow.items()} == {
        "all": 11,
        "trigger": 10,
        "exactly one lepton": 9,
        "trigger-matched lepton": 8,
        "lepton pT >= 30 GeV": 7,
        "missing ET >= 30 GeV": 6,
        "mT(W) >= 30 GeV": 5,
        "4 jets pT >= 30 GeV and 2 b-jets": 3,
    }

    def entries(h: hist.Hist) -> dict[float, float]:
        centres = h.axes[0].centers
        return {round(float(c), 1): float(v) for c, v in zip(centres, h.values(), strict=True) if v}

    def bin_of(h: hist.Hist, x: float) -> float:
        return round(float(h.axes[0].centers[h.axes[0].index(x)]), 1)

    truth = [_reco_truth(events[i], wrap=True) for i in (0, 1)]
    assert all(abs(t["m_jj"] - 80.4) <= 20 and 100 < t["m_jjj"] < 250 for t in truth)
    mjjj = result.histograms["hist_mjjj"]  # the third event has no W candidate
    tops = [bin_of(mjjj, t["m_jjj"]) for t in truth]
    assert entries(mjjj) == {tops[0]: 1.0, tops[1]: 1.0}
    # m(ℓνb): the solution of smaller |p_z|, for all three
    mlvb = result.histograms["hist_mlvb"]
    third = _reco_truth(events[2] | {"jet_btag_quantile": [5, 4, 1, 1]}, wrap=True)
    chosen = [t["m_lvb"][int(np.argmin(np.abs(t["pz"])))] for t in (*truth, third)]
    expected: dict[float, float] = {}
    for m in chosen:
        expected[bin_of(mlvb, m)] = expected.get(bin_of(mlvb, m), 0.0) + 1.0
    assert entries(mlvb) == expected
    # the quirks: ΔR without the wrap takes the other b-jet for the second event's hadronic
    # top; both solutions at half weight each (data too)
    quirky = run(ttbar_reco_dr_no_wrap=True, ttbar_reco_both_neutrinos=True)
    unwrapped = _reco_truth(events[1], wrap=False)
    assert bin_of(mjjj, unwrapped["m_jjj"]) != bin_of(mjjj, truth[1]["m_jjj"])
    assert entries(quirky.histograms["hist_mjjj"]) == {
        bin_of(mjjj, truth[0]["m_jjj"]): 1.0,
        bin_of(mjjj, unwrapped["m_jjj"]): 1.0,
    }
    halves: dict[float, float] = {}
    for m in (*truth[0]["m_lvb"], *unwrapped["m_lvb"], *third["m_lvb"]):
        halves[bin_of(mlvb, m)] = halves.get(bin_of(mlvb, m), 0.0) + 0.5
    assert entries(quirky.histograms["hist_mlvb"]) == halves
    assert quirky.histograms["hist_mlvb"].sum().value == 3.0


def test_2025e_zpeak_counts_simulated_events_without_data(tmp_path: Path) -> None:
    """The Z PyROOT example (an analysis of the simulation alone, unweighted): its cuts on
    hand-made events, every MC event counted once whatever its weight and normalisation;
    its yields have no data, its plot no data points and no ratio panel, and the mean and
    standard deviation of its histogram are those of the bin contents."""
    from atlasod.results.plotting import components, plot_stack
    from atlasod.results.validation import Inputs, quantity
    from atlasod.results.yields import compute_yields, markdown_table
    from atlasod.selection.chunk import process_chunk

    catalogue = Catalogue.load(release="2025e")
    zpeak = load_analysis(ANALYSES, "zpeak", catalogue)
    assert zpeak.data_files == () and zpeak.unweighted

    def pair(pt1: float, pt2: float, charges=(1, -1), types=(11, 11), extra: int = 0) -> dict:
        """Two massless leptons back to back at η 0: m = 2 sqrt(pt1 pt2)."""
        n = 2 + extra
        return {
            "lep_pt": [pt1, pt2, *[10.0] * extra],
            "lep_eta": [0.0] * n,
            "lep_phi": [0.0, np.pi, *[1.0] * extra],
            "lep_e": [pt1, pt2, *[10.0] * extra],
            "lep_charge": [*charges, *[1] * extra],
            "lep_type": [*types, *[11] * extra],
            "mcWeight": 2.5,  # not used: every event counts once
            "xsec": 1000.0,
        }

    events = [
        pair(46.0, 46.0),  # m = 92
        pair(41.0, 41.0, extra=1),  # three leptons, the first two make m = 82
        pair(45.0, 45.0, charges=(1, 1)),  # same charge
        pair(45.0, 45.0, types=(11, 13)),  # different flavours
        pair(10.0, 10.0),  # m = 20: below the histogram
    ]
    path = write_hand_made_events_as(zpeak, zpeak.mc_files[0], columns_of(events), tmp_path)
    result = process_chunk(zpeak, zpeak.mc_files[0], path, 0, 1, zpeak.lumi_pb, catalogue)
    assert {k: v["weighted"] for k, v in result.cutflow.items()} == {
        "all": 5.0,
        "at least two leptons": 5.0,
        "opposite charge": 4.0,
        "same flavour": 3.0,
    }
    h = result.histograms["hist_mll"]
    assert h.sum().value == 2.0 and h.sum(flow=True).value == 3.0  # 20 GeV is below 40
    assert h[h.axes[0].index(92.0)].value == 1.0 and h[h.axes[0].index(82.0)].value == 1.0
    # yields and plot without data
    stem = zpeak.mc_files[0].stem
    cutflows = {zpeak.mc_files[0].file: {"cutflow": result.cutflow}}
    yields = compute_yields(zpeak, cutflows, {})
    assert yields["data"] is None and "Data" not in yields["cutflow"]
    assert "**data**" not in markdown_table(yields)
    hists = {f"{stem}/hist_mll": h}
    spec = zpeak.histograms[0]
    data, groups, edges = components(zpeak, hists, spec, {})
    assert data is None and [g.values.sum() for g in groups] == [2.0]
    figure = plot_stack(spec, zpeak.title, data, groups, edges, None, None)
    assert len(figure.axes) == 1  # no ratio panel
    # mean and std of the contents at their bin centres (bins of 3.33 GeV from 40)
    run = Inputs(yields=yields, histograms_path=Path("unused.root"), options={})
    run._histograms_read = hists
    centres = [h.axes[0].centers[h.axes[0].index(m)] for m in (82.0, 92.0)]
    assert quantity("hist.hist_mll.mc.mean", run, zpeak) == pytest.approx(np.mean(centres))
    assert quantity("hist.hist_mll.mc.std", run, zpeak) == pytest.approx(np.std(centres))
    with pytest.raises(AtlasodError, match=r"'yields\.data': the analysis reads no data"):
        quantity("yields.data", run, zpeak)
    with pytest.raises(AtlasodError, match="analysis zpeak reads no data"):
        quantity("hist.hist_mll.data.integral", run, zpeak)


# The portal's folder of the 2025e files (reference 2025e §3.2), below a local server's root.
PORTAL = "eos/opendata/atlas/rucio"


@pytest.fixture(scope="module")
def portal(demo_run_2025e: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A server root holding the 2025e demo run's H→ZZ files where the portal keeps them
    (eos/opendata/atlas/rucio/opendata/<file>), and a catalogue with their sizes, adler32
    and entries."""
    demo = demo_run_2025e / "data" / "demo" / "hzz"
    root = tmp_path_factory.mktemp("portal")
    catalogue = Catalogue.load(release="2025e")
    for path in demo.rglob("*.root"):
        sample = catalogue.file(path.name)
        target = root / PORTAL / str(sample.portal_dir) / sample.file
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    out = catalogue_for(demo, tmp_path_factory.mktemp("catalogue") / "catalogue.yaml", "2025e")
    return root, out


def _real_run(tmp_path: Path, catalogue: Path, location: str, access: str) -> None:
    run_snakemake(
        "hzz",
        "--config",
        "release=2025e",
        "source=real",
        f"access={access}",
        f"catalogue={catalogue}",
        f"locations={location}",
        f"data_dir={tmp_path / 'data'}",
        f"results_dir={tmp_path / 'results'}",
        f"logs_dir={tmp_path / 'logs'}",
        "chunk_entries=5000",
        f"demo_scale={TEST_SCALE}",
    )


@pytest.mark.network
def test_2025e_files_are_fetched_from_the_portal_paths_and_verified(
    demo_run_2025e: Path, portal: tuple[Path, Path], tmp_path: Path
) -> None:
    """source=real on 2025e: every file downloaded from its portal path over HTTP, checked
    against the catalogue's size and adler32, gives the demo run's histograms byte for
    byte; a served file that differs from its checksum is refused."""
    root, catalogue = portal
    with RangeHTTPServer(root) as server:
        _real_run(tmp_path, catalogue, f"{server.url}/{PORTAL}/{{portal_dir}}/{{file}}", "download")
        fetched = {p for p, _ in server.requests}
    name = "ODEO_FEB2025_v0_exactly4lep_data15_periodD.exactly4lep.root"
    assert f"/{PORTAL}/opendata/{name}" in fetched
    real = (tmp_path / "results" / "2025e-real" / "hzz" / "histograms.root").read_bytes()
    assert (
        real == (demo_run_2025e / "results" / "2025e-demo" / "hzz" / "histograms.root").read_bytes()
    )
    assert (tmp_path / "data" / "real" / "exactly4lep" / "Data" / name).is_file()

    sample = Catalogue.load(catalogue, "2025e").file(name)
    bad = dataclasses.replace(sample, adler32="00000001")
    with RangeHTTPServer(root) as server, pytest.raises(AtlasodError) as err:
        fetch_file(bad, [f"{server.url}/{PORTAL}/opendata/{name}"], tmp_path / "bad" / name)
    assert "adler32" in str(err.value) and "00000001" in str(err.value)
    assert not (tmp_path / "bad" / name).exists()


@pytest.mark.network
def test_2025e_files_are_streamed_over_xrootd_from_the_portal_paths(
    demo_run_2025e: Path, portal: tuple[Path, Path], tmp_path: Path
) -> None:
    """access=stream on 2025e: the files read in place over root:// from their portal
    paths give the demo run's histograms byte for byte."""
    if shutil.which("xrootd") is None:
        if os.environ.get("CI"):
            pytest.fail("xrootd-server is not installed: `make test` installs it when run as root")
        pytest.skip("xrootd-server is not installed (apt-get install xrootd-server)")
    root, catalogue = portal
    export = Path(tempfile.mkdtemp(prefix="atlasod-xrootd-export-"))
    try:
        shutil.copytree(root, export, dirs_exist_ok=True)
        with xrootd_server(export) as base:
            _real_run(
                tmp_path, catalogue, f"{base}{export}/{PORTAL}/{{portal_dir}}/{{file}}", "stream"
            )
    finally:
        shutil.rmtree(export, ignore_errors=True)
    real = (tmp_path / "results" / "2025e-real" / "hzz" / "histograms.root").read_bytes()
    assert (
        real == (demo_run_2025e / "results" / "2025e-demo" / "hzz" / "histograms.root").read_bytes()
    )
    assert not list((tmp_path / "data").rglob("*.root"))  # read in place, nothing downloaded


def test_2025e_hyy_crack_veto_and_its_quirk_option(tmp_path: Path) -> None:
    """H→γγ on 2025e, events with known outcomes: a photon in the crack is vetoed by
    default; with hyy_crack_veto_always_true (the current notebook's bug) it is kept."""
    from atlasod.selection.chunk import process_chunk

    catalogue = Catalogue.load(release="2025e")
    hyy = load_analysis(ANALYSES, "hyy", catalogue)
    assert "hyy_crack_veto_always_true" in hyy.options
    # (pT, η) of the two photons; φ differ by π/2 so that m ≈ 2 sqrt(pT1 pT2 cosh Δη) / √2
    events = [
        [(80.0, 0.2), (60.0, -0.4)],  # passes
        [(80.0, 1.45), (60.0, -0.4)],  # leading photon in the crack
        [(80.0, 0.2), (60.0, -1.40)],  # subleading photon in the crack
        [(80.0, 0.2), (25.0, -0.4)],  # subleading pT < 30 GeV
    ]
    pt = [[p for p, _ in e] for e in events]
    eta = [[h for _, h in e] for e in events]
    columns = {
        "photon_pt": ak.Array(pt),
        "photon_eta": ak.Array(eta),
        "photon_phi": ak.Array([[0.0, np.pi / 2]] * len(events)),
        "photon_e": ak.Array([[p * np.cosh(h) for p, h in e] for e in events]),
        "photon_isTightID": ak.Array([[True, True]] * len(events)),
        "photon_ptcone20": ak.Array([[0.0, 0.0]] * len(events)),
    }
    sample = hyy.data_files[0]
    path = write_hand_made_events(hyy, columns, len(events), tmp_path)

    def passing(options: dict[str, bool]) -> dict[str, int]:
        result = process_chunk(hyy, sample, path, 0, 1, hyy.lumi_pb, catalogue, options)
        return {name: int(v["events"]) for name, v in result.cutflow.items()}

    default = passing({})
    assert (default["pT > 50 / 30 GeV"], default["crack veto"]) == (3, 1)
    assert passing({"hyy_crack_veto_always_true": False}) == default
    quirk = passing({"hyy_crack_veto_always_true": True})
    assert (quirk["pT > 50 / 30 GeV"], quirk["crack veto"]) == (3, 3)
