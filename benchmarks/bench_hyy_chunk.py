"""Throughput of the H→γγ chunk step against uproot alone reading the same branches.

    python benchmarks/bench_hyy_chunk.py [--events 5000000] [--repeat 3]

Generates (once, cached in benchmarks/.cache/) a demo data_D.GamGam.root with at least
``--events`` events, then measures side by side, in one run and on one core:

- uproot: read and decompress the branches the analysis needs (``tree.iterate``);
- process: the full chunk step (read, select, weight, fill histograms).

Prints events/s/core for each and their ratio (process time / read time).
"""

from __future__ import annotations

import argparse
import logging
import math
import statistics
import time
from pathlib import Path

import uproot

from atlasod.analysis import load_analysis
from atlasod.catalogue import Catalogue
from atlasod.demo import demo_event_count, generate_file
from atlasod.processing import READ_STEP, process_chunk

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).resolve().parent / ".cache"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    catalogue = Catalogue.load()
    hyy = load_analysis(REPO / "analyses", "hyy", catalogue)
    sample = hyy.file("data_D.GamGam")
    scale = math.ceil(args.events / demo_event_count(hyy, sample, 1.0))
    path = CACHE / f"scale{scale}" / sample.file
    if not path.exists():
        print(f"generating {demo_event_count(hyy, sample, scale):,} demo events into {path} ...")
        generate_file(hyy, catalogue, sample, path, seed=42, scale=scale)
    tree = uproot.open(path)["mini"]
    n = tree.num_entries
    branches = hyy.selection.BRANCHES

    def read_only() -> None:
        for _ in tree.iterate(branches, step_size=READ_STEP):
            pass

    def process() -> None:
        process_chunk(hyy, sample, str(path), 0, 1, 10064.0, catalogue)

    timings: dict[str, list[float]] = {"uproot read": [], "chunk step": []}
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        for name, func in (("uproot read", read_only), ("chunk step", process)):
            t0 = time.perf_counter()
            func()
            timings[name].append(time.perf_counter() - t0)
    print(
        f"\n{n:,} events, {len(branches)} branches, {path.stat().st_size / 1e6:.0f} MB, "
        f"best of {args.repeat}, one core"
    )
    best = {k: min(v) for k, v in timings.items()}
    for name, values in timings.items():
        print(
            f"  {name:12s} {best[name]:7.2f} s  {n / best[name] / 1e6:6.2f} M events/s/core  "
            f"(median {statistics.median(values):.2f} s)"
        )
    print(f"  ratio chunk step / uproot read: {best['chunk step'] / best['uproot read']:.2f}")


if __name__ == "__main__":
    main()
