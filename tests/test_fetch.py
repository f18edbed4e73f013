"""The real-data path against local HTTP and XRootD servers serving generated files."""

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from atlasod.data.cache import adler32_of
from atlasod.data.catalogue import Catalogue, SampleFile
from atlasod.data.fetch import fetch_file
from atlasod.demo.generate import generate_file
from atlasod.errors import AtlasodError
from atlasod.selection.analysis import Analysis
from atlasod.selection.chunk import process_chunk

from .conftest import env_with_venv
from .servers import RangeHTTPServer, free_port, xrootd_server

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, hzz: Analysis, catalogue: Catalogue) -> Path:
    """A server root holding generated data_D.4lep.root in the release layout."""
    root = tmp_path_factory.mktemp("served")
    sample = hzz.data_files[3]
    generate_file(hzz, catalogue, sample, root / sample.relpath, seed=11, scale=1.0)
    return root


@pytest.fixture(scope="module")
def sample(served: Path, hzz: Analysis) -> SampleFile:
    """The catalogue entry, with the size and checksum of the generated file."""
    real = hzz.data_files[3]
    path = served / real.relpath
    return dataclasses.replace(real, size=path.stat().st_size, adler32=adler32_of(path))


def test_download_is_verified_and_complete(
    tmp_path: Path, served: Path, sample: SampleFile
) -> None:
    out = tmp_path / sample.relpath
    with RangeHTTPServer(served) as server:
        fetch_file(sample, [f"{server.url}/{sample.relpath}"], out)
    assert out.read_bytes() == (served / sample.relpath).read_bytes()
    # nothing else but hidden bookkeeping: the download lock and the verification stamp
    assert sorted(p.name for p in out.parent.iterdir()) == sorted(
        [sample.file, f".{sample.file}.lock", f".{sample.file}.verified"]
    )


def test_cut_connection_is_resumed_with_a_range_request(
    tmp_path: Path, served: Path, sample: SampleFile
) -> None:
    out = tmp_path / sample.file
    url_path = f"/{sample.relpath}"
    with RangeHTTPServer(served, cut_after=10_000) as server:
        url = f"{server.url}{url_path}"
        fetch_file(sample, [url, url], out, timeout=5)
        ranges = [r for p, r in server.requests if p == url_path]
    assert ranges[0] is None
    assert ranges[1] == "bytes=10000-"  # resumed where the cut left it
    assert out.read_bytes() == (served / sample.relpath).read_bytes()
    assert not out.with_name(out.name + ".part").exists()


def test_partial_file_survives_a_failed_attempt_and_the_next_call_resumes(
    tmp_path: Path, served: Path, sample: SampleFile
) -> None:
    out = tmp_path / sample.file
    with RangeHTTPServer(served, cut_after=20_000) as server:
        url = f"{server.url}/{sample.relpath}"
        with pytest.raises(AtlasodError):
            fetch_file(sample, [url], out, timeout=5)
        part = out.with_name(out.name + ".part")
        assert part.stat().st_size == 20_000
        assert not out.exists()  # never looks complete
        fetch_file(sample, [url], out, timeout=5)
    assert out.read_bytes() == (served / sample.relpath).read_bytes()


def test_checksum_mismatch_is_rejected_and_names_both_values(
    tmp_path: Path, served: Path, sample: SampleFile
) -> None:
    wrong = dataclasses.replace(sample, adler32="00000001")
    out = tmp_path / sample.file
    with RangeHTTPServer(served) as server, pytest.raises(AtlasodError) as err:
        fetch_file(wrong, [f"{server.url}/{sample.relpath}"], out)
    assert f"checksum mismatch (adler32 {sample.adler32}, the catalogue says 00000001)" in str(
        err.value
    )
    # neither the file nor a partial one (only the hidden download lock)
    assert [p.name for p in tmp_path.iterdir()] == [f".{sample.file}.lock"]


def test_unreachable_host_says_so_and_offers_demo_data(tmp_path: Path, sample: SampleFile) -> None:
    url = f"http://127.0.0.1:{free_port()}/{sample.relpath}"
    with pytest.raises(AtlasodError) as err:
        fetch_file(sample, [url], tmp_path / sample.file, timeout=2)
    msg = str(err.value)
    head = (
        f"none of the 1 location(s) of {sample.file} could be reached: this machine looks "
        f"offline (or a firewall blocks them):\n  {url}: "
    )
    assert msg.startswith(head + "host could not be reached")
    assert "To run offline, use generated data instead: --config source=demo" in msg
    assert "--config data_dir=<data_dir>" in msg


def test_next_location_is_tried_after_a_404(
    tmp_path: Path, served: Path, sample: SampleFile
) -> None:
    out = tmp_path / sample.file
    with RangeHTTPServer(served) as server:
        fetch_file(
            sample, [f"{server.url}/moved/{sample.file}", f"{server.url}/{sample.relpath}"], out
        )
        assert [p for p, _ in server.requests][:2] == [
            f"/moved/{sample.file}",
            f"/{sample.relpath}",
        ]
    assert out.read_bytes() == (served / sample.relpath).read_bytes()


def test_streaming_over_http_gives_the_same_histograms(
    served: Path, sample: SampleFile, hzz: Analysis, catalogue: Catalogue
) -> None:
    local = process_chunk(hzz, sample, str(served / sample.relpath), 0, 1, 10064.0, catalogue)
    with RangeHTTPServer(served) as server:
        remote = process_chunk(
            hzz, sample, f"{server.url}/{sample.relpath}", 0, 1, 10064.0, catalogue
        )
    assert remote.cutflow == local.cutflow
    for name, h in local.histograms.items():
        assert (remote.histograms[name].values(flow=True) == h.values(flow=True)).all()


@pytest.fixture(scope="module")
def xrootd(served: Path):
    if shutil.which("xrootd") is None:
        if os.environ.get("CI"):
            pytest.fail("xrootd-server is not installed: `make test` installs it when run as root")
        pytest.skip("xrootd-server is not installed (apt-get install xrootd-server)")
    # outside pytest's private temporary folder: the server runs as an unprivileged user
    export = Path(tempfile.mkdtemp(prefix="atlasod-xrootd-export-"))
    shutil.copytree(served, export, dirs_exist_ok=True)
    try:
        with xrootd_server(export) as base:
            yield base, export
    finally:
        shutil.rmtree(export, ignore_errors=True)


def test_download_over_xrootd(tmp_path: Path, xrootd, sample: SampleFile) -> None:
    base, export = xrootd
    out = tmp_path / sample.file
    fetch_file(sample, [f"{base}{export}/{sample.relpath}"], out)
    assert out.read_bytes() == (export / sample.relpath).read_bytes()


def test_streaming_over_xrootd_gives_the_same_histograms(
    xrootd, sample: SampleFile, hzz: Analysis, catalogue: Catalogue
) -> None:
    base, export = xrootd
    local = process_chunk(hzz, sample, str(export / sample.relpath), 0, 1, 10064.0, catalogue)
    remote = process_chunk(
        hzz, sample, f"{base}{export}/{sample.relpath}", 0, 1, 10064.0, catalogue
    )
    assert remote.cutflow == local.cutflow
    for name, h in local.histograms.items():
        assert (remote.histograms[name].values(flow=True) == h.values(flow=True)).all()


def test_a_server_error_is_not_called_offline(
    tmp_path: Path, served: Path, sample: SampleFile
) -> None:
    with RangeHTTPServer(served) as server, pytest.raises(AtlasodError) as err:
        fetch_file(sample, [f"{server.url}/moved/{sample.file}"], tmp_path / sample.file)
    assert str(err.value).startswith(f"could not fetch {sample.file} from any of 1 location(s):")
    assert str(err.value).splitlines()[1].endswith(": HTTP 404")


def test_download_progress_is_shown_in_the_terminal_with_rate_and_time_left(
    tmp_path: Path, served: Path, sample: SampleFile
) -> None:
    """`atlasod --log FILE fetch` (as the workflow runs it) prints progress lines on stderr."""
    size = sample.size
    assert size is not None
    with RangeHTTPServer(served, bytes_per_s=size // 2) as server:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "atlasod",
                "--log",
                str(tmp_path / "fetch.log"),
                "fetch",
                "--file",
                sample.file,
                "--out",
                str(tmp_path / sample.file),
                "--url",
                f"{server.url}/{sample.relpath}",
                "--no-verify",
                "--progress-every",
                "0.3",
            ],
            capture_output=True,
            text=True,
            check=False,
            env=env_with_venv(),
        )
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "atlasod.progress" in line]
    assert len(lines) >= 3, proc.stderr
    pattern = re.compile(
        rf"INFO atlasod.progress: {re.escape(sample.file)}: [\d.]+ MB of {size / 1e6:.1f} MB "
        r"\(\d+ %\), [\d.]+ MB/s, \d+ s left$"
    )
    assert all(pattern.search(line) for line in lines), lines
    assert "fetching" not in proc.stderr  # the rest of the INFO log stays in the file
    assert "fetching" in (tmp_path / "fetch.log").read_text()


def test_two_fetches_of_one_file_at_once_download_it_once(
    tmp_path: Path, served: Path, sample: SampleFile
) -> None:
    """Two workflows sharing a data folder: the second waits for the first's download."""
    from concurrent.futures import ThreadPoolExecutor

    out = tmp_path / sample.file
    size = sample.size
    assert size is not None
    with RangeHTTPServer(served, bytes_per_s=size) as server:  # about a second per download
        url = f"{server.url}/{sample.relpath}"
        with ThreadPoolExecutor(2) as pool:
            for future in [pool.submit(fetch_file, sample, [url], out) for _ in range(2)]:
                future.result()
        gets = [p for p, _ in server.requests if p == f"/{sample.relpath}"]
    assert len(gets) == 1
    assert out.read_bytes() == (served / sample.relpath).read_bytes()
