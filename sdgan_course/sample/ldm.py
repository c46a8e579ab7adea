r"""Text to image (and image to image) with the miniature latent diffusion model.

Sampling is the diffusion sampler of notebook 10 run on latents, with classifier-free guidance against a prompt:

.. math:: \tilde\epsilon = \epsilon_\theta(z_t, t, \tau(n)) + s\,\big(\epsilon_\theta(z_t, t, \tau(p)) -
          \epsilon_\theta(z_t, t, \tau(n))\big),

with p the prompt and n the *negative prompt*, by default the empty prompt ``""`` that training dropped captions to
(Ho and Salimans 2022, arXiv:2207.12598; the negative prompt is the same formula with n given, as in the Stable
Diffusion web UIs and diffusers' ``negative_prompt``). The clean latent is then decoded once by the autoencoder.

**Image to image** (SDEdit, Meng et al. 2021, arXiv:2108.01073): encode an input image, noise its latent to the
timestep that ``strength`` in (0, 1] points at, and run only the remaining sampler steps: strength 1 ignores the
input, small strengths keep its layout and change details. diffusers' img2img pipeline uses the same convention
(``init_timestep = int(steps * strength)``).

Shape legend: N images, B batch, C latent channels, h x w latent pixels, H x W image pixels, L tokens, E width.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..models.ldm import LatentDiffusion, PromptContext, canvas_for_prompt
from ..schedules import sampling_timesteps
from .base import DEFAULT_SPACING, LATENT_SPACING, check_sampler, get_sampler
from .guidance import guided_eps_fn

LDM_SAMPLERS = ("ddim", "dpm-solver")  # the registered samplers this pipeline offers (sample/base.py's REGISTRY)
FLOW_SAMPLERS = ("euler", "heun")  # ... and for a flow model (prediction "flow", sample/flow.py)
SPACING = LATENT_SPACING  # trailing for every sampler, as Stable Diffusion's later schedulers (set in sample/base.py)


def prompt_guidance(model, prompt: PromptContext, negative: PromptContext, *, scale: float, schedule=None,
                    prediction: str = "eps"):
    """``eps_fn(z_t, t)`` guided by ``prompt`` against ``negative`` (each (B, L, E) tokens and (B, L) masks), both
    estimates from one batched forward pass; ``scale`` 1 is the plain conditional model, 0 the negative one
    (:func:`~.guidance.guided_eps_fn` with a text context)."""
    return guided_eps_fn(model, {"context": prompt.tokens, "context_mask": prompt.mask},
                         {"context": negative.tokens, "context_mask": negative.mask}, scale=scale, schedule=schedule,
                         prediction=prediction)


def _expand(context: PromptContext, m: int) -> PromptContext:
    return PromptContext(context.tokens.expand(m, -1, -1), context.mask.expand(m, -1))


def _prompts(prompts: str | Sequence[str], n: int) -> list[str]:
    prompts = [prompts] * n if isinstance(prompts, str) else list(prompts)
    if len(prompts) != n:
        raise ValueError(f"Give one prompt, or n = {n} prompts; got {len(prompts)}.")
    return prompts


@torch.no_grad()
def generate_ldm(
    ldm: LatentDiffusion,
    prompts: str | Sequence[str],
    n: int = 1,
    *,
    negative_prompt: str = "",
    guidance: float = 3.0,
    sampler: str = "dpm-solver",
    steps: int | None = 20,
    image_size: tuple[int, int] | None = None,
    init_images: torch.Tensor | None = None,
    strength: float = 0.6,
    rng: torch.Generator | None = None,
    batch_size: int = 200,
    return_latents: bool = False,
):
    """Draw ``n`` images (n, 1, H, W) in [-1, 1] on the CPU for ``prompts`` (one, or n of them).

    ``image_size`` (H, W) defaults to what the first prompt asks for (28 x 56 for "a ... to the left of a ...",
    else 28 x 28). ``init_images`` (n or 1, 1, H, W) turns on image-to-image with ``strength``. With
    ``return_latents`` returns ``(images, latents)``.
    """
    flow = ldm.prediction == "flow"
    offered = FLOW_SAMPLERS if flow else LDM_SAMPLERS
    if sampler not in offered:
        what = "a flow model" if flow else "latent diffusion"
        raise ValueError(f"Unknown sampler {sampler!r} for {what}. Valid: {', '.join(offered)}.")
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}.")
    steps = check_sampler(sampler, steps, ldm.schedule)
    prompts = _prompts(prompts, n)
    if init_images is not None:
        if not 0 < strength <= 1:
            raise ValueError(f"strength must be in (0, 1] (1 = ignore the input image), got {strength}.")
        if init_images.ndim != 4 or len(init_images) not in (1, n):
            raise ValueError(f"init_images must be (1 or n, 1, H, W) in [-1, 1], got {tuple(init_images.shape)}.")
        image_size = tuple(init_images.shape[-2:])
    shape = ldm.latent_shape(image_size or canvas_for_prompt(prompts[0]))
    negative = ldm.encode_prompts(negative_prompt)  # (1, L, E); an unknown word fails here, before any work
    spacing = DEFAULT_SPACING[sampler] if flow else SPACING
    timesteps = ldm.schedule.sampling_times(steps) if flow else sampling_timesteps(steps, ldm.schedule.num_steps,
                                                                                    spacing=SPACING)
    device, images, latents = ldm.device, [], []
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        context = ldm.encode_prompts(prompts[start : start + m])
        eps_fn = prompt_guidance(ldm.unet, context, _expand(negative, m), scale=guidance, schedule=ldm.schedule,
                                 prediction=ldm.prediction)
        options = dict(rng=rng, device=device, clamp_output=False, spacing=spacing)  # latents: unbounded
        if not flow:
            options["clip_x0"] = False
        if init_images is not None:
            init = init_images if len(init_images) == 1 else init_images[start : start + m]
            z0 = ldm.encode_images(init.expand(m, -1, -1, -1))  # (B, C, h, w)
            skip = steps - max(1, int(steps * strength))  # sampler steps skipped (diffusers: int, not round)
            t = torch.full((m,), timesteps[skip].item(), device=device, dtype=timesteps.dtype)  # (B,) step or time
            noise = torch.randn(z0.shape, generator=rng).to(device)
            options.update(x_start=ldm.schedule.add_noise(z0, noise, t), start_step=skip)
        sample = get_sampler(sampler).sample
        z = sample(eps_fn, (m, *shape), ldm.schedule, num_steps=steps, **options).images  # (B, C, h, w)
        images.append(ldm.decode_latents(z).float().cpu())  # (B, 1, H, W)
        latents.append(z.float().cpu())
    images = torch.cat(images)
    return (images, torch.cat(latents)) if return_latents else images


__all__ = ["FLOW_SAMPLERS", "LDM_SAMPLERS", "SPACING", "generate_ldm", "prompt_guidance"]
