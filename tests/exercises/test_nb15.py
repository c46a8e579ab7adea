"""Notebook 15's exercise checks: the right answer passes, a blank asks for it, each recognised mistake is named."""

import pytest
import torch

from sdgan_course.exercises import ExerciseError
from sdgan_course.exercises import nb15 as ex


def distill_right(x0_student, teacher, schedule, t, eps):
    xt = schedule.add_noise(x0_student.detach(), eps, t)
    with torch.no_grad():
        target = teacher(xt, t)
    c = schedule.alpha_bar[t].sqrt().float()
    return (c * (x0_student - target).pow(2).flatten(1).mean(1)).mean()


def distill_unweighted(x0_student, teacher, schedule, t, eps):
    xt = schedule.add_noise(x0_student.detach(), eps, t)
    with torch.no_grad():
        target = teacher(xt, t)
    return (x0_student - target).pow(2).flatten(1).mean(1).mean()


def distill_no_stop_gradient(x0_student, teacher, schedule, t, eps):
    target = teacher(schedule.add_noise(x0_student, eps, t), t)  # the gradient flows into the teacher
    c = schedule.alpha_bar[t].sqrt().float()
    return (c * (x0_student - target).pow(2).flatten(1).mean(1)).mean()


def test_distillation_loss(capsys):
    ex.check_distillation_loss(distill_right)
    assert "Correct" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="not a function yet"):
        ex.check_distillation_loss(...)
    with pytest.raises(ExerciseError, match="not weighted"):
        ex.check_distillation_loss(distill_unweighted)
    with pytest.raises(ExerciseError, match="reached the teacher|ADD's distillation loss"):
        ex.check_distillation_loss(distill_no_stop_gradient)


def test_student_timesteps(capsys):
    ex.check_student_timesteps([999, 749, 499, 249])
    ex.check_student_timesteps(torch.tensor([999, 749, 499, 249]))
    assert "Correct" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="still"):
        ex.check_student_timesteps(...)
    with pytest.raises(ExerciseError, match="1000 does not exist"):
        ex.check_student_timesteps([1000, 750, 500, 250])
    with pytest.raises(ExerciseError, match="wrong way"):
        ex.check_student_timesteps([249, 499, 749, 999])
    with pytest.raises(ExerciseError, match="leading"):
        ex.check_student_timesteps([750, 500, 250, 0])


def test_hinge_by_hand(capsys):
    ex.check_hinge_by_hand(3.125)
    assert "Correct" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="still"):
        ex.check_hinge_by_hand(...)
    with pytest.raises(ExerciseError, match="drops the max"):
        ex.check_hinge_by_hand(2.125)
    with pytest.raises(ExerciseError, match="another number"):
        ex.check_hinge_by_hand(1.0)
