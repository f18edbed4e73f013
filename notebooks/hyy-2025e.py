# ---
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
# # H → γγ: the analysis step by step
#
# The first two photons tight, pT > 50 / 30 GeV, ptcone20/pT < 0.055 both, outside the crack
# 1.37-1.52, pT/m > 0.35 both and 100 < m(γγ) < 160 GeV (the 2025 programs); no trigger
# requirement. The background is taken from a fit to data.
#
# Release 2025e: ATLAS Open Data 13 TeV for education, 2025 beta (about 36 fb⁻¹ of 2015-16 data).
#
# This notebook is generated from `analyses/hyy/` by
# `atlasod notebook --analysis hyy --release 2025e`: it calls the same engine as the
# Snakemake workflow (`snakemake --cores 4 hyy --config release=2025e`),
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

ANALYSIS = "hyy"
RELEASE = "2025e"  # the ATLAS Open Data release
SOURCE = os.environ.get("ATLASOD_SOURCE", "demo")  # "demo" (offline) or "real"
DEMO_SCALE = float(os.environ.get("ATLASOD_DEMO_SCALE", "0.2"))  # size of the demo samples
OUTPUT = Path(os.environ.get("ATLASOD_WORK", "notebook-output"))
WORK = OUTPUT / f"{RELEASE}-{SOURCE}" / ANALYSIS
REPO = Path(os.environ.get("ATLASOD_REPO", ".."))  # the repository root

catalogue = Catalogue.load(release=RELEASE)
analysis = load_analysis(REPO / "analyses", ANALYSIS, catalogue)
# the luminosity (pb⁻¹) of the analysis on its release: reference 2025e §5.2: the C++ framework's
# HyyAnalysis, 36000 pb⁻¹
LUMI_PB = analysis.lumi_pb
print(f"{analysis.title}: {len(analysis.files)} files, {len(analysis.histograms)} histograms")

try:
    from IPython.display import Image, display
except ImportError:  # run as a plain script
    Image = display = None

# %% [markdown]
# ## 1. The input files
# The data periods and the simulated samples, grouped as on the plots.

# %%
for group in analysis.groups:
    print(f"{group.name}: {', '.join(s.short_name for s in group.samples)}")


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
# reads no data), the branches the selection reads (GeV).

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
    print(f"{cut:45s} {int(mask.sum()):7d}")

# %% [markdown]
# ## 4. Every file: select, weight, histogram
# As the workflow's chunk step does; MC events are weighted to {LUMI_PB} pb⁻¹.

# %%
chunks = []
for sample in analysis.files:
    result = process_chunk(analysis, sample, location(sample), 0, 1, LUMI_PB, catalogue)
    histograms = {f"{sample.stem}/{name}": h for name, h in result.histograms.items()}
    record = {"file": sample.file, "entries": result.entries, "cutflow": result.cutflow}
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
for path in plot_analysis(analysis, WORK / "histograms.root", WORK / "plots", {}, only=[first]):
    if path.suffix == ".png":
        display(Image(filename=str(path))) if display else print(path)
plt.close("all")

# %% [markdown]
# ## 6. The fit
# `poly3_gauss` of `hist_mYY_bin1`, as the workflow's fit step.

# %%
from atlasod.results.fitting import fit_analysis

result = fit_analysis(analysis, WORK / "histograms.root", WORK / "fit.json", {}, catalogue)
keys = ("parameters", "normalisation", "signal_strength", "upper_limit", "significance")
for key in (*keys, "n_signal", "n_background"):
    if key in result:
        print(key, result[key])
