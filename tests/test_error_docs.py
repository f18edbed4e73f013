"""docs/errors.md cannot drift: every quoted message is asserted by the test named beside it."""

import ast
import re

from .conftest import REPO

DOC = REPO / "docs" / "errors.md"
ROW = re.compile(r"^\| (?P<n>\d+) \| (?P<what>.+?) \| (?P<seen>.+) \| `(?P<test>[^`]+)` \|$")


def rows() -> list[dict[str, str]]:
    return [m.groupdict() for line in DOC.read_text().splitlines() if (m := ROW.match(line))]


def strings_of_test(test: str) -> list[str]:
    """Every string constant of the test function (its decorators too), regex escapes
    removed: adjacent literals are already joined by the parser."""
    path, _, name = test.partition("::")
    tree = ast.parse((REPO / path).read_text())
    func = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)
    assert func is not None, f"{test} does not exist"
    return [
        node.value.replace("\\", "")
        for node in ast.walk(func)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_every_documented_message_is_asserted_by_its_test() -> None:
    found = rows()
    assert [int(r["n"]) for r in found] == list(range(1, len(found) + 1))
    checked = 0
    for row in found:
        strings = strings_of_test(row["test"])
        quoted = [q.replace("\\|", "|") for q in re.findall(r"`([^`]+)`", row["seen"])]
        for text in quoted:
            if text in ("fit.json", ".part"):  # file names, not messages
                continue
            assert any(text in s for s in strings), (row["n"], text, row["test"])
            checked += 1
    assert len(found) >= 25
    assert checked >= 25


def test_every_fault_test_is_documented() -> None:
    documented = {r["test"] for r in rows()}
    tree = ast.parse((REPO / "tests" / "test_faults.py").read_text())
    tests = {
        f"tests/test_faults.py::{n.name}"
        for n in tree.body
        if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
    }
    assert tests <= documented, tests - documented
