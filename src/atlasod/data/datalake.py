"""Rucio as a data source and a destination (the Datalake), through the Rucio client.

Inputs are addressed by DID (``scope:name``); data sets are expanded to their files when
the workflow is planned.  A file is downloaded from one of its replicas into a temporary
file beside its destination, its adler32 compared with Rucio's, and only then moved into
place.  Data sets are written all or nothing: the files are copied to the RSE first, then
registered with the data set and its metadata in one call, so a failure leaves nothing
registered (and the copies are removed).  Rucio's DIDs are write-once: results go to a new
version of their data set (``<name>.v<k>``) unless the last version holds the same files.

The client's settings (server, account, credentials) come from ``RUCIO_CONFIG``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from atlasod.data.cache import adler32_of as adler32
from atlasod.errors import AtlasodError

LOG = logging.getLogger(__name__)
_DID = re.compile(
    r"^(?P<scope>[A-Za-z0-9][A-Za-z0-9._-]{0,29}):(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)$"
)
_VERSION = re.compile(r"\.v(?P<k>\d+)$")


@dataclass(frozen=True)
class FileDid:
    scope: str
    name: str
    bytes: int
    adler32: str

    @property
    def did(self) -> str:
        return f"{self.scope}:{self.name}"


def parse_did(text: str) -> tuple[str, str]:
    """(scope, name) of ``scope:name``; an error says what a DID looks like."""
    m = _DID.match(text.strip())
    if not m:
        raise AtlasodError(
            f"{text!r} is not a Rucio DID: write scope:name, e.g. opendata:demo.hzz.4lep"
        )
    return m["scope"], m["name"]


def _settings() -> str:
    return os.environ.get("RUCIO_CONFIG", "/opt/rucio/etc/rucio.cfg")


def connect() -> Any:
    """A Rucio client, authenticated; errors name the settings file and what to check."""
    from rucio.client import Client
    from rucio.common import exception as rucio_errors

    # Rucio reads and writes RSEs with xrdcp/xrdfs, which retry a refused connection for
    # minutes (measured: 8 min against a stopped server); an RSE that is down should fail in
    # seconds, so that the next replica is tried.  Only this process and its children.
    os.environ.setdefault("XRD_CONNECTIONRETRY", "2")
    os.environ.setdefault("XRD_CONNECTIONWINDOW", "5")
    where = _settings()
    if not Path(where).is_file():
        raise AtlasodError(
            f"no Rucio client settings at {where}: set RUCIO_CONFIG to the rucio.cfg of "
            "your Datalake (a local one: `make datalake` prints it)"
        )
    try:
        client = Client()
        client.whoami()
    except rucio_errors.CannotAuthenticate as exc:
        raise AtlasodError(
            f"the Rucio server refused the credentials in {where} ({_first_line(exc)}): check "
            "username, password and account in its [client] section"
        ) from exc
    except (rucio_errors.RucioException, OSError) as exc:
        raise AtlasodError(
            f"cannot use the Rucio server named in {where} ({_first_line(exc)}): is it "
            "running (a local Datalake: `make datalake`)?"
        ) from exc
    return client


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


def _unknown(did: str) -> AtlasodError:
    scope = did.partition(":")[0]
    return AtlasodError(
        f"unknown Rucio DID {did}: it is not in the Datalake; list what is there with "
        f"`rucio list-dids {scope}:*`"
    )


def dataset_files(client: Any, did: str) -> list[FileDid]:
    """The files of a data set (or the file itself, for a file DID)."""
    from rucio.common.exception import DataIdentifierNotFound

    scope, name = parse_did(did)
    try:
        files = list(client.list_files(scope, name))
    except DataIdentifierNotFound as exc:
        raise _unknown(did) from exc
    return sorted(
        (FileDid(f["scope"], f["name"], int(f["bytes"]), f["adler32"]) for f in files),
        key=lambda f: f.did,
    )


def _replicas(client: Any, scope: str, name: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Rucio's record of a file and its (RSE, PFN) replicas."""
    from rucio.common.exception import DataIdentifierNotFound

    try:
        found = list(client.list_replicas([{"scope": scope, "name": name}], all_states=False))
    except DataIdentifierNotFound as exc:
        raise _unknown(f"{scope}:{name}") from exc
    if not found:
        raise _unknown(f"{scope}:{name}")
    record = found[0]
    return record, _pfns(record)


def _pfns(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(RSE, PFN) of a list_replicas record, RSEs in name order."""
    return [(rse, pfn) for rse, urls in sorted(record.get("rses", {}).items()) for pfn in urls]


def stream_urls(client: Any, files: list[FileDid]) -> dict[str, str]:
    """For reading in place (``access=stream``): the ``root://`` URL of each file's first
    replica (RSEs in name order), by DID; an error names a file that has none.  Nothing is
    checksummed: a file read in place is not copied, so its adler32 is not computed."""
    wanted = [{"scope": f.scope, "name": f.name} for f in files]
    urls: dict[str, str] = {}
    with rucio_errors_explained("listing the replicas of the Rucio inputs"):
        for record in client.list_replicas(wanted, schemes=["root"], all_states=False):
            pfns = _pfns(record)
            if pfns:
                urls[f"{record['scope']}:{record['name']}"] = pfns[0][1]
    missing = sorted({f.did for f in files} - set(urls))
    if missing:
        raise AtlasodError(
            f"{len(missing)} Rucio input(s) have no replica that can be read in place "
            f"(root://), first {missing[0]}: download them instead (access=download)"
        )
    return urls


def download(client: Any, did: str, out: Path) -> FileDid:
    """Download file ``did`` to ``out``: from the first replica that answers, adler32
    checked against Rucio's; ``out`` appears only when complete and verified."""
    from rucio.client.downloadclient import DownloadClient

    scope, name = parse_did(did)
    record, pfns = _replicas(client, scope, name)
    expected = FileDid(scope, name, int(record["bytes"]), record["adler32"])
    if not pfns:
        raise AtlasodError(f"Rucio DID {did} has no available replica on any RSE")
    out.parent.mkdir(parents=True, exist_ok=True)
    problems = []
    downloader = DownloadClient(client=client, logger=_rucio_log)
    for rse, pfn in pfns:
        tmpdir = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            LOG.info("downloading %s from %s (%s)", did, rse, pfn)
            item = {"pfn": pfn, "did": did, "rse": rse, "base_dir": str(tmpdir)}
            item |= {"no_subdir": True, "ignore_checksum": True, "transfer_timeout": 600}
            try:
                downloader.download_pfns([item])
            except Exception as exc:  # the client raises its own errors and OSError
                problems.append(f"{rse} ({pfn}): {_first_line(exc)}")
                continue
            got = tmpdir / name
            if not got.is_file():
                problems.append(f"{rse} ({pfn}): nothing was written")
                continue
            size, checksum = got.stat().st_size, adler32(got)
            if (size, checksum) != (expected.bytes, expected.adler32):
                problems.append(
                    f"{rse} ({pfn}): the replica is corrupt: {size} bytes, adler32 "
                    f"{checksum}; Rucio records {expected.bytes} bytes, adler32 "
                    f"{expected.adler32}"
                )
                continue
            os.replace(got, out)
            return expected
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
    raise AtlasodError(
        f"no replica of Rucio DID {did} could be read; nothing was written to {out}:\n  "
        + "\n  ".join(problems)
        + "\nIf an RSE is down, start its storage again (a local Datalake: `make datalake`); "
        "a corrupt replica must be declared bad to Rucio's administrators"
    )


def _rucio_log(level: int, msg: str, *args: Any, **kwargs: Any) -> None:
    """The download client's logger function: its messages go to the step's log file
    (at most INFO: failures are reported by this module, with what to do)."""
    logging.getLogger("atlasod.rucio").log(min(level, logging.INFO), msg, *args, **kwargs)


def _rucio_logger() -> logging.Logger:
    """The upload client's logger (it calls ``.log``): the step's log file only."""
    logger = logging.getLogger("atlasod.rucio.upload")
    logger.propagate = False
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler) and handler not in logger.handlers:
            logger.addHandler(handler)
    return logger


def _rse_protocol(client: Any, rse: str) -> Any:
    from rucio.rse import rsemanager

    settings = rsemanager.get_rse_info(rse, vo=client.vo)
    return rsemanager.create_protocol(settings, "write", scheme="root"), settings


def upload_dataset(
    client: Any,
    files: Mapping[str, Path],
    dataset: str,
    rse: str,
    meta: Mapping[str, Any] | None = None,
    checksums: Mapping[str, str] | None = None,
) -> list[FileDid]:
    """Register ``files`` (DID name → local path) as the new data set ``dataset`` on
    ``rse``, with ``meta``; all or nothing.  ``checksums``: the adler32 of files already
    read (DID name → adler32), not computed again."""
    from rucio.client.uploadclient import UploadClient
    from rucio.common import exception as rucio_errors

    scope, name = parse_did(dataset)
    if _exists(client, scope, name):
        raise AtlasodError(
            f"Rucio data set {dataset} exists already, and Rucio's DIDs are write-once: "
            "choose another name (results get a new version: <name>.v<k>)"
        )
    try:
        client.get_rse(rse)
    except rucio_errors.RSENotFound as exc:
        raise AtlasodError(
            f"unknown RSE {rse}: the Datalake has {', '.join(_rse_names(client))}"
        ) from exc
    known = checksums or {}
    dids = [
        FileDid(scope, n, p.stat().st_size, known.get(n) or adler32(p))
        for n, p in sorted(files.items())
    ]
    for did in dids:
        if _exists(client, scope, did.name):
            raise AtlasodError(f"Rucio DID {did.did} exists already (DIDs are write-once)")
    uploader = UploadClient(client, logger=_rucio_logger())
    copied: list[FileDid] = []
    try:
        for did in dids:
            item = {"path": str(files[did.name]), "rse": rse, "did_scope": scope}
            item |= {"did_name": did.name, "no_register": True, "transfer_timeout": 600}
            try:
                uploader.upload([item])
            except Exception as exc:  # the client raises its own errors and OSError
                raise AtlasodError(
                    f"could not write {files[did.name]} to RSE {rse} ({_first_line(exc)}); "
                    "nothing was registered: is the RSE's storage running?"
                ) from exc
            copied.append(did)
        content = [
            {"scope": d.scope, "name": d.name, "bytes": d.bytes, "adler32": d.adler32} for d in dids
        ]
        client.add_dataset(scope, name, meta=dict(meta or {}), files=content, rse=rse)
        client.close(scope, name)
    except BaseException:
        _remove_copies(client, rse, copied)
        raise
    LOG.info("registered %s: %d files on %s", dataset, len(dids), rse)
    return dids


def _remove_copies(client: Any, rse: str, copied: list[FileDid]) -> None:
    """Delete the storage copies of an upload that was not registered."""
    if not copied:
        return
    try:
        protocol, _ = _rse_protocol(client, rse)
        protocol.connect()
        for did in copied:
            pfn = next(iter(protocol.lfns2pfns({"scope": did.scope, "name": did.name}).values()))
            try:
                protocol.delete(pfn)
            except Exception as exc:  # best effort, reported
                LOG.warning("could not remove the unregistered copy %s: %s", pfn, exc)
    except Exception as exc:  # the storage may be what failed
        LOG.warning("could not remove the unregistered copies on %s: %s", rse, exc)


def _exists(client: Any, scope: str, name: str) -> bool:
    from rucio.common.exception import DataIdentifierNotFound

    try:
        client.get_did(scope, name)
    except DataIdentifierNotFound:
        return False
    return True


def _rse_names(client: Any) -> list[str]:
    return sorted(r["rse"] for r in client.list_rses())


def versions(client: Any, scope: str, base: str) -> dict[int, str]:
    """The versions ``<base>.v<k>`` of a data set in ``scope``: {k: name}."""
    out = {}
    for name in client.list_dids(scope, {"name": f"{base}.v*"}, did_type="dataset"):
        m = _VERSION.search(name)
        if m and name == f"{base}.v{m['k']}":
            out[int(m["k"])] = name
    return out


def upload_versioned(
    client: Any,
    files: Mapping[str, Path],
    scope: str,
    base: str,
    rse: str,
    meta: Mapping[str, Any] | None = None,
    record: Path | None = None,
    inputs: list[str] | None = None,
) -> tuple[str, dict[str, FileDid], bool]:
    """Upload ``files`` (relative name → path) as the next version of data set
    ``scope:base`` — unless the last version holds the same files (names and adler32),
    which is then kept.  ``record`` (JSON: the data set, the DID of every file, the input
    DIDs) is written and uploaded with them.  Returns (data set DID, {relative name:
    file DID}, whether a version was made)."""
    existing = versions(client, scope, base)
    record_name = record.name if record is not None else None
    sums = {rel: adler32(p) for rel, p in files.items()}  # each file read once
    if existing:
        last = existing[max(existing)]
        have = {
            (f.name, f.adler32)
            for f in dataset_files(client, f"{scope}:{last}")
            if record_name is None or f.name != f"{last}.{record_name}"
        }
        want = {(f"{last}.{_flat(rel)}", sums[rel]) for rel in files}
        if have == want:
            LOG.info("%s:%s holds these files already: nothing uploaded", scope, last)
            if record is not None:
                download(client, f"{scope}:{last}.{record.name}", record)
            return f"{scope}:{last}", _dids(scope, last, files, sums), False
    version = f"{base}.v{max(existing, default=0) + 1}"
    dids = _dids(scope, version, files, sums)
    upload = {dids[rel].name: p for rel, p in files.items()}
    if record is not None:
        payload = {
            "dataset": f"{scope}:{version}",
            "rse": rse,
            "files": {rel: d.did for rel, d in sorted(dids.items())},
            "inputs": sorted(inputs or []),
            "meta": dict(meta or {}),
        }
        from atlasod.histio import write_json  # (uproot: not at planning time)

        write_json(record, payload)
        upload[f"{version}.{record.name}"] = record
    try:
        checksums = {d.name: d.adler32 for d in dids.values()}
        upload_dataset(client, upload, f"{scope}:{version}", rse, meta, checksums)
    except BaseException:
        if record is not None:
            record.unlink(missing_ok=True)
        raise
    return f"{scope}:{version}", dids, True


def _flat(relative: str) -> str:
    """A relative path as part of a DID name (Rucio names have no '/')."""
    return relative.replace("/", ".")


def _dids(
    scope: str, dataset: str, files: Mapping[str, Path], sums: Mapping[str, str]
) -> dict[str, FileDid]:
    return {
        rel: FileDid(scope, f"{dataset}.{_flat(rel)}", p.stat().st_size, sums[rel])
        for rel, p in files.items()
    }


@contextmanager
def rucio_errors_explained(what: str) -> Iterator[None]:
    """Turn the Rucio client's errors into an AtlasodError that says what was being done."""
    from rucio.common import exception as rucio_errors

    try:
        yield
    except rucio_errors.RucioException as exc:
        raise AtlasodError(f"{what}: Rucio said: {_first_line(exc)}") from exc
