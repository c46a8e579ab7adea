"""The course classifiers: small CNNs whose penultimate layer is the feature space for FID, KID and precision/recall.

Real FID uses Inception-v3 features of ImageNet photographs (Heusel et al. 2017, arXiv:1706.08500). For 28x28
greyscale garments and digits those features are a poor fit and the network is large, so the course trains its own
feature network per dataset: three convolution blocks, a 128-d feature layer, a 10-way linear head. Its weights ship in
``data/classifiers/`` with their SHA-256 and test accuracy, and every load checks the checksum.

Shape legend: B batch, C channels, H = W = 28 pixels, F feature dimension (128), K classes (10).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .data import DataError, dataset_info, find_file, load_images, sha256_of

CLASSIFIER_DIR = "classifiers"  # inside data/
MANIFEST = "classifiers.json"  # data/classifiers/classifiers.json: file, sha256, test accuracy per dataset
FEATURE_DIM = 128


class ClassifierError(RuntimeError):
    """A classifier file is missing, corrupted or built for another dataset."""


@dataclass(frozen=True)
class ClassifierConfig:
    """Architecture of a course classifier (stored in its file, so the file rebuilds its own model)."""

    num_classes: int = 10
    width: int = 32  # channels of the first block; later blocks use 2x and 4x
    feature_dim: int = FEATURE_DIM
    dropout: float = 0.3


class ClassifierOutput(NamedTuple):
    """What one forward pass gives: the feature vector (pre-activation of the penultimate layer) and the logits."""

    features: torch.Tensor  # (B, F)
    logits: torch.Tensor  # (B, K)


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class CourseClassifier(nn.Module):
    """A small CNN: 28x28 -> 14x14 -> 7x7 -> 3x3 -> 128-d features -> K logits (about 0.25 M parameters, 1 MB).

    ``forward`` returns logits; :meth:`features_and_logits` also returns the 128-d feature vector used by the metrics
    (the linear layer's output *before* its ReLU, so the features are closer to Gaussian, as FID assumes).
    Inputs are images in the model range [-1, 1].
    """

    def __init__(self, *, config: ClassifierConfig | None = None):
        super().__init__()
        self.config = config or ClassifierConfig()
        w = self.config.width
        self.body = nn.Sequential(
            _block(1, w), nn.MaxPool2d(2),  # (B, w, 14, 14)
            _block(w, 2 * w), nn.MaxPool2d(2),  # (B, 2w, 7, 7)
            _block(2 * w, 4 * w), nn.MaxPool2d(2),  # (B, 4w, 3, 3)
        )  # fmt: skip
        self.feature = nn.Linear(4 * w * 9, self.config.feature_dim)
        self.dropout = nn.Dropout(self.config.dropout)
        self.head = nn.Linear(self.config.feature_dim, self.config.num_classes)

    def features_and_logits(self, x: torch.Tensor) -> ClassifierOutput:
        if x.ndim == 3:
            x = x.unsqueeze(1)  # (B, 1, 28, 28)
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(f"The course classifier takes images (B, 1, 28, 28) in [-1, 1]; got {tuple(x.shape)}.")
        h = self.body(x).flatten(1)  # (B, 4w*9)
        f = self.feature(h)  # (B, F)
        logits = self.head(self.dropout(F.relu(f)))  # (B, K)
        return ClassifierOutput(f, logits)

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


def classifier_filename(dataset: str) -> str:
    return f"{CLASSIFIER_DIR}/{_key(dataset)}_classifier.pt"


def _key(dataset: str) -> str:
    dataset_info(dataset)  # unknown names raise a DataError listing the known ones
    return dataset.strip().lower().replace("-", "_")


def read_manifest() -> dict:
    """The manifest ``data/classifiers/classifiers.json``: per dataset its file, SHA-256 and test accuracy."""
    path = find_file(f"{CLASSIFIER_DIR}/{MANIFEST}")
    return json.loads(path.read_text())


def load_classifier(dataset: str, *, device: torch.device | str | None = None, path: str | Path | None = None):
    """Load the shipped classifier of ``dataset`` after checking its SHA-256; returns :class:`ClassifierInfo`.

    ``path`` loads another file instead (e.g. one you trained with ``python -m sdgan_course train classifier``); its
    checksum is then taken as is. A shipped file whose checksum differs from the manifest is refused with an error
    that says how to get a good copy or retrain it.
    """
    key = _key(dataset)
    retrain = f"python -m sdgan_course train classifier --dataset {key}"
    if path is None:
        try:
            manifest = read_manifest()
        except DataError as err:
            raise ClassifierError(f"The classifier manifest is missing: {err}\nOr retrain with: {retrain}") from err
        if key not in manifest:
            raise ClassifierError(f"No shipped classifier for {key!r}; train one with: {retrain}")
        entry = manifest[key]
        try:
            file = find_file(f"{CLASSIFIER_DIR}/{entry['file']}")
        except DataError as err:
            raise ClassifierError(f"{err}\nOr retrain it with: {retrain}") from err
        actual = sha256_of(file)
        if actual != entry["sha256"]:
            raise ClassifierError(
                f"{file} is corrupted or not the shipped version: its SHA-256 is {actual[:16]}..., the manifest "
                f"expects {entry['sha256'][:16]}.... Restore it (git checkout -- data/{CLASSIFIER_DIR}/{entry['file']}"
                f", or copy it from the course repository), or retrain it with: {retrain} "
                f"(which rewrites the manifest)."
            )
        sha, accuracy = actual, float(entry["test_accuracy"])
    else:
        file = Path(path)
        if not file.is_file():
            raise ClassifierError(f"Classifier file {file} does not exist. Train one with: {retrain} --out {file}")
        sha, accuracy = sha256_of(file), float("nan")
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
        model = CourseClassifier(config=ClassifierConfig(**state["config"]))
        model.load_state_dict(state["state_dict"])
    except Exception as err:  # noqa: BLE001 - any failure to read means the same thing to the user
        raise ClassifierError(
            f"{file} could not be read as a course classifier ({err}). Retrain with: {retrain}"
        ) from err
    if state.get("dataset") != key:
        raise ClassifierError(f"{file} was trained on {state.get('dataset')!r}, not {key!r}.")
    if path is not None and "test_accuracy" in state:
        accuracy = float(state["test_accuracy"])
    device = torch.device(device) if device is not None else torch.device("cpu")
    return ClassifierInfo(model.to(device).eval(), key, sha, accuracy, file)


# ---------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainClassifierConfig:
    """How the shipped classifiers are trained (AdamW, one-cycle learning rate, light shift augmentation)."""

    epochs: int = 8
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 5e-4
    max_shift: int = 2  # random translation of up to this many pixels
    flip: bool = True  # horizontal flips (right for garments; never for digits)
    seed: int = 0


def random_shift(x: torch.Tensor, max_shift: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Translate each image by up to ``max_shift`` pixels (background -1 fills the gap)."""
    if max_shift <= 0:
        return x
    b = x.shape[0]
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)  # (B, 1, H+2s, W+2s)
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2, b), generator=generator)
    out = torch.empty_like(x)
    for i in range(b):  # cheap at 28x28
        out[i] = padded[i, :, dy[i] : dy[i] + 28, dx[i] : dx[i] + 28]
    return out


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int = 500) -> float:
    """Top-1 accuracy of ``model`` on images (N, 1, 28, 28) in [-1, 1]."""
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size].to(device)
        correct += (model(x).argmax(1).cpu() == labels[start : start + batch_size]).sum().item()
    return correct / len(images)


def train_classifier(
    dataset: str,
    *,
    config: TrainClassifierConfig | None = None,
    train_limit: int | None = None,
    test_limit: int | None = None,
    device: torch.device | str = "cpu",
    log=print,
) -> tuple[CourseClassifier, float]:
    """Train a course classifier on ``dataset``'s train split; returns ``(model in eval mode, test accuracy)``."""
    config = config or TrainClassifierConfig()
    key = _key(dataset)
    flip = config.flip and key == "fashion_mnist"  # a mirrored digit is another symbol
    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    train = load_images(key, "train", limit=train_limit)
    test = load_images(key, "test", limit=test_limit)
    device = torch.device(device)
    model = CourseClassifier().to(device)
    steps_per_epoch = len(train.images) // config.batch_size
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch)
    start = time.perf_counter()
    for epoch in range(config.epochs):
        model.train()
        perm = torch.randperm(len(train.images), generator=gen)
        total = 0.0
        for step in range(steps_per_epoch):
            idx = perm[step * config.batch_size : (step + 1) * config.batch_size]  # (B,)
            x = random_shift(train.images[idx], config.max_shift, generator=gen)  # (B, 1, 28, 28)
            if flip:
                mirror = torch.rand(len(idx), generator=gen) < 0.5  # (B,)
                x = torch.where(mirror[:, None, None, None], x.flip(-1), x)
            loss = F.cross_entropy(model(x.to(device)), train.labels[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        acc = accuracy(model, test.images, test.labels)
        log(
            f"epoch {epoch + 1}/{config.epochs}  loss {total / steps_per_epoch:.4f}  test accuracy {acc:.4f}  "
            f"({time.perf_counter() - start:.0f} s)"
        )
    model.eval()
    return model, accuracy(model, test.images, test.labels)


def save_classifier(model: CourseClassifier, path: str | Path, *, dataset: str, test_accuracy: float, train=None):
    """Save weights + config + facts; returns the file's SHA-256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "config": asdict(model.config),
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        "dataset": _key(dataset),
        "test_accuracy": float(test_accuracy),
        "train_config": asdict(train) if train is not None else None,
    }
    torch.save(state, path)
    return sha256_of(path)


def update_manifest(folder: Path, dataset: str, *, file: str, sha256: str, test_accuracy: float, seconds: float):
    """Record a classifier in ``folder/classifiers.json`` (other datasets' entries are kept)."""
    manifest_path = folder / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    manifest[_key(dataset)] = {
        "file": file,
        "sha256": sha256,
        "test_accuracy": round(float(test_accuracy), 4),
        "train_seconds": round(seconds),
        "feature_dim": FEATURE_DIM,
        "command": f"python -m sdgan_course train classifier --dataset {_key(dataset)}",
    }
    manifest_path.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")


def cmd_train(args: argparse.Namespace) -> int:
    """``python -m sdgan_course train classifier --dataset NAME [--epochs E] [--out FILE]``."""
    torch.set_num_threads(max(1, args.threads)) if args.threads else None
    config = TrainClassifierConfig(epochs=args.epochs, seed=args.seed)
    key = _key(args.dataset)
    default_out = Path(__file__).resolve().parent.parent / "data" / classifier_filename(key)
    out = Path(args.out) if args.out else default_out
    print(f"training the {key} classifier for {config.epochs} epochs on {args.device} -> {out}", flush=True)
    start = time.perf_counter()
    model, acc = train_classifier(
        key, config=config, train_limit=args.limit, test_limit=args.limit, device=args.device,
        log=lambda s: print(s, flush=True),
    )
    seconds = time.perf_counter() - start
    sha = save_classifier(model, out, dataset=key, test_accuracy=acc, train=config)
    print(f"test accuracy {acc:.4f}; saved {out} ({out.stat().st_size / 1e6:.2f} MB, sha256 {sha})")
    if args.out is None or out.parent == default_out.parent:
        update_manifest(out.parent, key, file=out.name, sha256=sha, test_accuracy=acc, seconds=seconds)
        print(f"updated {out.parent / MANIFEST}")
        from .metrics import ship_reference_statistics

        print(f"wrote {ship_reference_statistics(key, out.parent, path=out)}")
    return 0


def add_train_parser(train_sub) -> None:
    """Register ``train classifier`` on the ``train`` sub-parsers (called from :mod:`sdgan_course.cli`)."""
    p = train_sub.add_parser("classifier", help="train the course classifier (feature network for FID/KID/PR)")
    p.add_argument("--dataset", default="fashion_mnist", help="fashion_mnist or mnist")
    p.add_argument("--epochs", type=int, default=TrainClassifierConfig.epochs)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="use only this many train and test images (quick checks)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--out", default=None, help="output file (default: data/classifiers/<dataset>_classifier.pt)")
    p.set_defaults(func=cmd_train)
