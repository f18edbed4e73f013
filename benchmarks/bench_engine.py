"""The chunk step against the read floor and ROOT's RDataFrame, on files in the real layout.

    python benchmarks/bench_engine.py [--analyses hyy hzz ttbar] [--repeat 2] [--scale 1]
                                      [--release 2020|2025e] [--memory]

For each analysis it generates (once, cached in ``benchmarks/.cache/``) a large demo data
file, rewrites it with ROOT in the layout of the real files of the release
(``tools/real_layout.py``: ``std::vector<T>`` branches, ZLIB level 1; 2020: tree ``mini``,
MeV, ``UInt_t`` counters; 2025e, the 2025 education release: tree ``analysis``, GeV,
``Int_t`` counters, its branch names) and then measures, side by side and interleaved in
one run:

- uproot reading and decompressing the branches the selection needs (the read floor), as
  the chunk step reads them (plain file reads, branches in groups, batches within a memory
  budget that end on the file's cluster boundaries) and with uproot's defaults
  (memory-mapped, all branches at once, ``iterate``);
- the chunk step (read, select, weight, fill the histograms), one core;
- RDataFrame running the same selection (``benchmarks/rdf_selections.py``), one thread and
  with implicit multi-threading on every core.

It prints seconds and events/s/core (best of ``--repeat``), the ratios chunk step / read and
RDataFrame / chunk step, and checks that RDataFrame selects the same number of events.
``--memory`` also measures the peak memory (GNU time) of one chunk job (``atlasod process``
in its own process, the file's first chunk of at most 500 k entries, as the workflow splits
it). An analysis that does not run on the release yet (no ``releases:`` block for it in its
``analysis.yaml``) is said so and not measured; one whose folder has changes not committed
is measured with them, and said so. ROOT runs in its own environment (``make root-env``);
``--root-python`` names it.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uproot

from atlasod.data.catalogue import Catalogue
from atlasod.data.trees import READ_STEP, open_tree, read_batches
from atlasod.demo.generate import demo_event_count, generate_file
from atlasod.selection.analysis import analysis_releases, load_analysis
from atlasod.selection.chunk import process_chunk

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).resolve().parent / ".cache"
LUMI_PB = 10064.0
DEFAULT_RELEASE = "2020"
# (data file, events) of each benchmark per release and analysis: the largest data file of
# each analysis (2025e: data16_periodL in every skim), the same numbers of events
SAMPLES = {
    "2020": {
        "hyy": ("data_D.GamGam", 5_000_000),
        "hzz": ("data_D.4lep", 2_000_000),
        "ttbar": ("data_D.1lep", 2_000_000),
        "zprime": ("data_D.1largeRjet1lep", 2_000_000),
        "wz": ("data_D.3lep", 2_000_000),  # the real file is small (8.5 MB): a rate, not a size
        "hww": ("data_D.2lep", 2_000_000),
    },
    "2025e": {
        "hyy": ("ODEO_FEB2025_v0_GamGam_data16_periodL.GamGam", 5_000_000),
        "hzz": ("ODEO_FEB2025_v0_exactly4lep_data16_periodL.exactly4lep", 2_000_000),
        "ttbar": ("ODEO_FEB2025_v0_1LMET30_data16_periodL.1LMET30", 2_000_000),
    },
}
# entries of a chunk job (the workflow's default chunk_entries), for --memory
CHUNK_ENTRIES = 500_000
# events of the slice whose times are taken off the whole file's: the marginal rates
SLICE_ENTRIES = 20_000


def cache_dir(release: str) -> Path:
    """Where a release's benchmark files are kept (2020's where they always were)."""
    return CACHE if release == DEFAULT_RELEASE else CACHE / release


def real_layout_file(
    name: str, catalogue: Catalogue, size: float, root_python: str
) -> tuple[Path, Path]:
    """The benchmark file of ``name`` in the real layout, and the slice of its first
    ``SLICE_ENTRIES`` events in the same layout (generated and converted once)."""
    analysis = load_analysis(REPO / "analyses", name, catalogue)
    release = analysis.release.name
    stem, events = SAMPLES[release][name]
    sample = analysis.file(stem)
    scale = math.ceil(events * size / demo_event_count(analysis, sample, 1.0))
    demo = cache_dir(release) / name / f"scale{scale}" / sample.file
    real = demo.with_name(f"real.{sample.file}")
    first = demo.with_name(f"real.first{SLICE_ENTRIES}.{sample.file}")
    if not demo.exists():
        n = demo_event_count(analysis, sample, scale)
        print(f"generating {n:,} demo events into {demo} ...", flush=True)
        generate_file(analysis, catalogue, sample, demo, seed=42, scale=scale)
    tool = str(REPO / "tools" / "real_layout.py")
    for target, options in ((real, []), (first, ["--entries", str(SLICE_ENTRIES)])):
        if not target.exists():
            print(f"rewriting {demo.name} in the real layout with ROOT: {target.name}", flush=True)
            cmd = [root_python, "-W", "ignore", tool, "--release", release, *options]
            subprocess.run([*cmd, str(demo), str(target)], check=True)
    return real, first


def fills(histogram: Any) -> int:
    """How many times a chunk step's histogram was filled: its entries with under- and
    overflow (the benchmark files are data: every weight is 1)."""
    total = histogram.sum(flow=True)
    return round(float(getattr(total, "value", total)))


def rdf(root_python: str, name: str, path: Path, threads: int, release: str) -> dict[str, float]:
    script = str(REPO / "benchmarks" / "rdf_selections.py")
    cmd = [root_python, "-W", "ignore", script, name, str(path), "--threads", str(threads)]
    cmd += ["--release", release]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def peak_memory_mb(name: str, stem: str, path: Path, release: str, entries: int) -> float:
    """Peak RSS (MB, GNU time) of one chunk job run as its own process: the file's first
    chunk when the workflow splits it into chunks of at most ``CHUNK_ENTRIES``."""
    n_chunks = max(1, math.ceil(entries / CHUNK_ENTRIES))
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "time.txt"
        cmd = ["/usr/bin/time", "-f", "%M", "-o", str(report), sys.executable, "-m", "atlasod"]
        cmd += ["--analyses-dir", str(REPO / "analyses"), "--release", release, "process"]
        cmd += ["--analysis", name, "--file", stem, "--input", str(path)]
        cmd += ["--chunk", "0", "--n-chunks", str(n_chunks)]
        cmd += ["--out", str(Path(tmp) / "0.root"), "--cutflow", str(Path(tmp) / "0.json")]
        subprocess.run(cmd, check=True, capture_output=True)
        return int(report.read_text().split()[-1]) / 1024  # GNU time reports kB


def uncommitted_changes(name: str) -> bool:
    """Whether ``analyses/<name>`` differs from the commit checked out (git's view; without
    taking git's optional locks, so that a commit being made alongside is not disturbed)."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    cmd = ["git", "-C", str(REPO), "diff", "--quiet", "HEAD", "--", f"analyses/{name}"]
    return subprocess.run(cmd, env=env, capture_output=True, check=False).returncode == 1


def compressed_mb(path: Path, tree_name: str, branches: list[str]) -> float:
    """Compressed size (MB) of the baskets of ``branches``: what the read inflates."""
    with uproot.open(path) as f:
        tree = f[tree_name]
        return sum(tree[b].compressed_bytes for b in branches) / 1e6


def zlib_blocks(f: Any, branch: Any) -> list[tuple[bytes, int]]:
    """The zlib streams of a branch's baskets as stored (each basket's key, then blocks of a
    9-byte ROOT header: "ZL", method, compressed and uncompressed sizes in 3 bytes each,
    little-endian), with their uncompressed sizes."""
    blocks = []
    seeks, sizes = branch.member("fBasketSeek"), branch.member("fBasketBytes")
    for i in range(branch.num_baskets):
        start, n = int(seeks[i]), int(sizes[i])
        raw = f.file.source.chunk(start, start + n).raw_data.tobytes()
        position = int.from_bytes(raw[14:16], "big")  # fKeylen: the data follow the key
        while position < n:
            header = raw[position : position + 9]
            compressed = int.from_bytes(header[3:6], "little")
            uncompressed = int.from_bytes(header[6:9], "little")
            if header[:2] == b"ZL":
                blocks.append((raw[position + 9 : position + 9 + compressed], uncompressed))
            position += 9 + compressed
    return blocks


def inflate_rates(path: Path, tree_name: str, branches: list[str]) -> dict[str, float]:
    """MB/s of compressed input that zlib, ISA-L and libdeflate inflate the baskets of
    ``branches`` at (the raw baskets read once, then each library on all of them, best of
    3); a library that is not installed is left out."""
    import zlib

    libraries: dict[str, Callable[[bytes, int], bytes]] = {
        "zlib": lambda data, size: zlib.decompress(data, bufsize=size)
    }
    try:
        from isal import isal_zlib

        libraries["ISA-L"] = lambda data, size: isal_zlib.decompress(data, bufsize=size)
    except ImportError:
        pass
    try:
        import deflate

        libraries["libdeflate"] = deflate.zlib_decompress  # (data, originalsize)
    except ImportError:
        pass
    baskets: list[tuple[bytes, int]] = []
    with uproot.open(path) as f:
        tree = f[tree_name]
        for b in branches:
            baskets += zlib_blocks(f, tree[b])
    total = sum(len(data) for data, _ in baskets) / 1e6
    rates = {}
    for label, inflate in libraries.items():
        best = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            for data, size in baskets:
                inflate(data, size)
            best = min(best, time.perf_counter() - t0)
        rates[label] = total / best
    return rates


def bench(
    name: str,
    paths: tuple[Path, Path],
    catalogue: Catalogue,
    repeat: int,
    root_python: str,
    memory: bool,
) -> None:
    """Every engine on the whole file, and the read, the chunk step and RDataFrame on one
    thread on its slice too, all interleaved; prints times, rates, ratios and the marginal
    rates (whole file minus slice)."""
    path, first = paths
    analysis = load_analysis(REPO / "analyses", name, catalogue)
    release = analysis.release.name
    stem = SAMPLES[release][name][0]
    sample = analysis.file(stem)
    lumi_pb = LUMI_PB if release == DEFAULT_RELEASE else analysis.lumi_pb
    tree_name = analysis.release.tree
    n = open_tree(str(path), analysis.release).num_entries
    n_first = open_tree(str(first), analysis.release).num_entries
    branches = analysis.selection.BRANCHES
    cores = os.cpu_count() or 1
    selected: dict[str, int] = {}
    filled: dict[str, dict[str, int]] = {}  # per engine: each histogram's fills

    def read(file: Path) -> Callable[[], None]:  # as the chunk step reads: same access and steps
        def run() -> None:
            tree = open_tree(str(file), analysis.release)
            for _ in read_batches(tree, branches, 0, tree.num_entries):
                pass

        return run

    def read_default() -> None:  # uproot's defaults: memory-mapped, all branches at once
        for _ in uproot.open(path)[tree_name].iterate(branches, step_size=READ_STEP):
            pass

    def chunk(file: Path, key: str | None) -> Callable[[], None]:
        def run() -> None:
            result = process_chunk(analysis, sample, str(file), 0, 1, lumi_pb, catalogue)
            if key:
                selected[key] = int(list(result.cutflow.values())[-1]["events"])
                filled[key] = {h: fills(histogram) for h, histogram in result.histograms.items()}

        return run

    def rdf_run(file: Path, threads: int, key: str | None) -> Callable[[], float]:
        def run() -> float:
            out = rdf(root_python, name, file, threads, release)
            if key:
                selected[key] = int(out["selected"])
                filled[key] = {h: int(n) for h, n in out["histogram_entries"].items()}
            return float(out["seconds"])

        return run

    steps: dict[str, tuple[Callable[[], object], int]] = {
        "uproot read": (read(path), 1),
        "uproot read, defaults": (read_default, 1),
        "chunk step": (chunk(path, "chunk step"), 1),
        "RDataFrame, 1 thread": (rdf_run(path, 0, "RDataFrame 1"), 1),
        f"RDataFrame, {cores} threads": (rdf_run(path, cores, f"RDataFrame {cores}"), cores),
        "slice: uproot read": (read(first), 1),
        "slice: chunk step": (chunk(first, None), 1),
        "slice: RDataFrame, 1 thread": (rdf_run(first, 0, None), 1),
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
    title = name if release == DEFAULT_RELEASE else f"{name} (release {release})"
    print(f"\n{title}: {n:,} events, {len(branches)} branches, {size:.0f} MB, best of {repeat}")
    if uncommitted_changes(name):
        print(f"  (analyses/{name} has changes not committed: this measures them)")
    for label, (_, used) in steps.items():
        events = n_first if label.startswith("slice") else n
        rate = events / best[label] / used / 1e6
        print(f"  {label:30s} {best[label]:7.2f} s  {rate:6.2f} M events/s/core")
    chunk_s, read_s, rdf1 = best["chunk step"], best["uproot read"], best["RDataFrame, 1 thread"]
    print(f"  chunk step / uproot read:      {chunk_s / read_s:.2f}")
    print(f"  chunk step / uproot defaults:  {chunk_s / best['uproot read, defaults']:.2f}")
    print(f"  RDataFrame 1 thread / chunk:   {rdf1 / chunk_s:.2f}")
    # marginal: the whole file's time minus the slice's (fixed costs: start-up, compilation)
    marginal = {
        label: best[label] - best[f"slice: {label}"]
        for label in ("uproot read", "chunk step", "RDataFrame, 1 thread")
    }
    extra = n - n_first
    print(f"  marginal (whole file minus its first {n_first:,} events, {extra:,} events):")
    for label, seconds in marginal.items():
        print(f"    {label:28s} {seconds:7.2f} s  {extra / seconds / 1e6:6.2f} M events/s")
    m_chunk, m_read = marginal["chunk step"], marginal["uproot read"]
    print(f"  marginal chunk step / read:    {m_chunk / m_read:.2f}")
    m_rdf = marginal["RDataFrame, 1 thread"]
    print(f"  marginal RDataFrame 1 thread / chunk step: {m_rdf / m_chunk:.2f}")
    mb = compressed_mb(path, tree_name, branches)
    rates = inflate_rates(path, tree_name, branches)
    print(
        f"  read floor: {mb:.0f} MB of compressed baskets, read at {mb / read_s:.0f} MB/s"
        " (inflating alone: "
        + ", ".join(f"{label} {rate:.0f} MB/s" for label, rate in rates.items())
        + ")"
    )
    counts = set(selected.values())
    verdict = "same" if len(counts) == 1 else "DIFFERENT"
    print(f"  selected events: {selected} ({verdict})")
    # every histogram the chunk step fills, filled as often by RDataFrame (the same work)
    differ = sorted(
        h for h in set().union(*filled.values()) if len({f.get(h) for f in filled.values()}) > 1
    )
    counted = len(filled["chunk step"])
    print(
        f"  histogram fills: {counted} histograms, "
        + ("the same in every engine" if not differ else f"DIFFERENT: {', '.join(differ)}")
    )
    if memory:
        peak = peak_memory_mb(name, stem, path, release, n)
        chunk_entries = min(n, CHUNK_ENTRIES)
        print(f"  peak memory of one chunk job (<= {chunk_entries:,} entries): {peak:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = list(SAMPLES[DEFAULT_RELEASE])
    parser.add_argument(
        "--analyses", nargs="+", choices=names, help="(default: those measured on the release)"
    )
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the default size")
    parser.add_argument("--root-python", default=str(REPO / ".venv-root" / "bin" / "python"))
    parser.add_argument(
        "--release", default=DEFAULT_RELEASE, choices=list(SAMPLES), help="of the files (2020)"
    )
    parser.add_argument(
        "--memory", action="store_true", help="also the peak memory of one chunk job (GNU time)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    catalogue = Catalogue.load(release=args.release)
    for name in args.analyses or list(SAMPLES[args.release]):
        if name not in SAMPLES[args.release]:
            print(
                f"\n{name}: no benchmark file for release {args.release} (bench_engine.SAMPLES):"
                " not measured",
                flush=True,
            )
            continue
        if args.release not in analysis_releases(REPO / "analyses" / name):
            print(
                f"\n{name}: does not run on release {args.release} yet (analyses/{name}/"
                f"analysis.yaml has no {args.release} block): not measured",
                flush=True,
            )
            continue
        paths = real_layout_file(name, catalogue, args.scale, args.root_python)
        bench(name, paths, catalogue, args.repeat, args.root_python, args.memory)


if __name__ == "__main__":
    main()
