r"""Exact scores and velocities of a Gaussian mixture under noise: the answers a trained denoiser approximates.

Noise a point of the data, :math:`x = a\,x_0 + b\,\epsilon` (diffusion: :math:`a = \sqrt{\bar\alpha_t}`,
:math:`b = \sqrt{1-\bar\alpha_t}`; the flow's straight path: :math:`a = 1-t`, :math:`b = t`). When the data are a
Gaussian mixture :math:`\sum_k \pi_k \mathcal{N}(\mu_k, s_k^2 I)` (:class:`~sdgan_course.data.toy.GaussianMixture`),
the noisy marginal is a mixture too, :math:`\mathcal{N}(a\mu_k, (a^2 s_k^2 + b^2) I)`, and everything a network is
trained to predict has a closed form:

- the **score** :math:`\nabla_x \log p(x)`;
- the posterior means :math:`\mathbb{E}[x_0 \mid x]` and :math:`\mathbb{E}[\epsilon \mid x]` (what the x_0- and
  ε-prediction losses are minimised by), tied to the score by Tweedie's formula
  :math:`\mathbb{E}[\epsilon \mid x] = -b\,\nabla_x\log p(x)` (Efron 2011; Vincent 2011 for denoising score matching;
  Song et al. 2021, arXiv:2011.13456, for its use in diffusion);
- the flow's **marginal velocity** :math:`u_t(x) = \mathbb{E}[\epsilon - x_0 \mid x_t = x]` (Lipman et al. 2022,
  arXiv:2210.02747, eq. 8), the vector field the flow-matching loss is minimised by.

:func:`straightness` measures how far an ODE's paths are from straight lines (Liu et al. 2022, arXiv:2209.03003,
definition 3.3): zero means one Euler step is exact.

Shape legend: n points, D dimensions, K mixture components, S integration steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from ..data.toy import GaussianMixture


class NoisyPosterior(NamedTuple):
    x0_mean: torch.Tensor  # (n, D) E[x_0 | x]
    eps_mean: torch.Tensor  # (n, D) E[eps | x]
    score: torch.Tensor  # (n, D) grad_x log p(x)


def mixture_posterior(mixture: GaussianMixture, x: torch.Tensor, a, b) -> NoisyPosterior:
    """The exact posterior means and score at points ``x`` (n, D) of :math:`a x_0 + b\\epsilon`, with ``a``, ``b``
    floats or (n,) tensors (b > 0); float64."""
    x = torch.as_tensor(x, dtype=torch.float64)
    a = torch.as_tensor(a, dtype=torch.float64).reshape(-1, 1, 1)  # (n or 1, 1, 1)
    b = torch.as_tensor(b, dtype=torch.float64).reshape(-1, 1, 1)
    mu, s2 = mixture.means[None], (mixture.stds**2)[None, :, None]  # (1, K, D), (1, K, 1)
    var = a**2 * s2 + b**2  # (n, K, 1): each component's variance under the noise
    diff = x[:, None, :] - a * mu  # (n, K, D)
    log_w = (torch.log(mixture.weights)[None] - 0.5 * (diff**2).sum(-1) / var[..., 0]
             - 0.5 * mixture.dim * torch.log(var[..., 0]))  # (n, K)
    r = torch.softmax(log_w, dim=1)[..., None]  # (n, K, 1) responsibilities
    x0_k = mu + a * s2 / var * diff  # (n, K, D) E[x_0 | x, k]
    eps_k = b / var * diff  # (n, K, D) E[eps | x, k]
    score_k = -diff / var  # (n, K, D) grad log N(x; a mu_k, var_k)
    return NoisyPosterior((r * x0_k).sum(1), (r * eps_k).sum(1), (r * score_k).sum(1))


def mixture_velocity(mixture: GaussianMixture, x: torch.Tensor, t) -> torch.Tensor:
    """The exact marginal velocity :math:`u_t(x) = \\mathbb{E}[\\epsilon - x_0 \\mid x_t = x]` of the straight path
    :math:`x_t = (1-t)x_0 + t\\epsilon` at points ``x`` (n, D) and times ``t`` (float or (n,)), float64."""
    t = torch.as_tensor(t, dtype=torch.float64)
    post = mixture_posterior(mixture, x, 1 - t, t)
    return post.eps_mean - post.x0_mean


def integrate(velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x1: torch.Tensor, times: torch.Tensor,
              *, heun: bool = False) -> list[torch.Tensor]:
    """Solve :math:`dx/dt = v(x, t)` from ``x1`` at ``times[0]`` through ``times`` (descending, float64) by Euler's
    method (or Heun's); ``velocity(x, t)`` takes t as a float tensor (n,). Returns the points at every time."""
    xs = [torch.as_tensor(x1, dtype=torch.float64)]
    for t, t_next in zip(times[:-1].tolist(), times[1:].tolist(), strict=True):
        x = xs[-1]
        tt = torch.full((len(x),), t, dtype=torch.float64)
        v = velocity(x, tt)
        nxt = x + (t_next - t) * v
        if heun and t_next > 0:
            nxt = x + (t_next - t) * 0.5 * (v + velocity(nxt, torch.full_like(tt, t_next)))
        xs.append(nxt)
    return xs


def straightness(velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x1: torch.Tensor, *,
                 steps: int = 200) -> float:
    r"""Liu et al.'s straightness :math:`S = \int_0^1 \mathbb{E}\lVert (x_1 - x_0) - v(x_t, t) \rVert^2 dt` of the
    ODE's paths from ``x1`` (n, D) at t = 1 to t = 0, by a fine Euler integration (``steps`` steps); per dimension.
    0 for straight paths (constant velocity along each)."""
    times = torch.linspace(1, 0, steps + 1, dtype=torch.float64)
    xs = integrate(velocity, x1, times)
    chord = xs[0] - xs[-1]  # (n, D) x_1 - x_0
    gaps = [((chord - velocity(x, torch.full((len(x),), t, dtype=torch.float64))) ** 2).mean()
            for x, t in zip(xs[:-1], times[:-1].tolist(), strict=True)]
    return float(torch.stack(gaps).mean())


__all__ = ["NoisyPosterior", "integrate", "mixture_posterior", "mixture_velocity", "straightness"]
