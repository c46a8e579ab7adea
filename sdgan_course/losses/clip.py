r"""CLIP's symmetric contrastive loss (InfoNCE) with a learned temperature, and what to do with duplicate captions.

Radford et al. 2021 (arXiv:2103.00020), Figure 3: with image embeddings :math:`I` and text embeddings :math:`T` of a
batch of :math:`n` matching pairs, both L2-normalised,

.. math:: \text{logits} = e^{t}\, I T^\top, \qquad
          L = \tfrac12\big(\mathrm{CE}(\text{logits}, \mathrm{arange}(n)) +
                          \mathrm{CE}(\text{logits}^\top, \mathrm{arange}(n))\big),

the cross-entropy of picking the right caption for each image (rows) and the right image for each caption
(columns): InfoNCE (van den Oord et al. 2018, arXiv:1807.03748) in both directions. The temperature is learned as
:math:`t = \log(1/\tau)`, initialised at :math:`\tau = 0.07` and clipped so the scale :math:`e^t` never exceeds
100 (section 2.5).

**Duplicate positives.** Templated captions repeat: a batch of 128 Fashion-MNIST images holds about 13 bags, and
the captions "a photo of a bag" and "a picture of a bag" say the same thing. Plain CLIP would call the *other* bags'
captions negatives for a bag image and push apart what cannot be told apart. Pass ``groups`` (B,), one id per
meaning (the class, or the (left, right) arrangement), and choose:

- ``duplicates="soft"`` (default): the target of each row and each column is uniform over all entries of its group,
  :math:`q_{ij} = [g_i = g_j] / |\{k: g_k = g_i\}|` (supervised-contrastive style targets, cf. Khosla et al. 2020,
  arXiv:2004.11362); the loss is :math:`-\sum_j q_{ij}\log p_{ij}`, whose minimum (an entropy, not 0) is reached
  when an image scores all captions of its meaning alike;
- ``duplicates="mask"``: the off-diagonal entries of the same group are removed from the softmax (set to
  :math:`-\infty`): neither positives nor negatives, so each row is plain InfoNCE among the other meanings;
- ``groups=None``: CLIP as published (every off-diagonal entry is a negative).

With all groups distinct the three agree.

Shape legend: B batch, D embedding width.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

MAX_LOG_SCALE = math.log(100.0)  # CLIP clips the logit scale at 100
INIT_LOG_SCALE = math.log(1 / 0.07)


class CLIPLoss(NamedTuple):
    loss: torch.Tensor  # () the symmetric loss
    logits: torch.Tensor  # (B, B) scaled cosine similarities, rows images, columns texts
    accuracy: torch.Tensor  # () share of images whose best-scoring caption has their meaning (their group)


def clip_logits(image_emb: torch.Tensor, text_emb: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    r""":math:`e^{\min(t, \log 100)}\,\hat I \hat T^\top` for embeddings (B, D) and (B', D): (B, B') logits."""
    image_emb = F.normalize(image_emb, dim=-1)  # (B, D)
    text_emb = F.normalize(text_emb, dim=-1)  # (B', D)
    return log_scale.clamp(max=MAX_LOG_SCALE).exp() * image_emb @ text_emb.T  # (B, B')


def clip_loss(
    image_emb: torch.Tensor,
    text_emb: torch.Tensor,
    log_scale: torch.Tensor,
    *,
    groups: torch.Tensor | None = None,
    duplicates: str = "soft",
) -> CLIPLoss:
    """The symmetric contrastive loss of matching rows of ``image_emb`` (B, D) and ``text_emb`` (B, D); see the
    module docstring for ``groups`` (B,) and ``duplicates`` (``"soft"`` or ``"mask"``)."""
    if image_emb.shape != text_emb.shape or image_emb.ndim != 2:
        raise ValueError(
            f"Expected image and text embeddings of one shape (B, D), got {tuple(image_emb.shape)} and "
            f"{tuple(text_emb.shape)}."
        )
    if duplicates not in ("soft", "mask"):
        raise ValueError(f"duplicates must be 'soft' or 'mask', got {duplicates!r}.")
    logits = clip_logits(image_emb, text_emb, log_scale).float()  # (B, B)
    n = len(logits)
    eye = torch.eye(n, dtype=torch.bool, device=logits.device)  # (B, B)
    same = eye if groups is None else groups[:, None] == groups[None, :]  # (B, B) same meaning
    if groups is None or duplicates == "mask":
        masked = logits.masked_fill(same & ~eye, float("-inf"))  # (B, B)
        target = torch.arange(n, device=logits.device)
        loss = 0.5 * (F.cross_entropy(masked, target) + F.cross_entropy(masked.T, target))
    else:
        q = same.float() / same.sum(1, keepdim=True)  # (B, B) rows sum to 1; symmetric, so columns too
        loss = 0.5 * (-(q * logits.log_softmax(1)).sum(1).mean() + -(q * logits.log_softmax(0)).sum(0).mean())
    best = logits.argmax(1)  # (B,)
    accuracy = same[torch.arange(n, device=logits.device), best].float().mean()
    return CLIPLoss(loss, logits, accuracy)


__all__ = ["INIT_LOG_SCALE", "MAX_LOG_SCALE", "CLIPLoss", "clip_logits", "clip_loss"]
