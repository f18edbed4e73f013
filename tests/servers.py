"""Local data servers on 127.0.0.1 for the real-data code paths (no internet in tests).

- :class:`RangeHTTPServer`: serves a folder over HTTP with byte ranges (as the CERN
  mirrors do); can cut the first transfer of each file after some bytes, to test resuming,
  and send slowly (``bytes_per_s``), to watch progress or kill a download half-way.
- :func:`xrootd_server`: Debian's ``xrootd`` daemon run as an unprivileged user (it refuses
  to run as root), exporting a folder read-only.
- :class:`MetadataAPIServer`: the two endpoints of atlasopenmagic's API (1.7 and later) that
  ``set_release`` reads, ``/datasets/count`` and ``/datasets`` (pages), for given records.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


def catalogue_for(served: Path, out: Path, release: str = "2020") -> Path:
    """A copy of the packaged catalogue of ``release`` in which the files under ``served``
    (the local layout, ``<skim>/<Data|MC>/<file>``) carry their own size, adler32 and entry
    count, so that a workflow reads them as the real files (and splits them into the same
    chunks)."""
    import uproot
    import yaml

    from atlasod.data.cache import adler32_of
    from atlasod.data.release import Release

    tree = Release.load(release).tree
    packaged = resources.files("atlasod").joinpath(f"data/catalogues/{release}.yaml")
    raw = yaml.safe_load(packaged.read_text())
    for rec in raw["files"]:
        path = served / rec["skim"] / ("Data" if "period" in rec else "MC") / rec["file"]
        if path.exists():
            rec["size"], rec["adler32"] = path.stat().st_size, adler32_of(path)
            rec["entries"] = uproot.open(path)[tree].num_entries
    out.write_text(yaml.safe_dump(raw))
    return out


class _LocalHTTPServer:
    """A threaded HTTP server on 127.0.0.1 with a handler class, served while in a ``with``."""

    def _listen(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> _LocalHTTPServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class RangeHTTPServer(_LocalHTTPServer):
    def __init__(
        self,
        root: Path,
        cut_after: int | None = None,
        bytes_per_s: int | None = None,
        port: int = 0,
    ) -> None:
        self.root = root
        self.cut_after = cut_after
        self.bytes_per_s = bytes_per_s
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self._cut_done: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _serve(self, body: bool) -> None:
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                path = server.root / self.path.lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                start, stop = 0, len(data)
                if rng:
                    m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng)
                    assert m, rng
                    start = int(m[1])
                    stop = int(m[2]) + 1 if m[2] else len(data)
                    if start >= len(data):
                        self.send_response(416)
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(stop - start))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if not body:
                    return
                chunk = data[start:stop]
                if server.cut_after is not None and self.path not in server._cut_done and not rng:
                    server._cut_done.add(self.path)
                    self.wfile.write(chunk[: server.cut_after])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)  # a cut connection
                    return
                if server.bytes_per_s is None:
                    self.wfile.write(chunk)
                    return
                block = max(1, server.bytes_per_s // 20)
                for i in range(0, len(chunk), block):
                    try:
                        self.wfile.write(chunk[i : i + block])
                        self.wfile.flush()
                    except OSError:  # the client went away (a killed download)
                        return
                    time.sleep(0.05)

        self._listen(Handler, port)


class MetadataAPIServer(_LocalHTTPServer):
    """atlasopenmagic's REST API for one release: ``GET /datasets/count?release_name=R`` ->
    ``{"count": n}``, ``GET /datasets?release_name=R&skip=S&limit=L`` -> records S..S+L."""

    def __init__(self, release: str, records: list[dict[str, Any]]) -> None:
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if query.get("release_name") != release:
                    body: Any = []
                elif url.path == "/datasets/count":
                    body = {"count": len(records)}
                elif url.path == "/datasets":
                    skip, limit = int(query.get("skip", 0)), int(query.get("limit", 1000))
                    body = records[skip : skip + limit]
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._listen(Handler)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def xrootd_server(export: Path) -> Iterator[str]:
    """Run ``xrootd`` exporting ``export`` (a world-readable folder); yields its root:// base URL.

    URLs are ``<base>/<absolute path>``, e.g. ``root://127.0.0.1:1094//tmp/x/file.root``.
    """
    binary = shutil.which("xrootd")
    if binary is None:
        raise FileNotFoundError("xrootd (Debian package xrootd-server) is not installed")
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="atlasod-xrootd-run-"))
    workdir.chmod(0o755)
    config = workdir / "xrootd.cfg"
    config.write_text(
        f"xrd.port {port}\nxrd.network nodnr\nall.export {export} r/o\n"
        f"oss.localroot /\nall.adminpath {workdir}/admin\nall.pidpath {workdir}\n"
    )
    for p in [export, *export.rglob("*")]:
        p.chmod(p.stat().st_mode | (0o755 if p.is_dir() else 0o644))
    log = workdir / "xrootd.log"
    cmd = [binary, "-c", str(config), "-l", str(log)]
    if os.geteuid() == 0:  # xrootd refuses to run as root
        os.chown(workdir, 65534, 65534)
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                text = log.read_text(errors="replace") if log.exists() else ""
                raise RuntimeError(f"xrootd exited with {proc.returncode}:\n{text[-2000:]}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=0.5),
            ):
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("xrootd did not start listening within 20 s")
        yield f"root://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)
