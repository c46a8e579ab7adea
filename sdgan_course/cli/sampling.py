"""What the ``sample`` commands share (``sample gan``, ``sample ddpm``): checking ``--n`` and ``--label`` before
anything is drawn, and the .npz of images and labels they write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..data.images import to_uint8
from ..train.snapshots import squeeze_grey


def check_label(label: int | None, num_classes: int) -> None:
    """A ``sample`` command's ``--label`` against the checkpoint's classes: a ValueError (main() prints it and exits
    2) when the model is unconditional or the label is out of range; ``None`` (no label asked for) always passes."""
    if label is not None and num_classes == 0:
        raise ValueError("--label needs a class-conditional checkpoint; this one is unconditional.")
    k = num_classes
    if label is not None and not 0 <= label < k:
        raise ValueError(f"--label {label} is out of range: this model has {k} classes (0..{k - 1}).")


def check_count(n: int) -> None:
    """A ``sample`` command's ``--n``: a ValueError (main() prints it and exits 2) unless at least one image is asked
    for."""
    if n < 1:
        raise ValueError(f"--n must be at least 1, got {n}.")


def write_samples(path: Path, images: torch.Tensor, labels: torch.Tensor | None) -> None:
    """The file a ``sample`` command writes: ``images`` (N, C, H, W) in [-1, 1] as uint8 under ``images`` ((N, H, W)
    for greyscale, as every sample file of the course) and their class ``labels`` (N,) under ``labels`` (-1 for an
    unconditional model), in the .npz ``path`` (its folder made if needed)."""
    out_labels = labels.numpy() if labels is not None else np.full(len(images), -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, images=squeeze_grey(to_uint8(images)), labels=out_labels.astype(np.int64))


__all__ = ["check_count", "check_label", "write_samples"]
