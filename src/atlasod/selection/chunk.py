"""Process one chunk (an entry range of one file): select events, fill weighted histograms.

Reads only the branches the analysis needs, in steps, so memory stays flat
whatever the chunk size.  MC events are weighted by
``Π(weight factors) × L × σ × k × ε / Σw`` (reference §3.1); data by 1.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import hist
import numpy as np
import uproot

from atlasod.data.catalogue import Catalogue, SampleFile
from atlasod.data.trees import open_tree, read_batches
from atlasod.errors import AtlasodError, one_line
from atlasod.histio import atomic_path, empty_histogram, write_histograms
from atlasod.selection.analysis import Analysis
from atlasod.selection.physics import Selected

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkResult:
    histograms: dict[str, hist.Hist]
    cutflow: dict[str, dict[str, float]]
    entries: int


def chunk_range(entries: int, index: int, n_chunks: int) -> tuple[int, int]:
    """Entry range [start, stop) of chunk ``index`` of ``n_chunks`` equal parts."""
    if not 0 <= index < n_chunks:
        raise AtlasodError(f"chunk index {index} out of range for {n_chunks} chunks")
    return entries * index // n_chunks, entries * (index + 1) // n_chunks


def event_weights(
    arrays: ak.Array,
    sample: SampleFile,
    analysis: Analysis,
    catalogue: Catalogue,
    lumi_pb: float,
    options: dict[str, Any] | None = None,
) -> np.ndarray:
    """Per-event weights (float64) of one batch of events: the analysis' weight factors
    times ``L × σ × k × ε / Σw``, from the catalogue (the sample's group's table, with the
    workflow switches ``options``) or from the events' own branches, as the release says."""
    n = len(arrays)
    if sample.is_data or analysis.unweighted:
        return np.ones(n)
    from_branches = catalogue.release.normalisation_branches
    norm = None
    if not from_branches:
        assert sample.dsid is not None
        norm = catalogue.normalisation(sample.dsid)
    # a quirk of an original: the absolute value of every factor (the switch it names)
    switch = analysis.weight_abs_option
    absolute = np.abs if switch and (options or {}).get(switch, False) else np.asarray
    weight = np.ones(n)
    for name in analysis.weight_factors:
        factor = ak.to_numpy(arrays[name]).astype(np.float64)
        if name == "mcWeight" and norm is not None and norm.weight_sign_only:
            factor = np.sign(factor)  # single-top convention of the original (reference §3.4)
        weight *= absolute(factor)
    if from_branches:
        term = {
            t: absolute(ak.to_numpy(arrays[b]).astype(np.float64)) for t, b in from_branches.items()
        }
        scale = lumi_pb * term["xsec_pb"] * term["k_factor"] * term["filter_eff"] / term["sumw"]
        return weight * scale
    assert norm is not None
    return weight * absolute(norm.scale(lumi_pb, analysis.table_of(sample, options or {})))


def fill(
    histograms: dict[str, hist.Hist],
    analysis: Analysis,
    selected: Selected,
    weights: np.ndarray,
    options: dict[str, Any] | None = None,
) -> None:
    w_sel = weights[selected.mask]
    for spec in analysis.histograms:
        w, variables = w_sel, selected.variables
        if spec.after is not None:  # filled after one of the cuts, not after the last
            mask, variables = selected.stages[spec.after]
            w = weights[mask]
        keep = None
        if spec.where is not None:
            keep = ak.to_numpy(variables[spec.where]).astype(bool)
            w = w[keep]
        names, factor = spec.filled_with(options or {})
        if factor != 1.0:  # each of several variables, at a share of the weight
            w = w * factor
        # a quirk of an original analysis: every event filled twice (W: hist_mtw)
        switch = spec.double_fill_option
        times = 2 if switch and (options or {}).get(switch) else 1
        for name in names:
            try:
                values = variables[name]
            except KeyError:
                raise AtlasodError(
                    f"{analysis.config_path}: histogram {spec.name} uses variable {name!r}, "
                    f"which select_events does not return (it returns {sorted(selected.variables)})"
                ) from None
            if keep is not None:
                values = values[keep]
            values = ak.Array(values) if not isinstance(values, np.ndarray) else values
            w_fill = w
            if isinstance(values, ak.Array) and values.ndim > 1:  # per object: event's weight
                w_fill = np.repeat(w, ak.to_numpy(ak.num(values, axis=1)))
                values = ak.flatten(values)
            values = np.asarray(ak.to_numpy(values), dtype=np.float64)
            for _ in range(times):
                histograms[spec.name].fill(values, weight=w_fill)


def new_histograms(analysis: Analysis) -> dict[str, hist.Hist]:
    """The analysis' histograms, empty."""
    return {
        h.name: empty_histogram(h.variable, h.bins, h.low, h.high, h.xlabel)
        for h in analysis.histograms
    }


def accumulate(
    histograms: dict[str, hist.Hist],
    cutflow: dict[str, dict[str, float]],
    analysis: Analysis,
    sample: SampleFile,
    arrays: ak.Array,
    catalogue: Catalogue,
    lumi_pb: float,
    options: dict[str, Any],
) -> None:
    """Select one batch of events and add it to ``histograms`` and ``cutflow`` (the step
    shared by the chunk jobs and the coffea processor)."""
    weights = event_weights(arrays, sample, analysis, catalogue, lumi_pb, options)
    # a selection.py may treat one sample apart (the slepton search's E_T^miss quirk)
    selected = analysis.selection.select_events(arrays, {**options, "sample": sample.short_name})
    fill(histograms, analysis, selected, weights, options)
    for cut, mask in selected.cutflow.items():
        entry = cutflow.setdefault(cut, {"events": 0, "weighted": 0.0, "sumw2": 0.0})
        m = np.asarray(mask, dtype=bool)
        count = int(np.count_nonzero(m))
        entry["events"] += count
        if sample.is_data:  # weights of 1: the sums are the count (exactly)
            entry["weighted"] += float(count)
            entry["sumw2"] += float(count)
            continue
        entry["weighted"] += float(np.sum(weights[m]))
        entry["sumw2"] += float(np.sum(weights[m] ** 2))


def process_chunk(
    analysis: Analysis,
    sample: SampleFile,
    location: str,
    index: int,
    n_chunks: int,
    lumi_pb: float,
    catalogue: Catalogue,
    options: dict[str, Any] | None = None,
) -> ChunkResult:
    """Select and histogram chunk ``index`` of ``n_chunks`` of the file at ``location``.

    ``options`` (workflow switches such as ``solutions``) are added to the analysis'
    ``selection`` options."""
    select_options = {**analysis.selection_options, **(options or {})}
    release = catalogue.release
    tree = open_tree(location, release)
    branches = list(dict.fromkeys(analysis.selection.BRANCHES))
    if not sample.is_data and not analysis.unweighted:
        normalisation = list((release.normalisation_branches or {}).values())
        branches += [b for b in [*analysis.weight_factors, *normalisation] if b not in branches]
    missing = [b for b in branches if b not in tree]
    if missing:
        source = analysis.config_path if analysis.declarative else analysis.folder / "selection.py"
        raise AtlasodError(
            f"{location}: tree '{release.tree}' has no branch {', '.join(missing)} "
            f"(needed by analysis {analysis.name}); check the branch names in "
            f"{source} against the {release.name} '{release.tree}' schema"
        )
    start, stop = chunk_range(tree.num_entries, index, n_chunks)
    histograms = new_histograms(analysis)
    cutflow: dict[str, dict[str, float]] = {}
    t0, done = time.monotonic(), 0
    LOG.info("%s: chunk %d/%d, entries %d-%d", sample.file, index + 1, n_chunks, start, stop)
    batches = read_batches(tree, branches, start, stop)
    while True:
        # only reading is blamed on the file: an error of the selection is its own
        try:
            arrays = next(batches, None)
        except AtlasodError:
            raise
        except (OSError, ValueError, uproot.deserialization.DeserializationError) as exc:
            raise AtlasodError(
                f"{location}: failed reading entries {start}-{stop} ({one_line(exc)}); "
                "the file may be truncated or corrupt: delete it and fetch it again"
            ) from exc
        if arrays is None:
            break
        accumulate(
            histograms, cutflow, analysis, sample, arrays, catalogue, lumi_pb, select_options
        )
        done += len(arrays)
        rate = done / max(time.monotonic() - t0, 1e-9)
        LOG.info("%s: %d/%d entries (%.0f events/s)", sample.file, done, stop - start, rate)
    return ChunkResult(histograms, cutflow, stop - start)


def write_chunk(
    result: ChunkResult, sample: SampleFile, hist_path: Path, cutflow_path: Path
) -> None:
    """Write the chunk's histograms (keyed ``<stem>/<name>``) and its cutflow."""
    write_histograms(hist_path, {f"{sample.stem}/{k}": h for k, h in result.histograms.items()})
    payload = {"file": sample.file, "entries": result.entries, "cutflow": result.cutflow}
    with atomic_path(cutflow_path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
