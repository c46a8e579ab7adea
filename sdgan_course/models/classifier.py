"""The course classifiers: small CNNs whose penultimate layer is the feature space for FID, KID and precision/recall.

Real FID uses Inception-v3 features of ImageNet photographs (Heusel et al. 2017, arXiv:1706.08500). For 28x28
greyscale garments and digits those features are a poor fit and the network is large, so the course trains its own
feature network per dataset (:mod:`sdgan_course.train.classifier`): three convolution blocks, a 128-d feature layer,
a 10-way linear head. Its weights ship in ``data/classifiers/`` as course checkpoints (kind ``"classifier"``), listed
with their SHA-256 in the asset manifest, and every load checks the checksum.

Shape legend: B batch, C channels, H x W pixels (the config's image size), F feature dimension (128), K classes (10).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..assets import DataError, find_asset, sha256_of
from ..checkpoint import load_checkpoint
from ..data.images import dataset_info

CLASSIFIER_DIR = "classifiers"  # inside data/
CHECKPOINT_KIND = "classifier"
FEATURE_DIM = 128


class ClassifierError(DataError):
    """A classifier file is missing, corrupted or built for another dataset."""


@dataclass(frozen=True)
class ClassifierConfig:
    """Architecture of a course classifier (stored in its file, so the file rebuilds its own model)."""

    num_classes: int = 10
    width: int = 32  # channels of the first block; later blocks use 2x and 4x
    feature_dim: int = FEATURE_DIM
    dropout: float = 0.3
    image_size: int = 28  # H = W of the input images
    channels: int = 1


class ClassifierOutput(NamedTuple):
    """What one forward pass gives: the feature vector (pre-activation of the penultimate layer) and the logits."""

    features: torch.Tensor  # (B, F)
    logits: torch.Tensor  # (B, K)


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class CourseClassifier(nn.Module):
    """A small CNN: 28x28 -> 14x14 -> 7x7 -> 3x3 -> 128-d features -> K logits (about 0.25 M parameters, 1 MB).

    Other image sizes and channel counts come from the config (each max-pool halves the size, rounding down).

    ``forward`` returns logits; :meth:`features_and_logits` also returns the 128-d feature vector used by the metrics
    (the linear layer's output *before* its ReLU, so the features are closer to Gaussian, as FID assumes).
    Inputs are images in the model range [-1, 1].
    """

    def __init__(self, *, config: ClassifierConfig | None = None):
        super().__init__()
        self.config = config or ClassifierConfig()
        w = self.config.width
        self.body = nn.Sequential(
            _block(self.config.channels, w), nn.MaxPool2d(2),  # (B, w, H/2, W/2)
            _block(w, 2 * w), nn.MaxPool2d(2),  # (B, 2w, H/4, W/4)
            _block(2 * w, 4 * w), nn.MaxPool2d(2),  # (B, 4w, H/8, W/8)
        )
        side = self.config.image_size // 8
        if side < 1:
            raise ValueError(f"The course classifier needs 8 x 8 pixels or more, got {self.config.image_size}.")
        self.feature = nn.Linear(4 * w * side * side, self.config.feature_dim)
        self.dropout = nn.Dropout(self.config.dropout)
        self.head = nn.Linear(self.config.feature_dim, self.config.num_classes)

    def features_and_logits(self, x: torch.Tensor) -> ClassifierOutput:
        if x.ndim == 3 and self.config.channels == 1:
            x = x.unsqueeze(1)  # (B, H, W) -> (B, 1, H, W)
        if x.ndim != 4 or tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(
                f"The course classifier takes images (B, {', '.join(map(str, self.image_shape))}) in [-1, 1]; got "
                f"{tuple(x.shape)}."
            )
        h = self.body(x).flatten(1)  # (B, 4w * H/8 * W/8)
        f = self.feature(h)  # (B, F)
        logits = self.head(self.dropout(F.relu(f)))  # (B, K)
        return ClassifierOutput(f, logits)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the images this classifier takes."""
        return (self.config.channels, self.config.image_size, self.config.image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features_and_logits(x).logits


# ---------------------------------------------------------------- shipped files


class ClassifierInfo(NamedTuple):
    """A loaded course classifier (in eval mode) and the facts about its file."""

    model: CourseClassifier
    dataset: str
    sha256: str
    test_accuracy: float
    path: Path


def dataset_key(dataset: str) -> str:
    """The canonical name of a dataset (``"Fashion-MNIST"`` -> ``"fashion_mnist"``); unknown names raise a DataError."""
    dataset_info(dataset)  # unknown names raise a DataError listing the known ones
    return dataset.strip().lower().replace("-", "_")


def classifier_filename(dataset: str) -> str:
    """Where the shipped classifier of ``dataset`` lives inside ``data/``."""
    return f"{CLASSIFIER_DIR}/{dataset_key(dataset)}_classifier.pt"


def load_classifier(dataset: str, *, device: torch.device | str | None = None, path: str | Path | None = None):
    """Load the shipped classifier of ``dataset`` after checking its SHA-256; returns :class:`ClassifierInfo`.

    ``path`` loads another file instead (e.g. one you trained with ``python -m sdgan_course train classifier``); its
    checksum is then taken as is. A shipped file whose checksum differs from the manifest is refused with an error
    that says how to get a good copy or retrain it.
    """
    key = dataset_key(dataset)
    retrain = f"python -m sdgan_course train classifier --dataset {key}"
    if path is None:
        try:
            file = find_asset(classifier_filename(key))
        except DataError as err:
            raise ClassifierError(f"{err} Or retrain it with: {retrain} (which updates the manifest).") from err
    else:
        file = Path(path)
        if not file.is_file():
            raise ClassifierError(f"Classifier file {file} does not exist. Train one with: {retrain} --out {file}")
    try:
        state = load_checkpoint(file, kind=CHECKPOINT_KIND)
        model = CourseClassifier(config=ClassifierConfig(**state["config"]))
        model.load_state_dict(state["state_dict"])
    except Exception as err:  # noqa: BLE001 - any failure to read means the same thing to the user
        raise ClassifierError(
            f"{file} could not be read as a course classifier ({err}). Retrain with: {retrain}"
        ) from err
    if state.get("dataset") != key:
        raise ClassifierError(f"{file} was trained on {state.get('dataset')!r}, not {key!r}.")
    device = torch.device(device) if device is not None else torch.device("cpu")
    accuracy = float(state.get("test_accuracy", float("nan")))
    return ClassifierInfo(model.to(device).eval(), key, sha256_of(file), accuracy, file)
