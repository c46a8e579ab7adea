r"""Does the picture show what the prompt asked for? Prompt following measured with the course's own classifier.

For single items the prompt names a class; the course classifier (its test accuracy is stored in its file:
``load_classifier(dataset).test_accuracy``) reads the sample, and **agreement** is the share of samples whose
predicted class is the prompted one, per class.
For compositions (two items on a 28 x 56 canvas) the *detector* is the same classifier applied to each half of the
canvas: a sample is right when the left half shows the left item and the right half the right item
(:func:`composition_agreement`). These are the text-to-image analogues of the class agreement of notebook 10; CLIP
scores (:mod:`.clip_score`) are the other common measure, and here a weaker one, because the miniature CLIP is the
very text encoder the model was trained with.

Shape legend: N samples, K classes, H x W pixels.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from ..data.captions import CLASS_WORDS, PAIR_TEMPLATES, TEMPLATES, pair_halves


class PromptAgreement(NamedTuple):
    agreement: float  # share of samples classified as the prompted class (all classes pooled)
    per_class: torch.Tensor  # (K,) agreement per prompted class
    predictions: torch.Tensor  # (N,) the classifier's classes
    prompts: list[str]


class CompositionAgreement(NamedTuple):
    both: float  # share of canvases with the right item on each side
    left: float  # share with the right left item
    right: float  # share with the right right item
    swapped: float  # share with the two items the wrong way round
    predictions: torch.Tensor  # (N, 2) (left, right) classes read by the detector


@torch.no_grad()
def classify(classifier, images: torch.Tensor, *, batch_size: int = 500) -> torch.Tensor:
    """The course classifier's classes (N,) for images (N, 1, 28, 28) in [-1, 1]."""
    device = next(classifier.parameters()).device
    out = [classifier(images[i : i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(out)


def class_prompt(dataset: str, label: int, template: int = 0) -> str:
    """The prompt for class ``label`` with the dataset's template number ``template`` ("a photo of a {name}")."""
    return TEMPLATES[dataset][template].format(name=CLASS_WORDS[dataset][label])


def pair_prompt(dataset: str, left: int, right: int) -> str:
    """"a {left} to the left of a {right}" for the classes ``left`` and ``right``."""
    names = CLASS_WORDS[dataset]
    return PAIR_TEMPLATES[0].format(left=names[left], right=names[right])


def prompt_agreement(classifier, images: torch.Tensor, labels: torch.Tensor, prompts: list[str] | None = None,
                     *, num_classes: int = 10) -> PromptAgreement:
    """Agreement of samples (N, 1, 28, 28) with their prompted classes ``labels`` (N,), overall and per class."""
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels.")
    pred = classify(classifier, images)
    labels = labels.cpu().long()
    right = (pred == labels).float()
    counts = torch.bincount(labels, minlength=num_classes).float()
    per_class = torch.bincount(labels, weights=right, minlength=num_classes) / counts  # NaN where never prompted
    return PromptAgreement(right.mean().item(), per_class, pred, list(prompts or []))


def composition_agreement(classifier, canvases: torch.Tensor, labels: torch.Tensor) -> CompositionAgreement:
    """The detector: classify each half of canvases (N, 1, 28, 56) and compare with (N, 2) (left, right) labels."""
    if canvases.ndim != 4 or canvases.shape[-1] != 2 * canvases.shape[-2]:
        raise ValueError(f"Expected canvases (N, 1, H, 2H), got {tuple(canvases.shape)}.")
    left, right = pair_halves(canvases)
    pred = torch.stack([classify(classifier, left), classify(classifier, right)], dim=1)  # (N, 2)
    labels = labels.cpu().long()
    ok = pred == labels  # (N, 2)
    swapped = (pred == labels.flip(1)).all(1) & (labels[:, 0] != labels[:, 1])
    return CompositionAgreement(ok.all(1).float().mean().item(), ok[:, 0].float().mean().item(),
                                ok[:, 1].float().mean().item(), swapped.float().mean().item(), pred)


class AttributeAccuracy(NamedTuple):
    accuracy: float  # share of samples whose brightness is in the requested third of their class
    per_class: torch.Tensor  # (K,) the same per prompted class (NaN where never prompted)
    measured: torch.Tensor  # (N,) the attribute the pixels carry: 0 middle third, 1 dark, 2 light


def attribute_accuracy(images: torch.Tensor, labels: torch.Tensor, requested: torch.Tensor, thresholds: torch.Tensor,
                       *, num_classes: int = 10) -> AttributeAccuracy:
    """Brightness asked for (``requested`` (N,): 1 dark, 2 light) against the pixels of samples (N, 1, 28, 28) of
    prompted classes ``labels`` (N,): the requested third of the class's training brightness
    (:func:`~sdgan_course.data.wordings.brightness_thresholds`). Chance is about 1/3."""
    from ..data.wordings import brightness_attribute

    measured = brightness_attribute(images, labels, thresholds)  # (N,)
    right = (measured == requested.cpu()).float()
    labels = labels.cpu().long()
    counts = torch.bincount(labels, minlength=num_classes).float()
    per_class = torch.bincount(labels, weights=right, minlength=num_classes) / counts
    return AttributeAccuracy(right.mean().item(), per_class, measured)


__all__ = [
    "AttributeAccuracy", "CompositionAgreement", "PromptAgreement", "attribute_accuracy", "class_prompt", "classify",
    "composition_agreement", "pair_prompt", "prompt_agreement",
]
