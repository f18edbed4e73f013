"""The real files' layout: every analysis gives the same cutflows and histograms from a demo
file rewritten by ROOT (``std::vector<T>`` branches, ``UInt_t`` counters, the real branch
order) as from the uproot-written original, and from the same events written by ROOT as an
RNTuple; on the 2025e release too (its ``analysis`` tree, ``Int_t`` counters, its branch
order).  ROOT comes from PyPI in its own environment (``make root-env``);
``ATLASOD_ROOT_PYTHON`` names its interpreter."""

from __future__ import annotations

import subprocess
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from atlasod.data.catalogue import Catalogue
from atlasod.data.release import Release
from atlasod.data.trees import is_rntuple, open_tree, read_batches
from atlasod.data.vectors import VectorOfNumbers, decode_vectors_fast
from atlasod.selection.analysis import Analysis, load_analysis
from atlasod.selection.chunk import process_chunk

from .conftest import ANALYSES, ON_2020, REPO, analyses_on, tool_from_environment

pytestmark = pytest.mark.workflow
RELEASE = Release.load("2020")  # the release of the demo files here


def _root_python() -> str:
    return tool_from_environment("ATLASOD_ROOT_PYTHON", "a Python with ROOT (`make root-env`)")


def _rewrite(
    demo_run: Path, out: Path, *options: str, only: set[str] | None = None
) -> dict[Path, Path]:
    """Every demo file of the demo run (or those named in ``only``), rewritten by ROOT (one
    process)."""
    files = sorted(demo_run.glob("data/**/*.root"))
    if only is not None:
        files = [f for f in files if f.name in only]
    pairs = {f: out / f.relative_to(demo_run) for f in files}
    args = [str(p) for pair in pairs.items() for p in pair]
    proc = subprocess.run(
        [_root_python(), "-W", "ignore", str(REPO / "tools" / "real_layout.py"), *options, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return pairs


@pytest.fixture(scope="module")
def real_layout(demo_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Path]:
    """Every demo file of the demo run, rewritten by ROOT in the real layout."""
    return _rewrite(demo_run, tmp_path_factory.mktemp("real_layout"))


@pytest.fixture(scope="module")
def rntuples(demo_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Path]:
    """Every demo file of the demo run, written again by ROOT as an RNTuple."""
    return _rewrite(demo_run, tmp_path_factory.mktemp("rntuple"), "--rntuple")


def test_rewritten_files_have_the_real_layout(real_layout: dict[Path, Path]) -> None:
    target = next(iter(real_layout.values()))
    tree = uproot.open(target)["mini"]
    assert tree.keys() == list(RELEASE.file_order)
    assert str(tree["lep_n"].interpretation) == "AsDtype('>u4')"
    assert str(tree["lep_pt"].interpretation) == "AsJagged(AsDtype('>f4'), header_bytes=10)"
    assert str(tree["lep_type"].interpretation) == "AsJagged(AsDtype('>u4'), header_bytes=10)"
    assert tree["photon_isTightID"].typename == "std::vector<bool>"
    source = uproot.open(next(iter(real_layout)))["mini"]
    assert str(source["lep_pt"].interpretation) == "AsJagged(AsDtype('>f4'))"  # counted array


def test_rntuples_written_by_root_are_rntuples(rntuples: dict[Path, Path]) -> None:
    source, target = next(iter(rntuples.items()))
    ntuple = open_tree(str(target), RELEASE)
    assert is_rntuple(ntuple)
    assert not is_rntuple(open_tree(str(source), RELEASE))
    assert ntuple.num_entries == uproot.open(source)["mini"].num_entries > 0
    assert set(ntuple.keys()) == set(list(RELEASE.file_order))


@pytest.mark.parametrize("layout", ["real_layout", "rntuples"])
@pytest.mark.parametrize("name", ON_2020)
def test_both_layouts_give_identical_cutflows_and_histograms(
    name: str, layout: str, request: pytest.FixtureRequest, catalogue: Catalogue
) -> None:
    """The uproot-written demo file and its rewrite by ROOT (a TTree in the real layout, or
    an RNTuple): the same cutflow and histograms (see _assert_same_results)."""
    rewritten: dict[Path, Path] = request.getfixturevalue(layout)
    analysis = load_analysis(ANALYSES, name, catalogue)
    _assert_same_results(analysis, catalogue, rewritten, list(analysis.files))


def _assert_same_results(
    analysis: Analysis, catalogue: Catalogue, rewritten: dict[Path, Path], samples: list
) -> None:
    """Each of ``samples``: its demo file and its rewrite give the same entries, histograms
    (values and variances, bit for bit: filled event by event) and cutflow counts; the
    cutflow's weighted sums are summed per batch, and a batch ends on a cluster boundary of
    the file (trees.batch_ranges), which the layouts place differently: they agree to
    float64 rounding (single top's 30,000-event files have several clusters); data files
    select events."""
    name = analysis.name
    by_file = {p.name: (p, q) for p, q in rewritten.items() if f"/{name}/" in str(p)}
    # (the rewritten files of another analysis' list may be among this one's demo files)
    assert {s.file for s in samples} <= set(by_file)
    for sample in samples:
        demo_file, real_file = by_file[sample.file]
        lumi = analysis.lumi_pb
        a = process_chunk(analysis, sample, str(demo_file), 0, 1, lumi, catalogue)
        b = process_chunk(analysis, sample, str(real_file), 0, 1, lumi, catalogue)
        assert a.entries == b.entries > 0
        assert list(a.cutflow) == list(b.cutflow), sample.file
        for cut, ours in a.cutflow.items():
            theirs = b.cutflow[cut]
            assert ours["events"] == theirs["events"], (sample.file, cut)
            for key in ("weighted", "sumw2"):
                assert ours[key] == pytest.approx(theirs[key], rel=1e-12, abs=0), (sample, cut)
        for key, h in a.histograms.items():
            other = b.histograms[key]
            assert np.array_equal(h.values(flow=True), other.values(flow=True)), (sample, key)
            assert np.array_equal(h.variances(flow=True), other.variances(flow=True)), key
        assert list(a.cutflow.values())[-1]["events"] > 0 or not sample.is_data


# --- the 2025 education release -------------------------------------------------------

RELEASE_2025E = Release.load("2025e")
ON_2025E = analyses_on("2025e")


def _files_2025e(name: str) -> list:
    """The 2025e files of an analysis checked here: two data periods and the first sample
    of each group (the conversions are per branch type, the same in every file; the 2020
    set above converts every file)."""
    analysis = load_analysis(ANALYSES, name, Catalogue.load(release="2025e"))
    return [*analysis.data_files[:2], *(g.samples[0] for g in analysis.groups)]


SAMPLE_FILES_2025E = {s.file for n in ON_2025E for s in _files_2025e(n)}


@pytest.fixture(scope="module")
def real_layout_2025e(
    demo_run_2025e: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[Path, Path]:
    """Files of the 2025e demo run, rewritten by ROOT in the 2025e real layout."""
    out = tmp_path_factory.mktemp("real_layout_2025e")
    return _rewrite(demo_run_2025e, out, "--release", "2025e", only=SAMPLE_FILES_2025E)


@pytest.fixture(scope="module")
def rntuples_2025e(
    demo_run_2025e: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[Path, Path]:
    """Files of the 2025e demo run, written again by ROOT as an RNTuple."""
    out = tmp_path_factory.mktemp("rntuple_2025e")
    return _rewrite(demo_run_2025e, out, "--release", "2025e", "--rntuple", only=SAMPLE_FILES_2025E)


def test_2025e_rewritten_files_have_the_2025e_layout(real_layout_2025e: dict[Path, Path]) -> None:
    target = next(iter(real_layout_2025e.values()))
    tree = uproot.open(target)["analysis"]
    assert tree.keys() == list(RELEASE_2025E.file_order)
    assert str(tree["lep_n"].interpretation) == "AsDtype('>i4')"
    assert str(tree["lep_type"].interpretation) == "AsJagged(AsDtype('>i4'), header_bytes=10)"
    assert tree["jet_jvt"].typename == "std::vector<bool>"
    assert str(tree["xsec"].interpretation) == "AsDtype('>f8')"


@pytest.mark.parametrize("layout", ["real_layout_2025e", "rntuples_2025e"])
@pytest.mark.parametrize("name", ON_2025E)
def test_2025e_layouts_give_identical_cutflows_and_histograms(
    name: str, layout: str, request: pytest.FixtureRequest
) -> None:
    """2025e demo files (data and each group's MC) and their rewrites by ROOT (a TTree in the
    2025e layout, or an RNTuple): the same cutflow and histograms, bit for bit."""
    rewritten: dict[Path, Path] = request.getfixturevalue(layout)
    catalogue = Catalogue.load(release="2025e")
    analysis = load_analysis(ANALYSES, name, catalogue)
    _assert_same_results(analysis, catalogue, rewritten, _files_2025e(name))


@pytest.mark.parametrize("layout", ["real_layout", "real_layout_2025e"])
def test_vectors_decoded_in_one_gather_equal_uproots_decoding(
    layout: str, request: pytest.FixtureRequest
) -> None:
    """Every branch of a real-layout file of each release, read as the chunk step reads
    (std::vector<number> baskets decoded by atlasod.data.vectors, in batches) and by uproot
    alone (its own decoding): the same arrays, byte for byte; every vector branch (float,
    int, unsigned, bool) takes the faster decoding."""
    rewritten: dict[Path, Path] = request.getfixturevalue(layout)
    release = RELEASE if layout == "real_layout" else RELEASE_2025E
    target = max(rewritten.values(), key=lambda p: p.stat().st_size)  # several baskets
    tree = open_tree(str(target), release)
    branches = list(tree.keys())
    vectors = [b for b in branches if tree[b].typename.startswith("std::vector<")]
    kinds = {tree[b].interpretation.content.from_dtype.kind for b in vectors}
    assert kinds == {"f", "i", "b"} | ({"u"} if release is RELEASE else set())
    assert decode_vectors_fast(tree, branches) == len(vectors)
    assert all(type(tree[b].interpretation) is VectorOfNumbers for b in vectors)
    ours = ak.concatenate(list(read_batches(tree, branches, 0, tree.num_entries, step=700)))
    theirs = uproot.open(target)[release.tree].arrays(branches)
    assert type(uproot.open(target)[release.tree][vectors[0]].interpretation) is not VectorOfNumbers
    assert len(ours) == len(theirs) == tree.num_entries > 700
    for b in branches:
        assert ours[b].type == theirs[b].type, b
        assert ak.to_list(ak.num(ours[b], axis=-1) if b in vectors else ours[b][:0]) == (
            ak.to_list(ak.num(theirs[b], axis=-1) if b in vectors else theirs[b][:0])
        ), b
        mine, reference = ak.flatten(ours[b], axis=None), ak.flatten(theirs[b], axis=None)
        assert ak.to_numpy(mine).tobytes() == ak.to_numpy(reference).tobytes(), b
