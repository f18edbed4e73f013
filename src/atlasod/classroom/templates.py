"""The template gallery: analysis folders written as configuration only.

``atlasod new NAME --from TEMPLATE`` copies one into ``analyses/NAME``; the new folder is a
workflow target at once (``snakemake --cores 4 NAME --config source=demo``).
"""

from __future__ import annotations

import re
import shutil
from importlib import resources
from pathlib import Path

from atlasod.errors import AtlasodError

SOLUTIONS = "solutions.yaml"


def _root() -> Path:
    return Path(str(resources.files("atlasod").joinpath("templates")))


def available() -> list[str]:
    return sorted(p.parent.name for p in _root().glob("*/analysis.yaml"))


def template_releases(template: str) -> list[str]:
    """The releases a template runs on (its top level's, then its ``releases`` blocks)."""
    from atlasod.selection.analysis import analysis_releases

    return analysis_releases(_root() / template)


def create(
    name: str,
    template: str,
    analyses_dir: Path,
    without_solutions: bool = False,
    release: str | None = None,
) -> Path:
    """Copy ``template`` to ``analyses_dir/name`` and give it its name; ``release``: the
    release the teacher will run it on, which the template must support."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise AtlasodError(
            f"analysis name {name!r}: use lower-case letters, digits and '_', starting with a "
            "letter (it becomes a workflow target)"
        )
    if template not in available():
        raise AtlasodError(f"no template {template!r}; templates: {', '.join(available())}")
    if release is not None and release not in template_releases(template):
        raise AtlasodError(
            f"template {template} does not run on release {release} (it runs on "
            f"{', '.join(template_releases(template))}); templates on {release}: "
            + ", ".join(t for t in available() if release in template_releases(t))
        )
    target = analyses_dir / name
    if target.exists():
        raise AtlasodError(f"{target} already exists; choose another name")
    source = _root() / template
    ignore = shutil.ignore_patterns("__pycache__", *([SOLUTIONS] if without_solutions else []))
    shutil.copytree(source, target, ignore=ignore)
    config = target / "analysis.yaml"
    text = config.read_text("utf-8")
    text, n = re.subn(r"^name: .*$", f"name: {name}", text, count=1, flags=re.MULTILINE)
    if n != 1:
        raise AtlasodError(f"template {template} has no 'name:' line")
    config.write_text(text, encoding="utf-8")
    return target
