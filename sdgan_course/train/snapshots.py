"""Snapshot hooks: what a training run writes every ``hook_every`` steps (the loop's one hook, ``hook(run, stats)``).

Each function builds a hook for one family; the ``train`` commands only choose the folder and how many samples. The
samples are drawn from the EMA weights with the same fixed noise every time, so the files are frames of one film.
A hook called with ``name="samples.npz"`` (``cli.common.finish_training``) writes the final samples under that name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..data.captions import CLASS_WORDS, TEMPLATES
from ..data.images import to_uint8
from ..models.ldm import LatentDiffusion
from ..sample.diffusion import generate_diffusion
from ..sample.gan import generate
from ..sample.ldm import generate_ldm


def squeeze_grey(images: np.ndarray) -> np.ndarray:
    """(N, 1, H, W) -> (N, H, W): greyscale sample files store no channel axis; colour ones keep (N, C, H, W)."""
    return images[:, 0] if images.shape[1] == 1 else images


def gan_snapshot(out: str | Path, samples: int = 100):
    """A hook that writes ``samples`` fixed-noise images of the EMA generator to ``OUT/samples_stepNNNNNN.npz``
    (uint8 under ``images``; ten per class for a conditional model)."""
    out = Path(out)

    def snapshot(run, stats, name=None):
        y = torch.arange(samples) % 10 if run.gan_config.num_classes else None
        rng = torch.Generator().manual_seed(0)  # the same noise every time: frames of one film
        grid = generate(run.ema.model, samples, z_dim=run.gan_config.z_dim, labels=y, rng=rng)
        np.savez_compressed(out / (name or f"samples_step{run.step:06d}.npz"), images=squeeze_grey(to_uint8(grid)))

    return snapshot


def diffusion_snapshot(out: str | Path, samples: int = 100):
    """A hook that writes ``samples`` images of the EMA U-Net (DDIM, 20 steps, guidance 2, fixed noise; ten per class
    for a conditional model) to ``OUT/samples_stepNNNNNN.npz`` and the EMA weights to ``OUT/ema_stepNNNNNN.pt``
    (:func:`~sdgan_course.train.diffusion.export_diffusion`)."""
    from .diffusion import export_diffusion

    out = Path(out)

    def snapshot(run, stats, name=None):
        cfg = run.train_config
        y = torch.arange(samples) % 10 if run.unet_config.num_classes else None
        rng = torch.Generator().manual_seed(0)  # the same noise every time: frames of one film
        grid = generate_diffusion(run.ema.model, run.schedule, samples, shape=cfg.image_shape, labels=y,
                                  sampler="ddim", steps=20, guidance=2.0, prediction=cfg.prediction, rng=rng)
        np.savez_compressed(out / (name or f"samples_step{run.step:06d}.npz"), images=to_uint8(grid)[:, 0])
        if name is None:
            export_diffusion(run, out / f"ema_step{run.step:06d}.pt")
        run.model.train()

    return snapshot


def ldm_pipeline(run) -> LatentDiffusion:
    """The run's EMA U-Net with its frozen text encoder and autoencoder as a sampling pipeline, in memory (the same
    weights :func:`~sdgan_course.train.ldm.load_ldm` reads back from an exported file)."""
    cfg = run.train_config
    return LatentDiffusion(run.ema.model, run.text_encoder, run.tokenizer, run.autoencoder, run.schedule,
                           prediction=cfg.prediction, step=run.step, info={"dataset": cfg.dataset})


def ldm_snapshot(out: str | Path, dataset: str, *, agreement):
    """A hook that exports the EMA model to ``OUT/ema_stepNNNNNN.pt``, draws 100 images (ten per class prompt "a photo
    of a {name}", guidance 3, 20 steps, fixed noise) from the run's weights in memory (:func:`ldm_pipeline`), keeps
    their prompt agreement ``agreement(images, labels)`` (a float: the ``train ldm`` command passes the dataset
    classifier's, ``metrics.prompt_following.prompt_agreement``) in ``run.history["agreement"]`` (and
    ``["agreement_step"]``) and writes the images to ``OUT/samples_stepNNNNNN.npz``."""
    from .ldm import export_ldm

    out = Path(out)
    names = CLASS_WORDS[dataset]
    labels = torch.arange(100) % len(names)  # 10 samples per class
    prompts = [TEMPLATES[dataset][0].format(name=names[c]) for c in labels.tolist()]

    def snapshot(run, stats, name=None):
        export_ldm(run, out / (name or f"ema_step{run.step:06d}.pt"))
        sampler = "euler" if run.train_config.prediction == "flow" else "dpm-solver"  # a flow model: its ODE
        images = generate_ldm(ldm_pipeline(run), prompts, len(prompts), guidance=3.0, steps=20, sampler=sampler,
                              rng=torch.Generator().manual_seed(0))
        score = float(agreement(images, labels))
        run.history.setdefault("agreement", []).append(score)
        run.history.setdefault("agreement_step", []).append(float(run.step))
        np.savez_compressed(out / f"samples_step{run.step:06d}.npz", images=to_uint8(images)[:, 0])
        print(f"step {run.step}: loss {stats.get('loss', float('nan')):.4f}, prompt agreement {score:.3f} "
              f"(100 samples, guidance 3, 20 {sampler} steps)", flush=True)
        run.model.train()

    return snapshot


__all__ = ["diffusion_snapshot", "gan_snapshot", "ldm_pipeline", "ldm_snapshot", "squeeze_grey"]
