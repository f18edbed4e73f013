"""The expression language's functions (see :mod:`atlasod.selection.expressions`).

Every function takes and returns flat columns (:mod:`atlasod.selection.columns`) or numbers,
element-wise over events or objects, or over the objects of each event for the ``event_*``
reductions; numpy's functions work on columns directly.  An operation may write its result
into an input that is the result of another operation; a function that uses such a value
twice marks it ``kept`` first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from atlasod.selection import physics
from atlasod.selection.columns import (  # noqa: F401 - the language's functions, found by name
    Column,
    argmax,
    argmin,
    at,
    at_event_index,
    best_system_mass,
    best_system_pair_mass,
    broadcast,
    closest_pair_first,
    closest_pair_mass,
    closest_pair_second,
    count,
    event_all,
    event_any,
    event_max,
    event_min,
    event_sum,
    kept,
    logical_not,
    mass,
    mass3,
    min_delta_r,
    pair_mass,
    sfos_pair_mass,
    sfos_pair_other,
    sfos_pair_pt,
    system_mass,
    system_phi,
    system_pt,
    system_rapidity,
    where,
)

absolute = np.abs
sqrt = np.sqrt
exp = np.exp
log = np.log
cos = np.cos
sin = np.sin
cosh = np.cosh
sinh = np.sinh
arcsinh = np.arcsinh
tan = np.tan
minimum = np.minimum
maximum = np.maximum


def mt(pt: Any, phi: Any, met: Any, met_phi: Any) -> Any:
    """Transverse mass sqrt(2 pT MET (1 - cos Δφ)), in the units of the inputs."""
    return np.sqrt(2 * pt * met * (1 - np.cos(phi - met_phi)))


def neutrino_pz(*args: Any) -> Any:
    """The neutrino's p_z from the W-mass constraint (:func:`physics.neutrino_pz`)."""
    return broadcast(physics.neutrino_pz, *args)


def delta_phi(phi1: Any, phi2: Any) -> Any:
    """|Δφ| folded into [0, π]."""
    d = kept(np.abs(phi1 - phi2) % (2 * np.pi))  # used twice: no operation may write into it
    return np.minimum(d, 2 * np.pi - d)


def delta_r(eta1: Any, phi1: Any, eta2: Any, phi2: Any) -> Any:
    return np.sqrt((eta1 - eta2) ** 2 + delta_phi(phi1, phi2) ** 2)


def theta(eta: Any) -> Any:
    return 2 * np.arctan(np.exp(-eta))


def event_normal(run: Any, event: Any, salt: Any) -> Any:
    """A standard-normal number per event, a pure function of (run, event, salt): the same
    smearing on every run, machine and chunking (:func:`atlasod.selection.physics.event_normal`)."""

    def values(x: Any) -> np.ndarray:
        return x.filled(0) if isinstance(x, Column) else np.asarray(x)

    return Column(physics.event_normal(values(run), values(event), int(salt)))
