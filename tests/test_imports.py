"""The package's imports run one way, by stage: data at the bottom, then the selection, then
the results and the demo data, then the runs and the classroom, the command line on top.

No module imports one that imports it back, no subpackage imports one that imports it back,
and no module imports a stage above its own or beside it (``results`` and ``demo`` do not
import each other, nor do ``run`` and ``classroom``).  Imports under ``if TYPE_CHECKING:``
count too: a type from a stage above would be a dependency all the same.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import REPO

PACKAGE = REPO / "src" / "atlasod"
SHARED = "shared"  # the top-level modules every stage may use: errors, yamlio, histio, runlock
# Stages in order, bottom first; stages in one tuple are beside each other.
STAGES: tuple[tuple[str, ...], ...] = (
    (SHARED,),
    ("data",),
    ("selection",),
    ("results", "demo"),
    ("run", "classroom"),
    ("cli",),
)
RANK = {stage: rank for rank, level in enumerate(STAGES) for stage in level}


def modules_of(package: Path) -> dict[str, Path]:
    """Every module of the package by its dotted name below ``atlasod`` (``data.cache``);
    a subpackage's ``__init__`` by the subpackage's name."""
    out = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name or "__init__"] = path
    return out


def _resolve(target: str, names: set[str]) -> str:
    """The module ``atlasod.<target>`` names, or its nearest enclosing package."""
    while target and target not in names:
        target = target.rpartition(".")[0]
    return target


def imports_of(path: Path, names: set[str]) -> set[str]:
    """Modules of the package that ``path`` imports anywhere (in functions too)."""
    deps: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "atlasod" or node.module.startswith("atlasod."):
                base = node.module.removeprefix("atlasod").removeprefix(".")
                for alias in node.names:  # `from atlasod.data import plan` imports a module
                    full = f"{base}.{alias.name}" if base else alias.name
                    deps.add(full if full in names else _resolve(base, names))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("atlasod."):
                    deps.add(_resolve(alias.name.removeprefix("atlasod."), names))
    return deps - {""}


def import_graph(package: Path) -> dict[str, set[str]]:
    modules = modules_of(package)
    names = set(modules)
    return {name: imports_of(path, names) - {name} for name, path in modules.items()}


def stage_of(module: str) -> str:
    head = module.split(".", maxsplit=1)[0]
    if head in RANK:
        return head
    return "cli" if head in {"cli", "__main__"} else SHARED


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found: list[list[str]] = []
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        for dep in sorted(graph.get(node, ())):
            if dep in path:
                found.append([*path[path.index(dep) :], dep])
            elif dep not in done:
                visit(dep, [*path, dep])
        done.add(node)

    for node in sorted(graph):
        if node not in done:
            visit(node, [node])
    return found


def subpackage_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for module, deps in graph.items():
        out.setdefault(stage_of(module), set()).update(stage_of(d) for d in deps)
    return {stage: deps - {stage} for stage, deps in out.items()}


def against_the_order(graph: dict[str, set[str]]) -> list[str]:
    """``module -> imported`` for every import of a stage above or beside the module's."""
    wrong = []
    for module, deps in sorted(graph.items()):
        for dep in sorted(deps):
            mine, theirs = stage_of(module), stage_of(dep)
            if theirs != mine and RANK[theirs] >= RANK[mine]:
                wrong.append(f"{module} ({mine}) imports {dep} ({theirs})")
    return wrong


def test_the_scan_sees_the_package_and_its_imports() -> None:
    graph = import_graph(PACKAGE)
    assert {"data.catalogue", "selection.chunk", "results.fitting", "demo.generate"} <= set(graph)
    assert "data.catalogue" in graph["selection.analysis"]
    assert "data.plan" in graph["demo.generate"]  # `from atlasod.data import plan`
    assert "selection.analysis" in graph["results.merging"]  # under TYPE_CHECKING
    assert {stage_of(m) for m in graph} == set(RANK)  # every stage has modules, no stray one


def test_no_import_cycle_between_modules() -> None:
    assert cycles(import_graph(PACKAGE)) == []


def test_no_import_cycle_between_subpackages() -> None:
    assert cycles(subpackage_graph(import_graph(PACKAGE))) == []


def test_every_import_follows_the_stages_order() -> None:
    assert against_the_order(import_graph(PACKAGE)) == []


def test_few_top_level_modules_and_every_subpackage_says_what_it_owns() -> None:
    top = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert len(top) <= 8, top
    for stage in RANK.keys() - {SHARED, "cli"}:
        doc = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text()))
        assert doc and "Owns" in doc and "imports nothing of" in doc.replace("\n", " "), stage


def test_a_wrong_import_fails_the_checks(tmp_path: Path) -> None:
    """The checks catch what they are for: data importing the results (against the order,
    and a cycle between subpackages, since the results import the data), and a module
    importing one that imports it back."""
    copy = tmp_path / "atlasod"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    cache = copy / "data" / "cache.py"
    cache.write_text(
        cache.read_text() + "\n\ndef _late() -> None:\n    from atlasod.results import merging\n"
    )
    graph = import_graph(copy)
    assert "data.cache (data) imports results.merging (results)" in against_the_order(graph)
    assert any({"data", "results"} <= set(c) for c in cycles(subpackage_graph(graph)))

    beside = copy / "demo" / "models.py"
    beside.write_text(beside.read_text() + "\nfrom atlasod.results.yields import write_yields\n")
    assert "demo.models (demo) imports results.yields (results)" in against_the_order(
        import_graph(copy)
    )

    catalogue = copy / "data" / "catalogue.py"
    assert "data.catalogue" in import_graph(copy)["data.fetch"]
    catalogue.write_text(catalogue.read_text() + "\nfrom atlasod.data.fetch import fetch_file\n")
    found = cycles(import_graph(copy))
    assert any({"data.catalogue", "data.fetch"} <= set(c) for c in found), found


# The Snakefile plans a run where the package's heavy dependencies are not installed
# (reana-client validate parses it with only Snakemake 7 and PyYAML), so what
# workflows/rules/common.smk imports from atlasod must not pull in any of these.
HEAVY = ("numpy", "awkward", "vector", "uproot", "hist", "matplotlib", "iminuit")


def test_the_snakefiles_imports_from_the_package_are_light() -> None:
    common = (REPO / "workflows" / "rules" / "common.smk").read_text(encoding="utf-8")
    imports = re.findall(r"^from atlasod[\w.]* import (?:\([^)]*\)|[^\n]*)", common, re.M)
    assert len(imports) >= 5, imports  # the scan sees them
    code = "\n".join(
        [
            "import sys",
            f"sys.path.insert(0, {str(REPO / 'src')!r})",
            *imports,
            f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))",
        ]
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"common.smk's imports pull in {out.stdout.strip()}"
