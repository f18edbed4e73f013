"""Reading and writing the release's trees: the one place that opens a ROOT file of events.

:func:`open_tree` opens the tree of a local path or URL with an error that says what to do;
:func:`read_batches` reads an entry range of some branches in batches that end on the file's
cluster boundaries; :class:`MiniWriter` writes demo and multiplied files in the demo layout.

The events may be a TTree (every release file so far) or an RNTuple (what uproot ≥ 5.7 writes
for ``f["mini"] = arrays``, ROOT ≥ 6.34 can write, and ATLAS's future formats use): both are
read through uproot, into the same arrays, so that the selection never knows which it got.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import uproot

from atlasod.data.decompression import use_isal
from atlasod.data.release import Release, release_of_trees
from atlasod.data.vectors import decode_vectors_fast
from atlasod.errors import AtlasodError, one_line

# Entries per read inside a chunk, which bounds a job's memory: at most READ_STEP, and no
# more than READ_BUDGET bytes of the branches uncompressed (from the file's metadata).
# 50 MB (it was 80): H → WW's chunk job of 400 k real-layout entries peaked at 289 MB instead
# of 349 MB (benchmarks/README.md).  Every demo file at the default scale is one batch
# either way.
READ_STEP = 250_000
READ_BUDGET = 50_000_000
# A cluster of up to this many steps is read whole rather than cut (at most 75 MB a batch).
WHOLE_CLUSTER = 1.5
READ_GROUP = 8
# Entries read to measure an RNTuple's bytes per entry (its metadata gives no uncompressed
# size per field, as a TTree's does).
RNTUPLE_SAMPLE = 1000


def open_tree(location: str, release: Release) -> Any:
    """Open the tree of ``release`` in a local path or URL, with an error that says what to
    do (also when the file is one of another release)."""
    if "://" not in location and not Path(location).is_file():
        raise AtlasodError(
            f"input file {location} does not exist; run the fetch step "
            "(or use --config source=demo for generated data)"
        )
    use_isal()  # zlib baskets inflated by ISA-L where installed: the same bytes, faster
    # local files are read with plain reads: memory-mapped pages would stay in the job's
    # resident memory (it costs some speed: benchmarks/README.md)
    options = {} if "://" in location else {"handler": uproot.source.file.MultithreadedFileSource}
    try:
        handle = uproot.open(location, **options)
        if release.tree not in handle:
            names = [k.split(";")[0] for k in handle]
            other = release_of_trees(names)
            if other is not None:
                raise AtlasodError(
                    f"{location} is a file of the {other.name} release (tree '{other.tree}'), "
                    f"but this run reads the {release.name} release (tree '{release.tree}'): "
                    f"use a file of the {release.name} release, or run on the {other.name} "
                    f"release (--config release={other.name})"
                )
            keys = ", ".join(names) or "nothing"
            raise AtlasodError(f"{location} has no tree '{release.tree}' (it contains: {keys})")
        tree = handle[release.tree]
        _ = tree.num_entries, tree.keys()
    except AtlasodError:
        raise
    except Exception as exc:
        raise AtlasodError(
            f"{location} is not a readable ROOT file ({one_line(exc)}); "
            "it may be truncated or corrupt: delete it and fetch it again"
        ) from exc
    return tree


def is_rntuple(tree: Any) -> bool:
    """Whether ``tree`` (from :func:`open_tree`) is an RNTuple rather than a TTree."""
    return isinstance(tree, uproot.models.RNTuple.Model_ROOT_3a3a_RNTuple)


def bytes_per_entry(tree: Any, branches: list[str]) -> float:
    """Uncompressed bytes per entry of ``branches``: from a TTree's metadata, or measured on
    the first entries of an RNTuple."""
    if not is_rntuple(tree):
        return sum(tree[b].uncompressed_bytes for b in branches) / max(1, tree.num_entries)
    sample = min(int(tree.num_entries), RNTUPLE_SAMPLE)
    if sample == 0:
        return 0.0
    return float(tree.arrays(branches, entry_stop=sample).layout.nbytes) / sample


def read_step(tree: Any, branches: list[str]) -> int:
    """Entries per read of ``branches`` of ``tree`` (see READ_STEP, READ_BUDGET)."""
    per_entry = bytes_per_entry(tree, branches)
    return max(1, min(READ_STEP, int(READ_BUDGET / max(per_entry, 1.0))))


def cluster_boundaries(tree: Any) -> list[int]:
    """The entries at which every branch starts a new basket (TTree) or page (RNTuple
    cluster), from 0 to the number of entries."""
    if not is_rntuple(tree):
        return [int(b) for b in tree.common_entry_offsets()]
    starts = [int(c.num_first_entry) for c in tree.cluster_summaries]
    return sorted({0, *starts, int(tree.num_entries)})


def batch_ranges(tree: Any, start: int, stop: int, step: int) -> Iterator[tuple[int, int]]:
    """Entry ranges that cover [start, stop), each ending on one of the file's cluster
    boundaries (where every branch starts a new basket) or at ``stop``: a basket cut by a
    range boundary is read and decompressed for both ranges, which made reading the
    real-layout H → γγ file 1.6 times slower and the H → WW one 1.8 times (ROOT writes one
    basket per branch and cluster there; benchmarks/README.md).  A range holds at most
    ``step`` entries, or the rest of a cluster that holds up to WHOLE_CLUSTER times more; a
    larger cluster (an uproot-written file is often one) is cut into steps."""
    bounds = cluster_boundaries(tree)
    first = start
    while first < stop:
        last = min(stop, first + step)
        if last < stop:
            at = bisect.bisect_right(bounds, last)
            if bounds[at - 1] > first:
                last = bounds[at - 1]
            elif at < len(bounds) and bounds[at] - first <= WHOLE_CLUSTER * step:
                last = min(stop, bounds[at])  # no boundary within the step: the cluster's end
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
    if not is_rntuple(tree):  # std::vector baskets decoded in one gather (same arrays)
        decode_vectors_fast(tree, branches)
    groups = [branches[i : i + READ_GROUP] for i in range(0, len(branches), READ_GROUP)]
    for first, last in batch_ranges(tree, start, stop, step):
        columns: dict[str, Any] = {}
        for group in groups:
            arrays = tree.arrays(group, entry_start=first, entry_stop=last)
            columns.update({b: arrays[b] for b in group})
        yield ak.zip(columns, depth_limit=1)


class MiniWriter:
    """Appends batches to a ``mini`` tree of an open :func:`reproducible_root_file`: counted
    arrays whose counters are the collections' ``<object>_n`` branches (the layout of the
    demo files).  The branch types are taken from the first batch."""

    def __init__(self, out: Any, tree_name: str) -> None:
        self._out = out
        self._name = tree_name
        self._tree: Any = None

    def extend(self, arrays: Mapping[str, Any]) -> None:
        """Append one batch: scalars as numpy arrays, collections as awkward arrays of
        records (one field per branch, ``<object>_<field>`` on disk)."""
        if self._tree is None:
            types = {
                name: value.dtype if isinstance(value, np.ndarray) else value.type.content
                for name, value in arrays.items()
            }
            self._tree = self._out.mktree(
                self._name,
                types,
                counter_name=lambda c: f"{c}_n",
                field_name=lambda outer, inner: f"{outer}_{inner}",
            )
        self._tree.extend(dict(arrays))
