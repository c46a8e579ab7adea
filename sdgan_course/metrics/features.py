r"""What every metric starts from: checked images, classifier features, and the real data's reference statistics.

Why the course's own features: the standard FID uses Inception-v3 features of ImageNet photographs. On 28x28
greyscale garments the course classifier (:mod:`sdgan_course.models.classifier`, one per dataset, shipped with
checksums) is a better-suited, much faster feature network. Numbers are therefore comparable *within this course*
(same classifier, same checksum), never with FIDs in papers (:func:`sdgan_course.metrics.fid.inception_fid` computes
the standard one when its package and weights are present).

Shape legend: N, M sample counts, F feature dimension (128), K classes (10), C channels, H x W pixels.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ..assets import CHECKOUT_DATA, DataError, cache_dir, find_asset, forget_asset, manifest, record_asset
from ..data.images import load_images, to_model_range
from ..models.classifier import CLASSIFIER_DIR, ClassifierInfo, load_classifier

# ---------------------------------------------------------------- input checks


class MetricInputError(ValueError):
    """Inputs of a metric have the wrong shape, dtype or range."""


def as_images(images, *, name: str = "images") -> torch.Tensor:
    """Check and convert images to float (N, C, H, W) in the model range [-1, 1].

    Accepts uint8 arrays/tensors (N, H, W) or (N, C, H, W) in [0, 255] (converted), or float tensors already in
    [-1, 1]. The shape comes from the data; the feature network checks that it is the shape it was trained on.
    Float images outside [-1, 1] (e.g. [0, 255] floats) are refused with a message that says how to convert them.
    (Float images in [0, 1] pass this check unnoticed: only the bounds can be checked.)
    """
    x = torch.as_tensor(images)
    if x.ndim == 3:
        x = x.unsqueeze(1)  # (N, 1, H, W)
    if x.ndim != 4:
        raise MetricInputError(
            f"{name} must have shape (N, H, W) or (N, C, H, W); got {tuple(torch.as_tensor(images).shape)}."
        )
    if len(x) == 0:
        raise MetricInputError(f"{name} is empty.")
    if x.dtype == torch.uint8:
        return to_model_range(x)
    if not x.is_floating_point():
        raise MetricInputError(f"{name} must be uint8 [0, 255] or float in [-1, 1]; got dtype {x.dtype}.")
    lo, hi = x.min().item(), x.max().item()
    if lo < -1.001 or hi > 1.001 or not math.isfinite(lo + hi):
        raise MetricInputError(
            f"{name} must be in the model range [-1, 1]; got values in [{lo:.3g}, {hi:.3g}]. Convert uint8 pixels with "
            "sdgan_course.data.to_model_range (or x / 127.5 - 1), and [0, 1] images with 2 * x - 1."
        )
    return x.float()


def _as_features(x, name: str) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.ndim != 2 or len(x) == 0:
        raise MetricInputError(f"{name} must be a non-empty matrix (N, F) of features; got shape {tuple(x.shape)}.")
    if not torch.isfinite(x).all():
        raise MetricInputError(f"{name} contains NaN or infinite values.")
    return x.detach().cpu().double()  # cheap on the CPU, and float64 everywhere (Apple GPUs have no float64)


def _same_dim(a: torch.Tensor, b: torch.Tensor, what: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise MetricInputError(
            f"{what}: the two feature sets have different dimensions ({a.shape[1]} vs {b.shape[1]}); "
            "compute both with the same classifier."
        )


# ---------------------------------------------------------------- features


class FeatureSet(NamedTuple):
    """Classifier outputs for a set of images."""

    features: torch.Tensor  # (N, F) float32, on the CPU
    probs: torch.Tensor  # (N, K) float32 class probabilities, on the CPU


@torch.no_grad()
def extract_features(images, classifier, *, batch_size: int = 500) -> FeatureSet:
    """Run the course classifier over images (uint8 or [-1, 1]) in batches; returns features and class probabilities.

    ``classifier`` is a :class:`~sdgan_course.models.classifier.ClassifierInfo` or the model itself; batches go to the
    model's device.
    """
    model = classifier.model if isinstance(classifier, ClassifierInfo) else classifier
    x = as_images(images)
    device = next(model.parameters()).device
    model.eval()
    feats, probs = [], []
    for start in range(0, len(x), batch_size):
        out = model.features_and_logits(x[start : start + batch_size].to(device))
        feats.append(out.features.float().cpu())  # (B, F)
        probs.append(out.logits.float().softmax(-1).cpu())  # (B, K)
    return FeatureSet(torch.cat(feats), torch.cat(probs))  # (N, F), (N, K)


class GaussianStats(NamedTuple):
    """Mean and covariance of a feature set (float64)."""

    mu: torch.Tensor  # (F,)
    sigma: torch.Tensor  # (F, F)
    n: int


def feature_statistics(features) -> GaussianStats:
    """Mean and unbiased covariance (divides by N - 1) of features (N, F), in float64."""
    f = _as_features(features, "features")
    if len(f) < 2:
        raise MetricInputError("A covariance needs at least 2 samples.")
    mu = f.mean(0)  # (F,)
    centred = f - mu  # (N, F)
    sigma = centred.T @ centred / (len(f) - 1)  # (F, F)
    return GaussianStats(mu, sigma, len(f))


# ---------------------------------------------------------------- reference statistics (cached)


class ReferenceStats(NamedTuple):
    """Statistics of a real split under one classifier: Gaussian fit of all its features, plus the features and
    class probabilities of a fixed subset (for KID and precision/recall)."""

    mu: torch.Tensor  # (F,) float64
    sigma: torch.Tensor  # (F, F) float64
    n: int  # images in the split
    features: torch.Tensor  # (M, F) float32, a fixed subset
    probs: torch.Tensor  # (M, K) float32
    dataset: str
    split: str
    classifier_sha256: str


def reference_file_name(dataset: str, split: str, sha256: str) -> str:
    return f"reference_{dataset}_{split}_{sha256[:12]}.npz"


def _reference_locations(name: str) -> list[Path]:
    """Shipped statistics (verified against the manifest) first, then the user cache."""
    found = []
    shipped_name = f"{CLASSIFIER_DIR}/{name}"
    if shipped_name in manifest():
        try:
            found.append(find_asset(shipped_name))
        except DataError:
            pass  # missing or corrupted: recompute (and cache) instead
    cached = cache_dir() / "reference_stats" / name
    return found + ([cached] if cached.is_file() else [])


def reference_statistics(
    dataset: str,
    split: str = "train",
    *,
    classifier: ClassifierInfo | None = None,
    num_features: int = 5000,
    device=None,
    cache: bool = True,
    verbose: bool = False,
) -> ReferenceStats:
    """Real-data statistics for FID/KID/PR, computed once and cached in a file keyed by the classifier's SHA-256.

    The file ``reference_<dataset>_<split>_<sha[:12]>.npz`` is looked for among the shipped files
    (``data/classifiers/``, verified against the asset manifest) and in the user cache; if none matches it is computed
    (mean and covariance of all the split's features: seconds to a minute on a CPU) and written to the user cache. A
    file made with another classifier is never used: its name and its stored checksum both have to match.
    ``num_features`` real images (a fixed, seeded subset) keep their features.
    """
    classifier = classifier or load_classifier(dataset, device=device)
    key = classifier.dataset
    name = reference_file_name(key, split, classifier.sha256)
    for path in _reference_locations(name):
        try:
            with np.load(path) as z:
                if str(z["classifier_sha256"]) == classifier.sha256 and len(z["features"]) >= num_features:
                    return ReferenceStats(
                        torch.from_numpy(z["mu"]), torch.from_numpy(z["sigma"]), int(z["n"]),
                        torch.from_numpy(z["features"][:num_features].astype(np.float32)),
                        torch.from_numpy(z["probs"][:num_features].astype(np.float32)),
                        key, split, classifier.sha256,
                    )
        except (OSError, ValueError, KeyError):
            pass  # unreadable or old cache file: recompute below
    start = time.perf_counter()
    real = load_images(key, split)
    fs = extract_features(real.images, classifier)
    stats = feature_statistics(fs.features)
    keep = torch.randperm(len(real.images), generator=torch.Generator().manual_seed(1234))[:num_features]
    ref = ReferenceStats(
        stats.mu, stats.sigma, stats.n, fs.features[keep], fs.probs[keep], key, split, classifier.sha256
    )
    if verbose:
        print(f"computed reference statistics of {key}/{split} in {time.perf_counter() - start:.1f} s")
    if cache:
        save_reference_statistics(ref, cache_dir() / "reference_stats" / name)
    return ref


def save_reference_statistics(ref: ReferenceStats, path: Path) -> Path | None:
    """Write reference statistics to ``path`` (features stored as float16); returns the path, or None if the folder
    is not writable (the statistics are then simply recomputed next time)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(
            tmp, mu=ref.mu.numpy(), sigma=ref.sigma.numpy(), n=ref.n, features=ref.features.numpy().astype(np.float16),
            probs=ref.probs.numpy().astype(np.float16), classifier_sha256=ref.classifier_sha256,
        )
        os.replace(tmp, path)
        return path
    except OSError:
        return None


def ship_reference_statistics(dataset: str, folder: Path, *, split: str = "train", path=None,
                              num_features: int = 5000) -> Path:
    """Compute the reference statistics of ``dataset``/``split`` for the classifier in ``folder`` (or ``path``) and
    write them next to it (``data/classifiers/``), removing files made for other versions of that classifier. Files
    inside the checkout's ``data/`` are recorded in the asset manifest."""
    classifier = load_classifier(dataset, path=path) if path is not None else load_classifier(dataset)
    ref = reference_statistics(classifier.dataset, split, classifier=classifier, num_features=num_features, cache=False)
    target = Path(folder) / reference_file_name(classifier.dataset, split, classifier.sha256)
    shipped_here = Path(folder).resolve() == (CHECKOUT_DATA / CLASSIFIER_DIR).resolve()
    for old in Path(folder).glob(f"reference_{classifier.dataset}_{split}_*.npz"):
        if old != target:
            old.unlink()
            if shipped_here:
                forget_asset(f"{CLASSIFIER_DIR}/{old.name}")
    saved = save_reference_statistics(ref, target)
    if saved is None:
        raise OSError(f"Could not write {target}.")
    if shipped_here:
        record_asset(saved)
    return saved
