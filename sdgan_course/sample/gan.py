r"""Sampling from a GAN: generate, generate many and keep the best (done properly), and walk the latent space.

* :func:`generate` — draw images from a generator in batches, reproducibly (``rng=``).

* :func:`best_of_n` — draw N candidates per output and keep the one the discriminator likes most. Simple, but it
  favours what the discriminator finds easiest to believe, so it trades diversity for quality.
* :func:`discriminator_rejection_sampling` — DRS (Azadi et al. 2019, arXiv:1810.06758): accept each candidate with a
  probability built from the discriminator's logit. With an optimal discriminator this is exact rejection sampling
  from the data distribution, so it can *correct* the generator instead of only sharpening it.
* :func:`lerp`, :func:`slerp`, :func:`interpolate` — linear and spherical interpolation between latent codes.

Both samplers only need two callables, so they work on toys with a known density ratio as well as on real GANs:

* ``generator_fn(n, rng) -> x`` or a tuple ``(x, extra, ...)`` of batch-first tensors (e.g. ``(x, labels)`` for a
  class-conditional GAN, or ``(x, z)`` to keep the latent codes);
* ``discriminator_fn(*outputs) -> logits`` of shape (B,) — the logit :math:`\tilde D(x)`, not a probability.

Shape legend: B batch, N candidates per kept sample, T interpolation steps, Z latent dimension, C channels,
H x W pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from ..models.gan import sample_noise

GeneratorFn = Callable[[int, torch.Generator | None], object]
DiscriminatorFn = Callable[..., torch.Tensor]


def _as_tuple(out) -> tuple[torch.Tensor, ...]:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _unwrap(parts: tuple[torch.Tensor, ...]):
    return parts[0] if len(parts) == 1 else parts


@torch.no_grad()
def _propose(generator_fn, discriminator_fn, n: int, rng) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
    parts = _as_tuple(generator_fn(n, rng))
    if any(len(p) != n for p in parts):
        raise ValueError(
            f"generator_fn({n}, rng) must return batch-first tensors of length {n}; got lengths "
            f"{[len(p) for p in parts]}."
        )
    logits = torch.as_tensor(discriminator_fn(*parts)).float()
    if logits.shape != (n,):
        if logits.shape == (n, 1):
            logits = logits[:, 0]
        else:
            raise ValueError(f"discriminator_fn must return logits of shape ({n},); got {tuple(logits.shape)}.")
    return parts, logits.cpu()


# ---------------------------------------------------------------- generating


@torch.no_grad()
def generate(
    generator: nn.Module,
    n: int,
    *,
    z_dim: int,
    labels: torch.Tensor | int | None = None,
    rng: torch.Generator | None = None,
    batch_size: int = 500,
) -> torch.Tensor:
    """Draw ``n`` images (n, C, H, W) in [-1, 1] from a generator; ``labels`` an int or (n,) for conditional models."""
    device = next(generator.parameters()).device
    if isinstance(labels, int):
        labels = torch.full((n,), labels, dtype=torch.long)
    out = []
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        z = sample_noise(m, z_dim, device=device, rng=rng)  # (m, Z)
        y = None if labels is None else labels[start : start + m].to(device)
        out.append((generator(z) if y is None else generator(z, y)).float().cpu())  # (m, C, H, W)
    return torch.cat(out)  # (n, C, H, W)


# ---------------------------------------------------------------- best-of-N


class Selection(NamedTuple):
    """Samples kept by a selection method and what it cost."""

    samples: object  # x, or the tuple (x, extra, ...) that generator_fn returns, restricted to the kept rows
    logits: torch.Tensor  # (num_samples,) discriminator logits of the kept samples
    all_logits: torch.Tensor  # (num_proposed,) logits of every candidate (to compare distributions)
    num_proposed: int  # candidates drawn (burn-in excluded)
    acceptance_rate: float  # num_samples / num_proposed


def best_of_n(
    generator_fn: GeneratorFn,
    discriminator_fn: DiscriminatorFn,
    num_samples: int,
    *,
    n: int = 8,
    batch_size: int = 256,
    rng: torch.Generator | None = None,
) -> Selection:
    """For each of ``num_samples`` outputs draw ``n`` candidates and keep the one with the highest logit.

    The kept samples are the per-group maxima, so the acceptance rate is exactly 1/n. Larger n means samples the
    discriminator is more sure about — and less diversity (the discriminator's favourite modes win).
    """
    if num_samples <= 0 or n <= 0:
        raise ValueError(f"num_samples and n must be positive; got {num_samples} and {n}.")
    groups_per_batch = max(1, batch_size // n)
    kept, kept_logits, all_logits = [], [], []
    done = 0
    while done < num_samples:
        g = min(groups_per_batch, num_samples - done)
        parts, logits = _propose(generator_fn, discriminator_fn, g * n, rng)
        best = logits.view(g, n).argmax(1) + torch.arange(g) * n  # (g,) row of each group's winner
        kept.append(tuple(p[best.to(p.device)] for p in parts))
        kept_logits.append(logits[best])
        all_logits.append(logits)
        done += g
    samples = tuple(torch.cat(cols) for cols in zip(*kept, strict=True))
    return Selection(_unwrap(samples), torch.cat(kept_logits), torch.cat(all_logits), num_samples * n, 1.0 / n)


# ---------------------------------------------------------------- discriminator rejection sampling


def drs_acceptance_probability(logits, logit_max: float, *, eps: float = 1e-6, gamma: float = 0.0) -> torch.Tensor:
    r"""DRS acceptance probability (Azadi et al. 2019, arXiv:1810.06758, Sec. 3.2, the :math:`\hat F` of Algorithm 1):

    .. math:: \hat F(x) = \tilde D(x) - \tilde D_M - \log\big(1 - e^{\tilde D(x) - \tilde D_M - \epsilon}\big) - \gamma,
              \qquad p_{\mathrm{accept}}(x) = \sigma(\hat F(x))

    with :math:`\tilde D` the discriminator logit and :math:`\tilde D_M` its maximum. For an optimal discriminator
    :math:`e^{\tilde D(x)} = p_{data}(x)/p_g(x)`; with :math:`\gamma = 0, \epsilon \to 0` the probability becomes
    :math:`e^{\tilde D(x) - \tilde D_M} = p_{data}(x) / (M\,p_g(x))` — exact rejection sampling. :math:`\gamma` shifts
    the acceptance rate (positive: stricter); :math:`\epsilon` keeps the log finite at the maximum.
    """
    d = torch.as_tensor(logits, dtype=torch.float64)
    if (d > logit_max + 1e-9).any():
        raise ValueError("Some logits exceed logit_max; update the maximum before computing acceptance probabilities.")
    a = d - logit_max - eps  # (B,) <= -eps < 0
    f = (d - logit_max) - torch.log(-torch.expm1(a)) - gamma  # (B,)   log(1 - e^a) = log(-expm1(a))
    return torch.sigmoid(f).float()


class DRSResult(NamedTuple):
    samples: object  # x or (x, extra, ...), num_samples rows
    logits: torch.Tensor  # (num_samples,) logits of the accepted samples
    all_logits: torch.Tensor  # (num_proposed,) logits of every candidate after burn-in
    num_proposed: int  # candidates drawn after the burn-in (the burn-in only estimates the maximum logit)
    acceptance_rate: float
    logit_max: float  # the final estimate of max D̃ (updated whenever a larger logit is seen)
    gamma: float


def discriminator_rejection_sampling(
    generator_fn: GeneratorFn,
    discriminator_fn: DiscriminatorFn,
    num_samples: int,
    *,
    batch_size: int = 256,
    burn_in: int = 2048,
    eps: float = 1e-6,
    gamma: float = 0.0,
    gamma_quantile: float | None = None,
    max_proposals: int | None = None,
    rng: torch.Generator | None = None,
) -> DRSResult:
    r"""Discriminator rejection sampling (Azadi et al. 2019, arXiv:1810.06758, Algorithm 1).

    1. Burn-in: score ``burn_in`` candidates to estimate :math:`\tilde D_M = \max \tilde D(x)`.
    2. ``gamma_quantile`` (optional, e.g. 0.8; the paper also picks gamma from a percentile of :math:`\hat F`): set
       gamma so that the burn-in candidate at that quantile of :math:`\hat F` has acceptance 1/2 (so roughly a
       fraction ``1 - gamma_quantile`` of candidates is accepted with probability above 1/2); otherwise the fixed
       ``gamma``.
    3. Propose batches; raise :math:`\tilde D_M` if a larger logit appears; accept each candidate with probability
       :func:`drs_acceptance_probability` using a uniform draw from ``rng``.

    Stops with an error that suggests a lower gamma when ``max_proposals`` (default 200 x num_samples) are used up.
    """
    if num_samples <= 0:
        raise ValueError(f"num_samples must be positive; got {num_samples}.")
    max_proposals = max_proposals or 200 * num_samples
    _, burn = _propose(generator_fn, discriminator_fn, burn_in, rng)
    logit_max = float(burn.max())
    if gamma_quantile is not None:
        f0 = torch.logit(drs_acceptance_probability(burn, logit_max, eps=eps).double().clamp(1e-12, 1 - 1e-12))
        gamma = float(torch.quantile(f0, gamma_quantile))
    kept, kept_logits, all_logits = [], [], []
    accepted = proposed = accept_events = 0
    while accepted < num_samples:
        if proposed >= max_proposals:
            raise RuntimeError(
                f"DRS accepted only {accepted} of {proposed} candidates (wanted {num_samples}). Lower gamma "
                f"(now {gamma:.3g}) or gamma_quantile to accept more, or raise max_proposals."
            )
        parts, logits = _propose(generator_fn, discriminator_fn, batch_size, rng)
        logit_max = max(logit_max, float(logits.max()))
        p = drs_acceptance_probability(logits, logit_max, eps=eps, gamma=gamma)  # (B,)
        accept = torch.rand(batch_size, generator=rng) < p  # (B,)
        idx = accept.nonzero()[:, 0][: num_samples - accepted]  # (A,)
        kept.append(tuple(t[idx.to(t.device)] for t in parts))
        kept_logits.append(logits[idx])
        all_logits.append(logits)
        accepted += len(idx)
        accept_events += int(accept.sum())  # counts the last batch's surplus too, so the rate is unbiased
        proposed += batch_size
    samples = tuple(torch.cat(cols) for cols in zip(*kept, strict=True))
    rate = accept_events / proposed
    return DRSResult(_unwrap(samples), torch.cat(kept_logits), torch.cat(all_logits), proposed, rate, logit_max, gamma)


# ---------------------------------------------------------------- latent interpolation


def lerp(z0: torch.Tensor, z1: torch.Tensor, t) -> torch.Tensor:
    r"""Linear interpolation :math:`(1 - t) z_0 + t z_1`. ``t`` scalar or (T,); returns z0's shape or (T, *z0.shape).

    For Gaussian latents in high dimension the midpoint is atypically short (norm about :math:`\sqrt{Z/2}` instead of
    :math:`\sqrt{Z}`), which is why :func:`slerp` is usually preferred (White 2016, arXiv:1609.04468).
    """
    z0, z1, t = _prepare(z0, z1, t)
    return (1 - t) * z0 + t * z1


def slerp(z0: torch.Tensor, z1: torch.Tensor, t, *, dot_threshold: float = 0.9995) -> torch.Tensor:
    r"""Spherical linear interpolation (Shoemake 1985; for GAN latents White 2016, arXiv:1609.04468, Sec. 2.1):

    .. math:: \mathrm{slerp}(z_0, z_1; t) = \frac{\sin((1-t)\Omega)}{\sin\Omega} z_0 + \frac{\sin(t\Omega)}{\sin\Omega}
              z_1, \qquad \cos\Omega = \frac{z_0 \cdot z_1}{\lVert z_0\rVert \lVert z_1\rVert}

    It follows the great circle, so the norm stays typical. Nearly parallel vectors (cosine above ``dot_threshold``)
    fall back to :func:`lerp`. ``t`` scalar or (T,); z0, z1 (Z,) or (B, Z).
    """
    z0, z1, t = _prepare(z0, z1, t)
    cos = (z0 * z1).sum(-1, keepdim=True) / (z0.norm(dim=-1, keepdim=True) * z1.norm(dim=-1, keepdim=True)).clamp_min(
        1e-12
    )  # (..., 1)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    sin = torch.sin(omega)
    near = cos.abs() > dot_threshold
    safe_sin = torch.where(near, torch.ones_like(sin), sin)
    spherical = torch.sin((1 - t) * omega) / safe_sin * z0 + torch.sin(t * omega) / safe_sin * z1
    linear = (1 - t) * z0 + t * z1
    return torch.where(near, linear, spherical)


def _prepare(z0, z1, t):
    z0, z1 = torch.as_tensor(z0), torch.as_tensor(z1)
    if z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 must have the same shape; got {tuple(z0.shape)} and {tuple(z1.shape)}.")
    t = torch.as_tensor(t, dtype=z0.dtype, device=z0.device)
    if t.ndim == 1:
        t = t.view(-1, *([1] * z0.ndim))  # (T, 1, ...) broadcasts to (T, *z0.shape)
    elif t.ndim != 0:
        raise ValueError(f"t must be a number or a 1-D tensor of steps; got shape {tuple(t.shape)}.")
    return z0, z1, t


def interpolate(z0: torch.Tensor, z1: torch.Tensor, num_steps: int, *, method: str = "slerp") -> torch.Tensor:
    """``num_steps`` evenly spaced points from z0 to z1 (both included): (T, *z0.shape)."""
    if num_steps < 2:
        raise ValueError(f"num_steps must be at least 2 (the two end points); got {num_steps}.")
    t = torch.linspace(0, 1, num_steps)
    if method == "slerp":
        return slerp(z0, z1, t)
    if method == "lerp":
        return lerp(z0, z1, t)
    raise ValueError(f"method must be 'slerp' or 'lerp'; got {method!r}.")


def expected_acceptance_rate(logit_max: float) -> float:
    r"""Acceptance rate of exact rejection sampling when the true density ratio is :math:`e^{\tilde D}` and its maximum
    is :math:`e^{\tilde D_M}`: :math:`1/M = e^{-\tilde D_M}` (the integral of :math:`p_{data}/M` is 1/M)."""
    return math.exp(-logit_max)
