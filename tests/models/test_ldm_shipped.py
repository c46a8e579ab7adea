"""The shipped text-to-image model is intact, and "a photo of a {class}" gives that class for the large majority of
samples, for every class (a floor under the measured quality; the full evaluation is in data/checkpoints/README.md).
The same through the command line, as a learner would run it."""

import numpy as np
import pytest
import torch

from sdgan_course.assets import find_asset
from sdgan_course.cli.main import main
from sdgan_course.metrics.prompt_following import (
    class_prompt,
    composition_agreement,
    pair_prompt,
    prompt_agreement,
)
from sdgan_course.models.classifier import load_classifier
from sdgan_course.sample.ldm import generate_ldm
from sdgan_course.train.ldm import load_shipped_ldm

pytestmark = pytest.mark.slow


def test_every_class_prompt_draws_its_class():
    ldm = load_shipped_ldm()
    assert ldm.latent_shape((28, 28)) == (4, 7, 7) and ldm.schedule.name == "scaled_linear"
    labels = torch.arange(200) % 10
    images = generate_ldm(ldm, [class_prompt("fashion_mnist", c) for c in labels.tolist()], 200, guidance=3.0,
                          steps=20, rng=torch.Generator().manual_seed(0))
    score = prompt_agreement(load_classifier("fashion_mnist").model, images, labels)
    assert score.agreement > 0.85, f"only {score.agreement:.0%} of the samples show the prompted class"
    assert (score.per_class >= 0.6).all(), score.per_class.tolist()


def test_compositions_put_the_items_where_the_prompt_says():
    ldm = load_shipped_ldm()
    labels = torch.tensor([[7, 8], [8, 7], [1, 5], [5, 1]]).repeat_interleave(10, 0)  # sneaker|bag, ...
    prompts = [pair_prompt("fashion_mnist", a, b) for a, b in labels.tolist()]  # "a sneaker to the left of a bag"
    canvases = generate_ldm(ldm, prompts, len(prompts), guidance=3.0, steps=20, rng=torch.Generator().manual_seed(1))
    assert canvases.shape == (40, 1, 28, 56)
    score = composition_agreement(load_classifier("fashion_mnist").model, canvases, labels)
    assert score.both > 0.5 and score.swapped < 0.2, score


def test_sample_ldm_command_gives_sneakers(tmp_path):
    out = tmp_path / "sneakers.npz"
    argv = ["sample", "ldm", "--checkpoint", str(find_asset("checkpoints/ldm_fashion_mnist.pt")), "--prompt",
            "a photo of a sneaker", "--n", "20", "--steps", "20", "--out", str(out)]
    assert main(argv) == 0
    images = torch.from_numpy(np.load(out)["images"]).float()[:, None] / 127.5 - 1  # (20, 1, 28, 28)
    score = prompt_agreement(load_classifier("fashion_mnist").model, images, torch.full((20,), 7))
    assert score.agreement >= 0.8, score.agreement
