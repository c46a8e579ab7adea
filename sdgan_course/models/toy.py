r"""Toy generator/discriminator pairs for 1-D and 2-D data: small MLPs, and the single-layer models.

- :class:`ToyGenerator` / :class:`ToyDiscriminator`: small MLPs (``LeakyReLU(0.2)``), for the ring of Gaussians.
- :class:`SingleLayerGenerator` :math:`G(z) = \mathrm{act}(W_G z + b_G)` and :class:`SingleLayerDiscriminator`
  :math:`D(x) = \sigma(W_D x + b_D)`: the smallest models that make the adversarial game, and what they cannot do.

Discriminators return logits, as in :mod:`sdgan_course.models.gan`.

Shape legend: B batch, Z noise dimension, D data dimension (1 or 2).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..nn.blocks import mlp_layers


class ToyGenerator(nn.Module):
    """A small MLP generator for 1-D/2-D toy data: z (B, Z) -> (B, D), ``LeakyReLU(0.2)``, linear output."""

    def __init__(self, *, z_dim: int = 2, data_dim: int = 2, hidden: Sequence[int] = (128, 128)):
        super().__init__()
        self.z_dim, self.data_dim = z_dim, data_dim
        self.net = nn.Sequential(*mlp_layers(z_dim, hidden, data_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (B, D)


class ToyDiscriminator(nn.Module):
    """A small MLP discriminator for 1-D/2-D toy data: x (B, D) -> logits (B,), ``LeakyReLU(0.2)``."""

    def __init__(self, *, data_dim: int = 2, hidden: Sequence[int] = (128, 128), spectral_norm: bool = False):
        super().__init__()
        self.data_dim = data_dim
        self.net = nn.Sequential(*mlp_layers(data_dim, hidden, 1, spectral_norm=spectral_norm))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 1 and self.data_dim == 1:
            x = x.unsqueeze(1)  # (B, 1)
        return self.net(x).squeeze(1)  # (B,)


ACTIVATIONS = {
    "linear": nn.Identity,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "sigmoid": nn.Sigmoid,
}


class SingleLayerGenerator(nn.Module):
    r"""The single-layer generator :math:`G(z) = \mathrm{act}(W_G z + b_G)`.

    With ``activation="linear"`` and :math:`z \sim \mathcal{N}(0, I)`, :math:`G(z)` is Gaussian,
    :math:`\mathcal{N}(b_G, W_G W_G^\top)`: an affine map of one Gaussian is one Gaussian, so it can never produce two
    modes. A monotone activation does *not* keep it to one bump: ``tanh`` squeezes the Gaussian's tails into the ends
    of (-1, 1), so the density of :math:`\tanh(wz + b)` is bimodal as soon as :math:`|w| > 1/\sqrt 2` (at b = 0;
    :func:`sdgan_course.theory.pushforward.tanh_pushforward_density`). What one layer cannot do is put its modes
    where the data's are: with ``tanh`` they sit at the ends of the interval. ``relu`` piles mass onto 0.
    """

    def __init__(self, *, z_dim: int = 1, data_dim: int = 1, activation: str = "linear"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"Unknown activation {activation!r}. Valid activations: {', '.join(ACTIVATIONS)}.")
        self.z_dim, self.data_dim, self.activation = z_dim, data_dim, activation
        self.linear = nn.Linear(z_dim, data_dim)
        self.act = ACTIVATIONS[activation]()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.act(self.linear(z))  # (B, D)


class SingleLayerDiscriminator(nn.Module):
    r"""The single-layer (logistic) discriminator :math:`D(x) = \sigma(W_D x + b_D)`.

    ``forward`` returns the **logit** :math:`W_D x + b_D` (the course's losses take logits, computed stably);
    :meth:`probability` applies the sigmoid — a probability needs a sigmoid, a ReLU would not give one. Its decision
    boundary :math:`W_D x + b_D = 0` is a point in 1-D and a straight line in 2-D, so it can only separate data
    from fakes along one direction.
    """

    def __init__(self, *, data_dim: int = 1):
        super().__init__()
        self.data_dim = data_dim
        self.linear = nn.Linear(data_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 1 and self.data_dim == 1:
            x = x.unsqueeze(1)  # (B, 1)
        return self.linear(x).squeeze(1)  # (B,)

    def probability(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`D(x) = \\sigma(W_D x + b_D)`, shape (B,)."""
        return torch.sigmoid(self(x))
