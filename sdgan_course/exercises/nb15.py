"""Checks for the exercises of notebook 15, the GAN returns (adversarial diffusion distillation).

Each ``check_*`` takes the learner's answer first; a blank (``...``) gets "not filled in yet" and the exercise's hint,
a wrong answer gets what is wrong with it. ``show("ex1")`` prints our solution.
"""

from __future__ import annotations

import torch
from torch import nn

from ..losses.distill import adversarial_discriminator_loss, distillation_loss
from ..sample.distill import student_timesteps
from ..schedules import NoiseSchedule
from . import solutions
from .checks import as_number, call, close, expect, given, mistake, passed, seeded

NOTEBOOK = "15_adversarial_distillation"


def show(exercise: str) -> None:
    """Print our solution to ``exercise`` ("ex1", "ex2", ...) of this notebook."""
    solutions.show(NOTEBOOK, exercise)


class _OneWeightTeacher(nn.Module):
    """x0_hat(x_t, t) = w * x_t: a 'teacher' with one weight, to see whether a gradient reaches it."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(0.7))

    def forward(self, xt, t):
        return self.w * xt


def check_distillation_loss(distill_by_hand) -> None:
    """Exercise 1: ADD's distillation loss with the stop-gradient and the weighting c(t) = sqrt(alpha_bar_t)."""
    hint = ("re-noise the DETACHED student output to t with eps (schedule.add_noise), let the teacher predict under "
            "torch.no_grad(), then average c(t) * mean over each sample's entries of (x0_student - target)^2, with "
            "c(t) = schedule.alpha_bar[t].sqrt(). ex.show('ex1') prints our solution.")
    schedule = NoiseSchedule.from_name("scaled_linear", 1000)
    with seeded(0):
        x0 = torch.randn(3, 4, 2, 2)
        t, eps = torch.tensor([10, 400, 900]), torch.randn(3, 4, 2, 2)
    teacher = _OneWeightTeacher()
    x0_student = x0.clone().requires_grad_(True)
    got = call(distill_by_hand, x0_student, teacher, schedule, t, eps, name="distill_by_hand", hint=hint)
    expect(isinstance(got, torch.Tensor) and got.numel() == 1, "distill_by_hand should return one number (a 0-d "
           "tensor): the loss averaged over the batch.", hint)
    expected = distillation_loss(x0.clone().requires_grad_(True), teacher, schedule, t, eps)
    uniform = distillation_loss(x0, teacher, schedule, t, eps, weighting="uniform")
    mistake(torch.allclose(got.detach(), uniform, rtol=1e-5), "the loss is not weighted: every t counts the same.",
            "multiply each sample's squared distance by c(t) = sqrt(alpha_bar_t) (ADD's exponential weighting).")
    close(got.detach(), expected.detach(), "distill_by_hand", hint, rtol=1e-5, what="ADD's distillation loss")
    expect(got.requires_grad, "the loss has no graph: the gradient must reach the student's output.",
           "compute the squared distance from x0_student itself (not a detached copy).")
    got.backward()
    mistake(teacher.w.grad is not None and teacher.w.grad.abs() > 0, "a gradient reached the teacher: the target is "
            "not under a stop-gradient.", "run the teacher on the detached, re-noised output inside torch.no_grad().")
    expect(x0_student.grad is not None, "no gradient reached the student's output.", hint)
    passed(f"loss {got.item():.4f}, the library's too. The teacher got no gradient: its answer is a constant target, "
           "and the student moves towards it; c(t) trusts the teacher most where it sees most of the student's image.")


def check_student_timesteps(timesteps) -> None:
    """Exercise 2: ADD's four student timesteps for T = 1000 (trailing spacing)."""
    hint = ("four evenly spaced timesteps, the first at T - 1 = 999 (pure noise: a one-step student starts there), "
            "descending by T / 4. ex.show('ex2') prints our solution.")
    values = given(timesteps, "timesteps", hint)
    values = [int(v) for v in (values.tolist() if isinstance(values, torch.Tensor) else values)]
    expected = student_timesteps(4, 1000).tolist()
    mistake(values == [1000, 750, 500, 250], "timesteps are indices 0..999: 1000 does not exist.",
            "the last timestep is T - 1 = 999.")
    mistake(values == sorted(expected), "the timesteps go the wrong way: the student starts from the noisiest.",
            "list them in the order sampling visits them, 999 first.")
    mistake(values == [750, 500, 250, 0], "these are the 'leading' timesteps: they never start at pure noise, so a "
            "one-step student would start from a noisy image it never gets (Lin et al. 2023, arXiv:2305.08891).",
            "start at 999.")
    expect(values == expected, f"timesteps = {values}; the trailing spacing gives {len(expected)} other values.", hint)
    passed(f"{expected}: one step uses 999, two use 999 and 499, four use all of them; each step predicts the clean "
           "image, and the next one re-noises it with fresh noise.")


def check_hinge_by_hand(loss_d) -> None:
    """Exercise 3: the discriminator's hinge loss summed over two heads, on given logits."""
    hint = ("per head: mean(max(0, 1 - real)) + mean(max(0, 1 + fake)); then add the heads. ex.show('ex3') prints "
            "our solution.")
    real, fake = HINGE_LOGITS
    value = as_number(loss_d, "loss_d", hint)
    expected = float(adversarial_discriminator_loss([torch.tensor(r) for r in real], [torch.tensor(f) for f in fake]))
    no_relu = sum(sum(1 - r for r in rs) / len(rs) + sum(1 + f for f in fs) / len(fs) for rs, fs in zip(real, fake))
    mistake(abs(value - no_relu) < 1e-6 and abs(no_relu - expected) > 1e-6, "loss_d drops the max(0, .): a logit "
            "already on the right side of the margin still counts.", "a real logit above 1 and a fake logit below -1 "
            "add nothing: max(0, 1 - r) and max(0, 1 + f).")
    expect(abs(value - expected) < 1e-4, f"loss_d = {value:g}; the hinge loss of these logits is another number.",
           hint)
    passed(f"loss_d = {expected:g}. Logits beyond the margin (real > 1, fake < -1) contribute nothing: the hinge "
           "discriminator stops pushing on what it already separates, one reason it trains calmly.")


HINGE_LOGITS = (([1.5, 0.0], [0.25, -0.5]), ([-2.0, 0.5], [0.5, -1.5]))  # (real: two heads, fake: two heads)

__all__ = ["HINGE_LOGITS", "check_distillation_loss", "check_hinge_by_hand", "check_student_timesteps", "show"]
