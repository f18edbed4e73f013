"""Synthetic ``mini`` files with known physics, for tests and offline demos.

The physics of an analysis' demo data comes from ``analyses/<name>/demo.py`` or from
an engine model (:mod:`atlasod.demo.models`): ``generate_events(ctx)`` returns the
branches it cares about and the truth it injected (:class:`DemoEvents`; the kinematic
helpers it builds events from are in :mod:`atlasod.demo.kinematics`).  This module
completes the other branches of the 81-branch schema with neutral values and writes the
file atomically next to a ``.truth.json`` sidecar.

Everything is deterministic: the random stream of a file is seeded from the
global seed and the file name, so files can be generated in any order or in
parallel and still be identical.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from types import ModuleType
from typing import Any

import awkward as ak
import numpy as np

from atlasod.data import plan
from atlasod.data.catalogue import Catalogue, Normalisation, SampleFile
from atlasod.data.release import Release
from atlasod.data.trees import MiniWriter
from atlasod.demo import models as demo_models
from atlasod.demo.kinematics import DemoContext
from atlasod.histio import atomic_path, reproducible_root_file
from atlasod.selection.analysis import Analysis

LOG = logging.getLogger(__name__)

# First run of each 2016 period as seen in the real files (A), else representative.
_WRITE_BATCH = 200_000


def demo_generator(analysis: Analysis) -> ModuleType:
    """The module whose ``generate_events`` makes the analysis' demo data: its folder's
    ``demo.py``, or the engine's models when it names one (``demo.model``)."""
    return demo_models if analysis.uses_generic_demo else analysis.demo_module


def file_seed(seed: int, sample: SampleFile) -> int:
    digest = hashlib.sha256(f"{seed}:{sample.file}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def demo_event_count(analysis: Analysis, sample: SampleFile, scale: float) -> int:
    """Events to generate for ``sample``: data are shared between periods by luminosity."""
    return plan.demo_events(analysis.raw, sample, scale, analysis.release)


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
    norms = {s: demo_normalisation(catalogue, s) for s in group.samples if s.dsid}
    # Samples weighted by the sign of mcWeight cannot be tuned: their yield per passing
    # event is fixed (L σ / Σw); the others share the rest of the group by cross section.
    fixed = {s: n for s, n in norms.items() if n.weight_sign_only}
    xsec = {s: n.xsec_pb for s, n in norms.items() if not n.weight_sign_only}
    if analysis.demo.get("mc_share") == "equal":  # many slices of one process: even MC stats
        xsec = dict.fromkeys(xsec, 1.0)
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


# The normalisation a demo file of a release that reads it from the files' branches carries
# when the catalogue does not know the sample's (demo values, not a sample's real ones).
DEMO_XSEC_PB = 1.0
DEMO_SUM_OF_WEIGHTS = 1.0e6


def demo_normalisation(catalogue: Catalogue, sample: SampleFile) -> Normalisation:
    """The normalisation of an MC sample in its demo file: the catalogue's where it has the
    sample's; a release that takes it from the files' branches gets demo values for the
    others, which its demo files carry in those branches."""
    assert sample.dsid is not None
    if catalogue.release.normalisation_branches is None or catalogue.has_normalisation(sample.dsid):
        return catalogue.normalisation(sample.dsid)
    return Normalisation(
        dsid=sample.dsid,
        name=sample.short_name,
        xsec_pb=DEMO_XSEC_PB,
        sumw=DEMO_SUM_OF_WEIGHTS,
    )


def _normalisation_columns(
    catalogue: Catalogue, sample: SampleFile, n: int
) -> dict[str, np.ndarray]:
    """The branches that carry an MC file's normalisation, where the release has them."""
    branches = catalogue.release.normalisation_branches
    if branches is None or sample.is_data:
        return {}
    norm = demo_normalisation(catalogue, sample)
    values = {
        "xsec_pb": norm.xsec_pb,
        "k_factor": norm.k_factor,
        "filter_eff": norm.filter_eff,
        "sumw": norm.sumw,
    }
    return {branches[term]: np.full(n, value) for term, value in values.items()}


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
    events = demo_generator(analysis).generate_events(ctx)
    columns = {
        **_normalisation_columns(catalogue, sample, n),
        **analysis.release.translate_2020(events.columns),
    }
    arrays = complete_events(columns, n, sample, analysis.release)
    write_events(out, arrays, analysis.release)
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
    from atlasod.selection.chunk import process_chunk

    result = process_chunk(analysis, sample, str(path), 0, 1, lumi_pb, catalogue)
    final = list(result.cutflow.values())[-1]
    truth: dict[str, Any] = {"selected": int(final["events"])}
    if not sample.is_data:
        truth["weighted_selected"] = float(final["weighted"])
    return truth


def complete_events(
    columns: dict[str, Any], n: int, sample: SampleFile, release: Release
) -> dict[str, Any]:
    """Fill every branch the model did not set with a neutral value of the right dtype."""
    unknown = set(columns) - set(release.scalars) - set(release.object_branches())
    if unknown:
        raise ValueError(f"demo model set unknown branches {sorted(unknown)}")
    out: dict[str, Any] = {}
    mc_run = release.demo["mc_run"]
    defaults = {
        # a period without a known run number: 0
        "runNumber": (release.period_run(sample.period) or 0) if sample.period else mc_run,
        "channelNumber": (release.period_run(sample.period) or 0) if sample.period else sample.dsid,
        "mcWeight": 0.0 if sample.is_data else 1.0,
    }
    for name, dtype in release.scalars.items():
        if name in columns:
            value = np.asarray(columns[name])
        elif name == "eventNumber":
            value = np.arange(1, n + 1)
        elif name.startswith(release.demo["prefix"]):
            value = np.full(n, 0.0 if sample.is_data else 1.0)
        else:
            value = np.full(n, defaults.get(name, 0))
        if len(value) != n:
            raise ValueError(f"demo branch {name} has {len(value)} entries, expected {n}")
        out[name] = value.astype(dtype)
    for obj, fields in release.collections.items():
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


def write_events(path: Path, arrays: dict[str, Any], release: Release) -> None:
    """Write the release's tree (counters named ``<object>_n``) atomically."""
    n = len(arrays["runNumber"])
    with reproducible_root_file(path) as f:
        writer = MiniWriter(f, release.tree)
        for start in range(0, n, _WRITE_BATCH):
            stop = min(n, start + _WRITE_BATCH)
            writer.extend({k: v[start:stop] for k, v in arrays.items()})
