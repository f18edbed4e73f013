"""``python -m atlasod`` with a fault, for tests/test_faults.py (the workflow's ``atlasod``
config key names this module instead of the package).

``ATLASOD_FAULT=<step>`` kills the whole workflow with SIGKILL during the first call of
``<step>`` (process, merge, plot, ...), right after the step's first output file is
complete and before its next one: the worst moment for a step with several outputs.  The
test starts Snakemake in a session of its own, so killing the session kills Snakemake and
every job.  ``ATLASOD_FAULT_MARK`` is a file made at that moment, so that the rerun (same
environment) goes through untouched.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any


class _KillAfterFirstReplace:
    """Stands in for the ``os`` module inside ``atlasod.histio`` (its atomic writes)."""

    def __init__(self, mark: Path) -> None:
        self.mark = mark

    def replace(self, src: Any, dst: Any) -> None:
        os.replace(src, dst)
        self.mark.write_text(f"{dst}\n", encoding="utf-8")
        os.killpg(os.getsid(0), signal.SIGKILL)

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)


def main() -> None:
    from atlasod import cli, histio

    argv = sys.argv[1:]
    step = os.environ.get("ATLASOD_FAULT")
    mark = Path(os.environ.get("ATLASOD_FAULT_MARK", "fault.mark"))
    if step and step in argv and not mark.exists():
        histio.os = _KillAfterFirstReplace(mark)  # type: ignore[assignment]
    cli.main(argv)


if __name__ == "__main__":
    main()
