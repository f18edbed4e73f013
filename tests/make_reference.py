"""Regenerate tests/data/reference_histograms.json from a demo run (after a deliberate change).

python -m tests.make_reference RESULTS_DIR [ANALYSIS ...]

With analysis names, only their entries are written (from a run of those analyses, e.g. a
new one); the others are kept as they are in the file.
"""

import json
import sys
from pathlib import Path

from atlasod.data.catalogue import Catalogue
from atlasod.histio import read_histograms
from atlasod.selection.analysis import Analysis, load_analysis

from .conftest import ANALYSES, ON_2020, TEST_SCALE

# Kept as they are for H→γγ and H→ZZ; the other analyses add their own below.
KEYS = {
    "hyy": [
        "data_D.GamGam/hist_mYY_bin1",
        "mc_343981.ggH125_gamgam.GamGam/hist_mYY_bin1",
        "data_C.GamGam/hist_mYY_cat_bin1",
    ],
    "hzz": [
        "data_D.4lep/mass_four_lep",
        "mc_363490.llll.4lep/mass_ext_four_lep",
        "mc_345060.ggH125_ZZ4lep.4lep/hist_mLL1",
        "data_B.4lep/hist_fourleptpt",
        "mc_361106.Zee.4lep/mass_four_lep",
        "mc_410013.single_top_wtchan.4lep/mass_ext_four_lep",
    ],
}


def keys_of(analysis: Analysis) -> list[str]:
    """Data period D and the first sample of every group, in the fit histogram (or the
    first one) and the last histogram."""
    if analysis.name in KEYS:
        return KEYS[analysis.name]
    names = [analysis.fit["histogram"] if analysis.fit else analysis.histograms[0].name]
    names.append(analysis.histograms[-1].name)
    stems = [analysis.data_files[-1].stem] + [g.samples[0].stem for g in analysis.groups]
    return [f"{stem}/{name}" for name in names for stem in stems]


def main() -> None:
    root, only = Path(sys.argv[1]), sys.argv[2:]
    path = Path(__file__).parent / "data" / "reference_histograms.json"
    out = {"scale": TEST_SCALE, "seed": 42, "histograms": {}}
    if only:
        out = json.loads(path.read_text())
        assert out["scale"] == TEST_SCALE, "the file was made at another scale"
    catalogue = Catalogue.load()
    for name in only or ON_2020:
        keys = keys_of(load_analysis(ANALYSES, name, catalogue))
        merged = read_histograms(root / "2020-demo" / name / "histograms.root")
        out["histograms"][name] = {
            k: {
                "values": merged[k].values(flow=True).tolist(),
                "variances": merged[k].variances(flow=True).tolist(),
            }
            for k in keys
        }
    path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
