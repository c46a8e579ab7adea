r"""Toy distributions with known densities (1-D and 2-D Gaussian mixtures, a spiral) and how samples cover
their modes.

Small enough to train on in seconds, and the densities are known, so what a GAN learns can be compared with the
truth: the optimal discriminator of :mod:`sdgan_course.theory.gan`, the modes of a mixture (:func:`count_modes`).

Shape legend: n samples, D dimension (1 or 2), K mixture components.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch


class GaussianMixture:
    r"""An isotropic Gaussian mixture in D dimensions, with exact sampling and log-density.

    .. math:: p(x) = \sum_k \pi_k \, \mathcal{N}(x; \mu_k, \sigma_k^2 I)
    """

    def __init__(self, means, stds, weights=None):
        self.means = torch.as_tensor(means, dtype=torch.float64)  # (K, D)
        if self.means.ndim == 1:
            self.means = self.means[:, None]  # (K, 1)
        k = len(self.means)
        self.stds = torch.as_tensor(stds, dtype=torch.float64).expand(k).clone()  # (K,)
        w = torch.ones(k, dtype=torch.float64) if weights is None else torch.as_tensor(weights, dtype=torch.float64)
        if (w < 0).any() or (self.stds <= 0).any():
            raise ValueError("Mixture weights must be >= 0 and standard deviations > 0.")
        self.weights = w / w.sum()  # (K,)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, *, rng: torch.Generator | None = None, return_component: bool = False):
        """Draw ``n`` points, float32 ``(n, D)``; with ``return_component`` also the component index ``(n,)``."""
        comp = torch.multinomial(self.weights, n, replacement=True, generator=rng)  # (n,)
        noise = torch.randn(n, self.dim, generator=rng, dtype=torch.float64)  # (n, D)
        x = (self.means[comp] + self.stds[comp, None] * noise).float()  # (n, D)
        return (x, comp) if return_component else x

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) for points ``(n, D)`` (or ``(n,)`` when D = 1), computed in float64."""
        x = torch.as_tensor(x, dtype=torch.float64)
        if x.ndim == 1:
            x = x[:, None]  # (n, 1)
        sq = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)  # (n, K)
        var = self.stds**2  # (K,)
        log_n = -0.5 * sq / var - 0.5 * self.dim * torch.log(2 * math.pi * var)  # (n, K)
        return torch.logsumexp(log_n + torch.log(self.weights), dim=1)  # (n,)

    def prob(self, x: torch.Tensor) -> torch.Tensor:
        """p(x), float64 ``(n,)``."""
        return self.log_prob(x).exp()


def gaussian_mixture_1d(means=(-2.0, 2.0), stds=(0.5, 0.5), weights=None) -> GaussianMixture:
    """A 1-D Gaussian mixture (two well-separated bumps by default)."""
    return GaussianMixture(torch.as_tensor(means, dtype=torch.float64)[:, None], stds, weights)


def ring_of_gaussians(num_modes: int = 8, radius: float = 2.0, std: float = 0.05) -> GaussianMixture:
    """The classic 2-D benchmark: ``num_modes`` equal Gaussians evenly spaced on a circle."""
    angles = torch.arange(num_modes, dtype=torch.float64) * (2 * math.pi / num_modes)
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)  # (K, 2)
    return GaussianMixture(means, std)


def spiral(
    n: int, *, turns: float = 1.5, noise: float = 0.05, rng: torch.Generator | None = None
) -> torch.Tensor:
    """Points on a 2-D spiral (r grows with the angle) plus Gaussian noise, float32 ``(n, 2)``, roughly in [-2, 2].

    It has no closed-form density: a test of what a model can learn that a mixture formula cannot describe.
    """
    t = torch.rand(n, generator=rng, dtype=torch.float64).sqrt()  # (n,) uniform along the area
    angle = t * turns * 2 * math.pi
    r = 2.0 * t
    x = torch.stack([r * torch.cos(angle), r * torch.sin(angle)], dim=1)  # (n, 2)
    x = x + noise * torch.randn(n, 2, generator=rng, dtype=torch.float64)
    return x.float()


# ---------------------------------------------------------------- mode coverage


class ModeCoverage(NamedTuple):
    """How well samples cover the modes of a mixture (see :func:`count_modes`)."""

    modes_covered: int  # number of components with enough high-quality samples
    high_quality_fraction: float  # share of samples within num_std standard deviations of their nearest mode
    counts: torch.Tensor  # (K,) int64: high-quality samples per component


def count_modes(
    samples: torch.Tensor, mixture: GaussianMixture, *, num_std: float = 3.0, min_share: float = 0.05
) -> ModeCoverage:
    r"""Count the modes of ``mixture`` that ``samples`` (n, D) cover, and the fraction of high-quality samples.

    A sample is **high quality** when it lies within ``num_std`` standard deviations of the nearest component mean
    (the criterion of Srivastava et al. 2017, VEEGAN, arXiv:1705.07761; 3 std for the 2-D ring). A component is
    **covered** when at least ``min_share`` of the samples it would receive from a perfect generator
    (:math:`\pi_k n`) land on it with high quality — by default 5 % (13 of 2,000 samples for the ring of 8), so a
    few stray points do not count as a mode (``min_share=0`` counts a mode hit by a single sample).

    VEEGAN counts a mode as captured when it is the nearest mode of at least one high-quality sample, i.e.
    ``min_share=0``; the default threshold is stricter, so the course's mode counts are not comparable with the
    numbers in VEEGAN's tables (nor with those of PacGAN or Unrolled GAN, which use thresholds of their own).
    """
    samples = torch.as_tensor(samples).detach().to("cpu", torch.float64)
    if samples.ndim == 1 and mixture.dim == 1:
        samples = samples[:, None]  # (n, 1)
    if samples.ndim != 2 or samples.shape[1] != mixture.dim:
        raise ValueError(
            f"count_modes expects samples of shape (n, {mixture.dim}) for this {mixture.dim}-D mixture, "
            f"got {tuple(samples.shape)}."
        )
    if len(samples) == 0:
        raise ValueError("count_modes got no samples.")
    if num_std <= 0 or min_share < 0:
        raise ValueError(f"num_std must be > 0 and min_share >= 0, got num_std={num_std}, min_share={min_share}.")
    dist = torch.cdist(samples, mixture.means)  # (n, K)
    nearest_dist, nearest = dist.min(dim=1)  # (n,), (n,)
    high_quality = nearest_dist <= num_std * mixture.stds[nearest]  # (n,)
    k = len(mixture.means)
    counts = torch.bincount(nearest[high_quality], minlength=k)  # (K,)
    needed = torch.clamp(min_share * mixture.weights * len(samples), min=1.0)  # (K,)
    return ModeCoverage(int((counts >= needed).sum()), high_quality.double().mean().item(), counts)
