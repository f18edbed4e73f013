"""Run an analysis' chunk step on a Dask cluster (``atlasod dask``).

The unit of work is the workflow's: one chunk (entry range) of one file, processed by
:func:`atlasod.selection.chunk.process_chunk`; the chunks are mapped over a
``dask.distributed`` cluster (a ``LocalCluster``, or any scheduler address: an analysis
facility, or HTCondor through ``dask-jobqueue``), gathered, and summed in the merge step's
order, so the merged histograms are byte-identical to those of the Snakemake run with the
same config.  Workers need the package (the image) and read the analysis folder and the
input files from the paths given here (a shared filesystem) or stream them (``root://``,
``https://``).
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atlasod.data import plan
from atlasod.data.catalogue import Catalogue, SampleFile
from atlasod.errors import AtlasodError
from atlasod.histio import read_histograms
from atlasod.results.merging import combine, write_merged
from atlasod.selection.analysis import Analysis, load_analysis

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Task:
    """One chunk of one file, everything a worker needs to process it."""

    analyses_dir: str
    analysis: str
    catalogue: str | None
    stem: str
    location: str
    index: int
    n_chunks: int
    lumi_pb: float
    generate: dict[str, Any] | None = None  # demo file to make first, if missing
    options: tuple[tuple[str, Any], ...] = ()  # the workflow's switches (w_mtw_double_fill)
    variant: int | None = None  # multiplied data: the variant this chunk reads
    original: str = ""  # multiplied data: the file the variant is made from
    multiply: tuple[tuple[str, Any], ...] = ()  # multiplied data: seed, smear, variants
    release: str | None = None  # the release of the files (its packaged catalogue)

    @property
    def name(self) -> str:
        """The input's name, as the workflow names its chunks (and sums them in order)."""
        return plan.variant_stem(self.stem, self.variant)


def _prepare(task: Task) -> tuple[Analysis, Catalogue, SampleFile]:
    """Worker side: load the task's analysis; generate its demo file if it is missing, and
    (multiplied data) the missing variants of it."""
    from atlasod.data.multiply import Variant, multiply_variants
    from atlasod.demo.generate import generate_file

    catalogue = Catalogue.load(Path(task.catalogue) if task.catalogue else None, task.release)
    analysis = load_analysis(Path(task.analyses_dir), task.analysis, catalogue)
    sample = analysis.file(task.stem)
    original = Path(task.original or task.location)
    if task.generate is not None and not original.is_file():
        generate_file(analysis, catalogue, sample, original, **task.generate)
    if task.multiply:
        settings = dict(task.multiply)
        variants_dir = Path(task.location).parent
        missing = {
            Variant(settings["seed"], k, settings["smear"]): path
            for k in range(settings["variants"])
            if not (path := variants_dir / f"{plan.variant_stem(sample.stem, k)}.root").is_file()
        }
        if missing:
            multiply_variants(str(original), sample.file, missing, catalogue.release)
    return analysis, catalogue, sample


def _run_task(task: Task) -> tuple[str, int, dict[str, Any], dict[str, Any]]:
    """Worker side: process one chunk; return it as the merge step reads it from disk."""
    from atlasod.selection.chunk import process_chunk, write_chunk

    analysis, catalogue, sample = _prepare(task)
    result = process_chunk(
        analysis,
        sample,
        task.location,
        task.index,
        task.n_chunks,
        task.lumi_pb,
        catalogue,
        dict(task.options),
    )
    # Through the on-disk format, so that the sums are those of the Snakemake merge step.
    with tempfile.TemporaryDirectory() as tmp:
        hist_path, flow_path = Path(tmp) / f"{task.index}.root", Path(tmp) / "c.json"
        write_chunk(result, sample, hist_path, flow_path)
        histograms = read_histograms(hist_path)
    record = {"file": sample.file, "entries": result.entries, "cutflow": result.cutflow}
    return task.name, task.index, histograms, record


def _make_input(task: Task) -> str:
    """Worker side: generate a missing demo file; return the file's stem."""
    _prepare(task)
    return task.stem


def switches(analysis: Analysis, config: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """The workflow config's switches that the analysis has (as the workflow passes them)."""
    names = [*analysis.options, "solutions"]
    return tuple((k, config[k]) for k in names if k in config)


def plan_tasks(
    analysis: Analysis,
    config: dict[str, Any],
    catalogue_path: str | None,
    analyses_dir: Path,
) -> list[Task]:
    """The chunks of every file of ``analysis`` (or of every variant of it, with
    ``multiply``), as the workflow plans them."""
    source, data_dir = config["source"], Path(config["data_dir"])
    options = switches(analysis, config)
    n_variants = int(config.get("multiply", 1))
    seed, smear = int(config.get("multiply_seed", 1)), float(config.get("multiply_smear", 0.3))
    multiplied = plan.multiplied_dir(str(data_dir), seed, config.get("multiply_smear", 0.3))
    origin = f"demo/{analysis.name}" if source == "demo" else "real"
    tasks = []
    for sample in analysis.files:
        generate = None
        if source == "demo":
            location = str((data_dir / "demo" / analysis.name / sample.relpath).resolve())
            generate = {
                "seed": config["seed"],
                "scale": config["demo_scale"],
                "lumi_pb": config.get("lumi_pb") or analysis.lumi_pb,
            }
        else:
            local = data_dir / "real" / sample.relpath
            if not local.is_file():
                raise AtlasodError(
                    f"{local} does not exist: fetch the data first (snakemake --until fetch) "
                    "or give --data-dir"
                )
            location = str(local.resolve())
        n = plan.n_chunks(
            analysis.raw,
            sample,
            source,
            config["chunk_entries"],
            config["demo_scale"],
            analysis.release,
        )
        variants: list[int | None] = list(range(n_variants)) if n_variants > 1 else [None]
        for variant in variants:
            if variant is None:
                where, made_from, settings = location, "", ()
            else:  # the workflow's path of the variant, made from the original
                where = str(Path(plan.variant_file(multiplied, origin, sample, variant)).resolve())
                made_from = location
                settings = (("seed", seed), ("smear", smear), ("variants", n_variants))
            for index in range(n):
                first = index == 0 and variant in (None, 0)
                tasks.append(
                    Task(
                        str(analyses_dir.resolve()),
                        analysis.name,
                        catalogue_path,
                        sample.stem,
                        where,
                        index,
                        n,
                        config.get("lumi_pb") or analysis.lumi_pb,
                        generate if first else None,
                        options,
                        variant,
                        made_from,
                        settings if first else (),
                        analysis.release.name,
                    )
                )
    return tasks


def run(
    analysis: Analysis,
    config: dict[str, Any],
    analyses_dir: Path,
    catalogue_path: str | None,
    scheduler: str | None,
    workers: int,
    engine: str = "chunks",
) -> Path:
    """Process every chunk on the cluster; write ``histograms.root`` and ``cutflow.json``.

    ``engine``: ``chunks`` maps the workflow's own chunk jobs (byte-identical to the
    Snakemake run); ``coffea`` runs the analysis as a coffea processor with coffea's
    ``DaskExecutor`` (same numbers, summed in coffea's chunking)."""
    from distributed import Client, LocalCluster

    if engine == "coffea" and int(config.get("multiply", 1)) > 1:
        raise AtlasodError("--engine coffea does not read multiplied data: use --engine chunks")
    tasks = plan_tasks(analysis, config, catalogue_path, analyses_dir)
    # Demo files (and variants) are made by the first chunk of their file; the others wait.
    first = [t for t in tasks if t.generate is not None or t.multiply]
    rest = [t for t in tasks if not (t.generate is not None or t.multiply)]
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)
        client = Client(cluster)
    t0 = time.monotonic()
    try:
        if engine == "coffea":
            chunks = _run_coffea(analysis, config, analyses_dir, catalogue_path, first, client)
        else:
            LOG.info("%d chunks of %d files on %s", len(tasks), len(first), client.dashboard_link)
            done = client.gather(client.map(_run_task, first, pure=False))
            done += client.gather(client.map(_run_task, rest, pure=False))
            done.sort(key=lambda r: (r[0], r[1]))  # the merge step's order
            chunks = [(h, c) for _, _, h, c in done]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    merged, cutflows = combine(chunks)
    run_name = plan.run_name(
        analysis.release.name, config["source"], int(config.get("multiply", 1))
    )
    out_dir = Path(config["results_dir"]) / run_name / analysis.name
    out = out_dir / "histograms.root"
    write_merged(merged, cutflows, out, out_dir / "cutflow.json")
    events = sum(c["entries"] for c in cutflows.values())
    elapsed = time.monotonic() - t0
    LOG.info("%d events in %.1f s (%.0f events/s): %s", events, elapsed, events / elapsed, out)
    return out


def _run_coffea(
    analysis: Analysis,
    config: dict[str, Any],
    analyses_dir: Path,
    catalogue_path: str | None,
    files: list[Task],
    client: Any,
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    from atlasod.run.coffea_processor import AnalysisProcessor, run_coffea

    client.gather(client.map(_make_input, files, pure=False))  # demo files, if missing
    LOG.info("coffea processor over %d files on %s", len(files), client.dashboard_link)
    options = dict(switches(analysis, config))
    proc = AnalysisProcessor(
        str(analyses_dir.resolve()),
        analysis.name,
        catalogue_path,
        config.get("lumi_pb") or analysis.lumi_pb,
        options,
        analysis.release.name,
    )
    locations = {t.stem: t.location for t in files}
    return run_coffea(analysis, locations, proc, client, int(config["chunk_entries"]))
