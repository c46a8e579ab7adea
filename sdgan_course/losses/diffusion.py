r"""The diffusion training objective.

Ho et al. 2020 (arXiv:2006.11239) derive a weighted variational bound and find that dropping its weights works
better: the *simplified* objective (their eq. 14)

.. math:: L_\text{simple} = \mathbb{E}_{t, x_0, \epsilon}\big[\lVert \epsilon -
          \epsilon_\theta(\sqrt{\bar\alpha_t}x_0 + \sqrt{1-\bar\alpha_t}\epsilon,\ t) \rVert^2\big],

with :math:`t` uniform over the steps. The v-parameterisation regresses :math:`v = \sqrt{\bar\alpha_t}\epsilon -
\sqrt{1-\bar\alpha_t}x_0` instead (Salimans and Ho 2022, arXiv:2202.00512), which stays well defined when
:math:`\bar\alpha_t \to 0` (zero terminal SNR, Lin et al. 2023).

Shape legend: B batch, C channels, H x W pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..distributed import global_shape, local_part
from ..schedules import NoiseSchedule


def diffusion_loss(
    model: nn.Module,
    x0: torch.Tensor,
    schedule: NoiseSchedule,
    *,
    labels: torch.Tensor | None = None,
    prediction: str = "eps",
    rng: torch.Generator | None = None,
    t: torch.Tensor | None = None,
    eps: torch.Tensor | None = None,
    **model_kwargs,
) -> torch.Tensor:
    """:math:`L_\\text{simple}` (``prediction="eps"``) or the v-prediction MSE, averaged over the batch.

    ``x0`` (B, C, H, W); ``t`` (B,) and ``eps`` (like ``x0``) are drawn with ``rng`` unless given.
    ``model(x_t, t, labels, **model_kwargs)`` is the network (a U-Net).
    """
    b, device = x0.shape[0], x0.device
    if t is None:
        t = local_part(torch.randint(0, schedule.num_steps, global_shape((b,)), generator=rng)).to(device)  # (B,)
    if eps is None:  # under torchrun: this rank's rows of the global batch's draw (sdgan_course.distributed)
        eps = local_part(torch.randn(global_shape(x0.shape), generator=rng)).to(device, x0.dtype)  # (B, C, H, W)
    xt = schedule.add_noise(x0, eps, t)  # (B, C, H, W)
    if prediction == "eps":
        target = eps
    elif prediction == "v":
        target = schedule.velocity(x0, eps, t)
    else:
        raise ValueError(f"Unknown prediction type {prediction!r}: use 'eps' or 'v'.")
    out = model(xt, t, labels, **model_kwargs) if labels is not None else model(xt, t, **model_kwargs)
    return F.mse_loss(out.float(), target.float())
