"""H → ZZ on multiplied demo data through the Dask and the HTCondor backends: wall time and
events/s per worker against the multiplication factor N and the number of workers.

    python benchmarks/bench_multiplied.py [--factors 10 100] [--workers 1 2] [--scale 1]
        [--backends dask htcondor] [--plot benchmarks/multiplied_scaling.png]

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

Every measurement is also kept in benchmarks/.cache/multiplied/rows.json (one entry per
backend, N, workers and scale: the latest); ``--plot`` draws all of them (and measures
nothing when given with ``--backends`` empty).
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

from atlasod.data import plan
from atlasod.data.catalogue import Catalogue
from atlasod.run.daskrun import run
from atlasod.selection.analysis import load_analysis

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
            # (the target first: --until takes every name that follows it)
            options = (
                f"--config analyses=[hzz] source=demo demo_scale={scale} multiply={factor}"
                " chunk_entries=500000 seed=42 multiply_seed=1 multiply_smear=0.3"
            )
            start = time.monotonic()
            snakemake(work, checkout, f"hzz --cores 2 --until multiply {options}")
            print(f"htcondor x{factor}: made the variants in {time.monotonic() - start:.1f} s")
            for n in workers:
                shutil.rmtree(checkout / "results", ignore_errors=True)
                before = len(condor_pool.condor_history("ClusterId"))
                start = time.monotonic()
                snakemake(
                    work,
                    checkout,
                    f"hzz --profile workflows/profiles/htcondor --jobs {n} --latency-wait 10"
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
    return sum(plan.demo_events(hzz.raw, f, scale, hzz.release) for f in hzz.files)


def keep(rows: list[Row], scale: float) -> list[dict]:
    """Add ``rows`` to benchmarks/.cache/multiplied/rows.json; return all kept rows."""
    path = CACHE / "rows.json"
    kept = {
        (r["backend"], r["factor"], r["workers"], r["scale"]): r
        for r in (json.loads(path.read_text()) if path.is_file() else [])
    }
    for backend, factor, workers, events, wall in rows:
        kept[(backend, factor, workers, scale)] = {
            "backend": backend,
            "factor": factor,
            "workers": workers,
            "scale": scale,
            "events": events,
            "wall_s": round(wall, 1),
        }
    out = sorted(kept.values(), key=lambda r: (r["backend"], r["scale"], r["factor"], r["workers"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")
    return out


def plot(rows: list[dict], out: Path) -> None:
    """Wall time against events (N × the demo inputs), and events/s per worker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    series = sorted({(r["backend"], r["workers"], r["scale"]) for r in rows})
    for backend, workers, scale in series:
        points = sorted(
            (r["events"], r["wall_s"], r["factor"])
            for r in rows
            if (r["backend"], r["workers"], r["scale"]) == (backend, workers, scale)
        )
        label = f"{backend}, {workers} worker{'s' if workers > 1 else ''}, demo scale {scale:g}"
        events = [p[0] for p in points]
        left.plot(events, [p[1] for p in points], "o-", label=label)
        right.plot(events, [p[0] / p[1] / workers for p in points], "o-", label=label)
        for e, w, f in points:
            left.annotate(f"×{f}", (e, w), textcoords="offset points", xytext=(4, -10))
    left.set(xscale="log", yscale="log", xlabel="events read", ylabel="wall time [s]")
    right.set(xscale="log", xlabel="events read", ylabel="events / s / worker")
    right.set_ylim(bottom=0)
    left.legend(fontsize=8)
    left.grid(alpha=0.3, which="both")
    right.grid(alpha=0.3, which="both")
    fig.suptitle("H → ZZ on multiplied demo data (chunk step), 2-core machine")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", type=int, nargs="+", default=[10, 100])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--backends", nargs="*", default=["dask", "htcondor"])
    parser.add_argument("--plot", type=Path, help="draw every kept measurement into this PNG")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    if "dask" in args.backends:
        rows += dask_rows(args.factors, args.workers, args.scale, args.repeat)
    if "htcondor" in args.backends:
        rows += htcondor_rows(args.factors, args.workers, args.scale)
    kept = keep(rows, args.scale)
    if args.plot:
        plot(kept, args.plot)
    if not rows:
        return
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
