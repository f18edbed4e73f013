"""YAML reading with libyaml's loader when PyYAML has it (5-10× faster than the pure-Python
one): analysis folders, schemas and the catalogue are read by every job and Dask task."""

from __future__ import annotations

from typing import Any

import yaml

YAMLError = yaml.YAMLError


def _loader() -> type:
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` with the C loader when available (same results, safe tags only)."""
    return yaml.load(text, Loader=_loader())


def compose_yaml(text: str) -> yaml.Node | None:
    """The node tree of a document (with positions), by the same loader."""
    return yaml.compose(text, Loader=_loader())
