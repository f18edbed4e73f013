"""Yields per process group and the cutflow, as JSON and as a Markdown table."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from atlasod.errors import AtlasodError
from atlasod.histio import atomic_path, write_json
from atlasod.selection.analysis import Analysis


def compute_yields(
    analysis: Analysis, cutflows: dict[str, Any], options: dict[str, bool]
) -> dict[str, Any]:
    """Selected events (data) and weighted yields ± stat (MC groups, with group factors)."""

    def final(file: str) -> dict[str, float]:
        try:
            flow = cutflows[file]["cutflow"]
        except KeyError:
            raise AtlasodError(f"no cutflow for {file}; rerun the merge step") from None
        return flow[list(flow)[-1]]

    def cuts(files: list[str], factor: float) -> dict[str, float]:
        names = list(cutflows[files[0]]["cutflow"])
        return {
            c: factor * sum(cutflows[f]["cutflow"][c]["weighted"] for f in files) for c in names
        }

    out: dict[str, Any] = {
        "analysis": analysis.name,
        "options": options,
        "groups": {},
        "cutflow": {},
    }
    data_files = [f.file for f in analysis.data_files]
    # selected events per data period (the 2025 notebooks print them), and in all (None:
    # an analysis of the simulation alone)
    periods = {str(f.period): int(final(f.file)["events"]) for f in analysis.data_files}
    out["data"] = sum(periods.values()) if data_files else None
    out["data_periods"] = periods
    if data_files:
        out["cutflow"]["Data"] = cuts(data_files, 1.0)
    total, total_var = 0.0, 0.0
    for group in analysis.groups:
        factor = group.factor(options)
        files = [s.file for s in group.samples]
        value = factor * sum(final(f)["weighted"] for f in files)
        var = factor**2 * sum(final(f)["sumw2"] for f in files)
        out["groups"][group.name] = {
            "yield": value,
            "stat": math.sqrt(var),
            "factor": factor,
            "mc_events": int(sum(final(f)["events"] for f in files)),
            "samples": {s.short_name: factor * final(s.file)["weighted"] for s in group.samples},
            "in_total": group.stacked,
        }
        out["cutflow"][group.name] = cuts(files, factor)
        if group.stacked:  # a line-drawn (BSM) signal is not part of the prediction
            total += value
            total_var += var
    out["total_mc"] = {"yield": total, "stat": math.sqrt(total_var)}
    return out


def markdown_table(result: dict[str, Any]) -> str:
    lines = [
        f"# Yields: {result['analysis']}",
        "",
        "| process | yield | stat. | MC events |",
        "|---|---:|---:|---:|",
    ]
    for name, g in result["groups"].items():
        tag = f" (x{g['factor']:g})" if g["factor"] != 1 else ""
        tag += "" if g.get("in_total", True) else " (not in total)"
        lines.append(f"| {name}{tag} | {g['yield']:.3f} | {g['stat']:.3f} | {g['mc_events']} |")
    lines.append(
        f"| **total MC** | {result['total_mc']['yield']:.3f} | {result['total_mc']['stat']:.3f} | |"
    )
    if result["data"] is not None:
        lines.append(f"| **data** | {result['data']} | | |")
    lines += ["", "## Cutflow", ""]
    columns = list(result["cutflow"])
    lines.append("| cut | " + " | ".join(columns) + " |")
    lines.append("|---|" + "---:|" * len(columns))
    for cut in result["cutflow"][columns[0]]:
        lines.append(
            f"| {cut} | " + " | ".join(f"{result['cutflow'][c][cut]:.6g}" for c in columns) + " |"
        )
    periods = result.get("data_periods") or {}
    if len(periods) > 1:
        lines += ["", "## Selected data events per period", "", "| period | events |", "|---|---:|"]
        lines += [f"| {p} | {n} |" for p, n in periods.items()]
    return "\n".join(lines) + "\n"


def write_yields(
    analysis: Analysis, cutflow: Path, out: Path, table: Path, options: dict[str, bool]
) -> dict[str, Any]:
    if not cutflow.is_file():
        raise AtlasodError(f"cutflow file {cutflow} does not exist; rerun the merge step")
    result = compute_yields(analysis, json.loads(cutflow.read_text("utf-8")), options)
    write_json(out, result)
    with atomic_path(table) as tmp:
        tmp.write_text(markdown_table(result), encoding="utf-8")
    return result
