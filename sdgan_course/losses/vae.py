r"""VAE losses: the Gaussian KL, the ELBO (nats and bits per dimension), β, and the KL-autoencoder loss of latent
diffusion (L1 + perceptual + KL + adaptive patch-adversarial hinge).

**The ELBO** (Kingma and Welling 2013, arXiv:1312.6114, eq. 3; its per-datapoint estimator with the KL in closed
form is their eq. 7, the KL itself their appendix B):

.. math:: \log p_\theta(x) \ge \mathcal{L}(x) = \mathbb{E}_{q_\phi(z|x)}[\log p_\theta(x|z)]
          - D_{KL}(q_\phi(z|x) \,\|\, p(z)),

.. math:: D_{KL}(\mathcal{N}(\mu, \sigma^2) \,\|\, \mathcal{N}(0, 1)) = \tfrac12 \sum_j (\mu_j^2 + \sigma_j^2 - 1
          - \log\sigma_j^2).

The β-VAE (Higgins et al. 2017, ICLR, eq. 4) minimises :math:`-\mathbb{E}[\log p(x|z)] + \beta D_{KL}`: β > 1 buys a
smoother, more regular latent space with blurrier reconstructions, β < 1 the reverse. Since :math:`D_{KL} \ge 0`,
:math:`\mathbb{E}[\log p(x|z)] - \beta D_{KL} \le \mathcal{L}(x) \le \log p(x)` for every β ≥ 1: still a lower
bound on :math:`\log p(x)`, a looser one the larger β is; β = 1 is the tightest of the family (the ELBO itself).
For β < 1 the objective exceeds the ELBO by :math:`(1-\beta) D_{KL}` and is in general not a bound: at the true
posterior, where the ELBO equals :math:`\log p(x)`, it lies above :math:`\log p(x)`.

**Which likelihood.** The numbers of the literature (e.g. about -85 nats on MNIST) are Bernoulli log-likelihoods of
*binarised* MNIST. :func:`bernoulli_nll` is that likelihood; this course applies it to images binarised by
:func:`binarize` (Fashion-MNIST or the course's 10,000 MNIST digits), so its nats are those of *that* binary data set,
not comparable to published MNIST numbers. :func:`gaussian_nll` is a Gaussian density of fixed σ on continuous
pixels: a density, not a probability, so its "bits per dimension" depend on σ and the pixel scale and are not
comparable with discrete models either. :func:`bits_per_dim` converts: nats / (D ln 2).

**The KL-autoencoder loss** of Stable Diffusion (Rombach et al. 2022, arXiv:2112.10752, section 3.1 and appendix G;
the CompVis ``LPIPSWithDiscriminator`` of ``ldm/modules/losses/contperceptual.py``, after Esser et al. 2021,
arXiv:2012.09841, eq. 7):

.. math:: L_{AE} = \underbrace{\textstyle\sum_{pixels} \big(|x - \hat x| + w_p\, d_{perc}(x, \hat x)\big)}_{L_{rec}}
          + w_{KL} D_{KL} + \lambda\, w_{adv}\, \mathbb{1}[\text{step} \ge s_0]\, L_{GAN},\quad
          L_{GAN} = -\mathbb{E}[D(\hat x)],

summed per image and averaged over the batch, with ``kl_weight`` :math:`w_{KL}` = 1e-6, ``perceptual_weight``
:math:`w_p` = 1, ``disc_weight`` :math:`w_{adv}` = 0.5, and the adaptive weight (Esser et al. 2021, eq. 7)

.. math:: \lambda = \frac{\lVert \nabla_{G_L} L_{rec} \rVert}{\lVert \nabla_{G_L} L_{GAN} \rVert + \delta},
          \quad \delta = 10^{-4}, \text{ clamped to } [0, 10^4],

measured at the decoder's last layer :math:`G_L`, so the adversarial term never swamps reconstruction. The patch
discriminator (the GAN track's DCGAN discriminator with ``patch=True``) is trained with the hinge loss
:math:`\tfrac12(\mathbb{E}[\mathrm{relu}(1 - D(x))] + \mathbb{E}[\mathrm{relu}(1 + D(\hat x))])` (the CompVis code's
``hinge_d_loss``, half of :func:`sdgan_course.losses.gan.discriminator_loss`'s hinge), both only from step
:math:`s_0` (``disc_start``) on. The CompVis loss also divides :math:`L_{rec}` by a learned scalar variance
:math:`e^{s}` and adds :math:`s`; ``AutoencoderKL``'s optimiser does not include that scalar, so it stays 0 and the
course leaves it out.

**Perceptual distance.** LPIPS (Zhang et al. 2018, arXiv:1801.03924) compares VGG features with learned weights; those
weights cannot be downloaded offline and VGG is built for 224 x 224 colour photographs, so
:class:`ClassifierPerceptualLoss` uses the course classifier's convolutional features instead, LPIPS-style
(unit-normalised over channels, squared difference, averaged over positions, summed over layers, no learned weights).

Shape legend: B batch, C channels, H x W pixels, D latent dimensions, F feature channels.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..distributed import unwrap
from ..models.vae import DiagonalGaussian, reparameterize
from .gan import discriminator_loss, generator_loss


def _flat_sum(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).sum(1)  # (B, ...) -> (B,)


# ---------------------------------------------------------------- KL


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r""":math:`D_{KL}(\mathcal{N}(\mu, \sigma^2) \| \mathcal{N}(0, I)) = \frac12 \sum_j (\mu_j^2 + \sigma_j^2 - 1 -
    \log\sigma_j^2)` per example (Kingma and Welling 2013, appendix B, negated).
    ``mu``, ``logvar``: (B, ...) -> (B,)."""
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}.")
    return 0.5 * _flat_sum(mu.float() ** 2 + logvar.float().exp() - 1.0 - logvar.float())


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r""":math:`\log \mathcal{N}(z; \mu, \mathrm{diag}\,\sigma^2)`, summed over all but the first dimension: (B,)."""
    return -0.5 * _flat_sum(math.log(2 * math.pi) + logvar + (z - mu) ** 2 / logvar.exp())


def kl_monte_carlo(mu: torch.Tensor, logvar: torch.Tensor, *, num_samples: int = 1000,
                   rng: torch.Generator | None = None) -> torch.Tensor:
    r"""Monte Carlo estimate of the same KL: :math:`\frac1S \sum_s [\log q(z_s|x) - \log p(z_s)]`,
    :math:`z_s \sim q(z|x)` by reparameterisation. The estimator that a VAE uses when no closed form exists
    (Kingma and Welling 2013, eq. 6); its standard error shrinks as :math:`1/\sqrt{S}`. Returns (B,)."""
    if num_samples <= 0:
        raise ValueError(f"num_samples must be positive, got {num_samples}.")
    mu, logvar = mu.double(), logvar.double()
    total = torch.zeros(mu.shape[0], dtype=torch.float64, device=mu.device)
    zeros = torch.zeros_like(mu)
    done = 0
    while done < num_samples:  # in chunks of up to 1,000 samples, drawn at once
        s = min(1000, num_samples - done)
        m, lv = mu.expand(s, *mu.shape), logvar.expand(s, *logvar.shape)  # (S, B, ...)
        z = reparameterize(m, lv, rng=rng)  # (S, B, ...)
        log_q = gaussian_log_density(z.flatten(0, 1), m.flatten(0, 1), lv.flatten(0, 1))  # (S*B,)
        prior = zeros.expand_as(m).flatten(0, 1)  # N(0, I): mean 0, log-variance 0
        log_p = gaussian_log_density(z.flatten(0, 1), prior, prior)
        total += (log_q - log_p).view(s, -1).sum(0)  # (B,)
        done += s
    return (total / num_samples).float()


# ---------------------------------------------------------------- likelihoods and the ELBO


def binarize(x: torch.Tensor, *, rng: torch.Generator | None = None, threshold: float = 0.0) -> torch.Tensor:
    """Images in [-1, 1] -> {0, 1}: by a fixed ``threshold`` (0 = mid-grey), or, with ``rng``, stochastically with
    P(1) = the pixel's intensity in [0, 1] (the "dynamically binarised MNIST" of the literature)."""
    if rng is not None:
        p = ((x + 1) / 2).clamp(0, 1)
        return (torch.rand(x.shape, generator=rng).to(x.device) < p).to(x.dtype)
    return (x > threshold).to(x.dtype)


def bernoulli_nll(logits: torch.Tensor, target01: torch.Tensor) -> torch.Tensor:
    r""":math:`-\log p(x|z) = -\sum_i [x_i \log s_i + (1 - x_i)\log(1 - s_i)]`, :math:`s = \mathrm{sigmoid}(\ell)`, for
    targets in {0, 1} (or [0, 1], as a cross-entropy): per example (B,), in nats."""
    return _flat_sum(F.binary_cross_entropy_with_logits(logits.float(), target01.float(), reduction="none"))


def gaussian_nll(mean: torch.Tensor, target: torch.Tensor, *, sigma: float = 0.1) -> torch.Tensor:
    r""":math:`-\log \mathcal{N}(x; \hat x, \sigma^2 I) = \sum_i \frac{(x_i - \hat x_i)^2}{2\sigma^2} + \log\sigma +
    \frac12\log 2\pi` per example (B,), in nats (a density: it depends on ``sigma`` and the pixel scale)."""
    sq = (target.float() - mean.float()) ** 2  # (B, C, H, W)
    return _flat_sum(sq / (2 * sigma**2) + math.log(sigma) + 0.5 * math.log(2 * math.pi))


def bits_per_dim(nats: torch.Tensor | float, num_dims: int) -> torch.Tensor | float:
    """Convert a negative log-likelihood in nats per example to bits per dimension: nats / (D ln 2)."""
    return nats / (num_dims * math.log(2))


class ELBOTerms(NamedTuple):
    """Per-batch means, in nats per example. ``loss`` = reconstruction + beta kl is what is minimised."""

    loss: torch.Tensor
    elbo: torch.Tensor  # -(reconstruction + kl): the bound itself (beta = 1, the tightest; -loss <= elbo for beta >= 1)
    reconstruction: torch.Tensor  # -E_q[log p(x|z)], one sample
    kl: torch.Tensor


def vae_loss(model: nn.Module, x: torch.Tensor, *, beta: float = 1.0, likelihood: str = "bernoulli",
             sigma: float = 0.1, rng: torch.Generator | None = None) -> ELBOTerms:
    r"""The negative ELBO of a :class:`~sdgan_course.models.vae.VAE` on images ``x`` (B, C, H, W) in [-1, 1], with one
    reparameterised sample (Kingma and Welling 2013, eq. 7) and weight β on the KL (Higgins et al. 2017).

    ``likelihood="bernoulli"``: ``x`` is binarised (threshold 0) and the decoder's outputs are logits;
    ``"gaussian"``: ``2 sigmoid(outputs) - 1`` are the means, in [-1, 1], of a Gaussian with fixed ``sigma``.
    """
    out = model(x, rng=rng)
    if likelihood == "bernoulli":
        rec = bernoulli_nll(out.logits, binarize(x))
    elif likelihood == "gaussian":
        rec = gaussian_nll(unwrap(model).mean_image(out.logits), x, sigma=sigma)  # unwrap: DDP hides methods
    else:
        raise ValueError(f"Unknown likelihood {likelihood!r}: use 'bernoulli' or 'gaussian'.")
    kl = gaussian_kl(out.posterior.mean, out.posterior.logvar)
    rec_m, kl_m = rec.mean(), kl.mean()
    return ELBOTerms(rec_m + beta * kl_m, -(rec_m + kl_m), rec_m, kl_m)


# ---------------------------------------------------------------- the KL-autoencoder loss


class ClassifierPerceptualLoss(nn.Module):
    r"""An LPIPS-style distance on the course classifier's convolutional features (frozen, eval mode):

    .. math:: d(x, \hat x) = \sum_l \frac{1}{h_l w_l} \sum_{h, w} \lVert \hat f^l_{hw}(x) - \hat f^l_{hw}(\hat x)
              \rVert_2^2,\qquad \hat f = f / (\lVert f \rVert_{channels} + 10^{-10}),

    over the outputs of its three convolution blocks (28, 14 and 7 pixels for 28 x 28 images); uniform layer weights
    where LPIPS (Zhang et al. 2018, eq. 1) learns them. Fully convolutional, like the autoencoder. Returns (B,).
    """

    def __init__(self, classifier: nn.Module):
        super().__init__()
        model = getattr(classifier, "model", classifier)  # a ClassifierInfo or the network
        self.blocks = nn.ModuleList(m for m in model.body if isinstance(m, nn.Sequential))
        self.pools = nn.ModuleList(m for m in model.body if isinstance(m, nn.MaxPool2d))
        self.requires_grad_(False).eval()

    def train(self, mode: bool = True):  # always eval: batch-norm statistics stay those of the classifier
        return super().train(False)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats, h = [], x
        for i, block in enumerate(self.blocks):
            h = block(h)  # (B, F_l, H_l, W_l)
            feats.append(h / (h.norm(dim=1, keepdim=True) + 1e-10))
            if i < len(self.pools):
                h = self.pools[i](h)
        return feats

    def forward(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        total = 0.0
        for a, b in zip(self.features(x), self.features(x_hat)):
            total = total + (a - b).pow(2).sum(dim=1).mean(dim=(1, 2))  # (B,)
        return total


def adaptive_weight(rec_loss: torch.Tensor, gan_loss: torch.Tensor, last_layer: torch.Tensor, *,
                    delta: float = 1e-4, max_weight: float = 1e4) -> torch.Tensor:
    r""":math:`\lambda = \lVert \nabla_{G_L} L_{rec} \rVert / (\lVert \nabla_{G_L} L_{GAN} \rVert + \delta)`, clamped
    to [0, ``max_weight``] and detached (Esser et al. 2021, arXiv:2012.09841, eq. 7; the CompVis
    ``calculate_adaptive_weight``). Both losses keep their graphs (``retain_graph=True``)."""
    g_rec = torch.autograd.grad(rec_loss, last_layer, retain_graph=True)[0]
    g_gan = torch.autograd.grad(gan_loss, last_layer, retain_graph=True)[0]
    return (g_rec.norm() / (g_gan.norm() + delta)).clamp(0.0, max_weight).detach()


class AutoencoderTerms(NamedTuple):
    """The autoencoder's loss and its parts (scalars; ``rec`` etc. summed per image, averaged over the batch)."""

    loss: torch.Tensor
    rec: torch.Tensor  # L1 + perceptual, summed over pixels
    l1: torch.Tensor  # mean absolute error per pixel (for reading)
    perceptual: torch.Tensor  # mean d_perc per image
    kl: torch.Tensor
    gan: torch.Tensor  # -E[D(x_hat)] (0 when the adversarial term is off)
    adaptive_weight: torch.Tensor  # lambda (0 when off)


def autoencoder_loss(
    x: torch.Tensor,
    x_hat: torch.Tensor,
    posterior: DiagonalGaussian,
    *,
    perceptual: nn.Module | None,
    discriminator: nn.Module | None,
    last_layer: torch.Tensor | None,
    adversarial: bool,
    kl_weight: float = 1e-6,
    perceptual_weight: float = 1.0,
    disc_weight: float = 0.5,
) -> AutoencoderTerms:
    r"""The autoencoder's side of the loss in the module docstring, for ``x``, ``x_hat`` (B, C, H, W).

    ``adversarial`` says whether the GAN term is on (step >= disc_start and a discriminator is given); the adaptive
    weight needs ``last_layer``.
    """
    l1 = (x - x_hat).abs()  # (B, C, H, W)
    p = perceptual(x, x_hat) if perceptual is not None and perceptual_weight > 0 else x.new_zeros(x.shape[0])  # (B,)
    rec = (_flat_sum(l1) + perceptual_weight * p * l1[0].numel()).mean()  # p broadcast over every pixel, as CompVis
    kl = gaussian_kl(posterior.mean, posterior.logvar).mean()
    zero = x.new_zeros(())
    gan, lam = zero, zero
    if adversarial:
        if discriminator is None or last_layer is None:
            raise ValueError("The adversarial term needs a discriminator and the decoder's last layer.")
        gan = generator_loss("hinge", discriminator(x_hat))  # -E[D(x_hat)]; D's parameters are not stepped here
        lam = adaptive_weight(rec, gan, last_layer) * disc_weight
    loss = rec + kl_weight * kl + lam * gan
    return AutoencoderTerms(loss, rec, l1.mean(), p.mean(), kl, gan, lam)


def patch_discriminator_loss(discriminator: nn.Module, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    r"""The patch discriminator's hinge loss on real ``x`` and **detached** reconstructions:
    :math:`\tfrac12(\mathbb{E}[\mathrm{relu}(1 - D(x))] + \mathbb{E}[\mathrm{relu}(1 + D(\hat x))])`, averaged over
    every patch logit (CompVis ``hinge_d_loss``)."""
    return 0.5 * discriminator_loss("hinge", discriminator(x.detach()), discriminator(x_hat.detach()))


__all__ = [
    "AutoencoderTerms", "ClassifierPerceptualLoss", "ELBOTerms", "adaptive_weight", "autoencoder_loss",
    "bernoulli_nll", "binarize", "bits_per_dim", "gaussian_kl", "gaussian_log_density", "gaussian_nll",
    "kl_monte_carlo", "patch_discriminator_loss", "vae_loss",
]
