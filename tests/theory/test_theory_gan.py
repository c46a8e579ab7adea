"""Closed-form GAN theory (sdgan_course.theory.gan) against numerical and trained optima."""

import math

import pytest
import torch

from sdgan_course.data import gaussian_mixture_1d
from sdgan_course.theory import gan as theory

X = torch.linspace(-12.0, 12.0, 6001, dtype=torch.float64)


def normal_pdf(x, mu, sigma):
    return torch.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


# ---------------------------------------------------------------- optimal discriminator


def test_optimal_discriminator_is_the_pointwise_maximiser_of_the_integrand():
    # For each x, maximise a log y + b log(1 - y) over a fine grid of y: the argmax is D*(x) = a / (a + b).
    p_data = gaussian_mixture_1d().prob(X[::200, None])  # (31,)
    p_g = normal_pdf(X[::200], 0.5, 1.5)
    y = torch.linspace(1e-6, 1 - 1e-6, 200_001, dtype=torch.float64)
    integrand = p_data[:, None] * torch.log(y) + p_g[:, None] * torch.log1p(-y)  # (31, Y)
    numerical = y[integrand.argmax(dim=1)]
    closed = theory.optimal_discriminator(p_data, p_g)
    torch.testing.assert_close(numerical, closed, atol=2e-5, rtol=0)


def test_optimal_discriminator_maximises_the_value_function_on_a_grid():
    p_data, p_g = normal_pdf(X, -1.0, 1.0), normal_pdf(X, 1.5, 0.7)
    d_star = theory.optimal_discriminator(p_data, p_g)
    best = theory.value_at_optimum(p_data, p_g, X)  # Eq. (4), stable in the tails
    near = theory.value_on_grid(d_star.clamp(max=1 - 1e-15), p_data, p_g, X)  # Eq. (3) at D*
    assert abs(near.item() - best.item()) < 1e-6
    for other in (torch.full_like(X, 0.5), (d_star * 0.9).clamp(1e-9, 1 - 1e-9), torch.sigmoid(-X)):
        assert theory.value_on_grid(other, p_data, p_g, X) < best


def test_trained_logistic_discriminator_matches_the_closed_form():
    # p_data = N(0, 1), p_g = N(1, 1): D*(x) = sigmoid(0.5 - x), a *linear* logit that a logistic D can learn.
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(20_000, 1, generator=gen)
    fake = torch.randn(20_000, 1, generator=gen) + 1.0
    d = torch.nn.Linear(1, 1).double()
    opt = torch.optim.LBFGS(d.parameters(), max_iter=200, line_search_fn="strong_wolfe")
    x = torch.cat([real, fake]).double()
    target = torch.cat([torch.ones(20_000), torch.zeros(20_000)]).double()

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(d(x).squeeze(1), target)
        loss.backward()
        return loss

    opt.step(closure)
    grid = torch.linspace(-3, 4, 50, dtype=torch.float64)
    trained = torch.sigmoid(d(grid[:, None]).squeeze(1)).detach()
    closed = theory.optimal_discriminator(normal_pdf(grid, 0.0, 1.0), normal_pdf(grid, 1.0, 1.0))
    assert (trained - closed).abs().max() < 0.03
    logit = theory.optimal_discriminator_logit(torch.log(normal_pdf(grid, 0, 1)), torch.log(normal_pdf(grid, 1, 1)))
    torch.testing.assert_close(logit, 0.5 - grid)


def test_optimal_discriminator_edge_cases_and_bad_input():
    d = theory.optimal_discriminator(torch.tensor([0.0, 1.0, 0.0, 2.0]), torch.tensor([0.0, 0.0, 3.0, 2.0]))
    torch.testing.assert_close(d, torch.tensor([0.5, 1.0, 0.0, 0.5]))
    with pytest.raises(ValueError, match="non-negative"):
        theory.optimal_discriminator(torch.tensor([-1.0]), torch.tensor([1.0]))


# ---------------------------------------------------------------- JSD and C(G)


def test_jsd_properties():
    p, q = normal_pdf(X, 0.0, 1.0), normal_pdf(X, 2.0, 0.5)
    assert abs(theory.js_divergence(p, p, X).item()) < 1e-12  # identical -> 0
    jpq, jqp = theory.js_divergence(p, q, X), theory.js_divergence(q, p, X)
    torch.testing.assert_close(jpq, jqp)  # symmetric
    assert 0 < jpq < math.log(2)
    # disjoint supports -> log 2, the maximum
    a = ((X > -3) & (X < -1)).double() / 2.0
    b = ((X > 1) & (X < 3)).double() / 2.0
    assert abs(theory.js_divergence(a, b, X).item() - math.log(2)) < 5e-3
    # far-apart Gaussians -> log 2 too
    far = theory.js_divergence(normal_pdf(X, -8, 0.5), normal_pdf(X, 8, 0.5), X)
    assert abs(far.item() - math.log(2)) < 1e-9


def test_kl_matches_gaussian_closed_form():
    mu1, s1, mu2, s2 = 0.3, 0.8, -0.5, 1.3
    exact = math.log(s2 / s1) + (s1**2 + (mu1 - mu2) ** 2) / (2 * s2**2) - 0.5
    numeric = theory.kl_divergence(normal_pdf(X, mu1, s1), normal_pdf(X, mu2, s2), X)
    assert abs(numeric.item() - exact) < 1e-8


def test_wasserstein_1d_closed_forms_and_contrast_with_jsd():
    p = normal_pdf(X, 0.0, 0.2)
    for theta in (0.0, 0.5, 3.0, -6.0):
        w = theory.wasserstein_1d(p, normal_pdf(X, theta, 0.2), X)
        assert abs(w.item() - abs(theta)) < 1e-4  # a shift by theta moves all mass by |theta|
    # different widths, same mean: W1 = |s1 - s2| * E|N(0, 1)| = |s1 - s2| sqrt(2 / pi)
    w = theory.wasserstein_1d(normal_pdf(X, 0, 1.0), normal_pdf(X, 0, 2.0), X)
    assert abs(w.item() - math.sqrt(2 / math.pi)) < 1e-4
    # far apart: the JSD is flat at log 2, W1 still grows
    j3, j6 = (theory.js_divergence(p, normal_pdf(X, t, 0.2), X).item() for t in (3.0, 6.0))
    assert abs(j3 - j6) < 1e-9 and abs(j6 - math.log(2)) < 1e-9
    with pytest.raises(ValueError, match="non-negative"):
        theory.wasserstein_1d(-p, p, X)


def test_c_of_g_equals_minus_log4_plus_two_jsd():
    p_data = gaussian_mixture_1d(means=(-2.0, 2.0), stds=(0.5, 0.5)).prob(X[:, None])
    p_g = normal_pdf(X, 0.0, 1.5)
    via_jsd = theory.virtual_training_criterion(p_data, p_g, X)  # Eq. (6)
    via_value = theory.value_at_optimum(p_data, p_g, X)  # Eq. (4)
    assert abs(via_jsd.item() - via_value.item()) < 1e-8
    assert -math.log(4) < via_jsd.item() < 0
    # Monte Carlo estimate of Eq. (1) with D* agrees within sampling error
    gen = torch.Generator().manual_seed(0)
    mixture = gaussian_mixture_1d(means=(-2.0, 2.0), stds=(0.5, 0.5))
    real = mixture.sample(200_000, rng=gen).double().squeeze(1)
    fake = 1.5 * torch.randn(200_000, generator=gen, dtype=torch.float64)

    def d_star(x):
        return theory.optimal_discriminator(mixture.prob(x[:, None]), normal_pdf(x, 0.0, 1.5))

    mc = theory.value_function(d_star(real), d_star(fake))
    assert abs(mc.item() - via_jsd.item()) < 0.01
    # the global minimum: p_g = p_data gives exactly -log 4
    assert abs(theory.virtual_training_criterion(p_data, p_data, X).item() + math.log(4)) < 1e-10


def test_value_function_from_logits_matches_probabilities():
    gen = torch.Generator().manual_seed(1)
    real_logits, fake_logits = torch.randn(100, generator=gen), torch.randn(100, generator=gen)
    v_prob = theory.value_function(torch.sigmoid(real_logits), torch.sigmoid(fake_logits))
    v_logit = theory.value_function_logits(real_logits, fake_logits)
    torch.testing.assert_close(v_prob, v_logit)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    expected = -(bce(real_logits, torch.ones(100)) + bce(fake_logits, torch.zeros(100)))
    torch.testing.assert_close(v_logit, expected)
    with pytest.raises(ValueError, match="probabilities"):
        theory.value_function(real_logits * 10, torch.sigmoid(fake_logits))


def test_grid_input_is_checked():
    with pytest.raises(ValueError, match="increasing"):
        theory.js_divergence(torch.ones(3), torch.ones(3), torch.tensor([0.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="same grid"):
        theory.kl_divergence(torch.ones(3), torch.ones(4), torch.tensor([0.0, 1.0, 2.0]))


# ---------------------------------------------------------------- saturating vs non-saturating


def test_generator_loss_gradients_match_autograd():
    a = torch.linspace(-6, 6, 101, dtype=torch.float64, requires_grad=True)
    d = torch.sigmoid(a)
    curves = theory.generator_loss_gradients(d.detach())
    (g_sat,) = torch.autograd.grad(theory.saturating_generator_loss(d).sum(), a)
    (g_ns,) = torch.autograd.grad(theory.non_saturating_generator_loss(torch.sigmoid(a)).sum(), a)
    torch.testing.assert_close(curves.grad_saturating, g_sat)
    torch.testing.assert_close(curves.grad_non_saturating, g_ns)
    # w.r.t. the probability itself
    p = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64, requires_grad=True)
    (gp,) = torch.autograd.grad(theory.saturating_generator_loss(p).sum(), p)
    torch.testing.assert_close(theory.generator_loss_gradients(p.detach(), wrt="probability").grad_saturating, gp)
    with pytest.raises(ValueError, match="wrt"):
        theory.generator_loss_gradients(p.detach(), wrt="x")


def test_saturating_loss_stalls_when_the_discriminator_wins():
    curves = theory.generator_loss_gradients(torch.tensor([1e-3, 0.5, 0.999], dtype=torch.float64))
    # early training: D(G(z)) ~ 0 -> saturating gradient ~0, non-saturating ~ -1
    assert curves.grad_saturating[0].abs() < 1e-2 and curves.grad_non_saturating[0].abs() > 0.99
    # the two agree at D = 1/2, and both losses fall as D(G(z)) rises
    torch.testing.assert_close(curves.grad_saturating[1], curves.grad_non_saturating[1])
    assert (curves.saturating.diff() < 0).all() and (curves.non_saturating.diff() < 0).all()
