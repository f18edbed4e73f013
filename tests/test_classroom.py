"""`atlasod collect`: a teacher gathers every student's results of an analysis."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from atlasod import classroom
from atlasod.cli import main
from atlasod.errors import AtlasodError


def _student_run(demo_run: Path, home: Path, checkout: str, run: str) -> Path:
    """A student's results of H→γγ (the session's demo run) in their checkout."""
    results = home / checkout / "results" / run / "hyy"
    shutil.copytree(
        demo_run / "results" / "demo" / "hyy", results, ignore=shutil.ignore_patterns("chunks")
    )
    return results


def test_collect_gathers_every_students_results_with_a_summary(
    demo_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    homes = tmp_path / "home"
    alice = _student_run(demo_run, homes / "alice", "atlas-opendata-workflows", "demo")
    # bob ran twice: the demo and multiplied data, in another folder name
    _student_run(demo_run, homes / "bob", "class/workflows", "demo")
    bob_x2 = _student_run(demo_run, homes / "bob", "class/workflows", "demo-x2")
    (homes / "bob" / "class" / "workflows" / "data" / "hyy").mkdir(parents=True)  # not searched
    secret = tmp_path / "secret.txt"  # a file only the teacher can read
    secret.write_text("not for the class")
    (bob_x2 / "yields.md").unlink()
    (bob_x2 / "yields.md").symlink_to(secret)  # links are not followed
    (bob_x2 / "plots" / "leak.png").symlink_to(secret)
    (homes / "carol" / "notes").mkdir(parents=True)  # nothing run yet
    (homes / "dave").mkdir()
    real_scandir = os.scandir

    def scandir(path: Path | int):  # dave's home cannot be read (chmod would not stop root)
        if isinstance(path, str | os.PathLike) and Path(path) == homes / "dave":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(classroom.os, "scandir", scandir)
    out = tmp_path / "class-hyy"
    (out / "stale").mkdir(parents=True)  # a previous collection is replaced
    main(["collect", "--analysis", "hyy", "--out", str(out), *map(str, sorted(homes.iterdir()))])

    fit = json.loads((alice / "fit.json").read_text())["parameters"]["mean"]
    yields = json.loads((alice / "yields.json").read_text())
    checks = json.loads((alice / "validation.json").read_text())["checks"]
    headline = f"mean {fit['value']:.4g} ± {fit['error']:.2g}"
    passed = f"{sum(c['passed'] for c in checks)}/{len(checks)}"
    lines = (out / "summary.md").read_text().splitlines()
    assert lines[0] == "# hyy: the class's results"
    rows = [[c.strip() for c in line.split(" | ")] for line in lines[4:] if line]
    assert [(r[0].lstrip("| "), r[1], r[3], r[4], r[5], r[6]) for r in rows[:3]] == [
        ("alice", "demo", f"{yields['data']:g}", headline, passed, "alice/demo"),
        ("bob", "demo", f"{yields['data']:g}", headline, passed, "bob/demo"),
        ("bob", "demo-x2", f"{yields['data']:g}", headline, passed, "bob/demo-x2"),
    ]
    assert rows[3][0].lstrip("| ") == "carol" and rows[3][-1] == "no results of hyy yet |"
    assert rows[4][0].lstrip("| ") == "dave"
    assert rows[4][-1] == f"{homes / 'dave'} cannot be read: Permission denied |"
    csv_lines = (out / "summary.csv").read_text().splitlines()
    assert csv_lines[0] == "student,run,finished (UTC),data events,fit,validation,folder,note"
    assert len(csv_lines) == 6
    # the files a teacher looks at, byte for byte; nothing else, nothing stale
    for name in ("yields.json", "fit.json", "validation.json", "manifest.json"):
        assert (out / "bob" / "demo-x2" / name).read_bytes() == (bob_x2 / name).read_bytes()
    plots = sorted(p.name for p in (out / "alice" / "demo" / "plots").iterdir())
    assert plots == sorted(p.name for p in (alice / "plots").glob("*.png")) and plots
    assert not (out / "bob" / "demo-x2" / "yields.md").exists()
    assert not (out / "bob" / "demo-x2" / "plots" / "leak.png").exists()
    assert not (out / "stale").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["class-hyy", "home", "secret.txt"]


def test_fit_headlines_of_each_kind_of_fit() -> None:
    assert classroom.fit_headline({"normalisation": {"value": 1.1046, "error": 0.0213}}) == (
        "normalisation 1.105 ± 0.021"
    )
    limit = {"signal_strength": {"value": 0.2, "error": 0.5}, "upper_limit": {"observed": 1.23}}
    assert classroom.fit_headline(limit) == "μ 0.2 ± 0.5 (μ < 1.23 at 95% CL)"
    assert classroom.fit_headline(None) == ""


def test_collect_needs_homes_with_distinct_names(tmp_path: Path) -> None:
    with pytest.raises(AtlasodError, match="give the students' home folders"):
        classroom.collect("hyy", [], tmp_path / "out")
    a, b = tmp_path / "x" / "ann", tmp_path / "y" / "ann"
    with pytest.raises(AtlasodError, match="two homes have the same name ann: give each once"):
        classroom.collect("hyy", [a, b], tmp_path / "out")
