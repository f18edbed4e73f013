"""The tt̄ (§8.3) and boosted Z′ → tt̄ (§11.3) selections on hand-made events."""

import awkward as ak
import numpy as np
import pytest
import vector

from atlasod.data.catalogue import Catalogue
from atlasod.selection.analysis import Analysis, load_analysis
from atlasod.selection.physics import event_normal

from .conftest import ANALYSES

TAG, NO_TAG = 0.95, 0.1  # MV2c10 above / below the 70 % working point (0.8244273)


@pytest.fixture(scope="module")
def ttbar(catalogue: Catalogue) -> Analysis:
    return load_analysis(ANALYSES, "ttbar", catalogue)


@pytest.fixture(scope="module")
def zprime(catalogue: Catalogue) -> Analysis:
    return load_analysis(ANALYSES, "zprime", catalogue)


def p4(pt, eta, phi, mass=0.0):
    return vector.obj(pt=pt, eta=eta, phi=phi, mass=mass)


def event(lepton=(50.0, 0.2, 0.0), met=(60.0, 2.5), jets=(), large_r=(), **overrides):
    """One event in MeV: a tight electron, missing ET, jets (pt, eta, phi, MV2c10) and
    large-R jets (pt, eta, phi, m, tau32), all with the ntuple's branches."""
    lep = p4(*lepton)
    out = {
        "runNumber": 300000,
        "eventNumber": 17,
        "trigE": True,
        "trigM": False,
        "met_et": met[0] * 1e3,
        "met_phi": met[1],
        "met_et_syst": 0.0,
        "lep_pt": [lep.pt * 1e3],
        "lep_eta": [lep.eta],
        "lep_phi": [lep.phi],
        "lep_E": [lep.E * 1e3],
        "lep_charge": [1],
        "lep_type": [11],
        "lep_isTightID": [True],
        "lep_ptcone30": [0.0],
        "lep_etcone20": [0.0],
        "lep_trackd0pvunbiased": [0.001],
        "lep_tracksigd0pvunbiased": [0.01],
        "lep_z0": [0.0],
        "lep_pt_syst": [0.0],
        "jet_n": len(jets),
        "jet_pt": [j[0] * 1e3 for j in jets],
        "jet_eta": [j[1] for j in jets],
        "jet_phi": [j[2] for j in jets],
        "jet_E": [p4(*j[:3]).E * 1e3 for j in jets],
        "jet_jvt": [1.0 for _ in jets],
        "jet_MV2c10": [j[3] for j in jets],
        "jet_pt_syst": [0.0 for _ in jets],
        "largeRjet_n": len(large_r),
        "largeRjet_pt": [j[0] * 1e3 for j in large_r],
        "largeRjet_eta": [j[1] for j in large_r],
        "largeRjet_phi": [j[2] for j in large_r],
        "largeRjet_m": [j[3] * 1e3 for j in large_r],
        "largeRjet_E": [p4(*j[:4]).E * 1e3 for j in large_r],
        "largeRjet_tau32": [j[4] for j in large_r],
        "largeRjet_pt_syst": [0.0 for _ in large_r],
    }
    out.update(overrides)
    return out


# --- tt̄ ----------------------------------------------------------------------------------

FOUR_JETS = [(120.0, 0.1, 1.0, TAG), (90.0, -0.3, 2.0, NO_TAG), (70.0, 0.5, -2.5, TAG),
             (40.0, 1.0, -1.0, NO_TAG)]  # fmt: skip


def test_ttbar_top_is_the_highest_pt_triplet_and_w_its_highest_pt_pair(ttbar: Analysis) -> None:
    sel = ttbar.selection.select_events(ak.Array([event(jets=FOUR_JETS)]), {})
    assert sel.mask.tolist() == [True]
    jets = [p4(*j[:3]) for j in FOUR_JETS]
    triplets = [(0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)]
    best = max(triplets, key=lambda t: (jets[t[0]] + jets[t[1]] + jets[t[2]]).pt)
    a, b, c = (jets[i] for i in best)
    pair = max([(a, b), (a, c), (b, c)], key=lambda p: (p[0] + p[1]).pt)
    assert sel.variables["m_jjj"][0] == pytest.approx((a + b + c).mass, rel=1e-5)
    assert sel.variables["m_jj"][0] == pytest.approx((pair[0] + pair[1]).mass, rel=1e-5)
    assert sel.variables["n_jets"][0] == 4
    assert sel.variables["n_bjets"][0] == 2
    assert sel.variables["leadbjet_pt"][0] == pytest.approx(120.0)
    expected_mt = np.sqrt(2 * 50.0 * 60.0 * (1 - np.cos(2.5)))
    assert sel.variables["mtw"][0] == pytest.approx(expected_mt, rel=1e-5)


@pytest.mark.parametrize(
    ("change", "failing_cut"),
    [
        ({"met_et": 25e3}, "missing ET > 30 GeV"),
        ({"trigE": False}, "trigger"),
        ({"lep_ptcone30": [10e3]}, "exactly one good lepton"),
        ({"jet_MV2c10": [TAG, NO_TAG, NO_TAG, NO_TAG]}, "at least two b-tagged jets"),
        ({"jet_jvt": [1.0, 1.0, 1.0, 0.2]}, "at least four good jets"),  # 40 GeV pile-up jet
        ({"met_phi": 0.05}, "mT(W) > 30 GeV"),
    ],
)
def test_ttbar_each_cut_rejects(ttbar: Analysis, change: dict, failing_cut: str) -> None:
    sel = ttbar.selection.select_events(ak.Array([event(jets=FOUR_JETS, **change)]), {})
    assert not sel.mask[0]
    names = list(sel.cutflow)
    failed = next(n for n in names if not sel.cutflow[n][0])
    assert failed == failing_cut


def test_ttbar_syst_smearing_is_a_function_of_the_event_only(ttbar: Analysis) -> None:
    base = event(jets=FOUR_JETS, met_et_syst=5e3, lep_pt_syst=[2e3])
    events = ak.Array([base, {**base, "eventNumber": 18}, base])
    met = ttbar.selection.select_events(events, {}).variables["etmiss_syst"]
    assert met[0] == met[2] != met[1]
    # E_T^miss + its uncertainty x the event's normal number of the E_T^miss stream (salt 1)
    normal = event_normal(np.array([300000, 300000]), np.array([17, 18]), 1)
    assert met == pytest.approx(60.0 + 5.0 * normal[[0, 1, 0]], rel=1e-6)


# --- Z′ → tt̄ ------------------------------------------------------------------------------

# lepton at φ = 0 with its b-jet next to it; the hadronic top back to back with a b inside
BOOSTED = {
    "lepton": (80.0, 0.1, 0.0),
    "met": (70.0, 0.3),
    "jets": [(150.0, 0.3, 0.4, TAG), (60.0, -0.2, 3.0, TAG)],
    "large_r": [(450.0, -0.1, 3.0, 175.0, 0.5), (260.0, 1.5, -1.5, 60.0, 0.9)],
}


NEAR = "a jet near the lepton"
TAGGED = "exactly one top-tagged large-R jet"


def test_zprime_mass_of_top_jet_lepton_jet_and_lepton(zprime: Analysis) -> None:
    sel = zprime.selection.select_events(ak.Array([event(**BOOSTED)]), {})
    assert sel.mask.tolist() == [True]
    assert list(sel.cutflow)[-1] == TAGGED
    assert sel.cutflow[TAGGED].tolist() == [True]
    v = sel.variables
    top, jet, lep = p4(450.0, -0.1, 3.0, 175.0), p4(150.0, 0.3, 0.4), p4(80.0, 0.1, 0.0)
    assert v["m_tt"][0] == pytest.approx((top + jet + lep).mass, rel=1e-5)
    assert v["m_tt_pass"][0]
    assert v["top_m"][0] == pytest.approx(175.0)
    # after the jet near the lepton, both large-R jets pass m > 50, pT > 250, |η| < 2: one
    # entry each, and each fills largeRjet_n
    mask, stage = sel.stages[NEAR]
    assert mask.tolist() == [True]
    assert stage["lr_pt"].tolist() == [pytest.approx([450.0, 260.0])]
    assert stage["lr_n"].tolist() == [[2, 2]]


@pytest.mark.parametrize(
    "change",
    [
        {"large_r": [(450.0, -0.1, 0.8, 175.0, 0.5)]},  # Δφ(ℓ, J) < 1
        {"large_r": [(450.0, -0.1, 3.0, 175.0, 0.8)]},  # τ32 > 0.75
        {"large_r": [(450.0, -0.1, 3.0, 90.0, 0.5)]},  # m < 100 GeV
        {"large_r": [(280.0, -0.1, 3.0, 175.0, 0.5)]},  # pT < 300 GeV
        {"large_r": [(450.0, 0.3, 1.45, 175.0, 0.5)]},  # ΔR(j_ℓ, J) = 1.05 < 1.5
    ],
)
def test_zprime_top_tag_requirements(zprime: Analysis, change: dict) -> None:
    sel = zprime.selection.select_events(ak.Array([event(**{**BOOSTED, **change})]), {})
    assert sel.cutflow[NEAR][0]  # the event passes up to the jet near the lepton ...
    assert not sel.cutflow[TAGGED][0]  # ... but has no top-tagged jet
    assert not sel.mask[0]


def test_zprime_b_tag_inside_the_top_jet_is_enough(zprime: Analysis) -> None:
    jets = [(150.0, 0.3, 0.4, NO_TAG), (60.0, -0.2, 3.0, TAG)]
    sel = zprime.selection.select_events(ak.Array([event(**{**BOOSTED, "jets": jets})]), {})
    assert sel.mask[0]
    assert not sel.variables["m_tt_pass"][0]  # m(tt̄) needs the lepton's jet b-tagged
    jets = [(150.0, 0.3, 0.4, NO_TAG), (60.0, -0.2, 1.0, TAG)]  # the b far from J
    sel = zprime.selection.select_events(ak.Array([event(**{**BOOSTED, "jets": jets})]), {})
    assert sel.cutflow[NEAR][0] and not sel.mask[0]


def test_zprime_tt_factor_applies_except_to_lead_lr_histograms(zprime: Analysis) -> None:
    ttbar = zprime.group("ttbar")
    on = {"zprime_ttbar_factor": True}
    assert ttbar.factor(on, "hist_ttbarMLR") == 0.91
    assert ttbar.factor(on, "hist_leadTopLRjet_pt") == 0.91
    assert ttbar.factor(on, "hist_leadLRjet_m") == 1.0
    assert ttbar.factor({"zprime_ttbar_factor": False}, "hist_ttbarMLR") == 1.0
    signal = zprime.group("Zprime")
    assert not signal.stacked and signal.drawn_on("hist_ttbarMLR")
    assert not signal.drawn_on("hist_etmiss")
    assert len(zprime.group("V+jets").samples) == 45  # 42 Sherpa W slices + 3 Powheg Z


# --- Z′ on 2025e: this project's port, the top tag by the large-R jet's mass (no τ32) -----


@pytest.fixture(scope="module")
def zprime_2025e() -> Analysis:
    return load_analysis(ANALYSES, "zprime", Catalogue.load(release="2025e"))


def event_2025e(**kwargs) -> dict:
    """The event of :func:`event` in the 2025e layout: GeV, the 2025e names, the 70 % b-tag
    as btag_quantile (4 or more), the isolation and trigger matching as flags."""
    old = event(**kwargs)
    gev = {k: np.asarray(old[k]) / 1e3 for k in old if k.endswith(("_pt", "_E", "_m"))}
    out = {
        "trigE": True,
        "trigM": False,
        "met": old["met_et"] / 1e3,
        "met_phi": old["met_phi"],
        "lep_pt": gev["lep_pt"].tolist(),
        "lep_e": gev["lep_E"].tolist(),
        "lep_isTightIso": [True],
        "lep_isTrigMatched": [True],
        "jet_e": gev["jet_E"].tolist(),
        "jet_pt": gev["jet_pt"].tolist(),
        "jet_jvt": [True for _ in old["jet_pt"]],
        "jet_btag_quantile": [5 if t > 0.8244273 else 1 for t in old["jet_MV2c10"]],
        "largeRJet_n": old["largeRjet_n"],
        "largeRJet_pt": gev["largeRjet_pt"].tolist(),
        "largeRJet_e": gev["largeRjet_E"].tolist(),
        "largeRJet_m": gev["largeRjet_m"].tolist(),
        "largeRJet_D2": [1.0 for _ in old["largeRjet_pt"]],
    }
    for name in ("lep_eta", "lep_phi", "lep_charge", "lep_type", "lep_isTightID", "jet_eta"):
        out[name] = old[name]
    out |= {"jet_phi": old["jet_phi"], "largeRJet_eta": old["largeRjet_eta"]}
    out["largeRJet_phi"] = old["largeRjet_phi"]
    return out


@pytest.mark.parametrize(
    ("large_r", "tagged", "in_2020"),
    [
        ((450.0, -0.1, 3.0, 175.0, 0.5), True, True),  # the 2020 top-tagged jet
        ((450.0, -0.1, 3.0, 120.0, 0.5), False, True),  # 2020: m > 100 GeV and τ32 0.5
        ((450.0, -0.1, 3.0, 210.0, 0.5), False, True),  # above the mass window
        ((450.0, -0.1, 3.0, 175.0, 0.9), True, False),  # τ32 0.9 is not read on 2025e
        ((2000.0, -0.1, 3.0, 175.0, 0.5), True, False),  # pT 2 TeV (2020: at most 1.5 TeV)
        ((450.0, -0.1, 0.8, 175.0, 0.5), False, False),  # Δφ(ℓ, J) < 1, as in 2020
    ],
)
def test_zprime_2025e_top_tag_by_mass_window(
    zprime: Analysis, zprime_2025e: Analysis, large_r: tuple, tagged: bool, in_2020: bool
) -> None:
    """The 2025e top tag: 140 < m < 200 GeV and 300 GeV < pT < 3 TeV instead of 2020's
    m > 100 GeV, τ32 < 0.75 and pT < 1.5 TeV; the rest as in 2020. The same hand-made event
    in both layouts."""
    kwargs = {**BOOSTED, "large_r": [large_r, BOOSTED["large_r"][1]]}
    sel = zprime_2025e.selection.select_events(ak.Array([event_2025e(**kwargs)]), {})
    assert sel.cutflow[NEAR][0]
    assert bool(sel.mask[0]) is tagged
    if tagged:
        top = p4(*large_r[:4])
        jet, lep = p4(150.0, 0.3, 0.4), p4(80.0, 0.1, 0.0)
        assert sel.variables["m_tt"][0] == pytest.approx((top + jet + lep).mass, rel=1e-5)
    old = zprime.selection.select_events(ak.Array([event(**kwargs)]), {})
    assert bool(old.mask[0]) is in_2020
