"""A peer on the same events: ROOT's tutorial df107_SingleTopAnalysis.py (the ROOT 6.40
wheel's, run unchanged by tools/df107.py from ``make root-env``) on the demo run's
single-top files selects the same events and fills the same m(W(ℓν) + b) histogram as the
project's single-top analysis, once what df107 does differently is aligned (more-analyses
reference §2.9): its good jets (no pT > 30 GeV nor |η| < 2.5 requirement), its extra
preselection (a jet above 30 GeV in |η| < 2.5) and no m(ℓb) cut.  Without the alignment
the two selections differ, by what each difference accounts for."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import uproot

from atlasod.data.catalogue import Catalogue
from atlasod.selection.analysis import Analysis, load_analysis
from atlasod.selection.chunk import process_chunk
from atlasod.yamlio import load_yaml

from .conftest import ANALYSES, REPO, tool_from_environment

pytestmark = pytest.mark.workflow

# df107's jets and its preselection, in the project's expression language (MeV, 2020)
DF107_GOODJET = "jet_pt > 60*GeV or abs(jet_eta) > 2.4 or jet_jvt > 0.59"
DF107_PRESELECTION = {
    "name": "a jet above 30 GeV (df107)",
    "expr": "sum(jet_pt > 30*GeV and abs(jet_eta) < 2.5) > 0",
}
# df107's groups and the project's
GROUPS = {"singletop": "tq", "twtb": "ttbar,Wt,tb", "wjets": "W+jets"}


def _variant(
    tmp_path: Path, name: str, *, jets: bool, preselection: bool, mlb_cut: bool
) -> Analysis:
    """The single-top analysis with df107's choices where asked, as an analysis folder."""
    import yaml

    raw = load_yaml((ANALYSES / "singletop" / "analysis.yaml").read_text("utf-8"))
    raw["name"] = name
    if jets:
        raw["objects"]["goodjet"]["where"] = DF107_GOODJET
    cuts = raw["cuts"]
    if not mlb_cut:
        cuts = [c for c in cuts if c["name"] != "m(lb) < 150 GeV"]
    if preselection:
        at = next(i for i, c in enumerate(cuts) if c["name"] == "mT > 60 GeV") + 1
        cuts.insert(at, DF107_PRESELECTION)
    raw["cuts"] = cuts
    folder = tmp_path / name
    folder.mkdir()
    text = yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)
    (folder / "analysis.yaml").write_text(text, "utf-8")
    return load_analysis(tmp_path, name)


def _selected(analysis: Analysis, path: Path) -> set[tuple[int, int]]:
    """(runNumber, eventNumber) of the events the analysis selects in the file."""
    branches = [*analysis.selection.BRANCHES, "runNumber", "eventNumber"]
    events = uproot.open(path)["mini"].arrays(sorted(set(branches)))
    mask = np.asarray(analysis.selection.select_events(events, {}).mask)
    return set(
        zip(
            events["runNumber"][mask].to_numpy().tolist(),
            events["eventNumber"][mask].to_numpy().tolist(),
            strict=True,
        )
    )


@pytest.fixture(scope="module")
def df107(demo_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """df107's selected events and histograms on the demo run's single-top files."""
    root_python = tool_from_environment("ATLASOD_ROOT_PYTHON", "a Python with ROOT")
    work = tmp_path_factory.mktemp("df107")
    out = work / "df107.json"
    proc = subprocess.run(
        [
            root_python,
            "-W",
            "ignore",
            str(REPO / "tools" / "df107.py"),
            str(demo_run / "data" / "demo" / "singletop"),
            str(out),
            "--workdir",
            str(work),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (work / "df107_SingleTopAnalysis.png").stat().st_size > 0
    return json.loads(out.read_text("utf-8"))


def _files(demo_run: Path, df107: dict) -> dict[str, Path]:
    base = demo_run / "data" / "demo" / "singletop" / "1lep"
    return {
        s: base / ("Data" if s.startswith("data") else "MC") / f"{s}.1lep.root"
        for s in df107["events"]
    }


def test_df107_selects_the_same_events_once_aligned(
    demo_run: Path, df107: dict, tmp_path: Path
) -> None:
    aligned = _variant(tmp_path, "aligned", jets=True, preselection=True, mlb_cut=False)
    files = _files(demo_run, df107)
    # df107 reads data, t-channel, tt̄ + Wt + s-channel and the 42 W slices: 2 + 5 + 42 + 4
    assert len(files) == 53
    total = 0
    for sample, path in files.items():
        theirs = {tuple(e) for e in df107["events"][sample]}
        assert _selected(aligned, path) == theirs, sample
        total += len(theirs)
    assert total > 5000  # the t-channel samples alone select thousands at the test scale


def test_each_difference_of_df107_and_its_effect(
    demo_run: Path, df107: dict, tmp_path: Path
) -> None:
    """The project's selection against df107's: each of df107's differences, taken alone,
    changes the selected events; all three together make them the same (above)."""
    files = _files(demo_run, df107)
    tchan = files["mc_410011.single_top_tchan"]
    theirs = {tuple(e) for e in df107["events"]["mc_410011.single_top_tchan"]}
    ours = _selected(load_analysis(ANALYSES, "singletop"), tchan)
    assert ours != theirs
    counts = {}
    for label, kwargs in {
        "jets": {"jets": True, "preselection": False, "mlb_cut": True},
        "preselection": {"jets": False, "preselection": True, "mlb_cut": True},
        "no m(lb) cut": {"jets": False, "preselection": False, "mlb_cut": False},
    }.items():
        variant = _variant(tmp_path, f"variant{len(counts)}", **kwargs)
        counts[label] = len(_selected(variant, tchan))
    # the m(ℓb) cut removes t-channel events (the edge at 153 GeV, smeared); df107's jets
    # have no |η| < 2.5 requirement, so a spectator jet beyond 2.5 still counts: many more
    # t-channel events pass; its preselection alone changes nothing (two good jets above
    # 30 GeV in |η| < 2.5 pass it already)
    assert counts["no m(lb) cut"] > len(ours)
    assert counts["jets"] > 1.3 * len(ours)
    assert counts["preselection"] == len(ours)


def test_df107_fills_the_same_histogram(
    demo_run: Path, df107: dict, tmp_path: Path, catalogue: Catalogue
) -> None:
    """m(W(ℓν) + b) per group, weighted (L σ / Σw, the sign of mcWeight for single top,
    W+jets × 1.1): the project's hist_top_mass against df107's top_mass, bin by bin with
    the under- and overflow; data, t-channel and W+jets fill it."""
    aligned = _variant(tmp_path, "aligned", jets=True, preselection=True, mlb_cut=False)
    files = _files(demo_run, df107)
    by_stem = {s.stem: s for s in aligned.files}
    options = {"singletop_wjets_factor": True}
    for theirs_name, group_name in {"data": None, **GROUPS}.items():
        group = next((g for g in aligned.groups if g.name == group_name), None)
        factor = group.factor(options, "hist_top_mass") if group else 1.0
        values = np.zeros(12)
        variances = np.zeros(12)
        for sample, path in files.items():
            file = by_stem[f"{sample}.1lep"]
            if not (file.is_data if group is None else file in group.samples):
                continue
            result = process_chunk(aligned, file, str(path), 0, 1, 10064.0, catalogue)
            h = result.histograms["hist_top_mass"]
            values += h.values(flow=True)
            variances += h.variances(flow=True)
        expected = df107["histograms"][theirs_name]
        assert df107["histograms"][theirs_name]["edges"] == list(np.linspace(100, 400, 11))
        np.testing.assert_allclose(values * factor, expected["values"], rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(
            variances * factor**2, expected["variances"], rtol=1e-5, atol=1e-9
        )
        # (the demo's tt̄-like events, twtb, have four central jets: none passes)
        assert sum(expected["values"]) > 0 or theirs_name == "twtb", theirs_name
