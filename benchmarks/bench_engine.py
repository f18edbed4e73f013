"""The chunk step against the read floor and ROOT's RDataFrame, on files in the real layout.

    python benchmarks/bench_engine.py [--analyses hyy hzz ttbar] [--repeat 2] [--scale 1]

For each analysis it generates (once, cached in ``benchmarks/.cache/``) a large demo data
file, rewrites it with ROOT in the layout of the real 2020 files (``tools/real_layout.py``:
``std::vector<T>`` branches, ``UInt_t`` counters, ZLIB level 1) and then measures, side by
side and interleaved in one run:

- uproot reading and decompressing the branches the selection needs (the read floor), as
  the chunk step reads them (plain file reads, branches in groups, batches within a memory
  budget that end on the file's cluster boundaries) and with uproot's defaults
  (memory-mapped, all branches at once, ``iterate``);
- the chunk step (read, select, weight, fill the histograms), one core;
- RDataFrame running the same selection (``benchmarks/rdf_selections.py``), one thread and
  with implicit multi-threading on every core.

It prints seconds and events/s/core (best of ``--repeat``), the ratios chunk step / read and
RDataFrame / chunk step, and checks that RDataFrame selects the same number of events.
ROOT runs in its own environment (``make root-env``); ``--root-python`` names it.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import uproot

from atlasod.data.catalogue import Catalogue
from atlasod.data.trees import READ_STEP, open_tree, read_batches
from atlasod.demo.generate import demo_event_count, generate_file
from atlasod.selection.analysis import load_analysis
from atlasod.selection.chunk import process_chunk

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).resolve().parent / ".cache"
LUMI_PB = 10064.0
# (analysis, data file, events) of each benchmark: the largest data file of each analysis
SAMPLES = {
    "hyy": ("data_D.GamGam", 5_000_000),
    "hzz": ("data_D.4lep", 2_000_000),
    "ttbar": ("data_D.1lep", 2_000_000),
}


def real_layout_file(name: str, catalogue: Catalogue, size: float, root_python: str) -> Path:
    """The benchmark file of ``name`` in the real layout (generated and converted once)."""
    analysis = load_analysis(REPO / "analyses", name, catalogue)
    stem, events = SAMPLES[name]
    sample = analysis.file(stem)
    scale = math.ceil(events * size / demo_event_count(analysis, sample, 1.0))
    demo = CACHE / name / f"scale{scale}" / sample.file
    real = demo.with_name(f"real.{sample.file}")
    if not demo.exists():
        n = demo_event_count(analysis, sample, scale)
        print(f"generating {n:,} demo events into {demo} ...", flush=True)
        generate_file(analysis, catalogue, sample, demo, seed=42, scale=scale)
    if not real.exists():
        print(f"rewriting {demo.name} in the real layout with ROOT ...", flush=True)
        tool = str(REPO / "tools" / "real_layout.py")
        subprocess.run([root_python, "-W", "ignore", tool, str(demo), str(real)], check=True)
    return real


def rdf(root_python: str, name: str, path: Path, threads: int) -> dict[str, float]:
    script = str(REPO / "benchmarks" / "rdf_selections.py")
    cmd = [root_python, "-W", "ignore", script, name, str(path), "--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench(name: str, path: Path, catalogue: Catalogue, repeat: int, root_python: str) -> None:
    analysis = load_analysis(REPO / "analyses", name, catalogue)
    sample = analysis.file(SAMPLES[name][0])
    tree = open_tree(str(path), analysis.release)
    n, branches = tree.num_entries, analysis.selection.BRANCHES
    cores = os.cpu_count() or 1
    selected: dict[str, int] = {}

    def read() -> None:  # as the chunk step reads: same file access, same steps
        for _ in read_batches(open_tree(str(path), analysis.release), branches, 0, n):
            pass

    def read_default() -> None:  # uproot's defaults: memory-mapped, all branches at once
        for _ in uproot.open(path)["mini"].iterate(branches, step_size=READ_STEP):
            pass

    def chunk() -> None:
        result = process_chunk(analysis, sample, str(path), 0, 1, LUMI_PB, catalogue)
        selected["chunk step"] = int(list(result.cutflow.values())[-1]["events"])

    def rdf_run(threads: int) -> Callable[[], float]:
        def run() -> float:
            out = rdf(root_python, name, path, threads)
            selected[f"RDataFrame {threads}"] = int(out["selected"])
            return float(out["seconds"])

        return run

    steps: dict[str, tuple[Callable[[], object], int]] = {
        "uproot read": (read, 1),
        "uproot read, defaults": (read_default, 1),
        "chunk step": (chunk, 1),
        "RDataFrame, 1 thread": (rdf_run(0), 1),
        f"RDataFrame, {cores} threads": (rdf_run(cores), cores),
    }
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(repeat):  # interleaved, so that all see the same machine load
        for label, (func, _cores) in steps.items():
            t0 = time.perf_counter()
            value = func()
            elapsed = time.perf_counter() - t0
            times[label].append(value if isinstance(value, float) else elapsed)
    best = {k: min(v) for k, v in times.items()}
    size = path.stat().st_size / 1e6
    print(f"\n{name}: {n:,} events, {len(branches)} branches, {size:.0f} MB, best of {repeat}")
    for label, (_, used) in steps.items():
        rate = n / best[label] / used / 1e6
        print(f"  {label:24s} {best[label]:7.2f} s  {rate:6.2f} M events/s/core")
    chunk, read, rdf1 = best["chunk step"], best["uproot read"], best["RDataFrame, 1 thread"]
    print(f"  chunk step / uproot read:      {chunk / read:.2f}")
    print(f"  chunk step / uproot defaults:  {chunk / best['uproot read, defaults']:.2f}")
    print(f"  RDataFrame 1 thread / chunk:   {rdf1 / chunk:.2f}")
    counts = set(selected.values())
    verdict = "same" if len(counts) == 1 else "DIFFERENT"
    print(f"  selected events: {selected} ({verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--analyses", nargs="+", default=list(SAMPLES), choices=list(SAMPLES))
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the default size")
    parser.add_argument("--root-python", default=str(REPO / ".venv-root" / "bin" / "python"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    catalogue = Catalogue.load()
    for name in args.analyses:
        path = real_layout_file(name, catalogue, args.scale, args.root_python)
        bench(name, path, catalogue, args.repeat, args.root_python)


if __name__ == "__main__":
    main()
