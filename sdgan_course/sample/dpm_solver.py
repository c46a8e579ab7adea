r"""DPM-Solver++(2M): a second-order multistep solver of the diffusion ODE, good in 10-20 network evaluations.

Lu et al. 2022, *DPM-Solver++* (arXiv:2211.01095), Algorithm 2, with data prediction
:math:`\hat x_0 = (x_t - \sigma_t\hat\epsilon)/\alpha_t`, where :math:`\alpha_t = \sqrt{\bar\alpha_t}`,
:math:`\sigma_t = \sqrt{1-\bar\alpha_t}` and :math:`\lambda_t = \log(\alpha_t/\sigma_t)` (half the log-SNR).
From :math:`t_{i-1}` to :math:`t_i`, with :math:`h_i = \lambda_{t_i} - \lambda_{t_{i-1}}` and
:math:`r_i = h_{i-1}/h_i`:

.. math:: D_i = \Big(1 + \frac{1}{2r_i}\Big)\hat x_0^{(i-1)} - \frac{1}{2r_i}\hat x_0^{(i-2)},\qquad
          x_{t_i} = \frac{\sigma_{t_i}}{\sigma_{t_{i-1}}}x_{t_{i-1}} - \alpha_{t_i}\big(e^{-h_i} - 1\big)D_i .

The first step is first order (:math:`D = \hat x_0`, which is DDIM); the last step goes to :math:`\sigma = 0` and
returns :math:`\hat x_0` (first order, as diffusers' ``DPMSolverMultistepScheduler`` with ``final_sigmas_type="zero"``).
Each step costs one network evaluation, so ``num_steps`` is the NFE. Because the solver works with the data
prediction, :math:`\hat x_0` can be clipped to the data range [-1, 1] (a simple case of the thresholding Lu et al.
recommend for pixel-space and guided sampling, section 5): on by default, as DDPM and DDIM clip too; an undertrained
or strongly guided model otherwise extrapolates far outside the data range.

Shape legend: B batch, C channels, H x W pixels.
"""

from __future__ import annotations

import torch

from ..schedules import NoiseSchedule
from .ddpm import EpsFn, SampleResult, StepOutput, alpha_bar_at, run_sampler


@torch.no_grad()
def dpm_solver_sample(
    eps_fn: EpsFn,
    shape: tuple[int, ...],
    schedule: NoiseSchedule,
    *,
    num_steps: int = 15,
    spacing: str = "quadratic",
    clip_x0: bool = True,
    rng: torch.Generator | None = None,
    **options,
) -> SampleResult:
    """Draw images of ``shape`` with ``num_steps`` DPM-Solver++(2M) steps; images in [-1, 1].

    ``options``: ``device``, ``x_start``, ``start_step``, ``keep_trajectory`` (see :func:`~.ddpm.run_sampler`).
    """
    memory = {}  # the previous step's data prediction and log-SNR gap: what makes the method multistep

    def step(eps, x, t, t_prev, x0=None):
        ab_t = alpha_bar_at(schedule, t, x)
        alpha_t, sigma_t = ab_t.sqrt(), (1 - ab_t).sqrt()
        if x0 is None:  # a v-prediction model gives x0 itself, also where alpha_t = 0 (zero terminal SNR)
            x0 = (x - sigma_t * eps) / alpha_t  # data prediction
        if clip_x0:
            x0 = x0.clamp(-1, 1)
        if t_prev < 0:  # the last step lands on sigma = 0: the prediction itself
            return StepOutput(x0, x0)
        ab_next = alpha_bar_at(schedule, t_prev, x)
        alpha_next, sigma_next = ab_next.sqrt(), (1 - ab_next).sqrt()
        h = torch.log(alpha_next / sigma_next) - torch.log(alpha_t / sigma_t)
        if "x0" not in memory:
            d = x0  # first order (DDIM) for the first step
        else:
            r = memory["h"] / h
            d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * memory["x0"]
        memory.update(x0=x0, h=h)
        return StepOutput((sigma_next / sigma_t) * x - alpha_next * torch.expm1(-h) * d, x0)

    return run_sampler(eps_fn, step, shape, schedule, num_steps=num_steps, spacing=spacing, rng=rng, **options)


__all__ = ["dpm_solver_sample"]
