"""Implementations of the expression language's functions (see :mod:`atlasod.expressions`).

Every function takes and returns numpy or awkward arrays (or numbers), element-wise over
events, or over the objects of each event for the ``event_*`` reductions.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np
import vector

absolute = np.abs
sqrt = np.sqrt
exp = np.exp
log = np.log
cos = np.cos
sin = np.sin
cosh = np.cosh
sinh = np.sinh
tan = np.tan
minimum = np.minimum
maximum = np.maximum


def event_sum(x: Any) -> Any:
    return ak.sum(x, axis=1)


def event_any(x: Any) -> Any:
    return ak.any(x, axis=1)


def event_all(x: Any) -> Any:
    return ak.all(x, axis=1)


def event_max(x: Any) -> Any:
    return ak.max(x, axis=1)


def event_min(x: Any) -> Any:
    return ak.min(x, axis=1)


def logical_not(x: Any) -> Any:
    return ~np.bool_(x) if isinstance(x, bool) else ~x


def where(cond: Any, yes: Any, no: Any) -> Any:
    if isinstance(cond, ak.Array) or isinstance(yes, ak.Array) or isinstance(no, ak.Array):
        return ak.where(cond, yes, no)
    return np.where(cond, yes, no)


def count(mask_or_values: Any) -> Any:
    return ak.num(mask_or_values, axis=1)


def at(values: Any, index: int) -> Any:
    """values[:, index], None where an event has fewer entries."""
    return ak.pad_none(values, index + 1, axis=1)[:, index]


def _momenta(pt: Any, eta: Any, phi: Any, energy: Any) -> Any:
    return vector.zip({"pt": pt, "eta": eta, "phi": phi, "energy": energy})


def mass(pt1: Any, eta1: Any, phi1: Any, e1: Any, pt2: Any, eta2: Any, phi2: Any, e2: Any) -> Any:
    """Invariant mass of two objects given as (pT, η, φ, E) each (units of the inputs)."""
    return (_momenta(pt1, eta1, phi1, e1) + _momenta(pt2, eta2, phi2, e2)).mass


def mt(pt: Any, phi: Any, met: Any, met_phi: Any) -> Any:
    """Transverse mass sqrt(2 pT MET (1 - cos Δφ)), in the units of the inputs."""
    return np.sqrt(2 * pt * met * (1 - np.cos(phi - met_phi)))


def delta_phi(phi1: Any, phi2: Any) -> Any:
    """|Δφ| folded into [0, π]."""
    d = np.abs(phi1 - phi2) % (2 * np.pi)
    return np.minimum(d, 2 * np.pi - d)


def delta_r(eta1: Any, phi1: Any, eta2: Any, phi2: Any) -> Any:
    return np.sqrt((eta1 - eta2) ** 2 + delta_phi(phi1, phi2) ** 2)


def _objects(objects: Any) -> Any:
    return _momenta(objects.pt, objects.eta, objects.phi, objects.E)


def pair_mass(objects: Any, i: Any, j: Any) -> Any:
    """Invariant mass of objects i and j of each event; None where there are fewer."""
    i, j = int(i), int(j)
    p = ak.pad_none(_objects(objects), max(i, j) + 1, axis=1)
    return (p[:, i] + p[:, j]).mass


def _system(objects: Any) -> Any:
    p = _objects(objects)
    return vector.zip(
        {
            "px": ak.sum(p.px, axis=1),
            "py": ak.sum(p.py, axis=1),
            "pz": ak.sum(p.pz, axis=1),
            "E": ak.sum(p.E, axis=1),
        }
    )


def system_mass(objects: Any) -> Any:
    """Invariant mass of all the objects of each event."""
    return _system(objects).mass


def system_pt(objects: Any) -> Any:
    """pT of the sum of all the objects of each event."""
    return _system(objects).pt


def theta(eta: Any) -> Any:
    return 2 * np.arctan(np.exp(-eta))
