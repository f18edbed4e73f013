"""A class hub (deploy/ansible) on a fresh Debian 12 (or Ubuntu 24.04) systemd container,
from Python: start it (the playbook applied twice), run commands on it, drive it with a
browser (tests/classhub/browser.py), stop it.  Used by tests/test_classhub.py and
benchmarks/bench_classhub.py.

The container runs privileged with its own cgroup namespace and no user namespace: on a
cgroup v1 host that is the only way systemd inside it can enforce the students' memory
limits (with a user namespace its systemd does not start).  Its students' uids (3000+) are
therefore host uids, a range no host account uses.  It shares the host's network; the hub
listens on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ..servers import free_port

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "deploy" / "ansible"
TARGET_IMAGE = "localhost/atlasod-classhub-target"
# The fresh machines the playbook is tried on: Debian 12 (envs/build-image.sh makes its
# base) and Ubuntu 24.04 (tests/classhub/ubuntu-base.sh).
DEBIAN_12 = "localhost/atlasod-debian-bookworm-base"
UBUNTU_24_04 = "localhost/atlasod-ubuntu-noble-base"
BROWSER = REPO / "tests" / "classhub" / "browser.py"
HOST_CA = "/host-certs/ca-certificates.crt"  # the host's CA bundle inside the machine


@dataclass
class Hub:
    container: str
    url: str
    teacher: str
    teacher_password: str
    recaps: list[str]  # the PLAY RECAP line of each playbook run
    inventory: str  # the playbook's inventory for this machine (to run it again)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> Hub:
        return cls(**json.loads(path.read_text()))


def podman(
    *args: str, check: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", "--runtime", "runc", *args],
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
    )


def in_hub(hub: Hub | str, script: str, user: str = "root") -> subprocess.CompletedProcess[str]:
    """Run ``script`` (bash) on the hub machine as ``user``."""
    name = hub.container if isinstance(hub, Hub) else hub
    runas = [] if user == "root" else ["runuser", "-u", user, "--"]
    return podman("exec", name, *runas, "bash", "-c", script, check=False)


def running_servers(hub: Hub | str) -> list[str]:
    """The students whose server (systemd unit jupyter-<name>-singleuser) is active."""
    units = in_hub(
        hub,
        "systemctl list-units --plain --no-legend --state=active"
        " 'jupyter-*-singleuser.service' | awk '{print $1}'",
    ).stdout.split()
    return [u.removeprefix("jupyter-").removesuffix("-singleuser.service") for u in units]


def answers(url: str, cafile: Path | None = None) -> bool:
    """Whether ``url`` answers 200; its certificate is verified against ``cafile`` if given
    (the hub's own certificate is self-signed)."""
    context = ssl.create_default_context(cafile=cafile)
    if cafile is None:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, context=context, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(1)
    raise RuntimeError(f"{what}: not ready after {timeout} s")


def apply_playbook(
    deploy_python: str,
    inventory: Path,
    host: str,
    log: Path,
    extra: dict[str, str] | None = None,
) -> str:
    """Run the playbook (the tasks' times go to ``log``; ``extra``: variables given with
    ``-e``); returns the hub's PLAY RECAP line."""
    bin_dir = Path(deploy_python).parent
    proc = subprocess.run(
        [str(bin_dir / "ansible-playbook"), "-i", str(inventory), "site.yml"]
        + (["-e", json.dumps(extra)] if extra else []),
        cwd=PLAYBOOK,
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
        },
    )
    log.write_text(proc.stdout + proc.stderr)
    recap = [line for line in proc.stdout.splitlines() if re.match(rf"{host}\s+: ok=", line)]
    if proc.returncode != 0 or not recap:
        raise RuntimeError(f"the playbook failed (log: {log}):\n{proc.stdout[-6000:]}")
    return recap[-1]


def build_image(
    base: str = DEBIAN_12, folder: Path = REPO / "tests" / "classhub", image: str | None = None
) -> str:
    """The image built from ``folder``'s Containerfile on the root file system ``base``
    (by default the image of a fresh machine with systemd, tests/classhub/Containerfile);
    its name (``image``, or one made from the base's)."""
    if image is None:
        image = TARGET_IMAGE if base == DEBIAN_12 else f"{TARGET_IMAGE}-{base.rsplit('-', 2)[-2]}"
    podman(
        "build", "--network=host", "-q", "--build-arg", f"BASE={base}", "-t", image, str(folder)
    )  # fmt: skip
    return image


def boot(
    image: str, name: str, mounts: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> None:
    """Boot a machine container ``name`` from ``image``: systemd as its first process,
    privileged with its own cgroup namespace (see above), the host's network, the host's CA
    bundle at /host-certs (this machine reaches PyPI and npm through it) and the host's pip
    cache (the wheels `make install` fetched are not fetched again); ``mounts``: more
    podman -v arguments."""
    volumes = ["-v", "/etc/ssl/certs:/host-certs:ro"]
    pip_cache = Path.home() / ".cache" / "pip"
    if pip_cache.is_dir():
        volumes += ["-v", f"{pip_cache}:/root/.cache/pip"]
    for mount in mounts:
        volumes += ["-v", mount]
    environment = [f"--env={k}={v}" for k, v in (env or {}).items()]
    podman(
        "run", "-d", "--name", name, "--systemd=always", "--privileged", "--cgroupns=private",
        "--network=host", *volumes, *environment, image,
    )  # fmt: skip


def start(
    work: Path,
    deploy_python: str,
    artifacts: Path,
    class_list: dict[str, str],
    settings: dict[str, str],
    base: str = DEBIAN_12,
) -> Hub:
    """A fresh hub machine (from the root file system ``base``) with the playbook applied
    twice; ``class_list``: its students' passwords by name; ``settings``: more playbook
    variables (classhub_mem_limit, ...)."""
    name = f"atlasod-classhub-{uuid.uuid4().hex[:8]}"
    # podman exec (Ansible's connection) passes the container's environment on
    boot(build_image(base), name, env={"PIP_CERT": HOST_CA, "NODE_EXTRA_CA_CERTS": HOST_CA})
    try:
        port = free_port()
        students = work / "class.csv"
        students.write_text(
            "username,password\n" + "".join(f"{u},{p}\n" for u, p in class_list.items())
        )
        variables = {
            "ansible_connection": "containers.podman.podman",
            "ansible_become": "false",
            "classhub_bind_ip": "127.0.0.1",
            "classhub_port": str(port),
            "classhub_api_port": str(free_port()),
            "classhub_proxy_api_port": str(free_port()),
            "classhub_hostname": "localhost",
            "classhub_first_uid": "3000",
            "classhub_last_uid": "3999",
            "classhub_class_list": str(students),
            "classhub_credentials_dir": str(work / "credentials"),
            "classhub_build_dir": str(work / "build"),
            **settings,
        }
        inventory = work / "inventory.ini"
        inventory.write_text(
            "[classhub]\n" + name + "".join(f" {k}={v}" for k, v in variables.items()) + "\n"
        )
        artifacts.mkdir(parents=True, exist_ok=True)
        recaps = [
            apply_playbook(deploy_python, inventory, name, artifacts / f"playbook-{n}.log")
            for n in (1, 2)
        ]
        password = (work / "credentials" / name / "teacher").read_text().split()[0]
        url = f"https://127.0.0.1:{port}"
        wait_for(lambda: answers(f"{url}/hub/api/"), 60, "the hub")
    except BaseException:
        stop(name, artifacts)
        raise
    return Hub(name, url, "teacher", password, recaps, str(inventory))


def stop(hub: Hub | str, artifacts: Path | None = None) -> None:
    """Keep the hub's and the students' logs in ``artifacts``, then remove the machine."""
    name = hub.container if isinstance(hub, Hub) else hub
    if artifacts is not None:
        artifacts.mkdir(parents=True, exist_ok=True)
        log = in_hub(name, "journalctl --no-pager -n 2000 -u jupyterhub -u 'jupyter-*'").stdout
        (artifacts / "hub-journal.log").write_text(log)
    podman("rm", "-f", "-t", "5", name, check=False)


def browse(hub: Hub, deploy_python: str, artifacts: Path, *args: str) -> dict:
    """One command of tests/classhub/browser.py (Playwright, Debian's chromium); its JSON."""
    proc = subprocess.run(
        [deploy_python, str(BROWSER), args[0], "--url", hub.url, "--out", str(artifacts),
         *args[1:]],
        capture_output=True, text=True, check=False, timeout=3600,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"browser.py {args[0]} failed:\n{proc.stderr[-5000:]}")
    return json.loads(proc.stdout.splitlines()[-1])
