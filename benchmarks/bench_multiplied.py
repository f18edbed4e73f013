"""H → ZZ on multiplied demo data through the Dask backend: wall time and events/s per worker
against the multiplication factor N and the number of workers.

    python benchmarks/bench_multiplied.py [--factors 10 100] [--workers 1 2] [--scale 1]

The demo files of H → ZZ (every skim it reads, at ``--scale``) and their variants are made
once into benchmarks/.cache/multiplied/ (timed: making the variants is part of the cost of
multiplied data); then, side by side in one run, for each N and each worker count, the
chunk step over every variant on a ``dask.distributed`` LocalCluster (one thread per worker,
as `atlasod dask` runs it), best of ``--repeat``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from atlasod.analysis import load_analysis
from atlasod.catalogue import Catalogue
from atlasod.daskrun import run

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).resolve().parent / ".cache" / "multiplied"
LOG = logging.getLogger("bench")


def config(factor: int, scale: float) -> dict:
    return {
        "source": "demo",
        "data_dir": str(CACHE / f"scale{scale}" / "data"),
        "results_dir": str(CACHE / f"scale{scale}" / "results"),
        "lumi_pb": 10064.0,
        "chunk_entries": 500_000,
        "seed": 42,
        "demo_scale": scale,
        "multiply": factor,
        "multiply_seed": 1,
        "multiply_smear": 0.3,
        "hzz_zz_factor": True,
    }


def timed_run(factor: int, workers: int, scale: float) -> tuple[float, int]:
    """Wall time of the chunk step over every variant, and the events read."""
    catalogue = Catalogue.load()
    hzz = load_analysis(REPO / "analyses", "hzz", catalogue)
    cfg = config(factor, scale)
    start = time.monotonic()
    out = run(hzz, cfg, REPO / "analyses", None, None, workers)
    elapsed = time.monotonic() - start
    cutflow = json.loads((out.parent / "cutflow.json").read_text())
    return elapsed, sum(c["entries"] for c in cutflow.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    for factor in args.factors:
        # the first run makes the demo files and the variants (cached afterwards)
        making, events = timed_run(factor, max(args.workers), args.scale)
        print(
            f"x{factor}: made the variants and ran once in {making:.1f} s ({events:,} events)",
            flush=True,
        )
        for workers in args.workers:
            best = min(timed_run(factor, workers, args.scale)[0] for _ in range(args.repeat))
            rows.append((factor, workers, events, best))
            print(f"x{factor}, {workers} worker(s): {best:.1f} s", flush=True)
    print("\n| N | workers | events | wall time | events/s/worker | speed-up vs 1 worker |")
    print("|---:|---:|---:|---:|---:|---:|")
    single = {f: t for f, w, _, t in rows if w == 1}
    for factor, workers, events, best in rows:
        speedup = single.get(factor, float("nan")) / best
        print(
            f"| {factor} | {workers} | {events:,} | {best:.1f} s "
            f"| {events / best / workers:,.0f} | {speedup:.2f} |"
        )


if __name__ == "__main__":
    main()
