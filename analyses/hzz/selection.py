"""H → ZZ* → 4ℓ event selection of the 2020 C++ framework (reference §9.3)."""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np
import vector

from atlasod.selection.physics import (
    ELECTRON,
    MEV_PER_GEV,
    MUON,
    Z_MASS_GEV,
    FlatObjects,
    Selected,
    d0_ratio,
    z0_sin_theta,
)

BRANCHES = [
    "trigE",
    "trigM",
    "lep_pt",
    "lep_eta",
    "lep_phi",
    "lep_E",
    "lep_charge",
    "lep_type",
    "lep_ptcone30",
    "lep_etcone20",
    "lep_trackd0pvunbiased",
    "lep_tracksigd0pvunbiased",
    "lep_z0",
    "jet_pt",
    "jet_eta",
]
# Pairings of leptons (0,1,2,3) into two pairs, in the order the original evaluates them.
PAIRINGS = (((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2)))


def good_leptons(events: ak.Array) -> ak.Array:
    """Loose isolation and impact-parameter cuts; no tight-ID requirement (as the original)."""
    lep = FlatObjects(events, "lep")
    pt = lep.lep_pt
    electron = lep.lep_type == ELECTRON
    muon = lep.lep_type == MUON
    d0 = d0_ratio(lep.lep_trackd0pvunbiased, lep.lep_tracksigd0pvunbiased)
    z0 = z0_sin_theta(lep.lep_z0, lep.lep_eta)
    common = (
        (pt > 5 * MEV_PER_GEV)
        & (np.abs(lep.lep_eta) < 2.5)
        & (lep.lep_ptcone30 / pt < 0.3)
        & (lep.lep_etcone20 / pt < 0.3)
        & (z0 < 0.5)
    )
    ele = electron & (pt > 7 * MEV_PER_GEV) & (np.abs(lep.lep_eta) < 2.47) & (d0 < 5)
    mu = muon & (d0 < 3)
    return lep.per_event(common & (ele | mu))


def pair_masses(
    p4: Any, charge: np.ndarray, flavour: np.ndarray, how: str
) -> tuple[np.ndarray, np.ndarray]:
    """(m_ℓℓ,1, m_ℓℓ,2) of events with exactly four leptons (rows of ``p4``)."""
    n = len(charge)
    masses = np.zeros((n, 3, 2))
    valid = np.zeros((n, 3), dtype=bool)
    type_sum = flavour.sum(axis=1)
    mixed = type_sum == 2 * ELECTRON + 2 * MUON
    for k, ((a, b), (c, d)) in enumerate(PAIRINGS):
        masses[:, k, 0] = (p4[:, a] + p4[:, b]).mass
        masses[:, k, 1] = (p4[:, c] + p4[:, d]).mass
        same_flavour = flavour[:, a] == flavour[:, b]
        opposite = charge[:, a] != charge[:, b]
        # eeμμ: ℓ1 with its same-flavour partner; eeee/μμμμ: ℓ1 with an opposite-charge partner
        valid[:, k] = np.where(mixed, same_flavour, opposite)
    dist = np.abs(masses - Z_MASS_GEV)
    if how == "last_valid":
        # the original overwrites in pairing order, so the last valid pairing wins (QUIRK)
        choice = 2 - np.argmax(valid[:, ::-1], axis=1)
    elif how == "closest_to_z":
        score = np.where(valid, dist.min(axis=2), np.inf)
        choice = np.argmin(score, axis=1)
    else:
        raise ValueError(f"selection.pairing must be 'last_valid' or 'closest_to_z', not {how!r}")
    rows = np.arange(n)
    chosen, chosen_dist = masses[rows, choice], dist[rows, choice]
    first = np.argmin(chosen_dist, axis=1)
    return chosen[rows, first], chosen[rows, 1 - first]


def four_momenta(lep: ak.Array, keep: np.ndarray) -> Any:
    """(n, 4) Lorentz vectors (GeV) of the four leptons of the ``keep`` events: vector's
    numpy arrays of (pT, η, φ, E), in float32 as stored."""
    pt, eta, phi, energy = (
        _four(lep[f], np.float32)[keep] for f in ("lep_pt", "lep_eta", "lep_phi", "lep_E")
    )
    return vector.array(
        {"pt": pt / MEV_PER_GEV, "eta": eta, "phi": phi, "energy": energy / MEV_PER_GEV}
    )


def _four(values: ak.Array, dtype: type) -> np.ndarray:
    """(n, 4) numpy array of a per-lepton quantity of events with exactly four leptons."""
    flat = ak.to_numpy(ak.flatten(values)).astype(dtype)
    return flat.reshape(-1, 4)


def select_events(events: ak.Array, options: dict[str, Any]) -> Selected:
    trigger = ak.to_numpy(events.trigE | events.trigM)
    good = good_leptons(events)
    four = trigger & ak.to_numpy(ak.sum(good, axis=1) == 4)
    leptons = events[four]
    good4 = good[four]
    fields = ("lep_pt", "lep_eta", "lep_phi", "lep_E", "lep_charge", "lep_type")
    lep = ak.zip({f: leptons[f] for f in fields})[good4]

    pt = _four(lep.lep_pt, float) / MEV_PER_GEV
    charge = _four(lep.lep_charge, np.int64)
    flavour = _four(lep.lep_type, np.int64)
    thresholds = (pt[:, 0] > 25) & (pt[:, 1] > 15) & (pt[:, 2] > 10)
    neutral = charge.sum(axis=1) == 0
    flavours = np.isin(flavour.sum(axis=1), (44, 48, 52))

    def over_all(sub: np.ndarray) -> np.ndarray:
        out = np.zeros(len(events), dtype=bool)
        out[np.flatnonzero(four)] = sub
        return out

    cut_pt = over_all(thresholds)
    cut_charge = over_all(thresholds & neutral)
    keep = thresholds & neutral & flavours
    mask = over_all(keep)

    p4 = four_momenta(lep, keep)
    system = p4[:, 0] + p4[:, 1] + p4[:, 2] + p4[:, 3]
    mll1, mll2 = pair_masses(p4, charge[keep], flavour[keep], options.get("pairing", "last_valid"))
    jets_ok = (events.jet_pt[mask] > 30 * MEV_PER_GEV) & (np.abs(events.jet_eta[mask]) < 4.4)
    selected_leptons = lep[keep]
    return Selected(
        mask=mask,
        variables={
            "m4l": np.asarray(system.mass),
            "pt4l": np.asarray(system.pt),
            "y4l": np.asarray(system.rapidity),
            "mll1": mll1,
            "mll2": mll2,
            "n_jets": ak.to_numpy(ak.sum(jets_ok, axis=1)),
            "lep_pt": selected_leptons.lep_pt / MEV_PER_GEV,
            "lep_eta": selected_leptons.lep_eta,
            "lep_E": selected_leptons.lep_E / MEV_PER_GEV,
            "lep_phi": selected_leptons.lep_phi,
            "lep_charge": selected_leptons.lep_charge,
            "lep_type": selected_leptons.lep_type,
        },
        cutflow={
            "all": np.ones(len(events), dtype=bool),
            "trigger": trigger,
            "exactly four good leptons": four,
            "pT > 25/15/10 GeV": cut_pt,
            "zero net charge": cut_charge,
            "eeee, μμμμ or eeμμ": mask,
        },
    )
