"""What demo models are given and return, and the kinematics they build events from.

A demo model (the engine's, :mod:`atlasod.demo.models`, or an analysis folder's ``demo.py``)
defines ``generate_events(ctx: DemoContext) -> DemoEvents``.  This module is beneath both
and beneath :mod:`atlasod.demo.generate`, which writes the files: it imports only the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import awkward as ak
import numpy as np
import vector

from atlasod.data.catalogue import SampleFile


@dataclass(frozen=True)
class DemoContext:
    """Everything a demo model may use to generate one file.

    ``norm_scale`` is the luminosity weight ``L σ / Σw`` of an MC sample (None
    for data), ``group_share`` its share of its plot group's cross section:
    models use them to choose ``mcWeight`` so that the weighted MC matches the
    injected data.  ``data_events`` is the total number of data events (all
    periods) at this demo scale.
    """

    sample: SampleFile
    n_events: int
    rng: np.random.Generator
    params: dict[str, Any]
    data_events: int
    norm_scale: float | None = None
    group: str | None = None
    group_share: float = 1.0
    weight_factors: tuple[str, ...] = ()
    weight_sign_only: bool = False
    group_fixed_yield: float = 0.0
    group_signal: bool = False
    groups_in_role: int = 1

    def tunable_target(self, group_expected: float, pass_fraction: float) -> float:
        """This sample's share of a group's expected yield, after the fixed-weight samples'.

        ``group_fixed_yield`` is what the group's sign-weighted samples give per unit pass
        fraction; the tunable samples share the remainder by cross section.
        """
        rest = max(group_expected - pass_fraction * self.group_fixed_yield, 0.0)
        return rest * self.group_share

    def mc_weights(self, n_pass: int, target_yield: float, spread: float = 0.1) -> np.ndarray:
        """``mcWeight`` values whose weighted sum over ``n_pass`` events is ~``target_yield``.

        Samples whose weight the analysis reduces to its sign (single top) get ±1 and
        cannot be tuned: their yield is ``n_pass × L σ / Σw``.
        """
        assert self.norm_scale is not None, "mc_weights is for MC samples"
        if self.weight_sign_only:
            return np.where(self.rng.random(self.n_events) < 0.02, -1.0, 1.0).astype(np.float32)
        w0 = target_yield / (max(n_pass, 1) * self.norm_scale)
        return (w0 * (1 + spread * self.rng.standard_normal(self.n_events))).astype(np.float32)

    def weighted_yield(self, columns: dict[str, Any], passed: np.ndarray) -> float:
        """Σ of the analysis weight over ``passed`` events, from the stored float32 values."""
        assert self.norm_scale is not None
        w = np.ones(int(np.count_nonzero(passed)))
        for name in self.weight_factors:
            factor = np.asarray(columns[name], dtype=np.float32)[passed].astype(np.float64)
            w *= np.sign(factor) if name == "mcWeight" and self.weight_sign_only else factor
        return float(np.sum(w) * self.norm_scale)


@dataclass
class DemoEvents:
    """What a demo model returns: branch columns (MeV) and the truth it injected.

    ``columns`` maps branch names (``photon_pt``, ``trigP``, ...) to arrays of
    length ``n_events``; vector branches are awkward arrays or 2-D numpy arrays.
    """

    columns: dict[str, Any]
    truth: dict[str, Any] = field(default_factory=dict)


# --- kinematic helpers for demo models ---------------------------------------------------


def truncated_exponential(
    rng: np.random.Generator, n: int, low: float, high: float, slope: float
) -> np.ndarray:
    """Samples of ``exp(-x/slope)`` restricted to ``[low, high)`` (a falling mass spectrum)."""
    u = rng.random(n)
    a, b = np.exp(-low / slope), np.exp(-high / slope)
    return -slope * np.log(a - u * (a - b))


def two_body_decay(
    rng: np.random.Generator, parent: Any, m1: np.ndarray | float, m2: np.ndarray | float
) -> tuple[Any, Any]:
    """Isotropic two-body decay of ``parent`` (a vector Momentum4D array) into masses m1, m2."""
    big_m = np.asarray(parent.mass, dtype=float)
    n = len(big_m)
    m1 = np.broadcast_to(np.asarray(m1, dtype=float), (n,))
    m2 = np.broadcast_to(np.asarray(m2, dtype=float), (n,))
    arg = (big_m**2 - (m1 + m2) ** 2) * (big_m**2 - (m1 - m2) ** 2)
    p = np.sqrt(np.clip(arg, 0, None)) / (2 * big_m)
    cos_t = rng.uniform(-1, 1, n)
    sin_t = np.sqrt(1 - cos_t**2)
    phi = rng.uniform(-np.pi, np.pi, n)
    px, py, pz = p * sin_t * np.cos(phi), p * sin_t * np.sin(phi), p * cos_t
    d1 = vector.array({"px": px, "py": py, "pz": pz, "mass": m1})
    d2 = vector.array({"px": -px, "py": -py, "pz": -pz, "mass": m2})
    return d1.boost_p4(parent), d2.boost_p4(parent)


def resonance(
    rng: np.random.Generator, mass: np.ndarray, pt_scale: float, eta_sigma: float = 1.5
) -> Any:
    """Parents of the given masses with an exponential pT spectrum and Gaussian rapidity."""
    n = len(mass)
    pt = rng.exponential(pt_scale, n)
    return vector.array(
        {
            "pt": pt,
            "eta": rng.normal(0, eta_sigma, n),
            "phi": rng.uniform(-np.pi, np.pi, n),
            "mass": mass,
        }
    )


def stack_objects(*objects: Any) -> dict[str, np.ndarray]:
    """Columns (pt, eta, phi, E; shape (n, k), MeV) of k objects given in GeV, sorted by pT."""
    pt = np.stack([np.asarray(o.pt) for o in objects], axis=1)
    order = np.argsort(-pt, axis=1, kind="stable")
    cols = {
        "pt": pt,
        "eta": np.stack([np.asarray(o.eta) for o in objects], axis=1),
        "phi": np.stack([np.asarray(o.phi) for o in objects], axis=1),
        "E": np.stack([np.asarray(o.E) for o in objects], axis=1),
    }
    cols = {k: np.take_along_axis(v, order, axis=1) for k, v in cols.items()}
    for k in ("pt", "E"):
        cols[k] = cols[k] * 1000.0  # GeV -> MeV, as in the real files
    cols["order"] = order
    return cols


def jagged_branches(prefix: str, values: dict[str, np.ndarray], counts: np.ndarray) -> dict:
    """Branches ``<prefix>_<key>`` from (n, k) arrays, keeping the first ``counts[i]`` slots
    of row i (the others are ignored)."""
    counts = np.asarray(counts, dtype=np.int64)
    out = {}
    for key, v in values.items():
        arr = np.asarray(v)
        slots = np.arange(arr.shape[1]) < counts[:, None]
        out[f"{prefix}_{key}"] = ak.unflatten(arr[slots], counts)
    return out


def good_lepton_quality(rng: np.random.Generator, pt_mev: np.ndarray) -> dict[str, np.ndarray]:
    """Identification, isolation and impact-parameter columns (shape of ``pt_mev``) that pass
    every lepton selection of the original analyses: tight, relative isolation < 0.05,
    |d0|/σ < 1.5 and |z0| < 0.2 mm."""
    shape = np.shape(pt_mev)
    sig = rng.uniform(0.01, 0.03, shape)
    return {
        "isTightID": np.ones(shape, dtype=bool),
        "ptcone30": pt_mev * rng.uniform(0.0, 0.05, shape),
        "etcone20": pt_mev * rng.uniform(-0.02, 0.05, shape),
        "tracksigd0pvunbiased": sig,
        "trackd0pvunbiased": sig * rng.uniform(-1.5, 1.5, shape),
        "z0": rng.uniform(-0.2, 0.2, shape),
        "pt_syst": 0.01 * pt_mev,
    }


def massless(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> Any:
    """Massless four-vectors (a vector array) from pT (GeV), η, φ."""
    return vector.array({"pt": pt, "eta": eta, "phi": phi, "mass": np.zeros_like(pt)})
