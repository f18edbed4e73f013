"""Direct slepton-pair production, 2ℓ + 0 jets: the 2020 C++ framework's SUSYAnalysis
(more-analyses reference §7.3), in code order.

Why Python and not expressions: the lepton-jet overlap removal goes through the leptons
one after the other, and a jet that an electron removes is skipped for every later
lepton of the event, even one that fails its other cuts afterwards.  That running state
is not an expression of one object; here it is a loop over the lepton slots (vectorised
over the events).  m_T2 is the `mt2` package's (the framework's algorithm,
Lester-Nachman bisection; how closely they agree: docs/quirks.md).

Every event is in the SFOS channel and in eeOS or μμOS; the signal regions add SR_loose
and SR_tight (no light jet above 60 GeV, no b-jet above 20 GeV, then m(ℓℓ) and m_T2).
The cutflow ends with SR_tight, the region of the official figure; the histograms are
filled per channel (``where:`` the channel's flag).
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np
from mt2 import mt2

from atlasod.selection.physics import (
    ELECTRON,
    MEV_PER_GEV,
    MUON,
    Selected,
    cumulative,
    d0_ratio,
    delta_r,
    z0_sin_theta,
)

LEPTON_FIELDS = (
    "pt",
    "eta",
    "phi",
    "E",
    "type",
    "charge",
    "z0",
    "ptcone30",
    "etcone20",
    "trackd0pvunbiased",
    "tracksigd0pvunbiased",
)
JET_FIELDS = ("pt", "eta", "phi", "jvt", "MV2c10")
BRANCHES = [
    "runNumber",
    "eventNumber",
    "trigE",
    "trigM",
    "met_et",
    "met_phi",
    "lep_n",
    *(f"lep_{f}" for f in LEPTON_FIELDS),
    *(f"jet_{f}" for f in JET_FIELDS),
]
B_TAG_85 = 0.1758475  # MV2c10 at the 85 % working point: the overlap removal
B_TAG_77 = 0.645925  # the 77 % working point: the jet vetoes
# QUIRK of the original (§7.3 item 13): in this sample, E_T^miss above 1.5 TeV (a
# pathological high-weight event) is set to 0, the event kept
MET_QUIRK_SAMPLE, MET_QUIRK_GEV = "Wmunu_PTV0_70_CVetoBVeto", 1500.0


def removed_by_jets(lep: ak.Array, jet: ak.Array) -> ak.Array:
    """Per lepton: removed by the overlap removal with jets (§7.3 item 3), in GeV.

    Leptons in order; for each, the jets not yet removed, of pT ≥ 20 GeV, |η| < 4.5 and
    passing JVT below 60 GeV (|η| < 2.4).  A muon within ΔR 0.4 of such a jet is removed.
    An electron within ΔR 0.2 of an untagged jet (85 %) removes the jet, for the rest of
    the event; within ΔR 0.4 of any other such jet it is removed.  Leptons below 10 GeV or
    outside |η| 2.47 (e) / 2.7 (μ) take no part."""
    counts = ak.to_numpy(ak.num(lep.pt))
    n, slots = len(counts), int(counts.max(initial=0))
    usable = (
        (jet.pt >= 20)
        & (abs(jet.eta) < 4.5)
        & ~((jet.pt < 60) & (abs(jet.eta) < 2.4) & (abs(jet.jvt) <= 0.59))
    )
    tagged = jet.MV2c10 > B_TAG_85
    jet_removed = ak.zeros_like(jet.pt, dtype=bool)
    removed = np.zeros((n, slots), dtype=bool)
    padded = ak.pad_none(lep, slots, axis=1)
    for k in range(slots):
        one = padded[:, k]
        e = ak.fill_none(one["type"] == ELECTRON, False)
        mu = ak.fill_none(one["type"] == MUON, False)
        eta = ak.fill_none(one.eta, 0.0)
        takes_part = ak.fill_none(
            (one.pt > 10) & ~(e & (abs(eta) >= 2.47)) & ~(mu & (abs(eta) >= 2.7)), False
        )
        dr = delta_r(jet.eta, jet.phi, eta, ak.fill_none(one.phi, 0.0))
        near = usable & ~jet_removed & takes_part
        drops_jet = near & ~tagged & e & (dr < 0.2)
        loses = near & ((mu & (dr < 0.4)) | (e & ~drops_jet & (dr < 0.4)))
        removed[:, k] = ak.to_numpy(ak.any(loses, axis=1))
        jet_removed = jet_removed | drops_jet
    flat = removed[np.arange(slots)[None, :] < counts[:, None]]
    return ak.unflatten(flat, counts)


def _signed_sqrt(m2: np.ndarray) -> np.ndarray:
    """A mass from its square as ROOT's TLorentzVector::M() gives it: −√(−m²) where the
    rounding of the stored values makes m² negative (the framework passes it to m_T2)."""
    return np.where(m2 < 0, -np.sqrt(np.abs(m2)), np.sqrt(np.abs(m2)))


def select_events(events: ak.Array, options: dict[str, Any]) -> Selected:
    def gev(values: ak.Array) -> ak.Array:  # in double precision, as the original
        return ak.values_astype(values, np.float64) / MEV_PER_GEV

    lep = ak.zip({f: events[f"lep_{f}"] for f in LEPTON_FIELDS})
    lep = ak.with_field(ak.with_field(lep, gev(lep.pt), "pt"), gev(lep.E), "E")
    jet = ak.zip({f: events[f"jet_{f}"] for f in JET_FIELDS})
    jet = ak.with_field(jet, gev(jet.pt), "pt")
    is_e, is_mu = lep["type"] == ELECTRON, lep["type"] == MUON
    good = (
        (lep.pt > 10)
        & ~(is_e & (abs(lep.eta) >= 2.47))
        & ~(is_mu & (abs(lep.eta) >= 2.7))
        & ~removed_by_jets(lep, jet)
        & (z0_sin_theta(lep.z0, lep.eta) <= 0.5)
        & (lep.etcone20 / (lep.pt * MEV_PER_GEV) <= 0.15)
        & (lep.ptcone30 / (lep.pt * MEV_PER_GEV) <= 0.15)
        & ~(is_e & (d0_ratio(lep.trackd0pvunbiased, lep.tracksigd0pvunbiased) > 5))
        & ~(is_mu & (d0_ratio(lep.trackd0pvunbiased, lep.tracksigd0pvunbiased) > 3))
    )
    two = ak.num(lep.pt[good]) == 2
    pair = ak.pad_none(lep[good], 2, axis=1)
    a, b = pair[:, 0], pair[:, 1]
    first_leads = ak.fill_none(a.pt > b.pt, False)  # the original: strictly greater
    l1 = ak.where(first_leads, a, b)
    l2 = ak.where(first_leads, b, a)
    ee = ak.fill_none(a["type"] == ELECTRON, False)
    mumu = ak.fill_none(a["type"] == MUON, False)
    eta_trigger = (ee & (abs(l1.eta) <= 2.47) & (abs(l2.eta) <= 2.47) & events.trigE) | (
        mumu & (abs(l1.eta) <= 2.4) & (abs(l2.eta) <= 2.4) & events.trigM
    )

    def p4(x: ak.Array) -> tuple[np.ndarray, ...]:
        values = (ak.fill_none(getattr(x, f), 0.0) for f in ("pt", "eta", "phi", "E"))
        return tuple(ak.to_numpy(v).astype(np.float64) for v in values)

    (pt1, eta1, phi1, e1), (pt2, eta2, phi2, e2) = p4(l1), p4(l2)
    px1, py1, pz1 = pt1 * np.cos(phi1), pt1 * np.sin(phi1), pt1 * np.sinh(eta1)
    px2, py2, pz2 = pt2 * np.cos(phi2), pt2 * np.sin(phi2), pt2 * np.sinh(eta2)
    px, py, pz = px1 + px2, py1 + py2, pz1 + pz2
    mll = _signed_sqrt((e1 + e2) ** 2 - (px**2 + py**2 + pz**2))

    jet_pt = jet.pt
    n_light = ak.to_numpy(ak.sum((jet_pt > 60) & (jet.MV2c10 < B_TAG_77), axis=1))
    n_b = ak.to_numpy(ak.sum((jet_pt > 20) & (jet.MV2c10 > B_TAG_77), axis=1))

    met = ak.to_numpy(events.met_et).astype(np.float64) / MEV_PER_GEV
    if options.get("slepton_met_quirk", True) and options.get("sample") == MET_QUIRK_SAMPLE:
        met = np.where(met > MET_QUIRK_GEV, 0.0, met)
    met_phi = ak.to_numpy(events.met_phi).astype(np.float64)

    cutflow = cumulative(
        {
            "all": np.ones(len(events), dtype=bool),
            "at least two leptons": events.lep_n >= 2,
            "exactly two good leptons": two,
            "same flavour": ak.fill_none(a["type"] == b["type"], False),
            "opposite charge": ak.fill_none(a.charge != b.charge, False),
            "pT > 25, 20 GeV": ak.fill_none((l1.pt >= 25) & (l2.pt >= 20), False),
            "eta and trigger of the flavour": ak.fill_none(eta_trigger, False),
            "m(ll) > 40 GeV (SFOS)": mll >= 40,
        }
    )
    mask = cutflow["m(ll) > 40 GeV (SFOS)"]
    rows = np.flatnonzero(mask)
    mt2_values = np.zeros(len(events))
    m1 = _signed_sqrt(e1[rows] ** 2 - (px1[rows] ** 2 + py1[rows] ** 2 + pz1[rows] ** 2))
    m2 = _signed_sqrt(e2[rows] ** 2 - (px2[rows] ** 2 + py2[rows] ** 2 + pz2[rows] ** 2))
    met_x, met_y = met[rows] * np.cos(met_phi[rows]), met[rows] * np.sin(met_phi[rows])
    mt2_values[rows] = mt2(
        m1, px1[rows], py1[rows], m2, px2[rows], py2[rows], met_x, met_y, 0.0, 0.0
    )
    no_jets = (n_light == 0) & (n_b == 0)
    sr_loose = no_jets & (mll > 111) & (mt2_values > 100)
    sr_tight = no_jets & (mll > 300) & (mt2_values > 130)
    cutflow["SR loose: no jets, m(ll) > 111, mT2 > 100 GeV"] = mask & sr_loose
    cutflow["SR tight: no jets, m(ll) > 300, mT2 > 130 GeV"] = mask & sr_tight
    return Selected(
        mask=mask,
        variables={
            "mll": mll[rows],
            "met": met[rows],
            "mt2": mt2_values[rows],
            "n_light_jets": n_light[rows],
            "n_bjets": n_b[rows],
            "lead_pt": pt1[rows],
            "lead_eta": eta1[rows],
            "lead_phi": phi1[rows],
            "lead_E": e1[rows],
            "sublead_pt": pt2[rows],
            "sublead_eta": eta2[rows],
            "sublead_phi": phi2[rows],
            "sublead_E": e2[rows],
            "SFOS": np.ones(len(rows), dtype=bool),
            "eeOS": ak.to_numpy(ee)[rows],
            "mumuOS": ak.to_numpy(mumu)[rows],
            "SR_loose": sr_loose[rows],
            "SR_tight": sr_tight[rows],
        },
        cutflow=cutflow,
    )
