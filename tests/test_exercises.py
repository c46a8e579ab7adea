"""Exercises are real: a blank to fill, a check that says what is wrong, the solution in nbgrader's format.

Checked on every notebook: its exercise section imports its check module, every solution cell is followed by a
locked check cell that calls that module, the learner's version made by nbgrader's ClearSolutions keeps each blank
(so the check, not a NameError, answers), and every check fails with a hint on a blank answer.
"""

import ast
import importlib
import inspect
import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from sdgan_course.exercises import ExerciseError
from sdgan_course.exercises.solutions import BEGIN, END, solution_source
from sdgan_course.exercises.student import CODE_STUB, make_student_notebooks, student_version

ROOT = Path(__file__).resolve().parent.parent
PATHS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MIN_EXERCISES = 3  # checked exercises per notebook (issue: 3-6, plus open experiments)


def nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def module_for(path: Path):
    return importlib.import_module(f"sdgan_course.exercises.nb{path.name[:2]}")


def top_level_names(source: str) -> set[str]:
    """Names a cell binds at top level (assignments, functions, classes)."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                names |= {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
    return names


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_exercises_are_checked_by_the_notebooks_module(path):
    nb = nbformat.read(path, as_version=4)
    module = module_for(path)
    assert module.NOTEBOOK == path.stem
    import_line = f"from sdgan_course.exercises import nb{path.name[:2]} as ex"
    assert any(import_line in c.source for c in nb.cells if c.cell_type == "code"), f"{path.name}: no `{import_line}`"
    ids = [nbgrader(c)["grade_id"] for c in nb.cells if nbgrader(c)]
    assert len(ids) == len(set(ids)), f"{path.name}: nbgrader grade_ids must be unique: {ids}"
    solutions = [i for i, c in enumerate(nb.cells) if nbgrader(c).get("solution")]
    assert len(solutions) >= MIN_EXERCISES, f"{path.name}: {len(solutions)} exercises, at least {MIN_EXERCISES} wanted"
    used = set()
    for i in solutions:
        cell, check = nb.cells[i], nb.cells[i + 1]
        assert cell.cell_type == "code" and BEGIN in cell.source and END in cell.source, (
            f"{path.name}: solution cell {i} has no {BEGIN} ... {END} region")
        meta = nbgrader(check)
        assert meta.get("grade") and meta.get("locked") and meta.get("points"), (
            f"{path.name}: cell {i + 1} after an exercise should be a locked, graded check cell")
        calls = set(re.findall(r"\bex\.(check_\w+)\(", check.source))
        assert calls, f"{path.name}: check cell {i + 1} does not call an ex.check_... function"
        for name in calls:
            assert callable(getattr(module, name, None)), f"{module.__name__} has no {name}"
        used |= calls
    defined = {n for n, f in inspect.getmembers(module, inspect.isfunction)
               if n.startswith("check_") and f.__module__ == module.__name__}
    assert defined == used, f"{module.__name__}: checks no notebook cell calls: {defined - used}"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_the_learners_version_keeps_every_blank_and_no_solution(path):
    nb = nbformat.read(path, as_version=4)
    blank = student_version(nb)
    assert len(blank.cells) == len(nb.cells)
    for full, learner in zip(nb.cells, blank.cells, strict=True):
        assert BEGIN not in learner.source and END not in learner.source
        if learner.cell_type == "code":
            assert not learner.outputs, "the learner's version must not show our outputs (they hold the answers)"
            ast.parse(learner.source)  # still valid Python
        if not nbgrader(full).get("solution"):
            assert learner.source == full.source, "only solution regions change"
            continue
        assert CODE_STUB in learner.source
        solution_lines = solution_source(path.stem, nbgrader(full)["grade_id"]).strip().splitlines()
        assert not any(line.strip() and line.strip() in learner.source.splitlines() for line in solution_lines
                       if line.strip() not in {"return", "pass"}), "a line of the solution survived"
        missing = top_level_names(full.source) - top_level_names(learner.source)
        assert not missing, (f"{path.name}: the blank no longer defines {missing}, so its check would stop at a "
                             "NameError: write `name = ...` above the solution region (or keep the `def` line)")


def all_checks():
    for path in PATHS:
        try:
            module = module_for(path)
        except ModuleNotFoundError:  # test_exercises_are_checked_by_the_notebooks_module reports it
            continue
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("check_") and function.__module__ == module.__name__:
                yield pytest.param(function, id=f"{path.name[:2]}.{name}")


@pytest.mark.parametrize("check", list(all_checks()))
def test_every_check_says_what_is_missing_on_a_blank(check):
    """A learner who runs the check before filling in gets 'not filled in' and the hint, never a TypeError."""
    blanks = [...] * len(inspect.signature(check).parameters)
    with pytest.raises(ExerciseError) as err:
        check(*blanks)
    assert err.value.hint, f"{check.__name__}: no hint"
    assert "`...`" in err.value.problem or "not" in err.value.problem


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_show_prints_each_solution(path, capsys):
    module = module_for(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            module.show(grade_id)
            shown = capsys.readouterr().out
            shown_lines = [line.strip() for line in shown.splitlines()]
            assert all(line.strip() in shown_lines for line in solution_source(path.stem, grade_id).splitlines())
            assert BEGIN not in shown and END not in shown
    with pytest.raises(KeyError, match="has no exercise"):
        module.show("ex99")


def test_the_one_command_writes_every_learner_notebook(tmp_path):
    result = subprocess.run([sys.executable, "-m", "sdgan_course", "exercises", "--out", str(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.glob("*.ipynb")) == [p.name for p in PATHS]
    assert (tmp_path / "figures").is_dir()
    bad = subprocess.run([sys.executable, "-m", "sdgan_course", "exercises", "99", "--out", str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "No notebook '99'" in bad.stderr


def test_a_blank_and_its_check_give_the_hint_when_run_as_the_learner_does(tmp_path):
    """Notebook 08's exercises, blank and solved, run as cells: blanks fail with the hint, solutions pass."""
    import math

    import torch
    import torch.nn.functional as F

    from sdgan_course.exercises import nb08
    from sdgan_course.train.vae import load_shipped_autoencoder

    (written,) = make_student_notebooks(tmp_path, ["08"])
    env = dict(math=math, torch=torch, F=F, ex=nb08, AE=load_shipped_autoencoder().model)
    for path, should_pass in ((written, False), (ROOT / "notebooks" / written.name, True)):
        namespace = dict(env)
        for cell in nbformat.read(path, as_version=4).cells:
            if nbgrader(cell).get("solution"):
                exec(cell.source, namespace)
            elif nbgrader(cell).get("grade"):
                if should_pass:
                    exec(cell.source, namespace)
                else:
                    with pytest.raises(ExerciseError, match="Hint: "):
                        exec(cell.source, namespace)


def test_numbers_and_truth_values_are_accepted_as_tensors_and_numpy_scalars():
    import numpy as np
    import torch

    from sdgan_course.exercises import as_bool, as_number

    for value in (2, 2.0, torch.tensor(2), torch.tensor([2.0]), np.int64(2), np.float32(2.0)):
        assert as_number(value, "n", "hint") == 2.0
    for value in (True, torch.tensor(True), (torch.ones(3) <= 2).all(), np.bool_(True)):
        assert as_bool(value, "ok", "hint") is True
    with pytest.raises(ExerciseError, match="one number"):
        as_number(torch.ones(3), "n", "hint")
    with pytest.raises(ExerciseError, match="truth value"):
        as_number(True, "n", "hint")
    with pytest.raises(ExerciseError, match="should be a number, got str"):
        as_number("0.775", "n", "hint")
    with pytest.raises(ExerciseError, match=r"\.all\(\)"):
        as_bool(torch.ones(3) > 0, "ok", "hint")
    with pytest.raises(ExerciseError, match="True or False"):
        as_bool(1, "ok", "hint")


def test_a_failed_check_shows_its_message_alone_in_jupyter():
    """IPython shows ``_render_traceback_`` instead of the traceback (the check's own code)."""
    error = ExerciseError("`x` is 3; that is not the answer.", "add one.")
    assert error._render_traceback_() == ["Not yet: `x` is 3; that is not the answer.", "Hint: add one."]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_what_show_prints_can_be_pasted_as_a_cell(path, capsys):
    """The shown solution is the whole cell, indentation kept: pasting it never gives 'return outside function'."""
    module = module_for(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            module.show(meta["grade_id"])
            shown = capsys.readouterr().out.split("\n", 2)[2]  # after the heading and the blank line
            ast.parse(shown)
