"""The Datalake on a real local Rucio (tools/datalake.py): a Rucio 41 server on PostgreSQL
with two XRootD RSEs, started from nothing on 127.0.0.1.  H→ZZ reads its inputs by DID,
its 4-lepton data multiplied ×2 go to RSE A, the analysis of the multiplied data set is
written back to RSE B and downloaded again; and the bad cases give clear errors."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import REPO, TEST_SCALE, env_with_venv, run_snakemake, tool_from_environment

pytestmark = pytest.mark.workflow

RSE_A, RSE_B = "DATALAKE_A_USERDISK", "DATALAKE_B_USERDISK"
OPEN_DATA = "opendata:demo.hzz"
# the multiplication factor (×2 tests what ×3 would, with a third fewer files to move)
FACTOR = 2


@pytest.fixture(scope="module")
def lake() -> Iterator[dict]:
    """The Datalake, started from nothing and stopped by its process ids."""
    python = tool_from_environment("ATLASOD_RUCIO_PYTHON", "the Rucio server's Python")
    if shutil.which("xrdcp") is None or not list(Path("/usr/lib/postgresql").glob("*/bin")):
        if os.environ.get("CI"):
            pytest.fail("xrootd-client or postgresql missing: `make test` installs them as root")
        pytest.skip("needs xrootd-server, xrootd-client and postgresql (make system-deps)")
    # under /tmp itself: the storage daemons run as nobody and must reach their folders
    base = Path(tempfile.mkdtemp(prefix="atlasod-datalake-"))
    base.chmod(0o711)
    state = base / "lake"
    tool = [python, str(REPO / "tools" / "datalake.py")]
    subprocess.run([*tool, "start", "--dir", str(state), "--user", "jdoe"], check=True)
    try:
        yield {"state": state, **json.loads((state / "datalake.json").read_text())}
    finally:
        subprocess.run([*tool, "stop", "--dir", str(state)], check=False)
        shutil.rmtree(base, ignore_errors=True)


def _atlasod(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**env_with_venv(), "RUCIO_CONFIG": str(config)}
    proc = subprocess.run(
        ["python", "-m", "atlasod", *args], env=env, capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"atlasod {args[0]} failed:\n{proc.stderr}")
    return proc


def _snakemake(lake: dict, root: Path, *args: str, check: bool = True, chunks: int = 5000):
    """Snakemake on H→ZZ as the user; ``chunks``: the session's demo run (5000) gives results
    to compare byte for byte, the multiplied runs use the default (fewer jobs)."""
    os.environ["RUCIO_CONFIG"] = lake["user_config"]
    try:
        return run_snakemake(
            *args,
            f"demo_scale={TEST_SCALE}",
            f"chunk_entries={chunks}",
            "analyses=[hzz]",
            f"data_dir={root / 'data'}",
            f"results_dir={root / 'results'}",
            f"logs_dir={root / 'logs'}",
            check=check,
        )
    finally:
        del os.environ["RUCIO_CONFIG"]


def test_the_datalake_starts_from_nothing_with_private_secrets(lake: dict) -> None:
    state = lake["state"]
    for name in ("rucio.cfg", "client.cfg", "user.cfg"):
        assert stat.S_IMODE((state / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE((state / "postgres").stat().st_mode) == 0o700
    assert set(lake["rses"]) == {RSE_A, RSE_B}
    assert lake["host"].startswith("http://127.0.0.1:")


@pytest.fixture(scope="module")
def registered(lake: dict, demo_run: Path) -> Path:
    """The demo files of H→ZZ (every skim it reads, and the truth of the data files)
    registered as one data set on RSE A."""
    demo = demo_run / "data" / "demo" / "hzz"
    files = [*demo.rglob("*.root"), *demo.rglob("Data/*.truth.json")]
    _atlasod(
        Path(lake["client_config"]),
        "rucio-register",
        "--dataset",
        OPEN_DATA,
        "--rse",
        RSE_A,
        "--meta",
        "source=demo",
        *map(str, files),
    )
    return demo


def test_hzz_reads_its_inputs_by_did_and_gets_the_local_results(
    lake: dict, registered: Path, demo_run: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.getbasetemp() / "datalake-run"
    _snakemake(lake, root, "hzz", "--config", "source=demo", f"rucio_inputs=[{OPEN_DATA}]")
    ours, local = root / "results" / "2020-demo" / "hzz", demo_run / "results" / "2020-demo" / "hzz"
    for name in ("histograms.root", "cutflow.json", "yields.json", "fit.json"):
        if (local / name).exists():
            assert (ours / name).read_bytes() == (local / name).read_bytes(), name
    manifest = json.loads((ours / "manifest.json").read_text())
    assert f"{OPEN_DATA}.data_A.4lep.root" in manifest["input_dids"]
    assert len(manifest["input_dids"]) == len(list(registered.rglob("*.root")))
    # the inputs were downloaded by DID, not generated
    assert not (root / "data" / "demo").exists()


def test_hzz_streams_its_inputs_from_their_replicas(
    lake: dict, registered: Path, demo_run: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """access=stream: the ROOT files are read in place from RSE A's XRootD server."""
    root = tmp_path_factory.getbasetemp() / "datalake-stream"
    config = ("source=demo", "access=stream", f"rucio_inputs=[{OPEN_DATA}]")
    _snakemake(lake, root, "hzz", "--config", *config)
    ours, local = root / "results" / "2020-demo" / "hzz", demo_run / "results" / "2020-demo" / "hzz"
    for name in ("histograms.root", "cutflow.json", "yields.json"):
        assert (ours / name).read_bytes() == (local / name).read_bytes(), name
    manifest = json.loads((ours / "manifest.json").read_text())
    read = [i["location"] for i in manifest["inputs"]]
    assert read and all(loc.startswith("root://127.0.0.1:") for loc in read), read[:3]
    assert not (root / "data").exists()  # nothing was downloaded


def test_multiplied_data_go_to_rse_a_and_their_analysis_back_to_rse_b(
    lake: dict, registered: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.getbasetemp() / "datalake-run"  # beside the unmultiplied run
    _snakemake(
        lake,
        root,
        "multiplied_datalake",
        "--config",
        "source=demo",
        f"multiply={FACTOR}",
        f"rucio_inputs=[{OPEN_DATA}]",
        f"rucio_multiplied_rse={RSE_A}",
        chunks=500_000,
    )
    record = json.loads(
        (root / "results" / f"2020-demo-x{FACTOR}" / "hzz" / "multiplied.datalake.json").read_text()
    )
    multiplied = record["dataset"]
    assert multiplied == f"user.jdoe:hzz.demo.x{FACTOR}.seed1-smear0.3.v1"
    assert record["meta"] == {
        "source_datasets": [OPEN_DATA],
        "factor": FACTOR,
        "seed": 1,
        "smear": 0.3,
        "software": "atlasod 0.1.0",
    }
    assert record["rse"] == RSE_A
    n_inputs = len(list(registered.rglob("*.root")))
    assert len(record["files"]) == FACTOR * n_inputs

    # the analysis of the multiplied data set, from a data folder of its own
    shutil.rmtree(root / "data")
    _snakemake(
        lake,
        root,
        "hzz",
        "datalake",
        "validate",
        "--config",
        "source=demo",
        f"multiply={FACTOR}",
        f"rucio_inputs=[{multiplied}]",
        f"rucio_results_rse={RSE_B}",
        chunks=500_000,
    )
    results = root / "results" / f"2020-demo-x{FACTOR}" / "hzz"
    assert not (root / "data" / "multiplied").exists()  # read from Rucio, not made here
    checks = json.loads((results / "validation.json").read_text())["checks"]
    assert all(c["passed"] for c in checks) and len(checks) == 3
    written = json.loads((results / "datalake.json").read_text())
    assert written["dataset"] == f"user.jdoe:hzz.2020-demo-x{FACTOR}.results.v1"
    assert written["rse"] == RSE_B
    assert len(written["inputs"]) == FACTOR * n_inputs

    # downloaded again by DID: the same bytes as the local results
    back = root / "downloaded"
    _atlasod(
        Path(lake["user_config"]), "rucio-get", "--did", written["dataset"], "--out", str(back)
    )
    version = written["dataset"].split(":")[1]
    for relative, did in written["files"].items():
        assert (back / did.split(":")[1]).read_bytes() == (results / relative).read_bytes()
    assert json.loads((back / f"{version}.datalake.json").read_text()) == written

    # results are write-once: the same results again make no new version
    (results / "datalake.json").unlink()
    _snakemake(
        lake,
        root,
        "datalake",
        "--config",
        "source=demo",
        f"multiply={FACTOR}",
        f"rucio_inputs=[{multiplied}]",
        f"rucio_results_rse={RSE_B}",
        chunks=500_000,
    )
    assert json.loads((results / "datalake.json").read_text())["dataset"] == written["dataset"]


def test_bad_cases_give_clear_errors_and_leave_nothing(
    lake: dict, registered: Path, tmp_path: Path
) -> None:
    user = Path(lake["user_config"])
    # an unknown DID, when the workflow is planned
    proc = _snakemake(
        lake,
        tmp_path,
        "hzz",
        "--config",
        "source=demo",
        "rucio_inputs=[opendata:nothing]",
        check=False,
    )
    assert proc.returncode != 0
    assert (
        "config rucio_inputs: unknown Rucio DID opendata:nothing: it is not in the Datalake; "
        "list what is there with `rucio list-dids opendata:*`"
    ) in proc.stdout + proc.stderr

    # an input that none of the data sets holds (no fallback to local files)
    proc = _snakemake(
        lake,
        tmp_path,
        "hzz",
        "--config",
        "source=demo",
        f"rucio_inputs=[user.jdoe:hzz.demo.x{FACTOR}.seed1-smear0.3.v1]",
        check=False,
    )
    assert proc.returncode != 0
    assert (
        "(analysis hzz) is in none of the Rucio inputs "
        f"user.jdoe:hzz.demo.x{FACTOR}.seed1-smear0.3.v1: "
        "add the data set that holds it to rucio_inputs"
    ) in proc.stdout + proc.stderr

    # wrong credentials
    wrong = tmp_path / "wrong.cfg"
    # (an account with no token cached by the client: the client reuses a cached token)
    text = user.read_text().replace("password = ", "password = x")
    wrong.write_text(
        text.replace("username = jdoe", "username = mallory").replace(
            "account = jdoe", "account = mallory"
        )
    )
    proc = _atlasod(wrong, "rucio-fetch", "--did", f"{OPEN_DATA}.x", "--out", "x", check=False)
    assert proc.returncode == 2
    assert f"the Rucio server refused the credentials in {wrong}" in proc.stderr
    assert "check username, password and account in its [client] section" in proc.stderr

    # a replica whose bytes changed on the storage
    did = f"{OPEN_DATA}.data_B.4lep.root"
    replica = next((lake["state"] / RSE_A).rglob(did.split(":")[1]))
    data = bytearray(replica.read_bytes())
    data[1000] ^= 0xFF
    replica.write_bytes(bytes(data))
    out = tmp_path / "fetched" / "data_B.4lep.root"
    proc = _atlasod(user, "rucio-fetch", "--did", did, "--out", str(out), check=False)
    assert proc.returncode == 2
    assert (
        f"no replica of Rucio DID {did} could be read; nothing was written to {out}" in proc.stderr
    )
    assert "the replica is corrupt" in proc.stderr
    assert list(out.parent.iterdir()) == []

    # an RSE that is down: reading from it, and writing to it leaves nothing registered
    os.kill(lake["pids"][f"xrootd-{RSE_A}"], 15)
    did = f"{OPEN_DATA}.data_A.4lep.root"
    proc = _atlasod(user, "rucio-fetch", "--did", did, "--out", str(out), check=False)
    assert proc.returncode == 2
    assert f"no replica of Rucio DID {did} could be read" in proc.stderr
    assert f"{RSE_A} (root://127.0.0.1:{lake['rses'][RSE_A]['port']}//rucio/" in proc.stderr
    proc = _atlasod(
        user,
        "rucio-register",
        "--dataset",
        "user.jdoe:down",
        "--rse",
        RSE_A,
        str(registered / "4lep" / "Data"),
        check=False,
    )
    assert proc.returncode == 2
    assert f"to RSE {RSE_A}" in proc.stderr and "nothing was registered" in proc.stderr
    listed = _atlasod(
        user, "rucio-get", "--did", "user.jdoe:down", "--out", str(tmp_path / "d"), check=False
    )
    assert "unknown Rucio DID user.jdoe:down" in listed.stderr


def test_streaming_needs_a_replica_readable_in_place() -> None:
    """access=stream with an input whose replicas have no root:// URL (a client that lists
    replicas as Rucio's does, without a server)."""
    from atlasod.data import datalake
    from atlasod.errors import AtlasodError

    class Replicas:
        def list_replicas(self, dids: list[dict], schemes: list[str], all_states: bool):
            assert schemes == ["root"] and not all_states
            yield {"scope": "s", "name": "a.root", "rses": {"B": ["root://h//b"], "A": []}}
            yield {"scope": "s", "name": "b.root", "rses": {}}

    files = [datalake.FileDid("s", name, 1, "00000001") for name in ("a.root", "b.root")]
    with pytest.raises(AtlasodError) as err:
        datalake.stream_urls(Replicas(), files)
    assert str(err.value) == (
        "1 Rucio input(s) have no replica that can be read in place (root://), first "
        "s:b.root: download them instead (access=download)"
    )
    assert datalake.stream_urls(Replicas(), files[:1]) == {"s:a.root": "root://h//b"}
