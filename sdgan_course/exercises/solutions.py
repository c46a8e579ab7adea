"""The "show me" escape for self-study: print an exercise's solution from the notebook with solutions.

The solutions live only in the course's notebooks (``notebooks/NN_*.ipynb``, nbgrader's format); the learner's
versions made by ``python -m sdgan_course exercises`` have them cleared. ``show`` reads the solution cell of the
exercise (its nbgrader ``grade_id``) from the notebook beside the library, so one source serves both.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent.parent / "notebooks"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def solution_cells(notebook: dict) -> dict[str, str]:
    """``grade_id`` -> source of every nbgrader solution cell of a notebook (its JSON as a dict)."""
    cells = {}
    for cell in notebook["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and cell["cell_type"] == "code":
            source = cell["source"]
            cells[meta["grade_id"]] = source if isinstance(source, str) else "".join(source)
    return cells


def solution_source(stem: str, exercise: str, notebooks_dir: Path = NOTEBOOKS_DIR) -> str:
    """What goes in place of ``# YOUR CODE HERE`` in ``exercise`` (for example ``"ex1"``) of notebook ``stem``: the
    lines between the solution markers, dedented."""
    path = notebooks_dir / f"{stem}.ipynb"
    if not path.is_file():
        raise FileNotFoundError(
            f"The notebook with solutions, {path}, is not here (the library was installed without the course's "
            "notebooks/ folder). Open the notebook of the same name in the course repository to read the solution.")
    cells = solution_cells(json.loads(path.read_text(encoding="utf-8")))
    if exercise not in cells:
        raise KeyError(f"{stem} has no exercise {exercise!r}; its exercises are {', '.join(sorted(cells))}.")
    lines, inside = [], False
    for line in cells[exercise].splitlines():
        if BEGIN in line or END in line:
            inside = BEGIN in line
            continue
        if inside:
            lines.append(line)
    return textwrap.dedent("\n".join(lines))


def solution_cell(stem: str, exercise: str, notebooks_dir: Path = NOTEBOOKS_DIR) -> str:
    """The whole cell of ``exercise`` with our solution in place (the markers removed, every indentation kept), so
    that it can be pasted over the learner's cell as it is: a function body stays inside its ``def``."""
    solution_source(stem, exercise, notebooks_dir)  # the clear errors for a missing notebook or exercise
    path = notebooks_dir / f"{stem}.ipynb"
    source = solution_cells(json.loads(path.read_text(encoding="utf-8")))[exercise]
    return "\n".join(line for line in source.splitlines() if BEGIN not in line and END not in line)


def show(stem: str, exercise: str) -> None:
    """Print the solution of ``exercise`` of notebook ``stem`` (try first: the check's hint is often enough)."""
    print(f"Our solution to {exercise} of {stem}: the whole cell, ready to paste over yours.\n")
    print(solution_cell(stem, exercise))
