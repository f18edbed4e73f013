"""The teacher's course material into a student's home: ``atlasod class-sync``.

``atlasod class-sync --source /opt/course --dest ~/course`` (run at every
login) delivers the teacher's course material into a student's home: what is missing is
copied, what the student has not touched is updated, what the student edited is kept (the
teacher's new version goes beside it as ``<name>.new``), and what the student deleted stays
deleted.  ``<dest>/.atlasod-class/delivered.json`` records the SHA-256 of what was delivered;
links in the destination are never followed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import logging
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atlasod.errors import AtlasodError

LOG = logging.getLogger(__name__)


RECORD_DIR = ".atlasod-class"
RECORD = "delivered.json"  # relative path -> SHA-256 of the content last delivered there
REMOVED = "removed.json"  # delivered files the student removed, already reported once
NOT_DELIVERED_AT_TOP = frozenset(
    {"__pycache__", ".git", ".snakemake", "results", "logs", "data", RECORD_DIR}
)
NOT_DELIVERED_ANYWHERE = frozenset({"__pycache__", ".git", ".snakemake"})
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO cannot block
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_BLOCK = 1 << 20


@dataclass
class Delivery:
    """What one ``class-sync`` did: paths relative to the destination, in delivery order."""

    copied: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # edited by the student: <name>.new beside
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.copied)} copied, {len(self.updated)} updated, {len(self.kept)} kept "
            f"(changed by you; the new version is beside as .new), {len(self.skipped)} skipped"
        )


class _NotWritten(Exception):
    """A destination path the sync does not write through: a link, or not a file or folder."""


def course_files(source: Path) -> tuple[list[str], list[str]]:
    """The regular files of the course folder ``source`` (relative POSIX paths), and what is
    not delivered: links and special files.  Build products, data, results and repository
    folders are left out (not reported)."""
    files: list[str] = []
    skipped: list[str] = []

    def walk(folder: Path, prefix: str) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            if not prefix:
                raise
            LOG.warning("class-sync: %s not delivered: %s", prefix.rstrip("/"), exc.strerror)
            skipped.append(prefix.rstrip("/"))
            return
        for entry in entries:
            rel = prefix + entry.name
            if entry.name in NOT_DELIVERED_ANYWHERE or (
                not prefix and entry.name in NOT_DELIVERED_AT_TOP
            ):
                continue
            if entry.is_symlink():
                LOG.info("class-sync: %s not delivered: a link in the course material", rel)
                skipped.append(rel)
            elif entry.is_dir(follow_symlinks=False):
                walk(Path(entry.path), rel + "/")
            elif entry.is_file(follow_symlinks=False):
                files.append(rel)
            else:
                LOG.info("class-sync: %s not delivered: not a regular file", rel)
                skipped.append(rel)

    walk(source, "")
    return files, skipped


def _open_folder(root: int, parts: list[str], create: bool) -> int | None:
    """A descriptor (the caller closes it) of the folder ``parts`` under the open folder
    ``root``; None if it is missing and not ``create``d.  Each step is opened relative to the
    one before and never through a link, so a link planted meanwhile is not followed either."""
    fd = os.dup(root)
    try:
        for i, part in enumerate(parts):
            where = "/".join(parts[: i + 1])
            try:
                mode = os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode
            except FileNotFoundError:
                if not create:
                    os.close(fd)
                    return None
                os.mkdir(part, 0o755, dir_fd=fd)
                mode = stat.S_IFDIR
            if stat.S_ISLNK(mode):
                raise _NotWritten(f"{where} is a link")
            if not stat.S_ISDIR(mode):
                raise _NotWritten(f"{where} is not a folder")
            try:
                child = os.open(part, _FOLDER_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _NotWritten(f"{where} is a link") from exc
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def _sha256(stream: io.BufferedReader) -> str:
    digest = hashlib.sha256()
    while block := stream.read(_BLOCK):
        digest.update(block)
    return digest.hexdigest()


def _open_regular(name: str | Path, folder: int | None, where: str) -> io.BufferedReader:
    """``name`` (in the open ``folder``) opened for reading if it is a regular file, not a
    link; FileNotFoundError if there is nothing, _NotWritten if it is something else."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=folder)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _NotWritten(f"{where} is a link") from exc
        raise
    stream = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        stream.close()
        raise _NotWritten(f"{where} is not a regular file")
    return stream


def _existing(folder: int, name: str, where: str) -> str | None:
    """The SHA-256 of the regular file ``name`` in ``folder``; None if there is nothing."""
    try:
        mode = os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(mode):
        raise _NotWritten(f"{where} is a link")
    with _open_regular(name, folder, where) as stream:
        return _sha256(stream)


def _replace(folder: int, name: str, write: Callable[[io.BufferedWriter], None]) -> None:
    """Write ``name`` in ``folder`` under a temporary name, then rename it over ``name``: never
    half-written, and a link planted there is replaced, not followed.  ``write(out)`` writes
    the content and sets the mode."""
    tmp = f".{name}.{secrets.token_hex(4)}.atlasod-tmp"
    fd = os.open(tmp, _NEW_FLAGS, 0o600, dir_fd=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=folder)
        raise


def _copy(source: Path, folder: int, name: str) -> str:
    """Deliver ``source`` as ``name`` in ``folder``: owner read-write (and execute if the
    source is executable), group and others as in the source but never write.  Returns the
    SHA-256 of what was written."""
    digest = hashlib.sha256()
    with _open_regular(source, None, str(source)) as src:
        src_mode = os.fstat(src.fileno()).st_mode
        mode = 0o600 | (0o100 if src_mode & 0o111 else 0) | (src_mode & 0o055)

        def write(out: io.BufferedWriter) -> None:
            while block := src.read(_BLOCK):
                digest.update(block)
                out.write(block)
            os.fchmod(out.fileno(), mode)

        _replace(folder, name, write)
    return digest.hexdigest()


def _deliver(
    source: Path, root: int, rel: str, delivered: dict[str, str], removed: set[str], done: Delivery
) -> None:
    """Bring one course file ``rel`` to the destination ``root``, by the rules of
    :func:`sync_class`; what was done is added to ``done``."""
    *parents, name = rel.split("/")
    folder = _open_folder(root, parents, create=False)
    try:
        current = None if folder is None else _existing(folder, name, rel)
        if current is None:
            if rel in delivered:  # delivered before, then removed by the student
                if rel not in removed:
                    LOG.info("class-sync: %s was removed since delivered: not brought back", rel)
                    removed.add(rel)
                    done.skipped.append(rel)
                return
            if folder is None:
                folder = _open_folder(root, parents, create=True)
                assert folder is not None
            delivered[rel] = _copy(source / rel, folder, name)
            LOG.info("class-sync: %s copied", rel)
            done.copied.append(rel)
            return
        assert folder is not None
        removed.discard(rel)
        with _open_regular(source / rel, None, str(source / rel)) as src:
            wanted = _sha256(src)
        if current == wanted:
            delivered[rel] = wanted
        elif delivered.get(rel) == current:  # as last delivered: the student did not change it
            delivered[rel] = _copy(source / rel, folder, name)
            LOG.info("class-sync: %s updated", rel)
            done.updated.append(rel)
        else:
            if _existing(folder, f"{name}.new", f"{rel}.new") != wanted:
                _copy(source / rel, folder, f"{name}.new")
            LOG.warning(
                "class-sync: %s was changed by you and is kept; the teacher's new version is "
                "%s.new",
                rel,
                rel,
            )
            done.kept.append(rel)
    finally:
        if folder is not None:
            os.close(folder)


def _read_record(folder: int, name: str) -> tuple[bytes, Any]:
    """The raw bytes and the JSON value of a record file; b"" and None if it is missing or
    cannot be read (logged: the sync then starts afresh, never overwriting an edit)."""
    try:
        with _open_regular(name, folder, f"{RECORD_DIR}/{name}") as stream:
            raw = stream.read()
    except FileNotFoundError:
        return b"", None
    except (OSError, _NotWritten) as exc:
        LOG.warning("class-sync: %s/%s not read: %s", RECORD_DIR, name, exc)
        return b"", None
    try:
        return raw, json.loads(raw)
    except ValueError as exc:
        LOG.warning("class-sync: %s/%s not read: %s", RECORD_DIR, name, exc)
        return raw, None


def _save_record(folder: int, name: str, value: Any, raw: bytes) -> None:
    data = (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8")
    if data != raw:

        def write(out: io.BufferedWriter) -> None:
            out.write(data)
            os.fchmod(out.fileno(), 0o644)

        _replace(folder, name, write)


def _open_destination(dest: Path) -> int:
    try:
        mode = dest.lstat().st_mode
    except FileNotFoundError:
        try:
            dest.mkdir(parents=True)
        except OSError as exc:
            raise AtlasodError(f"class-sync: cannot create {dest}: {exc.strerror}") from exc
        mode = stat.S_IFDIR
    link = (
        f"class-sync: the destination {dest} is a link: links in the destination are not "
        "followed; give the folder itself as --dest"
    )
    if stat.S_ISLNK(mode):
        raise AtlasodError(link)
    if not stat.S_ISDIR(mode):
        raise AtlasodError(f"class-sync: the destination {dest} is not a folder")
    try:
        return os.open(dest, _FOLDER_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise AtlasodError(link) from exc
        raise AtlasodError(f"class-sync: cannot open {dest}: {exc.strerror}") from exc


def sync_class(source: Path, dest: Path) -> Delivery:
    """Deliver the course folder ``source`` into ``dest`` (a folder in a student's home; run
    at every login).  Each regular file of ``source`` (see :func:`course_files`) is

    - copied if it is not in ``dest`` and was never delivered (folders created);
    - updated if the student has not changed it since it was delivered (its SHA-256 is the
      one in ``dest/.atlasod-class/delivered.json``);
    - kept if the student changed it (or had a file of that name before): the new version is
      written beside it as ``<name>.new`` (unless it holds that version already) and a
      warning names it, at every run until the file is the teacher's version again;
    - not brought back if the student removed it after delivery (reported once, as skipped);
    - skipped, with a warning, if its path in ``dest`` is a link, has a link (or a file) as a
      folder, or is not a regular file: nothing is written through a link.

    Files are written under a temporary name and renamed; so is the record, which is only
    rewritten when it changes (a second run changes nothing)."""
    if not source.is_dir():
        raise AtlasodError(
            f"class-sync: the course material {source} does not exist or is not a folder: "
            "check --source"
        )
    try:
        files, skipped = course_files(source)
    except OSError as exc:
        raise AtlasodError(f"class-sync: cannot read {source}: {exc.strerror}") from exc
    done = Delivery(skipped=skipped)
    root = _open_destination(dest)
    try:
        try:
            record = _open_folder(root, [RECORD_DIR], create=True)
        except _NotWritten as exc:
            raise AtlasodError(
                f"class-sync: {dest / RECORD_DIR} is a link or not a folder: the record of "
                "what was delivered is not written through it; remove it"
            ) from exc
        assert record is not None
        try:
            raw_delivered, delivered = _read_record(record, RECORD)
            raw_removed, removed = _read_record(record, REMOVED)
            if not isinstance(delivered, dict) or not all(
                isinstance(v, str) for v in delivered.values()
            ):
                delivered = {}
            removed = (
                {r for r in removed if isinstance(r, str)} if isinstance(removed, list) else set()
            )
            for rel in files:
                try:
                    _deliver(source, root, rel, delivered, removed, done)
                except _NotWritten as exc:
                    LOG.warning("class-sync: %s not delivered: %s (not written through)", rel, exc)
                    done.skipped.append(rel)
                except OSError as exc:
                    LOG.warning("class-sync: %s not delivered: %s", rel, exc.strerror or exc)
                    done.skipped.append(rel)
            _save_record(record, RECORD, delivered, raw_delivered)
            _save_record(record, REMOVED, sorted(removed), raw_removed)
        finally:
            os.close(record)
    finally:
        os.close(root)
    LOG.info("class-sync %s -> %s: %s", source, dest, done.summary())
    return done
