"""The shipped autoencoder (the one latent diffusion uses) is intact and as good as measured when it was shipped."""

import pytest
import torch

from sdgan_course.data import load_images
from sdgan_course.metrics.reconstruction import psnr
from sdgan_course.models.vae import latent_scale_factor
from sdgan_course.train.vae import load_shipped_autoencoder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shipped():
    return load_shipped_autoencoder()


def test_shipped_autoencoder_reconstructs_test_images(shipped):
    x = load_images("fashion_mnist", "test", limit=200).images
    recon = shipped.model.reconstruct(x)
    assert recon.shape == x.shape
    value = float(psnr(x, recon).mean())
    # measured at shipping: see data/checkpoints/README.md (5,000 test images); a loose floor below it
    assert value > shipped.info["comparison"][shipped.info["variant"]]["psnr"] - 1.5
    assert value > 23.0


def test_shipped_autoencoder_layout_and_scale_factor(shipped):
    cfg = shipped.config
    assert (cfg.latent_channels, cfg.factor) == (4, 4)
    assert shipped.model.encode(torch.zeros(1, 1, 28, 28)).mean.shape == (1, 4, 7, 7)
    x = load_images("fashion_mnist", "train", limit=1000).images
    s = latent_scale_factor(shipped.model, x, rng=torch.Generator().manual_seed(0))
    assert abs(s - cfg.scale_factor) / cfg.scale_factor < 0.05
    assert set(shipped.info["comparison"]) >= {"adversarial", "no_adversarial", "real_fid"}
