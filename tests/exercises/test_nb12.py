"""Notebook 12's exercise checks: the right answer passes, a blank asks for it, each recognised mistake is named."""

import numpy as np
import pytest
import torch

from sdgan_course.exercises import ExerciseError
from sdgan_course.exercises import nb12 as ex


def nfe_per_image(steps, guidance):
    return steps * (1 if guidance in (0.0, 1.0) else 2)


def test_nfe_per_image():
    ex.check_nfe_per_image(nfe_per_image)
    with pytest.raises(ExerciseError, match="not a function yet"):
        ex.check_nfe_per_image(...)
    with pytest.raises(ExerciseError, match="also at guidance 1"):
        ex.check_nfe_per_image(lambda steps, guidance: 2 * steps)
    with pytest.raises(ExerciseError, match="also with guidance"):
        ex.check_nfe_per_image(lambda steps, guidance: steps)
    with pytest.raises(ExerciseError, match="wrong for 10 steps at guidance 0"):
        ex.check_nfe_per_image(lambda steps, guidance: steps * (1 if guidance == 1.0 else 2))
    with pytest.raises(ExerciseError, match="whole number"):
        ex.check_nfe_per_image(lambda steps, guidance: nfe_per_image(steps, guidance) + 0.5)


def test_nfe_per_image_accepts_tensors_and_numpy_numbers():
    """Item 24: a count computed with torch or numpy is a number too."""
    ex.check_nfe_per_image(lambda steps, guidance: torch.tensor(nfe_per_image(steps, guidance)))
    ex.check_nfe_per_image(lambda steps, guidance: np.int64(nfe_per_image(steps, guidance)))
    ex.check_nfe_per_image(lambda steps, guidance: float(nfe_per_image(steps, guidance)))


def test_pareto_front():
    ex.check_pareto_front({"A": True, "B": True, "C": False})
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_pareto_front(...)
    with pytest.raises(ExerciseError, match="C is on the front"):
        ex.check_pareto_front({"A": True, "B": True, "C": True})
    with pytest.raises(ExerciseError, match="A is dominated"):
        ex.check_pareto_front({"A": False, "B": True, "C": False})
    with pytest.raises(ExerciseError, match="keys"):
        ex.check_pareto_front({"A": True, "B": True})
    with pytest.raises(ExerciseError, match="should be True or False"):
        ex.check_pareto_front({"A": "yes", "B": True, "C": False})


def test_pareto_front_accepts_numpy_and_tensor_bools():
    """Item 24: `on_front` built with numpy or torch comparisons holds numpy/torch bools, not Python's."""
    ex.check_pareto_front({"A": np.bool_(True), "B": torch.tensor(True), "C": np.bool_(False)})


ROWS = [dict(model="gan", n=50, nfe=1, seconds_per_image=0.0003),
        dict(model="ddpm", n=50, nfe=6, seconds_per_image=0.039),
        dict(model="ldm", n=50, nfe=6, seconds_per_image=0.0086)]


def test_speed_ratio():
    ex.check_speed_ratio(0.039 / 0.0003, ROWS)
    ex.check_speed_ratio(1.0, ROWS[:1])  # one model measured: the ratio is 1
    ex.check_speed_ratio(1.0, [])  # none measured: nothing to compare, and no crash
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_speed_ratio(..., ROWS)
    with pytest.raises(ExerciseError, match="inverse"):
        ex.check_speed_ratio(0.0003 / 0.039, ROWS)
    with pytest.raises(ExerciseError, match="network evaluations"):
        ex.check_speed_ratio(6.0, ROWS)
    with pytest.raises(ExerciseError, match="should be a number"):
        ex.check_speed_ratio("fast", ROWS)
    ex.check_speed_ratio(torch.tensor(0.039 / 0.0003, dtype=torch.float64), ROWS)  # a 0-d tensor is a number
    ex.check_speed_ratio(np.float64(0.039 / 0.0003), ROWS)
    with pytest.raises(ExerciseError) as err:
        ex.check_speed_ratio(..., ROWS)
    assert "divided by" not in err.value.hint  # the hint on a blank does not give the formula away
