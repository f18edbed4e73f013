"""The one on-disk histogram format: ROOT files (``TH1D`` with Σw²) written by uproot.

ROOT reads them natively; Python reads them with uproot (``.to_hist()``).  The
layout is ``<sample stem>/<histogram name>``.

Writes are deterministic: uproot stamps every key and directory with the
current time and a random UUID.  We write with a fixed UUID and a fixed
timestamp (``SOURCE_DATE_EPOCH`` if set, else the release date of the data,
2020-02-11; ROOT's TDatime cannot store years before 1995), so that the same
inputs and seed give byte-identical files.
Every write goes to a temporary name and is renamed into place, so a half-written
file never looks complete.
"""

from __future__ import annotations

import datetime
import errno
import glob
import json
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import hist
import numpy as np
import uproot
from uproot.writing import _cascade, _cascadetree

from atlasod.errors import AtlasodError

_FIXED_UUID = uuid.UUID(int=0)


def _fixed_time() -> datetime.datetime:
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "1581379200"))
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).replace(tzinfo=None)


class _FrozenDatetime(datetime.datetime):
    @classmethod
    def now(cls, tz: datetime.tzinfo | None = None) -> datetime.datetime:
        return _fixed_time()


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path for ``path``; move it into place only on success.

    The temporary file has the same base name inside a hidden sibling folder,
    because ROOT files record their own name.  The folder's name carries the writer's
    process id, so that what a killed writer left is recognised and removed.  A full file
    system (or quota) is reported as such, naming ``path``; nothing is left behind.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(path)
        prefix = f".{path.name}.{os.getpid()}-{socket.gethostname()}."
        tmpdir = Path(tempfile.mkdtemp(prefix=prefix, dir=path.parent))
    except OSError as exc:
        raise _disk_full(exc, path) from None
    tmp = tmpdir / path.name
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        raise _disk_full(exc, path) from None
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _disk_full(exc: OSError, path: Path) -> OSError | AtlasodError:
    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return exc
    return AtlasodError(
        f"no space left on the file system of {path.parent} while writing {path.name} "
        f"({exc.strerror}): free some space there (see `df -h {path.parent}`) or choose "
        "another --config results_dir=..., then run the workflow again; nothing "
        f"half-written was kept"
    )


def _remove_abandoned(path: Path) -> None:
    """Remove temporary folders of ``path`` whose writer, on this host, no longer runs."""
    host = socket.gethostname()
    for tmpdir in path.parent.glob(f".{glob.escape(path.name)}.*"):
        pid, _, rest = tmpdir.name[len(path.name) + 2 :].partition("-")
        mine = rest.startswith(f"{host}.")
        if tmpdir.is_dir() and mine and pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(tmpdir, ignore_errors=True)


def _running(pid: int) -> bool:
    """Whether process ``pid`` still runs.  A killed process that its parent has not reaped
    yet (a zombie: its parent was killed too, and the system's first process has not
    collected it) answers signals but writes nothing more: it does not run."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    try:  # Linux: the state follows the command name (in parentheses) in /proc/<pid>/stat
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # gone since, or no /proc to tell
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


@contextmanager
def reproducible_root_file(path: Path, compressed: bool = True) -> Iterator[Any]:
    """An uproot file for writing at ``path`` (atomically) whose bytes depend only on what
    is written: fixed timestamps and UUID.  Compressed with zlib unless ``compressed`` is
    false: zlib's output depends on the system's libz (Debian 12 and 13 differ)."""
    frozen = SimpleNamespace(datetime=_FrozenDatetime)
    options: dict[str, Any] = {} if compressed else {"compression": None}
    with (
        atomic_path(path) as tmp,
        mock.patch.object(_cascade, "datetime", frozen),
        mock.patch.object(_cascadetree, "datetime", frozen),
        uproot.recreate(tmp, uuid_function=lambda: _FIXED_UUID, **options) as out,
    ):
        yield out


def write_histograms(path: Path, histograms: Mapping[str, hist.Hist]) -> None:
    """Write ``{"<sample>/<name>": Hist}`` to ``path`` atomically and reproducibly.

    Uncompressed, so that the bytes are the same on every machine whatever its zlib (a
    batch worker's, the image's, a laptop's); histogram files are small."""
    with reproducible_root_file(path, compressed=False) as out:
        for key in sorted(histograms):
            out[key] = histograms[key]


def read_histograms(path: Path) -> dict[str, hist.Hist]:
    """Read every histogram of a file written by :func:`write_histograms`."""
    if not path.is_file():
        raise AtlasodError(f"histogram file {path} does not exist")
    try:
        with uproot.open(path) as f:
            return {
                key.rsplit(";", 1)[0]: obj.to_hist()
                for key, obj in f.items(recursive=True)
                if isinstance(obj, uproot.behaviors.TH1.TH1)
            }
    except (OSError, ValueError) as exc:
        raise AtlasodError(f"cannot read histogram file {path}: {exc}") from exc


def empty_histogram(name: str, bins: int, low: float, high: float, label: str) -> hist.Hist:
    return hist.Hist(
        hist.axis.Regular(bins, low, high, name=name, label=label), storage=hist.storage.Weight()
    )


def sum_histograms(items: list[hist.Hist]) -> hist.Hist:
    """Sum histograms in a fixed order (floating-point sums depend on order)."""
    total = items[0].copy()
    for h in items[1:]:
        if h.axes != total.axes:
            raise AtlasodError(
                f"cannot add histograms with different binning: {h.axes} vs {total.axes}"
            )
        total += h
    return total


def summed(histograms: Mapping[str, hist.Hist], stems: list[str], name: str) -> hist.Hist:
    """Sum of the histograms ``<stem>/<name>`` of several samples, in the given order."""
    parts = []
    for stem in stems:
        key = f"{stem}/{name}"
        if key not in histograms:
            raise AtlasodError(
                f"histogram {key} missing from the merged file; rerun the merge step"
            )
        parts.append(histograms[key])
    return sum_histograms(parts)


def values_and_variances(h: hist.Hist, fold_overflow: bool) -> tuple[np.ndarray, np.ndarray]:
    """Bin contents and Σw², with the overflow added to the last bin when ``fold_overflow``."""
    values = h.values(flow=True).astype(float)
    variances = h.variances(flow=True)
    variances = values.copy() if variances is None else variances.astype(float)
    v, var = values[1:-1].copy(), variances[1:-1].copy()
    if fold_overflow:
        v[-1] += values[-1]
        var[-1] += variances[-1]
    return v, var


def write_json(path: Path, payload: Any) -> None:
    """Write JSON atomically with stable formatting (sorted keys)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
