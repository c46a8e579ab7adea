"""Datasets, the data-range contract, fast in-memory batching and toy distributions.

Range contract (one place): models see [-1, 1], plots see [0, 1], files store uint8 [0, 255].
:func:`to_model_range` and :func:`to_unit_range` are the only conversions.

Shape legend: B batch, N dataset size, C channels (1), H = W = 28 pixels, D toy dimension (1 or 2),
K mixture components.

Data files are looked up in this order: ``$SDGAN_DATA``, the checkout's ``data/`` folder, the user cache
(``$XDG_CACHE_HOME/sdgan_course`` or ``~/.cache/sdgan_course``). Each file's SHA-256 is checked before it is used.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from .course import DATA_URL

DATA_ENV = "SDGAN_DATA"
FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
DIGIT_CLASSES = tuple(str(d) for d in range(10))


class DataError(RuntimeError):
    """A dataset file is missing, corrupted or asked for by an unknown name or split."""


@dataclass(frozen=True)
class DatasetInfo:
    """Where a dataset lives and how its splits are stored."""

    file: str
    sha256: str | None
    class_names: tuple[str, ...]
    splits: tuple[str, ...]
    description: str
    torchvision_name: str | None = None  # fetched online through torchvision instead of from the course repository


DATASETS: dict[str, DatasetInfo] = {
    "fashion_mnist": DatasetInfo(
        file="fashion_mnist.npz",
        sha256="f47350690b582fcb4bd1ed065f25d90614c179ac9d4dfb6542f4ac8d9e4974e7",
        class_names=FASHION_CLASSES,
        splits=("train", "test"),
        description="Fashion-MNIST, 60,000 train + 10,000 test 28x28 greyscale garments (Xiao et al. 2017)",
    ),
    "mnist": DatasetInfo(
        file="mnist_10k.npz",
        sha256="0217e13bd0668deb198aa7d305edbf0331eb89f8a6e7dd226e03d1aa3a9bd4ef",
        class_names=DIGIT_CLASSES,
        splits=("train", "test", "all"),
        description="10,000 MNIST digits; per class the first 80% form 'train', the rest 'test'",
    ),
    "mnist_full": DatasetInfo(
        file="mnist_full.npz",
        sha256=None,  # made locally from torchvision's download, which checks the MD5 of every file it fetches
        class_names=DIGIT_CLASSES,
        splits=("train", "test"),
        description="all 70,000 MNIST digits (the original 60k/10k split), online only, via torchvision",
        torchvision_name="MNIST",
    ),
}


class ImageData(NamedTuple):
    """A labelled image dataset in the model range."""

    images: torch.Tensor  # (N, 1, 28, 28) float32 in [-1, 1]
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


# ---------------------------------------------------------------- finding and checking files


def data_dirs() -> list[Path]:
    """The folders searched for data files, in lookup order."""
    dirs = []
    if os.environ.get(DATA_ENV):
        dirs.append(Path(os.environ[DATA_ENV]).expanduser())
    dirs.append(Path(__file__).resolve().parent.parent / "data")  # the checkout's data/
    dirs.append(cache_dir())
    return dirs


def cache_dir() -> Path:
    """The user cache folder for downloaded data."""
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base).expanduser() / "sdgan_course"


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def dataset_info(name: str) -> DatasetInfo:
    """Look a dataset up by name; an unknown name lists the known ones."""
    key = name.strip().lower().replace("-", "_")
    if key not in DATASETS:
        raise DataError(f"Unknown dataset {name!r}. Known datasets: {', '.join(sorted(DATASETS))}.")
    return DATASETS[key]


def find_file(filename: str, sha256: str | None = None, *, download: bool = False) -> Path:
    """Return the path of a data file, checking its checksum.

    Looks in :func:`data_dirs` order. A file whose SHA-256 differs from ``sha256`` is refused (it is corrupted or a
    different version). A missing file is fetched from the course repository only when ``download=True``; offline,
    the error names the file and says how to get it. Nothing is ever downloaded silently.
    """
    searched = data_dirs()
    for folder in searched:
        path = folder / filename
        if path.is_file():
            if sha256 is not None:
                actual = sha256_of(path)
                if actual != sha256:
                    raise DataError(
                        f"{path} is corrupted or not the expected version: its SHA-256 is {actual[:16]}..., "
                        f"expected {sha256[:16]}.... Delete it and copy a fresh {filename} from the course "
                        f"repository's data/ folder ({DATA_URL}/{filename}), or load with download=True."
                    )
            return path
    if download:
        return _download(filename, sha256)
    where = "\n  ".join(str(d) for d in searched)
    raise DataError(
        f"Data file {filename!r} was not found. Searched:\n  {where}\n"
        f"To fix: clone the course repository (its data/ folder holds the file), or copy {filename} into one of "
        f"these folders, or point {DATA_ENV} at a folder that has it, or (online) load with download=True to fetch "
        f"{DATA_URL}/{filename} into {cache_dir()}."
    )


def _download(filename: str, sha256: str | None) -> Path:
    target = cache_dir() / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    url = f"{DATA_URL}/{filename}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response, tempfile.NamedTemporaryFile(
            dir=target.parent, delete=False, suffix=".tmp"
        ) as tmp:
            shutil.copyfileobj(response, tmp)
    except OSError as err:
        raise DataError(
            f"Could not download {url} ({err}). If you are offline, copy {filename} from the course repository's "
            f"data/ folder into {target.parent} or set {DATA_ENV}."
        ) from err
    if sha256 is not None and sha256_of(Path(tmp.name)) != sha256:
        os.unlink(tmp.name)
        raise DataError(f"The download of {url} does not match its checksum; nothing was saved. Try again later.")
    os.replace(tmp.name, target)
    return target


def shipped_checkpoint(name: str) -> Path:
    """Path of a pretrained checkpoint shipped in ``data/checkpoints/``, checksum-verified.

    The checksums live in ``data/checkpoints/SHA256SUMS`` (``sha256sum`` format), written when a checkpoint is made.
    """
    sums_path = find_file("checkpoints/SHA256SUMS")
    table = {}
    for line in sums_path.read_text().splitlines():
        if line.strip():
            digest, filename = line.split()
            table[Path(filename).stem] = (filename, digest)
    if name not in table:
        raise DataError(f"Unknown shipped checkpoint {name!r}. Shipped checkpoints: {', '.join(sorted(table))}.")
    filename, digest = table[name]
    return find_file(f"checkpoints/{filename}", digest)


# ---------------------------------------------------------------- image datasets


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
        path = find_file(info.file, info.sha256, download=download)
    images, labels = _read_split(path, split)
    if limit is not None and limit <= 0:
        raise DataError(f"limit must be a positive number of images, got {limit}.")
    # The files store images class by class; a fixed shuffle makes any slice x[:n] a fair sample of every class.
    keep = np.random.default_rng(0).permutation(len(labels))[:limit]
    images, labels = images[keep], labels[keep]
    x = to_model_range(torch.from_numpy(np.ascontiguousarray(images))).unsqueeze(1)  # (N, 1, 28, 28)
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
                 for split in ("train", "test")}  # fmt: skip
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


def batches(
    *tensors: torch.Tensor,
    batch_size: int,
    shuffle: bool = True,
    seed: int = 0,
    device: torch.device | str | None = None,
    drop_last: bool = True,
) -> Iterator[tuple[torch.Tensor, ...]]:
    """One epoch of mini-batches from tensors already in memory (no DataLoader, no workers).

    The tensors are moved to ``device`` once, then sliced with a seeded permutation — on a GPU the whole of
    Fashion-MNIST (188 MB as float32) fits, and batching costs nothing. Yields tuples like ``(x, y)``.
    """
    if not tensors:
        raise ValueError("batches() needs at least one tensor.")
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError(f"All tensors must have the same length, got {[len(t) for t in tensors]}.")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}.")
    if drop_last and n < batch_size:
        raise ValueError(f"batch_size={batch_size} is larger than the {n} examples and drop_last=True: no batch.")
    if device is not None:
        tensors = tuple(t.to(device, non_blocking=True) for t in tensors)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)) if shuffle else torch.arange(n)
    order = order.to(tensors[0].device)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]  # (B,)
        yield tuple(t[idx] for t in tensors)


def endless_batches(*tensors: torch.Tensor, batch_size: int, seed: int = 0, device=None):
    """Batches forever, reshuffled every epoch (epoch ``e`` uses seed ``seed + e``): for step-based training."""
    epoch = 0
    while True:
        yield from batches(*tensors, batch_size=batch_size, seed=seed + epoch, device=device)
        epoch += 1


class StepBatches:
    """Mini-batch number ``step`` of a shuffled stream over in-memory tensors, computed from the step alone.

    Epoch ``e`` uses the permutation seeded by ``seed + e``, so ``batch(step)`` is the same whether a run went straight
    through or was interrupted and resumed: what makes save/resume continue identically. Tensors are moved to
    ``device`` once.
    """

    def __init__(self, *tensors: torch.Tensor, batch_size: int, seed: int = 0, device=None):
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError("StepBatches needs one or more tensors of the same length.")
        if not 0 < batch_size <= len(tensors[0]):
            raise ValueError(f"batch_size must be in 1..{len(tensors[0])} (the number of examples), got {batch_size}.")
        self.tensors = tuple(t.to(device) if device is not None else t for t in tensors)
        self.batch_size, self.seed = batch_size, seed
        self.per_epoch = len(tensors[0]) // batch_size
        self._epoch, self._order = -1, None

    def batch(self, step: int) -> tuple[torch.Tensor, ...]:
        epoch, index = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            gen = torch.Generator().manual_seed(self.seed + epoch)
            self._order = torch.randperm(len(self.tensors[0]), generator=gen).to(self.tensors[0].device)
            self._epoch = epoch
        idx = self._order[index * self.batch_size : (index + 1) * self.batch_size]  # (B,)
        return tuple(t[idx] for t in self.tensors)


# ---------------------------------------------------------------- toy distributions


class GaussianMixture:
    r"""An isotropic Gaussian mixture in D dimensions, with exact sampling and log-density.

    .. math:: p(x) = \sum_k \pi_k \, \mathcal{N}(x; \mu_k, \sigma_k^2 I)
    """

    def __init__(self, means, stds, weights=None):
        self.means = torch.as_tensor(means, dtype=torch.float64)  # (K, D)
        if self.means.ndim == 1:
            self.means = self.means[:, None]  # (K, 1)
        k = len(self.means)
        self.stds = torch.as_tensor(stds, dtype=torch.float64).expand(k).clone()  # (K,)
        w = torch.ones(k, dtype=torch.float64) if weights is None else torch.as_tensor(weights, dtype=torch.float64)
        if (w < 0).any() or (self.stds <= 0).any():
            raise ValueError("Mixture weights must be >= 0 and standard deviations > 0.")
        self.weights = w / w.sum()  # (K,)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, *, generator: torch.Generator | None = None, return_component: bool = False):
        """Draw ``n`` points, float32 ``(n, D)``; with ``return_component`` also the component index ``(n,)``."""
        comp = torch.multinomial(self.weights, n, replacement=True, generator=generator)  # (n,)
        noise = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)  # (n, D)
        x = (self.means[comp] + self.stds[comp, None] * noise).float()  # (n, D)
        return (x, comp) if return_component else x

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) for points ``(n, D)`` (or ``(n,)`` when D = 1), computed in float64."""
        x = torch.as_tensor(x, dtype=torch.float64)
        if x.ndim == 1:
            x = x[:, None]  # (n, 1)
        sq = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)  # (n, K)
        var = self.stds**2  # (K,)
        log_n = -0.5 * sq / var - 0.5 * self.dim * torch.log(2 * math.pi * var)  # (n, K)
        return torch.logsumexp(log_n + torch.log(self.weights), dim=1)  # (n,)

    def prob(self, x: torch.Tensor) -> torch.Tensor:
        """p(x), float64 ``(n,)``."""
        return self.log_prob(x).exp()


def gaussian_mixture_1d(means=(-2.0, 2.0), stds=(0.5, 0.5), weights=None) -> GaussianMixture:
    """A 1-D Gaussian mixture (two well-separated bumps by default)."""
    return GaussianMixture(torch.as_tensor(means, dtype=torch.float64)[:, None], stds, weights)


def ring_of_gaussians(num_modes: int = 8, radius: float = 2.0, std: float = 0.05) -> GaussianMixture:
    """The classic 2-D benchmark: ``num_modes`` equal Gaussians evenly spaced on a circle."""
    angles = torch.arange(num_modes, dtype=torch.float64) * (2 * math.pi / num_modes)
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)  # (K, 2)
    return GaussianMixture(means, std)


def spiral(
    n: int, *, turns: float = 1.5, noise: float = 0.05, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Points on a 2-D spiral (r grows with the angle) plus Gaussian noise, float32 ``(n, 2)``, roughly in [-2, 2].

    It has no closed-form density: a test of what a model can learn that a mixture formula cannot describe.
    """
    t = torch.rand(n, generator=generator, dtype=torch.float64).sqrt()  # (n,) uniform along the area
    angle = t * turns * 2 * math.pi
    r = 2.0 * t
    x = torch.stack([r * torch.cos(angle), r * torch.sin(angle)], dim=1)  # (n, 2)
    x = x + noise * torch.randn(n, 2, generator=generator, dtype=torch.float64)
    return x.float()
