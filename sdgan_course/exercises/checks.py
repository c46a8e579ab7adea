"""The building blocks of every exercise check: a blank noticed, a wrong answer explained, a right one confirmed.

A check never ends in a bare ``AssertionError``: it raises :class:`ExerciseError` with two parts, what is wrong
(``kl_by_hand is 2.09; that is not KL(N(1, 4) || N(0, 1))``) and a hint. It subclasses ``AssertionError`` so that
nbgrader's autograder and pytest count it as a failed check.
"""

from __future__ import annotations

import contextlib
import math
import textwrap
from collections.abc import Callable
from typing import Any

import torch


class ExerciseError(AssertionError):
    """An exercise check that did not pass: what is wrong, then a hint."""

    def __init__(self, problem: str, hint: str = ""):
        self.problem, self.hint = problem, hint
        super().__init__(problem + (f"\nHint: {hint}" if hint else ""))

    def _render_traceback_(self) -> list[str]:
        """What IPython and Jupyter show instead of a traceback: the message alone, not the check's own code."""
        lines = textwrap.wrap(f"Not yet: {self.problem}", width=110, break_long_words=False, break_on_hyphens=False)
        if self.hint:
            lines += textwrap.wrap(f"Hint: {self.hint}", width=110, break_long_words=False, break_on_hyphens=False)
        return lines


def is_blank(value: Any) -> bool:
    """True for what a learner's cell holds before it is filled in: ``...`` (or ``NotImplemented``)."""
    return value is Ellipsis or value is NotImplemented


def given(value: Any, name: str, hint: str) -> Any:
    """``value`` if it is filled in; an :class:`ExerciseError` that says so if it is still ``...``."""
    if is_blank(value):
        raise ExerciseError(f"`{name}` is still `...`: replace the dots with your answer and run the cell again.", hint)
    if isinstance(value, (tuple, list)) and any(is_blank(v) for v in value):
        raise ExerciseError(f"`{name}` still has a `...` in it: fill in every part.", hint)
    return value


def call(function: Callable, *args, name: str, hint: str, **kwargs) -> Any:
    """Call the learner's ``function``; a missing body, ``NotImplementedError`` or a crash becomes a clear message."""
    if is_blank(function) or not callable(function):
        raise ExerciseError(f"`{name}` is not a function yet: write it in the cell above and run that cell.", hint)
    try:
        result = function(*args, **kwargs)
    except NotImplementedError as err:
        raise ExerciseError(f"`{name}` is not written yet (it raises NotImplementedError).", hint) from err
    except Exception as err:  # the learner's code crashed: show its error, not ours
        raise ExerciseError(f"`{name}` raised {type(err).__name__}: {err}", hint) from err
    if result is None:
        raise ExerciseError(f"`{name}` returned None: write its body (and do not forget the `return`).", hint)
    if isinstance(result, tuple) and any(r is None or is_blank(r) for r in result):
        raise ExerciseError(f"`{name}` returned {len(result)} values but some are None or `...`.", hint)
    return result


def as_number(value: Any, name: str, hint: str) -> float:
    """``value`` as a float: a Python number, a one-element tensor or a numpy scalar all count as a number."""
    given(value, name, hint)
    if isinstance(value, bool):
        raise ExerciseError(f"`{name}` is {value}, a truth value; a number is asked for.", hint)
    if isinstance(value, (str, bytes)):
        raise ExerciseError(f"`{name}` should be a number, got str ({value!r}): write it without quotes.", hint)
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ExerciseError(f"`{name}` is a tensor of shape {tuple(value.shape)}; one number is asked for "
                                "(reduce it, for example with .sum() or .mean()).", hint)
        value = value.item()
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ExerciseError(f"`{name}` should be a number, got {type(value).__name__}.", hint) from None


def as_bool(value: Any, name: str, hint: str) -> bool:
    """``value`` as a bool: ``True``, a one-element bool tensor (``(a <= b).all()``) or a numpy bool all count."""
    given(value, name, hint)
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ExerciseError(f"`{name}` is a tensor of shape {tuple(value.shape)}; one True or False is asked "
                                "for (combine the entries with .all() or .any()).", hint)
        value = value.item()
    if type(value).__name__ in ("bool", "bool_", "bool8"):
        return bool(value)
    raise ExerciseError(f"`{name}` should be True or False, got {type(value).__name__} ({value!r}).", hint)


def expect(condition: bool, problem: str, hint: str = "") -> None:
    """Raise :class:`ExerciseError` with ``problem`` and ``hint`` unless ``condition`` holds."""
    if not bool(condition):
        raise ExerciseError(problem, hint)


def mistake(condition: bool, problem: str, hint: str) -> None:
    """Raise :class:`ExerciseError` if ``condition``: a wrong answer recognised, explained by ``problem``."""
    if bool(condition):
        raise ExerciseError(problem, hint)


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}" if value.numel() > 1 else f"{value.item():.6g}"
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def close(got: Any, expected: Any, name: str, hint: str, *, rtol: float = 1e-5, atol: float = 1e-8,
          what: str = "the answer") -> None:
    """Check a number or a tensor against the expected one (shape first for tensors), in words if it is not."""
    given(got, name, hint)
    if isinstance(expected, torch.Tensor):
        expect(isinstance(got, torch.Tensor), f"`{name}` should be a tensor, got {type(got).__name__}.", hint)
        expect(tuple(got.shape) == tuple(expected.shape),
               f"`{name}` has shape {tuple(got.shape)}; {what} has shape {tuple(expected.shape)}.", hint)
        got_d, exp_d = got.detach().double().cpu(), expected.detach().double().cpu()
        expect(bool(torch.isfinite(got_d).all()), f"`{name}` has NaN or infinite entries.", hint)
        ok = torch.allclose(got_d, exp_d, rtol=rtol, atol=atol)
        worst = (got_d - exp_d).abs().max().item()
        expect(ok, f"`{name}` is not {what}: the largest difference is {worst:.3g}.", hint)
        return
    value = as_number(got, name, hint)
    expect(math.isfinite(value), f"`{name}` is {value}: not a finite number.", hint)
    ok = math.isclose(value, float(expected), rel_tol=rtol, abs_tol=atol)
    expect(ok, f"`{name}` is {_describe(value)}; that is not {what}.", hint)


def passed(message: str) -> None:
    """Tell the learner the check passed, and what the right answer shows (wrapped at 110 characters: JupyterLab
    breaks longer output lines anywhere, even mid-word)."""
    print(textwrap.fill(f"Correct. {message}", width=110, break_long_words=False, break_on_hyphens=False))


@contextlib.contextmanager
def seeded(seed: int):
    """Build a model from a fixed seed without touching the notebook's own random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
