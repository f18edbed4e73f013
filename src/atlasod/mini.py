"""The ``mini`` tree of the 2020 release: 81 branches, energies in MeV.

Branch names, dtypes and jaggedness follow §2.2 of the physics reference.  One
difference is unavoidable when the file is written by uproot instead of ROOT:
vector branches are stored as counted arrays whose counter is the collection's
``<object>_n`` branch (int32 on disk instead of UInt_t); read back with uproot
they give the same awkward arrays as the real files.
"""

from __future__ import annotations

import numpy as np

TREE_NAME = "mini"

SCALARS: dict[str, type] = {
    "runNumber": np.int32,
    "eventNumber": np.int32,
    "channelNumber": np.int32,
    "mcWeight": np.float32,
    "scaleFactor_PILEUP": np.float32,
    "scaleFactor_ELE": np.float32,
    "scaleFactor_MUON": np.float32,
    "scaleFactor_PHOTON": np.float32,
    "scaleFactor_TAU": np.float32,
    "scaleFactor_BTAG": np.float32,
    "scaleFactor_LepTRIGGER": np.float32,
    "scaleFactor_PhotonTRIGGER": np.float32,
    "trigE": np.bool_,
    "trigM": np.bool_,
    "trigP": np.bool_,
    "met_et": np.float32,
    "met_phi": np.float32,
    "ditau_m": np.float32,
    "met_et_syst": np.float32,
    "XSection": np.float32,
    "SumWeights": np.float32,
}

COLLECTIONS: dict[str, dict[str, type]] = {
    "lep": {
        "truthMatched": np.bool_,
        "trigMatched": np.bool_,
        "pt": np.float32,
        "eta": np.float32,
        "phi": np.float32,
        "E": np.float32,
        "z0": np.float32,
        "charge": np.int32,
        "type": np.uint32,
        "isTightID": np.bool_,
        "ptcone30": np.float32,
        "etcone20": np.float32,
        "trackd0pvunbiased": np.float32,
        "tracksigd0pvunbiased": np.float32,
        "pt_syst": np.float32,
    },
    "jet": {
        "pt": np.float32,
        "eta": np.float32,
        "phi": np.float32,
        "E": np.float32,
        "jvt": np.float32,
        "trueflav": np.int32,
        "truthMatched": np.bool_,
        "MV2c10": np.float32,
        "pt_syst": np.float32,
    },
    "photon": {
        "truthMatched": np.bool_,
        "trigMatched": np.bool_,
        "pt": np.float32,
        "eta": np.float32,
        "phi": np.float32,
        "E": np.float32,
        "isTightID": np.bool_,
        "ptcone30": np.float32,
        "etcone20": np.float32,
        "convType": np.int32,
        "pt_syst": np.float32,
    },
    "tau": {
        "pt": np.float32,
        "eta": np.float32,
        "phi": np.float32,
        "E": np.float32,
        "isTightID": np.bool_,
        "truthMatched": np.bool_,
        "trigMatched": np.bool_,
        "nTracks": np.int32,
        "BDTid": np.float32,
        "pt_syst": np.float32,
        "charge": np.int32,
    },
    "largeRjet": {
        "pt": np.float32,
        "eta": np.float32,
        "phi": np.float32,
        "E": np.float32,
        "m": np.float32,
        "truthMatched": np.int32,
        "D2": np.float32,
        "tau32": np.float32,
        "pt_syst": np.float32,
    },
}


def branch_names() -> list[str]:
    """All 81 branch names of the ``mini`` tree."""
    names = list(SCALARS)
    for obj, fields in COLLECTIONS.items():
        names.append(f"{obj}_n")
        names.extend(f"{obj}_{f}" for f in fields)
    return names


def is_jagged(branch: str) -> bool:
    obj, _, field = branch.partition("_")
    return obj in COLLECTIONS and field in COLLECTIONS[obj]
