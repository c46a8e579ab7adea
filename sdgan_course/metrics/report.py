r"""Every metric of a sample set at once (:func:`evaluate_samples`, what ``python -m sdgan_course evaluate`` prints),
the table that shows them, the rounded rows of the quality tables (:func:`score_row`, :func:`real_floor`,
:func:`describe_machine`, what ``tools/evaluate_*.py`` and ``tools/compare_models.py`` store), and reading sample
files.

Shape legend: N samples, C channels, H x W pixels.
"""

from __future__ import annotations

import platform
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..data.images import load_images
from ..models.classifier import ClassifierInfo, load_classifier
from .classes import class_coverage, inception_score
from .features import (
    MetricInputError,
    ReferenceStats,
    as_images,
    extract_features,
    feature_statistics,
    reference_statistics,
)
from .fid import frechet_distance, kid_from_features
from .precision_recall import density_coverage, precision_recall
from .similarity import memorisation_check


def score_samples(images, reference: ReferenceStats, classifier: ClassifierInfo, *, k: int = 3, labels=None,
                  kid_subsets: int = 50, kid_subset_size: int = 1000) -> dict:
    """The feature-based metrics of a sample set against cached reference statistics (no memorisation check):
    ``fid``, ``kid``, ``kid_std``, ``precision``, ``recall``, ``density``, ``coverage`` (on equal set sizes),
    ``inception_score``,
    ``class_entropy``, ``classes_covered``, ``label_agreement``. Fast enough to call inside a loop."""
    fs = extract_features(images, classifier)
    stats = feature_statistics(fs.features)
    n_pr = min(len(fs.features), len(reference.features))
    pr = precision_recall(reference.features[:n_pr], fs.features[:n_pr], k=k)
    dc = density_coverage(reference.features[:n_pr], fs.features[:n_pr])
    kid = kid_from_features(reference.features, fs.features, num_subsets=kid_subsets, subset_size=kid_subset_size)
    is_ = inception_score(fs.probs, splits=min(10, len(fs.probs)))
    cov = class_coverage(fs.probs, labels=labels)
    return {
        "num_samples": len(fs.features),
        "fid": frechet_distance(stats.mu, stats.sigma, reference.mu, reference.sigma),
        "kid": kid.mean,
        "kid_std": kid.std,
        "precision": pr.precision,
        "recall": pr.recall,
        "density": dc.density,
        "coverage": dc.coverage,
        "inception_score": is_.mean,
        "inception_score_std": is_.std,
        "class_entropy": cov.normalised_entropy,
        "classes_covered": cov.classes_covered,
        "label_agreement": cov.label_agreement,
        "class_histogram": [round(float(h), 4) for h in cov.histogram],
    }


def evaluate_samples(
    images,
    dataset: str,
    *,
    labels=None,
    reference_split: str = "train",
    heldout_split: str = "test",
    classifier: ClassifierInfo | None = None,
    reference: ReferenceStats | None = None,
    k: int = 3,
    num_reference: int = 5000,
    kid_subsets: int = 50,
    kid_subset_size: int = 1000,
    memorisation_train: int | None = 10000,
    memorisation_heldout: int = 1000,
    device=None,
) -> dict:
    """All metrics of a set of generated images against one real split; returns a flat dict of numbers.

    FID uses the Gaussian fit of the *whole* reference split; KID and precision/recall use ``num_reference`` real
    features (set equal to the sample count for comparable PR); memorisation compares with ``memorisation_train``
    training images (``None``: all) and ``memorisation_heldout`` images of ``heldout_split`` as the baseline.
    """
    start = time.perf_counter()
    x = as_images(images)
    classifier = classifier or load_classifier(dataset, device=device)
    reference = reference or reference_statistics(
        classifier.dataset, reference_split, classifier=classifier, num_features=num_reference
    )
    result = score_samples(
        x, reference, classifier, k=k, labels=labels, kid_subsets=kid_subsets, kid_subset_size=kid_subset_size
    )
    train = load_images(classifier.dataset, "train", limit=memorisation_train).images
    heldout = load_images(classifier.dataset, heldout_split, limit=memorisation_heldout).images
    mem = memorisation_check(x, train, heldout)
    hist = result.pop("class_histogram")
    result.update(
        nn_distance_median=float(mem.sample_distances.median()),
        nn_distance_ratio=mem.median_ratio,
        copy_fraction=mem.copy_fraction,
        class_histogram=hist,
        reference=f"{classifier.dataset}/{reference_split} (n={reference.n}, classifier {classifier.sha256[:12]})",
    )
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result


# The columns of the stored quality tables (data/checkpoints/*_eval.json, comparison_eval.json; notebooks 10-12)
SCORE_KEYS = ("fid", "kid", "precision", "recall", "label_agreement", "classes_covered")


def score_row(images, labels, reference: ReferenceStats, classifier: ClassifierInfo) -> dict:
    """One row of a stored quality table: :data:`SCORE_KEYS` of :func:`score_samples`, each rounded to 4 decimals,
    KID on subsets of at most 1,000 images (all of them when there are fewer). Without ``labels`` the label
    agreement is ``None``."""
    r = score_samples(images, reference, classifier, labels=labels, kid_subset_size=min(len(images), 1000))
    return {k: None if r[k] is None else round(float(r[k]), 4) for k in SCORE_KEYS}


def real_floor(n: int, reference: ReferenceStats, classifier: ClassifierInfo, *,
               dataset: str = "fashion_mnist") -> dict:
    """The floor of a quality table: the first ``n`` real test images scored as if they were samples (what a perfect
    model would reach at this sample count; FID in particular grows as the count shrinks)."""
    test = load_images(dataset, "test", limit=n)
    row = dict(model="real test images", n=len(test.images))
    row.update(score_row(test.images, test.labels, reference, classifier))
    return row


def describe_machine() -> str:
    """The processor, torch's thread count and version, stored beside every measured table."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


METRIC_NOTES = {
    "fid": "squared Fréchet distance of course features (lower is better; grows as N shrinks)",
    "kid": "kernel distance, unbiased (lower is better; ~0 for real data)",
    "precision": "fraction of samples on the real manifold (quality)",
    "recall": "fraction of real data on the sample manifold (diversity)",
    "density": "real balls holding each sample / k (~1 for real data)",
    "coverage": "fraction of real points with a sample nearby",
    "inception_score": "IS analogue, 1..10 (higher: confident and varied)",
    "class_entropy": "entropy of predicted classes / log 10 (1 = even)",
    "classes_covered": "classes with at least half their fair share",
    "label_agreement": "classifier agrees with the requested label",
    "nn_distance_median": "median RMS pixel distance to nearest train image",
    "nn_distance_ratio": "that median / held-out real median (<<1: copying)",
    "copy_fraction": "closer to a train image than 99% of real held-out",
}


def format_table(results: dict[str, dict], *, keys=None, meanings: bool = True) -> str:
    """A plain-text table: one column per result set (e.g. 'real test', 'GAN'), one row per metric, and under it
    (``meanings``) what each metric measures, one line each, so that the table stays narrow enough for a notebook
    (JupyterLab breaks output lines longer than about 120 characters anywhere, even mid-word)."""
    keys = keys or [k for k in METRIC_NOTES if any(r.get(k) is not None for r in results.values())]
    names = list(results)
    width = max(12, *(len(n) for n in names))
    label = max(6, *(len(k) for k in keys)) + 2
    lines = [f"{'metric':<{label}}" + "".join(f"{n:>{width + 2}}" for n in names)]
    for key in keys:
        cells = []
        for n in names:
            v = results[n].get(key)
            cells.append(f"{'-' if v is None else (f'{v:.4f}' if isinstance(v, float) else v):>{width + 2}}")
        lines.append(f"{key:<{label}}" + "".join(cells))
    if meanings:
        lines += [""] + [f"{key:<{label}}{METRIC_NOTES[key]}" for key in keys if key in METRIC_NOTES]
    return "\n".join(lines)


def load_samples(path: str | Path) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Read SAMPLES.npz: ``images`` uint8 (N, H, W) or (N, C, H, W) and optionally ``labels`` (N,), where -1 means
    "no label".
    Returns model-range images and the labels (``None`` when absent or all -1)."""
    path = Path(path)
    if not path.is_file():
        raise MetricInputError(f"Samples file {path} does not exist.")
    expected = ("a samples file is an .npz (NumPy's np.savez, as `python -m sdgan_course sample ...` writes) with "
                "'images' uint8 (N, H, W) and optionally 'labels' (N,)")
    try:
        z = np.load(path)  # allow_pickle=False: a pickle or text file is refused, not run
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise MetricInputError(f"{path} is not a samples file ({type(err).__name__}): {expected}.") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise MetricInputError(f"{path} is not a samples file (a single .npy array): {expected}.")
    with z:
        if "images" not in z.files:
            raise MetricInputError(f"{path} has no 'images' array (it has: {', '.join(z.files)}): {expected}.")
        try:
            images = z["images"]
            labels = z["labels"] if "labels" in z else None
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
            raise MetricInputError(f"{path} is not a samples file ({type(err).__name__}): {expected}.") from None
    if images.dtype != np.uint8:
        raise MetricInputError(f"{path}: 'images' must be uint8 [0, 255] (N, H, W); got dtype {images.dtype}.")
    x = as_images(images)
    if labels is not None and len(labels) != len(x):
        raise MetricInputError(f"{path}: {len(labels)} labels for {len(x)} images.")
    if labels is not None and (labels < 0).all():
        labels = None
    return x, (torch.as_tensor(labels).long() if labels is not None else None)
