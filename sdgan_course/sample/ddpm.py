r"""Ancestral sampling of DDPM (Ho et al. 2020, arXiv:2006.11239, Algorithm 2), on any subsequence of timesteps.

One step from :math:`t` to an earlier :math:`s` (:math:`s = t-1` in the paper; any :math:`s < t` with the
"respaced" schedule of Nichol and Dhariwal 2021, section 4, which is what diffusers' ``DDPMScheduler`` does with fewer
inference steps): predict :math:`\hat x_0` from the noise estimate, then draw from the true posterior
:math:`q(x_s \mid x_t, \hat x_0) = \mathcal{N}(\tilde\mu, \sigma^2 I)` (Ho et al. eq. 6-7, with
:math:`\beta' = 1 - \bar\alpha_t/\bar\alpha_s`):

.. math:: \tilde\mu = \frac{\sqrt{\bar\alpha_s}\,\beta'}{1-\bar\alpha_t}\hat x_0
          + \frac{\sqrt{1-\beta'}\,(1-\bar\alpha_s)}{1-\bar\alpha_t}x_t,\qquad
          \sigma^2 = \tilde\beta = \frac{1-\bar\alpha_s}{1-\bar\alpha_t}\beta' \ \text{("small")}
          \ \text{or}\ \sigma^2 = \beta' \ \text{("large")}.

Ho et al. (section 3.2) found both variances give similar samples: :math:`\tilde\beta` is optimal when
:math:`x_0` is a point, :math:`\beta` when :math:`x_0 \sim \mathcal{N}(0, I)`. No noise is added at the last step.

A sampler takes a noise-prediction function ``eps_fn(x_t, t) -> eps`` (t a (B,) long tensor), so it needs no model
class and guidance is a wrapper (:mod:`sdgan_course.sample.guidance`). The contract every sampler follows (the
prediction function, the step protocol, the shared loop, the registry) is in :mod:`.base`; its names are importable
from here too, as before.

Shape legend: B batch, C channels, H x W pixels, S sampling steps.
"""

from __future__ import annotations

from functools import partial

import torch

from ..schedules import NoiseSchedule
from .base import (
    DEFAULT_SPACING,
    EpsFn,
    EpsWithX0,
    SampleResult,
    StepFn,
    StepOutput,
    alpha_bar_at,
    check_earlier,
    data_prediction,
    estimate,
    initial_noise,
    predict_x0,
    register_sampler,
    run_sampler,
    step_noise,
)

VARIANCES = ("small", "large")


def ddpm_step(
    schedule: NoiseSchedule,
    eps: torch.Tensor,
    xt: torch.Tensor,
    t: int,
    t_prev: int,
    *,
    variance: str = "small",
    clip_x0: bool = True,
    rng: torch.Generator | None = None,
    noise: torch.Tensor | None = None,
    x0: torch.Tensor | None = None,
) -> StepOutput:
    """One ancestral step from ``t`` to ``t_prev`` (``-1`` = the clean image); see the module docstring.

    ``noise`` (like ``xt``) is drawn with ``rng`` unless given (on the CPU, so a seed gives the same images on any
    device). ``clip_x0`` clamps the predicted x_0 to the data range [-1, 1] (as Ho et al.'s code and diffusers do).
    ``x0``: the model's own estimate of x_0 (a v-prediction model's), used instead of eq. 15's.
    """
    if variance not in VARIANCES:
        raise ValueError(f"Unknown DDPM variance {variance!r}: use 'small' (beta tilde) or 'large' (beta).")
    check_earlier(t, t_prev, "DDPM")
    ab_t, ab_prev = alpha_bar_at(schedule, t, xt), alpha_bar_at(schedule, t_prev, xt)
    beta = 1 - ab_t / ab_prev  # beta' of the (respaced) step
    x0 = data_prediction(xt, eps, ab_t, x0, clip_x0=clip_x0)
    mean = (ab_prev.sqrt() * beta / (1 - ab_t)) * x0 + ((1 - beta).sqrt() * (1 - ab_prev) / (1 - ab_t)) * xt
    if t_prev < 0:
        return StepOutput(mean, x0)
    var = (1 - ab_prev) / (1 - ab_t) * beta if variance == "small" else beta
    return StepOutput(mean + var.clamp(min=1e-20).sqrt() * step_noise(xt, rng, noise), x0)


@torch.no_grad()
def ddpm_sample(
    eps_fn: EpsFn,
    shape: tuple[int, ...],
    schedule: NoiseSchedule,
    *,
    num_steps: int | None = None,
    variance: str = "small",
    clip_x0: bool = True,
    spacing: str = DEFAULT_SPACING["ddpm"],
    rng: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    x_start: torch.Tensor | None = None,
    start_step: int = 0,
    keep_trajectory: bool = False,
    clamp_output: bool = True,
) -> SampleResult:
    """Draw images of ``shape`` (B, C, H, W) with Algorithm 2 of Ho et al. (all T steps by default), in [-1, 1].

    ``device``, ``x_start``, ``start_step``, ``keep_trajectory``, ``clamp_output``: see :func:`~.base.run_sampler`.
    """
    step = partial(ddpm_step, schedule, variance=variance, clip_x0=clip_x0, rng=rng)
    return run_sampler(eps_fn, step, shape, schedule, num_steps=num_steps, spacing=spacing, rng=rng, device=device,
                       x_start=x_start, start_step=start_step, keep_trajectory=keep_trajectory,
                       clamp_output=clamp_output)


DDPM = register_sampler("ddpm", ddpm_sample, ddpm_step, order=1, stochastic=True, options=("variance",))

__all__ = [
    "DDPM",
    "EpsFn",
    "EpsWithX0",
    "SampleResult",
    "StepFn",
    "StepOutput",
    "VARIANCES",
    "alpha_bar_at",
    "ddpm_sample",
    "ddpm_step",
    "estimate",
    "initial_noise",
    "predict_x0",
    "run_sampler",
]
