"""The real-data workflow (`source=real`) against a local HTTP server.

The server holds the demo run's H→ZZ files under the release layout, and a catalogue
copy carries their sizes and checksums, so the download (and streaming) path of the
workflow must give byte-identical histograms to the demo run that made the files.
"""

import re
from pathlib import Path

import pytest

from .conftest import TEST_SCALE, run_snakemake
from .servers import RangeHTTPServer, catalogue_for, free_port

pytestmark = [pytest.mark.workflow, pytest.mark.network]


@pytest.fixture(scope="module")
def served_catalogue(demo_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("catalogue") / "catalogue.yaml"
    return catalogue_for(demo_run / "data" / "demo" / "hzz", out)


@pytest.mark.parametrize("access", ["download", "stream"])
def test_real_source_gives_the_same_histograms_as_the_files_it_reads(
    demo_run: Path, served_catalogue: Path, tmp_path: Path, access: str
) -> None:
    with RangeHTTPServer(demo_run / "data" / "demo" / "hzz") as server:
        run_snakemake(
            "hzz",
            "--config",
            "source=real",
            f"access={access}",
            f"catalogue={served_catalogue}",
            f"locations={server.url}/{{skim}}/{{kind}}/{{file}}",
            f"data_dir={tmp_path / 'data'}",
            f"results_dir={tmp_path / 'results'}",
            f"logs_dir={tmp_path / 'logs'}",
            "chunk_entries=5000",
            f"demo_scale={TEST_SCALE}",
        )
        fetched = [p for p, _ in server.requests]
    real = (tmp_path / "results" / "2020-real" / "hzz" / "histograms.root").read_bytes()
    demo = (demo_run / "results" / "2020-demo" / "hzz" / "histograms.root").read_bytes()
    assert real == demo
    assert "/4lep/Data/data_A.4lep.root" in fetched
    downloaded = (
        sorted(p.name for p in (tmp_path / "data" / "real" / "4lep" / "Data").glob("*.root"))
        if access == "download"
        else []
    )
    assert downloaded == (
        ["data_A.4lep.root", "data_B.4lep.root", "data_C.4lep.root", "data_D.4lep.root"]
        if access == "download"
        else []
    )


def test_offline_real_run_stops_at_once_and_names_the_alternatives(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there: like a machine without internet
    proc = run_snakemake(
        "hzz",
        "--config",
        "source=real",
        f"locations=http://127.0.0.1:{port}/{{skim}}/{{kind}}/{{file}}",
        f"data_dir={tmp_path / 'data'}",
        f"results_dir={tmp_path / 'results'}",
        f"logs_dir={tmp_path / 'logs'}",
        check=False,
    )
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert re.search(rf"http://127\.0\.0\.1:{port}/4lep/\S+\.root: host could not be reached", out)
    assert "To run offline, use generated data instead: --config source=demo" in out
    assert not list((tmp_path / "data").rglob("*.root"))  # nothing that looks complete
