"""Multiplied data (atlasod.data.multiply): what a variant must keep, what it must change, and
that it is reproducible."""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from atlasod.data import multiply, trees
from atlasod.data.catalogue import Catalogue
from atlasod.data.multiply import RESOLUTIONS, Variant, multiply_file
from atlasod.data.release import Release
from atlasod.demo.generate import generate_file
from atlasod.errors import AtlasodError
from atlasod.selection.analysis import Analysis, load_analysis

from .conftest import ANALYSES

SMEAR = 0.3
RELEASE = Release.load("2020")  # the release of the demo files here


@pytest.fixture(scope="module")
def ttbar(catalogue: Catalogue) -> Analysis:
    return load_analysis(ANALYSES, "ttbar", catalogue)


@pytest.fixture(scope="module")
def original(
    tmp_path_factory: pytest.TempPathFactory, ttbar: Analysis, catalogue: Catalogue
) -> Path:
    """A tt̄ MC file: electrons and muons, jets, missing transverse momentum."""
    sample = ttbar.group("ttbar").samples[0]
    path = tmp_path_factory.mktemp("multiply") / sample.file
    generate_file(ttbar, catalogue, sample, path, seed=11, scale=0.3)
    return path


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory, original: Path) -> dict[int, Path]:
    out = tmp_path_factory.mktemp("variants")
    paths = {k: out / f"v{k}.root" for k in (0, 1)}
    for k, path in paths.items():
        multiply_file(
            str(original), original.name, path, Variant(seed=3, number=k, smear=SMEAR), RELEASE
        )
    return paths


def _arrays(path: Path) -> ak.Array:
    return uproot.open(path)["mini"].arrays()


def test_a_variant_has_the_schema_and_the_events_of_the_original(
    original: Path, variants: dict[int, Path]
) -> None:
    before, after = uproot.open(original)["mini"], uproot.open(variants[1])["mini"]
    names = before.keys()
    assert after.keys() == names
    assert [after[k].typename for k in names] == [before[k].typename for k in names]
    a, b = _arrays(original), _arrays(variants[1])
    assert len(a) == len(b) > 5000
    kinematic = {"pt", "E", "phi", "pt_syst", "m"}
    for obj, fields in RELEASE.collections.items():
        for field in fields:
            name = f"{obj}_{field}"
            assert ak.all(ak.num(a[name]) == ak.num(b[name])), name
            if field not in kinematic:  # η, charges, flavours, isolation, ... unchanged
                assert ak.all(a[name] == b[name]), name
    for name in RELEASE.scalars:
        if name not in ("eventNumber", "met_et", "met_phi"):
            assert np.array_equal(a[name], b[name]), name
    # new event numbers, unique across the variants of the file
    n = len(a)
    v0 = np.asarray(_arrays(variants[0])["eventNumber"])
    assert np.array_equal(v0, np.arange(1, n + 1))
    assert np.array_equal(np.asarray(b["eventNumber"]), np.arange(n + 1, 2 * n + 1))


def test_objects_are_smeared_within_the_resolution(
    original: Path, variants: dict[int, Path]
) -> None:
    a, b = _arrays(original), _arrays(variants[1])
    for obj, resolution in (("jet", RESOLUTIONS["jet"]), ("lep", None)):
        pt0 = np.asarray(ak.flatten(a[f"{obj}_pt"]), np.float64)
        pt1 = np.asarray(ak.flatten(b[f"{obj}_pt"]), np.float64)
        e0 = np.asarray(ak.flatten(a[f"{obj}_E"]), np.float64)
        e1 = np.asarray(ak.flatten(b[f"{obj}_E"]), np.float64)
        if resolution is None:  # leptons: electrons by energy, muons by pT
            muon = np.asarray(ak.flatten(a["lep_type"])) == 13
            sigma = np.where(
                muon,
                RESOLUTIONS["muon"].relative(pt0 * 1e-3),
                RESOLUTIONS["electron"].relative(e0 * 1e-3),
            )
            assert 0.2 < muon.mean() < 0.8
        else:
            sigma = resolution.relative(e0 * 1e-3)
        pull = (pt1 / pt0 - 1.0) / sigma
        assert len(pull) > 5000, obj
        assert abs(pull.mean()) < 0.02, obj  # no scale shift: peaks stay where they are
        assert pull.std() == pytest.approx(SMEAR, rel=0.05), obj
        # pT and E by the same factor: η (kept) and the object's mass stay consistent
        assert np.allclose(e1 / e0, pt1 / pt0, rtol=1e-6), obj


def test_events_are_rotated_in_phi_and_met_follows_the_smearing(
    original: Path, variants: dict[int, Path]
) -> None:
    a, b = _arrays(original), _arrays(variants[1])
    two = (ak.num(a.lep_phi) >= 1) & (ak.num(a.jet_phi) >= 1)
    assert ak.sum(two) > 5000
    # the angle between two objects of an event is kept; the event's orientation is not
    d0 = np.asarray(a.lep_phi[two][:, 0] - a.jet_phi[two][:, 0], np.float64)
    d1 = np.asarray(b.lep_phi[two][:, 0] - b.jet_phi[two][:, 0], np.float64)
    assert np.allclose(np.cos(d0), np.cos(d1), atol=1e-5)
    assert np.allclose(np.sin(d0), np.sin(d1), atol=1e-5)
    first = ak.num(a.lep_phi) >= 1
    angle = np.angle(
        np.exp(1j * np.asarray(b.lep_phi[first][:, 0] - a.lep_phi[first][:, 0], np.float64))
    )
    counts, _ = np.histogram(angle, bins=8, range=(-np.pi, np.pi))
    assert counts.min() > 0.8 * counts.mean()  # uniform
    assert np.all(np.abs(np.asarray(ak.flatten(b.jet_phi))) <= np.pi)
    # MET: the original vector minus the objects' smearing, rotated with the event
    met0 = np.asarray(a.met_et, np.float64) * np.exp(1j * np.asarray(a.met_phi, np.float64))
    shift = np.zeros(len(a), np.complex128)
    for obj in ("lep", "photon", "jet"):
        dpt = (b[f"{obj}_pt"] - a[f"{obj}_pt"]) * np.exp(1j * a[f"{obj}_phi"])
        shift += np.asarray(ak.sum(dpt, axis=1))
    rotation = np.zeros(len(a), np.complex128)
    rotation[np.asarray(first)] = np.exp(1j * angle)
    expected = (met0 - shift) * rotation
    met1 = np.asarray(b.met_et, np.float64) * np.exp(1j * np.asarray(b.met_phi, np.float64))
    sel = np.asarray(first)
    assert np.allclose(met1[sel], expected[sel], atol=1.0, rtol=1e-4)  # MeV
    assert not np.allclose(np.asarray(a.met_et), np.asarray(b.met_et))


def test_a_variant_is_reproducible_and_distinct(
    original: Path, variants: dict[int, Path], tmp_path: Path
) -> None:
    again = tmp_path / variants[1].name  # a ROOT file records its name
    multiply_file(
        str(original), original.name, again, Variant(seed=3, number=1, smear=SMEAR), RELEASE
    )
    assert again.read_bytes() == variants[1].read_bytes()
    other = tmp_path / "other-seed.root"
    multiply_file(
        str(original), original.name, other, Variant(seed=4, number=1, smear=SMEAR), RELEASE
    )
    v0, v1, v1_seed4 = (_arrays(p).jet_pt for p in (variants[0], variants[1], other))
    assert not ak.all(ak.flatten(v0) == ak.flatten(v1))
    assert not ak.all(ak.flatten(v1) == ak.flatten(v1_seed4))


def test_the_variant_does_not_depend_on_how_the_file_is_read(
    original: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(multiply, "BLOCK", 1000)
    paths = {budget: tmp_path / f"{budget}" / "v1.root" for budget in (80_000_000, 1)}
    for budget, path in paths.items():  # read at once, or one block of entries per read
        monkeypatch.setattr(trees, "READ_BUDGET", budget)
        multiply_file(
            str(original), original.name, path, Variant(seed=3, number=1, smear=SMEAR), RELEASE
        )
    a, b = (_arrays(p) for p in paths.values())
    assert len(a) > 5 * multiply.BLOCK
    for name in a.fields:
        assert ak.all(ak.ravel(a[name]) == ak.ravel(b[name])), name


def test_bad_inputs_name_the_problem_and_leave_nothing(
    original: Path, hyy: Analysis, tmp_path: Path
) -> None:
    out = tmp_path / "out.root"
    with pytest.raises(AtlasodError, match=r"input file .*nothing.root does not exist"):
        multiply_file(str(tmp_path / "nothing.root"), "x.root", out, Variant(1, 0), RELEASE)
    partial = tmp_path / "partial.root"
    with uproot.recreate(partial) as f:
        f["mini"] = {"runNumber": np.zeros(3, np.int32), "lep_pt": ak.Array([[1.0], [], []])}
    with pytest.raises(
        AtlasodError,
        match=r"partial.root: tree 'mini' lacks 74 branch\(es\) of the 2020 schema "
        r"\(eventNumber, channelNumber, mcWeight, scaleFactor_PILEUP, scaleFactor_ELE "
        r"\.\.\.\); multiplication needs complete files",
    ):
        multiply_file(str(partial), "x.root", out, Variant(1, 0), RELEASE)
    with pytest.raises(AtlasodError, match=r"smear must be a fraction .* in \[0, 1\], got 1.5"):
        multiply_file(str(original), original.name, out, Variant(1, 0, smear=1.5), RELEASE)
    n = uproot.open(original)["mini"].num_entries
    too_many = (2**31 - 1) // n
    with pytest.raises(
        AtlasodError,
        match=rf"needs event numbers beyond the int32 eventNumber branch: at most {too_many} "
        "variants of this file",
    ):
        multiply_file(str(original), original.name, out, Variant(1, too_many), RELEASE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["partial.root"]


def test_2025e_files_are_multiplied_the_same_way(tmp_path: Path) -> None:
    """A 2025e file (its branch names, GeV): a variant keeps the schema and the events,
    smears the leptons within their resolution (pT and e by one factor), keeps the MET
    components consistent with the rotated MET, and turns truth_met_phi with the event
    without smearing the truth."""
    release = Release.load("2025e")
    catalogue = Catalogue.load(release="2025e")
    hzz = load_analysis(ANALYSES, "hzz", catalogue)
    sample = hzz.group("ZZ").samples[0]
    original = tmp_path / sample.file
    generate_file(hzz, catalogue, sample, original, seed=11, scale=1.0)
    variant = tmp_path / "v1.root"
    multiply_file(str(original), sample.file, variant, Variant(seed=3, number=1), release)
    before, after = uproot.open(original)["analysis"], uproot.open(variant)["analysis"]
    assert after.keys() == before.keys() and len(after.keys()) == 116
    a, b = before.arrays(), after.arrays()
    assert len(a) == len(b) > 1000
    pt0 = np.asarray(ak.flatten(a.lep_pt), np.float64)
    pt1 = np.asarray(ak.flatten(b.lep_pt), np.float64)
    e0, e1 = (np.asarray(ak.flatten(x.lep_e), np.float64) for x in (a, b))
    muon = np.asarray(ak.flatten(a.lep_type)) == 13
    sigma = np.where(
        muon, RESOLUTIONS["muon"].relative(pt0), RESOLUTIONS["electron"].relative(e0)
    )  # GeV: no unit conversion on 2025e
    pull = (pt1 / pt0 - 1.0) / sigma
    assert abs(pull.mean()) < 0.03 and pull.std() == pytest.approx(SMEAR, rel=0.08)
    assert np.allclose(e1 / e0, pt1 / pt0, rtol=1e-6)
    assert ak.all(a.lep_isMediumID == b.lep_isMediumID) and ak.all(a.lep_eta == b.lep_eta)
    met, phi = np.asarray(b.met, np.float64), np.asarray(b.met_phi, np.float64)
    assert np.allclose(np.asarray(b.met_mpx), met * np.cos(phi), atol=1e-3)
    assert np.allclose(np.asarray(b.met_mpy), met * np.sin(phi), atol=1e-3)
    assert not np.allclose(np.asarray(a.met), met)  # corrected for the smeared objects
    assert np.array_equal(np.asarray(b.sum_of_weights), np.asarray(a.sum_of_weights))
    # truth_met_phi turns with the event (the leptons' rotation); the truth is not smeared
    turn = np.asarray(b.lep_phi[:, 0] - a.lep_phi[:, 0], np.float64)
    truth_turn = np.asarray(b.truth_met_phi - a.truth_met_phi, np.float64)
    assert np.allclose(np.cos(truth_turn), np.cos(turn), atol=1e-5)
    assert np.allclose(np.sin(truth_turn), np.sin(turn), atol=1e-5)
    assert np.array_equal(np.asarray(b.truth_met), np.asarray(a.truth_met))
