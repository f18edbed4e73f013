"""One workflow run at a time per results folder, and one download at a time per file.

Both are ``flock`` locks: the kernel releases them when the process that holds them ends,
however it ends (SIGKILL, a power cut of the session), so a killed run never leaves a
lock that a user must remove by hand (Snakemake's own ``.snakemake/locks`` does: the
default workflow profile turns it off and relies on these).

Standard library only: the Snakefile imports it while planning.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from atlasod.errors import AtlasodError

LOG = logging.getLogger(__name__)
LOCK_NAME = ".atlasod-run.lock"


def _holder(handle: IO[str]) -> str:
    handle.seek(0)
    try:
        info = json.loads(handle.read() or "{}")
    except ValueError:
        return "another process"
    if not info:
        return "another process"
    return f"pid {info.get('pid')} on {info.get('host')}, started {info.get('started')}"


def _describe_self(handle: IO[str]) -> None:
    """Write who holds the lock into it (best effort: a full disk must not stop the run)."""
    try:
        _write_holder(handle)
    except OSError as exc:
        LOG.debug("could not describe the lock holder: %s", exc)


def _write_holder(handle: IO[str]) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(
        json.dumps(
            {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            }
        )
    )
    handle.flush()


def acquire_run_lock(results: Path) -> IO[str]:
    """Lock ``results`` (a ``results/<release>-<source>`` folder) for this workflow run, or raise an
    error naming the run that holds it.  Keep the returned handle open for the run's life."""
    results.mkdir(parents=True, exist_ok=True)
    handle = open(results / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115 - held open
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(handle)
        handle.close()
        raise AtlasodError(
            f"another workflow run is writing {results} ({holder}): wait for it to finish, "
            "or give this run its own folder with --config results_dir=<folder>"
        ) from None
    _describe_self(handle)
    return handle


@contextlib.contextmanager
def file_lock(path: Path, what: str, poll_s: float = 2.0) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if needed), waiting for another holder
    and saying so every minute; ``what`` names the thing protected, for that message."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        waited = 0.0
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if waited % 60 == 0:
                    LOG.warning("waiting for %s (%s)", what, _holder(handle))
                time.sleep(poll_s)
                waited += poll_s
        _describe_self(handle)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
