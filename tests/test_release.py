"""A release is data: each description loads, is consistent, and gives what the engine asks."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import awkward as ak
import numpy as np
import pytest

from atlasod.data.catalogue import Catalogue, SampleFile
from atlasod.data.release import Release, available, release_of_trees
from atlasod.errors import AtlasodError
from atlasod.selection.analysis import (
    config_for_release,
    config_releases,
    load_analysis,
    merge_overlay,
)
from atlasod.selection.chunk import event_weights

from .conftest import ANALYSES


def test_both_releases_are_described() -> None:
    assert available() == ["2020", "2025e"]
    old, new = Release.load("2020"), Release.load("2025e")
    assert (old.tree, old.gev, len(old.branch_names())) == ("mini", 1000.0, 81)
    assert (new.tree, new.gev, len(new.branch_names())) == ("analysis", 1.0, 116)
    assert set(new.file_order) == set(new.branch_names())  # every branch, once
    assert len(new.periods) == 16 and len(old.periods) == 4


def test_what_changed_from_2020_to_2025e_is_in_the_descriptions() -> None:
    """A few of the reference's §4.3 changes: renames, new types, the per-file constants."""
    old, new = Release.load("2020"), Release.load("2025e")
    assert "met_et" in old.scalars and "met" in new.scalars and "met_et" not in new.scalars
    assert old.collections["lep"]["E"] == "float32" and "e" in new.collections["lep"]
    assert old.collections["lep"]["type"] == "uint32" and new.collections["lep"]["type"] == "int32"
    assert new.collections["jet"]["jvt"] == "bool" and new.collections["tau"]["charge"] == "float32"
    assert {new.scalars[k] for k in ("xsec", "kfac", "filteff", "sum_of_weights")} == {"float64"}
    assert "largeRJet" in new.collections and "largeRjet" in old.collections
    assert new.object_branches()["truth_jet_pt"] == "truth_jet"  # a collection name with "_"
    assert (old.counter_dtype, new.counter_dtype) == ("uint32", "int32")


def test_demo_columns_of_2020_give_the_2025e_branches_the_models_do_not_write() -> None:
    """translate_2020: renamed, MeV to GeV, and the derived branches (the b-tag bin from
    MV2c10's 70 % point, JVT as a decision, tight isolation from the relative cones, trigger
    matching), unless a model wrote the 2025e branch itself."""
    import awkward as ak

    release = Release.load("2025e")
    pt = ak.Array([[50e3, 20e3], [40e3]])
    columns = {
        "lep_pt": pt,
        "lep_ptcone30": ak.Array([[1e3, 5e3], [0.0]]),  # 0.02, 0.25, 0
        "lep_etcone20": ak.Array([[1e3, 0.0], [8e3]]),  # 0.02, 0, 0.2
        "jet_MV2c10": ak.Array([[0.9, 0.5], []]),
        "jet_jvt": ak.Array([[0.95, 0.2], []]),
        "met_et": np.array([30e3, 10e3]),
    }
    out = release.translate_2020(columns)
    assert out["lep_pt"].tolist() == [[50.0, 20.0], [40.0]] and out["met"].tolist() == [30, 10]
    assert out["lep_isTightIso"].tolist() == [[True, False], [False]]
    assert out["lep_isTrigMatched"].tolist() == [[True, True], [True]]
    assert out["jet_btag_quantile"].tolist() == [[4, 1], []]
    assert out["jet_jvt"].tolist() == [[True, False], []]
    flags = ak.Array([[False, True], [True]])
    assert (
        release.translate_2020({**columns, "lep_isTrigMatched": flags})[
            "lep_isTrigMatched"
        ].tolist()
        == flags.tolist()
    )
    assert Release.load("2020").translate_2020(columns) == columns


def test_units_and_period_shares() -> None:
    old, new = Release.load("2020"), Release.load("2025e")
    assert old.units == {"GeV": 1000.0, "MeV": 1.0, "TeV": 1e6}
    assert new.units == {"GeV": 1.0, "MeV": 0.001, "TeV": 1000.0}
    assert old.period_share("D") == 4684.0 / (547.0 + 1949.0 + 2884.0 + 4684.0)
    assert new.period_share("data16_periodI") == 1 / 16  # no luminosity per period is known
    assert (old.period_run("A"), new.period_run("data15_periodD")) == (297730, None)
    with pytest.raises(AtlasodError, match="release 2020 has no data period 'E'"):
        old.period_share("E")


def test_the_catalogue_says_its_release_and_files_say_theirs() -> None:
    assert Catalogue.load().release.name == "2020"
    assert release_of_trees(["analysis", "other"]).name == "2025e"
    assert release_of_trees(["mini"]).name == "2020"
    assert release_of_trees(["other"]) is None
    with pytest.raises(AtlasodError, match=r"unknown release '2016'; releases: 2020, 2025e"):
        Release.load("2016")


def test_2025e_mc_weights_come_from_the_files_own_branches() -> None:
    """2025e: w = L × xsec × kfac × filteff / sum_of_weights × the weight factors, per
    event from the branches every MC entry carries (reference §5.1), against the numbers
    computed by hand; 2020 keeps the catalogue's table."""
    analysis = SimpleNamespace(weight_factors=["mcWeight", "ScaleFactor_PILEUP"], unweighted=False)
    analysis.normalisation_table = None
    analysis.weight_abs_option = "abs_weights"
    catalogue = SimpleNamespace(release=Release.load("2025e"))
    sample = SampleFile(file="mc_343981.ggH125_gamgam.GamGam.root", skim="GamGam", dsid=343981)
    events = ak.Array(
        {
            "mcWeight": np.array([2.0, -0.5], dtype=np.float32),
            "ScaleFactor_PILEUP": np.array([0.75, 1.25], dtype=np.float32),
            "xsec": np.array([110.1, 110.1]),
            "kfac": np.array([1.45, 1.45]),
            "filteff": np.array([0.00227, 0.00227]),
            "sum_of_weights": np.array([5.5e7, 5.5e7]),
        }
    )
    weights = event_weights(events, sample, analysis, catalogue, lumi_pb=36100.0)
    by_hand = [
        36100.0 * 110.1 * 1.45 * 0.00227 / 5.5e7 * 2.0 * 0.75,
        36100.0 * 110.1 * 1.45 * 0.00227 / 5.5e7 * -0.5 * 1.25,
    ]
    assert weights.tolist() == pytest.approx(by_hand, rel=1e-15)
    assert weights[0] / 1.5 == pytest.approx(2.3786e-4, rel=1e-4)  # L σ k ε / Σw alone
    # the H→ZZ notebook's quirk, behind its switch: the absolute value of every factor
    off = event_weights(events, sample, analysis, catalogue, 36100.0, {"abs_weights": False})
    assert off.tolist() == weights.tolist()
    absolute = event_weights(events, sample, analysis, catalogue, 36100.0, {"abs_weights": True})
    assert absolute.tolist() == [weights[0], -weights[1]]
    data = SampleFile(file="data15_periodD.GamGam.root", skim="GamGam", period="data15_periodD")
    assert event_weights(events, data, analysis, catalogue, lumi_pb=36100.0).tolist() == [1, 1]
    assert Release.load("2020").normalisation_branches is None  # the framework's tables


def test_each_release_has_its_catalogue_and_a_catalogue_of_the_other_is_refused(
    tmp_path: Path,
) -> None:
    """The packaged 2025e catalogue lists the files of the official 2025 analyses (reference
    2025e Appendix B) under the portal's names; a 2020 run given it is told what to do."""
    new = Catalogue.load(release="2025e")
    # 324 of Appendix B and the 3 TeV Z′'s noskim file (Appendix A) for the Z′ port
    assert new.release.name == "2025e" and len(new.files) == 325
    zprime = new.sample("Pythia8EvtGen_A14NNPDF23LO_zprime3000_tt", "noskim")
    assert (zprime.size, zprime.adler32) == (16693784, "230dafee")
    assert new.urls(zprime)[0] == (
        "https://opendata.cern.ch/eos/opendata/atlas/rucio/user/egramsta/"
        "mc_301333.Pythia8EvtGen_A14NNPDF23LO_zprime3000_tt.noskim.root"
    )
    gamgam = new.sample("data16_periodL", "GamGam")
    assert (gamgam.file, gamgam.size, gamgam.adler32) == (
        "ODEO_FEB2025_v0_GamGam_data16_periodL.GamGam.root",
        1703011027,
        "96d47683",
    )
    assert new.urls(gamgam) == [
        "https://opendata.cern.ch/eos/opendata/atlas/rucio/opendata/" + gamgam.file,
        "root://eospublic.cern.ch//eos/opendata/atlas/rucio/opendata/" + gamgam.file,
    ]
    bjets = new.dsid_sample(345060, "exactly4lep")
    assert bjets.short_name == "PowhegPythia8EvtGen_NNLOPS_nnlo_30_ggH125_ZZ4l"
    two_b = next(f for f in new.files if f.skim == "2bjets")  # the exception (§3.2)
    assert two_b.file.endswith(".2bjets70.root") and two_b.portal_dir == "user/egramsta"
    assert new.urls(two_b)[0].startswith(
        "https://opendata.cern.ch/eos/opendata/atlas/rucio/user/egramsta/"
    )
    copy = tmp_path / "catalogue.yaml"
    copy.write_text(
        (Path(__file__).parents[1] / "src/atlasod/data/catalogues/2025e.yaml").read_text()
    )
    with pytest.raises(AtlasodError) as err:
        Catalogue.load(copy, "2020")
    assert str(err.value) == (
        f"sample catalogue {copy} lists files of release 2025e, but this run reads release "
        "2020: give a catalogue of release 2020 or run with release=2025e"
    )
    with pytest.raises(AtlasodError, match=r"no sample catalogue for release '2016'"):
        Catalogue.load(release="2016")


def test_a_release_block_merges_onto_the_top_level() -> None:
    """Mappings merge key by key, lists and values replace, null removes a key."""
    top = {
        "skim": "GamGam",
        "variables": {"a": "1", "b": "2"},
        "cuts": [{"name": "x", "expr": "a"}],
        "fit": {"model": "m", "range": [1, 2]},
        "releases": {"2025e": {"skim": "X", "variables": {"b": "3", "c": "4", "a": None}}},
    }
    merged = config_for_release(top, "2025e", Path("analysis.yaml"))
    assert merged == {
        "skim": "X",
        "variables": {"b": "3", "c": "4"},
        "cuts": [{"name": "x", "expr": "a"}],
        "fit": {"model": "m", "range": [1, 2]},
    }
    assert config_for_release(top, "2020", Path("analysis.yaml"))["skim"] == "GamGam"
    assert config_releases(top) == ["2020", "2025e"]
    assert merge_overlay({"a": [1, 2]}, {"a": [3]}) == {"a": [3]}


def test_an_analysis_names_what_its_release_lacks(tmp_path: Path) -> None:
    """On its release an analysis may use only the release's skims, periods and collections:
    each is named with what there is."""
    catalogue = Catalogue.load(release="2025e")
    hyy = load_analysis(ANALYSES, "hyy", catalogue)
    assert (len(hyy.data_files), len(hyy.mc_files), hyy.lumi_pb) == (16, 6, 36000.0)
    assert hyy.top_release == "2020" and hyy.release.name == "2025e"
    with pytest.raises(AtlasodError) as err:
        load_analysis(ANALYSES, "wz", catalogue)
    assert str(err.value) == (
        f"{ANALYSES / 'wz' / 'analysis.yaml'}: analysis wz does not run on release 2025e "
        "(it runs "
        "on 2020); add a block for it under releases: (docs/releases.md)"
    )
    text = (ANALYSES / "hyy" / "analysis.yaml").read_text()
    cases = {
        "skim": (
            text.replace("    lumi_pb: 36000.0\n", "    lumi_pb: 36000.0\n    skim: 1lep\n"),
            "skim: release 2025e has no skim '1lep'; its skims: noskim, 1LMET30,",
        ),
        "period": (
            text.replace("      periods: all\n", "      periods: [A]\n"),
            "data.periods: release 2025e has no period 'A'; its periods: data15_periodD,",
        ),
        "collection": (
            text.replace(
                "    objects: null\n",
                "    objects:\n"
                "      goodphoton: {collection: largeRjet, where: 'largeRjet_pt > 0'}\n",
            ),
            "object goodphoton: release 2025e has no collection 'largeRjet'; its collections: "
            "jet, largeRJet, lep,",
        ),
    }
    for what, (changed, message) in cases.items():
        folder = tmp_path / what / "hyy"
        folder.mkdir(parents=True)
        (folder / "analysis.yaml").write_text(changed)
        (folder / "demo.py").write_text((ANALYSES / "hyy" / "demo.py").read_text())
        with pytest.raises(AtlasodError) as err:
            load_analysis(tmp_path / what, "hyy", catalogue)
        assert message in str(err.value), what


def test_an_analysis_of_the_simulation_alone_states_how_it_counts(tmp_path: Path) -> None:
    """zpeak reads no data and counts MC events unweighted: weight factors with
    `unweighted`, none without it, and a fit with no data are refused, naming the key."""
    catalogue = Catalogue.load(release="2025e")
    text = (ANALYSES / "zpeak" / "analysis.yaml").read_text()
    config = tmp_path / "{case}" / "zpeak" / "analysis.yaml"
    cases = {
        "factors": (
            text.replace("weight_factors: []", "weight_factors: [mcWeight]"),
            "unweighted: true counts MC events without weights, so weight_factors must be "
            "empty (it lists mcWeight)",
        ),
        "weighted": (
            text.replace("unweighted: true", "unweighted: false"),
            "weight_factors is empty: list the MC weight's branches (mcWeight and scale "
            "factors), or set unweighted: true to count MC events",
        ),
        "fit": (
            text + "fit: {model: poly3_gauss, histogram: hist_mll, range: [40, 140]}\n",
            "data.periods is empty (the simulation alone), so there is no data to fit or to "
            "plot as points: remove fit: and use plot.style: stack",
        ),
    }
    for case, (changed, message) in cases.items():
        path = Path(str(config).format(case=case))
        path.parent.mkdir(parents=True)
        path.write_text(changed)
        with pytest.raises(AtlasodError) as err:
            load_analysis(path.parent.parent, "zpeak", catalogue)
        assert str(err.value) == f"{path}: {message}"
