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
class and guidance is a wrapper (:mod:`sdgan_course.sample.guidance`).

Shape legend: B batch, C channels, H x W pixels, S sampling steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from ..schedules import NoiseSchedule, sampling_timesteps

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
VARIANCES = ("small", "large")


class EpsWithX0:
    r"""An ``eps_fn`` that also gives its own estimate of :math:`x_0`: calling it gives the noise estimate, as any
    ``eps_fn``; ``eps_and_x0(x_t, t)`` gives ``(eps, x0)``. A v-prediction model is wrapped in one
    (:func:`~sdgan_course.sample.guidance.model_eps_fn`): its :math:`\hat x_0 = \sqrt{\bar\alpha_t}\,x_t -
    \sqrt{1-\bar\alpha_t}\,\hat v` needs no division by :math:`\sqrt{\bar\alpha_t}`, which is 0 at the first
    sampling step of a zero-terminal-SNR schedule (there every noise estimate is :math:`x_t` itself, and eq. 15 gives
    0 / 0). ``x0`` may be ``None``: derive it from eps."""

    def __init__(self, eps_and_x0: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]):
        self.eps_and_x0 = eps_and_x0

    def __call__(self, xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.eps_and_x0(xt, t)[0]


def estimate(eps_fn: EpsFn, xt: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(eps, x0)`` from one call of ``eps_fn``; x0 is ``None`` unless ``eps_fn`` gives it (:class:`EpsWithX0`)."""
    both = getattr(eps_fn, "eps_and_x0", None)
    return both(xt, t) if both is not None else (eps_fn(xt, t), None)


class StepOutput(NamedTuple):
    prev: torch.Tensor  # x_s (B, C, H, W)
    x0: torch.Tensor  # the prediction of x_0 made at this step (B, C, H, W)


class SampleResult(NamedTuple):
    images: torch.Tensor  # (B, C, H, W) in [-1, 1]
    trajectory: list[torch.Tensor]  # x_t before each step (on the CPU), when asked for
    x0_predictions: list[torch.Tensor]  # the predicted x_0 at each step (on the CPU), when asked for
    timesteps: torch.Tensor  # (S,) the timesteps visited


def alpha_bar_at(schedule: NoiseSchedule, t: int, like: torch.Tensor) -> torch.Tensor:
    r""":math:`\bar\alpha_t` as a scalar tensor on ``like``'s device; 1 for t < 0 (the clean image)."""
    if t < 0:
        return torch.ones((), device=like.device, dtype=torch.float32)
    return schedule.alpha_bar[t].to(like.device)


def predict_x0(xt: torch.Tensor, eps: torch.Tensor, alpha_bar_t: torch.Tensor) -> torch.Tensor:
    r""":math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\hat\epsilon)/\sqrt{\bar\alpha_t}` (Ho et al. eq. 15)."""
    return (xt - (1 - alpha_bar_t).sqrt() * eps) / alpha_bar_t.sqrt()


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
    if not -1 <= t_prev < t:
        raise ValueError(f"A DDPM step goes to an earlier timestep: got t = {t}, t_prev = {t_prev}.")
    ab_t, ab_prev = alpha_bar_at(schedule, t, xt), alpha_bar_at(schedule, t_prev, xt)
    beta = 1 - ab_t / ab_prev  # beta' of the (respaced) step
    x0 = predict_x0(xt, eps, ab_t) if x0 is None else x0
    if clip_x0:
        x0 = x0.clamp(-1, 1)
    mean = (ab_prev.sqrt() * beta / (1 - ab_t)) * x0 + ((1 - beta).sqrt() * (1 - ab_prev) / (1 - ab_t)) * xt
    if t_prev < 0:
        return StepOutput(mean, x0)
    var = (1 - ab_prev) / (1 - ab_t) * beta if variance == "small" else beta
    if noise is None:
        noise = torch.randn(xt.shape, generator=rng, dtype=xt.dtype).to(xt.device)
    return StepOutput(mean + var.clamp(min=1e-20).sqrt() * noise, x0)


def _check_steps(num_steps: int | None, schedule: NoiseSchedule) -> int:
    num_steps = schedule.num_steps if num_steps is None else num_steps
    if not 1 <= num_steps <= schedule.num_steps:
        raise ValueError(
            f"steps must be between 1 and {schedule.num_steps} (the model's training steps T), got {num_steps}."
        )
    return num_steps


def initial_noise(shape, *, rng: torch.Generator | None, device) -> torch.Tensor:
    """:math:`x_T \\sim \\mathcal{N}(0, I)`, drawn on the CPU with ``rng`` and moved to ``device``."""
    return torch.randn(shape, generator=rng).to(device)


# (eps, x_t, t, t_prev, x0 or None) -> StepOutput; x0 is the model's own estimate where it gives one (EpsWithX0)
StepFn = Callable[[torch.Tensor, torch.Tensor, int, int, torch.Tensor | None], StepOutput]


def run_sampler(
    eps_fn: EpsFn,
    step_fn: StepFn,
    shape: tuple[int, ...],
    schedule: NoiseSchedule,
    *,
    num_steps: int | None,
    spacing: str,
    rng: torch.Generator | None,
    device: torch.device | str = "cpu",
    x_start: torch.Tensor | None = None,
    start_step: int = 0,
    keep_trajectory: bool = False,
    clamp_output: bool = True,
) -> SampleResult:
    """The loop every sampler shares: visit the timesteps from noisy to clean, ask ``eps_fn`` for the noise at each,
    and let ``step_fn`` move to the next one (``-1`` = the clean image).

    Every sampler forwards these ``options`` here: ``device`` (where the noise goes), ``x_start`` (replaces the
    initial noise), ``start_step = k`` (skip the first k timesteps: image-to-image starts from a noised image) and
    ``keep_trajectory`` (keep x_t and the predicted x_0 of every step, on the CPU) and ``clamp_output`` (clamp the
    result to the image range [-1, 1]; off for latents, which are not bounded)."""
    num_steps = _check_steps(num_steps, schedule)
    timesteps = sampling_timesteps(num_steps, schedule.num_steps, spacing=spacing)[start_step:]
    x = initial_noise(shape, rng=rng, device=device) if x_start is None else x_start
    traj, preds = [], []
    for i, t in enumerate(timesteps.tolist()):
        t_prev = timesteps[i + 1].item() if i + 1 < len(timesteps) else -1
        t_batch = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)  # (B,)
        eps, x0 = estimate(eps_fn, x, t_batch)
        step = step_fn(eps, x, t, t_prev, x0)
        if keep_trajectory:
            traj.append(x.cpu())
            preds.append(step.x0.cpu())
        x = step.prev
    return SampleResult(x.clamp(-1, 1) if clamp_output else x, traj, preds, timesteps)


@torch.no_grad()
def ddpm_sample(
    eps_fn: EpsFn,
    shape: tuple[int, ...],
    schedule: NoiseSchedule,
    *,
    num_steps: int | None = None,
    variance: str = "small",
    clip_x0: bool = True,
    spacing: str = "trailing",
    rng: torch.Generator | None = None,
    **options,
) -> SampleResult:
    """Draw images of ``shape`` (B, C, H, W) with Algorithm 2 of Ho et al. (all T steps by default), in [-1, 1].

    ``options``: ``device``, ``x_start``, ``start_step``, ``keep_trajectory`` (see :func:`run_sampler`).
    """

    def step(eps, x, t, t_prev, x0=None):
        return ddpm_step(schedule, eps, x, t, t_prev, variance=variance, clip_x0=clip_x0, rng=rng, x0=x0)

    return run_sampler(eps_fn, step, shape, schedule, num_steps=num_steps, spacing=spacing, rng=rng, **options)


__all__ = [
    "EpsFn",
    "EpsWithX0",
    "SampleResult",
    "StepOutput",
    "VARIANCES",
    "alpha_bar_at",
    "ddpm_sample",
    "ddpm_step",
    "initial_noise",
    "predict_x0",
    "run_sampler",
]
