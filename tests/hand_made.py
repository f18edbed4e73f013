"""Hand-made 2020 lepton events with known outcomes, and a chunk step run on them: shared by
the tests of the declarative analyses (test_more_analyses) and of their frames
(test_frames)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from atlasod.data.catalogue import Catalogue

from .conftest import columns_of, write_hand_made_events

GEV = 1000.0  # the 2020 files are in MeV
PI = np.pi


def lepton(pt: float, phi: float, flavour: int, charge: int, eta: float = 0.0, **changes):
    """A tight, isolated 2020 lepton (GeV in, MeV out) that passes every lepton cut."""
    return {
        "pt": pt * GEV,
        "eta": eta,
        "phi": phi,
        "E": pt * np.cosh(eta) * GEV,
        "type": flavour,
        "charge": charge,
        "isTightID": True,
        "ptcone30": 0.01 * pt * GEV,
        "etcone20": 0.01 * pt * GEV,
        "z0": 0.01,
        "trackd0pvunbiased": 0.01,
        "tracksigd0pvunbiased": 0.02,
        **changes,
    }


def lepton_event(
    leptons: list[dict], met: float = 50.0, met_phi: float = -PI / 2, trig: bool = True
):
    """An event of these leptons, E_T^miss (GeV) and a trigger."""
    branches = {f"lep_{k}": [lep[k] for lep in leptons] for k in leptons[0]}
    return {**branches, "met_et": met * GEV, "met_phi": met_phi, "trigE": trig, "trigM": False}


def run_events(analysis, catalogue: Catalogue, events: list[dict], tmp_path: Path):
    """The chunk step of ``analysis`` on ``events`` written as its first data file."""
    from atlasod.selection.chunk import process_chunk

    path = write_hand_made_events(analysis, columns_of(events), len(events), tmp_path)
    return process_chunk(analysis, analysis.data_files[0], path, 0, 1, 10064.0, catalogue)


# A Z → e+e- of 91.2 GeV (two 45.6 GeV electrons back to back at η 0) and a W muon of 40 GeV
# at φ π/2 with E_T^miss 50 GeV at -π/2: mT(W) = sqrt(2·40·50·2) = 89.4 GeV.
Z_EE = [lepton(45.6, 0.0, 11, 1), lepton(45.6, PI, 11, -1)]
W_MU = lepton(40.0, PI / 2, 13, 1)
