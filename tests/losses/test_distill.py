"""The ADD losses (losses/distill.py): closed forms on small tensors, and which parameters each gradient reaches.

The rules (Sauer et al. 2023, arXiv:2311.17042, section 3.2): the teacher never gets a gradient; the discriminator's
loss sees the student's output detached (its backward leaves the student untouched); the distillation target is a
constant (stop-gradient through the re-noised input and the teacher); the student's adversarial loss reaches the
student through the discriminator."""

import math

import pytest
import torch
from torch import nn

from sdgan_course.losses.distill import (
    adversarial_discriminator_loss,
    adversarial_generator_loss,
    discriminator_objective,
    distillation_loss,
    distillation_weight,
    renoise,
    student_objective,
)
from sdgan_course.losses.gan import r1_penalty
from sdgan_course.schedules import NoiseSchedule

SCHEDULE = NoiseSchedule.from_name("scaled_linear", 1000)


def test_hinge_losses_summed_over_heads_closed_form():
    real = [torch.tensor([0.5, -1.0]), torch.tensor([[2.0, 0.0]])]
    fake = [torch.tensor([0.2, -2.0]), torch.tensor([[1.5, -0.5]])]
    # head 1: mean(relu(1-r)) = (0.5 + 2)/2, mean(relu(1+f)) = (1.2 + 0)/2; head 2: (0 + 1)/2, (2.5 + 0.5)/2
    expected_d = (0.5 + 2.0) / 2 + 1.2 / 2 + 1.0 / 2 + 3.0 / 2
    assert adversarial_discriminator_loss(real, fake).item() == pytest.approx(expected_d)
    assert adversarial_generator_loss(fake).item() == pytest.approx(-(-1.8 / 2) - (1.0 / 2))
    assert adversarial_generator_loss(fake[0]).item() == pytest.approx(0.9)  # one tensor = one head


def test_discriminator_loss_needs_matching_heads():
    with pytest.raises(ValueError, match="same discriminator"):
        adversarial_discriminator_loss([torch.zeros(2)], [torch.zeros(2), torch.zeros(2)])
    with pytest.raises(ValueError, match="at least one head"):
        adversarial_generator_loss([])


def test_distillation_weight_is_alpha_t():
    t = torch.tensor([0, 500, 999])
    w = distillation_weight(SCHEDULE, t)
    assert torch.allclose(w, SCHEDULE.alpha_bar[t].sqrt().float())
    assert w[0] > w[1] > w[2] > 0
    assert torch.equal(distillation_weight(SCHEDULE, t, "uniform"), torch.ones(3))
    with pytest.raises(ValueError, match="Unknown distillation weighting"):
        distillation_weight(SCHEDULE, t, "sds")


def test_distillation_loss_closed_form_and_stop_gradient():
    torch.manual_seed(0)
    theta = nn.Parameter(torch.randn(2, 1, 2, 2))  # the student's output, as a parameter
    psi = nn.Parameter(torch.tensor(0.5))  # a "teacher" with one weight: x0_hat(x_t) = psi * x_t
    t, eps = torch.tensor([100, 700]), torch.randn(2, 1, 2, 2)
    seen = {}

    def teacher(xt, tt):
        seen["requires_grad"] = xt.requires_grad or torch.is_grad_enabled()
        return psi * xt

    loss = distillation_loss(theta, teacher, SCHEDULE, t, eps)
    xt = SCHEDULE.add_noise(theta.detach(), eps, t)
    target = 0.5 * xt
    c = SCHEDULE.alpha_bar[t].sqrt().float()
    expected = (c * (theta.detach() - target).pow(2).flatten(1).mean(1)).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert seen["requires_grad"] is False  # the teacher runs on a detached input, without a graph
    loss.backward()
    assert psi.grad is None  # the teacher never receives a gradient
    # d/dtheta of c * mean((theta - const)^2) / B: the target is a constant (stop-gradient)
    grad = 2 * c.view(2, 1, 1, 1) * (theta.detach() - target) / (4 * 2)
    assert torch.allclose(theta.grad, grad, atol=1e-6)


def test_renoise_detaches():
    x0 = torch.randn(3, 1, 2, 2, requires_grad=True)
    xt = renoise(x0, torch.randn(3, 1, 2, 2), torch.tensor([999, 500, 0]), SCHEDULE)
    assert not xt.requires_grad


class TwoHeads(nn.Module):
    """A tiny discriminator: a frozen 'backbone' (one linear map) and two trainable heads."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(4, 3).requires_grad_(False)
        self.heads = nn.ModuleList([nn.Linear(3, 1), nn.Linear(3, 2)])

    def forward(self, x):
        f = self.backbone(x.flatten(1))
        return [h(f) for h in self.heads]


def test_discriminator_objective_reaches_only_the_heads_and_adds_r1():
    torch.manual_seed(0)
    disc, student = TwoHeads(), nn.Linear(4, 4)
    real = torch.randn(5, 4)
    fake = student(torch.randn(5, 4))  # with a graph into the student
    loss, r1 = discriminator_objective(disc, real, fake, r1_gamma=0.0)
    assert r1.item() == 0.0
    loss.backward()
    assert all(p.grad is not None for p in disc.heads.parameters())
    assert disc.backbone.weight.grad is None  # frozen
    assert student.weight.grad is None  # the fake is detached: the discriminator's step never moves the student
    # R1 is Mescheder et al.'s squared input gradient of the summed logits, times gamma / 2
    plain, _ = discriminator_objective(disc, real, fake, r1_gamma=0.0)
    with_r1, r1 = discriminator_objective(disc, real, fake, r1_gamma=4.0)
    expected_r1 = r1_penalty(lambda x: torch.cat(disc(x), 1), real)
    assert r1.item() == pytest.approx(expected_r1.item(), rel=1e-6) and r1.item() > 0
    assert with_r1.item() == pytest.approx(plain.item() + 2.0 * r1.item(), rel=1e-6)


def test_student_adversarial_loss_reaches_the_student_through_the_discriminator():
    torch.manual_seed(0)
    disc, student = TwoHeads(), nn.Linear(4, 4)
    disc.heads.requires_grad_(False)  # as the training step does for the student's update
    loss = student_objective(disc(student(torch.randn(5, 4))), None, adversarial_weight=1.0, distill_weight=0.0)
    loss.backward()
    assert student.weight.grad is not None and student.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in disc.parameters())


def test_student_objective_weights_and_ablations():
    logits = [torch.tensor([1.0, 3.0])]
    distill = torch.tensor(0.4)
    assert student_objective(logits, distill).item() == pytest.approx(-2.0 + 2.5 * 0.4)
    assert student_objective(None, distill, adversarial_weight=0).item() == pytest.approx(1.0)
    assert student_objective(logits, None, distill_weight=0).item() == pytest.approx(-2.0)
    with pytest.raises(ValueError, match="Both weights are 0"):
        student_objective(None, None, adversarial_weight=0, distill_weight=0)
    with pytest.raises(ValueError, match="needs the distillation loss"):
        student_objective(logits, None)
    assert math.isfinite(student_objective(logits, distill, adversarial_weight=0.5).item())
