"""H → ZZ on multiplied demo data through the Dask and the HTCondor backends: wall time and
events/s per worker against the multiplication factor N and the number of workers.

    python benchmarks/bench_multiplied.py [--factors 10 100] [--workers 1 2] [--scale 1]
        [--backends dask htcondor]

Dask: the demo files of H → ZZ (every skim it reads, at ``--scale``) and their variants are
made once into benchmarks/.cache/multiplied/ (timed: making the variants is part of the cost
of multiplied data); then, for each N and each worker count, the chunk step over every
variant on a ``dask.distributed`` LocalCluster (one thread per worker, as `atlasod dask`
runs it), best of ``--repeat``.

HTCondor (needs root): the personal pool of the tests (tests/htcondor/pool.sh); the
workflow, unchanged, in a checkout of the pool's job user; the demo files and variants made
first (`snakemake --until multiply`, timed apart), then for each N and each number of jobs
at once (``--workers``: the workers are the pool's slots) the chunk step of every variant
(`snakemake --profile workflows/profiles/htcondor --until process_variants`).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

from atlasod import plan
from atlasod.analysis import load_analysis
from atlasod.catalogue import Catalogue
from atlasod.daskrun import run

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).resolve().parent / ".cache" / "multiplied"
LOG = logging.getLogger("bench")
Row = tuple[str, int, int, int, float]  # backend, N, workers, events, wall time


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


def dask_rows(factors: list[int], workers: list[int], scale: float, repeat: int) -> list[Row]:
    rows = []
    for factor in factors:
        # the first run makes the demo files and the variants (cached afterwards)
        making, events = timed_run(factor, max(workers), scale)
        print(
            f"dask x{factor}: made the variants and ran once in {making:.1f} s ({events:,} events)",
            flush=True,
        )
        for n in workers:
            best = min(timed_run(factor, n, scale)[0] for _ in range(repeat))
            rows.append(("Dask", factor, n, events, best))
            print(f"dask x{factor}, {n} worker(s): {best:.1f} s", flush=True)
    return rows


def htcondor_rows(factors: list[int], workers: list[int], scale: float) -> list[Row]:
    sys.path.insert(0, str(REPO))
    from tests import condor_pool

    work = Path(tempfile.mkdtemp(prefix="atlasod-bench-condor-", dir="/var/tmp"))
    rows = []
    condor_pool.start(work)
    try:
        checkout = condor_pool.checkout(work, "bench")
        for factor in factors:
            options = (
                f"hzz --config source=demo demo_scale={scale} multiply={factor}"
                " chunk_entries=500000 seed=42 multiply_seed=1 multiply_smear=0.3"
            )
            start = time.monotonic()
            snakemake(work, checkout, f"--cores 2 --until multiply {options}")
            print(f"htcondor x{factor}: made the variants in {time.monotonic() - start:.1f} s")
            for n in workers:
                shutil.rmtree(checkout / "results", ignore_errors=True)
                before = len(condor_pool.condor_history("ClusterId"))
                start = time.monotonic()
                snakemake(
                    work,
                    checkout,
                    f"--profile workflows/profiles/htcondor --jobs {n} --latency-wait 10"
                    f" --until process_variants {options}",
                )
                elapsed = time.monotonic() - start
                jobs = len(condor_pool.condor_history("ClusterId")) - before
                rows.append(("HTCondor", factor, n, factor * hzz_events(scale), elapsed))
                print(f"htcondor x{factor}, {n} slot(s): {elapsed:.1f} s, {jobs} jobs", flush=True)
    finally:
        condor_pool.stop()
        shutil.rmtree(work, ignore_errors=True)
    return rows


def snakemake(work: Path, checkout: Path, arguments: str) -> None:
    from tests import condor_pool

    proc = condor_pool.in_pool(work, f"cd {checkout} && snakemake {arguments}", timeout=7200)
    if proc.returncode != 0:
        raise SystemExit(f"snakemake {arguments} failed:\n{proc.stderr[-5000:]}")


def hzz_events(scale: float) -> int:
    """Events of H → ZZ's demo inputs at ``scale`` (as the Dask run counts them)."""
    hzz = load_analysis(REPO / "analyses", "hzz", Catalogue.load())
    return sum(plan.demo_events(hzz.raw, f, scale) for f in hzz.files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--backends", nargs="+", default=["dask", "htcondor"])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    if "dask" in args.backends:
        rows += dask_rows(args.factors, args.workers, args.scale, args.repeat)
    if "htcondor" in args.backends:
        rows += htcondor_rows(args.factors, args.workers, args.scale)
    print(f"\nH → ZZ, demo scale {args.scale}")
    print("| backend | N | workers | events | wall time | events/s/worker | speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    single = {(b, f): t for b, f, w, _, t in rows if w == 1}
    for backend, factor, workers, events, best in rows:
        speedup = single.get((backend, factor), float("nan")) / best
        print(
            f"| {backend} | {factor} | {workers} | {events:,} | {best:.1f} s "
            f"| {events / best / workers:,.0f} | {speedup:.2f} |"
        )


if __name__ == "__main__":
    main()
