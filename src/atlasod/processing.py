"""Process one chunk (an entry range of one file): select events, fill weighted histograms.

Reads only the branches the analysis needs, in steps, so memory stays flat
whatever the chunk size.  MC events are weighted by
``Π(weight factors) × L × σ × k × ε / Σw`` (reference §3.1); data by 1.
"""

from __future__ import annotations

import bisect
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import hist
import numpy as np
import uproot

from atlasod.analysis import Analysis
from atlasod.catalogue import Catalogue, SampleFile
from atlasod.errors import AtlasodError
from atlasod.histio import atomic_path, empty_histogram, write_histograms
from atlasod.mini import TREE_NAME
from atlasod.physics import Selected

LOG = logging.getLogger(__name__)
# Entries per read inside a chunk, which bounds a job's memory: at most READ_STEP, and no
# more than READ_BUDGET bytes of the branches uncompressed (from the file's metadata).
READ_STEP = 250_000
READ_BUDGET = 80_000_000
READ_GROUP = 8


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


def open_tree(location: str) -> Any:
    """Open the ``mini`` tree of a local path or URL, with an error that says what to do."""
    if "://" not in location and not Path(location).is_file():
        raise AtlasodError(
            f"input file {location} does not exist; run the fetch step "
            "(or use --config source=demo for generated data)"
        )
    # local files are read with plain reads: memory-mapped pages would stay in the job's
    # resident memory (it costs some speed: benchmarks/README.md)
    options = {} if "://" in location else {"handler": uproot.source.file.MultithreadedFileSource}
    try:
        handle = uproot.open(location, **options)
        if TREE_NAME not in handle:
            keys = ", ".join(k.split(";")[0] for k in handle) or "nothing"
            raise AtlasodError(f"{location} has no tree '{TREE_NAME}' (it contains: {keys})")
        tree = handle[TREE_NAME]
        _ = tree.num_entries, tree.keys()
    except AtlasodError:
        raise
    except Exception as exc:
        raise AtlasodError(
            f"{location} is not a readable ROOT file ({_one_line(exc)}); "
            "it may be truncated or corrupt: delete it and fetch it again"
        ) from exc
    return tree


def read_step(tree: Any, branches: list[str]) -> int:
    """Entries per read of ``branches`` of ``tree`` (see READ_STEP, READ_BUDGET)."""
    per_entry = sum(tree[b].uncompressed_bytes for b in branches) / max(1, tree.num_entries)
    return max(1, min(READ_STEP, int(READ_BUDGET / max(per_entry, 1.0))))


def batch_ranges(tree: Any, start: int, stop: int, step: int) -> Iterator[tuple[int, int]]:
    """Entry ranges of at most ``step`` entries that cover [start, stop).  A range ends on
    one of the file's cluster boundaries (where every branch starts a new basket) when one
    falls inside its step: a basket cut by a range boundary is read and decompressed for
    both ranges, which made reading the real-layout H → γγ file 1.6 times slower
    (benchmarks/README.md)."""
    bounds = [int(b) for b in tree.common_entry_offsets()]
    first = start
    while first < stop:
        last = min(stop, first + step)
        if last < stop:
            boundary = bounds[bisect.bisect_right(bounds, last) - 1]
            last = boundary if boundary > first else last
        yield first, last
        first = last


def read_batches(
    tree: Any, branches: list[str], start: int, stop: int, step: int | None = None
) -> Iterator[ak.Array]:
    """The entries [start, stop) of ``branches`` in batches of at most ``step`` entries
    (default :func:`read_step`; see :func:`batch_ranges`), each an awkward array of
    records.  Branches are read in groups of at most READ_GROUP: decoding the real files'
    ``std::vector`` baskets takes several times the size of the result, and reading many
    branches at once would need that for all of them together."""
    step = step or read_step(tree, branches)
    groups = [branches[i : i + READ_GROUP] for i in range(0, len(branches), READ_GROUP)]
    for first, last in batch_ranges(tree, start, stop, step):
        columns: dict[str, Any] = {}
        for group in groups:
            arrays = tree.arrays(group, entry_start=first, entry_stop=last)
            columns.update({b: arrays[b] for b in group})
        yield ak.zip(columns, depth_limit=1)


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def event_weights(
    arrays: ak.Array, sample: SampleFile, analysis: Analysis, catalogue: Catalogue, lumi_pb: float
) -> np.ndarray:
    """Per-event weights (float64) of one batch of events."""
    n = len(arrays)
    if sample.is_data:
        return np.ones(n)
    assert sample.dsid is not None
    norm = catalogue.normalisation(sample.dsid)
    weight = np.ones(n)
    for name in analysis.weight_factors:
        factor = ak.to_numpy(arrays[name]).astype(np.float64)
        if name == "mcWeight" and norm.weight_sign_only:
            factor = np.sign(factor)  # single-top convention of the original (reference §3.4)
        weight *= factor
    return weight * norm.scale(lumi_pb, analysis.normalisation_table)


def fill(
    histograms: dict[str, hist.Hist],
    analysis: Analysis,
    selected: Selected,
    weights: np.ndarray,
    options: dict[str, Any] | None = None,
) -> None:
    w_sel = weights[selected.mask]
    for spec in analysis.histograms:
        try:
            values = selected.variables[spec.variable]
        except KeyError:
            raise AtlasodError(
                f"{analysis.config_path}: histogram {spec.name} uses variable {spec.variable!r}, "
                f"which select_events does not return (it returns {sorted(selected.variables)})"
            ) from None
        w = w_sel
        if spec.where is not None:
            keep = ak.to_numpy(selected.variables[spec.where]).astype(bool)
            values, w = values[keep], w[keep]
        values = ak.Array(values) if not isinstance(values, np.ndarray) else values
        if isinstance(values, ak.Array) and values.ndim > 1:  # per object: the event's weight
            w = np.repeat(w, ak.to_numpy(ak.num(values, axis=1)))
            values = ak.flatten(values)
        values = np.asarray(ak.to_numpy(values), dtype=np.float64)
        # a quirk of an original analysis: every event filled twice (W: hist_mtw)
        times = 2 if spec.double_fill_option and (options or {}).get(spec.double_fill_option) else 1
        for _ in range(times):
            histograms[spec.name].fill(values, weight=w)


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
    weights = event_weights(arrays, sample, analysis, catalogue, lumi_pb)
    selected = analysis.selection.select_events(arrays, options)
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
    tree = open_tree(location)
    branches = list(dict.fromkeys(analysis.selection.BRANCHES))
    if not sample.is_data:
        branches += [b for b in analysis.weight_factors if b not in branches]
    missing = [b for b in branches if b not in tree]
    if missing:
        source = analysis.config_path if analysis.declarative else analysis.folder / "selection.py"
        raise AtlasodError(
            f"{location}: tree '{TREE_NAME}' has no branch {', '.join(missing)} "
            f"(needed by analysis {analysis.name}); check the branch names in "
            f"{source} against the 2020 'mini' schema"
        )
    start, stop = chunk_range(tree.num_entries, index, n_chunks)
    histograms = new_histograms(analysis)
    cutflow: dict[str, dict[str, float]] = {}
    t0, done = time.monotonic(), 0
    LOG.info("%s: chunk %d/%d, entries %d-%d", sample.file, index + 1, n_chunks, start, stop)
    try:
        for arrays in read_batches(tree, branches, start, stop):
            accumulate(
                histograms, cutflow, analysis, sample, arrays, catalogue, lumi_pb, select_options
            )
            done += len(arrays)
            rate = done / max(time.monotonic() - t0, 1e-9)
            LOG.info("%s: %d/%d entries (%.0f events/s)", sample.file, done, stop - start, rate)
    except AtlasodError:
        raise
    except (OSError, ValueError, uproot.deserialization.DeserializationError) as exc:
        raise AtlasodError(
            f"{location}: failed reading entries {start}-{stop} ({_one_line(exc)}); "
            "the file may be truncated or corrupt: delete it and fetch it again"
        ) from exc
    return ChunkResult(histograms, cutflow, stop - start)


def write_chunk(
    result: ChunkResult, sample: SampleFile, hist_path: Path, cutflow_path: Path
) -> None:
    """Write the chunk's histograms (keyed ``<stem>/<name>``) and its cutflow."""
    write_histograms(hist_path, {f"{sample.stem}/{k}": h for k, h in result.histograms.items()})
    payload = {"file": sample.file, "entries": result.entries, "cutflow": result.cutflow}
    with atomic_path(cutflow_path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
