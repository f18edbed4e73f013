"""Data vs MC plots in ATLAS style (mplhep), PNG and PDF, one per histogram.

Two styles, as in the original plotting step:

- ``stack``: MC groups stacked (first group at the bottom), data points with √N
  errors, hatched MC statistical band, ratio panel Data / Pred.
- ``signal_line``: data points, the summed signal MC as a line, and (if given)
  the fit; lower panel Data − background fit.

Overflow is added to the last bin for histograms with ``overflow: fold``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from atlasod.errors import AtlasodError
from atlasod.histio import read_histograms, summed, values_and_variances
from atlasod.selection.analysis import Analysis, HistogramSpec

LOG = logging.getLogger(__name__)
FORMATS = ("png", "pdf")


@dataclass
class Component:
    label: str
    color: str
    values: np.ndarray
    variances: np.ndarray
    signal: bool = False
    stacked: bool = True
    normalise_to_stack: bool = False


def _summed(
    hists: dict[str, Any], stems: list[str], name: str, fold: bool
) -> tuple[np.ndarray, np.ndarray]:
    return values_and_variances(summed(hists, stems, name), fold)


def components(
    analysis: Analysis, hists: dict[str, Any], spec: HistogramSpec, options: dict[str, bool]
) -> tuple[Component | None, list[Component], np.ndarray]:
    """(data (None for an analysis of the simulation alone), MC groups with their factors
    applied, bin edges) of one histogram."""
    fold = spec.overflow == "fold"
    data = None
    if analysis.data_files:
        data_v, data_var = _summed(hists, [f.stem for f in analysis.data_files], spec.name, fold)
        data = Component("Data", "#000000", data_v, data_var)
    groups = []
    for g in analysis.groups:
        if not g.stacked and not g.drawn_on(spec.name):
            continue
        v, var = _summed(hists, [s.stem for s in g.samples], spec.name, fold)
        k = g.factor(options, spec.name)
        label = g.label if k == 1 else f"{g.label} (×{k:g})"
        groups.append(
            Component(label, g.color, v * k, var * k * k, g.signal, g.stacked, g.normalise_to_stack)
        )
    edges = np.linspace(spec.low, spec.high, spec.bins + 1)
    return data, groups, edges


def _labels(ax: Any, title: str, lumi_fb: float | None, data: bool = True) -> None:
    """The ATLAS Open Data label (``Simulation`` without data; no luminosity for counted,
    unweighted simulation), "for education" and the analysis' title."""
    import mplhep

    mplhep.atlas.label("Open Data", data=data, lumi=lumi_fb, com=13, ax=ax, loc=1)
    ax.text(0.05, 0.78, "for education", transform=ax.transAxes, fontsize="small", style="italic")
    ax.text(0.05, 0.71, title, transform=ax.transAxes)


def _figure(ratio: bool = True) -> tuple[Any, Any, Any]:
    """A figure with the main axes and, if ``ratio``, a ratio panel below (else None)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.ATLAS)
    if not ratio:
        fig, ax = plt.subplots(figsize=(7, 6))
        return fig, ax, None
    fig, (ax, rax) = plt.subplots(
        2,
        1,
        figsize=(7, 7.5),
        gridspec_kw={"height_ratios": [0.71, 0.29], "hspace": 0.05},
        sharex=True,
    )
    return fig, ax, rax


def _save(fig: Any, outdir: Path, name: str) -> list[Path]:
    import matplotlib.pyplot as plt

    from atlasod.histio import atomic_path

    paths = []
    for fmt in FORMATS:
        path = outdir / f"{name}.{fmt}"
        with atomic_path(path) as tmp:
            meta = {"CreationDate": None} if fmt == "pdf" else {"Software": None}
            fig.savefig(tmp, format=fmt, dpi=100, metadata=meta)
        paths.append(path)
    plt.close(fig)
    return paths


def _data_points(ax: Any, edges: np.ndarray, data: Component) -> None:
    centres = 0.5 * (edges[1:] + edges[:-1])
    ax.errorbar(
        centres,
        data.values,
        yerr=np.sqrt(data.variances),
        fmt="o",
        color="black",
        markersize=5,
        label="Data",
        zorder=5,
    )


def plot_stack(
    spec: HistogramSpec,
    title: str,
    data: Component | None,
    groups: list[Component],
    edges: np.ndarray,
    fit: dict[str, Any] | None = None,
    lumi_fb: float | None = 10.064,
) -> Any:
    """The MC stack with its statistical band, lines for unstacked signals, the data points
    and a data/MC ratio panel (without data: the simulation alone, no ratio panel)."""
    import mplhep

    from atlasod.results.fitting import fit_curve, fit_summary

    fig, ax, rax = _figure(ratio=data is not None)
    background = [g for g in groups if g.stacked]
    mplhep.histplot(
        [g.values for g in background],
        edges,
        stack=True,
        histtype="fill",
        color=[g.color for g in background],
        label=[g.label for g in background],
        ax=ax,
        edgecolor="black",
        linewidth=0.5,
    )
    total = np.sum([g.values for g in background], axis=0)
    total_err = np.sqrt(np.sum([g.variances for g in background], axis=0))
    ax.stairs(
        total + total_err,
        edges,
        baseline=total - total_err,
        fill=True,
        hatch="////",
        facecolor="none",
        edgecolor="#000099",
        linewidth=0,
        label="Stat. unc.",
    )
    for line in (g for g in groups if not g.stacked):
        values = line.values
        if line.normalise_to_stack and values.sum() > 0:
            values = values * total.sum() / values.sum()
        label = f"{line.label} (norm. to MC)" if line.normalise_to_stack else line.label
        ax.stairs(values, edges, color=line.color, linestyle="--", linewidth=2, label=label)
    if data is not None:
        _data_points(ax, edges, data)
    if fit is not None:
        fine = np.linspace(edges[0], edges[-1], 1000)
        inside = (fine >= fit.get("range", [edges[0]])[0]) & (
            fine <= fit.get("range", [0, edges[-1]])[1]
        )
        curves = fit_curve(fit, fine[inside])
        if curves is not None:
            ax.plot(fine[inside], curves[0], color="#ff0000", label="Fit")
            background = fit["parameters"].get("n_background", {})
            if not (background.get("fixed") and background.get("value") == 0):
                ax.plot(fine[inside], curves[1], color="#0000ff", linestyle="--", label="Fit bkg.")
        ax.text(0.05, 0.62, fit_summary(fit), transform=ax.transAxes, fontsize="small", va="top")
    top = 0.0 if data is None else float(np.max(data.values + np.sqrt(data.variances)))
    peak = max(float(np.max(total)), top, 1e-9)
    if spec.ylog:
        ax.set_yscale("log")
        low = max(1e-2, 0.1 * float(np.min(total[total > 0], initial=1.0)))
        ax.set_ylim(spec.ymin or low, spec.ymax or peak * 1e3)
    else:
        ax.set_ylim(spec.ymin or 0, spec.ymax or 2 * peak)
    ax.set_ylabel("Events / bin" if lumi_fb is not None else "Entries / bin")
    if data is not None:
        ax.legend(loc="upper right", fontsize="small")
    else:  # below the longer "Simulation" label
        ax.legend(loc="upper right", fontsize="small", bbox_to_anchor=(1, 0.88))
    _labels(ax, title, lumi_fb, data=data is not None)
    if data is None:
        ax.set_xlabel(spec.xlabel)
        ax.set_xlim(edges[0], edges[-1])
        return fig
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(total > 0, data.values / total, np.nan)
        ratio_err = np.where(total > 0, np.sqrt(data.variances) / total, np.nan)
        band = np.where(total > 0, total_err / total, 0)
    centres = 0.5 * (edges[1:] + edges[:-1])
    rax.stairs(
        1 + band,
        edges,
        baseline=1 - band,
        fill=True,
        hatch="////",
        facecolor="none",
        edgecolor="#000099",
        linewidth=0,
    )
    rax.errorbar(centres, ratio, yerr=ratio_err, fmt="o", color="black", markersize=4)
    rax.axhline(1, color="black", linestyle="--", linewidth=1)
    rax.set_ylim(0, 2)
    rax.set_ylabel("Data / Pred")
    rax.set_xlabel(spec.xlabel)
    rax.set_xlim(edges[0], edges[-1])
    return fig


def plot_signal_line(
    spec: HistogramSpec,
    title: str,
    data: Component,
    groups: list[Component],
    edges: np.ndarray,
    fit: dict[str, Any] | None,
    lumi_fb: float = 10.064,
) -> Any:
    from atlasod.results.fitting import model_curve

    fig, ax, rax = _figure()
    _data_points(ax, edges, data)
    signal = np.sum([g.values for g in groups if g.signal], axis=0)
    fine = np.linspace(edges[0], edges[-1], 2000)
    if fit is not None:
        full, bkg = model_curve(fit, fine)
        ax.plot(fine, full, color="#ff0000", label="Signal + bkg")
        ax.plot(fine, bkg, color="#0000ff", linestyle="--", label="Background")
        mean, sigma = fit["parameters"]["mean"], fit["parameters"]["sigma"]
        n_sig = fit["signal_yield"]
        ax.text(
            0.60,
            0.62,
            f"$m$ = {mean['value']:.2f} ± {mean['error']:.2f} GeV\n"
            f"$\\sigma$ = {sigma['value']:.2f} ± {sigma['error']:.2f} GeV\n"
            f"$N_{{sig}}$ = {n_sig['value']:.0f} ± {n_sig['error']:.0f}\n"
            f"$\\chi^2$/ndf = {fit['chi2']:.1f}/{fit['ndf']}",
            transform=ax.transAxes,
            fontsize="small",
            va="top",
        )
    ax.stairs(
        signal, edges, color="black", linewidth=2, label=groups[0].label if groups else "Signal"
    )
    top = float(np.max(data.values + np.sqrt(data.variances)))
    ax.set_ylim(0, spec.ymax or 1.5 * max(top, 1.0))  # empty data: still a valid axis
    ax.set_ylabel("Events / bin")
    ax.legend(loc="upper right", fontsize="small")
    _labels(ax, title, lumi_fb)
    centres = 0.5 * (edges[1:] + edges[:-1])
    if fit is not None:
        _, bkg_centres = model_curve(fit, centres)
        full, bkg = model_curve(fit, fine)
        rax.errorbar(
            centres,
            data.values - bkg_centres,
            yerr=np.sqrt(data.variances),
            fmt="o",
            color="black",
            markersize=4,
        )
        rax.plot(fine, full - bkg, color="#ff0000")
        rax.axhline(0, color="#0000ff", linestyle="--", linewidth=1)
        rax.set_ylabel("Data − Bkg")
    else:
        rax.stairs(signal, edges, color="black")
        rax.set_ylabel("Signal")
    rax.set_xlabel(spec.xlabel)
    rax.set_xlim(edges[0], edges[-1])
    return fig


def _red_note(fig: Any, text: str, y: float, boxed: bool = False, wrap: bool = False) -> None:
    """A red remark across the upper panel (an exercise left open, a fit not drawn)."""
    fig.axes[0].text(
        0.5,
        y,
        text,
        transform=fig.axes[0].transAxes,
        ha="center",
        wrap=wrap,
        color="#cc0000",
        fontsize="small",
        bbox={"facecolor": "white", "edgecolor": "#cc0000"} if boxed else None,
        zorder=10,
    )


def plot_analysis(
    analysis: Analysis,
    histograms_path: Path,
    outdir: Path,
    options: dict[str, bool],
    fit_path: Path | None = None,
    only: list[str] | None = None,
) -> list[Path]:
    import json

    hists = read_histograms(histograms_path)
    fit = json.loads(fit_path.read_text("utf-8")) if fit_path else None
    style = analysis.plot.get("style", "stack")
    # on the plots, as the originals label them (none on counted, unweighted simulation)
    lumi_fb = None if analysis.unweighted else analysis.lumi_pb / 1000.0
    written: list[Path] = []
    names = [h.name for h in analysis.histograms]
    for name in only or []:
        if name not in names:
            raise AtlasodError(
                f"analysis {analysis.name} has no histogram {name!r}; it has {names}"
            )
    unset = analysis.declarative.unset_cuts(options) if analysis.declarative else []
    for spec in analysis.histograms:
        if only and spec.name not in only:
            continue
        data, groups, edges = components(analysis, hists, spec, options)
        use_fit = fit if fit and fit.get("histogram") == spec.name else None
        fit_note = None
        if use_fit is not None and ("failed" in use_fit or not use_fit.get("valid", True)):
            # no curve of a fit that failed or found no peak: the reason is on the plot
            fit_note = f"no fit: {use_fit.get('failed') or use_fit.get('problem', 'see fit.json')}"
            use_fit = None
        if style == "stack":
            fig = plot_stack(spec, analysis.title, data, groups, edges, use_fit, lumi_fb)
        else:
            assert data is not None  # (refused when the analysis is loaded)
            fig = plot_signal_line(spec, analysis.title, data, groups, edges, use_fit, lumi_fb)
        if fit_note:
            _red_note(fig, fit_note, y=0.5, wrap=True)
        if unset:
            _red_note(fig, "Exercise, cut not applied yet: " + ", ".join(unset), y=0.04, boxed=True)
        written += _save(fig, outdir, spec.name)
        LOG.info("plotted %s", spec.name)
    return written
