"""Prompt following: agreement arithmetic, and the composition detector on canvases whose truth is known."""

import pytest
import torch
from torch import nn

from sdgan_course.data.captions import compose_pairs
from sdgan_course.data.images import load_images
from sdgan_course.metrics.prompt_following import (
    class_prompt,
    composition_agreement,
    pair_prompt,
    prompt_agreement,
)
from sdgan_course.models.classifier import load_classifier


class ReadsTheMean(nn.Module):
    """A stand-in classifier: the class is the image's mean brightness, binned into 10."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        k = ((x.mean((1, 2, 3)) + 1) / 2 * 10).long().clamp(0, 9)
        return nn.functional.one_hot(k, 10).float()


def constant_images(classes):
    return (torch.tensor(classes, dtype=torch.float)[:, None, None, None] + 0.5) / 10 * 2 - 1 + torch.zeros(
        len(classes), 1, 28, 28
    )


def test_agreement_per_class_and_pooled():
    images = constant_images([0, 0, 1, 2, 2, 2])
    labels = torch.tensor([0, 1, 1, 2, 2, 5])
    score = prompt_agreement(ReadsTheMean(), images, labels)
    assert score.agreement == pytest.approx(4 / 6)
    assert score.per_class[0] == pytest.approx(1 / 1) and score.per_class[1] == pytest.approx(1 / 2)
    assert score.per_class[2] == 1 and score.per_class[5] == 0 and torch.isnan(score.per_class[3])


def test_composition_detector_reads_sides_and_swaps():
    left, right = constant_images([3, 3]), constant_images([7, 1])
    canvases = torch.cat([left, right], dim=-1)  # (2, 1, 28, 56)
    score = composition_agreement(ReadsTheMean(), canvases, torch.tensor([[3, 7], [1, 3]]))
    assert score.both == 0.5 and score.left == 0.5 and score.right == 0.5 and score.swapped == 0.5
    with pytest.raises(ValueError, match="canvases"):
        composition_agreement(ReadsTheMean(), left, torch.tensor([[3, 7], [1, 3]]))


def test_detector_with_the_course_classifier_reads_real_compositions():
    data = load_images("fashion_mnist", "test", limit=2_000)
    pairs = compose_pairs(data.images, data.labels, 400, pairs="held_out", rng=torch.Generator().manual_seed(0))
    score = composition_agreement(load_classifier("fashion_mnist").model, pairs.images, pairs.labels)
    assert score.both > 0.8  # about the classifier's accuracy squared (0.93 ** 2)
    assert score.swapped < 0.02


def test_prompts_are_the_canonical_templates():
    assert class_prompt("fashion_mnist", 7) == "a photo of a sneaker"
    assert class_prompt("mnist", 3) == "the digit three"
    assert pair_prompt("fashion_mnist", 7, 8) == "a sneaker to the left of a bag"
