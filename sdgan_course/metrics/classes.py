r"""Scores from the classifier's predicted classes: the Inception-score analogue, class coverage and label agreement.

(Mode coverage of a toy mixture, whose modes are known exactly, is :func:`sdgan_course.data.toy.count_modes`.)

Shape legend: N samples, K classes.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from .features import MetricInputError


class InceptionScore(NamedTuple):
    mean: float
    std: float


def inception_score(probs, *, splits: int = 10) -> InceptionScore:
    r"""Inception-score analogue on the course classifier (Salimans et al. 2016, arXiv:1606.03498, Sec. 4):

    .. math:: \mathrm{IS} = \exp\big(\mathbb{E}_x\, \mathrm{KL}(p(y\mid x)\,\Vert\, p(y))\big)

    It ranges from 1 (every sample gets the same prediction, or every prediction is uniform) to K (confident and
    evenly spread over the K classes). It never looks at real data. Mean and std over ``splits`` chunks.
    """
    p = torch.as_tensor(probs, dtype=torch.float64)
    if p.ndim != 2 or len(p) < splits:
        raise MetricInputError(f"probs must be (N, K) with N >= splits={splits}; got shape {tuple(p.shape)}.")
    if (p < -1e-6).any() or not torch.allclose(p.sum(1), torch.ones(len(p), dtype=torch.float64), atol=1e-4):
        raise MetricInputError("probs must be probabilities: non-negative rows that sum to 1 (apply softmax first).")
    scores = []
    for chunk in p.chunk(splits):
        py = chunk.mean(0, keepdim=True)  # (1, K)
        kl = (chunk * (torch.log(chunk.clamp_min(1e-12)) - torch.log(py.clamp_min(1e-12)))).sum(1)  # (n,)
        scores.append(kl.mean().exp())
    s = torch.stack(scores)
    return InceptionScore(float(s.mean()), float(s.std()) if splits > 1 else 0.0)


class ClassCoverage(NamedTuple):
    """How the predicted classes of a sample set are spread."""

    histogram: torch.Tensor  # (K,) fraction of samples predicted as each class
    entropy: float  # nats; log K = perfectly even
    normalised_entropy: float  # entropy / log K, in [0, 1]
    classes_covered: int  # classes that receive at least half their fair share 1/(2K)
    label_agreement: float | None  # with intended labels (>= 0): fraction where the classifier agrees


def class_coverage(probs, *, labels=None) -> ClassCoverage:
    """Histogram of the classifier's predicted classes, its entropy and, for class-conditional samples, how often the
    predicted class equals the requested label."""
    p = torch.as_tensor(probs, dtype=torch.float64)
    if p.ndim != 2:
        raise MetricInputError(f"probs must be (N, K); got shape {tuple(p.shape)}.")
    k = p.shape[1]
    pred = p.argmax(1)  # (N,)
    hist = torch.bincount(pred, minlength=k).double() / len(pred)  # (K,)
    nz = hist[hist > 0]
    entropy = float(-(nz * nz.log()).sum())
    agreement = None
    if labels is not None:
        labels = torch.as_tensor(labels).long().flatten()
        if len(labels) != len(pred):
            raise MetricInputError(f"{len(labels)} labels for {len(pred)} samples.")
        known = labels >= 0  # -1 marks "no requested label" (samples of an unconditional model)
        if known.any():
            agreement = float((labels[known] == pred[known]).double().mean())
    return ClassCoverage(hist.float(), entropy, entropy / math.log(k), int((hist >= 0.5 / k).sum()), agreement)
