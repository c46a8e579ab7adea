"""Training the course classifiers (the feature networks of :mod:`sdgan_course.models.classifier`) on the shared loop.

One visible step (augment, cross-entropy, AdamW, one-cycle learning rate); the shared loop
(:func:`sdgan_course.train.loop.train_loop`) does the bookkeeping, the divergence guard included. The file is written
by :func:`sdgan_course.checkpoint.save_checkpoint` and, when it is a shipped one, recorded in the asset manifest by
the ``train classifier`` command.

Shape legend: B batch, C channels, H x W pixels, K classes.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint import save_checkpoint
from ..data.images import load_images
from ..distributed import check_global_batch, local_part, wrap_ddp
from ..models.classifier import CHECKPOINT_KIND, ClassifierConfig, CourseClassifier, dataset_key
from .loop import Run, train_loop


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


def random_shift(x: torch.Tensor, max_shift: int, *, rng: torch.Generator | None = None) -> torch.Tensor:
    """Translate each image (B, C, H, W) by up to ``max_shift`` pixels (background -1 fills the gap)."""
    if max_shift <= 0:
        return x
    b, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    padded = F.pad(x, (max_shift,) * 4, value=-1.0)  # (B, C, H+2s, W+2s)
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2, b), generator=rng)
    out = torch.empty_like(x)
    for i in range(b):  # cheap at 28x28
        out[i] = padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w]
    return out


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int = 500) -> float:
    """Top-1 accuracy of ``model`` on images (N, C, H, W) in [-1, 1]."""
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
    key = dataset_key(dataset)
    flip = config.flip and key == "fashion_mnist"  # a mirrored digit is another symbol
    rng = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    train = load_images(key, "train", limit=train_limit)
    test = load_images(key, "test", limit=test_limit)
    device = torch.device(device)
    channels, size = train.images.shape[1], train.images.shape[-1]
    model = CourseClassifier(config=ClassifierConfig(image_size=size, channels=channels)).to(device)
    steps_per_epoch = len(train.images) // config.batch_size
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    ddp_model = wrap_ddp(model)  # model itself in one process
    check_global_batch(config.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch)
    epoch_state = {"perm": None, "total": 0.0}
    start = time.perf_counter()

    def step_fn(step: int) -> dict[str, float]:
        index = step % steps_per_epoch
        if index == 0:  # a new epoch: a fresh order
            model.train()
            epoch_state["perm"], epoch_state["total"] = torch.randperm(len(train.images), generator=rng), 0.0
        idx = epoch_state["perm"][index * config.batch_size : (index + 1) * config.batch_size]  # (B,)
        x = random_shift(train.images[idx], config.max_shift, rng=rng)  # (B, C, H, W)
        if flip:
            mirror = torch.rand(len(idx), generator=rng) < 0.5  # (B,)
            x = torch.where(mirror[:, None, None, None], x.flip(-1), x)
        # under torchrun every rank augments the whole global batch (the same draws) and keeps its rows
        x, y = local_part(x), local_part(train.labels[idx])
        loss = F.cross_entropy(ddp_model(x.to(device)), y.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        value = loss.item()
        epoch_state["total"] += value
        return {"loss": value}

    def end_of_epoch(run, stats) -> None:
        acc = accuracy(model, test.images, test.labels)
        log(
            f"epoch {run.step // steps_per_epoch}/{config.epochs}  loss {epoch_state['total'] / steps_per_epoch:.4f}  "
            f"test accuracy {acc:.4f}  ({time.perf_counter() - start:.0f} s)"
        )

    train_loop(
        Run(), step_fn, steps=config.epochs * steps_per_epoch, batch_size=config.batch_size, log_every=steps_per_epoch,
        hook=end_of_epoch, hook_every=steps_per_epoch, progress=False, desc="classifier training",
        fixes="lower the learning rate (--lr) or the weight decay",
    )
    model.eval()
    return model, accuracy(model, test.images, test.labels)


def save_classifier(model: CourseClassifier, path: str | Path, *, dataset: str, test_accuracy: float, train=None,
                    **info) -> Path:
    """Save weights + config + facts as a course checkpoint (kind ``"classifier"``); returns the path."""
    state = {
        "config": asdict(model.config),
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        "dataset": dataset_key(dataset),
        "test_accuracy": float(test_accuracy),
        "train_config": asdict(train) if train is not None else None,
        "info": info,
    }
    return save_checkpoint(path, state, kind=CHECKPOINT_KIND)
