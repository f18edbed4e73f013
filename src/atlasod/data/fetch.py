"""Download one release file into the cache: resumable, verified, atomic.

Locations are tried in order (HTTPS mirrors, XRootD, the CERN Open Data portal),
because these URLs have moved before and servers get overloaded.  A download
goes to ``<file>.part`` and resumes from there (HTTP ``Range`` / XRootD offset
reads); the file is checked against the catalogue's size and adler32 and only
then renamed to its final name, so a half or corrupt file never looks complete.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import requests
import urllib3

from atlasod.data.cache import mismatch, write_stamp
from atlasod.data.catalogue import SampleFile
from atlasod.errors import AtlasodError
from atlasod.runlock import file_lock

LOG = logging.getLogger(__name__)
# Shown in the terminal also when a job logs to a file (atlasod.cli).
PROGRESS = logging.getLogger("atlasod.progress")
BLOCK = 4 * 1024 * 1024
PROGRESS_EVERY_S = 5.0


class ChecksumMismatchError(Exception):
    """The downloaded bytes are not the file the catalogue describes."""


def verify(sample: SampleFile, path: Path) -> None:
    problem = mismatch(sample, path)
    if problem is not None:
        raise ChecksumMismatchError(problem)


class _Progress:
    """Progress of one download, logged every few seconds on the ``atlasod.progress`` logger,
    which the CLI shows in the terminal even when the rest goes to the job's log file: one
    whole line per report, naming the file, so that several downloads at once stay readable."""

    def __init__(
        self, name: str, total: int | None, start: int, every_s: float = PROGRESS_EVERY_S
    ) -> None:
        self.name, self.total, self.done = name, total, start
        self.t0 = self.last = time.monotonic()
        self.start = start
        self.every_s = every_s

    def restart(self, offset: int, total: int | None = None) -> None:
        """A transfer (re)starts at ``offset``; ``total``: the size the server announces."""
        self.done = self.start = offset
        self.total = total or self.total
        self.t0 = self.last = time.monotonic()

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            PROGRESS.info("%s", self.line(now))

    def line(self, now: float) -> str:
        rate = (self.done - self.start) / max(now - self.t0, 1e-9)
        text = f"{self.name}: {_mb(self.done)}"
        if self.total:
            text += f" of {_mb(self.total)} ({100 * self.done / self.total:.0f} %)"
        text += f", {rate / 1e6:.1f} MB/s"
        if self.total and rate > 0:
            text += f", {_duration((self.total - self.done) / rate)} left"
        return text


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _http_download(url: str, part: Path, timeout: float, progress: _Progress) -> None:
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    with requests.get(url, headers=headers, stream=True, timeout=timeout) as response:
        if response.status_code == 416:  # requested range not satisfiable: already complete
            return
        response.raise_for_status()
        if offset and response.status_code != 206:
            LOG.info("%s does not support resuming; starting over", url)
            offset = 0
        elif offset:
            LOG.info("resuming %s at byte %d", part.name, offset)
        expected = response.headers.get("Content-Length")
        progress.restart(offset, offset + int(expected) if expected is not None else None)
        received = 0
        with open(part, "ab" if offset else "wb") as f:
            # read1 hands over bytes as they arrive, so a cut transfer keeps what came
            while block := response.raw.read1(BLOCK):
                f.write(block)
                received += len(block)
                progress.update(len(block))
        if expected is not None and received != int(expected):
            raise ConnectionError(f"connection closed after {received} of {expected} bytes")


def _xrootd_download(url: str, part: Path, timeout: float, progress: _Progress) -> None:
    try:
        from XRootD import client
    except ImportError as exc:
        raise AtlasodError(
            "reading root:// URLs needs the XRootD Python bindings: pip install xrootd"
        ) from exc
    offset = part.stat().st_size if part.exists() else 0
    handle = client.File()
    status, _ = handle.open(url, timeout=int(timeout))
    if not status.ok:
        raise ConnectionError(status.message.strip())
    try:
        status, info = handle.stat(timeout=int(timeout))
        if not status.ok:
            raise ConnectionError(status.message.strip())
        if offset:
            LOG.info("resuming %s at byte %d", part.name, offset)
        progress.restart(offset, info.size)
        with open(part, "ab" if offset else "wb") as f:
            while offset < info.size:
                status, data = handle.read(
                    offset, min(BLOCK, info.size - offset), timeout=int(timeout)
                )
                if not status.ok:
                    raise ConnectionError(status.message.strip())
                if not data:
                    break
                f.write(data)
                offset += len(data)
                progress.update(len(data))
    finally:
        handle.close()


def _local_copy(url: str, part: Path, timeout: float, progress: _Progress) -> None:
    del timeout, progress
    source = Path(url.removeprefix("file://"))
    if not source.is_file():
        raise FileNotFoundError(f"{source} does not exist")
    shutil.copyfile(source, part)


def _downloader(url: str) -> Callable[[str, Path, float, _Progress], None]:
    if url.startswith(("http://", "https://")):
        return _http_download
    if url.startswith("root://"):
        return _xrootd_download
    return _local_copy


def fetch_file(
    sample: SampleFile,
    urls: list[str],
    out: Path,
    timeout: float = 30.0,
    verify_checksum: bool = True,
    progress_every: float = PROGRESS_EVERY_S,
) -> None:
    """Download ``sample`` to ``out`` from the first location that works.

    One download of a file at a time (two workflows sharing a data folder): the second
    waits for the first and then finds the file complete."""
    if not urls:
        raise AtlasodError(f"no location known for {sample.file}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(out.with_name(f".{out.name}.lock"), f"another download of {sample.file}"):
        if out.is_file() and (not verify_checksum or mismatch(sample, out) is None):
            LOG.info("%s: already complete and verified", out)
            return
        _fetch_locked(sample, urls, out, timeout, verify_checksum, progress_every)


def _fetch_locked(
    sample: SampleFile,
    urls: list[str],
    out: Path,
    timeout: float,
    verify_checksum: bool,
    progress_every: float,
) -> None:
    part = out.with_name(out.name + ".part")
    failures = []
    unreachable = 0  # locations whose host could not be reached at all
    for url in urls:
        LOG.info("fetching %s from %s", sample.file, url)
        progress = _Progress(sample.file, sample.size, 0, progress_every)
        try:
            _downloader(url)(url, part, timeout, progress)
            if verify_checksum:
                verify(sample, part)
        except ChecksumMismatchError as exc:
            part.unlink(missing_ok=True)  # wrong bytes: never resume from them
            failures.append(f"{url}: checksum mismatch ({exc})")
            LOG.warning("%s: %s", url, failures[-1])
            continue
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            reason = _reason(exc)
            unreachable += _is_unreachable(exc)
            failures.append(f"{url}: {reason}")
            if part.exists() and part.stat().st_size > 0:
                LOG.warning("%s: %s (kept %s for resuming)", url, reason, part.name)
            else:
                part.unlink(missing_ok=True)
                LOG.warning("%s: %s", url, reason)
            continue
        os.replace(part, out)
        if verify_checksum and sample.adler32 is not None:
            write_stamp(out, sample.adler32.lower())
        LOG.info("%s: complete and verified", out)
        return
    lines = "\n  ".join(failures)
    if unreachable == len(urls):
        headline = (
            f"none of the {len(urls)} location(s) of {sample.file} could be reached: "
            "this machine looks offline (or a firewall blocks them)"
        )
    else:
        headline = f"could not fetch {sample.file} from any of {len(urls)} location(s)"
    raise AtlasodError(
        f"{headline}:\n  {lines}\n"
        "To run offline, use generated data instead: --config source=demo; "
        "if you have the files already, put them under <data_dir>/real/<skim>/<Data|MC>/ "
        "and pass --config data_dir=<data_dir>."
    )


def _is_unreachable(exc: BaseException) -> bool:
    """No connection at all (no route, no name resolution, refused), as opposed to a server
    that answered with an error."""
    if isinstance(exc, requests.ConnectionError):
        return True
    text = str(exc)
    # XRootD: "[FATAL] Invalid address" (name not resolved), "[FATAL] Connection error"
    return isinstance(exc, ConnectionError) and (
        "Invalid address" in text or "Connection error" in text or "Socket error" in text
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, requests.ConnectionError):
        return f"host could not be reached ({type(exc).__name__})"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code}"
    return f"{type(exc).__name__}: {exc}"
