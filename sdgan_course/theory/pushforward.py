r"""What a one-layer generator can draw: the density of :math:`y = \tanh(wz + b)` for :math:`z \sim \mathcal N(0, 1)`.

The change of variables :math:`z = (\operatorname{atanh} y - b)/w`, :math:`dz/dy = 1/(w(1 - y^2))` gives

.. math:: p(y) = \frac{\varphi\big((\operatorname{atanh} y - b)/w\big)}{|w|\,(1 - y^2)}, \qquad -1 < y < 1,

with :math:`\varphi` the standard normal density. A *linear* single-layer generator (:math:`y = wz + b`) can only
draw one Gaussian bump; with tanh the picture changes: at :math:`b = 0` the density has a minimum at 0 as soon as
:math:`w > 1/\sqrt 2` (two modes, piling up towards :math:`\pm 1`), because tanh squeezes the Gaussian's tails into
the ends of the interval. So "a monotone activation only bends the one bump" is false; what a one-layer generator
cannot do is put its modes where the data's are (the ring of notebook 02 needs a 2-D layout and a hidden layer).

Shape legend: N grid points.
"""

from __future__ import annotations

import math

import torch


def tanh_pushforward_density(y: torch.Tensor, w: float, b: float = 0.0) -> torch.Tensor:
    """:math:`p(y)` of :math:`\\tanh(wz + b)`, :math:`z \\sim N(0, 1)`, at points ``y`` in (-1, 1) (float64)."""
    if w == 0:
        raise ValueError("w = 0 makes y the constant tanh(b): it has no density.")
    y = torch.as_tensor(y, dtype=torch.float64)
    if ((y <= -1) | (y >= 1)).any():
        raise ValueError("tanh takes values in (-1, 1): evaluate the density strictly inside.")
    u = (torch.atanh(y) - b) / w
    return torch.exp(-0.5 * u**2) / math.sqrt(2 * math.pi) / (abs(w) * (1 - y**2))


def count_modes(density: torch.Tensor) -> int:
    """Number of strict local maxima of a density tabulated on an increasing grid (N,): the bumps."""
    d = torch.as_tensor(density)
    inner = (d[1:-1] > d[:-2]) & (d[1:-1] > d[2:])
    return int(inner.sum())


__all__ = ["count_modes", "tanh_pushforward_density"]
