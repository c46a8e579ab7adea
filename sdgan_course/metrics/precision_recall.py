r"""Improved precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et al. 2020): quality
and diversity as two numbers, from k-nearest-neighbour balls in feature space.

Shape legend: N real, M generated samples, F feature dimension.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .features import MetricInputError, _as_features, _same_dim


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
