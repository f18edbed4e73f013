"""The class hub's playbook on a fresh Ubuntu 24.04 machine (tests/classhub/ubuntu-base.sh
makes it with debootstrap from Ubuntu's archive): applied twice (the second run changes
nothing), then a student from the class list logs in with a real headless Chromium and runs
the H → γγ notebook to its plot.  The full hub checks run on Debian 12
(tests/test_classhub.py); this one runs on demand (about 8 minutes, and it needs Ubuntu's
archive): ATLASOD_CLASSHUB_UBUNTU=1.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .classhub import hub as classhub
from .classhub.hub import in_hub
from .conftest import REPO, on_demand, tool_from_environment

pytestmark = [
    pytest.mark.workflow,
    pytest.mark.network,
    on_demand("ATLASOD_CLASSHUB_UBUNTU", "~10 min, reaches Ubuntu's archive"),
]

ARTIFACTS = REPO / "test-artifacts" / "classhub-ubuntu"
STUDENT = ("dana", "dana-pw-7781")


def test_playbook_makes_a_working_hub_on_ubuntu_24_04(tmp_path: Path) -> None:
    deploy_python = tool_from_environment("ATLASOD_DEPLOY_PYTHON", "the Python of .venv-deploy")
    subprocess.run(["bash", str(REPO / "tests" / "classhub" / "ubuntu-base.sh")], check=True)
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    hub = classhub.start(
        tmp_path,
        deploy_python,
        ARTIFACTS,
        class_list=dict([STUDENT]),
        settings={"classhub_mem_limit": "1G", "classhub_cpu_limit": "1.0"},
        base=classhub.UBUNTU_24_04,
    )
    try:
        assert in_hub(hub, ". /etc/os-release; echo $VERSION_ID").stdout.strip() == "24.04"
        first, second = hub.recaps
        assert re.search(r"changed=0 ", second) and re.search(r"failed=0 ", second), second
        assert int(re.search(r"changed=(\d+)", first).group(1)) > 10, first
        user, password = STUDENT
        login = classhub.browse(
            hub, deploy_python, ARTIFACTS, "login", f"--student={user}:{password}"
        )
        assert login["url"].startswith(f"{hub.url}/user/{user}/")
        ran = classhub.browse(
            hub,
            deploy_python,
            ARTIFACTS,
            "run",
            f"--user={user}",
            "--notebook=atlas-opendata/notebooks/hyy.ipynb",
            "--expect=plot",
        )
        assert ran["dialogs"] == [] and ran["tracebacks"] == 0, ran
        assert ran["images"] >= 1 and ran["image_width"] > 300, ran
        assert in_hub(hub, f"stat -c %a /home/{user}").stdout.strip() == "700"
        db = in_hub(hub, "head -c 1 /srv/jupyterhub/jupyterhub.sqlite", user=user)
        assert "Permission denied" in db.stderr
    finally:
        classhub.stop(hub, ARTIFACTS)
