r"""GAN losses and regularisers. Every loss takes discriminator **logits** and computes in float32.

Notation: r = D(x) the logits on real images x ~ p_data, f = D(G(z)) the logits on generated images, z ~ p_z; the
probability "real" is sigmoid(logit), and log sigmoid(l) = -softplus(-l), log(1 - sigmoid(l)) = -softplus(l), which
is how the log-likelihood losses are written here without ever computing a sigmoid (no log(0)).

Losses (:data:`GAN_LOSSES`):

- ``"minimax"``: Goodfellow et al. 2014 (arXiv:1406.2661), eq. 1; the generator minimises E[log(1 - D(G(z)))]
  (saturating: its gradient vanishes when D confidently rejects the fakes, which is the start of training).
- ``"ns"``: the same discriminator; the generator minimises -E[log D(G(z))] (non-saturating, Goodfellow et al.
  2014, section 3), the form used in practice.
- ``"lsgan"``: least squares, Mao et al. 2017 (arXiv:1611.04076), eq. 2 with a = 0, b = c = 1.
- ``"hinge"``: Lim and Ye 2017 (arXiv:1705.02894); Miyato et al. 2018 (arXiv:1802.05957), eq. 16-17.
- ``"wgan"``: Wasserstein critic, Arjovsky et al. 2017 (arXiv:1701.07875), eq. 3; needs a Lipschitz critic, e.g.
  :func:`clip_weights_` after each critic step.
- ``"wgan-gp"``: the same losses; the training step adds lambda * :func:`gradient_penalty` (Gulrajani et al. 2017,
  arXiv:1704.00028, eq. 3).

Regularisers: :func:`gradient_penalty` (WGAN-GP), :func:`r1_penalty` (Mescheder et al. 2018, arXiv:1801.04406),
:func:`clip_weights_` (WGAN).

Shape legend: B batch, C channels, H x W pixels; logits are (B,) or a patch map (B, 1, h, w): every loss averages over
all of their entries.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..distributed import global_shape, local_part

GAN_LOSSES = ("minimax", "ns", "lsgan", "hinge", "wgan", "wgan-gp")


def _check_kind(kind: str) -> str:
    if kind not in GAN_LOSSES:
        raise ValueError(f"Unknown GAN loss {kind!r}. Valid losses: {', '.join(map(repr, GAN_LOSSES))}.")
    return kind


def discriminator_loss(kind: str, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    r"""The discriminator's (or critic's) loss, to be **minimised**, from logits r = D(x) and f = D(G(z)).

    - minimax, ns (Goodfellow et al. 2014, arXiv:1406.2661, eq. 1, negated, as a binary cross-entropy):
      L_D = -E[log D(x)] - E[log(1 - D(G(z)))] = E[softplus(-r)] + E[softplus(f)]
    - lsgan (Mao et al. 2017, arXiv:1611.04076, eq. 2, a = 0, b = 1): L_D = 1/2 E[(r - 1)^2] + 1/2 E[f^2]
    - hinge (Lim and Ye 2017, arXiv:1705.02894): L_D = E[relu(1 - r)] + E[relu(1 + f)]
    - wgan, wgan-gp (Arjovsky et al. 2017, arXiv:1701.07875, eq. 3, negated): L_D = E[f] - E[r]
      (the gradient penalty of wgan-gp is added by the training step, see :func:`gradient_penalty`).
    """
    kind = _check_kind(kind)
    r, f = real_logits.float(), fake_logits.float()
    if kind in ("minimax", "ns"):
        return F.softplus(-r).mean() + F.softplus(f).mean()
    if kind == "lsgan":
        return 0.5 * (r - 1.0).pow(2).mean() + 0.5 * f.pow(2).mean()
    if kind == "hinge":
        return F.relu(1.0 - r).mean() + F.relu(1.0 + f).mean()
    return f.mean() - r.mean()  # wgan, wgan-gp


def generator_loss(kind: str, fake_logits: torch.Tensor) -> torch.Tensor:
    r"""The generator's loss, to be **minimised**, from the logits f = D(G(z)), z ~ p_z.

    - minimax (saturating, Goodfellow et al. 2014, eq. 1): L_G = E[log(1 - D(G(z)))] = -E[softplus(f)];
      dL_G/df = -sigmoid(f) -> 0 when D rejects the fake (f -> -inf): the gradient vanishes.
    - ns (non-saturating, Goodfellow et al. 2014, section 3): L_G = -E[log D(G(z))] = E[softplus(-f)];
      dL_G/df = sigmoid(f) - 1 -> -1 when f -> -inf: a strong gradient exactly when G is bad.
    - lsgan (Mao et al. 2017, eq. 2, c = 1): L_G = 1/2 E[(f - 1)^2]
    - hinge, wgan, wgan-gp: L_G = -E[f]
    """
    kind = _check_kind(kind)
    f = fake_logits.float()
    if kind == "minimax":
        return -F.softplus(f).mean()
    if kind == "ns":
        return F.softplus(-f).mean()
    if kind == "lsgan":
        return 0.5 * (f - 1.0).pow(2).mean()
    return -f.mean()  # hinge, wgan, wgan-gp


class Interpolation(NamedTuple):
    """Points x_hat on the segments between real and fake images, and the alphas that placed them."""

    x_hat: torch.Tensor  # (B, C, H, W)
    alpha: torch.Tensor  # (B,)


def interpolate(
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    rng: torch.Generator | None = None,
    alpha: torch.Tensor | None = None,
) -> Interpolation:
    r"""x_hat = alpha x + (1 - alpha) x_tilde with one alpha ~ U[0, 1] per sample (Gulrajani et al. 2017,
    arXiv:1704.00028, Algorithm 1, line 6). ``fake`` is detached; alphas are drawn on the CPU with ``rng`` and
    moved to the images' device, unless given as ``alpha`` (shape (B,)).
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}.")
    b = real.shape[0]
    if alpha is None:
        alpha = local_part(torch.rand(global_shape((b,)), generator=rng))  # (B,): this rank's part of the global draw
    if alpha.shape != (b,):
        raise ValueError(f"alpha must have shape ({b},), one per sample, got {tuple(alpha.shape)}.")
    alpha = alpha.to(device=real.device, dtype=real.dtype)
    a = alpha.view(b, *([1] * (real.ndim - 1)))  # (B, 1, 1, 1)
    x_hat = a * real.detach() + (1.0 - a) * fake.detach()  # (B, C, H, W)
    return Interpolation(x_hat, alpha)


def _input_gradient(discriminator: nn.Module, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    out = discriminator(x) if labels is None else discriminator(x, labels)
    # Each output depends only on its own sample (no batch norm!), so the gradient of the sum is per-sample.
    (grad,) = torch.autograd.grad(out.float().sum(), x, create_graph=True)
    return grad.float().flatten(1)  # (B, C*H*W)


def gradient_penalty(
    discriminator: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    labels: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
    alpha: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""WGAN-GP gradient penalty (Gulrajani et al. 2017, arXiv:1704.00028, eq. 3, without the lambda):

        GP = E_{x_hat}[(||grad_{x_hat} D(x_hat)||_2 - 1)^2],    x_hat = alpha x + (1 - alpha) G(z),  alpha ~ U[0, 1]

    The norm is sqrt(sum g^2 + 1e-12). ||g|| is Lipschitz but not differentiable at g = 0; ``torch.linalg.vector_norm``
    gives it the subgradient 0 there, while a hand-written sqrt(sum g^2) multiplies an infinite derivative of sqrt by
    a zero one and returns NaN; the 1e-12 gives a finite, zero gradient at g = 0 as well. The graph is kept
    (``create_graph=True``) so the penalty can be back-propagated into the critic. The critic must treat samples
    independently (``norm="none"``, not batch norm). The trainer adds lambda * GP (lambda = 10 in the paper).
    """
    x_hat, _ = interpolate(real, fake, rng=rng, alpha=alpha)
    g = _input_gradient(discriminator, x_hat, labels)  # (B, C*H*W)
    norm = torch.sqrt(g.pow(2).sum(dim=1) + 1e-12)  # (B,)
    return (norm - 1.0).pow(2).mean()


def r1_penalty(discriminator: nn.Module, real: torch.Tensor, *, labels: torch.Tensor | None = None) -> torch.Tensor:
    r"""R1 penalty (Mescheder et al. 2018, arXiv:1801.04406, eq. 9, without gamma / 2):

        R1 = E_{x ~ p_data}[||grad_x D(x)||^2]

    on real images only. The trainer adds gamma / 2 * R1 to the discriminator loss.
    """
    g = _input_gradient(discriminator, real, labels)  # (B, C*H*W)
    return g.pow(2).sum(dim=1).mean()


@torch.no_grad()
def clip_weights_(module: nn.Module, clip: float = 0.01) -> nn.Module:
    r"""WGAN weight clipping (Arjovsky et al. 2017, arXiv:1701.07875, Algorithm 1, line 7), in place:
    every parameter is clamped to [-clip, clip] to keep the critic (crudely) Lipschitz. Returns ``module``."""
    if clip <= 0:
        raise ValueError(f"clip must be positive, got {clip}.")
    for p in module.parameters():
        p.clamp_(-clip, clip)
    return module
