r"""Comparing images with images: SSIM (needs a reference), feature cosine similarity, nearest neighbours and the
memorisation check.

Shape legend: N, M image counts, k neighbours, C channels, H x W pixels, D = C*H*W pixels per image, F features.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from .features import MetricInputError, as_images, extract_features

# ---------------------------------------------------------------- feature similarity


@torch.no_grad()
def feature_cosine_similarity(images_a, images_b, classifier, *, batch_size: int = 500) -> torch.Tensor:
    """Cosine similarity of the classifier features of image pairs ``images_a[i]``, ``images_b[i]``; returns (N,)."""
    a, b = as_images(images_a, name="images_a"), as_images(images_b, name="images_b")
    if a.shape != b.shape:
        raise MetricInputError(f"Image pairs need equal shapes; got {tuple(a.shape)} and {tuple(b.shape)}.")
    fa = extract_features(a, classifier, batch_size=batch_size).features  # (N, F)
    fb = extract_features(b, classifier, batch_size=batch_size).features  # (N, F)
    return F.cosine_similarity(fa, fb, dim=1)  # (N,)


# ---------------------------------------------------------------- memorisation


class Neighbours(NamedTuple):
    distances: torch.Tensor  # (N, k) root-mean-square pixel distance, ascending
    indices: torch.Tensor  # (N, k) indices into the reference set


@torch.no_grad()
def nearest_neighbours(queries, references, *, k: int = 1, batch_size: int = 1000) -> Neighbours:
    """The k nearest reference images of each query image, by RMS pixel distance in the model range
    (``||x - y|| / sqrt(D)`` with D = C*H*W pixels: 0 = identical, 2 = exact negative)."""
    q = as_images(queries, name="queries").flatten(1)  # (N, D)
    r = as_images(references, name="references").flatten(1)  # (M, D)
    if k > len(r):
        raise MetricInputError(f"k={k} neighbours asked from only {len(r)} references.")
    r_sq = r.square().sum(1)  # (M,)
    dists, idxs = [], []
    for start in range(0, len(q), batch_size):
        qb = q[start : start + batch_size]  # (B, D)
        d2 = qb.square().sum(1, keepdim=True) + r_sq[None] - 2 * qb @ r.T  # (B, M)
        vals, idx = d2.clamp_min(0).topk(k, dim=1, largest=False)  # (B, k)
        dists.append((vals / q.shape[1]).sqrt())
        idxs.append(idx)
    return Neighbours(torch.cat(dists), torch.cat(idxs))


class Memorisation(NamedTuple):
    """Nearest-training-image distances of generated samples, against held-out real images as a baseline."""

    sample_distances: torch.Tensor  # (N,) RMS distance of each sample to its nearest training image
    sample_indices: torch.Tensor  # (N,) index of that training image
    baseline_distances: torch.Tensor  # (M,) the same for held-out real images (which cannot be copies)
    threshold: float  # the baseline's 1% quantile: closer than this looks like a copy
    copy_fraction: float  # fraction of samples closer than the threshold (about 0.01 expected)
    median_ratio: float  # median sample distance / median baseline distance (well below 1: suspicious)


def memorisation_check(samples, train_images, heldout_images, *, quantile: float = 0.01) -> Memorisation:
    """Does the generator copy its training set? Compare each sample's nearest-training-image distance with the same
    distance for held-out real images: a model that memorises puts many samples closer than real held-out images
    ever get (the ``quantile`` of their distances)."""
    s = nearest_neighbours(samples, train_images, k=1)
    b = nearest_neighbours(heldout_images, train_images, k=1).distances[:, 0]  # (M,)
    threshold = float(torch.quantile(b, quantile))
    d = s.distances[:, 0]  # (N,)
    return Memorisation(
        d, s.indices[:, 0], b, threshold, float((d < threshold).float().mean()), float(d.median() / b.median())
    )


# ---------------------------------------------------------------- SSIM


def gaussian_window(size: int = 11, sigma: float = 1.5, *, dtype=torch.float64) -> torch.Tensor:
    """Normalised 2-D Gaussian window (size, size)."""
    coords = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]  # (size, size)


def ssim(
    x, y, *, window_size: int = 11, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03, reduction: str = "mean"
) -> torch.Tensor:
    r"""Structural similarity of each image pair (Wang et al. 2004, IEEE TIP 13(4), eq. 13, Gaussian window of
    Sec. III-C):

    .. math:: \mathrm{SSIM}(x, y) = \frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}{(\mu_x^2 + \mu_y^2 + C_1)
              (\sigma_x^2 + \sigma_y^2 + C_2)}, \quad C_1 = (K_1 L)^2,\ C_2 = (K_2 L)^2

    computed in every 11x11 window (Gaussian weights, sigma 1.5; 'valid' positions only, as Wang's reference code)
    and averaged over the map (the paper's MSSIM, eq. 17). Images are compared in [0, 1] (L = 1). Inputs: pairs of
    images in [-1, 1] or uint8, (N, H, W) or (N, C, H, W). Returns (N,) (``reduction="none"``) or the mean.

    SSIM needs a *reference* image: it says how close ``y`` is to ``x``, never whether ``y`` alone looks real.
    """
    a, b = as_images(x, name="x"), as_images(y, name="y")
    if a.shape != b.shape:
        raise MetricInputError(f"SSIM compares image pairs of equal shape; got {tuple(a.shape)} and {tuple(b.shape)}.")
    if a.device.type == "mps":  # Apple GPUs have no float64
        a, b = a.cpu(), b.cpu()
    a, b = (a.double() + 1) / 2, (b.double() + 1) / 2  # (N, C, H, W) in [0, 1], L = 1
    channels = a.shape[1]
    w = gaussian_window(window_size, sigma).to(a.device)[None, None].repeat(channels, 1, 1, 1)  # (C, 1, s, s)
    c1, c2 = k1**2, k2**2

    def blur(t):
        return F.conv2d(t, w, groups=channels)  # (N, C, H-s+1, W-s+1), each channel on its own

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    per_image = (num / den).flatten(1).mean(1).float()  # (N,)
    if reduction == "none":
        return per_image
    if reduction == "mean":
        return per_image.mean()
    raise MetricInputError(f"reduction must be 'mean' or 'none', got {reduction!r}.")
