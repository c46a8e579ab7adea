"""Exercises the learner does: a blank to fill, a check that says what is wrong and hints, and a "show me" escape.

Each notebook's exercise section starts with ``from sdgan_course.exercises import nbNN as ex``. An exercise is three
cells: the learner's cell (``answer = ...`` or a function to write; the solution sits in it in nbgrader's format,
between ``### BEGIN SOLUTION`` and ``### END SOLUTION``), then ``ex.check_...(answer)``, which raises an
:class:`ExerciseError` that says *what* is wrong and gives a hint, or prints what the right answer shows. Stuck:
``ex.show("ex1")`` prints our solution (read from the notebook with solutions, the one in ``notebooks/``).

The learner's versions, with the solutions cleared by nbgrader's own ``ClearSolutions``, come from one command:
``python -m sdgan_course exercises --out student`` (see :mod:`sdgan_course.exercises.student`).
"""

from .checks import ExerciseError, as_bool, as_number, call, close, expect, given, mistake, passed

__all__ = ["ExerciseError", "as_bool", "as_number", "call", "close", "expect", "given", "mistake", "passed"]
