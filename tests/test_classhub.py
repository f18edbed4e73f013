"""The class hub (deploy/ansible): the playbook applied twice to a fresh Debian 12 machine (a
systemd container, see tests/classhub/hub.py), then a real headless Chromium as a teacher and
two students.  The browser's screenshots and the logs are kept in test-artifacts/classhub/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest

from .classhub import hub as classhub
from .classhub.hub import Hub, in_hub, podman, running_servers, wait_for
from .conftest import REPO, analyses_on, tool_from_environment
from .servers import RangeHTTPServer, catalogue_for

pytestmark = [pytest.mark.workflow, pytest.mark.network]

ARTIFACTS = REPO / "test-artifacts" / "classhub"
MEM_LIMIT = "1G"
STUDENTS = {"alice": "alice-pw-4417", "bob": "bob-pw-5531"}
LISTED = ("carol", "carol-pw-6642")  # from the class list (CSV)
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    reuse = os.environ.get("ATLASOD_REUSE_CLASSHUB")  # development only: a kept hub's record
    if reuse:
        yield Hub.load(Path(reuse))
        return
    deploy_python = tool_from_environment("ATLASOD_DEPLOY_PYTHON", "the Python of .venv-deploy")
    if not shutil.which("podman"):
        pytest.fail("podman is needed (make test installs it with the image)")
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    hub = classhub.start(
        tmp_path_factory.mktemp("classhub"),
        deploy_python,
        ARTIFACTS,
        class_list=dict([LISTED]),
        settings={"classhub_mem_limit": MEM_LIMIT, "classhub_cpu_limit": "1.0"},
    )
    keep = os.environ.get("ATLASOD_KEEP_CLASSHUB")  # development only
    if keep:
        hub.save(Path(keep))
    try:
        yield hub
    finally:
        if not keep:
            classhub.stop(hub, ARTIFACTS)


def browse(hub: Hub, *args: str) -> dict:
    """One step of tests/classhub/browser.py (Playwright, Debian's chromium)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed (make system-deps installs it)")
    python = tool_from_environment("ATLASOD_DEPLOY_PYTHON", "the Python of .venv-deploy")
    return classhub.browse(hub, python, ARTIFACTS, *args)


def test_second_run_of_the_playbook_changes_nothing(hub: Hub) -> None:
    first, second = hub.recaps
    assert int(re.search(r"changed=(\d+)", first).group(1)) > 10
    assert re.search(r"changed=0 ", second), second
    assert re.search(r"failed=0 ", second), second


def test_hub_state_and_secrets_are_root_only(hub: Hub) -> None:
    modes = in_hub(
        hub,
        "stat -c '%a %U %n' /srv/jupyterhub /srv/jupyterhub/jupyterhub.sqlite"
        " /srv/jupyterhub/jupyterhub_cookie_secret /etc/jupyterhub /etc/jupyterhub/accounts.csv"
        " /etc/jupyterhub/tls/hub.key",
    ).stdout.split("\n")
    assert [m.split()[:2] for m in modes if m] == [
        ["700", "root"],
        ["600", "root"],
        ["600", "root"],
        ["700", "root"],
        ["600", "root"],
        ["600", "root"],
    ]


def test_class_cache_is_filled_once_and_read_in_place(
    hub: Hub, demo_run: Path, tmp_path: Path
) -> None:
    """The teacher's one command fills the cache (fetch step: progress, checksums); a
    student's workflow then plans no download; students cannot write to it."""
    served = demo_run / "data" / "demo" / "hyy"
    catalogue = catalogue_for(served, tmp_path / "catalogue.yaml")
    podman("cp", str(catalogue), f"{hub.container}:/root/catalogue.yaml")
    with RangeHTTPServer(served) as server:
        fill = in_hub(
            hub,
            f"atlasod-class-cache hyy --cores 2 --catalogue /root/catalogue.yaml"
            f" --location '{server.url}/{{skim}}/{{kind}}/{{file}}'",
        )
    assert fill.returncode == 0, fill.stdout[-3000:] + fill.stderr[-3000:]
    files = sorted(p.name for p in (served / "GamGam" / "Data").glob("*.root"))
    listing = in_hub(
        hub,
        "cd /srv/atlasod/data/real/GamGam/Data && ls && stat -c '%U %a' *.root",
    )
    assert listing.stdout.split("\n")[: len(files)] == files
    assert set(listing.stdout.split("\n")[len(files) :]) - {""} == {"atlasod-data 644"}
    assert "Finished jobid" in fill.stderr or "steps (100%) done" in fill.stderr
    # A student (account made at the first login, see below: made here if not yet).
    in_hub(hub, "id alice || adduser --quiet --disabled-password --gecos '' --firstuid 3000 alice")
    denied = in_hub(hub, "touch /srv/atlasod/data/real/GamGam/Data/x", user="alice")
    assert denied.returncode != 0 and "Permission denied" in denied.stderr
    plan = in_hub(
        hub,
        "cd /tmp && cp -r /opt/atlasod/course plan && cd plan && . /etc/profile.d/atlasod.sh"
        " && snakemake -n hyy"
        " --config catalogue=/srv/atlasod/data/catalogue.yaml --quiet rules",
        user="alice",
    )
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    assert "process_chunk" in plan.stdout and "fetch" not in plan.stdout


def test_class_cache_of_the_2025e_release(hub: Hub, demo_run_2025e: Path, tmp_path: Path) -> None:
    """`atlasod-class-cache --release 2025e hyy`: the 2025e files beside the 2020 ones, their
    catalogue kept per release; a student's 2025e workflow then plans no download."""
    served = demo_run_2025e / "data" / "demo" / "hyy"
    catalogue = catalogue_for(served, tmp_path / "catalogue.yaml", "2025e")
    podman("cp", str(catalogue), f"{hub.container}:/root/catalogue-2025e.yaml")
    with RangeHTTPServer(served) as server:
        fill = in_hub(
            hub,
            "atlasod-class-cache --release 2025e hyy --cores 2"
            " --catalogue /root/catalogue-2025e.yaml"
            f" --location '{server.url}/{{skim}}/{{kind}}/{{file}}'",
        )
    assert fill.returncode == 0, fill.stdout[-3000:] + fill.stderr[-3000:]
    files = sorted(p.name for p in (served / "GamGam" / "Data").glob("*.root"))
    assert len(files) == 16 and files[0].startswith("ODEO_FEB2025_v0_GamGam_data1")
    listing = in_hub(hub, "cd /srv/atlasod/data/real/GamGam/Data && ls ODEO_*.root")
    assert listing.stdout.split() == files
    kept = in_hub(hub, "stat -c '%a' /srv/atlasod/data/catalogue-2025e.yaml")
    assert kept.stdout.strip() == "644"
    in_hub(hub, "id alice || adduser --quiet --disabled-password --gecos '' --firstuid 3000 alice")
    plan = in_hub(
        hub,
        "cd /tmp && rm -rf plan25 && cp -r /opt/atlasod/course plan25 && cd plan25"
        " && . /etc/profile.d/atlasod.sh && snakemake -n hyy --config release=2025e"
        " catalogue=/srv/atlasod/data/catalogue-2025e.yaml --quiet rules",
        user="alice",
    )
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    assert "process_chunk" in plan.stdout and "fetch" not in plan.stdout


def test_teacher_approves_students_who_run_the_hyy_notebook_to_its_plot(hub: Hub) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    students = [f"--student={user}:{password}" for user, password in STUDENTS.items()]
    result = browse(
        hub,
        "class",
        f"--teacher={hub.teacher}:{hub.teacher_password}",
        *students,
        "--notebook=atlas-opendata/notebooks/hyy.ipynb",
    )
    for user in STUDENTS:
        assert result[user]["refused_before_approval"], result[user]
        assert "admin" in result[user]["signup_says"].lower(), result[user]["signup_says"]
        assert result[user]["lab_url"].startswith(f"{hub.url}/user/{user}/lab")
        assert result[user]["dialogs"] == [], result[user]  # JupyterLab asked nothing
        assert result[user]["images"] >= 1 and result[user]["image_width"] > 300, result[user]
        assert result[user]["tracebacks"] == 0, result[user]
        assert (ARTIFACTS / f"{user}-hyy.png").stat().st_size > 10_000
    # Isolation: bob cannot read alice's home or signal or read her processes.
    assert in_hub(hub, "stat -c %a /home/alice").stdout.strip() == "700"
    peek = in_hub(hub, "ls /home/alice/atlas-opendata", user="bob")
    assert peek.returncode != 0 and "Permission denied" in peek.stderr
    pid = in_hub(hub, "systemctl show -p MainPID --value jupyter-alice-singleuser").stdout.strip()
    assert int(pid) > 0
    unit = "jupyter-alice-singleuser"
    hidden = in_hub(hub, f"systemctl show -p ProtectProc -p PrivateTmp --value {unit}")
    assert hidden.stdout.split() == ["yes", "invisible"]  # PrivateTmp, ProtectProc
    assert in_hub(hub, f"kill -0 {pid}", user="bob").returncode != 0
    assert "Permission denied" in in_hub(hub, f"cat /proc/{pid}/environ", user="bob").stderr
    # The hub's database and the class list are not readable by students.
    for secret in ("/srv/jupyterhub/jupyterhub.sqlite", "/etc/jupyterhub/accounts.csv"):
        assert "Permission denied" in in_hub(hub, f"head -c 1 {secret}", user="bob").stderr
    # The course arrived as alice's own files.
    owner = in_hub(hub, "stat -c %U /home/alice/atlas-opendata/notebooks/hyy.ipynb")
    assert owner.stdout.strip() == "alice"


def test_a_student_over_the_memory_limit_is_stopped_and_the_others_keep_working(
    hub: Hub,
) -> None:
    """alice's kernel allocates twice her limit: it is killed (JupyterLab says so), her
    server, the hub and bob's server stay up."""
    unit = "jupyter-alice-singleuser"
    if in_hub(hub, f"systemctl is-active {unit}").stdout.strip() != "active":
        pytest.fail("alice's server is not running: the test above must run first")
    assert in_hub(hub, f"systemctl show -p MemoryMax --value {unit}").stdout.strip() == str(1024**3)
    hog = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "hog",
                "metadata": {},
                "outputs": [],
                "source": "import numpy as np\nhog = np.ones(2 * 1024**3 // 8)\n",
            }
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    in_hub(hub, f"cat > /home/alice/hog.ipynb <<'EOF'\n{json.dumps(hog)}\nEOF", user="alice")
    died = browse(hub, "run", "--user=alice", "--notebook=hog.ipynb", "--expect=died")
    assert re.search("died|restarting", died["message"], re.IGNORECASE), died
    assert in_hub(hub, f"systemctl is-active {unit}").stdout.strip() == "active"
    assert in_hub(hub, "systemctl is-active jupyterhub").stdout.strip() == "active"
    assert browse(hub, "get", "--user=bob", "--path=/user/bob/api/status")["status"] == 200
    assert browse(hub, "get", "--user=alice", "--path=/user/alice/api/status")["status"] == 200
    log = in_hub(hub, f"journalctl --no-pager -u {unit} -n 100").stdout
    assert "restarting kernel" in log, log[-2000:]
    # The kernel's out-of-memory killer acted in alice's cgroup (v1 here, v2 elsewhere).
    oom = in_hub(
        hub,
        f"cg=$(systemctl show -p ControlGroup --value {unit});"
        " cat /sys/fs/cgroup/memory$cg/memory.oom_control /sys/fs/cgroup$cg/memory.events"
        " 2>/dev/null",
    ).stdout
    assert int(re.search(r"^oom_kill (\d+)", oom, re.MULTILINE).group(1)) >= 1, oom
    # Her CPU limit (classhub_cpu_limit 1.0) is the kernel's CFS quota on her cgroup.
    quota = in_hub(
        hub,
        f"cg=$(systemctl show -p ControlGroup --value {unit}); d=/sys/fs/cgroup/cpu$cg;"
        " cat $d/cpu.cfs_quota_us $d/cpu.cfs_period_us 2>/dev/null"
        " || cat /sys/fs/cgroup$cg/cpu.max",
    ).stdout.split()
    assert int(quota[0]) == int(quota[1]) > 0, quota  # one CPU


def test_class_list_account_logs_in(hub: Hub) -> None:
    result = browse(hub, "login", f"--student={LISTED[0]}:{LISTED[1]}")
    assert result["url"].startswith(f"{hub.url}/user/{LISTED[0]}/")
    assert 3000 <= int(in_hub(hub, f"id -u {LISTED[0]}").stdout) <= 3999  # the class's range


def test_the_other_notebooks_run_to_their_plots_in_jupyterlab(hub: Hub) -> None:
    """The other analyses' notebooks, opened in JupyterLab and run top to bottom (H → γγ ran
    above): the eleven other 2020 ones and those of the analyses that run only on 2025e;
    alice and bob each run their share one after the other, at the same time, each
    student's kernel under the 1G limit."""
    share = {
        "alice": ["zprime", "wz", "zz", "hww", "ztautau", "ttbar_reco-2025e"],
        "bob": ["hzz", "ttbar", "w", "z", "singletop", "slepton", "zpeak-2025e"],
    }
    names = ["hyy", *share["alice"], *share["bob"]]
    on_2020 = analyses_on("2020")
    only_2025e = [f"{n}-2025e" for n in analyses_on("2025e") if n not in on_2020]
    assert sorted(names) == sorted(on_2020 + only_2025e)  # every analysis
    with ThreadPoolExecutor(len(share)) as pool:
        runs = {
            user: pool.submit(
                browse,
                hub,
                "notebooks",
                f"--user={user}",
                *(f"--notebook=atlas-opendata/notebooks/{n}.ipynb" for n in names),
            )
            for user, names in share.items()
        }
    for user, names in share.items():
        result = runs[user].result()
        assert list(result) == names
        for name, ran in result.items():
            assert ran["dialogs"] == [] and ran["tracebacks"] == 0, (user, name, ran)
            assert ran["images"] >= 1 and ran["image_width"] > 300, (user, name, ran)
            assert (ARTIFACTS / f"{user}-{name}.png").stat().st_size > 10_000
            analysis, _, release = name.partition("-")
            run = f"{release or '2020'}-demo/{analysis}"
            hists = f"/home/{user}/atlas-opendata/notebooks/notebook-output/{run}"
            assert in_hub(hub, f"test -s {hists}/histograms.root", user=user).returncode == 0


def test_idle_servers_are_culled_and_their_files_stay(hub: Hub) -> None:
    """The hub runs jupyterhub-idle-culler with the configured timeout (3600 s); the same
    culler with the service's own token and a one-second timeout stops the idle servers
    (the culler at work without waiting an hour), the hub stays up, the students' files stay."""
    culler = in_hub(  # (no procps on the minimal machine: /proc read directly)
        hub,
        "for p in /proc/[0-9]*; do c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null);"
        " case $c in */python3\\ -m\\ jupyterhub_idle_culler\\ *) echo ${p#/proc/} $c;; esac;"
        " done",
    ).stdout.strip()
    assert "--timeout=3600" in culler, culler
    environ = in_hub(hub, f"tr '\\0' '\\n' < /proc/{culler.split()[0]}/environ").stdout
    env = dict(line.split("=", 1) for line in environ.splitlines() if "=" in line)
    assert {"alice", "bob"} <= set(running_servers(hub))
    culled = in_hub(
        hub,
        f"JUPYTERHUB_API_TOKEN={env['JUPYTERHUB_API_TOKEN']} timeout 20"
        " /opt/jupyterhub/venv/bin/python -m jupyterhub_idle_culler"
        f" --url={env['JUPYTERHUB_API_URL']} --timeout=1 --cull-every=5",
    )
    wait_for(lambda: not running_servers(hub), 60, "every idle server stopped")
    assert in_hub(hub, "systemctl is-active jupyterhub").stdout.strip() == "active"
    assert in_hub(hub, "test -f /home/alice/hog.ipynb").returncode == 0
    assert re.search("culling server alice", culled.stdout + culled.stderr, re.IGNORECASE), (
        culled.stdout[-2000:] + culled.stderr[-2000:]
    )


def test_a_teacher_update_reaches_a_student_at_the_next_login(hub: Hub) -> None:
    """The teacher updates the course (as a new run of the playbook does, in
    /opt/atlasod/course); at bob's next login a new file arrives, a file he left alone is
    updated, one he edited is kept with the teacher's version beside it as .new."""
    if "bob" in running_servers(hub):
        pytest.fail("bob's server is running: the culling test above must run first")
    mine, untouched = "analyses/hyy/analysis.yaml", "analyses/z/analysis.yaml"
    home = "/home/bob/atlas-opendata"
    update = "# an update from the teacher"
    edits = [
        in_hub(hub, f"echo '# my note' >> {home}/{mine}", user="bob"),
        *(
            in_hub(hub, f"echo '{update}' >> /opt/atlasod/course/{name}")
            for name in (mine, untouched)
        ),
        in_hub(hub, "echo 'Exercise 2' > /opt/atlasod/course/notebooks/exercise-2.md"),
    ]
    assert all(edit.returncode == 0 for edit in edits), edits

    result = browse(hub, "login", f"--student=bob:{STUDENTS['bob']}")
    assert result["url"].startswith(f"{hub.url}/user/bob/")
    assert in_hub(hub, f"cat {home}/notebooks/exercise-2.md").stdout == "Exercise 2\n"
    assert in_hub(hub, f"stat -c %U {home}/notebooks/exercise-2.md").stdout.strip() == "bob"
    assert in_hub(hub, f"tail -1 {home}/{untouched}").stdout.strip() == update
    assert in_hub(hub, f"tail -1 {home}/{mine}").stdout.strip() == "# my note"
    assert in_hub(hub, f"tail -1 {home}/{mine}.new").stdout.strip() == update


def test_a_real_certificate_replaces_the_self_signed_one(hub: Hub, tmp_path: Path) -> None:
    """classhub_tls_cert/classhub_tls_key: a key other users can read is refused before
    anything changes; once it is root's alone the hub serves that certificate (signed here
    by a test CA).  Runs last: the hub restarts."""
    ca, cert, key = tmp_path / "ca.crt", tmp_path / "hub.crt", tmp_path / "hub.key"
    openssl = ["openssl", "req", "-nodes", "-newkey", "rsa:2048", "-days", "2"]
    run = partial(subprocess.run, check=True, capture_output=True)
    run([*openssl, "-x509", "-subj", "/CN=Test class CA", "-keyout", tmp_path / "ca.key",
         "-out", ca])  # fmt: skip
    run([*openssl, "-subj", "/CN=localhost", "-keyout", key, "-out", tmp_path / "hub.csr"])
    san = tmp_path / "san.ext"
    san.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    sign = ["openssl", "x509", "-req", "-in", tmp_path / "hub.csr", "-days", "2"]
    run([*sign, "-CA", ca, "-CAkey", tmp_path / "ca.key", "-CAcreateserial", "-extfile", san,
         "-out", cert])  # fmt: skip
    in_hub(hub, "mkdir -p /etc/ssl/classhub")
    for name in (cert, key):
        podman("cp", str(name), f"{hub.container}:/etc/ssl/classhub/{name.name}")
    in_hub(hub, "chown root:root /etc/ssl/classhub/* && chmod 644 /etc/ssl/classhub/*")
    real = {
        "classhub_tls_cert": "/etc/ssl/classhub/hub.crt",
        "classhub_tls_key": "/etc/ssl/classhub/hub.key",
    }
    python = tool_from_environment("ATLASOD_DEPLOY_PYTHON", "the Python of .venv-deploy")
    again = partial(classhub.apply_playbook, python, Path(hub.inventory), hub.container)
    with pytest.raises(RuntimeError) as refused:
        again(ARTIFACTS / "playbook-cert-refused.log", real)
    assert "no user but root may read the key (chmod 600 /etc/ssl/classhub/hub.key)" in str(
        refused.value
    )
    assert not classhub.answers(f"{hub.url}/hub/api/", cafile=ca)  # still the self-signed one

    in_hub(hub, "chmod 600 /etc/ssl/classhub/hub.key")
    recap = again(ARTIFACTS / "playbook-cert.log", real)
    assert re.search(r"failed=0 ", recap), recap
    wait_for(lambda: classhub.answers(f"{hub.url}/hub/api/", cafile=ca), 60, "the hub (real cert)")
    served = ssl.get_server_certificate(("127.0.0.1", int(hub.url.rsplit(":", 1)[1])))
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(cert.read_text())
