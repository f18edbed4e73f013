"""Sum chunk outputs into one histogram file and one cutflow per analysis."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hist

from atlasod.errors import AtlasodError
from atlasod.histio import read_histograms, sum_histograms, summed, write_histograms, write_json

if TYPE_CHECKING:
    from atlasod.selection.analysis import Analysis

LOG = logging.getLogger(__name__)


def cutflow_path(chunk_path: Path) -> Path:
    """The cutflow JSON written beside a chunk's histogram file."""
    return chunk_path.with_suffix(".cutflow.json")


def _order(path: Path) -> tuple[str, int | str]:
    # chunks/<stem>/<index>.root: sum in a fixed order whatever order the inputs come in
    return (path.parent.name, int(path.stem) if path.stem.isdigit() else path.stem)


def combine(
    chunks: list[tuple[dict[str, hist.Hist], dict[str, Any]]],
) -> tuple[dict[str, hist.Hist], dict[str, Any]]:
    """Sum chunk results, given in merge order: (histograms keyed ``<stem>/<name>``, the
    chunk's cutflow record ``{"file", "entries", "cutflow"}``)."""
    parts: dict[str, list[hist.Hist]] = {}
    cutflows: dict[str, dict[str, Any]] = {}
    for histograms, chunk in chunks:
        for key, h in histograms.items():
            parts.setdefault(key, []).append(h)
        entry = cutflows.setdefault(chunk["file"], {"entries": 0, "chunks": 0, "cutflow": {}})
        entry["entries"] += chunk["entries"]
        entry["chunks"] += 1
        for cut, counts in chunk["cutflow"].items():
            acc = entry["cutflow"].setdefault(cut, {"events": 0, "weighted": 0.0, "sumw2": 0.0})
            for k in acc:
                acc[k] += counts[k]
    return {key: sum_histograms(items) for key, items in parts.items()}, cutflows


def write_merged(
    merged: dict[str, hist.Hist], cutflows: dict[str, Any], out: Path, cutflow_out: Path
) -> None:
    write_histograms(out, merged)
    write_json(cutflow_out, cutflows)


def merge(inputs: list[Path], out: Path, cutflow_out: Path) -> None:
    chunks = []
    for path in sorted(inputs, key=_order):
        cpath = cutflow_path(path)
        if not cpath.is_file():
            raise AtlasodError(f"chunk {path} has no cutflow {cpath}; rerun its process step")
        chunks.append((read_histograms(path), json.loads(cpath.read_text("utf-8"))))
    merged, cutflows = combine(chunks)
    write_merged(merged, cutflows, out, cutflow_out)
    LOG.info("merged %d chunks of %d files into %s", len(inputs), len(cutflows), out)


def data_histogram(analysis: Analysis, histograms: Mapping[str, hist.Hist], name: str) -> hist.Hist:
    """Sum of the data periods' histograms ``name``."""
    return summed(histograms, [f.stem for f in analysis.data_files], name)
