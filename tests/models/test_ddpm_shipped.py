"""The shipped class-conditional DDPM is intact and draws the class it is asked for (a loose floor under the measured
quality; the full evaluation is in data/checkpoints/README.md)."""

import pytest
import torch

from sdgan_course.metrics.features import extract_features
from sdgan_course.models.classifier import load_classifier
from sdgan_course.sample.diffusion import generate_diffusion
from sdgan_course.train.diffusion import load_shipped_diffusion

pytestmark = pytest.mark.slow


def test_shipped_ddpm_draws_the_requested_classes():
    loaded = load_shipped_diffusion()
    assert loaded.config.num_classes == 10 and loaded.image_shape == (1, 28, 28) and loaded.schedule.num_steps == 1000
    labels = torch.arange(100) % 10
    images = generate_diffusion(
        loaded.model,
        loaded.schedule,
        100,
        labels=labels,
        sampler="dpm-solver",
        steps=10,
        guidance=2.0,
        rng=torch.Generator().manual_seed(0),
    )
    assert images.shape == (100, 1, 28, 28) and images.min() >= -1 and images.max() <= 1
    predicted = extract_features(images, load_classifier("fashion_mnist")).probs.argmax(1)
    agreement = (predicted == labels).float().mean().item()
    assert agreement > 0.8, f"only {agreement:.0%} of the samples are of the requested class"
    # every class is drawn: at least 5 of its 10 samples recognised
    per_class = torch.bincount(labels[predicted == labels], minlength=10)
    assert (per_class >= 5).all(), per_class.tolist()
