r"""Captioned images that exist offline, at any size: templated captions and a compositional two-item set.

A text-to-image model needs (image, caption) pairs. Real ones (LAION-5B, on which Stable Diffusion was trained) do not
fit a course, so we *write* the captions from the labels, as CLIP's zero-shot prompts do (Radford et al. 2021,
arXiv:2103.00020, section 3.1.4: ``"A photo of a {label}."``):

- **single items**: a Fashion-MNIST garment or an MNIST digit with one of several templates (``"a photo of a
  {name}"``, ``"the digit {word}"``, ...), chosen per image by a seeded generator. One template per dataset
  (:data:`HELD_OUT_TEMPLATES`) is never used for training, to test whether the text encoder generalises to a new
  wording made of words it knows;
- **compositions**: two real 28 x 28 items side by side on a 28 x 56 canvas, ``"a sneaker to the left of a bag"``
  (or the same scene said the other way round: ``"a bag to the right of a sneaker"``). The ordered class pairs of
  :data:`HELD_OUT_PAIRS` never appear in training, although each item appears on both sides, and each held-out
  pair's mirror image is a training pair. Whether a model draws "a sneaker to the left of a bag" having only seen
  sneakers and bags in other arrangements is a test of composition.

Every function returns images in the model range [-1, 1] (the contract of :mod:`sdgan_course.data.images`), the
captions, and the structured labels (class, or (left, right) classes) that a classifier or detector is scored
against. Everything is vectorised and deterministic given ``seed`` (or ``rng=``).

Shape legend: N examples, H x W pixels (28 x 28 items, 28 x 56 canvases), K classes.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import torch

from .images import dataset_info, load_images

# Class names as a prompt says them: lower case (the tokenizer is lower-cased, as CLIP's).
FASHION_NAMES = (
    "t-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
CLASS_WORDS = {"fashion_mnist": FASHION_NAMES, "mnist": DIGIT_WORDS, "mnist_full": DIGIT_WORDS}

# The first template is the canonical one (zero-shot classification and the prompts use it).
TEMPLATES = {
    "fashion_mnist": (
        "a photo of a {name}",
        "a picture of a {name}",
        "an image of a {name}",
        "a {name}",
        "a photo of the {name}",
    ),
    "mnist": (
        "the digit {name}",
        "a handwritten {name}",
        "the number {name}",
        "a photo of the digit {name}",
        "a {name}",
    ),
}
TEMPLATES["mnist_full"] = TEMPLATES["mnist"]
# Test-only wordings, built from words the training templates use (so every token has been trained).
HELD_OUT_TEMPLATES = {
    "fashion_mnist": ("a picture of the {name}",),
    "mnist": ("a photo of the number {name}",),
}
HELD_OUT_TEMPLATES["mnist_full"] = HELD_OUT_TEMPLATES["mnist"]

# Two phrasings of one arrangement: {left} is drawn on the left half, {right} on the right half.
PAIR_TEMPLATES = ("a {left} to the left of a {right}", "a {right} to the right of a {left}")
PAIR_SHAPE = (28, 56)  # (H, W) of a composition canvas
# Ordered (left, right) class pairs never shown in training: each class next to the next one in label order
# (sneaker-bag, bag-ankle boot, ..., ankle boot-t-shirt/top). Every class is held out once on each side; the mirror
# pair (bag to the left of a sneaker) is a training pair. Pairs of one class with itself are not used.
HELD_OUT_PAIRS = tuple((c, (c + 1) % 10) for c in range(10))
SPLITS = ("train", "held_out", "all")
# A word: letters/digits, possibly joined by "-" or "/" ("t-shirt/top"); anything else (spaces, ".", ",") separates.
WORD = re.compile(r"[a-z0-9]+(?:[-/][a-z0-9]+)*")


class CaptionedImages(NamedTuple):
    """Images with captions and the labels the captions were written from."""

    images: torch.Tensor  # (N, 1, H, W) float32 in [-1, 1]
    captions: list[str]  # N captions
    labels: torch.Tensor  # (N,) int64 class, or (N, 2) (left, right) classes for compositions
    templates: torch.Tensor  # (N,) int64 index of the template each caption used (in its template tuple)
    class_names: tuple[str, ...]  # the class words used in captions


def _check_split(which: str) -> None:
    if which not in SPLITS:
        raise ValueError(f"Unknown caption split {which!r}: use one of {', '.join(SPLITS)}.")


def _dataset_key(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    dataset_info(key)  # an unknown dataset is a DataError listing the known ones
    if key not in TEMPLATES:
        raise ValueError(f"No caption templates for dataset {name!r}; captioned datasets: {', '.join(TEMPLATES)}.")
    return key


def templates_for(dataset: str, which: str = "train") -> tuple[str, ...]:
    """The single-item templates of ``dataset``: ``"train"``, ``"held_out"`` or ``"all"`` (train first)."""
    _check_split(which)
    key = _dataset_key(dataset)
    return {
        "train": TEMPLATES[key],
        "held_out": HELD_OUT_TEMPLATES[key],
        "all": TEMPLATES[key] + HELD_OUT_TEMPLATES[key],
    }[which]


def allowed_pairs(which: str = "train", *, num_classes: int = 10) -> list[tuple[int, int]]:
    """Ordered (left, right) pairs of distinct classes: training ones, the held-out ones, or all (train first)."""
    _check_split(which)
    held = set(HELD_OUT_PAIRS)
    every = [(a, b) for a in range(num_classes) for b in range(num_classes) if a != b]
    train = [p for p in every if p not in held]
    return {"train": train, "held_out": [p for p in every if p in held], "all": train + sorted(held)}[which]


def split_words(text: str) -> list[str]:
    """The words of a text, lower-cased: the one definition of a word for captions and the tokenizer."""
    return WORD.findall(text.lower())


def vocabulary() -> tuple[str, ...]:
    """Every word any course caption uses (all datasets, held-out wordings and compositions), sorted."""
    texts = [t for group in (*TEMPLATES.values(), *HELD_OUT_TEMPLATES.values(), PAIR_TEMPLATES) for t in group]
    texts += list(FASHION_NAMES) + list(DIGIT_WORDS)
    return tuple(sorted({w for text in texts for w in split_words(text.format(name="", left="", right=""))}))


def caption_labels(
    labels: torch.Tensor,
    *,
    dataset: str = "fashion_mnist",
    templates: str = "train",
    rng: torch.Generator | None = None,
) -> tuple[list[str], torch.Tensor]:
    """Captions for class ``labels`` (N,), each with a template drawn uniformly by ``rng``.

    Returns the N captions and the (N,) template indices (into :func:`templates_for` ``(dataset, templates)``).
    """
    names = CLASS_WORDS[_dataset_key(dataset)]
    group = templates_for(dataset, templates)
    which = torch.randint(len(group), (len(labels),), generator=rng)  # (N,)
    captions = [group[t].format(name=names[c]) for t, c in zip(which.tolist(), labels.tolist())]
    return captions, which


def caption_images(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    dataset: str = "fashion_mnist",
    templates: str = "train",
    n: int | None = None,
    seed: int = 0,
) -> CaptionedImages:
    """Caption images (N, 1, 28, 28) of known ``labels`` (N,). ``n`` > N cycles through the images again (with new
    template draws): a captioned set of any size."""
    n = len(labels) if n is None else n
    if n < 1 or len(labels) == 0:
        raise ValueError(f"Need at least one image and n >= 1, got {len(labels)} images and n = {n}.")
    idx = torch.arange(n) % len(labels)  # (n,)
    rng = torch.Generator().manual_seed(seed)
    captions, which = caption_labels(labels[idx], dataset=dataset, templates=templates, rng=rng)
    return CaptionedImages(images[idx], captions, labels[idx], which, CLASS_WORDS[_dataset_key(dataset)])


def captioned_dataset(
    dataset: str = "fashion_mnist",
    split: str = "train",
    *,
    templates: str | None = None,
    n: int | None = None,
    seed: int = 0,
) -> CaptionedImages:
    """A dataset split with one caption per image. ``templates`` defaults to ``"train"`` for the train split and
    ``"all"`` otherwise; ``n`` keeps the first ``n`` images (the data's fixed order mixes all classes)."""
    key = _dataset_key(dataset)
    data = load_images(key, split)
    templates = templates or ("train" if split == "train" else "all")
    return caption_images(data.images, data.labels, dataset=key, templates=templates, n=n, seed=seed)


def compose_pairs(
    images: torch.Tensor,
    labels: torch.Tensor,
    n: int,
    *,
    pairs: str = "train",
    dataset: str = "fashion_mnist",
    rng: torch.Generator | None = None,
) -> CaptionedImages:
    r"""``n`` compositions: two real items side by side on a 28 x 56 canvas, with captions and (left, right) labels.

    The arrangement is drawn uniformly from :func:`allowed_pairs` ``(pairs)``, then one image of each class uniformly
    from ``images`` (N, 1, 28, 28) with ``labels`` (N,); the caption uses one of :data:`PAIR_TEMPLATES`. The left
    item fills columns 0..27 and the right item columns 28..55 exactly (:func:`pair_halves` undoes it).
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}.")
    names = CLASS_WORDS[_dataset_key(dataset)]
    k = len(names)
    counts = torch.bincount(labels, minlength=k)  # (K,)
    table = torch.tensor(allowed_pairs(pairs, num_classes=k))  # (P, 2)
    needed = table.unique()
    if (counts[needed] == 0).any():
        missing = [names[c] for c in needed.tolist() if counts[c] == 0]
        raise ValueError(f"No images of {', '.join(missing)} to compose from: pass more (or all) of the dataset.")
    order = torch.argsort(labels, stable=True)  # (N,) indices grouped by class
    starts = torch.cumsum(counts, 0) - counts  # (K,) where each class begins in `order`
    chosen = table[torch.randint(len(table), (n,), generator=rng)]  # (n, 2) (left, right) classes
    offset = (torch.rand(n, 2, generator=rng) * counts[chosen]).long()  # (n, 2) uniform within each class
    idx = order[starts[chosen] + offset.minimum(counts[chosen] - 1)]  # (n, 2) image indices
    canvas = torch.cat([images[idx[:, 0]], images[idx[:, 1]]], dim=-1)  # (n, 1, 28, 56)
    which = torch.randint(len(PAIR_TEMPLATES), (n,), generator=rng)  # (n,)
    captions = [
        PAIR_TEMPLATES[t].format(left=names[a], right=names[b]) for t, (a, b) in zip(which.tolist(), chosen.tolist())
    ]
    return CaptionedImages(canvas, captions, chosen, which, names)


def pair_dataset(
    dataset: str = "fashion_mnist",
    split: str = "train",
    *,
    n: int = 10_000,
    pairs: str | None = None,
    seed: int = 0,
) -> CaptionedImages:
    """``n`` compositions built from the images of a dataset split. ``pairs`` defaults to ``"train"`` (never a
    held-out arrangement) for the train split and ``"held_out"`` otherwise."""
    key = _dataset_key(dataset)
    data = load_images(key, split)
    pairs = pairs or ("train" if split == "train" else "held_out")
    rng = torch.Generator().manual_seed(seed)
    return compose_pairs(data.images, data.labels, n, pairs=pairs, dataset=key, rng=rng)


def pair_halves(canvas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split compositions (N, C, H, 2W) into the left and right items, each (N, C, H, W): what a detector scores."""
    if canvas.ndim != 4 or canvas.shape[-1] % 2:
        raise ValueError(f"Expected canvases (N, C, H, 2W) with an even width, got shape {tuple(canvas.shape)}.")
    half = canvas.shape[-1] // 2
    return canvas[..., :half], canvas[..., half:]  # (N, C, H, W) each


def is_held_out(labels: torch.Tensor) -> torch.Tensor:
    """For (N, 2) (left, right) labels: (N,) True where the arrangement is one of :data:`HELD_OUT_PAIRS`."""
    held = torch.tensor(HELD_OUT_PAIRS)  # (P, 2)
    return (labels[:, None, :] == held[None]).all(-1).any(-1)  # (N,)


__all__ = [
    "CLASS_WORDS",
    "DIGIT_WORDS",
    "FASHION_NAMES",
    "HELD_OUT_PAIRS",
    "HELD_OUT_TEMPLATES",
    "PAIR_SHAPE",
    "PAIR_TEMPLATES",
    "TEMPLATES",
    "CaptionedImages",
    "allowed_pairs",
    "caption_images",
    "caption_labels",
    "captioned_dataset",
    "compose_pairs",
    "is_held_out",
    "pair_dataset",
    "pair_halves",
    "split_words",
    "templates_for",
    "vocabulary",
]
