r"""Metrics for generated images: FID, KID, precision/recall, an Inception-score analogue, class coverage,
memorisation, SSIM and feature similarity — all on the course classifier's 128-d features.

Why the course's own features: the standard FID uses Inception-v3 features of ImageNet photographs. On 28x28
greyscale garments the course classifier (:mod:`sdgan_course.classifier`, one per dataset, shipped with checksums) is a
better-suited, much faster feature network. Numbers are therefore comparable *within this course* (same classifier,
same checksum), never with FIDs in papers. :func:`inception_fid` computes the standard one when the ``pytorch-fid``
package and its weights are present, and otherwise says what is missing.

What each metric measures (and misses) is the subject of notebook 06.

Shape legend: N, M sample counts, F feature dimension (128), K classes (10), B batch, H = W = 28 pixels, D pixels
(784), S KID subset size.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .classifier import ClassifierInfo, load_classifier
from .data import cache_dir, data_dirs, load_images, to_model_range

# ---------------------------------------------------------------- input checks


class MetricInputError(ValueError):
    """Inputs of a metric have the wrong shape, dtype or range."""


def as_images(images, *, name: str = "images") -> torch.Tensor:
    """Check and convert images to float (N, 1, 28, 28) in the model range [-1, 1].

    Accepts uint8 arrays/tensors (N, 28, 28) or (N, 1, 28, 28) in [0, 255] (converted), or float tensors already in
    [-1, 1]. Float images outside [-1, 1] (e.g. [0, 255] floats) are refused with a message that says how to convert
    them. (Float images in [0, 1] pass this check unnoticed: only the bounds can be checked.)
    """
    x = torch.as_tensor(images)
    if x.ndim == 3:
        x = x.unsqueeze(1)  # (N, 1, H, W)
    if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        raise MetricInputError(
            f"{name} must have shape (N, 28, 28) or (N, 1, 28, 28); got {tuple(torch.as_tensor(images).shape)}."
        )
    if len(x) == 0:
        raise MetricInputError(f"{name} is empty.")
    if x.dtype == torch.uint8:
        return to_model_range(x)
    if not x.is_floating_point():
        raise MetricInputError(f"{name} must be uint8 [0, 255] or float in [-1, 1]; got dtype {x.dtype}.")
    lo, hi = x.min().item(), x.max().item()
    if lo < -1.001 or hi > 1.001 or not math.isfinite(lo + hi):
        raise MetricInputError(
            f"{name} must be in the model range [-1, 1]; got values in [{lo:.3g}, {hi:.3g}]. Convert uint8 pixels with "
            "sdgan_course.data.to_model_range (or x / 127.5 - 1), and [0, 1] images with 2 * x - 1."
        )
    return x.float()


def _as_features(x, name: str) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.ndim != 2 or len(x) == 0:
        raise MetricInputError(f"{name} must be a non-empty matrix (N, F) of features; got shape {tuple(x.shape)}.")
    if not torch.isfinite(x).all():
        raise MetricInputError(f"{name} contains NaN or infinite values.")
    return x.detach().cpu().double()  # cheap on the CPU, and float64 everywhere (Apple GPUs have no float64)


def _same_dim(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise MetricInputError(
            f"{what}: the two feature sets have different dimensions ({a.shape[1]} vs {b.shape[1]}); "
            "compute both with the same classifier."
        )


# ---------------------------------------------------------------- features


class FeatureSet(NamedTuple):
    """Classifier outputs for a set of images."""

    features: torch.Tensor  # (N, F) float32, on the CPU
    probs: torch.Tensor  # (N, K) float32 class probabilities, on the CPU


@torch.no_grad()
def extract_features(images, classifier, *, batch_size: int = 500) -> FeatureSet:
    """Run the course classifier over images (uint8 or [-1, 1]) in batches; returns features and class probabilities.

    ``classifier`` is a :class:`~sdgan_course.classifier.ClassifierInfo` or the model itself; batches go to the
    model's device.
    """
    model = classifier.model if isinstance(classifier, ClassifierInfo) else classifier
    x = as_images(images)
    device = next(model.parameters()).device
    model.eval()
    feats, probs = [], []
    for start in range(0, len(x), batch_size):
        out = model.features_and_logits(x[start : start + batch_size].to(device))
        feats.append(out.features.float().cpu())  # (B, F)
        probs.append(out.logits.float().softmax(-1).cpu())  # (B, K)
    return FeatureSet(torch.cat(feats), torch.cat(probs))  # (N, F), (N, K)


# ---------------------------------------------------------------- Fréchet distance (FID)


class GaussianStats(NamedTuple):
    """Mean and covariance of a feature set (float64)."""

    mu: torch.Tensor  # (F,)
    sigma: torch.Tensor  # (F, F)
    n: int


def feature_statistics(features) -> GaussianStats:
    """Mean and unbiased covariance (divides by N - 1) of features (N, F), in float64."""
    f = _as_features(features, "features")
    if len(f) < 2:
        raise MetricInputError("A covariance needs at least 2 samples.")
    mu = f.mean(0)  # (F,)
    centred = f - mu  # (N, F)
    sigma = centred.T @ centred / (len(f) - 1)  # (F, F)
    return GaussianStats(mu, sigma, len(f))


def sqrtm_psd(a: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix via ``torch.linalg.eigh`` (negative round-off
    eigenvalues are clipped to 0)."""
    a = 0.5 * (a + a.T)
    vals, vecs = torch.linalg.eigh(a)  # (F,), (F, F)
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.T  # (F, F)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    r"""Fréchet distance between two Gaussians (Dowson and Landau 1982); the FID of Heusel et al. 2017
    (arXiv:1706.08500, eq. 6) on course features:

    .. math:: d^2 = \lVert\mu_1 - \mu_2\rVert^2
              + \operatorname{Tr}\big(\Sigma_1 + \Sigma_2 - 2(\Sigma_1\Sigma_2)^{1/2}\big)

    :math:`\Sigma_1\Sigma_2` is not symmetric; its square root has the same trace as that of the symmetric PSD matrix
    :math:`\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}` (similar matrices), whose eigenvalues ``eigh`` finds stably.
    """
    mu1, mu2 = torch.as_tensor(mu1, dtype=torch.float64), torch.as_tensor(mu2, dtype=torch.float64)
    s1, s2 = torch.as_tensor(sigma1, dtype=torch.float64), torch.as_tensor(sigma2, dtype=torch.float64)
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise MetricInputError(
            f"frechet_distance needs mu (F,) and sigma (F, F) for both sets with the same F; got "
            f"{tuple(mu1.shape)}, {tuple(s1.shape)}, {tuple(mu2.shape)}, {tuple(s2.shape)}."
        )
    root1 = sqrtm_psd(s1)  # (F, F)
    middle = root1 @ s2 @ root1  # (F, F) symmetric PSD
    tr_covmean = torch.linalg.eigvalsh(0.5 * (middle + middle.T)).clamp_min(0).sqrt().sum()
    value = (mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * tr_covmean
    return float(value.clamp_min(0))


def fid_from_features(features_a, features_b) -> float:
    """FID between two feature sets (N, F) and (M, F); the stats of each set are fitted here."""
    a, b = _as_features(features_a, "features_a"), _as_features(features_b, "features_b")
    _same_dim(a, b, "FID")
    sa, sb = feature_statistics(a), feature_statistics(b)
    return frechet_distance(sa.mu, sa.sigma, sb.mu, sb.sigma)


# ---------------------------------------------------------------- KID


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""The KID kernel :math:`k(x, y) = (x^\top y / d + 1)^3` (Bińkowski et al. 2018, arXiv:1801.01401, Sec. 4)."""
    return (x @ y.T / x.shape[1] + 1.0) ** 3  # (N, M)


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor, kernel=polynomial_kernel) -> float:
    r"""Unbiased estimate of the squared MMD (Gretton et al. 2012, JMLR 13, eq. 3):

    .. math:: \widehat{\mathrm{MMD}}^2_u = \tfrac{1}{m(m-1)}\sum_{i\ne j}k(x_i,x_j)
              + \tfrac{1}{n(n-1)}\sum_{i\ne j}k(y_i,y_j) - \tfrac{2}{mn}\sum_{i,j}k(x_i,y_j)

    The diagonal terms :math:`k(x_i, x_i)` are left out; that is what makes it unbiased (it can be negative).
    """
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise MetricInputError("The unbiased MMD needs at least 2 samples in each set.")
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)  # (m, m), (n, n), (m, n)
    sum_xx = kxx.sum() - kxx.diagonal().sum()
    sum_yy = kyy.sum() - kyy.diagonal().sum()
    return float(sum_xx / (m * (m - 1)) + sum_yy / (n * (n - 1)) - 2 * kxy.sum() / (m * n))


class KID(NamedTuple):
    """Kernel Inception Distance (course-feature version): mean and standard deviation over random subsets."""

    mean: float
    std: float


def kid_from_features(
    features_a, features_b, *, num_subsets: int = 100, subset_size: int = 1000, generator: torch.Generator | None = None
) -> KID:
    """KID: the unbiased polynomial-kernel MMD² averaged over ``num_subsets`` random subsets of ``subset_size``
    (capped at the smaller set's size), as in Bińkowski et al. 2018 (arXiv:1801.01401). Unlike FID it is unbiased:
    its expectation does not depend on the number of samples."""
    a, b = _as_features(features_a, "features_a"), _as_features(features_b, "features_b")
    _same_dim(a, b, "KID")
    s = min(subset_size, len(a), len(b))
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    values = []
    for _ in range(num_subsets):
        ia = torch.randperm(len(a), generator=generator)[:s]  # (S,)
        ib = torch.randperm(len(b), generator=generator)[:s]  # (S,)
        values.append(mmd2_unbiased(a[ia], b[ib]))
    v = torch.tensor(values, dtype=torch.float64)
    return KID(float(v.mean()), float(v.std()) if len(v) > 1 else 0.0)


# ---------------------------------------------------------------- precision and recall


def _pairwise_distances(a: torch.Tensor, b: torch.Tensor, *, chunk: int = 1024) -> torch.Tensor:
    return torch.cat([torch.cdist(a[i : i + chunk], b) for i in range(0, len(a), chunk)])  # (N, M)


def knn_radii(features: torch.Tensor, k: int = 3) -> torch.Tensor:
    """Distance from each point to its k-th nearest neighbour in the same set (itself excluded): the ball radii of
    the k-NN manifold estimate."""
    if len(features) <= k:
        raise MetricInputError(f"k-NN radii with k={k} need more than {k} points; got {len(features)}.")
    dist = _pairwise_distances(features, features)  # (N, N)
    return dist.kthvalue(k + 1, dim=1).values  # (N,) the 1st smallest is the point itself (distance 0)


def manifold_membership(queries: torch.Tensor, support: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    r"""Kynkäänniemi et al. 2019 (arXiv:1904.06991), eq. 1: :math:`f(\phi, \Phi) = 1` if
    :math:`\lVert\phi - \phi'\rVert \le \lVert\phi' - \mathrm{NN}_k(\phi', \Phi)\rVert` for at least one
    :math:`\phi' \in \Phi`. Returns a bool per query (N,)."""
    dist = _pairwise_distances(queries, support)  # (N, M)
    return (dist <= radii[None, :]).any(dim=1)  # (N,)


class PrecisionRecall(NamedTuple):
    """Improved precision (fraction of generated samples on the real manifold: quality) and recall (fraction of real
    samples on the generated manifold: coverage)."""

    precision: float
    recall: float


def precision_recall(real_features, fake_features, *, k: int = 3) -> PrecisionRecall:
    r"""Improved precision and recall (Kynkäänniemi et al. 2019, arXiv:1904.06991, eq. 2):

    .. math:: \mathrm{precision} = \tfrac{1}{|\Phi_g|}\sum_{\phi_g} f(\phi_g, \Phi_r), \qquad
              \mathrm{recall} = \tfrac{1}{|\Phi_r|}\sum_{\phi_r} f(\phi_r, \Phi_g)

    with each manifold the union of balls reaching every point's k-th nearest neighbour (k = 3 in the paper).
    Use equal, fairly large set sizes: both numbers depend on them.
    """
    real = _as_features(real_features, "real_features").float()
    fake = _as_features(fake_features, "fake_features").float()
    _same_dim(real, fake, "precision/recall")
    precision = manifold_membership(fake, real, knn_radii(real, k)).float().mean()
    recall = manifold_membership(real, fake, knn_radii(fake, k)).float().mean()
    return PrecisionRecall(float(precision), float(recall))


class DensityCoverage(NamedTuple):
    """Outlier-robust cousins of precision and recall (Naeem et al. 2020)."""

    density: float  # about 1 when the samples are distributed like the real data; can exceed 1
    coverage: float  # fraction of real points whose ball holds at least one sample, in [0, 1]


def density_coverage(real_features, fake_features, *, k: int = 5) -> DensityCoverage:
    r"""Density and coverage (Naeem et al. 2020, arXiv:2002.09797, eqs. 4 and 5), with real k-NN balls only:

    .. math:: \mathrm{density} = \frac{1}{kM}\sum_{j=1}^{M}\sum_{i=1}^{N} 1[Y_j \in B(X_i, r_i)], \qquad
              \mathrm{coverage} = \frac{1}{N}\sum_{i=1}^{N} 1[\exists j: Y_j \in B(X_i, r_i)]

    Density counts *how many* real balls hold each sample, so a few oversized balls around real outliers cannot make
    unrealistic samples look good; coverage asks whether each real point has a sample nearby, which is robust to
    outlying *samples*. Only the real set's balls are used.
    """
    real = _as_features(real_features, "real_features").float()
    fake = _as_features(fake_features, "fake_features").float()
    _same_dim(real, fake, "density/coverage")
    radii = knn_radii(real, k)  # (N,)
    inside = torch.cat([torch.cdist(fake[i : i + 1024], real) <= radii[None] for i in range(0, len(fake), 1024)])
    density = inside.float().sum() / (k * len(fake))  # inside: (M, N)
    coverage = inside.any(0).float().mean()
    return DensityCoverage(float(density), float(coverage))


# ---------------------------------------------------------------- classifier-based scores


class InceptionScore(NamedTuple):
    mean: float
    std: float


def inception_score(probs, *, splits: int = 10) -> InceptionScore:
    r"""Inception-score analogue on the course classifier (Salimans et al. 2016, arXiv:1606.03498, Sec. 4):

    .. math:: \mathrm{IS} = \exp\big(\mathbb{E}_x\, \mathrm{KL}(p(y\mid x)\,\Vert\, p(y))\big)

    It ranges from 1 (every sample gets the same prediction, or every prediction is uniform) to K (confident and
    evenly spread over the K classes). It never looks at real data. Mean and std over ``splits`` chunks.
    """
    p = torch.as_tensor(probs, dtype=torch.float64)
    if p.ndim != 2 or len(p) < splits:
        raise MetricInputError(f"probs must be (N, K) with N >= splits={splits}; got shape {tuple(p.shape)}.")
    if (p < -1e-6).any() or not torch.allclose(p.sum(1), torch.ones(len(p), dtype=torch.float64), atol=1e-4):
        raise MetricInputError("probs must be probabilities: non-negative rows that sum to 1 (apply softmax first).")
    scores = []
    for chunk in p.chunk(splits):
        py = chunk.mean(0, keepdim=True)  # (1, K)
        kl = (chunk * (torch.log(chunk.clamp_min(1e-12)) - torch.log(py.clamp_min(1e-12)))).sum(1)  # (n,)
        scores.append(kl.mean().exp())
    s = torch.stack(scores)
    return InceptionScore(float(s.mean()), float(s.std()) if splits > 1 else 0.0)


class ClassCoverage(NamedTuple):
    """How the predicted classes of a sample set are spread."""

    histogram: torch.Tensor  # (K,) fraction of samples predicted as each class
    entropy: float  # nats; log K = perfectly even
    normalised_entropy: float  # entropy / log K, in [0, 1]
    classes_covered: int  # classes that receive at least half their fair share 1/(2K)
    label_agreement: float | None  # with intended labels (>= 0): fraction where the classifier agrees


def class_coverage(probs, *, labels=None) -> ClassCoverage:
    """Histogram of the classifier's predicted classes, its entropy and, for class-conditional samples, how often the
    predicted class equals the requested label."""
    p = torch.as_tensor(probs, dtype=torch.float64)
    if p.ndim != 2:
        raise MetricInputError(f"probs must be (N, K); got shape {tuple(p.shape)}.")
    k = p.shape[1]
    pred = p.argmax(1)  # (N,)
    hist = torch.bincount(pred, minlength=k).double() / len(pred)  # (K,)
    nz = hist[hist > 0]
    entropy = float(-(nz * nz.log()).sum())
    agreement = None
    if labels is not None:
        labels = torch.as_tensor(labels).long().flatten()
        if len(labels) != len(pred):
            raise MetricInputError(f"{len(labels)} labels for {len(pred)} samples.")
        known = labels >= 0  # -1 marks "no requested label" (samples of an unconditional model)
        if known.any():
            agreement = float((labels[known] == pred[known]).double().mean())
    return ClassCoverage(hist.float(), entropy, entropy / math.log(k), int((hist >= 0.5 / k).sum()), agreement)


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
    (``||x - y|| / sqrt(784)``: 0 = identical, 2 = exact negative)."""
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
    images in [-1, 1] or uint8, (N, 28, 28) or (N, 1, 28, 28). Returns (N,) (``reduction="none"``) or the mean.

    SSIM needs a *reference* image: it says how close ``y`` is to ``x``, never whether ``y`` alone looks real.
    """
    a, b = as_images(x, name="x"), as_images(y, name="y")
    if a.shape != b.shape:
        raise MetricInputError(f"SSIM compares image pairs of equal shape; got {tuple(a.shape)} and {tuple(b.shape)}.")
    if a.device.type == "mps":  # Apple GPUs have no float64
        a, b = a.cpu(), b.cpu()
    a, b = (a.double() + 1) / 2, (b.double() + 1) / 2  # (N, 1, H, W) in [0, 1], L = 1
    w = gaussian_window(window_size, sigma).to(a.device)[None, None]  # (1, 1, s, s)
    c1, c2 = k1**2, k2**2

    def blur(t):
        return F.conv2d(t, w)  # (N, 1, H-s+1, W-s+1)

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


# ---------------------------------------------------------------- adversarial evaluation (two-sample test)


class TwoSampleResult(NamedTuple):
    """Held-out accuracy of a fresh classifier trained to tell real from generated images."""

    accuracy: float  # 0.5 = indistinguishable, 1.0 = always told apart
    std_error: float  # binomial standard error of that accuracy under the null (0.5)
    num_test: int


def classifier_two_sample_test(
    real,
    fake,
    *,
    steps: int = 300,
    batch_size: int = 64,
    test_fraction: float = 0.3,
    width: int = 8,
    lr: float = 2e-3,
    seed: int = 0,
    device=None,
) -> TwoSampleResult:
    r"""Classifier two-sample test (Lopez-Paz and Oquab 2017, arXiv:1610.06545, Sec. 3): train a small, fresh CNN to
    label real images 1 and generated images 0 on part of the data, and report its accuracy on the rest.

    Under the null hypothesis :math:`p_{data} = p_g` the held-out accuracy is 1/2 with standard error
    :math:`\sqrt{1/(4 n_{test})}`; the further above 1/2, the easier the fakes are to spot. It is the discriminator's
    job done again, after training, by a judge the generator never fooled. Uses equal numbers of real and fake images.
    """
    from .classifier import ClassifierConfig, CourseClassifier

    r, f = as_images(real, name="real"), as_images(fake, name="fake")
    n = min(len(r), len(f))
    n_test = max(1, int(round(test_fraction * n)))
    if n - n_test < 2:
        raise MetricInputError(f"The two-sample test needs more images; got {len(r)} real and {len(f)} fake.")
    gen = torch.Generator().manual_seed(seed)
    r, f = r[torch.randperm(len(r), generator=gen)[:n]], f[torch.randperm(len(f), generator=gen)[:n]]
    x_train = torch.cat([r[n_test:], f[n_test:]])  # (2(n - n_test), 1, 28, 28)
    y_train = torch.cat([torch.ones(n - n_test), torch.zeros(n - n_test)]).long()
    x_test = torch.cat([r[:n_test], f[:n_test]])  # (2 n_test, 1, 28, 28)
    y_test = torch.cat([torch.ones(n_test), torch.zeros(n_test)]).long()
    device = torch.device(device or "cpu")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CourseClassifier(config=ClassifierConfig(num_classes=2, width=width, feature_dim=32, dropout=0.0))
    model = model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)  # a model this small only loses time synchronising threads (much more on a busy CPU)
    try:
        for _ in range(steps):
            idx = torch.randint(0, len(x_train), (min(batch_size, len(x_train)),), generator=gen)  # (B,)
            loss = F.cross_entropy(model(x_train[idx].to(device)), y_train[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            chunks = [x_test[i : i + 500].to(device) for i in range(0, len(x_test), 500)]
            pred = torch.cat([model(chunk).argmax(1).cpu() for chunk in chunks])  # (2 n_test,)
    finally:
        torch.set_num_threads(threads)
    return TwoSampleResult(float((pred == y_test).float().mean()), math.sqrt(0.25 / len(y_test)), len(y_test))


# ---------------------------------------------------------------- reference statistics (cached)


class ReferenceStats(NamedTuple):
    """Statistics of a real split under one classifier: Gaussian fit of all its features, plus the features and
    class probabilities of a fixed subset (for KID and precision/recall)."""

    mu: torch.Tensor  # (F,) float64
    sigma: torch.Tensor  # (F, F) float64
    n: int  # images in the split
    features: torch.Tensor  # (M, F) float32, a fixed subset
    probs: torch.Tensor  # (M, K) float32
    dataset: str
    split: str
    classifier_sha256: str


def reference_file_name(dataset: str, split: str, sha256: str) -> str:
    return f"reference_{dataset}_{split}_{sha256[:12]}.npz"


def _reference_locations(name: str) -> list[Path]:
    return [d / "classifiers" / name for d in data_dirs()] + [cache_dir() / "reference_stats" / name]


def reference_statistics(
    dataset: str,
    split: str = "train",
    *,
    classifier: ClassifierInfo | None = None,
    num_features: int = 5000,
    device=None,
    cache: bool = True,
    verbose: bool = False,
) -> ReferenceStats:
    """Real-data statistics for FID/KID/PR, computed once and cached in a file keyed by the classifier's SHA-256.

    The file ``reference_<dataset>_<split>_<sha[:12]>.npz`` is looked for in ``data/classifiers/`` (shipped) and in
    the user cache; if none matches it is computed (mean and covariance of all the split's features: seconds to a
    minute on a CPU) and written to the user cache. A file made with another classifier is never used: its name and
    its stored checksum both have to match. ``num_features`` real images (a fixed, seeded subset) keep their features.
    """
    classifier = classifier or load_classifier(dataset, device=device)
    key = classifier.dataset
    name = reference_file_name(key, split, classifier.sha256)
    for path in _reference_locations(name):
        if path.is_file():
            try:
                with np.load(path) as z:
                    ok = str(z["classifier_sha256"]) == classifier.sha256 and len(z["features"]) >= num_features
                    if ok:
                        return ReferenceStats(
                            torch.from_numpy(z["mu"]), torch.from_numpy(z["sigma"]), int(z["n"]),
                            torch.from_numpy(z["features"][:num_features].astype(np.float32)),
                            torch.from_numpy(z["probs"][:num_features].astype(np.float32)),
                            key, split, classifier.sha256,
                        )  # fmt: skip
            except (OSError, ValueError, KeyError):
                pass  # unreadable or old cache file: recompute below
    start = time.perf_counter()
    real = load_images(key, split)
    fs = extract_features(real.images, classifier)
    stats = feature_statistics(fs.features)
    keep = torch.randperm(len(real.images), generator=torch.Generator().manual_seed(1234))[:num_features]
    ref = ReferenceStats(
        stats.mu, stats.sigma, stats.n, fs.features[keep], fs.probs[keep], key, split, classifier.sha256
    )
    if verbose:
        print(f"computed reference statistics of {key}/{split} in {time.perf_counter() - start:.1f} s")
    if cache:
        save_reference_statistics(ref, cache_dir() / "reference_stats" / name)
    return ref


def save_reference_statistics(ref: ReferenceStats, path: Path) -> Path | None:
    """Write reference statistics to ``path`` (features stored as float16); returns the path, or None if the folder
    is not writable (the statistics are then simply recomputed next time)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(
            tmp, mu=ref.mu.numpy(), sigma=ref.sigma.numpy(), n=ref.n, features=ref.features.numpy().astype(np.float16),
            probs=ref.probs.numpy().astype(np.float16), classifier_sha256=ref.classifier_sha256,
        )  # fmt: skip
        os.replace(tmp, path)
        return path
    except OSError:
        return None


def ship_reference_statistics(dataset: str, folder: Path, *, split: str = "train", path=None,
                              num_features: int = 5000) -> Path:
    """Compute the reference statistics of ``dataset``/``split`` for the classifier in ``folder`` (or ``path``) and
    write them next to it (``data/classifiers/``), removing files made for other versions of that classifier."""
    classifier = load_classifier(dataset, path=path) if path is not None else load_classifier(dataset)
    ref = reference_statistics(classifier.dataset, split, classifier=classifier, num_features=num_features,
                               cache=False)  # fmt: skip
    target = Path(folder) / reference_file_name(classifier.dataset, split, classifier.sha256)
    for old in Path(folder).glob(f"reference_{classifier.dataset}_{split}_*.npz"):
        if old != target:
            old.unlink()
    saved = save_reference_statistics(ref, target)
    if saved is None:
        raise OSError(f"Could not write {target}.")
    return saved


# ---------------------------------------------------------------- optional Inception FID

PYTORCH_FID_WEIGHTS = "pt_inception-2015-12-05-6726825d.pth"


class InceptionStatus(NamedTuple):
    available: bool
    message: str


def inception_fid_status() -> InceptionStatus:
    """Can the standard Inception FID be computed here? Needs the ``pytorch-fid`` package and its weight file in the
    torch hub cache (downloaded by pytorch-fid the first time it runs online). Never downloads anything."""
    try:
        import pytorch_fid.inception  # noqa: F401
    except ImportError:
        return InceptionStatus(
            False,
            "Inception FID skipped: the package 'pytorch-fid' is not installed. Online, `pip install pytorch-fid` "
            f"and run once with network access so it downloads its weights ({PYTORCH_FID_WEIGHTS}).",
        )
    weights = Path(torch.hub.get_dir()) / "checkpoints" / PYTORCH_FID_WEIGHTS
    if not weights.is_file():
        return InceptionStatus(
            False,
            f"Inception FID skipped: pytorch-fid is installed but its weights {weights} are missing (offline?). Run "
            "once online to download them, or copy the file there.",
        )
    return InceptionStatus(True, f"Inception FID available (pytorch-fid, {weights.name}).")


@torch.no_grad()
def inception_fid(images_a, images_b, *, device=None, batch_size: int = 100) -> float | None:
    """Standard FID with pytorch-fid's Inception-v3 (2048-d pool features, images upsampled to 299x299 and repeated
    to 3 channels). Returns ``None`` after printing :func:`inception_fid_status`'s message when unavailable."""
    status = inception_fid_status()
    if not status.available:
        print(status.message)
        return None
    from pytorch_fid.inception import InceptionV3

    device = torch.device(device or "cpu")
    model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).to(device).eval()

    def feats(images):
        x = (as_images(images) + 1) / 2  # (N, 1, 28, 28) in [0, 1]
        out = [model(x[i : i + batch_size].repeat(1, 3, 1, 1).to(device))[0].flatten(1).cpu() for i in
               range(0, len(x), batch_size)]  # fmt: skip
        return torch.cat(out)  # (N, 2048)

    return fid_from_features(feats(images_a), feats(images_b))


# ---------------------------------------------------------------- everything at once


def score_samples(images, reference: ReferenceStats, classifier: ClassifierInfo, *, k: int = 3, labels=None,
                  kid_subsets: int = 50, kid_subset_size: int = 1000) -> dict:
    """The feature-based metrics of a sample set against cached reference statistics (no memorisation check):
    ``fid``, ``kid``, ``kid_std``, ``precision``, ``recall``, ``density``, ``coverage`` (on equal set sizes),
    ``inception_score``,
    ``class_entropy``, ``classes_covered``, ``label_agreement``. Fast enough to call inside a loop."""
    fs = extract_features(images, classifier)
    stats = feature_statistics(fs.features)
    n_pr = min(len(fs.features), len(reference.features))
    pr = precision_recall(reference.features[:n_pr], fs.features[:n_pr], k=k)
    dc = density_coverage(reference.features[:n_pr], fs.features[:n_pr])
    kid = kid_from_features(reference.features, fs.features, num_subsets=kid_subsets, subset_size=kid_subset_size)
    is_ = inception_score(fs.probs, splits=min(10, len(fs.probs)))
    cov = class_coverage(fs.probs, labels=labels)
    return {
        "num_samples": len(fs.features),
        "fid": frechet_distance(stats.mu, stats.sigma, reference.mu, reference.sigma),
        "kid": kid.mean,
        "kid_std": kid.std,
        "precision": pr.precision,
        "recall": pr.recall,
        "density": dc.density,
        "coverage": dc.coverage,
        "inception_score": is_.mean,
        "inception_score_std": is_.std,
        "class_entropy": cov.normalised_entropy,
        "classes_covered": cov.classes_covered,
        "label_agreement": cov.label_agreement,
        "class_histogram": [round(float(h), 4) for h in cov.histogram],
    }


def evaluate_samples(
    images,
    dataset: str,
    *,
    labels=None,
    reference_split: str = "train",
    heldout_split: str = "test",
    classifier: ClassifierInfo | None = None,
    reference: ReferenceStats | None = None,
    k: int = 3,
    num_reference: int = 5000,
    kid_subsets: int = 50,
    kid_subset_size: int = 1000,
    memorisation_train: int | None = 10000,
    memorisation_heldout: int = 1000,
    device=None,
) -> dict:
    """All metrics of a set of generated images against one real split; returns a flat dict of numbers.

    FID uses the Gaussian fit of the *whole* reference split; KID and precision/recall use ``num_reference`` real
    features (set equal to the sample count for comparable PR); memorisation compares with ``memorisation_train``
    training images (``None``: all) and ``memorisation_heldout`` images of ``heldout_split`` as the baseline.
    """
    start = time.perf_counter()
    x = as_images(images)
    classifier = classifier or load_classifier(dataset, device=device)
    reference = reference or reference_statistics(classifier.dataset, reference_split, classifier=classifier,
                                                   num_features=num_reference)  # fmt: skip
    result = score_samples(x, reference, classifier, k=k, labels=labels, kid_subsets=kid_subsets,
                           kid_subset_size=kid_subset_size)  # fmt: skip
    train = load_images(classifier.dataset, "train", limit=memorisation_train).images
    heldout = load_images(classifier.dataset, heldout_split, limit=memorisation_heldout).images
    mem = memorisation_check(x, train, heldout)
    hist = result.pop("class_histogram")
    result.update(
        nn_distance_median=float(mem.sample_distances.median()),
        nn_distance_ratio=mem.median_ratio,
        copy_fraction=mem.copy_fraction,
        class_histogram=hist,
        reference=f"{classifier.dataset}/{reference_split} (n={reference.n}, classifier {classifier.sha256[:12]})",
    )
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result


METRIC_NOTES = {
    "fid": "Fréchet distance of course features (lower is better; grows as N shrinks)",
    "kid": "kernel distance, unbiased (lower is better; ~0 for real data)",
    "precision": "fraction of samples on the real manifold (quality)",
    "recall": "fraction of real data on the sample manifold (diversity)",
    "density": "real balls holding each sample / k (~1 for real data)",
    "coverage": "fraction of real points with a sample nearby",
    "inception_score": "IS analogue, 1..10 (higher: confident and varied)",
    "class_entropy": "entropy of predicted classes / log 10 (1 = even)",
    "classes_covered": "classes with at least half their fair share",
    "label_agreement": "classifier agrees with the requested label",
    "nn_distance_median": "median RMS pixel distance to nearest train image",
    "nn_distance_ratio": "that median / held-out real median (<<1: copying)",
    "copy_fraction": "closer to a train image than 99% of real held-out",
}


def format_table(results: dict[str, dict], *, keys=None) -> str:
    """A plain-text table: one column per result set (e.g. 'real test', 'GAN'), one row per metric."""
    keys = keys or [k for k in METRIC_NOTES if any(r.get(k) is not None for r in results.values())]
    names = list(results)
    width = max(12, *(len(n) for n in names))
    lines = [f"{'metric':<20}" + "".join(f"{n:>{width + 2}}" for n in names) + "   meaning"]
    for key in keys:
        cells = []
        for n in names:
            v = results[n].get(key)
            cells.append(f"{'-' if v is None else (f'{v:.4f}' if isinstance(v, float) else v):>{width + 2}}")
        lines.append(f"{key:<20}" + "".join(cells) + f"   {METRIC_NOTES.get(key, '')}")
    return "\n".join(lines)


def load_samples(path: str | Path) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Read SAMPLES.npz: ``images`` uint8 (N, 28, 28) and optionally ``labels`` (N,), where -1 means "no label".
    Returns model-range images and the labels (``None`` when absent or all -1)."""
    path = Path(path)
    if not path.is_file():
        raise MetricInputError(f"Samples file {path} does not exist.")
    with np.load(path) as z:
        if "images" not in z:
            raise MetricInputError(f"{path} has no 'images' array (it has: {', '.join(z.files)}).")
        images = z["images"]
        labels = z["labels"] if "labels" in z else None
    if images.dtype != np.uint8:
        raise MetricInputError(f"{path}: 'images' must be uint8 [0, 255] (N, 28, 28); got dtype {images.dtype}.")
    x = as_images(images)
    if labels is not None and len(labels) != len(x):
        raise MetricInputError(f"{path}: {len(labels)} labels for {len(x)} images.")
    if labels is not None and (labels < 0).all():
        labels = None
    return x, (torch.as_tensor(labels).long() if labels is not None else None)


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``python -m sdgan_course evaluate SAMPLES.npz --dataset fashion_mnist``: all metrics, as a table and JSON."""
    if args.threads:
        torch.set_num_threads(args.threads)
    images, labels = load_samples(args.samples)
    classifier = load_classifier(args.dataset, device=args.device)
    reference = reference_statistics(classifier.dataset, args.reference, classifier=classifier, verbose=True)
    result = evaluate_samples(
        images, args.dataset, labels=labels, reference_split=args.reference, classifier=classifier,
        reference=reference, memorisation_train=None if args.nn_train == 0 else args.nn_train, device=args.device,
    )  # fmt: skip
    status = inception_fid_status()
    if args.inception and status.available:
        real = load_images(classifier.dataset, args.reference, limit=len(images)).images
        result["inception_fid"] = inception_fid(images, real, device=args.device)
    else:
        result["inception_fid"] = None
        result["inception_fid_note"] = status.message if args.inception else "not requested (add --inception)"
    print(f"{args.samples}: {len(images)} samples vs {result['reference']}  ({result['seconds']} s)")
    print(format_table({Path(args.samples).stem: result}))
    print(f"inception_fid: {result['inception_fid'] if result['inception_fid'] is not None else '-'}"
          f"  {result.get('inception_fid_note', '')}")  # fmt: skip
    print(json.dumps(result, indent=None if args.compact else 2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


def add_evaluate_parser(sub) -> None:
    """Register ``evaluate`` on the top-level sub-parsers (called from :mod:`sdgan_course.cli`)."""
    p = sub.add_parser("evaluate", help="score generated images: FID, KID, precision/recall, IS, memorisation")
    p.add_argument("samples", help="SAMPLES.npz with 'images' uint8 (N, 28, 28) and optionally 'labels' (N,)")
    p.add_argument("--dataset", default="fashion_mnist", help="fashion_mnist or mnist (picks classifier and data)")
    p.add_argument("--reference", default="train", help="real split to compare with (default: train)")
    p.add_argument("--nn-train", type=int, default=10000, help="training images for the memorisation check (0: all)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default; 1 is fastest on a "
                   "busy machine)")  # fmt: skip
    p.add_argument("--inception", action="store_true", help="also compute the standard Inception FID (pytorch-fid)")
    p.add_argument("--json", default=None, help="also write the JSON to this file")
    p.add_argument("--compact", action="store_true", help="print the JSON on one line")
    p.set_defaults(func=cmd_evaluate)
