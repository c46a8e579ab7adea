r"""Samplers for a flow model: integrate :math:`dx/dt = v_\theta(x, t)` from noise (t = 1) to data (t = 0).

A flow-matching model (:mod:`sdgan_course.losses.flow`) predicts a velocity, and sampling is solving an ordinary
differential equation backwards in time on a grid :math:`1 = t_0 > t_1 > \dots > t_S = 0`
(:meth:`~sdgan_course.schedules.FlowSchedule.sampling_times`, uniform and optionally shifted as in SD3):

- **Euler** (first order): :math:`x_{i+1} = x_i + (t_{i+1} - t_i)\,v_\theta(x_i, t_i)`. Written with the model's
  own estimates :math:`\hat x_0 = x - t v` and :math:`\hat\epsilon = x + (1-t) v`, the same step is
  :math:`x_{i+1} = (1 - t_{i+1})\hat x_0 + t_{i+1}\hat\epsilon`: deterministic DDIM's update (Song et al. 2020,
  eq. 12 with :math:`\sigma = 0`), in flow variables. Its error falls as the step size.
- **Heun** (second order, the explicit trapezoidal rule; Karras et al. 2022, arXiv:2206.00364, Algorithm 1): an Euler
  step to :math:`t_{i+1}`, a second velocity there, and the step taken with their average. Its error falls as the
  step size squared, for two network evaluations per step; the last step, to t = 0, is plain Euler (as in Karras
  et al. and diffusers' ``FlowMatchHeunDiscreteScheduler``), so S steps cost 2S - 1 evaluations.

Both are registered in the shared registry (:mod:`.base`) as the ``"flow"`` family: their sample functions take a
*velocity function* ``velocity_fn(x_t, t) -> v`` (t a (B,) float tensor) and a
:class:`~sdgan_course.schedules.FlowSchedule`; :func:`~.guidance.guided_eps_fn` with ``prediction="flow"`` makes a
guided one (guidance mixes velocities with the same formula as noise estimates).

Shape legend: B batch, C channels, H x W pixels, S sampling steps.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch

from ..schedules import FlowSchedule
from .base import DEFAULT_SPACING, DEFAULT_STEPS, SampleResult, StepOutput, initial_noise, register_sampler

VelocityFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
FLOW_SPACINGS = ("uniform",)


def _times(t: float, like: torch.Tensor) -> torch.Tensor:
    return torch.full((like.shape[0],), t, device=like.device, dtype=torch.float32)  # (B,)


def _check_times(t: float, t_next: float) -> None:
    if not 0 <= t_next < t <= 1:
        raise ValueError(f"A flow step goes from t to an earlier time t_next in [0, t); got {t} -> {t_next}.")


def euler_step(schedule: FlowSchedule, velocity: torch.Tensor, xt: torch.Tensor, t: float, t_next: float, *,
               velocity_fn: VelocityFn | None = None) -> StepOutput:
    """One Euler step of the flow ODE from ``t`` to ``t_next`` < t, given the velocity at (xt, t). ``velocity_fn`` is
    not used (the second-order step needs it; the signature is shared)."""
    _check_times(t, t_next)
    return StepOutput(xt + (t_next - t) * velocity, schedule.to_x0(xt, t, velocity))


def heun_step(schedule: FlowSchedule, velocity: torch.Tensor, xt: torch.Tensor, t: float, t_next: float, *,
              velocity_fn: VelocityFn) -> StepOutput:
    """One Heun step: Euler to ``t_next``, the velocity there (one more network evaluation), and the step again with
    the average of the two velocities; to ``t_next = 0`` the Euler step alone (the velocity at t = 0 is not needed)."""
    euler = euler_step(schedule, velocity, xt, t, t_next)
    if t_next == 0:
        return euler
    corrected = 0.5 * (velocity + velocity_fn(euler.prev, _times(t_next, xt)))
    return StepOutput(xt + (t_next - t) * corrected, schedule.to_x0(xt, t, corrected))


def run_flow_sampler(
    velocity_fn: VelocityFn,
    step_fn: Callable[..., StepOutput],
    shape: tuple[int, ...],
    schedule: FlowSchedule,
    *,
    num_steps: int,
    spacing: str,
    rng: torch.Generator | None,
    device: torch.device | str = "cpu",
    x_start: torch.Tensor | None = None,
    start_step: int = 0,
    keep_trajectory: bool = False,
    clamp_output: bool = True,
) -> SampleResult:
    """The flow's shared loop (:func:`~.base.run_sampler`'s counterpart): from x at t = 1 (noise drawn with ``rng``,
    or ``x_start``) through the schedule's ``num_steps`` times to t = 0, one ``velocity_fn`` call per step (Heun's
    step makes its own second call). ``start_step = k`` skips the first k times (image to image starts from an image
    noised to the time it points at). The result's ``timesteps`` are the times of the steps taken, float (S - k,)."""
    if spacing not in FLOW_SPACINGS:
        raise ValueError(f"Unknown flow time spacing {spacing!r}. Valid: {', '.join(FLOW_SPACINGS)} "
                         "(the schedule's shift moves the grid).")
    times = schedule.sampling_times(num_steps)[start_step:]  # (S + 1 - k,) from 1 (or lower) to 0
    x = initial_noise(shape, rng=rng, device=device) if x_start is None else x_start
    traj, preds = [], []
    pairs = list(zip(times[:-1].tolist(), times[1:].tolist(), strict=True))
    for t, t_next in pairs:
        velocity = velocity_fn(x, _times(t, x)).to(x.dtype)
        step = step_fn(schedule, velocity, x, t, t_next, velocity_fn=velocity_fn)
        if keep_trajectory:
            traj.append(x.cpu())
            preds.append(step.x0.cpu())
        x = step.prev
    return SampleResult(x.clamp(-1, 1) if clamp_output else x, traj, preds, times[:-1])


def _sample(step_fn, velocity_fn: VelocityFn, shape: tuple[int, ...], schedule: FlowSchedule, *, num_steps: int,
            spacing: str, rng: torch.Generator | None, device, x_start, start_step: int, keep_trajectory: bool,
            clamp_output: bool) -> SampleResult:
    return run_flow_sampler(velocity_fn, step_fn, shape, schedule, num_steps=num_steps, spacing=spacing, rng=rng,
                            device=device, x_start=x_start, start_step=start_step,
                            keep_trajectory=keep_trajectory, clamp_output=clamp_output)


@torch.no_grad()
def euler_sample(
    velocity_fn: VelocityFn,
    shape: tuple[int, ...],
    schedule: FlowSchedule,
    *,
    num_steps: int = DEFAULT_STEPS["euler"],
    spacing: str = DEFAULT_SPACING["euler"],
    rng: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    x_start: torch.Tensor | None = None,
    start_step: int = 0,
    keep_trajectory: bool = False,
    clamp_output: bool = True,
) -> SampleResult:
    """Euler's method on the flow ODE: ``num_steps`` network evaluations."""
    return _sample(euler_step, velocity_fn, shape, schedule, num_steps=num_steps, spacing=spacing, rng=rng,
                   device=device, x_start=x_start, start_step=start_step, keep_trajectory=keep_trajectory,
                   clamp_output=clamp_output)


@torch.no_grad()
def heun_sample(
    velocity_fn: VelocityFn,
    shape: tuple[int, ...],
    schedule: FlowSchedule,
    *,
    num_steps: int = DEFAULT_STEPS["heun"],
    spacing: str = DEFAULT_SPACING["heun"],
    rng: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    x_start: torch.Tensor | None = None,
    start_step: int = 0,
    keep_trajectory: bool = False,
    clamp_output: bool = True,
) -> SampleResult:
    """Heun's method on the flow ODE: ``2 num_steps - 1`` network evaluations."""
    return _sample(heun_step, velocity_fn, shape, schedule, num_steps=num_steps, spacing=spacing, rng=rng,
                   device=device, x_start=x_start, start_step=start_step, keep_trajectory=keep_trajectory,
                   clamp_output=clamp_output)


register = partial(register_sampler, family="flow", stochastic=False)
register("euler", euler_sample, euler_step, order=1)
register("heun", heun_sample, heun_step, order=2, extra_evaluations=1)

__all__ = ["FLOW_SPACINGS", "VelocityFn", "euler_sample", "euler_step", "heun_sample", "heun_step",
           "run_flow_sampler"]
