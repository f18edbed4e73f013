"""How a chunk job reads: in batches bounded by a byte budget, branch by branch, with the
same events and the same histograms whatever the batch size."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from atlasod.data import decompression, trees
from atlasod.data.catalogue import Catalogue
from atlasod.data.release import Release
from atlasod.demo.generate import generate_file
from atlasod.selection import chunk
from atlasod.selection.analysis import Analysis

RELEASE = Release.load("2020")  # the release of the demo files here


@pytest.fixture(scope="module")
def mc_file(tmp_path_factory: pytest.TempPathFactory, hzz: Analysis, catalogue: Catalogue) -> Path:
    sample = hzz.group("Higgs").samples[0]
    path = tmp_path_factory.mktemp("reading") / sample.file
    generate_file(hzz, catalogue, sample, path, seed=5, scale=2.0)
    return path


def test_batches_are_the_file_in_order_and_within_the_budget(
    mc_file: Path, hzz: Analysis, monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = trees.open_tree(str(mc_file), RELEASE)
    branches = hzz.selection.BRANCHES
    per_entry = sum(tree[b].uncompressed_bytes for b in branches) / tree.num_entries
    monkeypatch.setattr(trees, "READ_BUDGET", int(per_entry * 700))
    step = trees.read_step(tree, branches)
    assert 650 <= step <= 700
    batches = list(trees.read_batches(tree, branches, 100, tree.num_entries))
    assert [len(b) for b in batches[:-1]] == [step] * (len(batches) - 1)
    assert len(batches) == -(-(tree.num_entries - 100) // step) >= 3
    whole = tree.arrays(branches, entry_start=100)
    assert ak.to_list(ak.concatenate(batches)) == ak.to_list(whole)


def test_histograms_do_not_depend_on_the_batch_size(
    mc_file: Path, hzz: Analysis, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = hzz.group("Higgs").samples[0]
    whole = chunk.process_chunk(hzz, sample, str(mc_file), 0, 1, 10064.0, catalogue)
    monkeypatch.setattr(trees, "READ_BUDGET", 200_000)  # a few hundred entries a batch
    small = chunk.process_chunk(hzz, sample, str(mc_file), 0, 1, 10064.0, catalogue)
    assert whole.entries == small.entries > 1000
    for name, h in whole.histograms.items():
        assert np.array_equal(h.values(flow=True), small.histograms[name].values(flow=True))
        assert np.array_equal(h.variances(flow=True), small.histograms[name].variances(flow=True))
    events = {cut: entry["events"] for cut, entry in whole.cutflow.items()}
    assert events == {cut: entry["events"] for cut, entry in small.cutflow.items()}
    assert list(events.values())[-1] > 0


def test_batches_end_on_cluster_boundaries(tmp_path: Path) -> None:
    """A batch boundary inside a basket would read and decompress it twice: batches end on
    the file's cluster boundaries (here every 300 entries), and are never longer than the
    step, except to the end of a cluster of at most 1.5 steps (a larger one is cut)."""
    path = tmp_path / "clusters.root"
    with uproot.recreate(path) as out:
        out.mktree("mini", {"x": "float32"})
        for i in range(5):
            out["mini"].extend({"x": np.arange(300 * i, 300 * (i + 1), dtype=np.float32)})
    tree = trees.open_tree(str(path), RELEASE)
    assert list(tree.common_entry_offsets()) == [0, 300, 600, 900, 1200, 1500]
    ranges = list(trees.batch_ranges(tree, 100, 1500, 400))
    assert ranges == [(100, 300), (300, 600), (600, 900), (900, 1200), (1200, 1500)]
    assert list(trees.batch_ranges(tree, 0, 1400, 250)) == [
        (0, 300), (300, 600), (600, 900), (900, 1200), (1200, 1400),
    ]  # fmt: skip
    assert list(trees.batch_ranges(tree, 250, 1400, 700)) == [(250, 900), (900, 1400)]
    cut = list(trees.batch_ranges(tree, 0, 1500, 100))[:4]  # clusters of 3 steps: cut
    assert cut == [(0, 100), (100, 200), (200, 300), (300, 400)]
    batches = trees.read_batches(tree, ["x"], 100, 1500, step=400)
    assert np.array_equal(np.concatenate([b.x.to_numpy() for b in batches]), np.arange(100, 1500))


def test_an_rntuple_is_read_in_batches_on_its_clusters(tmp_path: Path) -> None:
    """An RNTuple (uproot ≥ 5.7 writes one for ``f["mini"] = arrays``) is read like a TTree:
    batches end on its clusters' first entries, and the values come back in order."""
    path = tmp_path / "rntuple.root"
    with uproot.recreate(path) as out:
        out["mini"] = {"x": np.arange(0, 500, dtype=np.float32)}
        out["mini"].extend({"x": np.arange(500, 1200, dtype=np.float32)})
        out["mini"].extend({"x": np.arange(1200, 1500, dtype=np.float32)})
    tree = trees.open_tree(str(path), RELEASE)
    assert trees.is_rntuple(tree)
    assert trees.cluster_boundaries(tree) == [0, 500, 1200, 1500]
    assert list(trees.batch_ranges(tree, 100, 1400, 400)) == [
        (100, 500), (500, 900), (900, 1200), (1200, 1400),
    ]  # fmt: skip
    assert trees.bytes_per_entry(tree, ["x"]) == 4.0  # float32, measured on its first entries
    batches = trees.read_batches(tree, ["x"], 100, 1400, step=400)
    assert np.array_equal(np.concatenate([b.x.to_numpy() for b in batches]), np.arange(100, 1400))


def test_an_rntuple_gives_the_cutflow_and_histograms_of_its_ttree_twin(
    tmp_path: Path, hzz: Analysis, catalogue: Catalogue
) -> None:
    """The same events written as an RNTuple by uproot: the chunk step (in chunks and small
    batches) gives the same cutflow and histograms as from the TTree of the demo file."""
    sample = next(f for f in hzz.files if not f.is_data)
    ttree = tmp_path / sample.file
    generate_file(hzz, catalogue, sample, ttree, seed=5, scale=0.5)
    arrays = uproot.open(ttree)["mini"].arrays()
    rntuple = tmp_path / f"rntuple.{sample.file}"
    with uproot.recreate(rntuple) as out:
        half = len(arrays) // 2  # two clusters
        out["mini"] = {k: arrays[k][:half] for k in arrays.fields}
        out["mini"].extend({k: arrays[k][half:] for k in arrays.fields})
    assert trees.is_rntuple(trees.open_tree(str(rntuple), RELEASE))
    for index in range(2):
        a = chunk.process_chunk(hzz, sample, str(ttree), index, 2, 10064.0, catalogue)
        b = chunk.process_chunk(hzz, sample, str(rntuple), index, 2, 10064.0, catalogue)
        assert a.entries == b.entries > 0
        assert a.cutflow == b.cutflow
        assert list(a.cutflow.values())[-1]["events"] > 0
        for key, h in a.histograms.items():
            assert np.array_equal(h.values(flow=True), b.histograms[key].values(flow=True)), key
            assert np.array_equal(h.variances(flow=True), b.histograms[key].variances(flow=True))


def test_zlib_baskets_are_inflated_by_isal_into_the_same_arrays(
    tmp_path: Path, hzz: Analysis, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uproot 5.7's ZLIB.library does not reach decompression; the adapter sets the
    instance that does: ISA-L inflates every basket (counted), into the arrays zlib gives."""
    import isal.isal_zlib

    sample = next(f for f in hzz.files if not f.is_data)
    path = tmp_path / sample.file
    generate_file(hzz, catalogue, sample, path, seed=7, scale=0.5)  # zlib-compressed
    instance = uproot.compression._decompress_ZLIB
    monkeypatch.setattr(instance, "library", "zlib")  # as uproot starts (restored after)
    branches = ["lep_pt", "lep_eta", "lep_type", "met_et", "mcWeight"]
    with_zlib = uproot.open(path)["mini"].arrays(branches)

    calls = []
    inflate = isal.isal_zlib.decompress
    monkeypatch.setattr(
        isal.isal_zlib, "decompress", lambda *a, **k: calls.append(1) or inflate(*a, **k)
    )
    tree = trees.open_tree(str(path), RELEASE)
    assert instance.library == decompression.ISAL == decompression.use_isal()
    assert type(instance).library == "zlib"  # the class's default is left alone
    with_isal = tree.arrays(branches)
    assert len(calls) >= len(branches)  # every basket went through ISA-L
    for name in branches:
        assert ak.array_equal(with_isal[name], with_zlib[name]), name


def test_without_isal_zlib_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    instance = uproot.compression._decompress_ZLIB
    monkeypatch.setattr(instance, "library", "zlib")
    monkeypatch.setattr(decompression.importlib.util, "find_spec", lambda name: None)
    assert decompression.use_isal() == "zlib"
    assert instance.library == "zlib"
