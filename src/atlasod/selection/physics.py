"""Physics building blocks shared by the analyses' selection modules.

All functions are pure: arrays in, arrays out.  Inputs are the raw branches
(MeV); outputs are in GeV where they are energies, as the names say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import awkward as ak
import numpy as np

MEV_PER_GEV = 1000.0
Z_MASS_GEV = 91.18  # the original C++ framework's constant (reference §2.3)
ELECTRON, MUON = 11, 13


@dataclass
class Selected:
    """Result of an analysis' ``select_events``.

    ``mask`` marks the selected events among all events of the chunk;
    ``variables`` hold one entry per *selected* event (jagged for per-object
    quantities); ``cutflow`` maps cut names, in order, to cumulative masks over
    all events; ``stages`` maps a cut name to (mask, variables) of the events that pass
    the cuts up to it, for histograms filled there (declarative ``after:``).
    """

    mask: np.ndarray
    variables: dict[str, Any]
    cutflow: dict[str, np.ndarray] = field(default_factory=dict)
    stages: dict[str, tuple[np.ndarray, dict[str, Any]]] = field(default_factory=dict)


class FlatObjects:
    """The branches of one collection (``lep_pt``, ``lep_eta``, ...) of a batch of events as
    flat numpy arrays over all its objects, taken from ``events`` when first used.

    Per-object conditions computed on these cost a fraction of awkward's broadcasting, with
    the same values (the same numpy ufuncs on the same types); :meth:`per_event` gives the
    result back as a list per event."""

    def __init__(self, events: ak.Array, collection: str) -> None:
        self._events = events
        self._prefix = f"{collection}_"
        self._values: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_") or not name.startswith(self._prefix):
            raise AttributeError(f"{name} is not a branch of the {self._prefix[:-1]} collection")
        if name not in self._values:
            self._values[name] = ak.to_numpy(ak.flatten(self._events[name]))
        return self._values[name]

    def per_event(self, values: np.ndarray) -> ak.Array:
        """``values`` (one per object) as a list per event."""
        branch = next(iter(self._values))
        return ak.unflatten(values, ak.num(self._events[branch], axis=1))


def delta_phi(phi1: Any, phi2: Any) -> Any:
    """|Δφ| folded into [0, π]."""
    d = np.abs(phi1 - phi2)
    return np.where(d > np.pi, 2 * np.pi - d, d)


def z0_sin_theta(z0: Any, eta: Any) -> Any:
    """|z0 sinθ| (mm) with θ = 2 atan(exp(-η))."""
    return np.abs(z0 * np.sin(2 * np.arctan(np.exp(-eta))))


def d0_ratio(d0: Any, sigd0: Any) -> Any:
    """|d0| / sigd0, the ratio every original framework cuts on (reference §14.8)."""
    return np.abs(d0) / sigd0


# --- tight leptons and good jets of the 2020 lepton analyses, for a selection.py ----------
# (the declarative W, Z, tt̄ and Z′ write the same conditions as expressions)

B_TAG_MV2C10 = 0.8244273  # MV2c10 cut of the 70 % b-tagging working point (reference §2.3)


def in_lepton_crack(abs_eta: Any) -> Any:
    """Electron crack of the lepton analyses: 1.37 ≤ |η| ≤ 1.52 (kept: < 1.37 or > 1.52)."""
    return (abs_eta >= 1.37) & (abs_eta <= 1.52)


def tight_leptons(
    events: ak.Array, pt_min_gev: float, iso_max: float, inclusive_ip: bool = False
) -> ak.Array:
    """Per-lepton mask of the W, Z, tt̄ and Z′ analyses (reference §6.3, §7.3, §8.3, §11.3).

    Tight ID, pT > ``pt_min_gev``, relative track and calorimeter isolation <
    ``iso_max``; electrons |η| < 2.47 outside the crack with |d0|/σ < 5, muons
    |η| < 2.5 with |d0|/σ < 3; |z0 sinθ| < 0.5 mm.  ``inclusive_ip`` keeps leptons
    exactly at the impact-parameter cut values, as the W analysis does ("reject if >").
    """
    lep = FlatObjects(events, "lep")
    pt = lep.lep_pt
    abs_eta = np.abs(lep.lep_eta)
    d0 = d0_ratio(lep.lep_trackd0pvunbiased, lep.lep_tracksigd0pvunbiased)
    z0 = z0_sin_theta(lep.lep_z0, lep.lep_eta)

    def below(value: Any, cut: float) -> Any:
        return value <= cut if inclusive_ip else value < cut

    base = (
        lep.lep_isTightID
        & (pt > pt_min_gev * MEV_PER_GEV)
        & (lep.lep_ptcone30 / pt < iso_max)
        & (lep.lep_etcone20 / pt < iso_max)
        & below(z0, 0.5)
    )
    ele = (lep.lep_type == ELECTRON) & (abs_eta < 2.47) & ~in_lepton_crack(abs_eta) & below(d0, 5.0)
    mu = (lep.lep_type == MUON) & (abs_eta < 2.5) & below(d0, 3.0)
    return lep.per_event(base & (ele | mu))


def good_jets(events: ak.Array, pt_min_gev: float = 30.0, eta_max: float = 2.5) -> ak.Array:
    """Per-jet mask: pT and |η| cuts plus the JVT cleaning of tt̄ and Z′ (reference §2.3):
    a jet with pT < 60 GeV and |η| < 2.4 must have JVT > 0.59."""
    jet = FlatObjects(events, "jet")
    pt, abs_eta = jet.jet_pt, np.abs(jet.jet_eta)
    pileup = (pt < 60 * MEV_PER_GEV) & (abs_eta < 2.4) & (jet.jet_jvt < 0.59)
    return jet.per_event((pt > pt_min_gev * MEV_PER_GEV) & (abs_eta < eta_max) & ~pileup)


def delta_r(eta1: Any, phi1: Any, eta2: Any, phi2: Any) -> Any:
    """ΔR = sqrt(Δη² + Δφ²) with Δφ folded into [0, π]."""
    return np.sqrt((eta1 - eta2) ** 2 + delta_phi(phi1, phi2) ** 2)


# --- reproducible per-event random numbers ---------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def neutrino_pz(
    lep_pt: Any,
    lep_eta: Any,
    lep_phi: Any,
    lep_e: Any,
    met: Any,
    met_phi: Any,
    w_mass: Any,
    sign: Any,
) -> Any:
    """The neutrino's p_z from the W-mass constraint (m(ℓ + ν) = m_W, the neutrino's
    transverse momentum being the missing E_T, the neutrino massless): the quadratic
    a p_z² + b p_z + c = 0 with a = E² − p_zℓ², b = −2 k p_zℓ, c = E² E_T^miss² − k² and
    k = (m_W² − m_ℓ²) / 2 + p_Tℓ E_T^miss cos Δφ (E, p_zℓ = p_Tℓ sinh η, m_ℓ² = E² − p² the
    lepton's energy, p_z and mass), as the 2025 tt̄ notebook solves it.  ``sign`` +1 gives
    the root (−b + √Δ) / 2a, −1 the other; NaN where the discriminant Δ = b² − 4ac is
    negative (no real solution).  Inputs in any one energy unit."""
    pz_l = lep_pt * np.sinh(lep_eta)
    mass2 = lep_e * lep_e - lep_pt * lep_pt - pz_l * pz_l
    k = (w_mass * w_mass - mass2) / 2 + lep_pt * met * np.cos(lep_phi - met_phi)
    a = lep_e * lep_e - pz_l * pz_l
    b = -2 * k * pz_l
    c = lep_e * lep_e * met * met - k * k
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(b * b - 4 * a * c)  # NaN for a negative discriminant
        return (-b + np.sign(sign) * root) / (2 * a)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def event_normal(run: Any, event: Any, salt: int) -> np.ndarray:
    """One standard-normal number per event, a pure function of (run, event, salt).

    The original "syst" histograms smear with a time-seeded ``TRandom3(0)`` and cannot be
    reproduced; here the random numbers are a counter-based hash (SplitMix64 + Box-Muller)
    of the event identity, so results do not depend on chunking, order or machine.
    """
    run64 = np.asarray(run).astype(np.int64).astype(np.uint64)
    evt64 = np.asarray(event).astype(np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        key = (run64 << np.uint64(32)) ^ evt64 ^ (np.uint64(salt) * _GOLDEN)
    h1 = _splitmix64(key)
    h2 = _splitmix64(h1)
    scale = 2.0**-53
    u1 = ((h1 >> np.uint64(11)).astype(np.float64) + 0.5) * scale
    u2 = (h2 >> np.uint64(11)).astype(np.float64) * scale
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


# What a selection.py reads to use tight_leptons (with its leptons' kinematics) and
# good_jets (with the MV2c10 b-tag score).
TIGHT_LEPTON_BRANCHES = [
    *(f"lep_{f}" for f in ("pt", "eta", "phi", "E", "charge", "type")),
    "lep_isTightID",
    "lep_ptcone30",
    "lep_etcone20",
    "lep_trackd0pvunbiased",
    "lep_tracksigd0pvunbiased",
    "lep_z0",
]
GOOD_JET_BRANCHES = ["jet_pt", "jet_eta", "jet_phi", "jet_E", "jet_jvt", "jet_MV2c10"]


def cumulative(cuts: dict[str, Any]) -> dict[str, np.ndarray]:
    """Cutflow masks from per-cut masks applied in order (each cut on top of the previous)."""
    out: dict[str, np.ndarray] = {}
    passed: np.ndarray | None = None
    for name, mask in cuts.items():
        m = np.asarray(ak.to_numpy(ak.fill_none(mask, False)), dtype=bool)
        passed = m if passed is None else passed & m
        out[name] = passed
    return out
