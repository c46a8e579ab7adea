"""What every notebook builder shares: collect markdown and code cells, then write the notebook.

A builder script (``tools/build_notebooks/NN_name.py``) does::

    from notebook_builder import NotebookBuilder, colab_setup_source

    nb = NotebookBuilder("05_training_a_gan")
    md, code = nb.md, nb.code
    md(r\"\"\"# 05 · ...\"\"\")
    code(colab_setup_source() + r'''...''')
    nb.write()

then ``python tools/render_notebooks.py notebooks/05_training_a_gan.ipynb`` executes it and stores the outputs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]
for folder in (ROOT, ROOT / "tools"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from sdgan_course.course import colab_setup_source  # noqa: E402

__all__ = ["ROOT", "NotebookBuilder", "colab_setup_source"]


class NotebookBuilder:
    """Cells in order; :meth:`write` saves ``notebooks/<stem>.ipynb`` with a Python 3 kernelspec."""

    def __init__(self, stem: str):
        self.stem = stem
        self.cells = []

    def md(self, text: str) -> None:
        self.cells.append(new_markdown_cell(text.strip("\n")))

    def code(self, text: str) -> None:
        self.cells.append(new_code_cell(text.strip("\n")))

    def write(self) -> Path:
        nb = new_notebook(cells=self.cells)
        nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
        nb.metadata["language_info"] = {"name": "python"}
        path = ROOT / "notebooks" / f"{self.stem}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        print(f"wrote {path}")
        return path
