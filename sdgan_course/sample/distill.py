r"""Sampling a distilled few-step student (adversarial diffusion distillation), 1 to 4 network evaluations per image.

The student :math:`\hat x_\theta(x_s, s)` predicts the clean latent in one call (Sauer et al. 2023, arXiv:2311.17042,
section 3.1). One step: start from pure noise at the last timestep :math:`\tau_1 = T - 1`, predict, decode. More steps
alternate predicting and **re-noising with fresh noise** to the next, smaller student timestep,
:math:`x_{\tau_{i+1}} = \alpha_{\tau_{i+1}}\hat x_\theta + \sigma_{\tau_{i+1}}\epsilon`, as ADD samples (and as the
multistep sampling of consistency models, Song et al. 2023, arXiv:2303.01469, Algorithm 1): each step refines the
previous answer rather than integrating an ODE. No classifier-free guidance: the guided teacher is distilled into the
student, so one forward pass per step is the whole cost.

The timesteps are the student's training ones, ``sampling_timesteps(steps, T, spacing="trailing")``: 999 for one step,
(999, 499) for two, (999, 749, 499, 249) for four (T = 1000).

Shape legend: N images, B batch, C latent channels, h x w latent pixels, H x W image pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..models.ldm import LatentDiffusion, PromptContext, canvas_for_prompt
from ..schedules import sampling_timesteps

MAX_STUDENT_STEPS = 4


def student_timesteps(steps: int, num_train_steps: int) -> torch.Tensor:
    """The ``steps`` student timesteps, descending (trailing spacing, so the first is always T - 1)."""
    if not 1 <= steps <= MAX_STUDENT_STEPS:
        raise ValueError(f"A distilled student samples in 1 to {MAX_STUDENT_STEPS} steps, got {steps}.")
    return sampling_timesteps(steps, num_train_steps, spacing="trailing")


@torch.no_grad()
def generate_student(
    student: LatentDiffusion,
    prompts: str | Sequence[str],
    n: int = 1,
    *,
    steps: int = 1,
    image_size: tuple[int, int] | None = None,
    rng: torch.Generator | None = None,
    batch_size: int = 500,
    return_latents: bool = False,
):
    """Draw ``n`` images (n, 1, H, W) in [-1, 1] on the CPU from the student (a :class:`LatentDiffusion` whose U-Net
    is the student) for ``prompts`` (one, or n of them), in ``steps`` network evaluations each. ``image_size`` (H, W)
    defaults to what the first prompt asks for. With ``return_latents`` returns ``(images, latents)``."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}.")
    prompts = [prompts] * n if isinstance(prompts, str) else list(prompts)
    if len(prompts) != n:
        raise ValueError(f"Give one prompt, or n = {n} prompts; got {len(prompts)}.")
    timesteps = student_timesteps(steps, student.schedule.num_steps)
    shape = student.latent_shape(image_size or canvas_for_prompt(prompts[0]))
    device, schedule, images, latents = student.device, student.schedule, [], []
    unique = sorted(set(prompts))  # each distinct prompt is encoded once
    encoded = student.encode_prompts(unique)  # (U, L, E), (U, L)
    index = torch.tensor([unique.index(p) for p in prompts], device=encoded.tokens.device)  # (n,)
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        rows = index[start : start + m]
        context = PromptContext(encoded.tokens[rows], encoded.mask[rows])  # (B, L, E), (B, L)
        z = torch.randn((m, *shape), generator=rng).to(device)  # (B, C, h, w): x_{T-1}, pure noise
        for i, t in enumerate(timesteps.tolist()):
            tt = torch.full((m,), t, dtype=torch.long, device=device)
            out = student.unet(z, tt, context=context.tokens, context_mask=context.mask).float()
            x0 = schedule.to_x0(student.prediction, z, tt, out)  # (B, C, h, w)
            if i + 1 < len(timesteps):  # re-noise, with fresh noise, to the next student timestep
                nxt = torch.full((m,), int(timesteps[i + 1]), dtype=torch.long, device=device)
                z = schedule.add_noise(x0, torch.randn(x0.shape, generator=rng).to(device), nxt)
            else:
                z = x0
        images.append(student.decode_latents(z).float().cpu())  # (B, 1, H, W)
        latents.append(z.float().cpu())
    images = torch.cat(images)
    return (images, torch.cat(latents)) if return_latents else images


__all__ = ["MAX_STUDENT_STEPS", "generate_student", "student_timesteps"]
