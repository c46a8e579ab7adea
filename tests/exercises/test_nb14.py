"""Notebook 14's exercise checks: the right answer passes, a blank asks for it, each recognised mistake is named."""

import math

import numpy as np
import pytest
import torch

from sdgan_course.exercises import ExerciseError
from sdgan_course.exercises import nb14 as ex
from sdgan_course.schedules import FlowSchedule


def velocity_to_x0_eps(xt, t, v):
    t = t.view(-1, 1, 1, 1)
    return xt - t * v, xt + (1 - t) * v


def test_x0_and_eps(capsys):
    ex.check_x0_and_eps(velocity_to_x0_eps)
    assert "Correct." in capsys.readouterr().out
    schedule = FlowSchedule()
    ex.check_x0_and_eps(lambda xt, t, v: (schedule.to_x0(xt, t, v), schedule.to_eps(xt, t, v)))  # the library's
    with pytest.raises(ExerciseError, match="not a function yet"):
        ex.check_x0_and_eps(...)


@pytest.mark.parametrize("wrong, diagnosis", [
    (lambda xt, t, v: (xt + t.view(-1, 1, 1, 1) * v, xt - (1 - t.view(-1, 1, 1, 1)) * v), "signs are swapped"),
    (lambda xt, t, v: (xt - (1 - t.view(-1, 1, 1, 1)) * v, xt + t.view(-1, 1, 1, 1) * v), "t and 1 - t are swapped"),
    (lambda xt, t, v: velocity_to_x0_eps(xt, t, v)[::-1], "wrong order"),
    (lambda xt, t, v: (xt - t * v, xt + (1 - t) * v), "reshape t to \\(B, 1, 1, 1\\)"),
    (lambda xt, t, v: (velocity_to_x0_eps(xt, t, v)[0], xt + v), "eps_hat` is not x_t \\+ \\(1 - t\\) v"),
    (lambda xt, t, v: velocity_to_x0_eps(xt, t, v)[0], "two tensors"),
])
def test_x0_and_eps_mistakes(wrong, diagnosis):
    with pytest.raises(ExerciseError, match=diagnosis):
        ex.check_x0_and_eps(wrong)


def heun_step_by_hand(velocity_fn, x, t, t_next):
    v = velocity_fn(x, torch.full((len(x),), t))
    euler = x + (t_next - t) * v
    if t_next == 0:
        return euler
    return x + (t_next - t) * 0.5 * (v + velocity_fn(euler, torch.full((len(x),), t_next)))


def test_heun_step(capsys):
    ex.check_heun_step(heun_step_by_hand)
    assert "2S - 1" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="not a function yet"):
        ex.check_heun_step(...)


def test_heun_step_accepts_float_times():
    def with_floats(velocity_fn, x, t, t_next):
        v = velocity_fn(x, t)
        euler = x + (t_next - t) * v
        return euler if t_next == 0 else x + (t_next - t) * (v + velocity_fn(euler, t_next)) / 2

    ex.check_heun_step(with_floats)


def euler(velocity_fn, x, t, t_next):
    return x + (t_next - t) * velocity_fn(x, t)


def full_heun(velocity_fn, x, t, t_next):
    v = velocity_fn(x, t)
    return x + (t_next - t) * 0.5 * (v + velocity_fn(x + (t_next - t) * v, t_next))


def positions(velocity_fn, x, t, t_next):
    return 0.5 * (x + euler(velocity_fn, x, t, t_next))


def second_only(velocity_fn, x, t, t_next):
    return x + (t_next - t) * velocity_fn(euler(velocity_fn, x, t, t_next), t_next)


def wrong_time(velocity_fn, x, t, t_next):
    v = velocity_fn(x, t)
    return x + (t_next - t) * 0.5 * (v + velocity_fn(x + (t_next - t) * v, t))


def midpoint(velocity_fn, x, t, t_next):
    h = t_next - t
    return x + h * velocity_fn(x + 0.5 * h * velocity_fn(x, t), t + 0.5 * h)


def forward(velocity_fn, x, t, t_next):
    h = t - t_next  # the wrong sign: towards the noise
    v = velocity_fn(x, t)
    return x + h * 0.5 * (v + velocity_fn(x + h * v, t_next))


def wasteful_last_step(velocity_fn, x, t, t_next):
    velocity_fn(x, t)  # an evaluation whose result is thrown away
    return heun_step_by_hand(velocity_fn, x, t, t_next)


def wasted_zero(velocity_fn, x, t, t_next):
    if t_next == 0:
        velocity_fn(x, t_next)  # evaluated at t = 0 and not used
    return heun_step_by_hand(velocity_fn, x, t, t_next)


@pytest.mark.parametrize("wrong, diagnosis", [
    (euler, "plain Euler step"),
    (positions, "averages the \\*positions\\*"),
    (second_only, "second velocity alone"),
    (wrong_time, "at the old time t"),
    (midpoint, "midpoint method"),
    (forward, "towards the noise"),
    (full_heun, "forgets the last-step rule"),
    (wasteful_last_step, "calls velocity_fn 3 times; the step needs 2"),
    (wasted_zero, "calls velocity_fn 2 times; the step needs 1"),
    (lambda f, x, t, t_next: heun_step_by_hand(f, x, t, t_next)[:3], "shape \\(6, 2\\)"),
])
def test_heun_step_mistakes(wrong, diagnosis):
    with pytest.raises(ExerciseError, match=diagnosis):
        ex.check_heun_step(wrong)


def test_the_heun_mistakes_differ_from_the_right_step_on_the_toy():
    """The variants the check names are numerically apart from Heun's step (else a diagnosis could hide a pass)."""
    x = 1.2 * torch.randn(6, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    variants = ex._heun_variants(ex.CountedVelocity(), x, 0.75, 0.5)
    right = variants.pop("full heun")
    for name, value in variants.items():
        assert (value - right).abs().max() > 1e-3, name
    last = ex._heun_variants(ex.CountedVelocity(), x, 0.25, 0.0)
    assert (last["full heun"] - last["euler"]).abs().max() > 1e-3


def test_ddim_in_flow(capsys):
    ab = ex.DDIM_ALPHA_BAR
    alpha, sigma = math.sqrt(ab), math.sqrt(1 - ab)
    ex.check_ddim_in_flow(sigma / (alpha + sigma), 1 / (alpha + sigma))
    assert "t = 0.5714" in capsys.readouterr().out
    ex.check_ddim_in_flow(0.5714, 0.7143)  # four significant digits are enough
    ex.check_ddim_in_flow(torch.tensor(4 / 7), np.float64(5 / 7))
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_ddim_in_flow(..., 5 / 7)
    with pytest.raises(ExerciseError, match="\\*variance\\*"):
        ex.check_ddim_in_flow(0.64, 1.0)  # alpha_bar instead of its square root
    with pytest.raises(ExerciseError, match="those are variances"):
        ex.check_ddim_in_flow(4 / 7, 1.0)
    with pytest.raises(ExerciseError, match="is sigma"):
        ex.check_ddim_in_flow(0.8, 5 / 7)
    with pytest.raises(ExerciseError, match="weight of the \\*data\\*"):
        ex.check_ddim_in_flow(3 / 7, 5 / 7)
    with pytest.raises(ExerciseError, match="\\*divided\\*"):
        ex.check_ddim_in_flow(4 / 7, 1.4)
    with pytest.raises(ExerciseError, match="not the flow time"):
        ex.check_ddim_in_flow(0.5, 5 / 7)


def test_logit_normal_share(capsys):
    share = 2 * 0.5 * (1 + math.erf(math.log(3) / math.sqrt(2))) - 1
    assert share == pytest.approx(0.72806, abs=1e-5)
    ex.check_logit_normal_share(share, 0.5)
    assert "0.7281" in capsys.readouterr().out
    draws = FlowSchedule().draw_t(100_000, rng=torch.Generator().manual_seed(0))  # a Monte Carlo answer counts
    ex.check_logit_normal_share(((draws > 0.25) & (draws < 0.75)).double().mean(), 0.5)
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_logit_normal_share(..., 0.5)
    with pytest.raises(ExerciseError, match="\\*uniform\\* share"):
        ex.check_logit_normal_share(0.5, 0.5)
    with pytest.raises(ExerciseError, match="\\*outside\\*"):
        ex.check_logit_normal_share(1 - share, 0.5)
    with pytest.raises(ExerciseError, match="puts t itself"):
        ex.check_logit_normal_share(0.1747, 0.5)
    with pytest.raises(ExerciseError, match="one half of the interval"):
        ex.check_logit_normal_share(share / 2, 0.5)
    with pytest.raises(ExerciseError, match="not the logit-normal's share"):
        ex.check_logit_normal_share(0.8, 0.5)
    with pytest.raises(ExerciseError, match="share_uniform equals"):
        ex.check_logit_normal_share(share, share)
    with pytest.raises(ExerciseError, match="not the uniform share"):
        ex.check_logit_normal_share(share, 0.25)


def test_the_library_reads_sd3s_image_tokens_off_patchify():
    assert ex.sd3_image_tokens() == 64 * 64


def test_joint_attention(capsys):
    ex.check_joint_attention(4096, 154, (4096 + 154) ** 2)
    assert "18,062,500" in capsys.readouterr().out
    ex.check_joint_attention(torch.tensor(4096), np.int64(154), float(4250**2))
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_joint_attention(..., 154, 4250**2)


@pytest.mark.parametrize("answer, diagnosis", [
    ((16384, 154, 16538**2), "2 x 2 patches are forgotten"),
    ((64, 154, 4250**2), "side of the grid"),
    ((262144, 154, 4250**2), "latent's numbers"),
    ((4095, 154, 4250**2), "not the number of image tokens"),
    ((4096, 333, 4429**2), "diffusers' StableDiffusion3Pipeline"),
    ((4096, 231, 4327**2), "two sequences"),
    ((4096, 77, 4173**2), "leaves out T5"),
    ((4096, 154, 4096**2), "only the image tokens"),
    ((4096, 154, 4096 * 4250), "only the image tokens ask"),
    ((4096, 154, 4096**2 + 154**2), "two separate self-attentions"),
    ((4096, 154, 24 * 4250**2), "24 times the map of one head"),
    ((4096, 154, 4250**2 + 1), "not the weights of one head"),
    ((4096, 154.5, 4250**2), "whole, positive count"),
])
def test_joint_attention_mistakes(answer, diagnosis):
    with pytest.raises(ExerciseError, match=diagnosis):
        ex.check_joint_attention(*answer)


@pytest.mark.parametrize("check, blanks", [
    (ex.check_x0_and_eps, 1), (ex.check_heun_step, 1), (ex.check_ddim_in_flow, 2),
    (ex.check_logit_normal_share, 2), (ex.check_joint_attention, 3),
])
def test_hints_do_not_give_the_answer(check, blanks):
    with pytest.raises(ExerciseError) as err:
        check(*[...] * blanks)
    hint = err.value.hint
    for answer in ("0.7281", "0.728", "0.5714", "0.7143", "4096", "154", "18062500", "18,062,500", "- t v", "- t * v",
                   "+ (1 - t)", "0.5 * (v"):
        assert answer not in hint, (check.__name__, answer)
