"""Capacity of the class hub (deploy/ansible) on this machine: the memory of the hub and of
N idle student servers, and the time until N students who start the H → γγ notebook at
once see its plot, for each N of ``--students``.

    python benchmarks/bench_classhub.py [--students 1 2 4 8] [--mem-limit 2G]
        [--cpu-limit 1.0] [--hub RECORD]

Needs root, podman, Debian's chromium and .venv-deploy (`make deploy-env`).  A fresh hub
machine is made as tests/test_classhub.py makes it (a Debian 12 systemd container, the
playbook applied), with accounts from a class list; or ``--hub`` reuses one kept by the
test (ATLASOD_KEEP_CLASSHUB=RECORD; the benchmark's students s01, s02, ... are added to it).
For each N: every server is stopped, N students log in at once (Chromium pages; a first
login includes making the account and copying the course), their servers' memory is read
when idle (systemd's MemoryCurrent of each student's unit), then all N run the notebook at
once; the seconds until each sees its plot and the peak memory of a server (the cgroup's
maximum, since the server started) are printed.  One run, one line per N; the numbers
move with the machine's load.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.classhub import hub as classhub  # noqa: E402

LOG = logging.getLogger("bench")
DEPLOY_PYTHON = str(REPO / ".venv-deploy" / "bin" / "python")
ARTIFACTS = REPO / "benchmarks" / ".cache" / "classhub"
NOTEBOOK = "atlas-opendata/notebooks/hyy.ipynb"


def students(n: int) -> dict[str, str]:
    return {f"s{i:02d}": f"student-pw-{i:02d}x" for i in range(1, n + 1)}


def memory_mb(hub: classhub.Hub, unit: str, what: str = "current") -> float:
    """A unit's memory now, or its peak (cgroup v1 max_usage_in_bytes, v2 memory.peak)."""
    script = (
        f"systemctl show -p MemoryCurrent --value {unit}"
        if what == "current"
        else f"cg=$(systemctl show -p ControlGroup --value {unit});"
        f" cat /sys/fs/cgroup/memory$cg/memory.max_usage_in_bytes"
        f" /sys/fs/cgroup$cg/memory.peak 2>/dev/null | head -1"
    )
    value = classhub.in_hub(hub, script).stdout.strip()
    return int(value) / 2**20 if value.isdigit() else float("nan")


def stop_servers(hub: classhub.Hub) -> None:
    """Stop every student's server and wait until the hub has seen it (it polls its
    servers every 30 s; a student logging in before that would be sent to the dead one)."""
    users = classhub.running_servers(hub)
    since = classhub.in_hub(hub, "date +%s").stdout.strip()
    classhub.in_hub(hub, "systemctl stop 'jupyter-*-singleuser.service' || true")

    def seen() -> bool:
        log = classhub.in_hub(hub, f"journalctl -u jupyterhub --since @{since} -o cat").stdout
        return all(f"Removing user {u} from proxy" in log for u in users)

    classhub.wait_for(seen, 120, "the hub to see the stopped servers")


def add_students(hub: classhub.Hub, names: dict[str, str]) -> None:
    """On a reused hub: the benchmark's students added to the class list it imports."""
    listed = classhub.in_hub(hub, "cut -d, -f1 /etc/jupyterhub/accounts.csv").stdout.split()
    rows = "".join(f"{u},{p}\n" for u, p in names.items() if u not in listed)
    classhub.in_hub(hub, f"printf '{rows}' >> /etc/jupyterhub/accounts.csv")
    classhub.in_hub(hub, "systemctl restart jupyterhub")
    classhub.wait_for(lambda: classhub.answers(f"{hub.url}/hub/api/"), 60, "the hub")


def measure(hub: classhub.Hub, n: int) -> dict[str, float]:
    stop_servers(hub)
    specs = [f"--student={u}:{p}" for u, p in students(n).items()]
    notebook = f"--notebook={NOTEBOOK}"
    up = classhub.browse(hub, DEPLOY_PYTHON, ARTIFACTS, "crowd", *specs, notebook, "--phase=login")
    units = [f"jupyter-{u}-singleuser" for u in up]
    time.sleep(5)
    idle = [memory_mb(hub, unit) for unit in units]
    ran = classhub.browse(hub, DEPLOY_PYTHON, ARTIFACTS, "crowd", *specs, notebook, "--phase=run")
    return {
        "students": n,
        "hub_mb": memory_mb(hub, "jupyterhub"),
        "server_up_s_max": max(c["server_up_s"] for c in up.values()),
        "idle_mb_median": statistics.median(idle),
        "plot_s_median": statistics.median(c["plot_s"] for c in ran.values()),
        "plot_s_max": max(c["plot_s"] for c in ran.values()),
        "peak_mb_max": max(memory_mb(hub, unit, "peak") for unit in units),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--mem-limit", default="2G")
    parser.add_argument("--cpu-limit", default="1.0")
    parser.add_argument("--hub", type=Path, help="a hub record kept by the test")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if args.hub:
        hub, made = classhub.Hub.load(args.hub), False
        add_students(hub, students(max(args.students)))
    else:
        LOG.info("making a hub machine (the playbook, twice) ...")
        hub = classhub.start(
            Path(tempfile.mkdtemp(prefix="atlasod-bench-classhub-")),
            DEPLOY_PYTHON,
            ARTIFACTS,
            class_list=students(max(args.students)),
            settings={"classhub_mem_limit": args.mem_limit, "classhub_cpu_limit": args.cpu_limit},
        )
        made = True
    try:
        header = (
            f"{'students':>8} {'hub MB':>7} {'servers up s':>12} {'idle MB/server':>14}"
            f" {'plot s median':>13} {'plot s max':>10} {'peak MB/server':>14}"
        )
        LOG.info("%s", header)
        for n in args.students:
            row = measure(hub, n)
            LOG.info(
                "%8d %7.0f %12.1f %14.0f %13.1f %10.1f %14.0f",
                row["students"],
                row["hub_mb"],
                row["server_up_s_max"],
                row["idle_mb_median"],
                row["plot_s_median"],
                row["plot_s_max"],
                row["peak_mb_max"],
            )
    finally:
        if made:
            classhub.stop(hub, ARTIFACTS)


if __name__ == "__main__":
    main()
