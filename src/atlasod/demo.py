"""Synthetic ``mini`` files with known physics, for tests and offline demos.

Each analysis ships the physics of its demo data in ``analyses/<name>/demo.py``:
a function ``generate_events(sample, n_events, rng, params)`` that returns the
branches it cares about and the truth it injected (:class:`DemoEvents`).  This
module completes the other branches of the 81-branch schema with neutral
values, writes the file atomically next to a ``.truth.json`` sidecar, and offers
small kinematic helpers (two-body decays, falling spectra) built on ``vector``.

Everything is deterministic: the random stream of a file is seeded from the
global seed and the file name, so files can be generated in any order or in
parallel and still be identical.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import vector

from atlasod import plan
from atlasod.analysis import Analysis
from atlasod.catalogue import Catalogue, SampleFile
from atlasod.histio import atomic_path, reproducible_root_file
from atlasod.mini import COLLECTIONS, SCALARS, TREE_NAME

LOG = logging.getLogger(__name__)

# First run of each 2016 period as seen in the real files (A), else representative.
_RUN_OF_PERIOD = {"A": 297730, "B": 300345, "C": 302053, "D": 303560}
_WRITE_BATCH = 200_000


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


def file_seed(seed: int, sample: SampleFile) -> int:
    digest = hashlib.sha256(f"{seed}:{sample.file}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def demo_event_count(analysis: Analysis, sample: SampleFile, scale: float) -> int:
    """Events to generate for ``sample``: data are shared between periods by luminosity."""
    return plan.demo_events(analysis.raw, sample, scale)


def demo_context(
    analysis: Analysis,
    catalogue: Catalogue,
    sample: SampleFile,
    seed: int,
    scale: float,
    lumi_pb: float,
) -> DemoContext:
    n = demo_event_count(analysis, sample, scale)
    rng = np.random.default_rng(file_seed(seed, sample))
    data_events = sum(demo_event_count(analysis, d, scale) for d in analysis.data_files)
    params = {**analysis.demo, "_signal_groups": [g.name for g in analysis.groups if g.signal]}
    if sample.is_data:
        return DemoContext(sample, n, rng, params, data_events)
    factors = tuple(analysis.weight_factors)
    group = next(g for g in analysis.groups if sample in g.samples)
    norms = {s: catalogue.normalisation(s.dsid) for s in group.samples if s.dsid}
    # Samples weighted by the sign of mcWeight cannot be tuned: their yield per passing
    # event is fixed (L σ / Σw); the others share the rest of the group by cross section.
    fixed = {s: n for s, n in norms.items() if n.weight_sign_only}
    xsec = {s: n.xsec_pb for s, n in norms.items() if not n.weight_sign_only}
    fixed_unit = sum(
        demo_event_count(analysis, s, scale) * n.scale(lumi_pb, analysis.normalisation_table)
        for s, n in fixed.items()
    )
    assert sample.dsid is not None
    norm = norms[sample]
    return DemoContext(
        sample,
        n,
        rng,
        params,
        data_events,
        norm_scale=norm.scale(lumi_pb, analysis.normalisation_table),
        group=group.name,
        group_share=xsec[sample] / sum(xsec.values()) if sample in xsec else 0.0,
        weight_factors=factors,
        weight_sign_only=norm.weight_sign_only,
        group_fixed_yield=fixed_unit,
        group_signal=group.signal,
        groups_in_role=sum(1 for g in analysis.groups if g.signal == group.signal and g.stacked),
    )


def generate_file(
    analysis: Analysis,
    catalogue: Catalogue,
    sample: SampleFile,
    out: Path,
    seed: int,
    scale: float = 1.0,
    lumi_pb: float = 10064.0,
) -> dict[str, Any]:
    """Generate the demo version of ``sample`` for ``analysis`` into ``out``."""
    ctx = demo_context(analysis, catalogue, sample, seed, scale, lumi_pb)
    n = ctx.n_events
    LOG.info("generating %d demo events for %s (seed %d)", n, sample.file, seed)
    events = analysis.demo_module.generate_events(ctx)
    arrays = complete_events(events.columns, n, sample)
    write_mini(out, arrays)
    truth = {"file": sample.file, "events": n, "seed": seed, "scale": scale, **events.truth}
    if analysis.uses_generic_demo:
        truth.update(_selected_truth(analysis, catalogue, sample, out, lumi_pb))
    truth_path = out.with_name(out.name + ".truth.json")
    with atomic_path(truth_path) as tmp:
        tmp.write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return truth


def _selected_truth(
    analysis: Analysis, catalogue: Catalogue, sample: SampleFile, path: Path, lumi_pb: float
) -> dict[str, Any]:
    """What the analysis' own selection keeps of a generic-model file (a teacher's cuts)."""
    from atlasod.processing import process_chunk

    result = process_chunk(analysis, sample, str(path), 0, 1, lumi_pb, catalogue)
    final = list(result.cutflow.values())[-1]
    truth: dict[str, Any] = {"selected": int(final["events"])}
    if not sample.is_data:
        truth["weighted_selected"] = float(final["weighted"])
    return truth


def complete_events(columns: dict[str, Any], n: int, sample: SampleFile) -> dict[str, Any]:
    """Fill every branch the model did not set with a neutral value of the right dtype."""
    unknown = (
        set(columns) - set(SCALARS) - {f"{o}_{f}" for o, fs in COLLECTIONS.items() for f in fs}
    )
    if unknown:
        raise ValueError(f"demo model set unknown branches {sorted(unknown)}")
    out: dict[str, Any] = {}
    defaults = {
        "runNumber": _RUN_OF_PERIOD.get(sample.period or "", 284500),
        "channelNumber": _RUN_OF_PERIOD[sample.period] if sample.is_data else sample.dsid,
        "mcWeight": 0.0 if sample.is_data else 1.0,
    }
    for name, dtype in SCALARS.items():
        if name in columns:
            value = np.asarray(columns[name])
        elif name == "eventNumber":
            value = np.arange(1, n + 1)
        elif name.startswith("scaleFactor_"):
            value = np.full(n, 0.0 if sample.is_data else 1.0)
        else:
            value = np.full(n, defaults.get(name, 0))
        if len(value) != n:
            raise ValueError(f"demo branch {name} has {len(value)} entries, expected {n}")
        out[name] = value.astype(dtype)
    for obj, fields in COLLECTIONS.items():
        given = {f: _jagged(columns[f"{obj}_{f}"]) for f in fields if f"{obj}_{f}" in columns}
        if given:
            counts = ak.num(next(iter(given.values())), axis=1)
        else:
            counts = np.zeros(n, dtype=np.int64)
        record = {}
        for f, dtype in fields.items():
            if f in given:
                arr = ak.Array(given[f])
                if not np.array_equal(ak.num(arr, axis=1), counts):
                    raise ValueError(f"demo branch {obj}_{f} has a different multiplicity")
            else:
                arr = ak.unflatten(np.zeros(int(np.sum(counts))), counts)
            record[f] = ak.values_astype(arr, np.dtype(dtype))
        out[obj] = ak.zip(record, depth_limit=2) if record else None
    return out


def _jagged(values: Any) -> ak.Array:
    """A (n, k) numpy array or awkward array as a variable-length awkward array."""
    arr = ak.Array(values)
    return ak.from_regular(arr, axis=1) if arr.ndim > 1 else arr


def write_mini(path: Path, arrays: dict[str, Any]) -> None:
    """Write a ``mini`` tree (counters named ``<object>_n``) atomically."""
    types = {}
    for name, value in arrays.items():
        types[name] = value.dtype if isinstance(value, np.ndarray) else value.type.content
    n = len(arrays["runNumber"])
    with reproducible_root_file(path) as f:
        tree = f.mktree(
            TREE_NAME,
            types,
            counter_name=lambda c: f"{c}_n",
            field_name=lambda outer, inner: f"{outer}_{inner}",
        )
        for start in range(0, n, _WRITE_BATCH):
            stop = min(n, start + _WRITE_BATCH)
            tree.extend({k: v[start:stop] for k, v in arrays.items()})


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
