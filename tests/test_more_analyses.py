"""The C++ framework's other analyses (issue 27) on hand-made events with known outcomes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from atlasod.data.catalogue import Catalogue
from atlasod.selection.analysis import load_analysis

from .conftest import ANALYSES, columns_of, write_hand_made_events
from .hand_made import GEV, PI, W_MU, Z_EE, lepton, lepton_event, run_events


@pytest.mark.parametrize("release", ["2020"])
def test_wz_selection_on_hand_made_events(release: str, tmp_path: Path) -> None:
    """Every cut of the WZ selection (more-analyses reference §3.3) failed by one event, the
    Z candidate the same-flavour opposite-charge pair closest to 91.18 GeV, mT(W) of the
    lepton outside it, and the three leptons' histograms filled once per lepton."""
    catalogue = Catalogue.load(release=release)
    wz = load_analysis(ANALYSES, "wz", catalogue)
    # μ+μ-μ+: (0,1) has m = sqrt(2·52·45.6) = 68.9 GeV, (1,2) 91.2 GeV, (0,2) the same charge:
    # the Z is (1, 2), the W lepton object 0 (52 GeV at π/2): mT = sqrt(2·52·50·2) = 102 GeV
    three_muons = [
        lepton(52.0, PI / 2, 13, 1),
        lepton(45.6, 0.0, 13, -1),
        lepton(45.6, PI, 13, 1),
    ]
    # a Z of two 24 GeV electrons at η ±1.255 (m = 91.2 GeV) and a 22 GeV muon: no lepton > 25
    soft_z = [lepton(24.0, 0.0, 11, 1, eta=1.255), lepton(24.0, PI, 11, -1, eta=-1.255)]
    events = [
        lepton_event([*Z_EE, W_MU]),  # passes
        lepton_event(three_muons),  # passes
        lepton_event([*Z_EE, W_MU], trig=False),  # trigger
        lepton_event([*Z_EE, {**W_MU, "isTightID": False}]),  # two good leptons
        lepton_event([*Z_EE, W_MU, lepton(30.0, 1.0, 13, -1)]),  # four good leptons
        lepton_event([Z_EE[0], {**Z_EE[1], "charge": 1}, {**W_MU, "charge": -1}]),  # no e+e- pair
        lepton_event([lepton(35.0, 0.0, 11, 1), lepton(35.0, PI, 11, -1), W_MU]),  # m(ee) 70 GeV
        lepton_event([*Z_EE, W_MU], met_phi=PI / 2),  # E_T^miss along the W lepton: mT(W) = 0
        lepton_event([*Z_EE, W_MU], met=25.0),  # E_T^miss 25 GeV (mT(W) 63 GeV)
        lepton_event([*soft_z, lepton(22.0, PI / 2, 13, 1)]),  # no lepton above 25 GeV
    ]
    result = run_events(wz, catalogue, events, tmp_path)
    assert {name: int(v["events"]) for name, v in result.cutflow.items()} == {
        "all": 10,
        "trigger": 9,
        "exactly three good leptons": 7,
        "|m(ll) - 91.18| < 10 GeV": 5,
        "mT(W) > 30 GeV": 4,
        "E_T^miss > 30 GeV": 3,
        "a lepton above 25 GeV": 2,
    }
    h = result.histograms
    mll = h["hist_mLL"]
    assert mll.values()[mll.axes[0].index(91.2)] == 2
    mtw = h["hist_mtw"]
    assert mtw.values()[mtw.axes[0].index(89.4)] == 1
    assert mtw.values()[mtw.axes[0].index(102.0)] == 1
    # the Z candidates' pT: 0 (back to back) for the first event, for the second the pair
    # (1, 2) is back to back as well
    assert h["hist_ptLL"].values()[0] == 2
    # one entry per lepton: 2 events x 3 leptons, charges +1 +1 -1 / +1 -1 +1
    assert h["hist_threeleptpt"].sum().value == 6
    charge = h["hist_threeleptch"]
    assert charge.values()[charge.axes[0].index(1.0)] == 4
    assert charge.values()[charge.axes[0].index(-1.0)] == 2


# Two Z → ℓℓ of 91.2 GeV at η 0: the electrons along φ 0 and π, the muons along ±π/2
def _z_pair(flavour: int, pt: float = 45.6, charges=(1, -1), phis=(0.0, PI), eta: float = 0.0):
    return [
        lepton(pt, phis[0], flavour, charges[0], eta),
        lepton(pt, phis[1], flavour, charges[1], eta),
    ]


Z_MUMU = _z_pair(13, phis=(PI / 2, -PI / 2))
ZZ_EVENTS = [
    lepton_event([*_z_pair(11), *Z_MUMU]),  # 0: eeμμ, two Zs: passes both
    lepton_event([*_z_pair(13), *Z_MUMU]),  # 1: μμμμ, two Zs: passes both (as coded with m_ll = 0)
    # 2: eeee, ee of 50 GeV
    lepton_event([*_z_pair(11, pt=25.0), *_z_pair(11, phis=(PI / 2, -PI / 2))]),
    lepton_event([*_z_pair(11, pt=21.0), *Z_MUMU]),  # 3: eeμμ, ee of 42 GeV: D = 49.2 GeV
    lepton_event([*_z_pair(11, pt=20.2), *Z_MUMU]),  # 4: eeμμ, ee of 40.4 GeV: D = 50.8 GeV
    lepton_event(
        [*_z_pair(11, charges=(1, 1)), *_z_pair(13, charges=(-1, -1), phis=(PI / 2, -PI / 2))]
    ),  # 5: e+e+μ-μ-
    lepton_event([*_z_pair(11, eta=1.4), *Z_MUMU]),  # 6: electrons in the crack (no veto here)
    lepton_event([*_z_pair(11), *Z_MUMU], trig=False),  # 7: trigger
    lepton_event([*_z_pair(11), Z_MUMU[0]]),  # 8: three leptons
    lepton_event([*_z_pair(11), *Z_MUMU, lepton(30.0, 1.0, 13, 1)]),  # 9: five good leptons
    # 10: charge +2
    lepton_event([*_z_pair(11), *_z_pair(13, charges=(1, 1), phis=(PI / 2, -PI / 2))]),
    lepton_event(
        [*_z_pair(11, pt=22.0), *_z_pair(13, pt=22.0, phis=(PI / 2, -PI / 2))]
    ),  # 11: none > 25 GeV
    lepton_event(
        [*_z_pair(11), lepton(45.6, PI / 2, 11, 1), lepton(45.6, -PI / 2, 13, -1)]
    ),  # 12: eeeμ
    lepton_event(
        [*_z_pair(11), *Z_MUMU, lepton(30.0, 1.0, 13, -1, isTightID=False)]
    ),  # 13: a 5th, not tight
]


@pytest.mark.parametrize("as_coded", [True, False])
def test_zz_selection_on_hand_made_events(as_coded: bool, tmp_path: Path) -> None:
    """Every cut of the ZZ selection (more-analyses reference §4.3) failed by one event, and
    the Z pairing as coded (the Z-pair cut never applied to eeee/μμμμ, nor to eeμμ whose
    same-flavour leptons have one charge; m_ll = 0 for those) or as documented (two Z pairs,
    each in 66-116 GeV)."""
    catalogue = Catalogue.load()
    zz = load_analysis(ANALYSES, "zz", catalogue)
    assert zz.raw["switches"]["zz_pairing_as_coded"]["default"] is True
    path = write_hand_made_events(zz, columns_of(ZZ_EVENTS), len(ZZ_EVENTS), tmp_path)
    from atlasod.selection.chunk import process_chunk

    options = {"zz_pairing_as_coded": as_coded}
    result = process_chunk(zz, zz.data_files[0], path, 0, 1, 10064.0, catalogue, options)
    passed = [0, 1, 2, 3, 5, 6, 13] if as_coded else [0, 1, 6, 13]
    assert {name: int(v["events"]) for name, v in result.cutflow.items()} == {
        "all": 14,
        "at least four leptons": 13,
        "trigger": 12,
        "exactly four good leptons": 11,
        "zero net charge": 10,
        "a lepton above 25 GeV": 9,
        "eeee/μμμμ/eeμμ and the Z pairs": len(passed),
    }
    h = result.histograms
    mll1, mll2 = h["hist_mLL1"], h["hist_mLL2"]
    at_z = mll1.axes[0].index(91.2)
    if as_coded:  # 0 for μμμμ, eeee and e+e+μ-μ- (1, 2, 5); 42 GeV for event 3: underflow
        assert mll1.values()[at_z] == 3 and mll1.values(flow=True)[0] == 4
        assert mll2.values()[at_z] == 4 and mll2.values(flow=True)[0] == 3
    else:
        assert mll1.values()[at_z] == 4 and mll1.values(flow=True)[0] == 0
        assert mll2.values()[at_z] == 4
    assert h["hist_fourleptpt"].sum().value == 4 * len(passed)  # one entry per lepton
    m4l = h["hist_fourlepsys_m"]
    # two Zs at rest, 182.4 GeV: events 0, 1, 13 (and 5 as coded); 2 and 3 lower, 6 higher
    assert m4l.values()[m4l.axes[0].index(182.4)] == (4 if as_coded else 3)
    # event 6: the electrons at η 1.4, the muons at 0: the system's rapidity
    e = 2 * 45.6 * np.cosh(1.4) + 2 * 45.6
    pz = 2 * 45.6 * np.sinh(1.4)
    y = h["hist_fourlepsys_y"]
    assert y.values()[y.axes[0].index(0.5 * np.log((e + pz) / (e - pz)))] == 1
    assert y.values()[y.axes[0].index(0.0)] == len(passed) - 1


def _hww_event(
    leptons: list[dict], jets=(), met: float = 40.0, met_phi: float | None = None, trig=True
):
    """Leptons and jets (pT [GeV], η, JVT, MV2c10); E_T^miss opposite the dilepton system
    unless ``met_phi`` is given."""
    if met_phi is None:
        px = sum(lep["pt"] * np.cos(lep["phi"]) for lep in leptons)
        py = sum(lep["pt"] * np.sin(lep["phi"]) for lep in leptons)
        met_phi = float(np.arctan2(py, px)) + PI
    event = lepton_event(leptons, met=met, met_phi=met_phi, trig=trig)
    event["trigM"] = trig
    jets = list(jets) or [(10.0, 0.0, 1.0, -0.5)]  # a soft jet below every threshold
    for key, i, unit in (("pt", 0, GEV), ("eta", 1, 1.0), ("jvt", 2, 1.0), ("MV2c10", 3, 1.0)):
        event[f"jet_{key}"] = [j[i] * unit for j in jets]
    return event


# e+ of 30 GeV at φ 0 and μ- of 20 GeV at φ 0.5: m(ll) 12.1 GeV, pT(ll) 48.5 GeV, Δφ(ll) 0.5;
# E_T^miss 40 GeV opposite: mT = sqrt(2 · 48.5 · 40 · (1 + cos 0.199)) = 87.7 GeV
E30, MU20 = lepton(30.0, 0.0, 11, 1), lepton(20.0, 0.5, 13, -1)
HWW_EVENTS = [
    _hww_event([E30, MU20]),  # 0: passes
    _hww_event([E30, MU20], met=25.0),  # 1: E_T^miss 25 GeV: passes the code's 20 GeV cut
    _hww_event([E30, MU20], jets=[(25.0, 0.0, 0.3, 0.9)]),  # 2: a b-tag failing JVT: passes
    _hww_event([E30, MU20], trig=False),  # 3: trigger
    _hww_event([E30, MU20, lepton(18.0, 2.0, 13, 1)]),  # 4: three good leptons
    _hww_event([lepton(21.0, 0.0, 11, 1), lepton(30.0, 0.5, 13, -1)]),  # 5: ℓ1 at 21 GeV
    _hww_event([E30, {**MU20, "charge": 1}]),  # 6: same charge
    _hww_event([E30, {**MU20, "type": 11}]),  # 7: same flavour
    _hww_event([E30, lepton(20.0, 0.2, 13, -1)]),  # 8: m(ll) 4.9 GeV
    _hww_event([E30, MU20], jets=[(40.0, 0.0, 1.0, -0.5), (35.0, 1.0, 1.0, -0.5)]),  # 9: 2 jets
    _hww_event([E30, MU20], met=15.0),  # 10: E_T^miss 15 GeV
    _hww_event([E30, MU20], met_phi=0.2),  # 11: E_T^miss along the leptons
    _hww_event([lepton(23.0, 0.0, 11, 1), lepton(16.0, 2.0, 13, -1)]),  # 12: pT(ll) 19.7
    _hww_event([lepton(50.0, 0.0, 11, 1), lepton(30.0, 1.6, 13, -1)]),  # 13: m(ll) 55.6
    _hww_event([lepton(40.0, 0.0, 11, 1), lepton(15.5, 1.9, 13, -1)]),  # 14: Δφ(ll) 1.9
    _hww_event([E30, MU20], jets=[(25.0, 0.0, 1.0, 0.5)]),  # 15: a b-jet of 25 GeV
    _hww_event([{**E30, "eta": 1.45}, MU20]),  # 16: the electron in the crack
]


@pytest.mark.parametrize("met_documented", [False, True])
def test_hww_selection_on_hand_made_events(met_documented: bool, tmp_path: Path) -> None:
    """Every cut of the H→WW selection (more-analyses reference §5.3) failed by one event;
    mT of the dilepton system; the histI_ twins filled after the eμ cut; E_T^miss > 20 GeV
    as coded, 30 GeV as documented."""
    from atlasod.selection.chunk import process_chunk

    catalogue = Catalogue.load()
    hww = load_analysis(ANALYSES, "hww", catalogue)
    path = write_hand_made_events(hww, columns_of(HWW_EVENTS), len(HWW_EVENTS), tmp_path)
    options = {"hww_met_cut_documented": met_documented}
    result = process_chunk(hww, hww.data_files[0], path, 0, 1, 10064.0, catalogue, options)
    preselected = 17 - 6  # events 3-7 and 16 fail before
    later = 1 if met_documented else 0  # event 1 fails the documented E_T^miss cut
    assert {name: int(v["events"]) for name, v in result.cutflow.items()} == {
        "all": 17,
        "trigger": 16,
        "exactly two good leptons": 14,
        "first lepton above 22 GeV": 13,
        "opposite charge": 12,
        "different flavour": preselected,
        "m(ll) > 10 GeV, N_jet <= 1, E_T^miss > 20 GeV": 8 - later,
        "dphi(ll, E_T^miss) > pi/2": 7 - later,
        "pT(ll) > 30 GeV": 6 - later,
        "m(ll) < 55 GeV": 5 - later,
        "dphi(ll) < 1.8": 4 - later,
        "no b-jet": 3 - later,
    }
    h = result.histograms
    assert h["histI_mt"].sum(flow=True).value == preselected
    assert h["histI_n_jets"].values()[2] == 1  # event 9
    mt = h["hist_mt"]
    assert mt.values()[mt.axes[0].index(87.7)] == 2  # events 0 and 2
    assert h["hist_mt"].sum(flow=True).value == (2 if met_documented else 3)
    # event 1 (E_T^miss 25 GeV): mT = sqrt(2 · 48.5 · 25 · 1.98) = 69.3 GeV
    assert mt.values()[mt.axes[0].index(69.3)] == (0 if met_documented else 1)
    lead = h["hist_leadleptID"]
    assert lead.values()[lead.axes[0].index(11)] == (2 if met_documented else 3)


def test_hww_higgs_cross_sections_as_coded_or_from_infofile() -> None:
    """Files_HWW's 0.58 / 0.04 pb by default, infofile.py's 0.148 / 0.0202 pb with the
    switch, for the Higgs group only (the other groups keep Files_HWW)."""
    catalogue = Catalogue.load()
    hww = load_analysis(ANALYSES, "hww", catalogue)
    ggh = hww.group("Higgs").samples[0]
    assert ggh.file == "mc_345324.ggH125_WW2lep.2lep.root"
    on = {"hww_higgs_xsec_infofile": True}
    assert hww.table_of(ggh, {}) == "Files_HWW" and hww.table_of(ggh, on) == "infofile"
    ttbar = hww.group("ttbar").samples[0]
    assert hww.table_of(ttbar, on) == "Files_HWW"
    norm = catalogue.normalisation(345324)
    ratio = norm.scale(1.0, hww.table_of(ggh, on)) / norm.scale(1.0, hww.table_of(ggh, {}))
    assert ratio == pytest.approx(0.1481173588 / 0.58)
    assert sorted(hww.options) == [
        "hww_diboson_factor",
        "hww_higgs_xsec_infofile",
        "hww_met_cut_documented",
    ]


def _tau(pt: float, phi: float, charge: int, **changes):
    return {
        "pt": pt * GEV,
        "eta": 0.0,
        "phi": phi,
        "E": pt * GEV,
        "charge": charge,
        "isTightID": True,
        "nTracks": 1,
        "BDTid": 0.8,
        "pt_syst": 0.05 * pt * GEV,
        **changes,
    }


def _ztautau_event(leptons, taus, met=10.0, met_phi=1.25, jets=(), trig=True, mmc=91.0):
    event = lepton_event(leptons, met=met, met_phi=met_phi, trig=trig)
    event["trigM"] = trig
    for key in taus[0]:
        event[f"tau_{key}"] = [t[key] for t in taus]
    jets = list(jets) or [(20.0, 3.0, 1.0)]  # pT, η, JVT: outside |η| < 2.5, not good
    for key, i, unit in (("pt", 0, GEV), ("eta", 1, 1.0), ("jvt", 2, 1.0)):
        event[f"jet_{key}"] = [j[i] * unit for j in jets]
    event["ditau_m"] = np.float32(mmc)
    return event


# e+ of 35 GeV at φ 0 and τ- of 30 GeV at φ 2.5: m_vis = sqrt(2 · 35 · 30 · (1 - cos 2.5))
# = 61.5 GeV; E_T^miss 10 GeV at φ 1.25: mT 21.9 GeV, ΣΔφ 2.5
E35, TAU30 = lepton(35.0, 0.0, 11, 1), _tau(30.0, 2.5, -1)
ZTT_EVENTS = [
    _ztautau_event([E35], [TAU30], mmc=95.0),  # 0: passes (eτ)
    _ztautau_event([{**E35, "type": 13}], [TAU30], mmc=85.0),  # 1: passes (μτ)
    # 2: passes; two good jets (50 then 30 GeV): the jet shown is the last good one, 30 GeV
    _ztautau_event([E35], [TAU30], jets=[(50.0, 0.0, 1.0), (30.0, 0.5, 1.0)]),
    _ztautau_event([E35], [TAU30], trig=False),  # 3: trigger
    _ztautau_event([E35, lepton(40.0, 2.0, 13, -1)], [TAU30]),  # 4: two good leptons
    _ztautau_event([E35], [{**TAU30, "pt": 20.0 * GEV}]),  # 5: the τ below 25 GeV
    _ztautau_event([E35], [{**TAU30, "charge": 1}]),  # 6: same charge
    _ztautau_event([E35], [{**TAU30, "phi": 1.0}], met_phi=0.5),  # 7: m_vis 31.1 GeV
    _ztautau_event([E35], [TAU30], met=40.0, met_phi=PI),  # 8: mT 74.8 GeV
    _ztautau_event([E35], [TAU30], met=5.0, met_phi=-2.0),  # 9: ΣΔφ 3.78 (mT 22.3 GeV)
]


def test_ztautau_selection_on_hand_made_events(tmp_path: Path) -> None:
    """Every cut of the Z → ττ selection (more-analyses reference §6.3) failed by one event;
    the MMC mass as stored (GeV), mT per channel, the original's "leading jet" (the last
    good jet, or jet 0 where none is good), and the τ-pT smearing the same on every run."""
    from atlasod.selection.chunk import process_chunk

    catalogue = Catalogue.load()
    ztt = load_analysis(ANALYSES, "ztautau", catalogue)
    path = write_hand_made_events(ztt, columns_of(ZTT_EVENTS), len(ZTT_EVENTS), tmp_path)
    result = process_chunk(ztt, ztt.data_files[0], path, 0, 1, 10064.0, catalogue)
    assert {name: int(v["events"]) for name, v in result.cutflow.items()} == {
        "all": 10,
        "trigger": 9,
        "one good lepton and one good tau": 7,
        "opposite charge": 6,
        "35 < m_vis < 75 GeV": 5,
        "mT < 30 GeV": 4,
        "sum of dphi < 3.5": 3,
    }
    h = result.histograms
    mmc = h["hist_MMC"]
    assert mmc.values()[mmc.axes[0].index(85.0)] == 1
    assert mmc.values()[mmc.axes[0].index(95.0)] == 2  # events 0 (95) and 2 (91)
    m_vis = h["hist_mLL"]
    assert m_vis.values()[m_vis.axes[0].index(61.5)] == 3
    assert h["hist_mt_etau"].sum().value == 2 and h["hist_mt_mutau"].sum().value == 1
    jet = h["hist_leadjet_pt"]
    assert jet.values()[jet.axes[0].index(30.0)] == 1  # event 2: the last good jet
    assert jet.values()[jet.axes[0].index(20.0)] == 2  # events 0, 1: jet 0, not good
    assert h["hist_n_jets"].values()[1] == 2 and h["hist_n_jets"].values()[2] == 1
    syst = h["hist_syst_taupt"]
    again = process_chunk(ztt, ztt.data_files[0], path, 0, 1, 10064.0, catalogue)
    assert syst.values().tolist() == again.histograms["hist_syst_taupt"].values().tolist()
    assert (
        syst.sum().value == 3 and h["hist_taupt"].values()[h["hist_taupt"].axes[0].index(30.0)] == 3
    )


def _with_jets(event: dict, jets) -> dict:
    """The event with massless jets given as (pT [GeV], η, φ, JVT, MV2c10)."""
    for i, key in enumerate(("pt", "eta", "phi", "jvt", "MV2c10")):
        event[f"jet_{key}"] = [j[i] * (GEV if key == "pt" else 1.0) for j in jets]
    event["jet_E"] = [j[0] * np.cosh(j[1]) * GEV for j in jets]
    return event


def _singletop_event(lepton: dict, jets, met: float = 60.0, met_phi: float = PI, trig=True):
    """One lepton and jets (pT [GeV], η, φ, JVT, MV2c10; massless)."""
    return _with_jets(lepton_event([lepton], met=met, met_phi=met_phi, trig=trig), jets)


# A muon of 50 GeV at η 0, φ 0 and E_T^miss 60 GeV at φ π: mT = sqrt(2·50·60·2) = 109.5 GeV.
# The spectator jet first (70 GeV, η 2.2, φ -π/2), the b-jet second (60 GeV, η 0.3, φ π/2):
# |Δη| 1.9, HT = 50 + 70 + 60 + 60 = 240 GeV, m(ℓb)² = 2·50·60·cosh(0.3): m(ℓb) = 79.2 GeV.
# m(W(ℓν) + b), the neutrino (60 GeV at φ π, p_z = 0): E = 50 + 60 cosh 0.3 + 60 = 172.7,
# p = (-10, 60, 60 sinh 0.3 = 18.27) GeV: 160.5 GeV.
MU50 = lepton(50.0, 0.0, 13, 1)
SPECTATOR, BJET = (70.0, 2.2, -PI / 2, 0.9, 0.1), (60.0, 0.3, PI / 2, 0.9, 0.9)
ST_EVENTS = [
    _singletop_event(MU50, [SPECTATOR, BJET]),  # 0: passes
    _singletop_event(MU50, [SPECTATOR, BJET, (25.0, 0.0, 1.0, 0.9, 0.1)]),  # 1: 25 GeV jet: passes
    _singletop_event(MU50, [SPECTATOR, BJET, (40.0, 0.0, 1.0, 0.3, 0.9)]),  # 2: fails JVT: passes
    _singletop_event(MU50, [SPECTATOR, BJET], met=25.0),  # 3: E_T^miss
    _singletop_event(MU50, [SPECTATOR, BJET], trig=False),  # 4: trigger
    _singletop_event({**MU50, "trackd0pvunbiased": 0.08}, [SPECTATOR, BJET]),  # 5: μ |d0/σ| 4
    _singletop_event(MU50, [SPECTATOR, BJET], met_phi=0.0),  # 6: mT = 0
    _singletop_event(MU50, [SPECTATOR, BJET, (40.0, 0.0, 1.0, 0.9, 0.1)]),  # 7: three jets
    _singletop_event(MU50, [(70.0, 2.2, -PI / 2, 0.9, 0.9), BJET]),  # 8: two b-jets
    _singletop_event(MU50, [(70.0, 1.2, -PI / 2, 0.9, 0.1), BJET]),  # 9: |η(untagged)| 1.2
    _singletop_event(MU50, [SPECTATOR, (60.0, 1.0, PI / 2, 0.9, 0.9)]),  # 10: |Δη| 1.2
    # 11: HT = 36 + 31 + 31 + 60 = 158 GeV (mT = sqrt(2·36·60·2) = 93 GeV)
    _singletop_event(
        lepton(36.0, 0.0, 13, 1), [(31.0, 2.2, -PI / 2, 0.9, 0.1), (31.0, 0.3, PI / 2, 0.9, 0.9)]
    ),
    # 12: a b-jet of 150 GeV opposite the lepton: m(ℓb)² = 2·50·150·(cosh 0.3 + 1), 175 GeV
    _singletop_event(MU50, [(150.0, 0.3, PI, 0.9, 0.9), SPECTATOR]),
    # 13: an electron with |d0/σ| 4 (< 5): passes
    _singletop_event({**lepton(50.0, 0.0, 11, 1), "trackd0pvunbiased": 0.08}, [SPECTATOR, BJET]),
]


def test_singletop_selection_on_hand_made_events(tmp_path: Path) -> None:
    """Every cut of the single-top selection (more-analyses reference §2.3) failed by one
    event; jets below 30 GeV or failing JVT not counted; the b-jet and the untagged jet
    found whatever their order; m(ℓb), HT, |Δη| and df107's m(W(ℓν) + b) against hand
    calculations; the original's 'leading jet' is the untagged one."""
    from atlasod.selection.chunk import process_chunk

    catalogue = Catalogue.load()
    st = load_analysis(ANALYSES, "singletop", catalogue)
    path = write_hand_made_events(st, columns_of(ST_EVENTS), len(ST_EVENTS), tmp_path)
    result = process_chunk(st, st.data_files[0], path, 0, 1, 10064.0, catalogue)
    assert {name: int(v["events"]) for name, v in result.cutflow.items()} == {
        "all": 14,
        "missing ET > 30 GeV": 13,
        "trigger": 12,
        "exactly one good lepton": 11,
        "mT > 60 GeV": 10,
        "exactly two good jets": 9,
        "exactly one b-jet": 8,
        "|eta(untagged)| > 1.5": 7,
        "|deta(untagged, b)| > 1.5": 6,
        "HT > 195 GeV": 5,
        "m(lb) < 150 GeV": 4,
    }
    h = result.histograms
    mlb = h["hist_Mlb"]
    assert mlb.values()[mlb.axes[0].index(79.2)] == 4
    assert mlb.sum().value == 4
    assert h["hist_Mlb_all"].values()[h["hist_Mlb_all"].axes[0].index(175.0)] == 1  # event 12
    ht = h["hist_HT"]
    assert ht.values()[ht.axes[0].index(240.0)] == 4
    assert h["hist_deltaeta"].values()[h["hist_deltaeta"].axes[0].index(1.9)] == 4
    top = h["hist_top_mass"]
    assert top.values()[top.axes[0].index(160.5)] == 4
    e, px, py, pz = 50 + 60 * np.cosh(0.3) + 60, -10.0, 60.0, 60 * np.sinh(0.3)
    assert 160.0 < np.sqrt(e**2 - px**2 - py**2 - pz**2) < 161.0  # the hand value above
    # the original's "leading jet" is the untagged jet (70 GeV, η 2.2), not the b-jet
    lead = h["hist_leadjet_pt"]
    assert lead.values()[lead.axes[0].index(70.0)] == 4
    assert h["hist_leadbjet_pt"].values()[h["hist_leadbjet_pt"].axes[0].index(60.0)] == 4
    assert h["hist_leadleptID"].values()[h["hist_leadleptID"].axes[0].index(11.0)] == 1


def _slepton_event(leptons: list[dict], jets=(), met: float = 200.0, met_phi: float = -1.5):
    """Leptons and jets (pT [GeV], η, φ, JVT, MV2c10; massless); both triggers fire."""
    event = {**lepton_event(leptons, met=met, met_phi=met_phi), "trigM": True}
    # without jets of its own, a soft one below every threshold
    return _with_jets(event, list(jets) or [(10.0, 3.0, 0.0, 1.0, -0.5)])


# ℓ1 100 GeV at (η 0, φ 0), ℓ2 80 GeV at (η 1, φ 2.5), E_T^miss 200 GeV at φ -1.5:
# m(ℓℓ)² = 2·100·80·(cosh 1 - cos 2.5), m(ℓℓ) = 193.7 GeV; m_T2 = 102.50 GeV (massless
# invisibles; the numerical minimisation in the test agrees): SR loose, not SR tight.
def _pair(flavour: int, first=(100.0, 0.0, 0.0), second=(80.0, 1.0, 2.5), charges=(1, -1)):
    return [
        lepton(first[0], first[2], flavour, charges[0], first[1]),
        lepton(second[0], second[2], flavour, charges[1], second[1]),
    ]


EE, MUMU = _pair(11), _pair(13)
LIGHT_NEAR = (70.0, 0.0, 0.1, 1.0, 0.1)  # untagged, ΔR 0.1 from ℓ1
SLEPTON_EVENTS = [
    _slepton_event(EE),  # 0: SR loose
    # 1: ℓ 300 GeV (η 0, φ 0) and 250 GeV (η 1, φ 2), E_T^miss 300 GeV at φ -2: m(ℓℓ)
    # 542.1 GeV, m_T2 296.72 GeV: SR tight
    _slepton_event(_pair(11, (300.0, 0.0, 0.0), (250.0, 1.0, 2.0)), met=300.0, met_phi=-2.0),
    _slepton_event(MUMU),  # 2: SR loose
    _slepton_event(EE, [LIGHT_NEAR]),  # 3: the electron removes the jet; the jet veto does not
    _slepton_event(EE, [(70.0, 0.0, 0.1, 1.0, 0.5)]),  # 4: b-tagged at 85 %: ℓ1 removed
    _slepton_event(EE, [(40.0, 0.0, 0.3, 1.0, 0.1)]),  # 5: ΔR 0.3: the electron removed
    _slepton_event(MUMU, [(40.0, 0.0, 0.3, 1.0, 0.1)]),  # 6: ΔR 0.3: the muon removed
    _slepton_event(EE, [(40.0, 0.0, 0.3, 0.3, 0.1)]),  # 7: the jet fails JVT: SR loose
    # 8: ℓ1 300 GeV (η 0, φ 0) removes the jet (ΔR 0.1), which then spares ℓ2 250 GeV at
    # (η 0.25, φ 0.1), ΔR 0.25 from it; m(ℓℓ) = 73.9 GeV
    _slepton_event(_pair(11, (300.0, 0.0, 0.0), (250.0, 0.25, 0.1)), [LIGHT_NEAR], met=50.0),
    # 9: the same leptons the other way round: ℓ2 comes first, is removed, then ℓ1 removes
    # the jet: one good lepton
    _slepton_event(_pair(11, (250.0, 0.25, 0.1), (300.0, 0.0, 0.0)), [LIGHT_NEAR], met=50.0),
    _slepton_event([EE[0], {**EE[1], "ptcone30": 0.2 * 80.0 * GEV}]),  # 10: not isolated
    _slepton_event([EE[0], MUMU[1]]),  # 11: eμ
    _slepton_event(_pair(11, charges=(1, 1))),  # 12: same charge
    _slepton_event(_pair(11, second=(18.0, 1.0, 2.5))),  # 13: ℓ2 below 20 GeV
    {**_slepton_event(MUMU), "trigM": False},  # 14: μμ without the muon trigger
    _slepton_event(_pair(13, second=(80.0, 2.45, 2.5))),  # 15: a muon at |η| 2.45
    _slepton_event(_pair(11, second=(80.0, 0.3, 0.1))),  # 16: m(ℓℓ) 28.4 GeV
    _slepton_event(EE, [(25.0, -2.0, -3.0, 1.0, 0.9)]),  # 17: a b-jet (77 %) of 25 GeV
    _slepton_event(_pair(11, (80.0, 1.0, 2.5), (100.0, 0.0, 0.0))),  # 18: ℓ2 first: SR loose
]


def test_slepton_selection_on_hand_made_events(tmp_path: Path) -> None:
    """Every cut of the slepton search (more-analyses reference §7.3) failed by one event;
    the overlap removal as SUSYAnalysis.C does it (a jet removed by one electron spares the
    leptons after it: the result depends on the lepton order); the jet vetoes on all jets,
    removed or not; the channels' histograms; m_T2 against its definition."""
    from scipy.optimize import minimize

    from atlasod.selection.chunk import process_chunk

    catalogue = Catalogue.load()
    sl = load_analysis(ANALYSES, "slepton", catalogue)
    path = write_hand_made_events(sl, columns_of(SLEPTON_EVENTS), len(SLEPTON_EVENTS), tmp_path)
    result = process_chunk(sl, sl.data_files[0], path, 0, 1, 10064.0, catalogue)
    assert {name: int(v["events"]) for name, v in result.cutflow.items()} == {
        "all": 19,
        "at least two leptons": 19,
        "exactly two good leptons": 14,
        "same flavour": 13,
        "opposite charge": 12,
        "pT > 25, 20 GeV": 11,
        "eta and trigger of the flavour": 9,
        "m(ll) > 40 GeV (SFOS)": 8,
        "SR loose: no jets, m(ll) > 111, mT2 > 100 GeV": 5,
        "SR tight: no jets, m(ll) > 300, mT2 > 130 GeV": 1,
    }
    h = result.histograms
    assert h["hist_mLL_SFOS"].sum(flow=True).value == 8  # event 1 (542 GeV) in the overflow
    mt2 = h["hist_mt2_SR_loose"]
    assert (
        mt2.values()[mt2.axes[0].index(102.5)] == 4 and mt2.values()[mt2.axes[0].index(296.7)] == 1
    )
    assert h["hist_etmiss_SR_tight"].values()[3] == 1  # 300 GeV
    lead = h["hist_leadleptpt_SR_loose"]
    assert lead.values()[lead.axes[0].index(100.0)] == 4  # event 18's leading lepton too
    assert h["hist_mLL_SR_tight"].sum(flow=True).value == 1

    # m_T2 by its definition: the smallest, over the splittings of E_T^miss, of the larger
    # transverse mass (massless leptons and invisibles)
    def by_definition(l1, l2, met):
        p1, p2, m = (np.array([pt * np.cos(phi), pt * np.sin(phi)]) for pt, phi in (l1, l2, met))

        def mt(p, q):
            return np.sqrt(max(2 * (np.hypot(*p) * np.hypot(*q) - p @ q), 0.0))

        f = lambda q: max(mt(p1, q), mt(p2, m - q))  # noqa: E731
        opts = {"xatol": 1e-9, "fatol": 1e-11, "maxiter": 20000}
        return min(minimize(f, x0, method="Nelder-Mead", options=opts).fun for x0 in (m / 2, m))

    assert by_definition((100, 0), (80, 2.5), (200, -1.5)) == pytest.approx(102.50095, abs=1e-4)
    assert by_definition((300, 0), (250, 2.0), (300, -2.0)) == pytest.approx(296.72358, abs=1e-4)


@pytest.mark.parametrize(
    ("sample", "quirk", "met"),
    [
        ("Wmunu_PTV0_70_CVetoBVeto", True, 0.0),
        ("Wmunu_PTV0_70_CVetoBVeto", False, 1600.0),
        ("Zee_PTV0_70_CVetoBVeto", True, 1600.0),
    ],
)
def test_slepton_met_quirk_of_one_sample(sample: str, quirk: bool, met: float, tmp_path: Path):
    """E_T^miss above 1.5 TeV is set to 0 (the event kept) in Wmunu_PTV0_70_CVetoBVeto only,
    and only with slepton_met_quirk (§7.3 item 13)."""
    import uproot

    catalogue = Catalogue.load()
    sl = load_analysis(ANALYSES, "slepton", catalogue)
    events = [_slepton_event(MUMU, met=1600.0), _slepton_event(MUMU, met=1400.0)]
    path = write_hand_made_events(sl, columns_of(events), len(events), tmp_path)
    arrays = uproot.open(path)["mini"].arrays(sl.selection.BRANCHES)
    options = {"sample": sample, "slepton_met_quirk": quirk}
    selected = sl.selection.select_events(arrays, options)
    assert selected.variables["met"].tolist() == pytest.approx([met, 1400.0], rel=1e-6)
