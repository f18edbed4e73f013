"""The declarative engine computes each expression when first needed, on the events that
pass the cuts before it (declarative._Frame): the same results, bit for bit, as on every
event of the batch, for every declarative analysis on both releases."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import pytest
import uproot

from atlasod.data.catalogue import Catalogue
from atlasod.selection import columns, declarative
from atlasod.selection.analysis import analysis_releases, discover, load_analysis
from atlasod.selection.declarative import DeclarativeSelection

from .conftest import ANALYSES
from .hand_made import W_MU, Z_EE, lepton, lepton_event, run_events


def _same(a: Any, b: Any, where: str) -> None:
    if isinstance(a, ak.Array):
        assert isinstance(b, ak.Array), where
        assert a.type == b.type, where
        assert ak.to_list(a) == ak.to_list(b), where
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, where
    assert a.tobytes() == b.tobytes(), where  # NaN where missing, in the same bits


def _compare(narrowed: Any, whole: Any, where: str) -> None:
    _same(narrowed.mask, whole.mask, f"{where}: mask")
    assert list(narrowed.cutflow) == list(whole.cutflow), where
    for cut, mask in whole.cutflow.items():
        _same(narrowed.cutflow[cut], mask, f"{where}: cutflow {cut}")
    assert set(narrowed.variables) == set(whole.variables), where
    for name, values in whole.variables.items():
        _same(narrowed.variables[name], values, f"{where}: {name}")
    assert list(narrowed.stages) == list(whole.stages), where
    for cut, (mask, values) in whole.stages.items():
        _same(narrowed.stages[cut][0], mask, f"{where}: stage {cut}")
        for name, v in values.items():
            _same(narrowed.stages[cut][1][name], v, f"{where}: stage {cut}: {name}")


def _declarative(release: str) -> list[Any]:
    catalogue = Catalogue.load(release=release)
    analyses = []
    for name in discover(ANALYSES):
        if release in analysis_releases(ANALYSES / name):
            analysis = load_analysis(ANALYSES, name, catalogue)
            if isinstance(analysis.selection, DeclarativeSelection):
                analyses.append(analysis)
    return analyses


@pytest.mark.parametrize("release", ["2020", "2025e"])
def test_narrowed_frames_give_the_whole_batch_results(
    release: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every declarative analysis, on its last data file (if it reads data) and its first
    signal sample of the demo run: the selection with narrowing equals the selection without
    (every expression on every event), masks, cutflows, histogram values and stages byte
    for byte."""
    root: Path = request.getfixturevalue("demo_run" if release == "2020" else "demo_run_2025e")
    analyses = _declarative(release)
    assert {"w", "z", "hyy", "wz", "zz", "hww", "ztautau", "singletop"} & {a.name for a in analyses}
    narrowed_somewhere = 0
    for analysis in analyses:
        selection = analysis.selection
        signal = next(g for g in analysis.groups if g.signal)
        # (an analysis of the simulation alone has no data file)
        for sample in (*analysis.data_files[-1:], signal.samples[0]):
            with uproot.open(root / "data" / "demo" / analysis.name / sample.relpath) as f:
                events = f[analysis.release.tree].arrays(selection.BRANCHES)
            options = {**analysis.selection_options, "sample": sample.short_name}
            monkeypatch.setattr(declarative, "NARROW", -1.0)  # never: the whole batch
            whole = selection.select_events(events, options)
            monkeypatch.undo()
            narrowed = selection.select_events(events, options)
            _compare(narrowed, whole, f"{release} {analysis.name} {sample.file}")
            cuts = list(whole.cutflow.values())
            narrowed_somewhere += any(
                np.count_nonzero(b) <= declarative.NARROW * np.count_nonzero(a)
                for a, b in itertools.pairwise(cuts)
            )
    assert narrowed_somewhere  # the comparison compared narrowed frames


def test_a_variable_after_a_cut_is_computed_on_the_events_that_pass_it(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Z's m(ll) (pair_mass, cut 5) is computed on the one event of six that passes the
    trigger, the two-lepton, charge and flavour cuts, not on all six."""
    analysis = load_analysis(ANALYSES, "z", catalogue)
    seen: list[int] = []
    mass = columns.mass

    def counting_mass(*args: Any) -> Any:
        seen.append(len(args[0]))
        return mass(*args)

    monkeypatch.setattr(columns, "mass", counting_mass)
    same_sign = [Z_EE[0], lepton(45.6, np.pi, 11, 1)]
    events = [
        lepton_event(Z_EE),  # passes
        lepton_event(Z_EE, trig=False),
        lepton_event(Z_EE, trig=False),
        lepton_event([Z_EE[0]]),  # one lepton
        lepton_event([*Z_EE, W_MU]),  # three
        lepton_event(same_sign),
    ]
    result = run_events(analysis, catalogue, events, tmp_path)
    histograms, cutflow = result.histograms, result.cutflow
    assert seen == [1]
    assert [c["events"] for c in cutflow.values()][:6] == [6, 4, 2, 1, 1, 1]
    assert histograms["hist_mLL"].values().sum() == 1
    bin_ = histograms["hist_mLL"].axes[0].index(2 * 45.6)
    assert histograms["hist_mLL"].values()[bin_] == 1


def test_a_batch_where_no_event_passes(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No event passes the trigger: the later expressions run on no events, every
    histogram stays empty and the cutflow counts none after the trigger."""
    analysis = load_analysis(ANALYSES, "z", catalogue)
    events = [lepton_event(Z_EE, trig=False), lepton_event([*Z_EE, W_MU], trig=False)]
    result = run_events(analysis, catalogue, events, tmp_path)
    histograms, cutflow = result.histograms, result.cutflow
    counts = [c["events"] for c in cutflow.values()]
    assert counts[0] == 2 and set(counts[1:]) == {0}
    assert all(h.values().sum() == 0 for h in histograms.values())


def test_event_subset_takes_values_validity_and_objects() -> None:
    """Events 0 and 2 of three: per-event values with their validity, per-object values of
    the events' objects (the fields of one collection on one new shape), numbers as they are."""
    subset = columns.EventSubset(np.array([0, 2]), 3)
    per_event = columns.Column(np.array([1.0, 2.0, 3.0]), None, np.array([True, True, False]))
    taken = subset(per_event)
    assert taken.content.tolist() == [1.0, 3.0] and taken.valid.tolist() == [True, False]
    shape = columns.Shape(np.array([0, 2, 3, 6]))  # 2, 1 and 3 objects
    pt = columns.Column(np.arange(6.0), shape)
    flag = columns.Column(np.arange(6) % 2, shape, np.array([1, 1, 0, 1, 0, 1], dtype=bool))
    objects = subset(columns.Objects({"pt": pt, "flag": flag}))
    assert objects.pt.shape is objects.flag.shape
    assert objects.pt.shape.offsets.tolist() == [0, 2, 5]
    assert objects.pt.content.tolist() == [0.0, 1.0, 3.0, 4.0, 5.0]
    assert objects.flag.valid.tolist() == [True, True, True, False, True]
    assert subset(2.5) == 2.5 and subset(np.bool_(True))
    assert subset(np.array([7, 8, 9])).tolist() == [7, 9]
    empty = columns.EventSubset(np.array([], dtype=np.int64), 3)(pt)
    assert len(empty) == 0 and empty.shape.offsets.tolist() == [0]


def test_what_objects_derived_is_taken_onto_a_subset() -> None:
    """The system, best system and Z-candidate pair computed on every event, then taken onto
    a subset, give what they give computed on the subset alone (random events of 0-5
    leptons)."""
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 6, size=200)
    shape = columns.Shape(np.concatenate([[0], np.cumsum(counts)]))
    n = int(counts.sum())
    pt = rng.uniform(10, 100, n)
    eta = rng.uniform(-2.5, 2.5, n)
    fields = {
        "pt": pt,
        "eta": eta,
        "phi": rng.uniform(-np.pi, np.pi, n),
        "E": pt * np.cosh(eta),
        "type": rng.choice([11, 13], n),
        "charge": rng.choice([-1, 1], n),
    }

    def objects() -> columns.Objects:
        return columns.Objects({k: columns.Column(v, shape) for k, v in fields.items()})

    functions = [
        columns.system_mass,
        columns.system_pt,
        lambda o: columns.best_system_mass(o, 3),
        lambda o: columns.best_system_pair_mass(o, 3),
        lambda o: columns.sfos_pair_mass(o, 91.18),
        lambda o: columns.sfos_pair_pt(o, 91.18),
        lambda o: columns.sfos_pair_other(o, 91.18),
    ]
    cached = objects()
    for f in functions:
        f(cached)
    assert len(cached.derived) == 3
    subset = columns.EventSubset(np.flatnonzero(rng.random(200) < 0.4), 200)
    taken, fresh = subset(cached), subset(objects())
    assert len(taken.derived) == 3 and not fresh.derived
    for i, f in enumerate(functions):
        a, b = f(taken), f(fresh)
        assert a.content.tobytes() == b.content.tobytes(), i
        assert (a.valid is None) == (b.valid is None), i
        assert a.valid is None or a.valid.tobytes() == b.valid.tobytes(), i
