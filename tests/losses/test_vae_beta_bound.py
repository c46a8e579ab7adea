r"""The β-ELBO and log p(x): for β ≥ 1 it is still a lower bound (a looser one: the KL is ≥ 0, so weighing it more
only lowers the value), β = 1 is the tightest of the family, and β < 1 is not a bound in general.

Checked on a model where log p(x) is known exactly, a linear Gaussian: z ~ N(0, 1), x | z ~ N(w z, σ² I) in D
dimensions, so p(x) = N(0, w wᵀ + σ² I) and the true posterior is Gaussian. The library's own terms are used: the
reconstruction -E_q[log p(x|z)] is :func:`gaussian_nll` at the mean plus its closed-form variance term, the KL is
:func:`gaussian_kl`."""

import math

import torch

from sdgan_course.losses.vae import gaussian_kl, gaussian_nll, vae_loss
from sdgan_course.models.vae import VAE, VAEConfig

SIGMA = 0.5


def beta_elbo(x, w, mu, logvar, beta):
    """-(reconstruction + β KL) for q(z|x) = N(mu, exp(logvar)), per example (B,), in float64."""
    rec = gaussian_nll(mu[:, None] * w, x, sigma=SIGMA).double()  # -log N(x; w mu, σ²) at the mean of q
    rec = rec + (w.double() ** 2).sum() * logvar.double().exp() / (2 * SIGMA**2)  # + E_q of the rest: w² s² / 2σ²
    return -(rec + beta * gaussian_kl(mu[:, None], logvar[:, None]).double())


def log_evidence(x, w):
    """log N(x; 0, w wᵀ + σ² I), exactly (float64)."""
    cov = torch.outer(w, w).double() + SIGMA**2 * torch.eye(len(w), dtype=torch.float64)
    return torch.distributions.MultivariateNormal(torch.zeros(len(w), dtype=torch.float64), cov).log_prob(x.double())


def test_beta_elbo_is_a_looser_bound_above_one_and_no_bound_below():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(6, generator=g)
    x = torch.randn(5, 6, generator=g) * 1.5  # (B, D)
    log_p = log_evidence(x, w)  # (B,)
    # the true posterior N(m, s²): s² = 1 / (1 + |w|²/σ²), m = s² wᵀx / σ²
    s2 = 1 / (1 + (w @ w) / SIGMA**2)
    m, lv = s2 * (x @ w) / SIGMA**2, torch.full((5,), math.log(s2))
    assert torch.allclose(beta_elbo(x, w, m, lv, 1.0), log_p, atol=1e-4)  # the ELBO is tight at the true posterior
    for shift, scale in [(0.0, 1.0), (0.3, 1.0), (-1.0, 2.0), (0.5, 0.2), (2.0, 5.0)]:  # other posteriors q
        mu, logvar = m + shift, lv + math.log(scale)
        e1, e2, e4 = (beta_elbo(x, w, mu, logvar, b) for b in (1.0, 2.0, 4.0))
        assert (e1 <= log_p + 1e-4).all()  # β = 1: a lower bound on log p(x)
        assert (e4 <= e2 + 1e-9).all() and (e2 <= e1 + 1e-9).all()  # β > 1: lower still, so still a bound
    kl = gaussian_kl(m[:, None], lv[:, None]).double()
    assert (kl > 0.1).all()
    assert (beta_elbo(x, w, m, lv, 0.5) > log_p + 0.05).all()  # β < 1 exceeds log p(x): not a bound


def test_vae_loss_with_beta_two_lies_below_the_elbo():
    torch.manual_seed(0)
    model = VAE(config=VAEConfig(image_shape=(1, 4, 4), hidden=(8,), latent_dim=2))
    x = torch.rand(6, 1, 4, 4) * 2 - 1
    one = vae_loss(model, x, beta=1.0, rng=torch.Generator().manual_seed(1))
    two = vae_loss(model, x, beta=2.0, rng=torch.Generator().manual_seed(1))  # the same sample of z
    assert torch.allclose(one.elbo, two.elbo) and torch.allclose(-one.loss, one.elbo)
    assert -two.loss <= -one.loss and one.kl > 0  # the β = 2 objective is below the ELBO, by exactly the KL
    assert torch.allclose(-two.loss, one.elbo - one.kl)
