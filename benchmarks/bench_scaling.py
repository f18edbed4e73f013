"""Scaling of the chunk step: memory per job as the input grows, throughput with workers.

    python benchmarks/bench_scaling.py [--sizes 0.5 1 2 4] [--chunk-entries 500000]

For growing inputs (a demo H→γγ ``data_D.GamGam.root`` of 0.5 M to 4 M events, cached in
benchmarks/.cache/), measured side by side in one run:

- memory: the peak RSS (GNU time) of each chunk job (``atlasod process`` in its own process, as a
  Snakemake or HTCondor job runs it), which should stay flat as the input grows because a
  job reads a fixed number of entries;
- throughput: events/s of the chunk step on a ``dask.distributed`` LocalCluster with 1 and
  with 2 workers (one thread each), and their ratio.
"""

from __future__ import annotations

import argparse
import logging
import math
import subprocess
import sys
import time
from pathlib import Path

from atlasod.data.catalogue import Catalogue
from atlasod.demo.generate import demo_event_count, generate_file
from atlasod.run.daskrun import Task, _run_task
from atlasod.selection.analysis import load_analysis

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).resolve().parent / ".cache"


def demo_file(events: int) -> tuple[Path, int]:
    catalogue = Catalogue.load()
    hyy = load_analysis(REPO / "analyses", "hyy", catalogue)
    sample = hyy.file("data_D.GamGam")
    scale = events / demo_event_count(hyy, sample, 1.0)
    path = CACHE / f"scaling-{events}" / sample.file
    if not path.exists():
        print(f"generating {events:,} demo events into {path} ...", flush=True)
        generate_file(hyy, catalogue, sample, path, seed=42, scale=scale)
    return path, demo_event_count(hyy, sample, scale)


def peak_rss_mb(path: Path, index: int, n_chunks: int, tmp: Path) -> float:
    """Peak RSS of one chunk job run as its own process (MB), measured by GNU time."""
    report = tmp / "time.txt"
    subprocess.run(
        [
            "/usr/bin/time",
            "-f",
            "%M",
            "-o",
            str(report),
            sys.executable,
            "-m",
            "atlasod",
            "--analyses-dir",
            str(REPO / "analyses"),
            "process",
            "--analysis",
            "hyy",
            "--file",
            "data_D.GamGam",
            "--input",
            str(path),
            "--chunk",
            str(index),
            "--n-chunks",
            str(n_chunks),
            "--out",
            str(tmp / f"{index}.root"),
            "--cutflow",
            str(tmp / f"{index}.json"),
        ],
        check=True,
        capture_output=True,
    )
    return int(report.read_text().split()[-1]) / 1024  # GNU time reports kB


def throughput(path: Path, entries: int, n_chunks: int, workers: int) -> float:
    from distributed import Client, LocalCluster

    tasks = [
        Task(str(REPO / "analyses"), "hyy", None, "data_D.GamGam", str(path), i, n_chunks, 10064.0)
        for i in range(n_chunks)
    ]
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, silence_logs=logging.WARNING
        ) as cluster,
        Client(cluster) as client,
    ):
        client.gather(client.map(_run_task, tasks[:workers], pure=False))  # warm up imports
        t0 = time.perf_counter()
        client.gather(client.map(_run_task, tasks, pure=False))
        return entries / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[0.5, 1, 2, 4])
    parser.add_argument("--chunk-entries", type=int, default=500_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = []
    tmp = CACHE / "scaling-chunks"
    tmp.mkdir(parents=True, exist_ok=True)
    for millions in args.sizes:
        path, entries = demo_file(int(millions * 1_000_000))
        n_chunks = max(1, math.ceil(entries / args.chunk_entries))
        # the largest peak RSS among the chunk jobs of this input, each in a fresh process
        rss = max(peak_rss_mb(path, i, n_chunks, tmp) for i in range(n_chunks))
        one = throughput(path, entries, n_chunks, 1)
        two = throughput(path, entries, n_chunks, 2)
        rows.append((entries, n_chunks, rss, one, two))
        print(
            f"{entries:>10,} events {n_chunks:>3} chunks  peak RSS/job {rss:6.0f} MB  "
            f"1 worker {one / 1e6:5.2f} M ev/s  2 workers {two / 1e6:5.2f} M ev/s  "
            f"ratio {two / one:4.2f}",
            flush=True,
        )
    print("\n| events | chunks | peak RSS per job | 1 worker | 2 workers | 2 / 1 |")
    print("|---:|---:|---:|---:|---:|---:|")
    for entries, n, rss, one, two in rows:
        print(
            f"| {entries:,} | {n} | {rss:.0f} MB | {one / 1e6:.2f} M/s | {two / 1e6:.2f} M/s "
            f"| {two / one:.2f} |"
        )


if __name__ == "__main__":
    main()
