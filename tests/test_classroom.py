"""`atlasod collect`: a teacher gathers every student's results of an analysis."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from atlasod.classroom import collect, sync
from atlasod.cli import main
from atlasod.errors import AtlasodError


def _student_run(demo_run: Path, home: Path, checkout: str, run: str) -> Path:
    """A student's results of H→γγ (the session's demo run) in their checkout."""
    results = home / checkout / "results" / run / "hyy"
    shutil.copytree(
        demo_run / "results" / "2020-demo" / "hyy", results, ignore=shutil.ignore_patterns("chunks")
    )
    return results


def test_collect_gathers_every_students_results_with_a_summary(
    demo_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    homes = tmp_path / "home"
    alice = _student_run(demo_run, homes / "alice", "atlas-opendata-workflows", "2020-demo")
    # bob ran twice: the demo and multiplied data, in another folder name
    _student_run(demo_run, homes / "bob", "class/workflows", "2020-demo")
    bob_x2 = _student_run(demo_run, homes / "bob", "class/workflows", "2020-demo-x2")
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

    monkeypatch.setattr(collect.os, "scandir", scandir)
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
        ("alice", "2020-demo", f"{yields['data']:g}", headline, passed, "alice/2020-demo"),
        ("bob", "2020-demo", f"{yields['data']:g}", headline, passed, "bob/2020-demo"),
        ("bob", "2020-demo-x2", f"{yields['data']:g}", headline, passed, "bob/2020-demo-x2"),
    ]
    assert rows[3][0].lstrip("| ") == "carol" and rows[3][-1] == "no results of hyy yet |"
    assert rows[4][0].lstrip("| ") == "dave"
    assert rows[4][-1] == f"{homes / 'dave'} cannot be read: Permission denied |"
    csv_lines = (out / "summary.csv").read_text().splitlines()
    assert csv_lines[0] == "student,run,finished (UTC),data events,fit,validation,folder,note"
    assert len(csv_lines) == 6
    # the files a teacher looks at, byte for byte; nothing else, nothing stale
    for name in ("yields.json", "fit.json", "validation.json", "manifest.json"):
        assert (out / "bob" / "2020-demo-x2" / name).read_bytes() == (bob_x2 / name).read_bytes()
    plots = sorted(p.name for p in (out / "alice" / "2020-demo" / "plots").iterdir())
    assert plots == sorted(p.name for p in (alice / "plots").glob("*.png")) and plots
    assert not (out / "bob" / "2020-demo-x2" / "yields.md").exists()
    assert not (out / "bob" / "2020-demo-x2" / "plots" / "leak.png").exists()
    assert not (out / "stale").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["class-hyy", "home", "secret.txt"]


def test_fit_headlines_of_each_kind_of_fit() -> None:
    assert collect.fit_headline({"normalisation": {"value": 1.1046, "error": 0.0213}}) == (
        "normalisation 1.105 ± 0.021"
    )
    limit = {"signal_strength": {"value": 0.2, "error": 0.5}, "upper_limit": {"observed": 1.23}}
    assert collect.fit_headline(limit) == "μ 0.2 ± 0.5 (μ < 1.23 at 95% CL)"
    assert collect.fit_headline(None) == ""


def test_collect_needs_homes_with_distinct_names(tmp_path: Path) -> None:
    with pytest.raises(AtlasodError, match="give the students' home folders"):
        collect.collect("hyy", [], tmp_path / "out")
    a, b = tmp_path / "x" / "ann", tmp_path / "y" / "ann"
    with pytest.raises(AtlasodError, match="two homes have the same name ann: give each once"):
        collect.collect("hyy", [a, b], tmp_path / "out")


# `atlasod class-sync`: the teacher's course material into a student's home


def _course(root: Path) -> Path:
    """A teacher's course folder: analyses, notebooks, a workflow, and what is not delivered."""
    files = {
        "Snakefile": (b"rule all:\n    input: []\n", 0o644),
        "analyses/hyy/analysis.yaml": (b"name: hyy\n", 0o664),
        "analyses/hyy/data/cuts.txt": (b"nested data/ is course material\n", 0o644),
        "notebooks/hyy.py": (b"# %%\nprint('hello')\n", 0o600),
        "workflows/run.sh": (b"#!/bin/sh\nsnakemake --cores 4\n", 0o775),
        # not delivered: results, data, logs and repository/build folders at the top
        "results/2020-demo/hyy/yields.json": (b"{}\n", 0o644),
        "data/big.root": (b"root", 0o644),
        "logs/run.log": (b"log\n", 0o644),
        ".git/HEAD": (b"ref: refs/heads/main\n", 0o644),
        ".snakemake/locks/0": (b"", 0o644),
        "__pycache__/x.pyc": (b"\0", 0o644),
        "analyses/hyy/__pycache__/hyy.cpython-311.pyc": (b"\0", 0o644),
    }
    for rel, (content, mode) in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
        (root / rel).chmod(mode)
    return root


def _files(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root`` (relative POSIX path -> content); links not followed."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _record(dest: Path) -> dict[str, str]:
    return json.loads((dest / ".atlasod-class" / "delivered.json").read_text())


DELIVERED = [
    "Snakefile",
    "analyses/hyy/analysis.yaml",
    "analyses/hyy/data/cuts.txt",
    "notebooks/hyy.py",
    "workflows/run.sh",
]


def test_class_sync_copies_the_course_with_safe_modes_and_records_it(tmp_path: Path) -> None:
    source = _course(tmp_path / "course")
    (source / "latest.yaml").symlink_to(source / "analyses" / "hyy" / "analysis.yaml")
    dest = tmp_path / "home" / "alice" / "course"  # created, with its parents

    done = sync.sync_class(source, dest)

    assert done == sync.Delivery(copied=DELIVERED, skipped=["latest.yaml"])
    assert done.summary() == (
        "5 copied, 0 updated, 0 kept (changed by you; the new version is beside as .new), 1 skipped"
    )
    course = _files(source)
    assert _files(dest) == {
        **{rel: course[rel] for rel in DELIVERED},
        ".atlasod-class/delivered.json": (dest / ".atlasod-class" / "delivered.json").read_bytes(),
        ".atlasod-class/removed.json": b"[]\n",
    }
    assert not (dest / "latest.yaml").exists() and not (dest / "latest.yaml").is_symlink()
    modes = {rel: stat.S_IMODE((dest / rel).stat().st_mode) for rel in DELIVERED}
    assert modes == {
        "Snakefile": 0o644,
        "analyses/hyy/analysis.yaml": 0o644,  # group write dropped
        "analyses/hyy/data/cuts.txt": 0o644,
        "notebooks/hyy.py": 0o600,
        "workflows/run.sh": 0o755,  # executable stays executable, without group write
    }
    record = (dest / ".atlasod-class" / "delivered.json").read_bytes()
    assert json.loads(record) == {rel: _sha(course[rel]) for rel in DELIVERED}
    assert record == (json.dumps(json.loads(record), indent=2, sort_keys=True) + "\n").encode()


def test_class_sync_twice_changes_nothing(tmp_path: Path) -> None:
    source, dest = _course(tmp_path / "course"), tmp_path / "course-copy"
    sync.sync_class(source, dest)
    before = {
        p: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
        for p in dest.rglob("*")
        if p.is_file()
    }

    assert sync.sync_class(source, dest) == sync.Delivery()

    after = {
        p: (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
        for p in dest.rglob("*")
        if p.is_file()
    }
    assert after == before  # the same files, not even rewritten; the record byte for byte


def test_class_sync_updates_what_the_student_did_not_change(tmp_path: Path) -> None:
    source, dest = _course(tmp_path / "course"), tmp_path / "dest"
    sync.sync_class(source, dest)
    (source / "analyses" / "hyy" / "analysis.yaml").write_bytes(b"name: hyy\nbins: 30\n")
    (source / "workflows" / "run.sh").write_bytes(b"#!/bin/sh\nsnakemake --cores 8\n")
    (source / "notebooks" / "new.py").write_bytes(b"# %%\n")

    done = sync.sync_class(source, dest)

    assert done == sync.Delivery(
        copied=["notebooks/new.py"], updated=["analyses/hyy/analysis.yaml", "workflows/run.sh"]
    )
    assert (dest / "analyses" / "hyy" / "analysis.yaml").read_bytes() == b"name: hyy\nbins: 30\n"
    assert (dest / "workflows" / "run.sh").read_bytes() == b"#!/bin/sh\nsnakemake --cores 8\n"
    assert stat.S_IMODE((dest / "workflows" / "run.sh").stat().st_mode) == 0o755
    assert _record(dest)["analyses/hyy/analysis.yaml"] == _sha(b"name: hyy\nbins: 30\n")
    assert _record(dest)["notebooks/new.py"] == _sha(b"# %%\n")
    assert not list(dest.rglob("*.new"))


def test_class_sync_keeps_what_the_student_edited_and_writes_the_new_version_beside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source, dest = _course(tmp_path / "course"), tmp_path / "dest"
    (dest / "notebooks").mkdir(parents=True)
    (dest / "notebooks" / "hyy.py").write_bytes(b"# my own notebook\n")  # there before
    sync.sync_class(source, dest)
    analysis = dest / "analyses" / "hyy" / "analysis.yaml"
    analysis.write_bytes(b"name: hyy\n# my cut\n")  # the student's edit
    (source / "analyses" / "hyy" / "analysis.yaml").write_bytes(b"name: hyy\nbins: 30\n")
    caplog.set_level(logging.INFO, logger="atlasod")
    caplog.clear()

    done = sync.sync_class(source, dest)

    assert done == sync.Delivery(kept=["analyses/hyy/analysis.yaml", "notebooks/hyy.py"])
    assert analysis.read_bytes() == b"name: hyy\n# my cut\n"
    assert (dest / "analyses/hyy/analysis.yaml.new").read_bytes() == b"name: hyy\nbins: 30\n"
    assert stat.S_IMODE((dest / "analyses/hyy/analysis.yaml.new").stat().st_mode) == 0o644
    assert (dest / "notebooks" / "hyy.py").read_bytes() == b"# my own notebook\n"
    assert (dest / "notebooks" / "hyy.py.new").read_bytes() == b"# %%\nprint('hello')\n"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "class-sync: analyses/hyy/analysis.yaml was changed by you and is kept; the teacher's "
        "new version is analyses/hyy/analysis.yaml.new",
        "class-sync: notebooks/hyy.py was changed by you and is kept; the teacher's new "
        "version is notebooks/hyy.py.new",
    ]
    # the record keeps what was delivered to the file itself (not the .new)
    assert _record(dest)["analyses/hyy/analysis.yaml"] == _sha(b"name: hyy\n")
    assert "notebooks/hyy.py" not in _record(dest)

    # the next login reports it again, without rewriting the .new; a newer version replaces it
    inode = (dest / "analyses/hyy/analysis.yaml.new").stat().st_ino
    assert sync.sync_class(source, dest).kept == [
        "analyses/hyy/analysis.yaml",
        "notebooks/hyy.py",
    ]
    assert (dest / "analyses/hyy/analysis.yaml.new").stat().st_ino == inode
    (source / "analyses" / "hyy" / "analysis.yaml").write_bytes(b"name: hyy\nbins: 40\n")
    sync.sync_class(source, dest)
    assert (dest / "analyses/hyy/analysis.yaml.new").read_bytes() == b"name: hyy\nbins: 40\n"
    assert analysis.read_bytes() == b"name: hyy\n# my cut\n"

    # the student takes the teacher's version: the file is updated again from then on
    analysis.write_bytes(b"name: hyy\nbins: 40\n")
    assert sync.sync_class(source, dest) == sync.Delivery(kept=["notebooks/hyy.py"])
    (source / "analyses" / "hyy" / "analysis.yaml").write_bytes(b"name: hyy\nbins: 50\n")
    assert sync.sync_class(source, dest).updated == ["analyses/hyy/analysis.yaml"]
    assert analysis.read_bytes() == b"name: hyy\nbins: 50\n"


def test_class_sync_does_not_bring_back_what_the_student_deleted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source, dest = _course(tmp_path / "course"), tmp_path / "dest"
    sync.sync_class(source, dest)
    (dest / "Snakefile").unlink()
    shutil.rmtree(dest / "analyses")
    caplog.set_level(logging.INFO, logger="atlasod")

    done = sync.sync_class(source, dest)

    assert done == sync.Delivery(
        skipped=["Snakefile", "analyses/hyy/analysis.yaml", "analyses/hyy/data/cuts.txt"]
    )
    assert "class-sync: Snakefile was removed since delivered: not brought back" in caplog.messages
    assert sorted(_files(dest)) == [
        ".atlasod-class/delivered.json",
        ".atlasod-class/removed.json",
        "notebooks/hyy.py",
        "workflows/run.sh",
    ]
    assert json.loads((dest / ".atlasod-class" / "removed.json").read_text()) == [
        "Snakefile",
        "analyses/hyy/analysis.yaml",
        "analyses/hyy/data/cuts.txt",
    ]
    # reported once: the next logins say nothing, even when the teacher changes the file
    (source / "Snakefile").write_bytes(b"rule all:\n    input: ['x']\n")
    assert sync.sync_class(source, dest) == sync.Delivery()
    assert not (dest / "Snakefile").exists() and not (dest / "analyses").exists()
    assert _record(dest)["Snakefile"] == _sha(b"rule all:\n    input: []\n")


def test_class_sync_never_writes_through_a_link_in_the_destination(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source, dest = _course(tmp_path / "course"), tmp_path / "dest"
    elsewhere = tmp_path / "elsewhere"  # where a link would lead (the teacher's, the system's)
    elsewhere.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"not the student's\n")
    dest.mkdir()
    (dest / "notebooks").symlink_to(elsewhere)  # a folder of the course is a link
    (dest / "Snakefile").symlink_to(victim)  # a file of the course is a link
    (dest / "workflows").mkdir()
    os.mkfifo(dest / "workflows" / "run.sh")  # not a regular file: not read (would block)
    (dest / "analyses" / "hyy").mkdir(parents=True)
    (dest / "analyses" / "hyy" / "analysis.yaml").write_bytes(b"edited\n")
    (dest / "analyses" / "hyy" / "analysis.yaml.new").symlink_to(victim)  # the .new is a link
    caplog.set_level(logging.INFO, logger="atlasod")

    done = sync.sync_class(source, dest)

    assert done == sync.Delivery(
        copied=["analyses/hyy/data/cuts.txt"],
        skipped=[
            "Snakefile",
            "analyses/hyy/analysis.yaml",
            "notebooks/hyy.py",
            "workflows/run.sh",
        ],
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "class-sync: Snakefile not delivered: Snakefile is a link (not written through)",
        "class-sync: analyses/hyy/analysis.yaml not delivered: analyses/hyy/analysis.yaml.new "
        "is a link (not written through)",
        "class-sync: notebooks/hyy.py not delivered: notebooks is a link (not written through)",
        "class-sync: workflows/run.sh not delivered: workflows/run.sh is not a regular file "
        "(not written through)",
    ]
    assert victim.read_bytes() == b"not the student's\n"
    assert list(elsewhere.iterdir()) == []
    assert (dest / "Snakefile").is_symlink() and (dest / "notebooks").is_symlink()
    assert (dest / "analyses" / "hyy" / "analysis.yaml.new").is_symlink()
    assert stat.S_ISFIFO((dest / "workflows" / "run.sh").lstat().st_mode)
    assert _record(dest) == {
        "analyses/hyy/data/cuts.txt": _sha(b"nested data/ is course material\n")
    }


def test_class_sync_refuses_a_missing_source_and_a_linked_destination(tmp_path: Path) -> None:
    source = _course(tmp_path / "course")
    with pytest.raises(AtlasodError, match=r"the course material .* does not exist or is not a"):
        sync.sync_class(tmp_path / "nothing", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "dest").symlink_to(real)
    with pytest.raises(AtlasodError, match="is a link: links in the destination are not followed"):
        sync.sync_class(source, tmp_path / "dest")
    (real / ".atlasod-class").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(AtlasodError, match="is a link or not a folder: the record of what was"):
        sync.sync_class(source, real)
    assert sorted(p.name for p in real.iterdir()) == [".atlasod-class"]
    assert not (tmp_path / "elsewhere").exists()


def _class_sync(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atlasod", "class-sync", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_class_sync_command_line(tmp_path: Path) -> None:
    source, dest = _course(tmp_path / "course"), tmp_path / "home" / "course"

    first = _class_sync("--source", str(source), "--dest", str(dest))
    (dest / "Snakefile").write_bytes(b"# mine\n")
    (source / "Snakefile").write_bytes(b"# the teacher's\n")
    (source / "notebooks" / "hyy.py").write_bytes(b"# %%\n")
    (dest / "workflows" / "run.sh").unlink()
    second = _class_sync("--source", str(source), "--dest", str(dest))

    assert (first.returncode, first.stdout) == (0, "")
    summary = "kept (changed by you; the new version is beside as .new)"
    assert (
        f"INFO atlasod.classroom.sync: class-sync {source} -> {dest}: "
        f"5 copied, 0 updated, 0 {summary}, 0 skipped\n" in first.stderr
    )
    assert (second.returncode, second.stdout) == (0, "")
    assert (
        f"class-sync {source} -> {dest}: 0 copied, 1 updated, 1 {summary}, 1 skipped\n"
        in second.stderr
    )
    assert (
        "WARNING atlasod.classroom.sync: class-sync: Snakefile was changed by you" in second.stderr
    )
    assert (dest / "Snakefile").read_bytes() == b"# mine\n"
    assert (dest / "Snakefile.new").read_bytes() == b"# the teacher's\n"
    assert (dest / "notebooks" / "hyy.py").read_bytes() == b"# %%\n"
    assert not (dest / "workflows" / "run.sh").exists()

    missing = _class_sync("--source", str(tmp_path / "nothing"), "--dest", str(dest))
    assert missing.returncode == 2
    assert (
        f"ERROR atlasod: class-sync: the course material {tmp_path / 'nothing'} does not exist "
        "or is not a folder: check --source\n"
    ) in missing.stderr
    assert "Traceback" not in missing.stderr
