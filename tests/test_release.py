"""A release is data: each description loads, is consistent, and gives what the engine asks."""

from __future__ import annotations

from types import SimpleNamespace

import awkward as ak
import numpy as np
import pytest

from atlasod.data.catalogue import Catalogue, SampleFile
from atlasod.data.release import Release, available, release_of_trees
from atlasod.errors import AtlasodError
from atlasod.selection.chunk import event_weights


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
    analysis = SimpleNamespace(weight_factors=["mcWeight", "ScaleFactor_PILEUP"])
    analysis.normalisation_table = None
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
    data = SampleFile(file="data15_periodD.GamGam.root", skim="GamGam", period="data15_periodD")
    assert event_weights(events, data, analysis, catalogue, lumi_pb=36100.0).tolist() == [1, 1]
    assert Release.load("2020").normalisation_branches is None  # the framework's tables
