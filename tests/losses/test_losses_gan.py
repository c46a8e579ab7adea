import math

import pytest
import torch
from torch import nn

from sdgan_course.losses.gan import (
    GAN_LOSSES,
    clip_weights_,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    interpolate,
    r1_penalty,
)

R = [0.5, -1.0, 2.0]  # logits on real images
F_ = [0.2, -2.0, 1.5]  # logits on fake images


def softplus(v):
    return math.log(1.0 + math.exp(v))


def mean(values):
    return sum(values) / len(values)


def sigmoid(v):
    return 1.0 / (1.0 + math.exp(-v))


EXPECTED_D = {
    # -E[log D(x)] - E[log(1 - D(G(z)))] computed from probabilities, independently of softplus
    "minimax": mean([-math.log(sigmoid(r)) for r in R]) + mean([-math.log(1 - sigmoid(f)) for f in F_]),
    "ns": mean([-math.log(sigmoid(r)) for r in R]) + mean([-math.log(1 - sigmoid(f)) for f in F_]),
    "lsgan": 0.5 * mean([(r - 1) ** 2 for r in R]) + 0.5 * mean([f**2 for f in F_]),
    "hinge": mean([max(0.0, 1 - r) for r in R]) + mean([max(0.0, 1 + f) for f in F_]),
    "wgan": mean(F_) - mean(R),
    "wgan-gp": mean(F_) - mean(R),
}
EXPECTED_G = {
    "minimax": mean([math.log(1 - sigmoid(f)) for f in F_]),
    "ns": mean([-math.log(sigmoid(f)) for f in F_]),
    "lsgan": 0.5 * mean([(f - 1) ** 2 for f in F_]),
    "hinge": -mean(F_),
    "wgan": -mean(F_),
    "wgan-gp": -mean(F_),
}


def test_every_loss_has_an_expected_value():
    assert set(EXPECTED_D) == set(EXPECTED_G) == set(GAN_LOSSES)
    assert abs(EXPECTED_D["minimax"] - (mean([softplus(-r) for r in R]) + mean([softplus(f) for f in F_]))) < 1e-12


@pytest.mark.parametrize("kind", GAN_LOSSES)
def test_discriminator_loss_hand_values(kind):
    out = discriminator_loss(kind, torch.tensor(R), torch.tensor(F_))
    assert out.shape == () and out.dtype == torch.float32
    assert out.item() == pytest.approx(EXPECTED_D[kind], rel=1e-5)


@pytest.mark.parametrize("kind", GAN_LOSSES)
def test_generator_loss_hand_values(kind):
    out = generator_loss(kind, torch.tensor(F_))
    assert out.shape == ()
    assert out.item() == pytest.approx(EXPECTED_G[kind], rel=1e-5)


def test_hinge_ignores_confident_logits():
    # r = 3 > 1 and f = -3 < -1: the hinge is flat, the loss and its gradient are zero
    r, f = torch.tensor([3.0], requires_grad=True), torch.tensor([-3.0], requires_grad=True)
    loss = discriminator_loss("hinge", r, f)
    loss.backward()
    assert loss.item() == 0.0 and r.grad.item() == 0.0 and f.grad.item() == 0.0


def test_losses_average_over_patch_maps():
    r = torch.full((2, 1, 3, 3), 0.5)
    f = torch.full((2, 1, 3, 3), -1.0)
    assert discriminator_loss("lsgan", r, f).item() == pytest.approx(0.5 * 0.25 + 0.5 * 1.0)
    assert generator_loss("wgan", f).item() == pytest.approx(1.0)


def test_saturating_gradient_vanishes_non_saturating_does_not():
    # D(G(z)) = sigmoid(-10) ~ 4.5e-5: the discriminator rejects the fake confidently (early training)
    f = torch.tensor([-10.0], requires_grad=True)
    generator_loss("minimax", f).backward()
    saturating = f.grad.item()
    f.grad = None
    generator_loss("ns", f).backward()
    non_saturating = f.grad.item()
    assert saturating == pytest.approx(-sigmoid(-10.0), rel=1e-4)  # d/df of -softplus(f) = -sigmoid(f)
    assert abs(saturating) < 1e-4
    assert non_saturating == pytest.approx(sigmoid(-10.0) - 1.0, rel=1e-4)  # ~ -1
    assert abs(non_saturating) > 0.99


def test_losses_compute_in_float32():
    r = torch.tensor(R, dtype=torch.bfloat16)
    f = torch.tensor(F_, dtype=torch.bfloat16)
    for kind in GAN_LOSSES:
        assert discriminator_loss(kind, r, f).dtype == torch.float32
        assert generator_loss(kind, f).dtype == torch.float32


def test_large_logits_stay_finite():
    big = torch.tensor([100.0, -100.0])
    for kind in GAN_LOSSES:
        assert torch.isfinite(discriminator_loss(kind, big, -big))
        assert torch.isfinite(generator_loss(kind, big))


def test_unknown_loss_lists_the_valid_ones():
    with pytest.raises(ValueError, match="'minimax', 'ns', 'lsgan', 'hinge', 'wgan', 'wgan-gp'"):
        discriminator_loss("bce", torch.zeros(2), torch.zeros(2))
    with pytest.raises(ValueError, match="Valid losses"):
        generator_loss("wasserstein", torch.zeros(2))


# ---------------------------------------------------------------- penalties


class LinearCritic(nn.Module):
    """D(x) = w . flatten(x) + b, whose input gradient is w everywhere."""

    def __init__(self, w: torch.Tensor, b: float = 0.3):
        super().__init__()
        self.w = nn.Parameter(w.clone())
        self.b = b

    def forward(self, x, labels=None):
        out = x.flatten(1) @ self.w + self.b
        if labels is not None:
            out = out + labels.float()  # labels shift the logit, not the input gradient
        return out


def _images(seed, b=5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 1, 4, 4, generator=g), torch.randn(b, 1, 4, 4, generator=g)


def test_gradient_penalty_of_a_linear_critic():
    w = torch.randn(16, generator=torch.Generator().manual_seed(0))
    critic = LinearCritic(w)
    real, fake = _images(1)
    gp = gradient_penalty(critic, real, fake, rng=torch.Generator().manual_seed(2))
    expected = (w.norm().item() - 1.0) ** 2
    assert gp.item() == pytest.approx(expected, rel=1e-5)
    # and its gradient reaches the critic's weights: d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    gp.backward()
    torch.testing.assert_close(critic.w.grad, 2 * (w.norm() - 1) * w / w.norm(), rtol=1e-4, atol=1e-5)


def test_gradient_penalty_is_zero_for_unit_gradient_and_passes_labels():
    w = torch.zeros(16)
    w[3] = 1.0
    real, fake = _images(3)
    gp = gradient_penalty(LinearCritic(w), real, fake, labels=torch.arange(5))
    assert gp.item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_penalty_is_safe_at_zero_gradient():
    critic = LinearCritic(torch.zeros(16))
    real, fake = _images(4)
    gp = gradient_penalty(critic, real, fake)
    gp.backward()
    assert gp.item() == pytest.approx(1.0, abs=1e-5)
    assert torch.isfinite(critic.w.grad).all()


def test_interpolation_alpha_is_uniform_and_per_sample():
    real, fake = torch.ones(20_000, 1, 2, 2), torch.zeros(20_000, 1, 2, 2)
    x_hat, alpha = interpolate(real, fake, rng=torch.Generator().manual_seed(0))
    assert alpha.shape == (20_000,)
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0
    assert alpha.mean().item() == pytest.approx(0.5, abs=0.01)
    assert alpha.var().item() == pytest.approx(1 / 12, abs=0.005)
    # one alpha per sample, shared by all its pixels: with real = 1 and fake = 0, x_hat = alpha
    torch.testing.assert_close(x_hat, alpha.view(-1, 1, 1, 1).expand_as(x_hat))
    # seeded: the same generator seed gives the same alphas
    _, again = interpolate(real, fake, rng=torch.Generator().manual_seed(0))
    assert torch.equal(alpha, again)


def test_interpolation_with_given_alpha_and_detached_fake():
    real, fake = _images(5, b=3)
    fake.requires_grad_(True)
    alpha = torch.tensor([0.0, 0.25, 1.0])
    x_hat, _ = interpolate(real, fake, alpha=alpha)
    torch.testing.assert_close(x_hat[0], fake[0].detach())
    torch.testing.assert_close(x_hat[1], 0.25 * real[1] + 0.75 * fake[1].detach())
    torch.testing.assert_close(x_hat[2], real[2])
    assert not x_hat.requires_grad
    with pytest.raises(ValueError, match="one per sample"):
        interpolate(real, fake, alpha=torch.tensor(0.5))
    with pytest.raises(ValueError, match="same shape"):
        interpolate(real, fake[:2])


def test_r1_penalty_of_a_linear_critic():
    w = torch.randn(16, generator=torch.Generator().manual_seed(6))
    real, _ = _images(7)
    r1 = r1_penalty(LinearCritic(w), real)
    assert r1.item() == pytest.approx(w.pow(2).sum().item(), rel=1e-5)


def test_r1_penalty_of_a_quadratic_critic():
    # D(x) = 1/2 ||x||^2 has gradient x, so R1 = E[||x||^2]
    class Quadratic(nn.Module):
        def forward(self, x, labels=None):
            return 0.5 * x.flatten(1).pow(2).sum(1)

    real, _ = _images(8)
    assert r1_penalty(Quadratic(), real).item() == pytest.approx(real.flatten(1).pow(2).sum(1).mean().item(), rel=1e-5)


def test_clip_weights():
    m = nn.Linear(4, 3)
    with torch.no_grad():
        m.weight.copy_(torch.tensor([[-1.0, -0.03, 0.0, 0.02], [0.5, 0.05, 0.049, -0.06], [2.0, -2.0, 0.01, 0.0]]))
        m.bias.copy_(torch.tensor([0.3, -0.01, -0.2]))
    assert clip_weights_(m, 0.05) is m
    expected = torch.tensor([[-0.05, -0.03, 0.0, 0.02], [0.05, 0.05, 0.049, -0.05], [0.05, -0.05, 0.01, 0.0]])
    torch.testing.assert_close(m.weight.detach(), expected)
    torch.testing.assert_close(m.bias.detach(), torch.tensor([0.05, -0.01, -0.05]))
    with pytest.raises(ValueError, match="positive"):
        clip_weights_(m, 0.0)


def test_gradient_penalty_is_finite_where_the_critic_is_flat():
    """||g|| at g = 0: vector_norm gives the subgradient 0, a hand-written sqrt(sum g^2) gives NaN, and the library's
    sqrt(sum g^2 + 1e-12) stays finite (issue 9, correction 12)."""
    g = torch.zeros(3, requires_grad=True)
    assert torch.equal(torch.autograd.grad(torch.linalg.vector_norm(g), g)[0], torch.zeros(3))
    g = torch.zeros(3, requires_grad=True)
    assert torch.isnan(torch.autograd.grad(torch.sqrt((g**2).sum()), g)[0]).all()

    class Flat(nn.Module):  # D(x) = w * 0 . x + b: zero input gradient everywhere, but w gets a gradient via GP
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(2))

        def forward(self, x):
            return x @ self.w  # (B,)

    critic = Flat()
    gp = gradient_penalty(critic, torch.randn(8, 2), torch.randn(8, 2), rng=torch.Generator().manual_seed(0))
    gp.backward()
    assert gp.item() == pytest.approx(1.0, abs=1e-5) and torch.isfinite(critic.w.grad).all()
