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

The update is :func:`dpm_solver_2m_step`, beside ``ddpm_step`` and ``ddim_step``; being multistep, it also takes the
previous step's timestep and data prediction (``last_t``, ``last_x0``), which :func:`dpm_solver_sample` carries from
one step to the next.

Shape legend: B batch, C channels, H x W pixels.
"""

from __future__ import annotations

import torch

from ..schedules import NoiseSchedule
from .base import (
    DEFAULT_SPACING,
    DEFAULT_STEPS,
    EpsFn,
    SampleResult,
    StepOutput,
    alpha_bar_at,
    check_earlier,
    data_prediction,
    register_sampler,
    run_sampler,
)


def half_log_snr(schedule: NoiseSchedule, t: int, like: torch.Tensor) -> torch.Tensor:
    r""":math:`\lambda_t = \log(\alpha_t/\sigma_t)` as a scalar tensor on ``like``'s device (:math:`-\infty` where
    :math:`\bar\alpha_t = 0`, the last timestep of a zero-terminal-SNR schedule)."""
    ab = alpha_bar_at(schedule, t, like)
    return torch.log(ab.sqrt() / (1 - ab).sqrt())


def dpm_solver_2m_step(
    schedule: NoiseSchedule,
    eps: torch.Tensor,
    xt: torch.Tensor,
    t: int,
    t_prev: int,
    *,
    clip_x0: bool = True,
    last_t: int | None = None,
    last_x0: torch.Tensor | None = None,
    x0: torch.Tensor | None = None,
) -> StepOutput:
    """One DPM-Solver++(2M) step from ``t`` to ``t_prev`` (``-1`` = the clean image); see the module docstring.

    ``last_t`` and ``last_x0``: the timestep and the (clipped) data prediction of the step before this one, which make
    the step second order; ``None`` at the first step, which is first order (DDIM). ``x0``: the model's own estimate
    of x_0 (a v-prediction model's, also where alpha_t = 0), used instead of the one derived from ``eps``. The
    returned ``x0`` is this step's data prediction: the next step's ``last_x0``.
    """
    check_earlier(t, t_prev, "DPM-Solver++")
    if (last_t is None) != (last_x0 is None):
        raise ValueError("Give both last_t and last_x0 (the previous step's), or neither (the first step).")
    ab_t = alpha_bar_at(schedule, t, xt)
    sigma_t = (1 - ab_t).sqrt()
    x0 = data_prediction(xt, eps, ab_t, x0, clip_x0=clip_x0)  # the data prediction
    if t_prev < 0:  # the last step lands on sigma = 0: the prediction itself
        return StepOutput(x0, x0)
    ab_next = alpha_bar_at(schedule, t_prev, xt)
    alpha_next, sigma_next = ab_next.sqrt(), (1 - ab_next).sqrt()
    h = half_log_snr(schedule, t_prev, xt) - half_log_snr(schedule, t, xt)  # h_i: the log-SNR gap of this step
    if last_x0 is None:
        d = x0  # first order (DDIM) for the first step
    else:
        r = (half_log_snr(schedule, t, xt) - half_log_snr(schedule, last_t, xt)) / h  # r_i = h_{i-1} / h_i
        d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * last_x0
    return StepOutput((sigma_next / sigma_t) * xt - alpha_next * torch.expm1(-h) * d, x0)


@torch.no_grad()
def dpm_solver_sample(
    eps_fn: EpsFn,
    shape: tuple[int, ...],
    schedule: NoiseSchedule,
    *,
    num_steps: int = DEFAULT_STEPS["dpm-solver"],
    spacing: str = DEFAULT_SPACING["dpm-solver"],
    clip_x0: bool = True,
    rng: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    x_start: torch.Tensor | None = None,
    start_step: int = 0,
    keep_trajectory: bool = False,
    clamp_output: bool = True,
) -> SampleResult:
    """Draw images of ``shape`` with ``num_steps`` DPM-Solver++(2M) steps; images in [-1, 1].

    ``device``, ``x_start``, ``start_step``, ``keep_trajectory``, ``clamp_output``: see :func:`~.base.run_sampler`.
    """
    last = {"t": None, "x0": None}  # the previous step's timestep and data prediction: what makes it multistep

    def step(eps, xt, t, t_prev, *, x0):
        out = dpm_solver_2m_step(schedule, eps, xt, t, t_prev, clip_x0=clip_x0, last_t=last["t"],
                                 last_x0=last["x0"], x0=x0)
        last.update(t=t, x0=out.x0)
        return out

    return run_sampler(eps_fn, step, shape, schedule, num_steps=num_steps, spacing=spacing, rng=rng, device=device,
                       x_start=x_start, start_step=start_step, keep_trajectory=keep_trajectory,
                       clamp_output=clamp_output)


DPM_SOLVER = register_sampler("dpm-solver", dpm_solver_sample, dpm_solver_2m_step, order=2, stochastic=False)

__all__ = ["DPM_SOLVER", "dpm_solver_2m_step", "dpm_solver_sample", "half_log_snr"]
