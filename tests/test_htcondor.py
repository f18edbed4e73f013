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
    out = subprocess.run(
        ["chroot", str(POOL_ROOT), "condor_history", "-af", *attributes],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split() for line in out.splitlines() if line.strip()]


def assert_same_results(results: Path, local: Path, names: tuple[str, ...]) -> None:
    assert (results / "histograms.root").stat().st_uid == JOB_UID  # written by the jobs
    for name in names:
        assert (results / name).read_bytes() == (local / name).read_bytes(), name


def test_shared_file_system_gives_the_local_histograms(pool_work: Path, demo_run: Path) -> None:
    """hzz with workflows/profiles/htcondor: every step an HTCondor job (chunks and plots
    batched), outputs on the shared file system."""
    work = checkout(pool_work, "shared")
    out = pool_work / "shared-run"
    out.mkdir()
    chown_tree(out)
    config = " ".join(demo_config(out))
    proc = in_pool(
        pool_work,
        f"cd {work} && snakemake --profile workflows/profiles/htcondor --jobs 4"
        f" --latency-wait 10 hzz {config}",
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    submitted = proc.stderr.count("submitted to HTCondor Cluster ID")

    # every step ran as an HTCondor job of the job user, and succeeded
    jobs = condor_history("JobBatchName", "Owner", "ExitCode")
    assert len(jobs) >= submitted > 5
    assert all(j[1] == "atlasod" and j[2] == "0" for j in jobs), jobs[:5]
    batches = {j[0].rsplit("-", 1)[0] for j in jobs}
    assert {"generate_demo", "merge_histograms", "yields"} <= batches, batches
    # the chunks ran batched: fewer HTCondor jobs than chunk steps
    chunk_steps = len(list((out / "results" / "demo" / "hzz" / "chunks").rglob("*.root")))
    assert submitted < chunk_steps + len(
        list((out / "results" / "demo" / "hzz" / "plots").glob("*.png"))
    )

    local = demo_run / "results" / "demo" / "hzz"
    assert_same_results(out / "results" / "demo" / "hzz", local, ("histograms.root", "yields.json"))


def test_no_shared_file_system_gives_the_local_histograms(pool_work: Path, demo_run: Path) -> None:
    """hyy with workflows/profiles/htcondor-no-shared-fs: inputs and outputs travel with
    HTCondor's file transfer, jobs run in their scratch directories."""
    work = checkout(pool_work, "no-shared")
    proc = in_pool(
        pool_work,
        f"cd {work} && snakemake --profile workflows/profiles/htcondor-no-shared-fs --jobs 4"
        " hyy --config source=demo demo_scale=0.5 chunk_entries=5000",
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    transferred = [
        j for j in condor_history("JobBatchName", "TransferInput") if j[0].startswith("merge")
    ]
    assert transferred and ".cutflow.json" in transferred[-1][1]
    local = demo_run / "results" / "demo" / "hyy"
    results = work / "results" / "demo" / "hyy"
    assert_same_results(results, local, ("histograms.root", "fit.json", "yields.json"))
    assert (results / "plots" / "hist_mYY_bin1.png").stat().st_size > 10_000
