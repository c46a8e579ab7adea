r"""The flow-matching objective (rectified flow): regress the velocity of the straight path from data to noise.

Conditional flow matching (Lipman et al. 2022, arXiv:2210.02747, eq. 9 and section 4.1 with
:math:`\sigma_{min} = 0`; rectified flow, Liu et al. 2022, arXiv:2209.03003, eq. 1):

.. math:: L_{CFM} = \mathbb{E}_{t, x_0, \epsilon}\big[\lVert v_\theta(x_t, t) - (\epsilon - x_0) \rVert^2\big],
          \qquad x_t = (1 - t)\,x_0 + t\,\epsilon.

The target :math:`\epsilon - x_0` is the velocity of one sample's path (the *conditional* vector field). No network
can know which :math:`x_0` a noisy :math:`x_t` came from, so the regression's minimiser is the average over them, the
*marginal* vector field :math:`u_t(x) = \mathbb{E}[\epsilon - x_0 \mid x_t = x]`, whose ODE
:math:`dx/dt = u_t(x)` carries the noise distribution to the data's (Lipman et al., theorem 2; the exact one of a
Gaussian mixture is :func:`sdgan_course.theory.flow.mixture_velocity`). Stable Diffusion 3 trains with this loss and
logit-normal times (Esser et al. 2024, arXiv:2403.03206, section 3.1 and eq. 19;
:class:`~sdgan_course.schedules.FlowSchedule`).

Shape legend: B batch, C channels, H x W pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..distributed import global_shape, local_part
from ..schedules import FlowSchedule


def flow_matching_loss(
    model: nn.Module,
    x0: torch.Tensor,
    schedule: FlowSchedule,
    *,
    rng: torch.Generator | None = None,
    t: torch.Tensor | None = None,
    eps: torch.Tensor | None = None,
    **model_kwargs,
) -> torch.Tensor:
    """:math:`L_{CFM}` averaged over the batch. ``x0`` (B, C, H, W); ``t`` (B,) floats in [0, 1] (default: drawn by
    ``schedule.draw_t``) and ``eps`` (like ``x0``) are drawn with ``rng`` on the CPU unless given.
    ``model(x_t, t, **model_kwargs)`` predicts the velocity (B, C, H, W)."""
    b, device = x0.shape[0], x0.device
    if t is None:
        t = local_part(schedule.draw_t(global_shape((b,))[0], rng=rng)).to(device)  # (B,)
    if eps is None:  # under torchrun: this rank's rows of the global batch's draw (sdgan_course.distributed)
        eps = local_part(torch.randn(global_shape(x0.shape), generator=rng)).to(device, x0.dtype)  # (B, C, H, W)
    xt = schedule.add_noise(x0, eps, t)  # (B, C, H, W)
    target = schedule.velocity(x0, eps)  # (B, C, H, W)
    out = model(xt, t, **model_kwargs)
    return F.mse_loss(out.float(), target.float())


__all__ = ["flow_matching_loss"]
