"""Multiplied data: N statistically distinct, physically faithful variants of a ``mini`` file.

Variant ``k`` of a file is the same events with

- every object's energy smeared within the detector resolution: its ``pt``, ``E`` (and
  ``pt_syst``, and a large-R jet's ``m``) multiplied by ``1 + f·σ(E)/E·g``, ``g`` a standard
  normal draw per object and ``f`` the fraction of the resolution (``smear``, default 0.3:
  the peaks widen by √(1 + f²) − 1 ≈ 4 %; η and the masses of the objects' sums are
  otherwise untouched, so peak positions do not move);
- the missing transverse momentum corrected for the smeared leptons, photons and jets
  (``MET − ΣΔp_T``);
- the whole event rotated in φ by a uniform random angle (all ``*_phi`` and ``met_phi``);
- new event numbers ``k·n + i + 1`` (``i`` the entry, ``n`` the file's entries): unique over
  the variants of a file, as the (run, event) pairs of the data are over its files.

The random numbers of each block of BLOCK entries are seeded from the seed, the variant,
the file name and the block's number: variants can be made in any order, in parallel and
again with the same bytes, and the same events give the same variant whatever the
file's layout (real or uproot-written) and however it is read.  The input is read and the
output written in batches of whole blocks (memory stays bounded whatever the file's
size), into a file that appears only when complete.

Resolutions (σ/E = a/√E ⊕ b ⊕ c·E, E in GeV; ``c`` applies to muons' pT): typical ATLAS
Run-2 values, not a calibration: electrons and photons a = 0.10, b = 0.007; muons
b = 0.017, c = 10⁻⁴; jets and τ a = 0.5, b = 0.03; large-R jets a = 0.5, b = 0.05.

Which collection is smeared with which resolution, which fields scale with the energy and
the missing-momentum branches are the release's (``smearing`` in its description): the
2025e files are smeared as the 2020 ones, their truth collections only rotated.
"""

from __future__ import annotations

import hashlib
import logging
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from atlasod.data.release import Release
from atlasod.data.trees import MiniWriter, open_tree, read_batches, read_step
from atlasod.errors import AtlasodError
from atlasod.histio import reproducible_root_file

LOG = logging.getLogger(__name__)
PROGRESS = logging.getLogger("atlasod.progress")

BLOCK = 10_000
_INT32_MAX = 2**31 - 1
_ELECTRON, _MUON = 11, 13
# Objects whose smearing moves the missing transverse momentum (τ and large-R jets are
# also in the jet or lepton collections).


@dataclass(frozen=True)
class Resolution:
    """Relative energy resolution σ/E = a/√E ⊕ b ⊕ c·E (E in GeV)."""

    stochastic: float = 0.0
    constant: float = 0.0
    linear: float = 0.0

    def relative(self, energy_gev: np.ndarray) -> np.ndarray:
        e = np.maximum(energy_gev, 1e-3)
        return np.sqrt(self.stochastic**2 / e + self.constant**2 + (self.linear * e) ** 2)


RESOLUTIONS: dict[str, Resolution] = {
    "electron": Resolution(stochastic=0.10, constant=0.007),
    "photon": Resolution(stochastic=0.10, constant=0.007),
    "muon": Resolution(constant=0.017, linear=1e-4),
    "jet": Resolution(stochastic=0.5, constant=0.03),
    "tau": Resolution(stochastic=0.5, constant=0.03),
    "largeRjet": Resolution(stochastic=0.5, constant=0.05),
}
LEPTON = "lepton"  # the resolution kind of a collection of electrons and muons (by type)


@dataclass(frozen=True)
class Variant:
    """What makes a variant: the seed, its number and the smearing fraction."""

    seed: int
    number: int
    smear: float = 0.3

    def rng(self, file_name: str, block: int) -> np.random.Generator:
        """The random stream of entries [block·BLOCK, (block + 1)·BLOCK) of a file."""
        key = f"{self.seed}:{self.number}:{file_name}:{block}"
        digest = hashlib.sha256(key.encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def _smear_factors(
    obj: str, batch: ak.Array, rng: np.random.Generator, smear: float, release: Release
) -> np.ndarray:
    """One factor per object (flat, in the batch's order) for collection ``obj``, smeared
    with the resolution the release gives it."""
    rules = release.smearing or {}
    per_gev = 1.0 / release.gev  # (a product, as the MeV → GeV factor 1e-3 always was)
    field = f"{obj}_{rules['energy_field']}"
    energy = np.asarray(ak.flatten(batch[field]), dtype=np.float64) * per_gev
    normal = rng.standard_normal(len(energy))
    kind = rules["resolutions"][obj]
    if kind == LEPTON:
        flavour = np.asarray(ak.flatten(batch[f"{obj}_type"]))
        pt = np.asarray(ak.flatten(batch[f"{obj}_pt"]), dtype=np.float64) * per_gev
        sigma = np.where(
            flavour == _MUON,
            RESOLUTIONS["muon"].relative(pt),
            RESOLUTIONS["electron"].relative(energy),
        )
    else:
        sigma = RESOLUTIONS[kind].relative(energy)
    # a factor stays positive whatever the draw (|g| > 20 σ never happens in practice)
    return np.maximum(1.0 + smear * sigma * normal, 0.05)


def _rotate(phi: np.ndarray, angle: np.ndarray) -> np.ndarray:
    return np.mod(phi + angle + np.pi, 2.0 * np.pi) - np.pi


def transform(
    batch: ak.Array,
    first_entry: int,
    entries: int,
    variant: Variant,
    rng: np.random.Generator,
    release: Release,
) -> dict[str, Any]:
    """Variant ``variant`` of one block of events (entries ``first_entry``… of a file of
    ``entries``), drawing from ``rng``, as the arrays :class:`~atlasod.histio.MiniWriter`
    writes."""
    rules = release.smearing or {}
    n = len(batch)
    angle = rng.uniform(-np.pi, np.pi, n)
    met, met_phi = rules["met"], rules["met_phi"]
    met_x = np.asarray(batch[met], np.float64) * np.cos(np.asarray(batch[met_phi]))
    met_y = np.asarray(batch[met], np.float64) * np.sin(np.asarray(batch[met_phi]))
    out: dict[str, Any] = {}
    for obj, fields in release.collections.items():
        counts = np.asarray(ak.num(batch[f"{obj}_pt"], axis=1))
        smeared = obj in rules["resolutions"]  # (truth objects are only rotated)
        factor = _smear_factors(obj, batch, rng, variant.smear, release) if smeared else 1.0
        event_of = np.repeat(np.arange(n), counts)
        phi = np.asarray(ak.flatten(batch[f"{obj}_phi"]), dtype=np.float64)
        record: dict[str, Any] = {}
        for field, dtype in fields.items():
            content = np.asarray(ak.flatten(batch[f"{obj}_{field}"]))
            if smeared and field in rules["scaled"]:
                content = content.astype(np.float64) * factor
            elif field == "phi":
                content = _rotate(phi, angle[event_of])
            record[field] = ak.unflatten(content.astype(dtype), counts)
        if obj in rules["met_objects"]:
            dpt = np.asarray(ak.flatten(batch[f"{obj}_pt"]), np.float64) * (factor - 1.0)
            met_x -= np.bincount(event_of, dpt * np.cos(phi), minlength=n)
            met_y -= np.bincount(event_of, dpt * np.sin(phi), minlength=n)
        out[obj] = ak.zip(record, depth_limit=2)
    met_value = np.hypot(met_x, met_y)
    met_angle = _rotate(np.arctan2(met_y, met_x), angle)
    components = dict(zip(rules.get("met_components", ()), (np.cos, np.sin), strict=False))
    for name, dtype in release.scalars.items():
        if name == "eventNumber":
            value: np.ndarray = variant.number * entries + first_entry + np.arange(1, n + 1)
        elif name == met:
            value = met_value
        elif name == met_phi:
            value = met_angle
        elif name in components:
            value = met_value * components[name](met_angle)
        elif name in rules.get("rotated", ()):
            value = _rotate(np.asarray(batch[name], np.float64), angle)
        else:
            value = np.asarray(batch[name])
        out[name] = value.astype(dtype)
    return {name: out[name] for name in (*release.scalars, *release.collections)}


def branches_to_read(tree: Any, location: str, release: Release) -> list[str]:
    """Every branch of the schema but the counters; an error names what is missing."""
    wanted = [*release.scalars, *release.object_branches()]
    have = set(tree.keys())
    missing = [b for b in wanted if b not in have]
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise AtlasodError(
            f"{location}: tree '{release.tree}' lacks {len(missing)} branch(es) of the "
            f"{release.name} schema ({shown}); multiplication needs complete files"
        )
    return wanted


def multiply_file(
    location: str, file_name: str, out: Path, variant: Variant, release: Release
) -> int:
    """Write variant ``variant`` of the ``release`` file at ``location`` (a path or URL; its
    catalogue name ``file_name`` seeds the variant) to ``out``; returns the entries."""
    return multiply_variants(location, file_name, {variant: out}, release)


def multiply_variants(
    location: str, file_name: str, outs: dict[Variant, Path], release: Release
) -> int:
    """Write several variants of the ``release`` file at ``location``, reading it once:
    ``outs`` maps each variant to its output file.  Returns the entries."""
    for variant in outs:
        if variant.number < 0:
            raise AtlasodError(f"variant number must be ≥ 0, got {variant.number}")
        if not 0.0 <= variant.smear <= 1.0:
            raise AtlasodError(
                f"smear must be a fraction of the resolution in [0, 1], got {variant.smear}"
            )
    tree = open_tree(location, release)
    entries = int(tree.num_entries)
    highest = max(v.number for v in outs)
    if (highest + 1) * entries > _INT32_MAX:
        raise AtlasodError(
            f"variant {highest} of {file_name} ({entries} events) needs event numbers "
            f"beyond the int32 eventNumber branch: at most "
            f"{_INT32_MAX // max(entries, 1)} variants of this file"
        )
    branches = branches_to_read(tree, location, release)
    step = max(BLOCK, read_step(tree, branches) // BLOCK * BLOCK)
    for variant, out in sorted(outs.items(), key=lambda item: item[0].number):
        LOG.info(
            "variant %d of %s (%d events, seed %d, smear %.2f of the resolution) -> %s",
            variant.number,
            file_name,
            entries,
            variant.seed,
            variant.smear,
            out,
        )
    start = reported = time.monotonic()
    with ExitStack() as stack:
        writers = {
            variant: MiniWriter(stack.enter_context(reproducible_root_file(out)), release.tree)
            for variant, out in outs.items()
        }
        for first in range(0, entries, step):
            stop = min(entries, first + step)
            (batch,) = read_batches(tree, branches, first, stop, step=step)
            for block in range(first // BLOCK, (stop - 1) // BLOCK + 1):
                lo = block * BLOCK - first
                part = batch[lo : lo + BLOCK]
                for variant, writer in writers.items():
                    rng = variant.rng(file_name, block)
                    writer.extend(transform(part, first + lo, entries, variant, rng, release))
            if time.monotonic() - reported > 5.0:
                reported = time.monotonic()
                PROGRESS.info("%s: %d/%d events", file_name, stop, entries)
        if entries == 0:
            for writer in writers.values():
                writer.extend(_empty(release))
    LOG.info("wrote %d × %d events in %.1f s", len(outs), entries, time.monotonic() - start)
    return entries


def _empty(release: Release) -> dict[str, Any]:
    """A batch of no events with the schema's types (so that an empty file has the tree)."""
    out: dict[str, Any] = {name: np.zeros(0, dtype) for name, dtype in release.scalars.items()}
    for obj, fields in release.collections.items():
        out[obj] = ak.zip(
            {f: ak.unflatten(np.zeros(0, d), np.zeros(0, np.int64)) for f, d in fields.items()},
            depth_limit=2,
        )
    return out
