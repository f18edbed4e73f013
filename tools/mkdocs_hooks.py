"""mkdocs hooks (``hooks:`` in mkdocs.yml): the site's landing page is the README.

The README is written for the repository's top level (``docs/real-data.md``,
``docs/images/…``); as the site's ``index.md`` its links point into ``docs/`` instead.  There
is one text: no copy of the README is kept in ``docs/``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

README = Path(__file__).resolve().parents[1] / "README.md"


def landing_page(readme: str) -> str:
    """The README with its ``docs/…`` links relative to ``docs/``."""
    return re.sub(r"(\]\(|src=\")docs/", r"\1", readme)


def on_files(files: Files, config: Any) -> Files:
    if files.get_file_from_path("index.md") is None:
        content = landing_page(README.read_text(encoding="utf-8"))
        files.append(File.generated(config, "index.md", content=content))
    return files
