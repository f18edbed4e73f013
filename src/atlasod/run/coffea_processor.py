"""The chunk step as a coffea processor: ``atlasod dask --engine coffea``.

coffea's ``Runner`` splits the files into chunks, reads them as NanoEvents (``BaseSchema``:
the branches of the ``mini`` tree as they are) and hands each chunk to
:class:`AnalysisProcessor`, which runs the engine's selection and histogram filling
(:func:`atlasod.selection.chunk.accumulate`) — the same code as the Snakemake jobs.  Its
executors run the chunks on a ``dask.distributed`` cluster (``DaskExecutor``), with
futures, or iteratively.  coffea's chunk boundaries differ from the workflow's, so the
histograms agree with the Snakemake run to rounding (sums in another order), not to the byte.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from coffea import processor

from atlasod.data.catalogue import Catalogue
from atlasod.selection.analysis import Analysis, load_analysis
from atlasod.selection.chunk import accumulate, new_histograms

LOG = logging.getLogger(__name__)


class AnalysisProcessor(processor.ProcessorABC):  # type: ignore[misc]
    """One analysis of ``analyses_dir``; the dataset name of a chunk is its file's stem.

    Holds only paths and numbers, so that it pickles small to the workers."""

    def __init__(
        self,
        analyses_dir: str,
        analysis: str,
        catalogue: str | None,
        lumi_pb: float,
        options: dict[str, Any] | None = None,
        release: str | None = None,
    ) -> None:
        self.analyses_dir = analyses_dir
        self.release = release
        self.analysis = analysis
        self.catalogue = catalogue
        self.lumi_pb = lumi_pb
        self.options = options or {}

    def _load(self) -> tuple[Analysis, Catalogue]:
        catalogue = Catalogue.load(Path(self.catalogue) if self.catalogue else None, self.release)
        return load_analysis(Path(self.analyses_dir), self.analysis, catalogue), catalogue

    def process(self, events: Any) -> dict[str, Any]:
        analysis, catalogue = self._load()
        stem = events.metadata["dataset"]
        sample = analysis.file(stem)
        histograms = new_histograms(analysis)
        cutflow: dict[str, dict[str, float]] = {}
        options = {**analysis.selection_options, **self.options}
        accumulate(histograms, cutflow, analysis, sample, events, catalogue, self.lumi_pb, options)
        return {stem: {"histograms": histograms, "cutflow": cutflow, "entries": len(events)}}

    def postprocess(self, accumulator: dict[str, Any]) -> dict[str, Any]:
        return accumulator


def run_coffea(
    analysis: Analysis,
    locations: dict[str, str],
    processor_instance: AnalysisProcessor,
    client: Any,
    chunksize: int,
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Run the processor over ``locations`` (file stem → path or URL) with coffea's Dask
    executor on ``client``; return per file (histograms keyed ``<stem>/<name>``, cutflow
    record) in the analysis' file order, as the merge step combines them."""
    from coffea.nanoevents import BaseSchema

    runner = processor.Runner(
        executor=processor.DaskExecutor(client=client, status=False),
        schema=BaseSchema,
        chunksize=chunksize,
    )
    fileset = {stem: [location] for stem, location in locations.items()}
    out = runner(fileset, processor_instance=processor_instance, treename="mini")
    results = []
    for sample in analysis.files:
        part = out[sample.stem]
        histograms = {f"{sample.stem}/{k}": h for k, h in part["histograms"].items()}
        record = {"file": sample.file, "entries": part["entries"], "cutflow": part["cutflow"]}
        results.append((histograms, record))
    return results
