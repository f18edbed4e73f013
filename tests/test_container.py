"""The image every rule runs in: its tag follows the package version, and a workflow step
run inside it (without network) gives the same bytes as this environment."""

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import REPO

pytestmark = pytest.mark.workflow


def test_every_rule_declares_the_image_of_this_version() -> None:
    config = yaml.safe_load((REPO / "workflows" / "config" / "config.yaml").read_text())
    version = importlib.metadata.version("atlasod")
    assert config["container"] == f"docker://ghcr.io/atlas-opendata-workflows/atlasod:{version}"
    assert 'container: config["container"]' in (REPO / "Snakefile").read_text()


def _image() -> str:
    image = os.environ.get("ATLASOD_IMAGE_UNDER_TEST")
    if not image or not shutil.which("podman"):
        if os.environ.get("CI"):
            pytest.fail("no image under test: run the tests through `make test` (it builds one)")
        pytest.skip("set ATLASOD_IMAGE_UNDER_TEST to an image built by `make image`")
    return image


STEPS = [
    "generate --analysis hzz --file data_D.4lep.root --out {out}/data_D.4lep.root --scale 0.5",
    "process --analysis hzz --file data_D.4lep --input {out}/data_D.4lep.root"
    " --out {out}/0.root --cutflow {out}/0.cutflow.json",
]


def test_workflow_steps_in_the_image_give_the_local_bytes(tmp_path: Path) -> None:
    image = _image()
    inside, local = tmp_path / "image", tmp_path / "local"
    inside.mkdir()
    inside.chmod(0o777)  # the image runs as an unprivileged user
    script = " && ".join(f"python -m atlasod {s.format(out='/out')}" for s in STEPS)
    script += " && python -c 'import os; print(os.environ[\"ATLASOD_IMAGE\"])'"
    proc = subprocess.run(
        [
            "podman",
            "--runtime",
            "runc",
            "run",
            "--rm",
            "--network=none",
            "-v",
            f"{inside}:/out",
            "-v",
            f"{REPO / 'analyses'}:/work/analyses:ro",
            image,
            "bash",
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == image
    for step in STEPS:
        subprocess.run(
            [sys.executable, "-m", "atlasod", *step.format(out=local).split()],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
    for name in ("data_D.4lep.root", "0.root", "0.cutflow.json"):
        assert (inside / name).read_bytes() == (local / name).read_bytes(), name
