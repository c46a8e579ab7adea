r"""From a network to the noise-prediction function a sampler needs, with classifier-free guidance.

Classifier-free guidance (Ho and Salimans 2022, arXiv:2207.12598) trains one network on labelled and on "null"
inputs, then mixes its conditional and unconditional estimates at sampling time:

.. math:: \tilde\epsilon = \epsilon_\theta(x_t, \varnothing) + s\,\big(\epsilon_\theta(x_t, y) -
          \epsilon_\theta(x_t, \varnothing)\big).

:math:`s = 0` is the unconditional model, :math:`s = 1` the conditional one, :math:`s > 1` pushes the samples towards
what the label (or prompt) makes likely, trading diversity for fidelity. This is diffusers' ``guidance_scale``; the
paper writes :math:`\tilde\epsilon = (1+w)\epsilon(x, y) - w\,\epsilon(x, \varnothing)`: the same, with
:math:`s = 1 + w`.
A *negative* label or prompt replaces :math:`\varnothing` by what the samples should move away from.

Shape legend: B batch, C channels, H x W pixels.
"""

from __future__ import annotations

import torch
from torch import nn

from ..schedules import NoiseSchedule
from .ddpm import EpsFn, EpsWithX0, estimate


def model_eps_fn(
    model: nn.Module,
    *,
    labels: torch.Tensor | None = None,
    schedule: NoiseSchedule | None = None,
    prediction: str = "eps",
    **model_kwargs,
) -> EpsFn:
    """``eps_fn(x_t, t)`` of a network without guidance; a v-predicting network is converted with ``schedule``, into
    an :class:`~.ddpm.EpsWithX0` that also gives the samplers its x_0 estimate taken straight from v. A flow model
    (``prediction="flow"``) is returned as it is: its output is the velocity the flow samplers integrate, and
    guidance mixes velocities with the same formula (SD3 guides its velocities so, Esser et al. 2024)."""
    if prediction not in ("eps", "flow") and schedule is None:
        raise ValueError("A v-prediction model needs its schedule to give noise estimates: pass schedule=.")

    def output(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        y = None if labels is None else labels.to(xt.device)
        out = model(xt, t, y, **model_kwargs) if y is not None else model(xt, t, **model_kwargs)
        return out.float()

    if prediction in ("eps", "flow"):
        return output

    def eps_and_x0(xt: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = output(xt, t)
        return schedule.to_eps(prediction, xt, t, v), schedule.to_x0(prediction, xt, t, v)

    return EpsWithX0(eps_and_x0)


def guided_pair(both_fn: EpsFn, scale: float) -> EpsFn:
    """Guidance from ``both_fn``, whose batch is the conditional half then the unconditional (or negative) half: one
    forward pass on ``[x_t, x_t]``, mixed by :func:`guided_eps`. Where ``both_fn`` also gives x_0 (v-prediction), x_0
    is mixed the same way (it is affine in v with weights summing to 1, so it is the x_0 of the guided v)."""

    def eps_and_x0(xt: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        eps, x0 = estimate(both_fn, torch.cat([xt, xt]), torch.cat([t, t]))  # (2B, C, H, W): one forward pass
        eps = guided_eps(*eps.chunk(2), scale)
        return eps, None if x0 is None else guided_eps(*x0.chunk(2), scale)

    return EpsWithX0(eps_and_x0)


def guided_eps(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, scale: float) -> torch.Tensor:
    r""":math:`\epsilon_u + s(\epsilon_c - \epsilon_u)` (Ho and Salimans 2022, eq. 6 with :math:`s = 1 + w`)."""
    return eps_uncond + scale * (eps_cond - eps_uncond)


def guided_eps_fn(
    model: nn.Module,
    cond: dict[str, torch.Tensor],
    negative: dict[str, torch.Tensor],
    *,
    scale: float,
    schedule: NoiseSchedule | None = None,
    prediction: str = "eps",
) -> EpsFn:
    """``eps_fn(x_t, t)`` with classifier-free guidance, for any conditioning: ``cond`` and ``negative`` are the
    network's conditioning arguments, ``{"labels": (B,)}`` for a class-conditional U-Net or ``{"context": (B, L, E),
    "context_mask": (B, L)}`` for a text-conditional one. Scale 1 is the plain conditional model and scale 0 the
    negative (or null) one, each one forward pass; any other scale runs both halves as one batched forward pass on
    ``[x_t, x_t]`` (conditional half first), mixed by :func:`guided_eps`."""
    if scale == 1.0 or scale == 0.0:
        chosen = cond if scale == 1.0 else negative
        return model_eps_fn(model, schedule=schedule, prediction=prediction, **chosen)
    both = {name: torch.cat([cond[name], negative[name]]) for name in cond}  # (2B, ...): conditional half first
    return guided_pair(model_eps_fn(model, schedule=schedule, prediction=prediction, **both), scale)


def classifier_free_guidance(
    model: nn.Module,
    labels: torch.Tensor,
    *,
    scale: float,
    null_label: int,
    negative_labels: torch.Tensor | None = None,
    schedule: NoiseSchedule | None = None,
    prediction: str = "eps",
) -> EpsFn:
    """``eps_fn(x_t, t)`` with classifier-free guidance for a class-conditional U-Net (:func:`guided_eps_fn` with
    labels).

    ``labels`` (B,) are the requested classes, ``null_label`` the model's "no class" index; ``negative_labels`` (B,)
    replace the null class in the unconditional branch. Both estimates come from one batched forward pass.
    """
    labels = labels.long()
    negative = torch.full_like(labels, null_label) if negative_labels is None else negative_labels.long()
    return guided_eps_fn(model, {"labels": labels}, {"labels": negative}, scale=scale, schedule=schedule,
                         prediction=prediction)


__all__ = ["classifier_free_guidance", "guided_eps", "guided_eps_fn", "guided_pair", "model_eps_fn"]
