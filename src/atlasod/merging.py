"""Sum chunk outputs into one histogram file and one cutflow per analysis."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import hist

from atlasod.errors import AtlasodError
from atlasod.histio import read_histograms, sum_histograms, write_histograms, write_json

LOG = logging.getLogger(__name__)


def cutflow_path(chunk_path: Path) -> Path:
    """The cutflow JSON written beside a chunk's histogram file."""
    return chunk_path.with_suffix(".cutflow.json")


def _order(path: Path) -> tuple[str, int | str]:
    # chunks/<stem>/<index>.root: sum in a fixed order whatever order the inputs come in
    return (path.parent.name, int(path.stem) if path.stem.isdigit() else path.stem)


def merge(inputs: list[Path], out: Path, cutflow_out: Path) -> None:
    parts: dict[str, list[hist.Hist]] = {}
    cutflows: dict[str, dict[str, Any]] = {}
    for path in sorted(inputs, key=_order):
        for key, h in read_histograms(path).items():
            parts.setdefault(key, []).append(h)
        cpath = cutflow_path(path)
        if not cpath.is_file():
            raise AtlasodError(f"chunk {path} has no cutflow {cpath}; rerun its process step")
        chunk = json.loads(cpath.read_text("utf-8"))
        entry = cutflows.setdefault(chunk["file"], {"entries": 0, "chunks": 0, "cutflow": {}})
        entry["entries"] += chunk["entries"]
        entry["chunks"] += 1
        for cut, counts in chunk["cutflow"].items():
            acc = entry["cutflow"].setdefault(cut, {"events": 0, "weighted": 0.0, "sumw2": 0.0})
            for k in acc:
                acc[k] += counts[k]
    merged = {key: sum_histograms(items) for key, items in parts.items()}
    write_histograms(out, merged)
    write_json(cutflow_out, cutflows)
    LOG.info("merged %d chunks of %d files into %s", len(inputs), len(cutflows), out)
