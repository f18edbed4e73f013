"""Boosted Z′ → tt̄ in the single-lepton channel: the 2020 C++ framework's
ZPrimeBoostedAnalysis (reference §11.3).

One tight lepton, a b-tagged small-R jet, a small-R jet near the lepton (the leptonic
top's b) and exactly one top-tagged large-R jet J (the hadronic top) away from it; the
tt̄ system is m(J + j_ℓ + ℓ), without the neutrino.

``mask`` marks the events that pass up to the jet near the lepton: the original fills the
``hist_*leadLRjet*`` histograms there, once per large-R jet with m > 50 GeV, pT > 250 GeV
and |η| < 2.  The other histograms need exactly one top tag (variable ``tagged``); the
cutflow, and so the yields, end with it.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np
import vector

from atlasod.selection.physics import (
    B_TAG_MV2C10,
    GOOD_JET_BRANCHES,
    MEV_PER_GEV,
    ONE_LEPTON_EVENT_BRANCHES,
    TIGHT_LEPTON_BRANCHES,
    Selected,
    cumulative,
    delta_phi,
    delta_r,
    event_normal,
    good_jets,
    lepton_variables,
    the_lepton,
    tight_leptons,
    transverse_mass,
)

BRANCHES = [
    *ONE_LEPTON_EVENT_BRANCHES,
    *TIGHT_LEPTON_BRANCHES,
    *GOOD_JET_BRANCHES,
    "largeRjet_n",
    "largeRjet_pt",
    "largeRjet_eta",
    "largeRjet_phi",
    "largeRjet_E",
    "largeRjet_m",
    "largeRjet_tau32",
    "largeRjet_pt_syst",
]
SALT_LARGE_R = 4  # per-event random numbers of hist_leadTopLRjet_syst_pt
NEAR_LEPTON = 2.0  # ΔR(ℓ, jet) below which a small-R jet is the lepton's
GEV = MEV_PER_GEV


def _p4(obj: ak.Array) -> Any:
    """Four-vectors (GeV) of one object per event (NaN where there is none)."""
    return vector.array(
        {
            "pt": _numpy(obj["pt"]) / GEV,
            "eta": _numpy(obj["eta"]),
            "phi": _numpy(obj["phi"]),
            "energy": _numpy(obj["E"]) / GEV,
        }
    )


def _numpy(values: ak.Array, fill: float = np.nan) -> np.ndarray:
    return ak.to_numpy(ak.fill_none(values, fill)).astype(np.float64)


def select_events(events: ak.Array, options: dict[str, Any]) -> Selected:
    good_lep = tight_leptons(events, pt_min_gev=30.0, iso_max=0.15)
    lepton = the_lepton(events, good_lep)
    good_jet = good_jets(events)
    b_jet = good_jet & (events.jet_MV2c10 > B_TAG_MV2C10)
    near = good_jet & (
        delta_r(lepton["eta"], lepton["phi"], events.jet_eta, events.jet_phi) < NEAR_LEPTON
    )
    mtw = transverse_mass(lepton["pt"], lepton["phi"], events.met_et, events.met_phi)
    cutflow = cumulative(
        {
            "all": np.ones(len(events), dtype=bool),
            "at least one large-R jet": events.largeRjet_n >= 1,
            "missing ET > 20 GeV": events.met_et > 20 * GEV,
            "trigger": events.trigE | events.trigM,
            "exactly one good lepton": ak.sum(good_lep, axis=1) == 1,
            "missing ET + mT(W) > 60 GeV": events.met_et + mtw > 60 * GEV,
            "at least one b-tagged jet": ak.sum(b_jet, axis=1) >= 1,
            "a jet near the lepton": ak.sum(near, axis=1) >= 1,
        }
    )
    mask = cutflow["a jet near the lepton"]
    ev, lep = events[mask], lepton[mask]
    jets = ak.zip({f: ev[f"jet_{f}"] for f in ("pt", "eta", "phi", "E", "MV2c10")})
    is_b = b_jet[mask]
    bjets = jets[is_b]
    # j_ℓ: the first (highest-pT) good jet near the lepton
    jl = ak.firsts(jets[near[mask]])
    jl_is_b = ak.fill_none(jl.MV2c10 > B_TAG_MV2C10, False)  # ΔR(b, j_ℓ) < 0.01

    lr = ak.zip(
        {f: ev[f"largeRjet_{f}"] for f in ("pt", "eta", "phi", "E", "m", "tau32", "pt_syst")}
    )
    lead_lr = lr[(lr.m > 50 * GEV) & (lr.pt > 250 * GEV) & (np.abs(lr.eta) < 2.0)]

    # top tag: kinematics, substructure, away from the lepton and from j_ℓ, with a b-jet
    # inside (ΔR < 1) or j_ℓ itself b-tagged
    b_near_j = ak.any(
        delta_r(
            lr.eta[:, :, None], lr.phi[:, :, None], bjets.eta[:, None, :], bjets.phi[:, None, :]
        )
        < 1.0,
        axis=2,
    )
    top_tag = (
        (lr.m > 100 * GEV)
        & (lr.pt > 300 * GEV)
        & (lr.pt < 1500 * GEV)
        & (np.abs(lr.eta) < 2.0)
        & (lr.tau32 < 0.75)
        & (delta_phi(lep["phi"], lr.phi) > 1.0)
        & (delta_r(jl.eta, jl.phi, lr.eta, lr.phi) > 1.5)
        & (b_near_j | jl_is_b)
    )
    n_top = ak.sum(top_tag, axis=1)
    tagged = ak.to_numpy(n_top == 1)
    top = ak.firsts(lr[top_tag])

    lep_v = lepton_variables(lep)
    mlr = np.asarray((_p4(top) + _p4(jl) + _p4(lep)).mass)
    run, number = ak.to_numpy(ev.runNumber), ak.to_numpy(ev.eventNumber)
    top_pt = _numpy(top.pt) / GEV
    top_syst = top_pt + _numpy(top.pt_syst) / GEV * event_normal(run, number, SALT_LARGE_R)

    final = np.zeros(len(events), dtype=bool)
    final[np.flatnonzero(mask)] = tagged
    cutflow["exactly one top-tagged large-R jet"] = final
    return Selected(
        mask=mask,
        variables={
            # every large-R jet with m > 50, pT > 250, |η| < 2 (after the jet near the lepton)
            "lr_pt": lead_lr.pt / GEV,
            "lr_eta": lead_lr.eta,
            "lr_phi": lead_lr.phi,
            "lr_m": lead_lr.m / GEV,
            "lr_tau32": lead_lr.tau32,
            "lr_n": ak.broadcast_arrays(ev.largeRjet_n, lead_lr.pt)[0],
            # exactly one top tag
            "tagged": tagged,
            "met": _numpy(ev.met_et) / GEV,
            "mtw": _numpy(mtw[mask]) / GEV,
            **lep_v,
            "n_near": ak.to_numpy(ak.sum(near[mask], axis=1)),
            "jl_pt": _numpy(jl.pt) / GEV,
            "jl_eta": _numpy(jl.eta),
            "n_bjets": ak.to_numpy(ak.num(bjets.pt)),
            "leadbjet_pt": _numpy(ak.firsts(bjets.pt)) / GEV,
            "leadbjet_eta": _numpy(ak.firsts(bjets.eta)),
            "n_top": ak.to_numpy(n_top),
            "top_pt": top_pt,
            "top_eta": _numpy(top.eta),
            "top_phi": _numpy(top.phi),
            "top_m": _numpy(top.m) / GEV,
            "top_tau32": _numpy(top.tau32),
            "top_pt_syst": top_syst,
            "syst_pass": tagged & (top_syst > 300),
            # m(J + j_ℓ + ℓ), only where j_ℓ is b-tagged
            "m_tt": mlr,
            "m_tt_pass": tagged & ak.to_numpy(jl_is_b),
        },
        cutflow=cutflow,
    )
