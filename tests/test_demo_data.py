"""The synthetic dataset: exact schema, determinism, and selected yields equal to its truth."""

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import uproot

from atlasod.data.catalogue import Catalogue
from atlasod.data.release import Release
from atlasod.demo.generate import generate_file
from atlasod.selection.analysis import Analysis, load_analysis
from atlasod.selection.chunk import process_chunk, write_chunk

from .conftest import ANALYSES, ON_2020

RELEASE = Release.load("2020")  # the release of the demo files here

SCALE = 0.25


@pytest.fixture(scope="module")
def demo_files(
    tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue
) -> Callable[[str], tuple[Analysis, Path]]:
    """Generates (once per module) every demo file of an analysis; returns it and its root."""
    made: dict[str, tuple[Analysis, Path]] = {}

    def get(name: str) -> tuple[Analysis, Path]:
        if name not in made:
            analysis = load_analysis(ANALYSES, name, catalogue)
            root = tmp_path_factory.mktemp(f"{name}_demo")
            for sample in analysis.files:
                path = root / sample.relpath
                generate_file(analysis, catalogue, sample, path, seed=7, scale=SCALE)
            made[name] = (analysis, root)
        return made[name]

    return get


@pytest.fixture(scope="module")
def hyy_files(demo_files: Callable[[str], tuple[Analysis, Path]]) -> Path:
    return demo_files("hyy")[1]


@pytest.fixture(scope="module")
def hzz_files(demo_files: Callable[[str], tuple[Analysis, Path]]) -> Path:
    return demo_files("hzz")[1]


def test_demo_file_has_the_81_branches_of_the_real_mini_tree(
    hyy_files: Path, hyy: Analysis
) -> None:
    tree = uproot.open(hyy_files / hyy.data_files[0].relpath)["mini"]
    assert set(tree.keys()) == set(RELEASE.branch_names())
    assert len(RELEASE.branch_names()) == 81
    arrays = tree.arrays(entry_stop=10)
    for name, dtype in RELEASE.scalars.items():
        assert arrays[name].type.content.primitive == np.dtype(dtype).name, name
    for obj, fields in RELEASE.collections.items():
        for field, dtype in fields.items():
            t = arrays[f"{obj}_{field}"].type.content
            assert str(t) == f"var * {np.dtype(dtype).name}", f"{obj}_{field}: {t}"


def test_demo_mc_file_carries_its_dsid(hyy_files: Path, hyy: Analysis) -> None:
    sample = hyy.mc_files[0]
    tree = uproot.open(hyy_files / sample.relpath)["mini"]
    assert set(tree["channelNumber"].array(library="np")) == {sample.dsid}


def test_same_seed_gives_identical_files(
    tmp_path: Path, hyy: Analysis, catalogue: Catalogue
) -> None:
    sample = hyy.data_files[0]
    for d in ("a", "b"):
        generate_file(hyy, catalogue, sample, tmp_path / d / sample.file, seed=3, scale=0.05)
    assert (tmp_path / "a" / sample.file).read_bytes() == (
        tmp_path / "b" / sample.file
    ).read_bytes()
    a = uproot.open(tmp_path / "a" / sample.file)["mini"].arrays(library="np")
    b = uproot.open(tmp_path / "b" / sample.file)["mini"].arrays(library="np")
    for key in a:
        assert (
            all(np.array_equal(x, y) for x, y in zip(a[key], b[key], strict=True))
            if a[key].dtype == object
            else np.array_equal(a[key], b[key])
        ), key
    generate_file(hyy, catalogue, sample, tmp_path / "c" / sample.file, seed=4, scale=0.05)
    c = uproot.open(tmp_path / "c" / sample.file)["mini"]["photon_pt"].array()
    assert not np.array_equal(np.asarray(c[:, 0]), np.asarray(a["photon_pt"][0][:1]))


def _truth(path: Path) -> dict:
    return json.loads(path.with_name(path.name + ".truth.json").read_text())


@pytest.mark.parametrize("name", ON_2020)
def test_selected_yields_equal_the_injected_truth(
    name: str, demo_files: Callable[[str], tuple[Analysis, Path]], catalogue: Catalogue
) -> None:
    analysis, root = demo_files(name)
    for sample in analysis.files:
        path = root / sample.relpath
        result = process_chunk(analysis, sample, str(path), 0, 1, 10064.0, catalogue)
        final = list(result.cutflow.values())[-1]
        truth = _truth(path)
        assert final["events"] == truth["selected"], sample.file
        if not sample.is_data:
            assert final["weighted"] == pytest.approx(truth["weighted_selected"], rel=1e-9), (
                sample.file
            )


def test_hyy_central_category_count_equals_truth(
    hyy_files: Path, hyy: Analysis, catalogue: Catalogue
) -> None:
    sample = hyy.data_files[3]
    path = hyy_files / sample.relpath
    result = process_chunk(hyy, sample, str(path), 0, 1, 10064.0, catalogue)
    assert (
        result.histograms["hist_mYY_cat_bin1"].sum(flow=True).value
        == _truth(path)["selected_central_unconverted"]
    )


def test_chunks_add_up_to_the_whole_file(
    hzz_files: Path, hzz: Analysis, catalogue: Catalogue
) -> None:
    sample = hzz.data_files[3]
    path = str(hzz_files / sample.relpath)
    whole = process_chunk(hzz, sample, path, 0, 1, 10064.0, catalogue)
    parts = [process_chunk(hzz, sample, path, i, 3, 10064.0, catalogue) for i in range(3)]
    assert sum(p.entries for p in parts) == whole.entries
    for name, h in whole.histograms.items():
        total = sum(p.histograms[name].values(flow=True) for p in parts)
        assert np.array_equal(total, h.values(flow=True)), name


def test_mc_weight_is_factors_times_lumi_xsec_over_sumw(
    hyy_files: Path, hyy: Analysis, catalogue: Catalogue
) -> None:
    sample = hyy.mc_files[0]  # ggH125_gamgam
    path = hyy_files / sample.relpath
    events = uproot.open(path)["mini"].arrays(hyy.weight_factors, library="np")
    expected = np.prod([events[f].astype(np.float64) for f in hyy.weight_factors], axis=0)
    expected *= 10064.0 * 0.102 / 55922617.6297
    result = process_chunk(hyy, sample, str(path), 0, 1, 10064.0, catalogue)
    assert result.cutflow["all"]["weighted"] == pytest.approx(expected.sum(), rel=1e-12)


def test_same_inputs_give_byte_identical_histograms(
    tmp_path: Path, hyy_files: Path, hyy: Analysis, catalogue: Catalogue
) -> None:
    sample = hyy.data_files[0]
    result = process_chunk(hyy, sample, str(hyy_files / sample.relpath), 0, 1, 10064.0, catalogue)
    for d in ("a", "b"):
        write_chunk(result, sample, tmp_path / d / "0.root", tmp_path / d / "0.cutflow.json")
    again = process_chunk(hyy, sample, str(hyy_files / sample.relpath), 0, 1, 10064.0, catalogue)
    write_chunk(again, sample, tmp_path / "c" / "0.root", tmp_path / "c" / "0.cutflow.json")
    a = (tmp_path / "a" / "0.root").read_bytes()
    assert a == (tmp_path / "b" / "0.root").read_bytes() == (tmp_path / "c" / "0.root").read_bytes()
