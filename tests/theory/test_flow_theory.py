"""theory.flow: the exact score, posterior means and velocity of a noised Gaussian mixture, checked against autograd
of its log-density, Monte Carlo and Tweedie's formula; the straightness of straight and curved flows."""

import pytest
import torch

from sdgan_course.data.toy import GaussianMixture, ring_of_gaussians
from sdgan_course.theory.flow import integrate, mixture_posterior, mixture_velocity, straightness


@pytest.mark.parametrize("a,b", [(0.6, 0.4), (0.95, 0.3), (0.1, 0.99)])
def test_the_score_is_the_gradient_of_the_noisy_log_density_and_tweedie_holds(a, b):
    m = ring_of_gaussians(8, 2.0, 0.1)
    x = torch.randn(6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2
    noisy = GaussianMixture(m.means * a, (a**2 * m.stds**2 + b**2).sqrt(), m.weights)
    xg = x.clone().requires_grad_(True)
    noisy.log_prob(xg).sum().backward()
    post = mixture_posterior(m, x, a, b)
    assert torch.allclose(post.score, xg.grad, atol=1e-10)
    assert torch.allclose(post.eps_mean, -b * post.score, atol=1e-10)  # Tweedie
    assert torch.allclose(a * post.x0_mean + b * post.eps_mean, x, atol=1e-10)  # the means explain x


def test_the_velocity_is_the_conditional_mean_of_eps_minus_x0_by_monte_carlo():
    """Draw (x0, eps) pairs, keep those whose x_t falls in a small ball around a point, average eps - x0."""
    m = GaussianMixture([[-1.0], [1.5]], [0.3, 0.5], [0.3, 0.7])
    rng = torch.Generator().manual_seed(0)
    x0 = m.sample(4_000_000, rng=rng).double()
    eps = torch.randn(x0.shape, generator=rng, dtype=torch.float64)
    t = 0.5
    xt = (1 - t) * x0 + t * eps
    for point in (-0.4, 0.3, 0.9):
        near = (xt[:, 0] - point).abs() < 0.005  # 11,000 to 20,000 pairs: a standard error of about 0.01
        mc = (eps - x0)[near].mean().item()
        exact = mixture_velocity(m, torch.tensor([[point]]), t).item()
        assert mc == pytest.approx(exact, abs=0.03), (point, mc, exact)


def test_the_flow_carries_noise_to_the_data_and_heun_is_closer_than_euler():
    m = GaussianMixture([[-1.0], [1.5]], [0.3, 0.3], [0.5, 0.5])
    x1 = torch.randn(20_000, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    fine = integrate(lambda x, t: mixture_velocity(m, x, t), x1, torch.linspace(1, 0, 401, dtype=torch.float64),
                     heun=True)[-1]
    assert (fine < 0).double().mean().item() == pytest.approx(0.5, abs=0.02)  # both modes, equal weight
    assert fine[fine < 0].std().item() == pytest.approx(0.3, abs=0.02)
    coarse = torch.linspace(1, 0, 9, dtype=torch.float64)
    euler = integrate(lambda x, t: mixture_velocity(m, x, t), x1, coarse)[-1]
    heun = integrate(lambda x, t: mixture_velocity(m, x, t), x1, coarse, heun=True)[-1]
    assert (heun - fine).abs().mean() < (euler - fine).abs().mean()


def test_straightness_is_zero_for_a_constant_field_and_positive_for_a_mixture():
    x1 = torch.randn(500, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert straightness(lambda x, t: torch.ones_like(x), x1, steps=20) == pytest.approx(0.0, abs=1e-20)
    m = ring_of_gaussians(8, 2.0, 0.1)
    assert straightness(lambda x, t: mixture_velocity(m, x, t), x1, steps=50) > 0.1
    point = GaussianMixture([[0.5, -0.5]], [1e-4])  # (almost) one data point: every path is a straight line to it
    assert straightness(lambda x, t: mixture_velocity(point, x, t), x1, steps=20) < 1e-6
