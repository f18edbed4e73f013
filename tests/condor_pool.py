"""The personal HTCondor pool of tests/htcondor/pool.sh, from Python: start and stop it, run
commands in it as its job user, give that user a checkout of the workflow, read the pool's
job history.  Used by tests/test_htcondor.py and benchmarks/bench_multiplied.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POOL_SCRIPT = REPO / "tests" / "htcondor" / "pool.sh"
POOL_ROOT = Path(os.environ.get("ATLASOD_CONDOR_ROOT", "/var/tmp/atlasod-htcondor"))
JOB_UID = 2000  # the pool's unprivileged job user (pool.sh)


def pool(*args: str | Path) -> None:
    """``pool.sh ARGS`` (build, start, stop)."""
    subprocess.run(["bash", str(POOL_SCRIPT), *map(str, args)], check=True)


def start(work: Path) -> None:
    """Build the pool if needed (cached), start it with ``work`` (and the repository and the
    environment's Python) mounted, and give the job user a token in ``work/tokens``."""
    pool("build", POOL_ROOT)
    pool("start", POOL_ROOT, work / "tokens", REPO, Path(sys.base_prefix), work)


def stop() -> None:
    pool("stop", POOL_ROOT)


def in_pool(work: Path, script: str, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (bash) in the pool's file system as the job user, with the
    environment's Python first on PATH."""
    env = {
        "HOME": str(work),
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "_CONDOR_SEC_TOKEN_DIRECTORY": str(work / "tokens"),
    }
    return subprocess.run(
        ["chroot", f"--userspec={JOB_UID}:{JOB_UID}", str(POOL_ROOT), "env", "-i"]
        + [f"{k}={v}" for k, v in env.items()]
        + ["bash", "-c", script],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


def checkout(work: Path, name: str) -> Path:
    """The user's checkout on the submit node: the workflow as it is in the repository,
    owned by the job user."""
    path = work / name
    path.mkdir()
    shutil.copy(REPO / "Snakefile", path)
    for folder in ("workflows", "analyses"):
        shutil.copytree(REPO / folder, path / folder)
    chown_tree(work)
    return path


def chown_tree(root: Path) -> None:
    for path in (root, *root.rglob("*")):
        os.chown(path, JOB_UID, JOB_UID, follow_symlinks=False)


def condor_history(*attributes: str) -> list[list[str]]:
    """``condor_history -af ATTRIBUTES``, one list per job; [] before the first job."""
    proc = subprocess.run(
        ["chroot", str(POOL_ROOT), "condor_history", "-af", *attributes],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:  # a fresh pool has no history file yet
        assert "history" in proc.stderr.lower(), proc.stderr
        return []
    return [line.split() for line in proc.stdout.splitlines() if line.strip()]
