"""The teacher's view of a class: every student's results of one analysis in one folder.

``atlasod collect --analysis hyy --out class-hyy /home/*`` looks in each student's home for
the workflow's results of the analysis (``<checkout>/results/<run>/<analysis>/yields.json``;
data, hidden and Snakemake folders are not searched), copies what a teacher looks at (yields,
fit, validation, manifest, plots; regular files only, never what a link points to) to
``<out>/<student>/<run>/`` and writes a summary table, ``summary.md`` and ``summary.csv``:
who ran what, when, the data events, the fitted headline
number (a mass, a normalisation, a signal strength) and the validation checks passed.  A home
that cannot be read, or holds no results, gets a row saying so.  The folder is rebuilt from
scratch and appears only when complete.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from atlasod.errors import AtlasodError

LOG = logging.getLogger(__name__)
COPIED = (
    "yields.json",
    "yields.md",
    "fit.json",
    "validation.json",
    "validation.md",
    "manifest.json",
)
SKIPPED = {"data", "chunks", "logs", "node_modules", "__pycache__", "site-packages"}
MAX_DEPTH = 6  # home / checkout / results / run / analysis, with room for a parent folder


@dataclass(frozen=True)
class Row:
    """One line of the summary: a student's run of the analysis (or why there is none)."""

    student: str
    run: str = ""
    finished: str = ""
    data_events: str = ""
    fit: str = ""
    validation: str = ""
    folder: str = ""
    note: str = ""


def find_results(home: Path, analysis: str) -> list[Path]:
    """The results folders of ``analysis`` under ``home`` (``…/results/<run>/<analysis>``
    holding ``yields.json``), sorted; unreadable folders are skipped (logged)."""
    found = []

    def walk(folder: Path, depth: int) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            if depth == 0:
                raise
            LOG.warning("skipped %s: %s", folder, exc.strerror)
            return
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False) or entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if entry.name == analysis and path.parent.parent.name == "results":
                if _regular(path / "yields.json"):
                    found.append(path)
                continue
            if entry.name not in SKIPPED and depth < MAX_DEPTH:
                walk(path, depth + 1)

    walk(home, 0)
    return found


def _regular(path: Path) -> bool:
    """A regular file, not a link: what a student links to (another student's files, the
    system's) is not copied with the teacher's rights."""
    return path.is_file() and not path.is_symlink()


def _json(path: Path) -> dict[str, Any] | None:
    if not _regular(path):
        return None
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None


def _measured(entry: Any) -> str:
    if isinstance(entry, dict) and "value" in entry:
        value, error = entry["value"], entry.get("error")
        return f"{value:.4g} ± {error:.2g}" if error is not None else f"{value:.4g}"
    return ""


def fit_headline(fit: dict[str, Any] | None) -> str:
    """The number a class compares: the fitted mean, else the normalisation, else the signal
    strength (with its observed upper limit)."""
    if not fit:
        return ""
    if "mean" in fit.get("parameters", {}):
        return f"mean {_measured(fit['parameters']['mean'])}"
    if "normalisation" in fit:
        return f"normalisation {_measured(fit['normalisation'])}"
    if "signal_strength" in fit:
        text = f"μ {_measured(fit['signal_strength'])}"
        limit = fit.get("upper_limit", {}).get("observed")
        return f"{text} (μ < {limit:.3g} at {fit.get('cl', 0.95):.0%} CL)" if limit else text
    return ""


def summarise(student: str, results: Path, copy: Path, root: Path) -> Row:
    """One run's row; its files copied to ``copy`` (under the summary's folder ``root``)."""
    copy.mkdir(parents=True)
    for name in COPIED:
        if _regular(results / name):
            shutil.copy2(results / name, copy / name)
    plots = results / "plots"
    if plots.is_dir() and not plots.is_symlink():
        (copy / "plots").mkdir()
        for png in sorted(p for p in plots.glob("*.png") if _regular(p)):
            shutil.copy2(png, copy / "plots" / png.name)
    yields = _json(results / "yields.json") or {}
    validation = _json(results / "validation.json")
    checks = validation.get("checks", []) if validation else []
    finished = datetime.fromtimestamp((results / "yields.json").stat().st_mtime, UTC)
    return Row(
        student=student,
        run=results.parent.name,
        finished=finished.strftime("%Y-%m-%d %H:%M"),
        data_events=f"{yields['data']:g}" if isinstance(yields.get("data"), int | float) else "",
        fit=fit_headline(_json(results / "fit.json")),
        validation=f"{sum(c.get('passed', False) for c in checks)}/{len(checks)}" if checks else "",
        folder=copy.relative_to(root).as_posix(),
        note="" if yields else "yields.json could not be read",
    )


def collect(analysis: str, homes: list[Path], out: Path) -> list[Row]:
    """Copy every student's results of ``analysis`` to ``out`` and write the summary."""
    if not homes:
        raise AtlasodError("collect: give the students' home folders, e.g. /home/*")
    names = [home.name for home in homes]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise AtlasodError(f"collect: two homes have the same name {twice[0]}: give each once")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        rows = []
        for home in sorted(homes):
            if not home.is_dir():
                rows.append(Row(home.name, note=f"{home} is not a folder"))
                continue
            try:
                found = find_results(home, analysis)
            except OSError as exc:
                rows.append(Row(home.name, note=f"{home} cannot be read: {exc.strerror}"))
                continue
            if not found:
                rows.append(Row(home.name, note=f"no results of {analysis} yet"))
            for results in found:
                copy = staging / home.name / results.parent.name
                if copy.exists():  # the same run in two checkouts of one student: both kept
                    copy = staging / home.name / f"{results.parent.name}-{len(rows)}"
                rows.append(summarise(home.name, results, copy, staging))
        write_summary(analysis, rows, staging)
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    done = sum(1 for r in rows if r.run)
    LOG.info("%d run(s) of %s from %d home(s) in %s", done, analysis, len(homes), out)
    return rows


HEADER = ("student", "run", "finished (UTC)", "data events", "fit", "validation", "folder", "note")


def write_summary(analysis: str, rows: list[Row], folder: Path) -> None:
    cells = [
        (r.student, r.run, r.finished, r.data_events, r.fit, r.validation, r.folder, r.note)
        for r in rows
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(cells)
    (folder / "summary.csv").write_text(buffer.getvalue(), encoding="utf-8")
    lines = [
        f"# {analysis}: the class's results",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
        *("| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells),
        "",
    ]
    (folder / "summary.md").write_text("\n".join(lines), encoding="utf-8")
