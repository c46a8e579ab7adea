"""The learner's versions of the notebooks: solutions cleared by nbgrader's own preprocessors, outputs removed.

``python -m sdgan_course exercises --out student`` writes one per notebook. nbgrader's ``ClearSolutions`` replaces each
region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` with ``# YOUR CODE HERE``: the learner's cell keeps
its blank (``answer = ...``, or a function with its docstring), so the check cell after it says what is missing
instead of failing with a bare ``NotImplementedError``. ``ClearOutput`` removes the stored outputs (they would show
the answers). The nbgrader metadata stays, so a teacher can grade the versions with nbgrader as it is.

nbgrader is not a requirement of the course: ``pip install -e ".[teach]"`` (or ``".[dev]"``) brings it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

from .solutions import BEGIN, END, NOTEBOOKS_DIR

CODE_STUB = "# YOUR CODE HERE"


def _preprocessors():
    try:
        from nbgrader.preprocessors import ClearOutput, ClearSolutions
    except ImportError as err:
        raise ImportError(
            "Making the learner's notebooks uses nbgrader's preprocessors, and nbgrader is not installed: "
            "run  pip install -e \".[teach]\"  in the course folder (or  pip install nbgrader).") from err
    return [ClearSolutions(code_stub={"python": CODE_STUB}, text_stub="YOUR ANSWER HERE"), ClearOutput()]


def student_version(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``notebook`` with every solution region replaced by ``# YOUR CODE HERE`` and no outputs."""
    notebook = copy.deepcopy(notebook)
    resources: dict = {}
    for preprocessor in _preprocessors():
        notebook, resources = preprocessor.preprocess(notebook, resources)
    for cell in notebook.cells:  # nothing of a solution may survive, in any cell
        if BEGIN in cell.source or END in cell.source:
            raise ValueError("a solution marker is left in a cell that is not marked as an nbgrader solution cell: "
                             f"{cell.source[:200]!r}")
    notebook.metadata.pop("sdgan_course", None)  # the rendering record describes the outputs just removed
    return notebook


def make_student_notebooks(out_dir: Path, stems: list[str] | None = None,
                           notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """Write the learner's version of each notebook (all, or the ``stems`` given) into ``out_dir``."""
    paths = sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb"))
    if stems:
        known = {p.stem: p for p in paths}
        chosen = []
        for stem in stems:
            matches = [p for name, p in known.items() if name == stem or name.startswith(f"{stem}_")]
            if not matches:
                raise ValueError(f"No notebook {stem!r}: give a number (08) or a name ({', '.join(known)}).")
            chosen += matches
        paths = chosen
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        target = out_dir / path.name
        try:
            learner = student_version(nbformat.read(path, as_version=4))
        except RuntimeError as err:  # nbgrader's words for a broken solution region (no END, nested BEGIN)
            raise ValueError(f"{path.name}: {err}; every '{BEGIN}' needs its '{END}' in the same cell.") from err
        nbformat.write(learner, target)
        written.append(target)
    figures = notebooks_dir / "figures"  # the notebooks' markdown shows images from figures/
    if figures.is_dir():
        import shutil

        shutil.copytree(figures, out_dir / "figures", dirs_exist_ok=True)
    return written
