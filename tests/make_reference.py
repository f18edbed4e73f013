"""Regenerate tests/data/reference_histograms.json from a demo run (after a deliberate change).

python -m tests.make_reference RESULTS_DIR
"""

import json
import sys
from pathlib import Path

from atlasod.histio import read_histograms

from .conftest import TEST_SCALE

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


def main() -> None:
    root = Path(sys.argv[1])
    out = {"scale": TEST_SCALE, "seed": 42, "histograms": {}}
    for analysis, keys in KEYS.items():
        merged = read_histograms(root / "demo" / analysis / "histograms.root")
        out["histograms"][analysis] = {
            k: {
                "values": merged[k].values(flow=True).tolist(),
                "variances": merged[k].variances(flow=True).tolist(),
            }
            for k in keys
        }
    path = Path(__file__).parent / "data" / "reference_histograms.json"
    path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
