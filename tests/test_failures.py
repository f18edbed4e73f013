"""The reasons of failed jobs, repeated at the end of the terminal output (onerror)."""

from pathlib import Path

from atlasod.run.failures import summary


def _job_log(path: Path, message: str) -> Path:
    path.write_text(
        "2026-11-27 10:00:00,000 INFO atlasod.selection.chunk: reading\n"
        f"2026-11-27 10:00:01,000 ERROR atlasod: {message}\n"
        "  second line of the message\n"
    )
    return path


def test_each_failed_rule_with_the_error_of_its_log(tmp_path: Path) -> None:
    one = _job_log(tmp_path / "a.log", "input file x does not exist")
    two = _job_log(tmp_path / "b.log", "input file x does not exist")
    three = _job_log(tmp_path / "c.log", "only 3 events in the fit range")
    smk = tmp_path / "snakemake.log"
    smk.write_text(
        "Error in rule process_chunk:\n    message: None\n    jobid: 3\n"
        f"    log: {one} (check log file(s) for error details)\n"
        "Error in rule process_chunk:\n    jobid: 4\n"
        f"    log: {two} (check log file(s) for error details)\n"
        "Shutting down, this might take some time.\n"
        f"Error in rule fit:\n    log: {three}\n"
    )
    expected = [
        f"rule process_chunk failed (log: {one}):",
        "    input file x does not exist",
        "      second line of the message",
        f"rule fit failed (log: {three}):",
        "    only 3 events in the fit range",
        "      second line of the message",
    ]
    assert summary(str(smk)) == expected  # Snakemake 7: a path
    assert summary([str(smk)]) == expected  # Snakemake 9: a list of paths


def test_no_log_no_lines(tmp_path: Path) -> None:
    assert summary(None) == []
    assert summary(str(tmp_path / "missing.log")) == []
