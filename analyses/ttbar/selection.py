"""Top-quark pairs, single-lepton channel: the 2020 C++ framework's TTbarAnalysis (§8.3).

Exactly one tight lepton, E_T^miss > 30 GeV, mT(W) > 30 GeV, at least four good jets of
which at least two b-tagged.  The hadronic top is the triplet of good jets with the largest
vector-sum pT, the hadronic W the pair inside it with the largest pair pT.
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
    event_normal,
    good_jets,
    lepton_variables,
    the_lepton,
    tight_leptons,
    transverse_mass,
)

BRANCHES = [
    *ONE_LEPTON_EVENT_BRANCHES,
    "met_et_syst",
    *TIGHT_LEPTON_BRANCHES,
    *GOOD_JET_BRANCHES,
    "jet_n",
    "jet_pt_syst",
]
# Salts of the per-event random numbers of the "syst" histograms (one stream per quantity).
SALT_MET, SALT_LEPTON, SALT_JET = 1, 2, 3


def _numpy_momenta(objects: ak.Array) -> Any:
    """vector's numpy array of flat Lorentz vectors given as awkward (ρ, φ, η, t) records."""
    fields = {"pt": "rho", "eta": "eta", "phi": "phi", "energy": "t"}
    return vector.array({k: ak.to_numpy(objects[f]) for k, f in fields.items()})


def top_candidates(jets: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """(m_jjj, m_jj) per event: the triplet of ``jets`` (i < j < k, ntuple order) with the
    largest vector-sum pT and, inside it, the pair with the largest pair pT.  The first
    maximum wins, as the original's strict comparisons.  (The combinations are made with
    awkward; the Lorentz sums on their flat numpy contents, with the same formulas.)"""
    triplets = ak.combinations(jets, 3, fields=["a", "b", "c"])
    counts = ak.to_numpy(ak.num(triplets))
    a, b, c = (_numpy_momenta(ak.flatten(triplets[k])) for k in ("a", "b", "c"))
    triplet = a + b + c
    best = ak.to_numpy(ak.argmax(ak.unflatten(np.asarray(triplet.pt), counts), axis=1))
    first = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    chosen = first + best
    a, b, c, triplet = a[chosen], b[chosen], c[chosen], triplet[chosen]
    pairs = [(a, b), (a, c), (b, c)]
    pair_pt = np.stack([np.asarray((x + y).pt) for x, y in pairs], axis=1)
    pair_mass = np.stack([np.asarray((x + y).mass) for x, y in pairs], axis=1)
    choice = np.argmax(pair_pt, axis=1)
    m_jj = pair_mass[np.arange(len(choice)), choice]
    return np.asarray(triplet.mass), m_jj


def select_events(events: ak.Array, options: dict[str, Any]) -> Selected:
    good_lep = tight_leptons(events, pt_min_gev=30.0, iso_max=0.15)
    lepton = the_lepton(events, good_lep)
    good_jet = good_jets(events)
    b_jet = good_jet & (events.jet_MV2c10 > B_TAG_MV2C10)
    mtw = transverse_mass(lepton.pt, lepton.phi, events.met_et, events.met_phi) / MEV_PER_GEV
    cutflow = cumulative(
        {
            "all": np.ones(len(events), dtype=bool),
            "at least four jets": events.jet_n > 3,
            "missing ET > 30 GeV": events.met_et > 30 * MEV_PER_GEV,
            "trigger": events.trigE | events.trigM,
            "exactly one good lepton": ak.sum(good_lep, axis=1) == 1,
            "at least four good jets": ak.sum(good_jet, axis=1) >= 4,
            "at least two b-tagged jets": ak.sum(b_jet, axis=1) >= 2,
            "mT(W) > 30 GeV": mtw > 30,
        }
    )
    mask = cutflow["mT(W) > 30 GeV"]
    ev, lep = events[mask], lepton[mask]
    all_jets = ak.zip({f: ev[f"jet_{f}"] for f in ("pt", "eta", "phi", "E", "pt_syst")})
    jets, bjets = all_jets[good_jet[mask]], all_jets[b_jet[mask]]
    p4 = vector.zip(
        {
            "pt": jets.pt / MEV_PER_GEV,
            "eta": jets.eta,
            "phi": jets.phi,
            "energy": jets.E / MEV_PER_GEV,
        }
    )
    m_jjj, m_jj = top_candidates(p4)

    # "syst" histograms: Gaussian smearing by the stored uncertainties, with reproducible
    # per-event random numbers instead of the original's time-seeded TRandom3(0) (§14.15)
    run, number = ak.to_numpy(ev.runNumber), ak.to_numpy(ev.eventNumber)
    met = ak.to_numpy(ev.met_et) / MEV_PER_GEV
    met_syst = met + ak.to_numpy(ev.met_et_syst) / MEV_PER_GEV * event_normal(run, number, SALT_MET)
    lep_pt = ak.to_numpy(lep.pt) / MEV_PER_GEV
    lep_syst = lep_pt + ak.to_numpy(lep.pt_syst) / MEV_PER_GEV * event_normal(
        run, number, SALT_LEPTON
    )
    lead_pt = ak.to_numpy(ak.firsts(jets.pt)) / MEV_PER_GEV
    lead_syst = lead_pt + ak.to_numpy(ak.firsts(jets.pt_syst)) / MEV_PER_GEV * event_normal(
        run, number, SALT_JET
    )
    mtw_syst = transverse_mass(lep_syst, ak.to_numpy(lep.phi), met_syst, ak.to_numpy(ev.met_phi))
    return Selected(
        mask=mask,
        variables={
            "met": met,
            "mtw": ak.to_numpy(mtw[mask]),
            "n_jets": ak.to_numpy(ak.num(jets.pt)),
            "leadjet_pt": lead_pt,
            "leadjet_eta": ak.to_numpy(ak.firsts(jets.eta)),
            "n_bjets": ak.to_numpy(ak.num(bjets.pt)),
            "leadbjet_pt": ak.to_numpy(ak.firsts(bjets.pt)) / MEV_PER_GEV,
            "leadbjet_eta": ak.to_numpy(ak.firsts(bjets.eta)),
            **lepton_variables(lep),
            "m_jjj": m_jjj,
            "m_jj": m_jj,
            "top_window": (m_jjj > 100) & (m_jjj < 250),
            "w_window": (m_jj > 50) & (m_jj < 120),
            "met_syst": met_syst,
            "mtw_syst": mtw_syst,
            "met_mtw_syst_pass": (met_syst > 30) & (mtw_syst > 30),
            "lep_pt_syst": lep_syst,
            "lep_syst_pass": lep_syst > 30,
            "leadjet_pt_syst": lead_syst,
        },
        cutflow=cutflow,
    )
