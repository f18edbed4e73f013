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
