"""Image datasets and the data-range contract.

Range contract (one place): models see [-1, 1], plots see [0, 1], files store uint8 [0, 255].
:func:`to_model_range` and :func:`to_unit_range` are the only conversions.

The dataset files are shipped in ``data/`` and found and verified through :mod:`sdgan_course.assets` (the manifest
``data/SHA256SUMS``); the full MNIST is fetched online through torchvision on request.

Shape legend: N dataset size, C channels, H x W pixels (the shape comes from the file: 1 x 28 x 28 for the shipped
datasets).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ..assets import DataError, cache_dir, find_asset, find_file

FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


DIGIT_CLASSES = tuple(str(d) for d in range(10))


@dataclass(frozen=True)
class DatasetInfo:
    """Where a dataset lives and how its splits are stored."""

    file: str
    class_names: tuple[str, ...]
    splits: tuple[str, ...]
    description: str
    torchvision_name: str | None = None  # fetched online through torchvision instead of from the course repository

    @property
    def shipped(self) -> bool:
        """Whether the file ships with the course (listed, with its checksum, in ``data/SHA256SUMS``)."""
        return self.torchvision_name is None


DATASETS: dict[str, DatasetInfo] = {
    "fashion_mnist": DatasetInfo(
        file="fashion_mnist.npz",
        class_names=FASHION_CLASSES,
        splits=("train", "test"),
        description="Fashion-MNIST, 60,000 train + 10,000 test 28x28 greyscale garments (Xiao et al. 2017)",
    ),
    "mnist": DatasetInfo(
        file="mnist_10k.npz",
        class_names=DIGIT_CLASSES,
        splits=("train", "test", "all"),
        description="10,000 MNIST digits; per class the first 80% form 'train', the rest 'test'",
    ),
    "mnist_full": DatasetInfo(
        file="mnist_full.npz",
        class_names=DIGIT_CLASSES,
        splits=("train", "test"),
        description="all 70,000 MNIST digits (the original 60k/10k split), online only, via torchvision",
        torchvision_name="MNIST",  # converted locally from torchvision's download, which checks every file's MD5
    ),
}


class ImageData(NamedTuple):
    """A labelled image dataset in the model range."""

    images: torch.Tensor  # (N, C, H, W) float32 in [-1, 1]
    labels: torch.Tensor  # (N,) int64
    class_names: tuple[str, ...]


# ---------------------------------------------------------------- range contract


def to_model_range(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 [0, 255] or float [0, 1] -> float32 [-1, 1] (what models see)."""
    x = torch.as_tensor(x)
    if x.dtype == torch.uint8:
        return x.float().div(127.5).sub(1.0)
    return x.float().mul(2.0).sub(1.0)


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] (model range) -> float [0, 1] (what plots see), clamped."""
    return x.detach().float().add(1.0).div(2.0).clamp(0.0, 1.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float [-1, 1] -> uint8 [0, 255] numpy array (what files store)."""
    return to_unit_range(x).mul(255.0).round().to(torch.uint8).cpu().numpy()


# ---------------------------------------------------------------- datasets


def dataset_info(name: str) -> DatasetInfo:
    """Look a dataset up by name; an unknown name lists the known ones."""
    key = name.strip().lower().replace("-", "_")
    if key not in DATASETS:
        raise DataError(f"Unknown dataset {name!r}. Known datasets: {', '.join(sorted(DATASETS))}.")
    return DATASETS[key]


def load_images(name: str, split: str = "train", *, limit: int | None = None, download: bool = False) -> ImageData:
    """Load a dataset split as tensors in the model range [-1, 1].

    The images come in a fixed shuffled order (the same every time), so any slice ``images[:n]`` mixes all classes.
    ``limit`` keeps the first ``limit`` of that order (the ``ci`` profile's slices): the same images every time.
    """
    info = dataset_info(name)
    if split not in info.splits:
        raise DataError(f"Dataset {name!r} has no split {split!r}. Its splits: {', '.join(info.splits)}.")
    if info.torchvision_name is not None:
        path = _find_or_fetch_torchvision(info, download)
    else:
        path = find_asset(info.file, download=download)
    images, labels = _read_split(path, split)
    if limit is not None and limit <= 0:
        raise DataError(f"limit must be a positive number of images, got {limit}.")
    # The files store images class by class; a fixed shuffle makes any slice x[:n] a fair sample of every class.
    keep = np.random.default_rng(0).permutation(len(labels))[:limit]
    images, labels = images[keep], labels[keep]
    if images.ndim == 3:
        images = images[:, None]  # (N, H, W) -> (N, 1, H, W): greyscale files store no channel axis
    x = to_model_range(torch.from_numpy(np.ascontiguousarray(images)))  # (N, C, H, W)
    y = torch.from_numpy(labels.astype(np.int64))  # (N,)
    return ImageData(x, y, info.class_names)


def class_index(class_names: tuple[str, ...], name: str | int) -> int:
    """The label of a class given its name, forgivingly ("sneaker", "Ankle boot", "t-shirt" all work), or its index."""
    if isinstance(name, int):
        if not 0 <= name < len(class_names):
            k = len(class_names)
            raise DataError(f"Class {name} is out of range: there are {k} classes (0..{k - 1}).")
        return name

    def norm(s: str) -> str:
        return "".join(ch for ch in s.lower() if ch.isalnum())

    wanted = norm(name)
    for i, candidate in enumerate(class_names):
        if norm(candidate) == wanted or norm(candidate).startswith(wanted) and wanted:
            return i
    raise DataError(f"Unknown class {name!r}. Classes: {', '.join(class_names)}.")


def _find_or_fetch_torchvision(info: DatasetInfo, download: bool) -> Path:
    """A full dataset fetched through torchvision's loader into the user cache, converted once to the course layout."""
    try:
        return find_file(info.file)
    except DataError:
        if not download:
            raise DataError(
                f"{info.file!r} ({info.description}) is not in the cache {cache_dir()}. It is fetched online: call "
                f"load_images(..., download=True) with torchvision installed (pip install torchvision). Offline, use "
                "the shipped 'mnist' (10,000 digits) instead."
            ) from None
    try:
        import torchvision.datasets as tv
    except ImportError as err:
        raise DataError(f"Fetching {info.file!r} needs torchvision: pip install torchvision.") from err
    root = cache_dir() / "torchvision"
    try:
        parts = {split: getattr(tv, info.torchvision_name)(root, train=split == "train", download=True)
                 for split in ("train", "test")}
    except Exception as err:  # noqa: BLE001 - network errors come in many types
        raise DataError(f"torchvision could not download {info.torchvision_name} ({err}). Are you online?") from err
    target = cache_dir() / info.file
    arrays = {}
    for split, ds in parts.items():
        arrays[f"{split}_images"] = ds.data.numpy().astype(np.uint8)  # (N, 28, 28)
        arrays[f"{split}_labels"] = ds.targets.numpy().astype(np.uint8)  # (N,)
    np.savez_compressed(target, **arrays)
    return target


def _read_split(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path) as archive:
            if "train_images" in archive:  # Fashion-MNIST layout
                return archive[f"{split}_images"], archive[f"{split}_labels"]
            images, labels = archive["images"], archive["labels"]
    except (OSError, ValueError, KeyError) as err:
        raise DataError(f"{path} could not be read as a course dataset ({err}). Replace it with a fresh copy.") from err
    if split == "all":
        return images, labels
    train = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):  # per class, the first 80% are train
        idx = np.flatnonzero(labels == c)
        train[idx[: int(0.8 * len(idx))]] = True
    keep = train if split == "train" else ~train
    return images[keep], labels[keep]
