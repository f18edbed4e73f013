"""Why a workflow failed, in one place at the end of the terminal output.

Snakemake reports a failed job as ``Error in rule fetch: message: None … log: FILE``;
the sentence that says what went wrong and what to do is in that log file, written by
the job's ``atlasod --log FILE`` call.  The Snakefile's ``onerror:`` handler calls
:func:`summary` with the path of Snakemake's own log, and prints the ``ERROR`` message of
each failed job's log beneath the rule's name.

Standard library only: the Snakefile imports it (also in REANA's engine).
"""

from __future__ import annotations

import re
from pathlib import Path

# "Error in rule fetch:" (Snakemake 7 and 9), then an indented block of "key: value" lines.
_ERROR_IN_RULE = re.compile(r"^Error in rule (?P<rule>[\w-]+):\s*$")
_LOG_LINE = re.compile(r"^\s+log: (?P<paths>.+?)(?: \(check log file\(s\) for error details\))?$")
_TIMESTAMPED = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} ")
_ERROR_RECORD = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} ERROR [\w.]+: ")
MAX_JOBS = 10  # a hundred failed chunk jobs usually share a reason: show the first few


def failed_jobs(snakemake_log: str) -> list[tuple[str, list[Path]]]:
    """(rule, log files) of every ``Error in rule`` block of a Snakemake log's text."""
    jobs: list[tuple[str, list[Path]]] = []
    rule: str | None = None
    for line in snakemake_log.splitlines():
        match = _ERROR_IN_RULE.match(line)
        if match:
            rule = match["rule"]
            jobs.append((rule, []))
            continue
        if rule is None:
            continue
        if not line.startswith((" ", "\t")):
            rule = None
            continue
        match = _LOG_LINE.match(line)
        if match:
            jobs[-1][1].extend(Path(p.strip()) for p in match["paths"].split(","))
    return jobs


def error_messages(log_file: Path) -> list[str]:
    """The ``ERROR`` records of one job's log (with their continuation lines)."""
    try:
        text = log_file.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    messages: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if _ERROR_RECORD.match(line):
            current = [_ERROR_RECORD.sub("", line)]
            messages.append("")
        elif _TIMESTAMPED.match(line):
            current = None
            continue
        elif current is not None:
            current.append(line)
        else:
            continue
        messages[-1] = "\n".join(current)
    return messages


def summary(snakemake_log: Path | str | list[str] | None) -> list[str]:
    """Lines to print: for each failed job, its rule and the reason its log gives.

    ``snakemake_log``: the ``log`` of ``onerror:`` (a path in Snakemake 7, a list of paths
    in Snakemake 9)."""
    paths = [snakemake_log] if isinstance(snakemake_log, (str, Path)) else snakemake_log or []
    text = ""
    for path in paths:
        try:
            text += Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    jobs = failed_jobs(text)
    lines: list[str] = []
    seen: set[str] = set()
    for rule, logs in jobs[:MAX_JOBS]:
        reasons = [m for path in logs for m in error_messages(path)]
        for reason in reasons or ["(no error message in its log: see the log file)"]:
            key = f"{rule}\0{reason}"
            if key in seen:
                continue
            seen.add(key)
            where = f" (log: {', '.join(str(p) for p in logs)})" if logs else ""
            lines.append(f"rule {rule} failed{where}:")
            lines.extend(f"    {part}" for part in reason.splitlines())
    if len(jobs) > MAX_JOBS:
        where = ", ".join(str(p) for p in paths)
        lines.append(f"... and {len(jobs) - MAX_JOBS} more failed jobs (see {where})")
    return lines
