r"""DDIM: deterministic (and stochastic) sampling, and inversion (Song, Meng and Ermon 2020, arXiv:2010.02502).

One step from :math:`t` to an earlier :math:`s` (their eq. 12), with :math:`\hat x_0` predicted from the noise
estimate :math:`\hat\epsilon`:

.. math:: x_s = \sqrt{\bar\alpha_s}\,\hat x_0 + \sqrt{1 - \bar\alpha_s - \sigma^2}\,\hat\epsilon + \sigma z,
          \qquad \sigma = \eta\sqrt{\frac{1-\bar\alpha_s}{1-\bar\alpha_t}}\sqrt{1-\frac{\bar\alpha_t}{\bar\alpha_s}}
          \quad\text{(eq. 16)}.

:math:`\eta = 0` is deterministic: the same noise always gives the same image, so an image can be *encoded* by
running the steps backwards (inversion, section 5.4). :math:`\eta = 1` gives DDPM's posterior variance
:math:`\tilde\beta`. The same network trained for DDPM serves both: DDIM changes only the sampler.

**Clipping.** With ``clip_x0`` the predicted :math:`\hat x_0` is clamped to the data range [-1, 1], and the noise
estimate is then re-derived from the clamped :math:`\hat x_0`,
:math:`\hat\epsilon = (x_t - \sqrt{\bar\alpha_t}\,\hat x_0) / \sqrt{1 - \bar\alpha_t}`, so that the two terms of
eq. 12 describe the same :math:`x_t` (diffusers' ``DDIMScheduler.step(..., use_clipped_model_output=True)``; with
this, one deterministic DDIM step is DPM-Solver++'s first-order step with thresholding). Clamping :math:`\hat x_0`
but keeping the network's :math:`\hat\epsilon` (diffusers' default, ``eps_from_clipped_x0=False`` here) pairs the
clamped image with the noise of the unclamped one, and :math:`x_s` is then not a point that :math:`x_t`'s own
prediction describes; the mismatch is made again at every step. With classifier-free guidance, which pushes
:math:`\hat x_0` past the range often, the error therefore accumulates over the steps, and more steps can make the
samples worse instead of better. The shipped DDPM's measurements of both variants are in
``data/checkpoints/README.md`` ("Quality against cost"; rows ``samplers`` and ``ddim_eps_kept`` of
``data/checkpoints/ddpm_fashion_mnist_eval.json``).

Shape legend: B batch, C channels, H x W pixels, S sampling steps.
"""

from __future__ import annotations

from functools import partial

import torch

from ..schedules import NoiseSchedule, sampling_timesteps
from .base import (
    DEFAULT_SPACING,
    DEFAULT_STEPS,
    EpsFn,
    SampleResult,
    StepOutput,
    alpha_bar_at,
    check_earlier,
    check_steps,
    data_prediction,
    predict_x0,
    register_sampler,
    run_sampler,
    step_noise,
)


def ddim_sigma(schedule: NoiseSchedule, t: int, t_prev: int, eta: float, like: torch.Tensor) -> torch.Tensor:
    r""":math:`\sigma_t(\eta)` of Song et al. eq. 16 for the step ``t -> t_prev``."""
    ab_t, ab_prev = alpha_bar_at(schedule, t, like), alpha_bar_at(schedule, t_prev, like)
    return eta * ((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev)).clamp(min=0).sqrt()


def ddim_step(
    schedule: NoiseSchedule,
    eps: torch.Tensor,
    xt: torch.Tensor,
    t: int,
    t_prev: int,
    *,
    eta: float = 0.0,
    clip_x0: bool = True,
    eps_from_clipped_x0: bool = True,
    rng: torch.Generator | None = None,
    noise: torch.Tensor | None = None,
    x0: torch.Tensor | None = None,
) -> StepOutput:
    """One DDIM step from ``t`` to ``t_prev`` (``-1`` = the clean image); see the module docstring (``clip_x0`` and
    ``eps_from_clipped_x0``: its paragraph on clipping). ``x0``: the model's own estimate of x_0 (a v-prediction
    model's), used instead of the one derived from ``eps``."""
    check_earlier(t, t_prev, "DDIM")
    if eta < 0:
        raise ValueError(f"eta must be >= 0 (0 = deterministic DDIM, 1 = DDPM's variance), got {eta}.")
    ab_t, ab_prev = alpha_bar_at(schedule, t, xt), alpha_bar_at(schedule, t_prev, xt)
    x0 = data_prediction(xt, eps, ab_t, x0, clip_x0=clip_x0)
    if clip_x0 and eps_from_clipped_x0:
        eps = (xt - ab_t.sqrt() * x0) / (1 - ab_t).sqrt()  # the noise that the clamped x0 implies
    sigma = ddim_sigma(schedule, t, t_prev, eta, xt)
    prev = ab_prev.sqrt() * x0 + (1 - ab_prev - sigma**2).clamp(min=0).sqrt() * eps  # eq. 12, without the noise
    if eta > 0 and t_prev >= 0:
        prev = prev + sigma * step_noise(xt, rng, noise)
    return StepOutput(prev, x0)


@torch.no_grad()
def ddim_sample(
    eps_fn: EpsFn,
    shape: tuple[int, ...],
    schedule: NoiseSchedule,
    *,
    num_steps: int = DEFAULT_STEPS["ddim"],
    eta: float = 0.0,
    clip_x0: bool = True,
    spacing: str = DEFAULT_SPACING["ddim"],
    rng: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    x_start: torch.Tensor | None = None,
    start_step: int = 0,
    keep_trajectory: bool = False,
    clamp_output: bool = True,
) -> SampleResult:
    """Draw images of ``shape`` with ``num_steps`` DDIM steps (``num_steps`` network evaluations), in [-1, 1].

    ``x_start`` replaces the initial noise, ``start_step = k`` skips the first k timesteps (SDEdit-style image to
    image starts from a noised image); these, ``device``, ``keep_trajectory`` and ``clamp_output``: see
    :func:`~.base.run_sampler`.
    """
    step = partial(ddim_step, schedule, eta=eta, clip_x0=clip_x0, rng=rng)
    return run_sampler(eps_fn, step, shape, schedule, num_steps=num_steps, spacing=spacing, rng=rng, device=device,
                       x_start=x_start, start_step=start_step, keep_trajectory=keep_trajectory,
                       clamp_output=clamp_output)


@torch.no_grad()
def ddim_invert(
    eps_fn: EpsFn,
    x0: torch.Tensor,
    schedule: NoiseSchedule,
    *,
    num_steps: int = DEFAULT_STEPS["ddim"],
    spacing: str = DEFAULT_SPACING["ddim"],
) -> torch.Tensor:
    r"""Deterministic encoding: run the :math:`\eta = 0` steps backwards, from the image to noise (Song et al.,
    section 5.4). Each step moves from :math:`s` to a later :math:`t`, reusing the noise estimate made at :math:`s`:
    :math:`x_t = \sqrt{\bar\alpha_t}\,\hat x_0(x_s) + \sqrt{1-\bar\alpha_t}\,\hat\epsilon(x_s, s)`.
    Returns :math:`x_T` (B, C, H, W); :func:`ddim_sample` with ``x_start`` and the same steps decodes it back."""
    num_steps = check_steps(num_steps, schedule)
    timesteps = sampling_timesteps(num_steps, schedule.num_steps, spacing=spacing).flip(0).tolist()  # ascending
    x = x0
    previous = -1
    for t in timesteps:
        s = max(previous, 0)  # the noise estimate is made at the current (less noisy) level
        s_batch = torch.full((x.shape[0],), s, device=x.device, dtype=torch.long)
        eps = eps_fn(x, s_batch)
        ab_s, ab_t = alpha_bar_at(schedule, previous, x), alpha_bar_at(schedule, t, x)
        x0_hat = predict_x0(x, eps, ab_s) if previous >= 0 else x
        x = ab_t.sqrt() * x0_hat + (1 - ab_t).sqrt() * eps
        previous = t
    return x


DDIM = register_sampler("ddim", ddim_sample, ddim_step, order=1, stochastic=False, options=("eta",))

__all__ = ["DDIM", "ddim_invert", "ddim_sample", "ddim_sigma", "ddim_step"]
