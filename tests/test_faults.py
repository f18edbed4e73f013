"""Faults: the workflow killed at any point, cut downloads, corrupt caches, a full disk,
two runs at once, a dying Dask worker, a fit that cannot be done.  Each case asserts that
nothing is lost or half-accepted: the rerun gives byte-identical results to the demo run
(the `demo_run` fixture) with the same configuration.

Run alone with ``pytest -m faults``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from atlasod.data.cache import adler32_of

from .conftest import REPO, TEST_SCALE, env_with_venv, run_snakemake, snakemake_command
from .servers import RangeHTTPServer, catalogue_for, free_port

pytestmark = [pytest.mark.faults, pytest.mark.workflow]
ANALYSIS = "hyy"
# What must be byte-identical to an uninterrupted run.
RESULTS = ("histograms.root", "cutflow.json", "yields.json", "fit.json")


def config(root: Path, source: str, data: Path, *extra: str) -> list[str]:
    """The demo_run fixture's configuration, for H→γγ, writing into ``root``."""
    return [
        ANALYSIS,
        "--config",
        f"source={source}",
        f"analyses=[{ANALYSIS}]",
        f"demo_scale={TEST_SCALE}",
        "chunk_entries=5000",
        f"data_dir={data}",
        f"results_dir={root / 'results'}",
        f"logs_dir={root / 'logs'}",
        *extra,
    ]


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Snakemake in a session of its own (so that the test can kill all of it)."""
    cmd = snakemake_command(str(Path(sys.executable).parent / "snakemake"), *args)
    return subprocess.Popen(
        cmd,
        cwd=REPO,
        env=env or env_with_venv(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def assert_same_results(root: Path, source: str, reference: Path) -> None:
    ours = root / "results" / f"2020-{source}" / ANALYSIS
    theirs = reference / "results" / "2020-demo" / ANALYSIS
    for name in RESULTS:
        assert (ours / name).read_bytes() == (theirs / name).read_bytes(), name
    pngs = sorted(p.name for p in (theirs / "plots").glob("*.png"))
    assert sorted(p.name for p in (ours / "plots").glob("*.png")) == pngs
    leftovers = [p for p in ours.rglob(".*") if p.name != ".atlasod-run.lock"]
    assert leftovers == [], leftovers  # no temporary file of a killed writer is left


@pytest.mark.parametrize(
    ("step", "first_output"),
    [("process", ".root"), ("merge", "histograms.root"), ("plot", ".png")],
)
def test_killed_during_a_step_the_rerun_completes_identically(
    demo_run: Path, tmp_path: Path, step: str, first_output: str
) -> None:
    data = demo_run / "data"  # the demo files exist: only the analysis steps run
    mark = tmp_path / "fault.mark"
    env = {**env_with_venv(), "ATLASOD_FAULT": step, "ATLASOD_FAULT_MARK": str(mark)}
    args = config(tmp_path, "demo", data, "atlasod=python -m tests.fault_inject")
    killed = start(*args, env=env)
    killed.communicate(timeout=600)
    assert killed.returncode == -signal.SIGKILL
    written = Path(mark.read_text().strip())  # the one output complete at the kill
    assert written.name.endswith(first_output) and written.is_file()
    rerun = run_snakemake(*args, check=False)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert_same_results(tmp_path, "demo", demo_run)


@pytest.fixture(scope="module")
def served(demo_run: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(server root, catalogue): the demo run's H→γγ files as "real" release files."""
    root = demo_run / "data" / "demo" / ANALYSIS
    out = tmp_path_factory.mktemp("catalogue") / "catalogue.yaml"
    return root, catalogue_for(root, out)


def real_config(
    tmp_path: Path, catalogue: Path, url: str, results: Path | None = None
) -> list[str]:
    """Real-data run with the cache in ``tmp_path/data``, results under ``results``."""
    return config(
        results or tmp_path,
        "real",
        tmp_path / "data",
        f"catalogue={catalogue}",
        f"locations={url}/{{skim}}/{{kind}}/{{file}}",
        "fetch_timeout=5",
    )


def test_killed_download_resumes_and_a_flipped_byte_is_fetched_again(
    demo_run: Path, served: tuple[Path, Path], tmp_path: Path
) -> None:
    root, catalogue = served
    cache = tmp_path / "data" / "real"
    port = free_port()  # one address throughout: the fetch step's URLs are its params
    # 1. killed with SIGKILL while the files arrive slowly
    with RangeHTTPServer(root, bytes_per_s=100_000, port=port) as slow:
        run = start(*real_config(tmp_path, catalogue, slow.url))
        deadline = time.monotonic() + 120
        parts: list[Path] = []
        while time.monotonic() < deadline and not parts:
            parts = [p for p in cache.rglob("*.part") if p.stat().st_size > 20_000]
            time.sleep(0.1)
        os.killpg(run.pid, signal.SIGKILL)
        run.communicate(timeout=60)
    assert parts, "no download was under way"
    kept = {p.name.removesuffix(".part"): p.stat().st_size for p in parts if p.exists()}
    assert kept
    for done in cache.rglob("*.root"):  # whatever has its final name is complete
        assert adler32_of(done) == adler32_of(root / done.relative_to(cache)), done
    # 2. the rerun resumes the cut downloads where they stopped and completes
    with RangeHTTPServer(root, port=port) as server:
        rerun = run_snakemake(*real_config(tmp_path, catalogue, server.url), check=False)
        requests = list(server.requests)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    for name, size in kept.items():
        ranges = [r for p, r in requests if p.endswith(f"/{name}")]
        assert ranges and ranges[0] is not None and int(ranges[0][6:-1]) >= size, (name, ranges)
    assert not list(cache.rglob("*.part"))
    assert_same_results(tmp_path, "real", demo_run)
    # 3. one flipped byte in a cached file, then a run that needs it (new results): found
    # before use, fetched again, never processed
    victim = cache / "GamGam" / "Data" / "data_A.GamGam.root"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    second = tmp_path / "second"
    with RangeHTTPServer(root, port=port) as server:
        again = run_snakemake(
            *real_config(tmp_path, catalogue, server.url, results=second), check=False
        )
        requests = list(server.requests)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"cached input is corrupt: {victim}: adler32 " in again.stderr
    assert "removed it, to be fetched again" in again.stderr
    assert ("/GamGam/Data/data_A.GamGam.root", None) in requests
    assert [p for p, _ in requests if "data_B" in p] == [], (
        requests,
        again.stderr[-6000:],
    )  # the intact files stay
    assert adler32_of(victim) == adler32_of(root / "GamGam" / "Data" / "data_A.GamGam.root")
    assert_same_results(second, "real", demo_run)


def test_a_killed_writers_temporary_folder_goes_even_before_the_writer_is_reaped(
    tmp_path: Path,
) -> None:
    """The temporary folder a killed writer left (named with its process id) is removed by
    the next write of the same file, also while the killed process is a zombie: killed with
    its parent, not yet collected by the system's first process (seen in CI: the rerun of
    a killed workflow then kept the folder)."""
    from atlasod.histio import atomic_path

    target = tmp_path / "histograms.root"
    writer = subprocess.Popen(["sleep", "60"])
    left = tmp_path / f".histograms.root.{writer.pid}-{socket.gethostname()}.k3x9q"
    left.mkdir()
    (left / "histograms.root").write_bytes(b"half")
    try:
        with atomic_path(target) as tmp:  # its writer runs: its folder stays
            tmp.write_bytes(b"one")
        assert left.is_dir()
        writer.kill()  # not waited for: a zombie until this test reaps it
        stat = Path(f"/proc/{writer.pid}/stat")
        deadline = time.monotonic() + 10
        while stat.read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline, "the killed writer never became a zombie"
            time.sleep(0.05)
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"two")
        assert not left.exists()
        assert target.read_bytes() == b"two"
        assert [p.name for p in tmp_path.iterdir()] == ["histograms.root"]
    finally:
        writer.kill()
        writer.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
def test_full_results_disk_names_the_path_and_the_rerun_completes(
    demo_run: Path, tmp_path: Path
) -> None:
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(small)], check=True)
    try:
        args = config(small, "demo", demo_run / "data", f"logs_dir={tmp_path / 'logs'}")
        full = run_snakemake(*args, check=False)
        assert full.returncode != 0
        tail = full.stderr[full.stderr.index("atlasod: why the workflow stopped") :]
        assert f"no space left on the file system of {small / 'results' / '2020-demo'}" in tail
        assert "free some space there" in tail
        assert "nothing half-written was kept" in tail
        hidden = [p for p in (small / "results").rglob(".*") if p.name != ".atlasod-run.lock"]
        assert hidden == []
        subprocess.run(["mount", "-o", "remount,size=32m", str(small)], check=True)
        rerun = run_snakemake(*args, check=False)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert_same_results(small, "demo", demo_run)
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_a_second_run_on_the_same_results_is_refused_while_the_first_runs(
    demo_run: Path, tmp_path: Path
) -> None:
    args = config(tmp_path, "demo", demo_run / "data")
    first = start(*args)
    lock = tmp_path / "results" / "2020-demo" / ".atlasod-run.lock"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (lock.exists() and lock.read_text()):
        time.sleep(0.1)
    second = run_snakemake(*args, check=False)
    out, _ = first.communicate(timeout=600)
    assert first.returncode == 0, out[-3000:]
    assert second.returncode != 0
    results = tmp_path / "results" / "2020-demo"
    assert f"another workflow run is writing {results} (pid {first.pid} on " in second.stderr
    assert "or give this run its own folder with --config results_dir=<folder>" in second.stderr
    assert_same_results(tmp_path, "demo", demo_run)
    # and after the first has finished, the same command goes through (nothing to do)
    assert run_snakemake(*args).returncode == 0


def test_dask_worker_killed_during_a_chunk_is_retried_with_identical_results(
    demo_run: Path, tmp_path: Path
) -> None:
    from distributed import Client, LocalCluster
    from distributed.diagnostics.plugin import WorkerPlugin

    mark = tmp_path / "killed"

    class KillOnce(WorkerPlugin):
        """SIGKILL the worker process when it starts its first chunk task."""

        def transition(self, key: object, start: str, finish: str, **kwargs: object) -> None:
            del start, kwargs
            if finish == "executing" and "_run_task" in str(key) and not mark.exists():
                mark.write_text(str(key))
                os.kill(os.getpid(), signal.SIGKILL)

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster,
        Client(cluster) as client,
    ):
        client.register_plugin(KillOnce())
        proc = subprocess.run(
            [
                *(sys.executable, "-m", "atlasod", "dask", "--analysis", ANALYSIS),
                *("--scheduler", cluster.scheduler_address, "--config", "source=demo"),
                *(f"demo_scale={TEST_SCALE}", "chunk_entries=5000"),
                f"data_dir={demo_run / 'data'}",
                f"results_dir={tmp_path / 'results'}",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            env=env_with_venv(),
            timeout=600,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert mark.exists(), "no worker was killed"
    for name in ("histograms.root", "cutflow.json"):
        ours = (tmp_path / "results" / "2020-demo" / ANALYSIS / name).read_bytes()
        assert ours == (demo_run / "results" / "2020-demo" / ANALYSIS / name).read_bytes(), name


@pytest.mark.parametrize("shape", ["empty", "flat"])
def test_a_fit_that_cannot_be_done_says_so_and_the_plot_still_appears(
    demo_run: Path, tmp_path: Path, shape: str
) -> None:
    from atlasod.cli import main
    from atlasod.histio import read_histograms, write_histograms

    hists = read_histograms(demo_run / "results" / "2020-demo" / ANALYSIS / "histograms.root")
    fitted = yaml.safe_load((REPO / "analyses" / ANALYSIS / "analysis.yaml").read_text())["fit"][
        "histogram"
    ]
    for key, h in hists.items():
        if key.startswith("data_") and key.endswith(f"/{fitted}"):
            h.reset()
            if shape == "flat":  # the same in every bin: no peak to fit
                view = h.view(flow=False)
                if view.dtype.names:
                    view["value"], view["variance"] = 25.0, 25.0
                else:
                    view[...] = 25.0
    broken = tmp_path / "histograms.root"
    write_histograms(broken, hists)
    common = ["--analyses-dir", str(REPO / "analyses")]
    main(
        [
            *common,
            *("fit", "--analysis", ANALYSIS, "--histograms", str(broken)),
            *("--out", str(tmp_path / "fit.json")),
        ]
    )
    fit = json.loads((tmp_path / "fit.json").read_text())
    assert fit["valid"] is False
    if shape == "empty":
        assert fit["failed"] == "only 0 non-empty bins in the fit range: too few for 7 parameters"
    else:
        assert fit["problem"] == (
            "no peak found: the Gaussian does not improve the fit (local significance 0)"
        )
    main(
        [
            *common,
            *("plot", "--analysis", ANALYSIS, "--histograms", str(broken)),
            *("--only", fitted, "--outdir", str(tmp_path / "plots")),
            *("--fit", str(tmp_path / "fit.json")),
        ]
    )
    assert (tmp_path / "plots" / f"{fitted}.png").stat().st_size > 10_000
