"""H → γγ event selection of the 2020 C++ framework (reference §10.2)."""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from atlasod.physics import MEV_PER_GEV, Selected, in_crack, massless_pair_mass

BRANCHES = [
    "trigP",
    "photon_pt",
    "photon_eta",
    "photon_phi",
    "photon_isTightID",
    "photon_ptcone30",
    "photon_etcone20",
    "photon_convType",
]


def good_photons(events: ak.Array) -> ak.Array:
    """Tight photons with pT > 25 GeV in |η| < 2.37 outside the crack."""
    abs_eta = np.abs(events.photon_eta)
    return (
        events.photon_isTightID
        & (events.photon_pt > 25 * MEV_PER_GEV)
        & (abs_eta < 2.37)
        & ~in_crack(abs_eta)
    )


def select_events(events: ak.Array, options: dict[str, Any]) -> Selected:
    del options  # no options: the selection is fixed
    good = good_photons(events)
    trigger = ak.to_numpy(events.trigP)
    two = trigger & ak.to_numpy(ak.sum(good, axis=1) == 2)
    # The two good photons, in ntuple (pT) order; padded so that every event has two slots.
    fields = ("pt", "eta", "phi", "ptcone30", "etcone20", "convType")
    photons = ak.zip({f: events[f"photon_{f}"] for f in fields})
    photons = ak.pad_none(photons[good], 2)

    def first(field: str, i: int) -> np.ndarray:
        return ak.to_numpy(ak.fill_none(photons[field][:, i], 0)).astype(float)

    pt1, pt2 = first("pt", 0), first("pt", 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        isolated = (
            (first("ptcone30", 0) / pt1 < 0.065)
            & (first("etcone20", 0) / pt1 < 0.065)
            & (first("ptcone30", 1) / pt2 < 0.065)
            & (first("etcone20", 1) / pt2 < 0.065)
        )
    eta1, eta2 = first("eta", 0), first("eta", 1)
    m_yy = massless_pair_mass(pt1, eta1, first("phi", 0), pt2, eta2, first("phi", 1))
    m_yy = m_yy / MEV_PER_GEV
    with np.errstate(divide="ignore", invalid="ignore"):
        pt_over_m = (pt1 / MEV_PER_GEV / m_yy > 0.35) & (pt2 / MEV_PER_GEV / m_yy > 0.25)
    iso_cut = two & isolated
    ptm_cut = iso_cut & pt_over_m
    window = ptm_cut & (m_yy > 105) & (m_yy < 160)
    central_unconverted = (
        (np.abs(eta1) < 0.75)
        & (np.abs(eta2) < 0.75)
        & (first("convType", 0) == 0)
        & (first("convType", 1) == 0)
    )
    return Selected(
        mask=window,
        variables={
            "m_yy": m_yy[window],
            "central_unconverted": central_unconverted[window],
            "photon1_pt": pt1[window] / MEV_PER_GEV,
            "photon2_pt": pt2[window] / MEV_PER_GEV,
        },
        cutflow={
            "all": np.ones(len(events), dtype=bool),
            "trigger": trigger,
            "exactly two good photons": two,
            "isolation": iso_cut,
            "pT/m": ptm_cut,
            "105 < m_yy < 160 GeV": window,
        },
    )
