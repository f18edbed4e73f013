"""The workflow on a real HTCondor pool: a personal pool started for the test
(tests/htcondor/pool.sh, Debian 13 chroot, needs root), the unchanged workflow submitted with
the two HTCondor profiles; histograms, yields and cutflows byte-identical to a local run.
On the 2025e release (--config release=2025e, results under results/2025e-demo) with the
shared-file-system profile.

The local run that the HTCondor runs are compared with is made in the pool's environment
too: the jobs there use Debian 13's C library, whose maths functions may differ from
Debian 12's in the last bit, which can move an event across a bin edge; what is tested here
is that the executor does not change results, as in production, where the workers run the
same image."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import condor_pool
from .condor_pool import JOB_UID, checkout, condor_history, in_pool

pytestmark = pytest.mark.workflow
ANALYSIS = "hzz"
# relative data/results/logs folders (the defaults): inside each checkout
DEMO = "--config source=demo demo_scale=0.5 chunk_entries=5000"
COMPARED = ("histograms.root", "cutflow.json", "yields.json")
RELEASES = ("2020", "2025e")  # 2020: the default, not given on the command line


def demo_config(release: str) -> str:
    """The demo options on ``release`` (2020, the default: the unchanged command)."""
    return DEMO if release == "2020" else f"{DEMO} release={release}"


def results_of(work: Path, release: str) -> Path:
    return work / "results" / f"{release}-demo" / ANALYSIS


@pytest.fixture(scope="module")
def pool_work(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A running pool and a work directory the job user owns; yields the work directory."""
    if os.geteuid() != 0:
        pytest.skip("the test pool runs in a chroot: run the tests as root (CI does)")
    if Path(sys.base_prefix) in (Path("/usr"), Path("/")):
        pytest.skip("the environment's Python lives in /usr, which the chroot cannot share")
    work = tmp_path_factory.mktemp("htcondor")
    condor_pool.start(work)  # the build is quick when `make test` built the pool already
    try:
        yield work
    finally:
        condor_pool.stop()


def assert_same_results(results: Path, local: Path) -> None:
    assert (results / "histograms.root").stat().st_uid == JOB_UID  # written by the jobs
    for name in COMPARED:
        assert (results / name).read_bytes() == (local / name).read_bytes(), name
    assert (results / "plots" / "mass_four_lep.png").stat().st_size > 10_000


def run_locally(pool_work: Path, release: str) -> Path:
    """``snakemake --cores 2 hzz`` (demo, on ``release``) in the pool's environment; its
    results folder."""
    work = checkout(pool_work, f"local-{release}")
    proc = in_pool(pool_work, f"cd {work} && snakemake --cores 2 {ANALYSIS} {demo_config(release)}")
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    return results_of(work, release)


@pytest.fixture(scope="module")
def local_run(pool_work: Path) -> Path:
    return run_locally(pool_work, "2020")


@pytest.fixture(scope="module")
def local_run_2025e(pool_work: Path) -> Path:
    return run_locally(pool_work, "2025e")


def submit(
    pool_work: Path,
    profile: str,
    attributes: tuple[str, ...],
    options: str = "",
    release: str = "2020",
) -> tuple[Path, subprocess.CompletedProcess[str], list[list[str]]]:
    """Run hzz (demo, on ``release``) from a fresh checkout with ``--profile
    workflows/profiles/<profile>``; return the checkout, the Snakemake process and
    ``attributes`` of the HTCondor jobs it ran."""
    work = checkout(pool_work, f"{profile}-{release}")
    before = {j[0] for j in condor_history("ClusterId")}
    proc = in_pool(
        pool_work,
        f"cd {work} && snakemake --profile workflows/profiles/{profile} --jobs 4"
        # the personal pool answers at once: poll it every second, not every 10 s (the
        # default, kind to a production schedd), or the test mostly waits
        f" --seconds-between-status-checks 1 {options} {ANALYSIS} {demo_config(release)}",
    )
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    jobs = [j[1:] for j in condor_history("ClusterId", *attributes) if j[0] not in before]
    return work, proc, jobs


def chunk_jobs(jobs: list[list[str]], results: Path) -> list[list[str]]:
    """The HTCondor jobs of the chunk step, checked to be batched: fewer jobs than chunks."""
    chunks = [j for j in jobs if j[0].startswith("chunks_process_chunk")]
    assert 0 < len(chunks) < len(list(results.glob("chunks/*/*.root"))), len(chunks)
    return chunks


# 2025e with this profile only (a 2025e run of the other would add as much time again): the
# production default, and the test that checks the most of the jobs (all steps, owner, exit
# code, one core).  Not covered on 2025e: what only file transfer would catch, an input of
# the release that a rule does not declare.
@pytest.mark.parametrize("release", RELEASES)
def test_shared_file_system(pool_work: Path, release: str, request: pytest.FixtureRequest) -> None:
    """workflows/profiles/htcondor: every step an HTCondor job (chunks and demo files
    batched, one core per job), outputs on the shared file system; on both releases."""
    local: Path = request.getfixturevalue("local_run" if release == "2020" else "local_run_2025e")
    attributes = ("JobBatchName", "Owner", "ExitCode", "RequestCpus")
    work, proc, jobs = submit(pool_work, "htcondor", attributes, "--latency-wait 10", release)
    submitted = proc.stderr.count("submitted to HTCondor Cluster ID")

    # every step ran as an HTCondor job of the job user, with one core, and succeeded
    assert len(jobs) == submitted > 5
    assert all(j[1:] == ["atlasod", "0", "1"] for j in jobs), jobs[:5]
    batches = {j[0].split("-")[0] for j in jobs}
    assert {
        "demo_generate_demo",
        "chunks_process_chunk",
        f"plot_{ANALYSIS}",
        "merge_histograms",
    } <= batches
    results = results_of(work, release)
    # the release reached every job: its results and job logs only (<release>-demo)
    for folder in ("results", "logs"):
        assert [p.name for p in (work / folder).iterdir()] == [f"{release}-demo"], folder
    chunk_jobs(jobs, results)
    assert_same_results(results, local)


def test_no_shared_file_system(pool_work: Path, local_run: Path) -> None:
    """workflows/profiles/htcondor-no-shared-fs: inputs and outputs travel with HTCondor's
    file transfer, jobs (batched) run in their scratch directories."""
    attributes = ("JobBatchName", "TransferInput")
    work, _, jobs = submit(pool_work, "htcondor-no-shared-fs", attributes)
    merge = [j for j in jobs if j[0].startswith("merge_histograms")]
    assert len(merge) == 1 and ".cutflow.json" in merge[0][1] and "analyses" in merge[0][1]
    # batched as with a shared file system: the chunks' inputs travel with their group
    results = results_of(work, "2020")
    chunks = chunk_jobs(jobs, results)
    assert all(".root" in j[1] for j in chunks), chunks[:2]
    assert_same_results(results, local_run)
