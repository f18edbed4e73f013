"""The class hub's cloud-init user data (deploy/cloud-init/user-data.yaml) on the first boot
of a fresh Debian 12 machine with cloud-init (a systemd container reading the NoCloud seed):
cloud-init installs its packages, writes the settings and the deploy script and runs it;
the script clones the project (here from a local copy of this checkout's HEAD), installs
Ansible from its hashed lock and applies the playbook to the machine itself; the hub then
answers over HTTPS and a second run of the script changes nothing.  On demand (about 10
minutes): ATLASOD_CLASSHUB_CLOUD_INIT=1.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from .classhub import hub as classhub
from .classhub.hub import in_hub
from .conftest import REPO, on_demand
from .servers import free_port

pytestmark = [
    pytest.mark.workflow,
    pytest.mark.network,
    on_demand("ATLASOD_CLASSHUB_CLOUD_INIT", "~7 min"),
]

ARTIFACTS = REPO / "test-artifacts" / "classhub-cloud-init"
IMAGE = "localhost/atlasod-classhub-cloud-init"
SOURCE = "/srv/atlasod-src.git"  # the project's repository as the machine sees it


def user_data(port: int) -> str:
    """The shipped user data with the edits its header asks for: the settings (here: the
    hub on 127.0.0.1 and free ports, students' uids away from the host's) and the
    repository to clone (here: the local copy)."""
    data = yaml.safe_load((REPO / "deploy" / "cloud-init" / "user-data.yaml").read_text())
    settings = next(f for f in data["write_files"] if f["path"].endswith("vars.yml"))
    settings["content"] += (
        f"classhub_bind_ip: 127.0.0.1\nclasshub_port: {port}\n"
        f"classhub_api_port: {free_port()}\nclasshub_proxy_api_port: {free_port()}\n"
        "classhub_hostname: localhost\nclasshub_first_uid: 3000\nclasshub_last_uid: 3999\n"
    )
    (command,) = data["runcmd"]
    assert " main >> " in command[-1], command
    command[-1] = command[-1].replace(" main >> ", f" main file://{SOURCE} >> ")
    return "#cloud-config\n" + yaml.safe_dump(data, sort_keys=False)


def test_user_data_turns_a_fresh_vm_into_a_hub(tmp_path: Path) -> None:
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    # the fresh Debian 12 machine, with cloud-init (tests/classhub/cloud-init/Containerfile)
    classhub.build_image(classhub.build_image(), REPO / "tests" / "classhub" / "cloud-init", IMAGE)
    seed = tmp_path / "seed"
    seed.mkdir()
    port = free_port()
    (seed / "user-data").write_text(user_data(port))
    (seed / "meta-data").write_text("instance-id: atlasod-classhub-test\nlocal-hostname: hub\n")
    check = subprocess.run(
        ["cloud-init", "schema", "--config-file", str(seed / "user-data")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    # The project as a repository with a branch main at this checkout's HEAD.
    source = tmp_path / "src.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(REPO), str(source)], check=True)
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(["git", "-C", str(source), "update-ref", "refs/heads/main", head], check=True)
    # systemd's services (cloud-init's among them) get the host's CA bundle in their
    # environment (the machine reaches PyPI and npm through it)
    host_ca = tmp_path / "host-ca.conf"
    host_ca.write_text(
        f"[Manager]\nDefaultEnvironment=PIP_CERT={classhub.HOST_CA}"
        f" NODE_EXTRA_CA_CERTS={classhub.HOST_CA}\n"
    )
    name = f"atlasod-classhub-ci-{uuid.uuid4().hex[:8]}"
    classhub.boot(
        IMAGE,
        name,
        mounts=[
            f"{seed}:/var/lib/cloud/seed/nocloud:ro",
            f"{source}:{SOURCE}:ro",
            f"{host_ca}:/etc/systemd/system.conf.d/host-ca.conf:ro",
        ],
    )
    try:
        # cloud-init's final stage (the deploy) has ended when it writes boot-finished
        classhub.wait_for(
            lambda: in_hub(name, "test -e /var/lib/cloud/instance/boot-finished").returncode == 0,
            1800,
            "cloud-init's final stage",
        )
        status = in_hub(name, "cloud-init status --long").stdout
        log = in_hub(name, "cat /var/log/atlasod-classhub.log").stdout
        (ARTIFACTS / "atlasod-classhub.log").write_text(log)
        (ARTIFACTS / "cloud-init-output.log").write_text(
            in_hub(name, "cat /var/log/cloud-init-output.log").stdout
        )
        assert re.search(r"^status: done$", status, re.M), status + log[-3000:]
        recap = re.findall(r"localhost\s+: ok=.*", log)
        assert recap and re.search(r"failed=0 ", recap[-1]), log[-3000:]
        url = f"https://127.0.0.1:{port}/hub/api/"
        classhub.wait_for(lambda: classhub.answers(url), 60, "the hub")
        modes = in_hub(
            name,
            "stat -c '%a %U' /etc/atlasod-classhub/vars.yml /usr/local/sbin/atlasod-classhub-deploy"
            " /root/classhub-credentials/localhost/teacher",
        ).stdout.split()
        assert modes == ["600", "root", "700", "root", "600", "root"], modes
        # The script again, as the README says to after changing a setting: no change.
        again = in_hub(
            name, f"/usr/local/sbin/atlasod-classhub-deploy main file://{SOURCE} 2>&1"
        ).stdout
        (ARTIFACTS / "second-run.log").write_text(again)
        recap = re.findall(r"localhost\s+: ok=.*", again)
        assert recap and re.search(r"changed=0 ", recap[-1]), again[-3000:]
    finally:
        classhub.stop(name, ARTIFACTS)
