r"""What a trained miniature CLIP measures: CLIP score, zero-shot classification, reranking.

- **CLIP score** of an image and a prompt: :math:`100\cdot\max(\cos(E_I(x), E_T(y)), 0)`, the cosine similarity of
  their embeddings. Hessel et al. 2021 (CLIPScore, arXiv:2104.08718) define :math:`w\cdot\max(\cos, 0)` with
  :math:`w = 2.5`; text-to-image papers and ``torchmetrics`` report :math:`w = 100`, which we follow. A score only
  compares models scored by the *same* CLIP: ours is not comparable with numbers from ViT-L/14.
- **Zero-shot classification** (Radford et al. 2021, arXiv:2103.00020, section 3.1): embed one prompt per class
  (``"a photo of a {name}"``) and label each image with the class whose prompt is most similar. No classifier is
  trained; the accuracy says how well image and text embeddings line up.
- **Reading compositions**: the same, over the captions of all 90 ordered two-item arrangements, on 28 x 56
  canvases (held-out arrangements test whether the encoders compose).
- **Reranking** (Ramesh et al. 2021, arXiv:2102.12092, section 2.5: DALL-E drew 512 samples per caption and kept the
  ones CLIP scored highest): keep the ``k`` of ``n`` images most similar to the prompt.

Shape legend: N images, C channels, H x W pixels, K classes, D embedding width.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from ..data.captions import CLASS_WORDS, PAIR_TEMPLATES, TEMPLATES
from ..models.text_encoder import MiniCLIP


@torch.no_grad()
def image_embeddings(model: MiniCLIP, images: torch.Tensor, *, batch_size: int = 500) -> torch.Tensor:
    """Unit-norm embeddings (N, D) of images (N, C, H, W) in [-1, 1], in batches, in eval mode."""
    was_training = model.training
    model.eval()
    out = torch.cat([model.embed(images=images[i : i + batch_size])[0] for i in range(0, len(images), batch_size)])
    model.train(was_training)
    return out  # (N, D)


@torch.no_grad()
def text_embeddings(model: MiniCLIP, prompts: Sequence[str]) -> torch.Tensor:
    """Unit-norm embeddings (len(prompts), D) of prompts, in eval mode."""
    was_training = model.training
    model.eval()
    out = model.embed(prompts=list(prompts))[1]
    model.train(was_training)
    return out  # (N, D)


def clip_score(
    model: MiniCLIP, images: torch.Tensor, prompts: str | Sequence[str], *, batch_size: int = 500
) -> torch.Tensor:
    """Per-image CLIP score (N,) in [0, 100] of images (N, C, H, W) in [-1, 1] against one prompt or N prompts."""
    prompts = [prompts] * len(images) if isinstance(prompts, str) else list(prompts)
    if len(prompts) != len(images):
        raise ValueError(f"Pass one prompt or one per image: got {len(prompts)} prompts for {len(images)} images.")
    img = image_embeddings(model, images, batch_size=batch_size)  # (N, D)
    unique = list(dict.fromkeys(prompts))
    txt = text_embeddings(model, unique)  # (U, D)
    which = torch.tensor([unique.index(p) for p in prompts], device=txt.device)  # (N,)
    cos = (img * txt[which]).sum(-1)  # (N,)
    return 100 * cos.clamp(min=0).cpu()


class ZeroShot(NamedTuple):
    accuracy: float
    per_class: torch.Tensor  # (K,) accuracy per true class (NaN where a class has no images)
    predictions: torch.Tensor  # (N,) predicted class
    prompts: list[str]  # the K class prompts


def class_prompts(dataset: str = "fashion_mnist", template: str | None = None) -> list[str]:
    """One prompt per class: ``template`` (default the dataset's first, e.g. ``"a photo of a {name}"``)."""
    if dataset not in CLASS_WORDS:
        raise ValueError(f"No class words for dataset {dataset!r}; use one of {', '.join(CLASS_WORDS)}.")
    template = template or TEMPLATES[dataset][0]
    return [template.format(name=name) for name in CLASS_WORDS[dataset]]


def zero_shot_predict(model: MiniCLIP, images: torch.Tensor, prompts: Sequence[str], *, batch_size: int = 500):
    """(N,) index of the most similar prompt for each image (N, C, H, W)."""
    img = image_embeddings(model, images, batch_size=batch_size)  # (N, D)
    txt = text_embeddings(model, prompts)  # (K, D)
    return (img @ txt.T).argmax(1).cpu()  # (N,)


def zero_shot_accuracy(
    model: MiniCLIP,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    dataset: str = "fashion_mnist",
    template: str | None = None,
    batch_size: int = 500,
) -> ZeroShot:
    """Zero-shot classification of images (N, C, H, W) with true ``labels`` (N,) by one prompt per class."""
    prompts = class_prompts(dataset, template)
    pred = zero_shot_predict(model, images, prompts, batch_size=batch_size)  # (N,)
    labels = labels.cpu()
    right = (pred == labels).float()  # (N,)
    k = len(prompts)
    counts = torch.bincount(labels, minlength=k).float()  # (K,)
    per_class = torch.bincount(labels, weights=right, minlength=k) / counts  # (K,), NaN where counts == 0
    return ZeroShot(right.mean().item(), per_class, pred, prompts)


class CompositionScore(NamedTuple):
    accuracy: float  # share of canvases whose best caption names both items in the right order
    items: float  # share whose best caption names the right two items, in either order
    predictions: torch.Tensor  # (N, 2) predicted (left, right) classes


def composition_accuracy(
    model: MiniCLIP, images: torch.Tensor, labels: torch.Tensor, *, dataset: str = "fashion_mnist"
) -> CompositionScore:
    """Zero-shot reading of compositions (N, C, 28, 56) with (N, 2) (left, right) labels: score the caption
    ``"a {left} to the left of a {right}"`` of every ordered pair of distinct classes and keep the best. ``items``
    ignores the order: the gap to ``accuracy`` is how much "left of" is understood beyond "which two things"."""
    names = CLASS_WORDS[dataset]
    pairs = [(a, b) for a in range(len(names)) for b in range(len(names)) if a != b]
    prompts = [PAIR_TEMPLATES[0].format(left=names[a], right=names[b]) for a, b in pairs]
    pred = torch.tensor(pairs)[zero_shot_predict(model, images, prompts)]  # (N, 2)
    labels = labels.cpu()
    exact = (pred == labels).all(1).float().mean().item()
    either = ((pred == labels).all(1) | (pred == labels.flip(1)).all(1)).float().mean().item()
    return CompositionScore(exact, either, pred)


class Reranked(NamedTuple):
    images: torch.Tensor  # (k, C, H, W) best first
    scores: torch.Tensor  # (k,) their CLIP scores
    indices: torch.Tensor  # (k,) their positions in the input


def rerank(model: MiniCLIP, images: torch.Tensor, prompt: str, k: int) -> Reranked:
    """The ``k`` images (of N) that CLIP finds most like ``prompt``, best first (as DALL-E reranked its samples)."""
    if not 1 <= k <= len(images):
        raise ValueError(f"k must be in 1..{len(images)} (the number of images), got {k}.")
    img = image_embeddings(model, images)  # (N, D)
    cos = (img @ text_embeddings(model, [prompt])[0]).cpu()  # (N,)
    order = cos.argsort(descending=True)[:k]  # (k,) by the raw cosine (CLIP scores tie at 0 below cos = 0)
    scores = 100 * cos.clamp(min=0)  # (N,)
    return Reranked(images[order.to(images.device)], scores[order], order)


__all__ = [
    "CompositionScore",
    "Reranked",
    "ZeroShot",
    "class_prompts",
    "clip_score",
    "composition_accuracy",
    "image_embeddings",
    "rerank",
    "text_embeddings",
    "zero_shot_accuracy",
    "zero_shot_predict",
]
