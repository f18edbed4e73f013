"""The package's imports run one way: no module imports one that imports it back."""

import ast
from pathlib import Path

from .conftest import REPO

PACKAGE = REPO / "src" / "atlasod"


def _imports(path: Path, modules: set[str]) -> set[str]:
    """Modules of the package imported anywhere in ``path`` (in functions too), except
    under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(m)
        for n in ast.walk(tree)
        if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING"
        for m in ast.walk(n)
    }
    deps: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "atlasod":
            deps |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("atlasod."):
            deps.add(node.module.split(".")[1])  # type: ignore[union-attr]
        elif isinstance(node, ast.Import):
            deps |= {a.name.split(".")[1] for a in node.names if a.name.startswith("atlasod.")}
    return deps - {path.stem}


def test_no_import_cycle_in_the_package() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")} | {
        p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()
    }
    graph = {p.stem: _imports(p, modules) for p in PACKAGE.glob("*.py")}
    assert graph["analysis"] and graph["demo"]  # the scan sees imports at all
    cycles = []

    def visit(module: str, path: list[str], done: set[str]) -> None:
        for dep in sorted(graph.get(module, ())):
            if dep in path:
                cycles.append([*path[path.index(dep) :], dep])
            elif dep not in done:
                visit(dep, [*path, dep], done)
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        if module not in done:
            visit(module, [module], done)
    assert cycles == []
