"""The manifest of a run: what went in, with which software, and what came out.

Written next to the results (``manifest.json``) and shown in the Snakemake report:
every input file with its size and checksum (adler32, as the ATLAS Open Data portal
publishes them), the container image (or "local" and the hash of the lock file), the
package and key library versions, the git commit of the workflow and the full config,
and the sha256 of the results.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from atlasod.data import plan
from atlasod.data.cache import adler32_of as adler32
from atlasod.data.catalogue import Catalogue
from atlasod.histio import write_json
from atlasod.selection.analysis import Analysis

KEY_PACKAGES = (
    "atlasod",
    "uproot",
    "awkward",
    "vector",
    "hist",
    "boost-histogram",
    "numpy",
    "iminuit",
    "pyhf",
    "scipy",
    "mplhep",
    "matplotlib",
)
LOCK_ENV = "ATLASOD_LOCK"  # path of the lock file inside the image
IMAGE_ENV = "ATLASOD_IMAGE"  # name:tag of the image, set by its recipe (envs/Dockerfile)
BLOCK = 1 << 20


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(BLOCK):
            digest.update(block)
    return digest.hexdigest()


def git_commit(directory: Path) -> str:
    """The workflow's git commit (with ``-dirty`` for local changes), or ``unknown``."""
    try:
        head = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(directory), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


def environment(declared_image: str, repo: Path) -> dict[str, Any]:
    """The software of this step: the image it runs in (the image sets ``ATLASOD_IMAGE``)
    or ``local``, the lock file's hash and the versions of the key packages."""
    image = os.environ.get(IMAGE_ENV) or "local"
    lock = Path(os.environ.get(LOCK_ENV, repo / "envs" / "requirements.lock"))
    versions = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "image": image,
        "declared_image": declared_image,
        "lock_file": str(lock) if lock.is_file() else None,
        "lock_sha256": sha256(lock) if lock.is_file() else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
    }


def input_record(
    analysis: Analysis, catalogue: Catalogue, location: str, source: str
) -> dict[str, Any]:
    """One input file: its location, size and adler32 (computed for local files)."""
    name = Path(location.split("?", maxsplit=1)[0]).name
    # a file read by Rucio DID is named <data set>.<file>
    name = next(iter(plan.logical_names([name], {f.stem for f in analysis.files})), name)
    stem, variant = plan.split_variant(name.removesuffix(".root"))
    sample = analysis.file(stem)
    record: dict[str, Any] = {"file": sample.file, "location": location}
    if variant is not None:  # multiplied data: a variant of the file, made here
        record["variant"] = variant
    elif source == "real":  # the portal's checksum, to compare with the one computed below
        published = catalogue.file(sample.file)
        record["published_adler32"] = published.adler32
        record["published_size"] = published.size
    path = Path(location)
    if "://" not in location and path.is_file():
        record["size"] = path.stat().st_size
        record["adler32"] = adler32(path)
    return record


def write_manifest(
    analysis: Analysis,
    catalogue: Catalogue,
    source: str,
    config: dict[str, Any],
    inputs: list[str],
    results: list[Path],
    out: Path,
    repo: Path,
    input_dids: list[str] | None = None,
) -> dict[str, Any]:
    manifest = {
        "analysis": analysis.name,
        "source": source,
        "git_commit": git_commit(repo),
        "environment": environment(str(config.get("container", "")), repo),
        "config": config,
        "inputs": [input_record(analysis, catalogue, loc, source) for loc in inputs],
        "results": {str(p): sha256(p) for p in results},
    }
    if input_dids:  # the inputs were read by Rucio DID (the Datalake)
        manifest["input_dids"] = sorted(input_dids)
    write_json(out, manifest)
    return manifest
