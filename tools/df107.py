"""Run ROOT's tutorial df107_SingleTopAnalysis.py, as shipped in the ROOT wheel, on local files.

Run with the Python of `make root-env`:

    .venv-root/bin/python tools/df107.py DATASET_DIR OUT.json [--workdir DIR]

DATASET_DIR holds the files in the layout the tutorial reads, ``1lep/Data/data_A.1lep.root``
and ``1lep/MC/mc_410011.single_top_tchan.1lep.root`` (the demo data directory of the
single-top analysis, ``data/demo/singletop``, is one).  The tutorial's own code runs
unchanged: only its input location (the EOS copy of the 2020 release) is replaced by
DATASET_DIR, and it runs with ``--full-dataset --lumi-scale 1.0`` (every entry, the weights
of 10064 pb⁻¹) in batch mode.  Its plot is written in --workdir.

OUT.json gets, per sample, the (runNumber, eventNumber) of every event the tutorial
selects, and, per group of the tutorial (data, singletop, twtb, wjets; wjets after its
× 1.1), the bin contents and squared errors of its histogram of m(W(ℓν) + b): what
tests/test_df107.py compares with the project's single-top analysis.  No code of the
tutorial is stored here: it is read from the installed ROOT.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

# the input location written in the tutorial (its --full-dataset branch)
TUTORIAL_DATASET = "root://eospublic.cern.ch//eos/opendata/atlas/OutreachDatasets/2020-01-22"
TUTORIAL = "analysis/dataframe/df107_SingleTopAnalysis.py"
GROUPS = ("data", "singletop", "twtb", "wjets")


def tutorial_source(tutorials_dir: str, dataset: Path) -> str:
    """The tutorial's code with its input location replaced by ``dataset``."""
    path = Path(tutorials_dir) / TUTORIAL
    if not path.is_file():
        raise SystemExit(f"df107: {path} not found: this ROOT has not the tutorial")
    source = path.read_text("utf-8")
    if f'"{TUTORIAL_DATASET}"' not in source:
        raise SystemExit(
            f"df107: {path} does not read {TUTORIAL_DATASET} any more: "
            "update TUTORIAL_DATASET in tools/df107.py"
        )
    return source.replace(f'"{TUTORIAL_DATASET}"', repr(str(dataset)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="directory with 1lep/Data and 1lep/MC")
    parser.add_argument("out", type=Path, help="JSON file to write")
    parser.add_argument("--workdir", type=Path, default=Path.cwd(), help="where the plot goes")
    args = parser.parse_args(argv)
    dataset = args.dataset.resolve()
    if not (dataset / "1lep").is_dir():
        raise SystemExit(f"df107: {dataset} has no 1lep folder")

    import ROOT

    source = tutorial_source(ROOT.gROOT.GetTutorialsDir(), dataset)
    out_path = args.out.resolve()
    args.workdir.mkdir(parents=True, exist_ok=True)
    os.chdir(args.workdir)
    saved_argv = sys.argv
    # the tutorial reads its options from sys.argv when its name is in argv[0]
    sys.argv = ["df107_SingleTopAnalysis.py", "-b", "--full-dataset", "--lumi-scale", "1.0"]
    namespace: dict = {"__name__": "df107"}
    try:
        exec(compile(source, TUTORIAL, "exec"), namespace)  # ROOT's own tutorial, unchanged
    finally:
        sys.argv = saved_argv

    events = {}
    for sample, frame in namespace["df"].items():
        columns = frame.AsNumpy(["runNumber", "eventNumber"])
        pairs = zip(columns["runNumber"], columns["eventNumber"], strict=True)
        events[sample] = sorted([int(r), int(e)] for r, e in pairs)
    histograms = {}
    for group in GROUPS:
        h = namespace[group]
        bins = range(0, h.GetNbinsX() + 2)  # with the under- and overflow
        histograms[group] = {
            "edges": [h.GetXaxis().GetBinLowEdge(i) for i in range(1, h.GetNbinsX() + 2)],
            "values": [h.GetBinContent(i) for i in bins],
            "variances": [h.GetBinError(i) ** 2 for i in bins],
        }
    out_path.write_text(
        json.dumps({"events": events, "histograms": histograms}, indent=1) + "\n", "utf-8"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
