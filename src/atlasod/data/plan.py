"""Job planning: which files an analysis reads and into how many chunks each is split.

Like ``analysis`` and ``catalogue``, this module imports only the standard
library, PyYAML and jsonschema: the Snakefile imports it while building the DAG,
and on REANA the Snakefile runs in the workflow engine's own environment, not in
the analysis image.
"""

from __future__ import annotations

import math
import re
from typing import Any

from atlasod.data.catalogue import SampleFile
from atlasod.data.release import Release

# Compressed bytes per event of the 2020 ntuples (GamGam data: 1.48 GB / 7.8 M events
# = 190 B; 1lep data 162 B; 4lep llll 323 B): used to size chunks of files whose
# entry count is not in the catalogue.  Only the number of chunks depends on it.
BYTES_PER_EVENT = 200
DEFAULT_DEMO_EVENTS = {"data": 20_000, "mc": 2_000}


def demo_events(
    analysis: dict[str, Any], sample: SampleFile, scale: float, release: Release
) -> int:
    """Events in the demo version of a file: data are shared between the release's periods
    (by luminosity where it is known)."""
    counts = {**DEFAULT_DEMO_EVENTS, **analysis.get("demo", {}).get("events", {})}
    if sample.period is not None:
        share = release.period_share(sample.period)
        return max(1, round(counts["data"] * share * scale))
    per_sample = counts.get("samples", {})  # e.g. more tt̄ MC where tt̄ dominates
    return max(1, round(per_sample.get(sample.short_name, counts["mc"]) * scale))


def n_chunks(
    analysis: dict[str, Any],
    sample: SampleFile,
    source: str,
    chunk_entries: int,
    demo_scale: float,
    release: Release,
) -> int:
    """Number of chunks (parallel jobs) for one file."""
    if source == "demo":
        entries = demo_events(analysis, sample, demo_scale, release)
    elif sample.entries:
        entries = sample.entries
    else:
        entries = max(1, (sample.size or 0) // BYTES_PER_EVENT)
    return max(1, math.ceil(entries / chunk_entries))


# Variant k of an input file (multiplied data, atlasod.data.multiply) is named <stem>.v<k>.
_VARIANT = re.compile(r"^(?P<stem>.+)\.v(?P<number>\d+)$")


def run_name(release: str, source: str, multiply: int) -> str:
    """The results folder of a run: the release and the source (``2020-demo``), with
    ``-xN`` for data multiplied N times."""
    name = f"{release}-{source}"
    return name if multiply <= 1 else f"{name}-x{multiply}"


def multiplied_dir(data_dir: str, seed: Any, smear: Any) -> str:
    """Where the variants made with ``seed`` and ``smear`` are kept (the workflow and
    ``atlasod dask`` share them)."""
    return f"{data_dir}/multiplied/seed{seed}-smear{smear}"


def variant_file(root: str, origin: str, sample: SampleFile, number: int) -> str:
    """Variant ``number`` of ``sample`` under ``root`` (:func:`multiplied_dir`); ``origin``
    names the original: ``demo/<analysis>``, ``real``, or ``rucio/<adler32>``."""
    return f"{root}/{origin}/{sample.skim}/{sample.kind}/{variant_stem(sample.stem, number)}.root"


def variant_stem(stem: str, number: int | None) -> str:
    """Name of variant ``number`` of the file with stem ``stem`` (``stem`` for None)."""
    return stem if number is None else f"{stem}.v{number}"


def split_variant(stem: str) -> tuple[str, int | None]:
    """(stem of the original file, variant number) of a variant's name; (stem, None) for a
    name that is not one."""
    m = _VARIANT.match(stem)
    return (m["stem"], int(m["number"])) if m else (stem, None)


def logical_names(names: list[str], stems: set[str]) -> dict[str, str]:
    """Which input each of ``names`` (Rucio DID names) is: {logical name: DID name}.

    A DID name ends with the name of the file it holds — a catalogue file
    (``data_A.4lep.root``), a variant of one (``data_A.4lep.v2.root``) or a demo file's
    truth (``data_A.4lep.root.truth.json``) — after a prefix (its data set's name and a
    dot, as ``atlasod rucio-register`` names them); ``stems`` are the catalogue stems.
    Names that are none of these are left out."""
    out: dict[str, str] = {}
    for name in names:
        core, suffix = name, ""
        if name.endswith(".root.truth.json"):
            core, suffix = name[: -len(".truth.json")], ".truth.json"
        if not core.endswith(".root"):
            continue
        head, variant = split_variant(core[: -len(".root")])
        parts = head.split(".")
        for i in range(len(parts)):
            stem = ".".join(parts[i:])
            if stem in stems:
                logical = f"{variant_stem(stem, variant)}.root{suffix}"
                if logical in out:
                    raise ValueError(f"{out[logical]} and {name} are both {logical}")
                out[logical] = name
                break
    return out
