"""Write ``notebooks/<name>.ipynb`` from the jupytext source ``notebooks/<name>.py`` (made by
``atlasod notebook``), so that students find notebooks where they expect them.

    python tools/sync_notebooks.py      # needs jupytext (the test extra); a test keeps them in sync

The ``.ipynb`` files hold no outputs: they are the ``.py`` files' cells, nothing more.
"""

from __future__ import annotations

import logging
from pathlib import Path

import jupytext

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LOG = logging.getLogger("sync_notebooks")


def ipynb_text(source: Path) -> str:
    """The ``.ipynb`` text of a jupytext percent-format source; cell ids from the cells'
    positions (jupytext draws random ones), so that the same source gives the same file."""
    notebook = jupytext.read(source)
    for number, cell in enumerate(notebook.cells):
        cell.id = f"{source.stem}-{number:02d}"
    return jupytext.writes(notebook, fmt="ipynb")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for source in sorted(NOTEBOOKS.glob("*.py")):
        target = source.with_suffix(".ipynb")
        text = ipynb_text(source)
        if not target.is_file() or target.read_text("utf-8") != text:
            target.write_text(text, encoding="utf-8")
            LOG.info("wrote %s", target)


if __name__ == "__main__":
    main()
