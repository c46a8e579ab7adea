r"""Embeddings of the diffusion time step (and of class labels, added to it).

Shape legend: B batch, D embedding width.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_embedding(t: torch.Tensor, dim: int, *, max_period: float = 10_000.0) -> torch.Tensor:
    r"""The transformer's sinusoidal position encoding applied to the time step (Vaswani et al. 2017,
    arXiv:1706.03762, section 3.5; used for t by Ho et al. 2020, appendix B):
    :math:`[\cos(t\,\omega_k), \sin(t\,\omega_k)]_{k<D/2}`, :math:`\omega_k = \text{max\_period}^{-2k/D}`.

    ``t`` (B,) integer or real time steps. Returns (B, D) float32.
    """
    if dim % 2:
        raise ValueError(f"The sinusoidal embedding width must be even, got {dim}.")
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)  # (D/2,)
    angles = t.float()[:, None] * freqs[None]  # (B, D/2)
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)  # (B, D)


class TimeEmbedding(nn.Module):
    """Sinusoidal features of t, then a two-layer MLP with SiLU (Ho et al. 2020's U-Net): (B,) -> (B, D)."""

    def __init__(self, *, base_dim: int, dim: int):
        super().__init__()
        self.base_dim = base_dim
        self.mlp = nn.Sequential(nn.Linear(base_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_embedding(t, self.base_dim))  # (B, D)
