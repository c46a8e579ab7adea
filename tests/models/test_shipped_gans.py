"""The pretrained GANs shipped in data/checkpoints/: they load, are intact, and are good (by the course classifier)."""

import shutil

import pytest
import torch

from sdgan_course import assets
from sdgan_course.data import DataError, load_images
from sdgan_course.models.classifier import load_classifier
from sdgan_course.models.gan import load_shipped_gan
from sdgan_course.sample.gan import generate

pytestmark = pytest.mark.slow  # quality checks of the shipped models (seconds each; they run in CI too)

N_PER_CLASS = 30


@pytest.fixture(scope="module")
def classifier():
    return load_classifier("fashion_mnist").model


def predict(classifier, images):
    with torch.no_grad():
        return classifier(images).argmax(dim=1)  # (B,) logits -> predicted class


def test_conditional_gan_draws_the_requested_class(classifier):
    cgan = load_shipped_gan("cgan_fashion_mnist")
    assert cgan.config.num_classes == 10
    labels = torch.arange(10).repeat_interleave(N_PER_CLASS)  # (300,)
    images = generate(cgan.generator, len(labels), z_dim=cgan.config.z_dim, labels=labels,
                      rng=torch.Generator().manual_seed(0))
    assert images.shape == (300, 1, 28, 28) and images.min() >= -1 and images.max() <= 1
    agree = (predict(classifier, images) == labels).float().view(10, N_PER_CLASS).mean(dim=1)  # (10,) per class
    assert agree.mean() > 0.75, f"per-class agreement {agree.tolist()}"
    assert agree.min() > 0.3, f"some class is not recognisable: {agree.tolist()}"


def test_conditional_gan_has_variety_within_a_class():
    cgan = load_shipped_gan("cgan_fashion_mnist")
    real = load_images("fashion_mnist", "test")
    for k in (1, 7, 8):  # trouser, sneaker, bag
        fake = generate(cgan.generator, 200, z_dim=cgan.config.z_dim, labels=k,
                        rng=torch.Generator().manual_seed(k))
        real_std = real.images[real.labels == k].std(dim=0).mean()
        assert fake.std(dim=0).mean() > 0.5 * real_std, f"class {k} collapsed to nearly one image"


def test_unconditional_gan_covers_every_class(classifier):
    gan = load_shipped_gan("gan_fashion_mnist")
    images = generate(gan.generator, 500, z_dim=gan.config.z_dim, rng=torch.Generator().manual_seed(0))
    counts = torch.bincount(predict(classifier, images), minlength=10)
    assert (counts >= 10).all(), f"predicted classes of 500 samples: {counts.tolist()}"


def test_unknown_and_corrupted_shipped_checkpoints_are_refused(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="Shipped checkpoints: .*cgan_fashion_mnist, .*gan_fashion_mnist"):
        load_shipped_gan("gan_cifar10")
    source = assets.find_asset("checkpoints/gan_fashion_mnist.pt").parent
    copy = tmp_path / "checkpoints"
    shutil.copytree(source, copy)
    raw = bytearray((copy / "gan_fashion_mnist.pt").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (copy / "gan_fashion_mnist.pt").write_bytes(bytes(raw))
    monkeypatch.setattr(assets, "data_dirs", lambda: [tmp_path])
    with pytest.raises(DataError, match="corrupted"):
        load_shipped_gan("gan_fashion_mnist")
