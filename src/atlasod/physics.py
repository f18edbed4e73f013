"""Physics building blocks shared by the analyses' selection modules.

All functions are pure: arrays in, arrays out.  Inputs are the raw branches
(MeV); outputs are in GeV where they are energies, as the names say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import awkward as ak
import numpy as np
import vector

MEV_PER_GEV = 1000.0
Z_MASS_GEV = 91.18  # the original C++ framework's constant (reference §2.3)
ELECTRON, MUON = 11, 13


@dataclass
class Selected:
    """Result of an analysis' ``select_events``.

    ``mask`` marks the selected events among all events of the chunk;
    ``variables`` hold one entry per *selected* event (jagged for per-object
    quantities); ``cutflow`` maps cut names, in order, to cumulative masks over
    all events.
    """

    mask: np.ndarray
    variables: dict[str, Any]
    cutflow: dict[str, np.ndarray] = field(default_factory=dict)


def momenta(events: ak.Array, prefix: str) -> ak.Array:
    """Four-momenta (GeV) of the ``prefix`` collection, e.g. ``lep`` or ``photon``."""
    return vector.zip(
        {
            "pt": events[f"{prefix}_pt"] / MEV_PER_GEV,
            "eta": events[f"{prefix}_eta"],
            "phi": events[f"{prefix}_phi"],
            "energy": events[f"{prefix}_E"] / MEV_PER_GEV,
        }
    )


def delta_phi(phi1: Any, phi2: Any) -> Any:
    """|Δφ| folded into [0, π]."""
    d = np.abs(phi1 - phi2)
    return np.where(d > np.pi, 2 * np.pi - d, d)


def massless_pair_mass(pt1: Any, eta1: Any, phi1: Any, pt2: Any, eta2: Any, phi2: Any) -> Any:
    """Invariant mass of two massless objects from pT, η, φ (the H→γγ original's formula)."""
    return np.sqrt(2 * pt1 * pt2 * (np.cosh(eta1 - eta2) - np.cos(delta_phi(phi1, phi2))))


def z0_sin_theta(z0: Any, eta: Any) -> Any:
    """|z0 sinθ| (mm) with θ = 2 atan(exp(-η))."""
    return np.abs(z0 * np.sin(2 * np.arctan(np.exp(-eta))))


def d0_ratio(d0: Any, sigd0: Any) -> Any:
    """|d0| / sigd0, the ratio every original framework cuts on (reference §14.8)."""
    return np.abs(d0) / sigd0


def transverse_mass(pt: Any, phi: Any, met: Any, met_phi: Any) -> Any:
    """mT = sqrt(2 pT MET (1 - cos Δφ)) in the units of the inputs."""
    return np.sqrt(2 * pt * met * (1 - np.cos(phi - met_phi)))


def in_crack(abs_eta: Any, low: float = 1.37, high: float = 1.52) -> Any:
    """True inside the barrel-endcap transition region of the calorimeter."""
    return (abs_eta > low) & (abs_eta < high)
