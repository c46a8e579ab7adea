"""Batched generation from a trained diffusion model: one entry point over every sampler and guidance scale.

``generate_diffusion`` is what the command line (``sample ddpm``), the benchmarks and the notebooks call; the
samplers themselves (:mod:`.ddpm`, :mod:`.ddim`, :mod:`.dpm_solver`) and guidance (:mod:`.guidance`) stay small. It
picks a sampler by name from the registry (:data:`.base.REGISTRY`), with that sampler's default spacing and steps.

Shape legend: N images, B batch, C channels, H x W pixels.
"""

from __future__ import annotations

import torch
from torch import nn

from ..device import sampling_batch_size, sampling_layout
from ..schedules import NoiseSchedule
from .base import DEFAULT_STEPS, EpsWithX0, check_sampler, estimate, get_sampler, sampler_names
from .ddpm import VARIANCES
from .guidance import classifier_free_guidance, model_eps_fn

SAMPLERS = sampler_names("diffusion")  # the registered diffusion samplers: ("ddpm", "ddim", "dpm-solver")


@torch.no_grad()
def generate_diffusion(
    model: nn.Module,
    schedule: NoiseSchedule,
    n: int,
    *,
    shape: tuple[int, int, int] = (1, 28, 28),
    labels: torch.Tensor | int | None = None,
    sampler: str = "ddim",
    steps: int | None = None,
    eta: float = 0.0,
    variance: str = "small",
    guidance: float = 1.0,
    prediction: str = "eps",
    clip_x0: bool = True,
    rng: torch.Generator | None = None,
    batch_size: int | None = None,
    channels_last: bool | None = None,
) -> torch.Tensor:
    """Draw ``n`` images (n, C, H, W) in [-1, 1] on the CPU; ``shape`` is one image's (C, H, W).

    ``labels`` (an int or (n,)) for a class-conditional model, sampled with classifier-free ``guidance`` (1 = plain
    conditional, 0 = unconditional). ``sampler`` is ``"ddpm"``, ``"ddim"`` (with ``eta``) or ``"dpm-solver"``;
    ``clip_x0`` clamps each step's prediction of x_0 to [-1, 1]. ``batch_size`` defaults to
    :func:`~sdgan_course.device.sampling_batch_size` (50 on the CPU), ``channels_last`` to on for the CPU (see
    :func:`~sdgan_course.device.sampling_layout`); neither changes the images of a deterministic sampler beyond
    float rounding (the stochastic ones draw their fresh noise batch by batch), only how fast.
    """
    steps = check_sampler(sampler, steps, schedule, family="diffusion")
    if variance not in VARIANCES:
        raise ValueError(f"Unknown DDPM variance {variance!r}: use 'small' or 'large'.")
    spec = get_sampler(sampler, "diffusion")
    given = {"variance": variance, "eta": eta}  # options of one sampler each (DDPM's, DDIM's): spec.options
    own_options = {name: given[name] for name in spec.options}
    device = next(model.parameters()).device
    batch_size = sampling_batch_size(device) if batch_size is None else batch_size
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}.")
    channels_last = device.type == "cpu" if channels_last is None else channels_last
    num_classes = getattr(model.config, "num_classes", 0)
    if isinstance(labels, int):
        labels = torch.full((n,), labels, dtype=torch.long)
    if labels is not None:
        if num_classes == 0:
            raise ValueError("This diffusion model is unconditional: it cannot draw a given class (no labels).")
        if labels.min() < 0 or labels.max() >= num_classes:
            raise ValueError(f"Labels must be in 0..{num_classes - 1}, got {labels.min()}..{labels.max()}.")
    out = []
    with sampling_layout(model, channels_last) as layout:
        for start in range(0, n, batch_size):
            m = min(batch_size, n - start)
            y = None if labels is None else labels[start : start + m].to(device)  # (B,)
            if y is None:
                eps_fn = model_eps_fn(model, schedule=schedule, prediction=prediction)
            else:
                null = model.config.null_label
                eps_fn = classifier_free_guidance(
                    model, y, scale=guidance, null_label=null, schedule=schedule, prediction=prediction
                )
            if layout:
                eps_fn = _channels_last_inputs(eps_fn)
            result = spec.sample(eps_fn, (m, *shape), schedule, num_steps=steps, spacing=spec.spacing, rng=rng,
                                 device=device, clip_x0=clip_x0, **own_options)
            out.append(result.images.float().cpu())  # (B, C, H, W)
    return torch.cat(out)  # (n, C, H, W)


def _channels_last_inputs(eps_fn):
    def wrapped(xt: torch.Tensor, t: torch.Tensor):
        return estimate(eps_fn, xt.contiguous(memory_format=torch.channels_last), t)

    return EpsWithX0(wrapped)


__all__ = ["DEFAULT_STEPS", "SAMPLERS", "check_sampler", "generate_diffusion"]
