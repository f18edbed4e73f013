"""The workflow on a real HTCondor pool: a personal pool started for the test
(tests/htcondor/pool.sh, Debian 13 chroot, needs root), the unchanged workflow submitted with
`--profile workflows/profiles/htcondor`; histograms byte-identical to the local run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import REPO, demo_config

pytestmark = pytest.mark.workflow
POOL_SCRIPT = REPO / "tests" / "htcondor" / "pool.sh"
POOL_ROOT = Path(os.environ.get("ATLASOD_CONDOR_ROOT", "/var/tmp/atlasod-htcondor"))
JOB_UID = 2000  # the pool's unprivileged job user (pool.sh)
ANALYSIS = "hyy"


def _pool(*args: str | Path) -> None:
    subprocess.run(["bash", str(POOL_SCRIPT), *map(str, args)], check=True)


@pytest.fixture(scope="module")
def pool_work(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A running pool and a work directory the job user owns; yields the work directory."""
    if os.geteuid() != 0:
        pytest.skip("the test pool runs in a chroot: run the tests as root (CI does)")
    if Path(sys.base_prefix) in (Path("/usr"), Path("/")):
        pytest.skip("the environment's Python lives in /usr, which the chroot cannot share")
    _pool("build", POOL_ROOT)  # quick when `make test` built it already
    work = tmp_path_factory.mktemp("htcondor")
    tokens = work / "tokens"
    _pool("start", POOL_ROOT, tokens, REPO, Path(sys.base_prefix), work)
    try:
        yield work
    finally:
        _pool("stop", POOL_ROOT)


def in_pool(work: Path, script: str) -> subprocess.CompletedProcess[str]:
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
        timeout=1800,
    )


def test_workflow_on_htcondor_is_byte_identical_to_the_local_run(
    pool_work: Path, demo_run: Path
) -> None:
    # the user's checkout on the submit node: the workflow as it is in the repository
    checkout = pool_work / "checkout"
    checkout.mkdir()
    shutil.copy(REPO / "Snakefile", checkout)
    for folder in ("workflows", "analyses"):
        shutil.copytree(REPO / folder, checkout / folder)
    out = pool_work / "run"
    out.mkdir()
    for path in (pool_work, *pool_work.rglob("*")):
        os.chown(path, JOB_UID, JOB_UID, follow_symlinks=False)

    config = " ".join(demo_config(out))
    proc = in_pool(
        pool_work,
        f"cd {checkout} && snakemake --profile workflows/profiles/htcondor --jobs 4"
        f" --latency-wait 10 {ANALYSIS} {config}",
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    submitted = proc.stderr.count("submitted to HTCondor Cluster ID")

    # every step ran as an HTCondor job of the job user, and succeeded
    history = subprocess.run(
        ["chroot", str(POOL_ROOT), "condor_history", "-af", "JobBatchName", "Owner", "ExitCode"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    jobs = [line.split() for line in history if line.strip()]
    assert len(jobs) >= submitted > 10
    batches = {j[0].rsplit("-", 1)[0] for j in jobs}
    assert {"generate_demo", "process_chunk", "merge_histograms", "fit"} <= batches, batches
    assert all(j[1] == "atlasod" and j[2] == "0" for j in jobs), jobs[:5]

    results = out / "results" / "demo" / ANALYSIS
    assert (results / "histograms.root").stat().st_uid == JOB_UID
    for name in ("histograms.root", "fit.json", "yields.json"):
        local = demo_run / "results" / "demo" / ANALYSIS / name
        assert (results / name).read_bytes() == local.read_bytes(), name
    assert (results / "plots" / "hist_mYY_bin1.png").stat().st_size > 10_000
