"""Tiny training runs that check DistributedDataParallel against one process: the tests' and notebook 13's worker.

:func:`tiny_run` trains a very small GAN (an MLP pair, no batch norm) or diffusion U-Net (group norm) on a slice of
Fashion-MNIST for a few steps through the library's own ``train_gan`` / ``train_diffusion``, and returns the final
weights. Run it once in this process and once in each of N processes (``distributed.run_processes(tiny_run, N,
...)``) with the same global batch: the weights agree to float32 rounding, because the N shards of the global batch
together are one process's batch, the randomness is the global batch's, and DDP averages the gradients.

Networks with batch norm would not agree exactly: each rank normalises over its own shard.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from .. import distributed
from ..data.images import load_images
from ..device import cpu_threads
from ..models.gan import GANConfig
from ..models.unet import UNetConfig
from .diffusion import DiffusionRun, DiffusionTrainConfig, train_diffusion
from .gan import GANRun, GANTrainConfig, train_gan

FAMILIES = ("gan", "ddpm")


def tiny_run(
    family: str,
    steps: int,
    *,
    batch_size: int = 16,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 2,
    crash_at: int | None = None,
    limit: int = 256,
    seed: int = 0,
) -> dict:
    """Train (or resume from ``checkpoint``) a tiny ``family`` model to ``steps`` with global batch ``batch_size``.

    ``crash_at``: rank 0 dies abruptly (``os._exit``) right after step ``crash_at`` -- a killed job -- leaving the
    last checkpoint behind. Returns ``{"weights", "ema", "history", "step", "world_size", "seconds"}``.
    """
    if family not in FAMILIES:
        raise ValueError(f"Unknown family {family!r}: use one of {', '.join(FAMILIES)}.")
    with cpu_threads(torch.device("cpu"), 1):  # tiny models: one thread each (several threads thrash here)
        return _tiny_run(family, steps, batch_size, checkpoint, checkpoint_every, crash_at, limit, seed)


def _tiny_run(family, steps, batch_size, checkpoint, checkpoint_every, crash_at, limit, seed) -> dict:
    torch.manual_seed(seed)
    data = load_images("fashion_mnist", "train", limit=limit)
    path = Path(checkpoint) if checkpoint is not None else None
    resume = path is not None and path.exists()
    start = time.perf_counter()
    hook = _crash if crash_at is not None else None
    options = dict(steps=steps, checkpoint_path=path, hook=hook, hook_every=crash_at or 1, progress=False)
    if family == "gan":
        cfg = GANTrainConfig(steps=steps, batch_size=batch_size, seed=seed, checkpoint_every=checkpoint_every,
                             log_every=1, amp=False)
        if resume:
            run = GANRun.load(path, train_config=cfg)
        else:
            run = GANRun(GANConfig(arch="mlp", z_dim=8, g_hidden=(32,), d_hidden=(32,)), cfg)
        train_gan(run, data.images, **options)
        models = {"generator": run.generator, "discriminator": run.discriminator}
    else:
        cfg = DiffusionTrainConfig(steps=steps, batch_size=batch_size, seed=seed, checkpoint_every=checkpoint_every,
                                   log_every=1, warmup_steps=2, amp=False)
        unet = UNetConfig(base_channels=8, channel_mults=(1, 2), attention_levels=(), num_heads=2, groups=4,
                          num_classes=10)
        run = DiffusionRun.load(path, train_config=cfg) if resume else DiffusionRun(unet, cfg)
        train_diffusion(run, data.images, data.labels, **options)
        models = {"model": run.model}
    return {
        "weights": {name: _flat(m) for name, m in models.items()},
        "ema": _flat(run.ema.model),
        "history": run.history,
        "step": run.step,
        "world_size": distributed.world_size(),
        "seconds": time.perf_counter() - start,
    }


def _crash(run, stats) -> None:
    os._exit(17)  # no clean-up, no final checkpoint: as if the job were killed


def _flat(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


__all__ = ["FAMILIES", "tiny_run"]
