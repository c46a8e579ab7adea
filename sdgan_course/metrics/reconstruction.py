r"""How close is a reconstruction to its input? PSNR, SSIM and FID of an autoencoder's reconstructions.

Notebook 08 and ``train autoencoder`` score the KL-autoencoder with these, on the course features (notebook 06): PSNR
(pixels in [0, 1]), SSIM (Wang et al. 2004, a comparison *with the input*, which is what makes it usable here) and the
FID of the reconstructions against the real data's reference statistics.

Shape legend: N images, C channels, H x W pixels.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..models.vae import KLAutoencoder
from .features import extract_features, feature_statistics
from .fid import frechet_distance
from .similarity import ssim


class ReconstructionQuality(NamedTuple):
    psnr: float  # dB, mean over images, pixels in [0, 1]
    ssim: float  # mean SSIM (Wang et al. 2004)
    fid: float  # FID of the reconstructions against the reference statistics, course features
    num_images: int


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Peak signal-to-noise ratio per image, :math:`10 \log_{10}(1 / \mathrm{MSE})` with pixels in [0, 1]: (N,)."""
    mse = ((x.float() - y.float()) / 2).pow(2).flatten(1).mean(1)  # [-1, 1] -> [0, 1] halves the differences
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))


@torch.no_grad()
def reconstruction_quality(autoencoder: KLAutoencoder, images: torch.Tensor, *, classifier, reference) -> \
        ReconstructionQuality:
    """PSNR, SSIM and FID (course features, against ``reference`` statistics) of the posterior-mean reconstructions."""
    was_training = autoencoder.training
    autoencoder.eval()
    recon = autoencoder.reconstruct(images.to(next(autoencoder.parameters()).device)).cpu()  # (N, C, H, W)
    autoencoder.train(was_training)
    stats = feature_statistics(extract_features(recon, classifier).features)
    fid = frechet_distance(stats.mu, stats.sigma, reference.mu, reference.sigma)
    return ReconstructionQuality(float(psnr(images, recon).mean()), float(ssim(images, recon)), fid, len(images))


__all__ = ["ReconstructionQuality", "psnr", "reconstruction_quality"]
