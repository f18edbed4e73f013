"""The notebook view of an analysis: the workflow's steps, one cell each, on the same engine.

``atlasod notebook --analysis NAME`` writes ``notebooks/NAME.py`` (``--release 2025e``:
``notebooks/NAME-2025e.py``, the analysis on that release), a Jupyter notebook in
jupytext's percent format (open it in Jupyter or SWAN with jupytext, or convert it with
``jupytext --to ipynb notebooks/NAME.py``).  It runs top to bottom on demo data, offline, and
on the real data with ``SOURCE = "real"`` (read remotely).  The workflow stays the
reproducible version; the notebook is for looking at each step.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from atlasod.histio import atomic_path
from atlasod.selection.analysis import DEFAULT_RELEASE, Analysis

TEMPLATE = '''# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # {title}: the analysis step by step
#
# {description}
#
# {release_line}
#
# This notebook is generated from `analyses/{name}/` by
# `atlasod notebook --analysis {name}{release_option}`: it calls the same engine as the
# Snakemake workflow (`snakemake --cores 4 {name}{release_config}`),
# one step per cell, so that each step can be looked at.  It runs on generated demo data,
# offline; set `SOURCE = "real"` to read the ATLAS Open Data files remotely instead.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import uproot

from atlasod.data.catalogue import Catalogue
from atlasod.demo.generate import generate_file
from atlasod.results.merging import combine, write_merged
from atlasod.results.plotting import plot_analysis
from atlasod.selection.analysis import load_analysis
from atlasod.selection.chunk import process_chunk

ANALYSIS = "{name}"
RELEASE = "{release}"  # the ATLAS Open Data release
SOURCE = os.environ.get("ATLASOD_SOURCE", "demo")  # "demo" (offline) or "real"
DEMO_SCALE = float(os.environ.get("ATLASOD_DEMO_SCALE", "0.2"))  # size of the demo samples
OUTPUT = Path(os.environ.get("ATLASOD_WORK", "notebook-output"))
WORK = OUTPUT / f"{{RELEASE}}-{{SOURCE}}" / ANALYSIS
REPO = Path(os.environ.get("ATLASOD_REPO", ".."))  # the repository root

catalogue = Catalogue.load(release=RELEASE)
analysis = load_analysis(REPO / "analyses", ANALYSIS, catalogue)
{lumi_comment}
LUMI_PB = analysis.lumi_pb
print(f"{{analysis.title}}: {{len(analysis.files)}} files, {{len(analysis.histograms)}} histograms")

try:
    from IPython.display import Image, display
except ImportError:  # run as a plain script
    Image = display = None

# %% [markdown]
# ## 1. The input files
# The data periods and the simulated samples, grouped as on the plots.

# %%
for group in analysis.groups:
    print(f"{{group.name}}: {{', '.join(s.short_name for s in group.samples)}}")


def location(sample):
    """Where a file is read from: a generated demo file, or the real file over the network."""
    if SOURCE == "real":
        return catalogue.urls(sample)[0]
    path = WORK / "data" / sample.relpath
    if not path.exists():
        generate_file(analysis, catalogue, sample, path, seed=42, scale=DEMO_SCALE, lumi_pb=LUMI_PB)
    return str(path)


# %% [markdown]
# ## 2. The events
# The first events of the last data period (of the last simulated sample if the analysis
# reads no data), the branches the selection reads ({unit}).

# %%
sample = (analysis.data_files or analysis.mc_files)[-1]
tree = uproot.open(location(sample))[analysis.release.tree]
events = tree.arrays(analysis.selection.BRANCHES, entry_stop=1000)
events[:3].show()

# %% [markdown]
# ## 3. The selection, cut by cut

# %%
selected = analysis.selection.select_events(events, analysis.selection_options)
for cut, mask in selected.cutflow.items():
    print(f"{{cut:45s}} {{int(mask.sum()):7d}}")

# %% [markdown]
# ## 4. Every file: select, weight, histogram
# As the workflow's chunk step does; {weighting}.

# %%
chunks = []
for sample in analysis.files:
    result = process_chunk(analysis, sample, location(sample), 0, 1, LUMI_PB, catalogue)
    histograms = {{f"{{sample.stem}}/{{name}}": h for name, h in result.histograms.items()}}
    record = {{"file": sample.file, "entries": result.entries, "cutflow": result.cutflow}}
    chunks.append((sample.stem, histograms, record))
chunks.sort(key=lambda c: c[0])
merged, cutflows = combine([(h, r) for _, h, r in chunks])
write_merged(merged, cutflows, WORK / "histograms.root", WORK / "cutflow.json")
print(sum(c["entries"] for c in cutflows.values()), "events processed")

# %% [markdown]
# ## 5. Data and simulation
# The first histogram of the analysis, as the workflow draws it.

# %%
first = analysis.histograms[0].name
for path in plot_analysis(analysis, WORK / "histograms.root", WORK / "plots", {{}}, only=[first]):
    if path.suffix == ".png":
        display(Image(filename=str(path))) if display else print(path)
plt.close("all")
{fit_cells}'''

FIT_CELLS = """
# %% [markdown]
# ## 6. The fit
# `{model}` of `{histogram}`, as the workflow's fit step.

# %%
from atlasod.results.fitting import fit_analysis

result = fit_analysis(analysis, WORK / "histograms.root", WORK / "fit.json", {{}}, catalogue)
keys = ("parameters", "normalisation", "signal_strength", "upper_limit", "significance")
for key in (*keys, "n_signal", "n_background"):
    if key in result:
        print(key, result[key])
"""


def render(analysis: Analysis) -> str:
    fit = ""
    if analysis.fit:
        fit = FIT_CELLS.format(model=analysis.fit["model"], histogram=analysis.fit["histogram"])
    description = "\n# ".join(
        textwrap.wrap(" ".join((analysis.raw.get("description") or "").split()), 95)
    )
    release = analysis.release
    other = release.name != DEFAULT_RELEASE  # the workflow's and the command's default
    return TEMPLATE.format(
        name=analysis.name,
        title=analysis.title,
        description=description,
        fit_cells=fit,
        release=release.name,
        release_line="\n# ".join(textwrap.wrap(f"Release {release.name}: {release.title}.", 95)),
        release_option=f" --release {release.name}" if other else "",
        release_config=f" --config release={release.name}" if other else "",
        lumi_comment="\n".join(
            f"# {line}"
            for line in textwrap.wrap(
                f"the luminosity (pb⁻¹) of the analysis on its release: {analysis.lumi_source}", 95
            )
        ),
        unit="GeV" if release.gev == 1.0 else "MeV",
        weighting=(
            "MC events are counted once each (the analysis is unweighted)"
            if analysis.unweighted
            else "MC events are weighted to {LUMI_PB} pb⁻¹"
        ),
    )


def notebook_name(analysis: Analysis) -> str:
    """``<name>`` on the default release (2020), else ``<name>-<release>`` (whichever release
    the folder's top level describes: the name says what the commands need)."""
    if analysis.release.name == DEFAULT_RELEASE:
        return analysis.name
    return f"{analysis.name}-{analysis.release.name}"


def write_notebook(analysis: Analysis, out: Path) -> Path:
    with atomic_path(out) as tmp:
        tmp.write_text(render(analysis), encoding="utf-8")
    return out
