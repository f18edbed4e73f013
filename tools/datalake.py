"""A local Datalake: a Rucio server and two XRootD storage endpoints (RSEs) on 127.0.0.1.

    .venv-rucio/bin/python tools/datalake.py start --dir .datalake   # or: make datalake
    export RUCIO_CONFIG=$PWD/.datalake/client.cfg                      # then rucio, atlasod
    .venv-rucio/bin/python tools/datalake.py stop --dir .datalake

Runs with the Python of the Rucio server's environment (``.venv-rucio``: rucio 41 and
gunicorn from PyPI; the analyses' environment has only ``rucio-clients``).  It builds,
from nothing, in ``--dir``:

- a Rucio server (gunicorn) on a PostgreSQL database (Debian's ``postgresql``, a cluster of
  its own on 127.0.0.1; its JSON columns carry the data sets' own metadata: source, factor,
  seed, software version), or with ``--db sqlite`` on SQLite (one worker, no custom
  metadata), with userpass
  authentication: the ``root`` account and a user account (``--user``, with its scope
  ``user.<name>``), whose passwords are generated and kept in files only their owner can
  read;
- two RSEs, ``DATALAKE_A_USERDISK`` and ``DATALAKE_B_USERDISK``, each an ``xrootd`` daemon (Debian's
  ``xrootd-server``; the Rucio client writes and reads with ``xrdcp``/``xrdfs`` from
  ``xrootd-client``) with adler32 checksums, and unlimited quotas for both accounts;
- the scope ``opendata`` for the open data (owned by root).

Without FTS and Rucio's daemons, replication rules never complete: clients write to an RSE
directly.  ``client.cfg`` (root) and ``user.cfg`` (the user) are the clients' settings;
``datalake.json`` has the addresses, RSEs and process ids, which ``stop`` ends.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

LOG = logging.getLogger("datalake")
# The generic permission policy lets user accounts write to RSEs named *USERDISK.
RSES = ("DATALAKE_A_USERDISK", "DATALAKE_B_USERDISK")
SCOPE = "opendata"
NOBODY = 65534  # xrootd refuses to run as root
_BOOTSTRAP = """
from rucio.db.sqla import models
from rucio.db.sqla.session import get_engine
from rucio.db.sqla.util import create_base_vo, create_root_account
models.register_models(get_engine())
create_base_vo()
create_root_account()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by its owner only (it holds passwords)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            text = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{text[-3000:]}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.5),
        ):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within 60 s (log: {log})")


def server_config(state: Path, port: int, root_password: str, database: str) -> str:
    return f"""[common]
logdir = {state}/logs
loglevel = WARNING
[database]
default = {database}
[bootstrap]
userpass_identity = root
userpass_pwd = {root_password}
userpass_email = root@localhost
[policy]
permission = generic
schema = generic
lfn2pfn_algorithm_default = hash
[monitor]
enable_metrics = False
[trace]
tracedir = {state}/logs/trace
{client_section(port, "root", root_password, "root")}"""


def client_section(port: int, user: str, password: str, account: str) -> str:
    return f"""[client]
rucio_host = http://127.0.0.1:{port}
auth_host = http://127.0.0.1:{port}
auth_type = userpass
username = {user}
password = {password}
account = {account}
request_retries = 1
"""


def _start_xrootd(state: Path, name: str) -> tuple[subprocess.Popen[bytes], int]:
    """An xrootd daemon serving ``<state>/<name>`` at root://127.0.0.1:<port>//rucio/…"""
    binary = shutil.which("xrootd")
    if binary is None or shutil.which("xrdcp") is None:
        raise RuntimeError("XRootD is not installed: apt-get install xrootd-server xrootd-client")
    port = free_port()
    run = state / f"xrootd-{name}"
    data = state / name / "rucio"
    for d in (run, data):
        d.mkdir(parents=True, exist_ok=True)
    config = run / "xrootd.cfg"
    config.write_text(
        f"xrd.port {port}\nxrd.network nodnr\nall.export /rucio\n"
        f"oss.localroot {state / name}\nxrootd.chksum adler32\n"
        f"all.adminpath {run}/admin\nall.pidpath {run}\n",
        encoding="utf-8",
    )
    log = run / "xrootd.log"
    cmd = [binary, "-c", str(config), "-l", str(log), "-n", name]
    _give_to_nobody(run, state / name, data)
    proc = subprocess.Popen(
        _as_unprivileged(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    _wait_for_port(port, proc, log, f"xrootd of {name}")
    return proc, port


def _as_unprivileged(cmd: list[str]) -> list[str]:
    """``cmd`` run as nobody when this is root (xrootd and PostgreSQL refuse root)."""
    if os.geteuid() != 0:
        return cmd
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *cmd]


def _give_to_nobody(*paths: Path) -> None:
    if os.geteuid() == 0:
        for path in paths:
            os.chown(path, NOBODY, NOBODY)


def _start_postgres(state: Path, password: str) -> tuple[subprocess.Popen[bytes], str]:
    """A PostgreSQL cluster of the Datalake's own in ``<state>/postgres``, listening on
    127.0.0.1 only, password authentication; returns the process and the database URL."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed: apt-get install postgresql "
            "(or start the Datalake with --db sqlite, without the data sets' metadata)"
        )
    bindir = found[-1].parent
    data, run = state / "postgres", state / "postgres-run"
    for d in (data, run):
        d.mkdir(mode=0o700)
        _give_to_nobody(d)
    pwfile = run / "initial-password"
    _private(pwfile, password)
    _give_to_nobody(pwfile)
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "rucio", "-E", "UTF8"]
    initdb += ["--no-locale", "--auth=scram-sha-256", f"--pwfile={pwfile}"]
    with (state / "logs" / "initdb.log").open("wb") as log:
        subprocess.run(_as_unprivileged(initdb), stdout=log, stderr=subprocess.STDOUT, check=True)
    pwfile.unlink()
    port = free_port()
    log_path = state / "logs" / "postgres.log"
    cmd = [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(run)]
    cmd += ["-c", "listen_addresses=127.0.0.1"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(_as_unprivileged(cmd), stdout=log, stderr=subprocess.STDOUT)
    _wait_for_port(port, proc, log_path, "PostgreSQL")
    env = {**os.environ, "PGPASSWORD": password}
    createdb = [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "rucio"]
    for _ in range(50):  # the port opens before the cluster accepts connections
        done = subprocess.run([*createdb, "rucio"], env=env, capture_output=True, check=False)
        if done.returncode == 0:
            break
        time.sleep(0.2)
    else:
        raise RuntimeError(f"createdb failed: {done.stderr.decode(errors='replace')}")
    return proc, f"postgresql+psycopg://rucio:{password}@127.0.0.1:{port}/rucio"


def _start_server(
    state: Path, port: int, env: dict[str, str], workers: int
) -> subprocess.Popen[bytes]:
    gunicorn = Path(sys.executable).parent / "gunicorn"
    log = state / "logs" / "server.log"
    cmd = [
        str(gunicorn),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--timeout",
        "120",
        "--error-logfile",
        str(log),
        "rucio.web.rest.flaskapi.v1.main:application",
    ]
    with (state / "logs" / "gunicorn.out").open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    _wait_for_port(port, proc, log, "the Rucio server")
    deadline = time.monotonic() + 30
    while True:  # the port opens before the application is loaded
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5) as r:
                LOG.info("Rucio server %s on 127.0.0.1:%d", json.load(r)["version"], port)
                return proc
        except OSError as exc:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"the Rucio server does not answer /ping (log: {log})") from exc
            time.sleep(0.3)


def start(state: Path, user: str, db: str = "postgres") -> dict[str, Any]:
    """Build and start the Datalake in ``state`` (which must not hold a running one)."""
    if (state / "datalake.json").exists():
        raise SystemExit(f"{state} already holds a Datalake: stop it first (or remove {state})")
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o711)  # xrootd (nobody) reaches its folders; the secrets stay private
    (state / "logs" / "trace").mkdir(parents=True, exist_ok=True)
    port = free_port()
    root_password, user_password = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    processes: dict[str, int] = {}
    info: dict[str, Any] = {
        "host": f"http://127.0.0.1:{port}",
        "db": db,
        "rses": {},
        "pids": processes,
    }
    try:
        if db == "postgres":
            proc, database = _start_postgres(state, secrets.token_urlsafe(16))
            processes["postgres"] = proc.pid
        else:
            database = f"sqlite:///{state}/rucio.db"
        server_cfg = state / "rucio.cfg"
        _private(server_cfg, server_config(state, port, root_password, database))
        _private(state / "client.cfg", client_section(port, "root", root_password, "root"))
        _private(state / "user.cfg", client_section(port, user, user_password, user))
        env = {**os.environ, "RUCIO_CONFIG": str(server_cfg)}
        subprocess.run([sys.executable, "-c", _BOOTSTRAP], env=env, check=True)
        for rse in RSES:
            proc, xport = _start_xrootd(state, rse)
            processes[f"xrootd-{rse}"] = proc.pid
            info["rses"][rse] = {"port": xport, "url": f"root://127.0.0.1:{xport}//rucio/"}
        workers = 2 if db == "postgres" else 1  # SQLite takes one writer
        processes["server"] = _start_server(state, port, env, workers).pid
        _configure(state, info, user, user_password)
    except BaseException:
        _stop_pids(processes)
        raise
    info.update(
        scope=SCOPE,
        user=user,
        user_scope=f"user.{user}",
        client_config=str(state / "client.cfg"),
        user_config=str(state / "user.cfg"),
    )
    (state / "datalake.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info


def _configure(state: Path, info: dict[str, Any], user: str, password: str) -> None:
    """RSEs with their XRootD protocol, accounts, scopes and quotas, through the API."""
    os.environ["RUCIO_CONFIG"] = str(state / "client.cfg")
    from rucio.client import Client

    client = Client()
    for rse, where in info["rses"].items():
        client.add_rse(rse)
        client.add_protocol(
            rse,
            {
                "scheme": "root",
                "hostname": "127.0.0.1",
                "port": where["port"],
                "prefix": "//rucio/",
                "impl": "rucio.rse.protocols.xrootd.Default",
                "domains": {
                    "lan": {"read": 1, "write": 1, "delete": 1},
                    "wan": {"read": 1, "write": 1, "delete": 1},
                },
            },
        )
    client.add_account(user, "USER", f"{user}@localhost")
    client.add_identity(user, user, "USERPASS", f"{user}@localhost", password=password)
    client.add_scope("root", SCOPE)
    client.add_scope(user, f"user.{user}")
    for account in ("root", user):
        for rse in info["rses"]:
            client.set_local_account_limit(account, rse, 10**15)


def _stop_pids(pids: dict[str, int]) -> None:
    for name, pid in pids.items():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
            LOG.info("stopped %s (pid %d)", name, pid)
    deadline = time.monotonic() + 10
    for pid in pids.values():
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def stop(state: Path) -> None:
    record = state / "datalake.json"
    if not record.exists():
        raise SystemExit(f"no Datalake is recorded in {state}")
    _stop_pids(json.loads(record.read_text(encoding="utf-8"))["pids"])
    record.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop"])
    parser.add_argument("--dir", type=Path, default=Path(".datalake"))
    parser.add_argument("--user", default=os.environ.get("USER", "student") or "student")
    parser.add_argument("--db", choices=["postgres", "sqlite"], default="postgres")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    state = args.dir.resolve()
    if args.command == "stop":
        stop(state)
        return
    info = start(state, args.user.lower(), args.db)
    sys.stdout.write(
        f"Rucio {info['host']}, RSEs {', '.join(info['rses'])}, scopes {SCOPE} and "
        f"{info['user_scope']}\nexport RUCIO_CONFIG={info['client_config']}   # as root\n"
        f"export RUCIO_CONFIG={info['user_config']}   # as {info['user']}\n"
    )


if __name__ == "__main__":
    main()
