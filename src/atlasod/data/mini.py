"""The ``mini`` tree of the 2020 release: 81 branches, energies in MeV.

Branch names, dtypes and jaggedness follow §2.2 of the physics reference.  One
difference is unavoidable when the file is written by uproot instead of ROOT:
vector branches are stored as counted arrays whose counter is the collection's
``<object>_n`` branch (int32 on disk instead of UInt_t); read back with uproot
they give the same awkward arrays as the real files.
"""

from __future__ import annotations

TREE_NAME = "mini"

# dtypes as numpy names (strings): the Snakefile imports this module where numpy is absent.
SCALARS: dict[str, str] = {
    "runNumber": "int32",
    "eventNumber": "int32",
    "channelNumber": "int32",
    "mcWeight": "float32",
    "scaleFactor_PILEUP": "float32",
    "scaleFactor_ELE": "float32",
    "scaleFactor_MUON": "float32",
    "scaleFactor_PHOTON": "float32",
    "scaleFactor_TAU": "float32",
    "scaleFactor_BTAG": "float32",
    "scaleFactor_LepTRIGGER": "float32",
    "scaleFactor_PhotonTRIGGER": "float32",
    "trigE": "bool",
    "trigM": "bool",
    "trigP": "bool",
    "met_et": "float32",
    "met_phi": "float32",
    "ditau_m": "float32",
    "met_et_syst": "float32",
    "XSection": "float32",
    "SumWeights": "float32",
}

COLLECTIONS: dict[str, dict[str, str]] = {
    "lep": {
        "truthMatched": "bool",
        "trigMatched": "bool",
        "pt": "float32",
        "eta": "float32",
        "phi": "float32",
        "E": "float32",
        "z0": "float32",
        "charge": "int32",
        "type": "uint32",
        "isTightID": "bool",
        "ptcone30": "float32",
        "etcone20": "float32",
        "trackd0pvunbiased": "float32",
        "tracksigd0pvunbiased": "float32",
        "pt_syst": "float32",
    },
    "jet": {
        "pt": "float32",
        "eta": "float32",
        "phi": "float32",
        "E": "float32",
        "jvt": "float32",
        "trueflav": "int32",
        "truthMatched": "bool",
        "MV2c10": "float32",
        "pt_syst": "float32",
    },
    "photon": {
        "truthMatched": "bool",
        "trigMatched": "bool",
        "pt": "float32",
        "eta": "float32",
        "phi": "float32",
        "E": "float32",
        "isTightID": "bool",
        "ptcone30": "float32",
        "etcone20": "float32",
        "convType": "int32",
        "pt_syst": "float32",
    },
    "tau": {
        "pt": "float32",
        "eta": "float32",
        "phi": "float32",
        "E": "float32",
        "isTightID": "bool",
        "truthMatched": "bool",
        "trigMatched": "bool",
        "nTracks": "int32",
        "BDTid": "float32",
        "pt_syst": "float32",
        "charge": "int32",
    },
    "largeRjet": {
        "pt": "float32",
        "eta": "float32",
        "phi": "float32",
        "E": "float32",
        "m": "float32",
        "truthMatched": "int32",
        "D2": "float32",
        "tau32": "float32",
        "pt_syst": "float32",
    },
}


def branch_names() -> list[str]:
    """All 81 branch names of the ``mini`` tree."""
    names = list(SCALARS)
    for obj, fields in COLLECTIONS.items():
        names.append(f"{obj}_n")
        names.extend(f"{obj}_{f}" for f in fields)
    return names


def real_file_order() -> list[str]:
    """The 81 branch names in the order of the real 2020 files on disk (reference §2.2):
    the scalars, each collection with its counter first and its ``pt_syst`` later, the
    systematics together, then the large-R jets and ``tau_charge`` last."""

    def block(obj: str, skip: tuple[str, ...] = ("pt_syst",)) -> list[str]:
        return [f"{obj}_n"] + [f"{obj}_{f}" for f in COLLECTIONS[obj] if f not in skip]

    order = list(SCALARS)[:15]
    order += [*block("lep"), "met_et", "met_phi", *block("jet"), *block("photon")]
    order += [*block("tau", ("pt_syst", "charge")), "ditau_m"]
    order += ["lep_pt_syst", "met_et_syst", "jet_pt_syst", "photon_pt_syst", "tau_pt_syst"]
    order += ["XSection", "SumWeights", *block("largeRjet", ()), "tau_charge"]
    return order


def is_jagged(branch: str) -> bool:
    obj, _, field = branch.partition("_")
    return obj in COLLECTIONS and field in COLLECTIONS[obj]
