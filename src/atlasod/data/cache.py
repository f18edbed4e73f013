"""The cache of downloaded release files: checked against the catalogue before each use.

A file is verified (size and adler32 against the catalogue) when it is downloaded, and a
stamp beside it (``.<file>.verified``) records its size, modification time and checksum.
Before a workflow uses a cached file it compares the file with its stamp: a file changed
since (a flipped byte written by anything, a truncation, a copy from elsewhere) is checked
again, and if its checksum is wrong it is removed, so that the workflow fetches it again
in the same run instead of processing wrong bytes.  With ``always`` every file is checked
again whatever its stamp says (bit rot that keeps size and time).

Standard library only: the Snakefile calls it while planning.
"""

from __future__ import annotations

import json
import logging
import os
import zlib
from pathlib import Path

from atlasod.data.catalogue import SampleFile
from atlasod.errors import AtlasodError

LOG = logging.getLogger(__name__)
BLOCK = 4 * 1024 * 1024


def adler32_of(path: Path) -> str:
    value = 1
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            value = zlib.adler32(block, value)
    return f"{value & 0xFFFFFFFF:08x}"


def stamp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.verified")


def _signature(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def write_stamp(path: Path, adler32: str) -> None:
    """Record that ``path``, as it is now, has checksum ``adler32`` (skipped on a read-only
    cache: the file is then checked again on every run)."""
    stamp = stamp_path(path)
    tmp = stamp.with_name(stamp.name + f".{os.getpid()}")
    try:
        tmp.write_text(json.dumps({**_signature(path), "adler32": adler32}), encoding="utf-8")
        os.replace(tmp, stamp)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        LOG.debug("no verification stamp for %s: %s", path, exc)


def mismatch(sample: SampleFile, path: Path) -> str | None:
    """Why ``path`` is not the file the catalogue describes, or None."""
    size = path.stat().st_size
    if sample.size is not None and size != sample.size:
        return f"size {size} bytes, the catalogue says {sample.size}"
    if sample.adler32 is not None:
        digest = adler32_of(path)
        if digest != sample.adler32.lower():
            return f"adler32 {digest}, the catalogue says {sample.adler32}"
    return None


def check_cached(sample: SampleFile, path: Path, always: bool = False) -> str | None:
    """Check a cached file before use.  Returns None when it may be used (or is absent);
    otherwise removes it (and its stamp) and returns what was wrong, for the log."""
    if not path.is_file():
        return None
    stamp = stamp_path(path)
    if not always and stamp.is_file():
        try:
            recorded = json.loads(stamp.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            recorded = {}
        now = {**_signature(path), "adler32": (sample.adler32 or "").lower()}
        if {key: recorded.get(key) for key in now} == now:
            return None
    LOG.info("checking %s against the catalogue (changed since it was verified)", path)
    problem = mismatch(sample, path)
    if problem is None:
        if sample.adler32 is not None:
            write_stamp(path, sample.adler32.lower())
        return None
    try:
        path.unlink()
        stamp.unlink(missing_ok=True)
    except OSError as exc:  # a read-only cache shared by a class
        raise AtlasodError(
            f"cached input {path} is corrupt ({problem}) and cannot be removed "
            f"({exc.strerror}): remove it, or ask whoever fills this cache to fetch it again"
        ) from None
    return f"{path}: {problem}; removed it, to be fetched again"
