r"""Fréchet distance (FID) and kernel distance (KID) between feature sets; the standard Inception FID when available.

Shape legend: N, M sample counts, F feature dimension, S KID subset size.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch

from .features import MetricInputError, _as_features, _same_dim, as_images, feature_statistics

# ---------------------------------------------------------------- Fréchet distance (FID)


def sqrtm_psd(a: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix via ``torch.linalg.eigh`` (negative round-off
    eigenvalues are clipped to 0)."""
    a = 0.5 * (a + a.T)
    vals, vecs = torch.linalg.eigh(a)  # (F,), (F, F)
    return (vecs * vals.clamp_min(0).sqrt()) @ vecs.T  # (F, F)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    r"""The **squared** Fréchet (2-Wasserstein) distance between two Gaussians (Dowson and Landau 1982); the FID of
    Heusel et al. 2017 (arXiv:1706.08500, eq. 6) on course features:

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
    features_a, features_b, *, num_subsets: int = 100, subset_size: int = 1000, rng: torch.Generator | None = None
) -> KID:
    """KID: the unbiased polynomial-kernel MMD² averaged over ``num_subsets`` random subsets of ``subset_size``
    (capped at the smaller set's size), as in Bińkowski et al. 2018 (arXiv:1801.01401). Unlike FID it is unbiased:
    its expectation does not depend on the number of samples."""
    a, b = _as_features(features_a, "features_a"), _as_features(features_b, "features_b")
    _same_dim(a, b, "KID")
    s = min(subset_size, len(a), len(b))
    if rng is None:
        rng = torch.Generator().manual_seed(0)
    values = []
    for _ in range(num_subsets):
        ia = torch.randperm(len(a), generator=rng)[:s]  # (S,)
        ib = torch.randperm(len(b), generator=rng)[:s]  # (S,)
        values.append(mmd2_unbiased(a[ia], b[ib]))
    v = torch.tensor(values, dtype=torch.float64)
    return KID(float(v.mean()), float(v.std()) if len(v) > 1 else 0.0)


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
    """Standard FID with pytorch-fid's Inception-v3 (2048-d pool features, images upsampled to 299x299, greyscale
    repeated to 3 channels). Returns ``None`` after printing :func:`inception_fid_status`'s message when unavailable."""
    status = inception_fid_status()
    if not status.available:
        print(status.message)
        return None
    from pytorch_fid.inception import InceptionV3

    device = torch.device(device or "cpu")
    model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).to(device).eval()

    def feats(images):
        x = (as_images(images) + 1) / 2  # (N, C, H, W) in [0, 1]
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)  # (N, 3, H, W): Inception takes colour images
        out = [model(x[i : i + batch_size].to(device))[0].flatten(1).cpu() for i in range(0, len(x), batch_size)]
        return torch.cat(out)  # (N, 2048)

    return fid_from_features(feats(images_a), feats(images_b))
