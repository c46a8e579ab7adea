r"""How steep is a layer? The operator norm of a convolution, against what spectral normalisation divides by.

A linear layer :math:`x \mapsto Ax` is :math:`\lVert A\rVert_2`-Lipschitz, where :math:`\lVert A\rVert_2` is its
largest singular value (its *operator norm*). Spectral normalisation (Miyato et al. 2018, arXiv:1802.05957) divides a
weight by an estimate of the largest singular value of the **reshaped kernel** :math:`W \in
\mathbb{R}^{c_{out} \times c_{in} k_h k_w}` (one power-iteration step per training step). For a dense layer that is
the operator norm; for a convolution it is not: the convolution applies the kernel at every position, and its operator
norm can be larger (Miyato et al. say so in their appendix; Sedghi, Gupta and Long 2019, arXiv:1805.10408, compute it
exactly). :func:`conv_operator_norm` measures the real thing by power iteration on :math:`A^\top A`, where
:math:`A^\top` comes from autograd (the transposed convolution), for a given input size, stride and padding.

Shape legend: B batch, C channels, H x W pixels.
"""

from __future__ import annotations

import torch
from torch import nn


def reshaped_kernel_norm(weight: torch.Tensor) -> float:
    """Largest singular value of a conv weight (c_out, c_in, k_h, k_w) reshaped to (c_out, c_in k_h k_w): what
    spectral normalisation estimates (exactly, here, not with one power-iteration step)."""
    return float(torch.linalg.matrix_norm(weight.detach().cpu().double().flatten(1), ord=2))


def conv_operator_norm(conv: nn.Conv2d, input_shape: tuple[int, int, int], *, iterations: int = 200,
                       seed: int = 0) -> float:
    r"""Largest singular value of :math:`x \mapsto \mathrm{conv}(x)` (bias excluded) on inputs (C, H, W), with the
    module's own stride, padding and padding mode, and its current weight (after spectral normalisation if the module
    has it). Power iteration on :math:`A^\top A` in float64; ``iterations`` steps from a seeded start."""
    weight = conv.weight.detach().cpu().double()  # float64 on the CPU: Apple MPS has no float64

    def apply(x: torch.Tensor) -> torch.Tensor:
        return conv._conv_forward(x, weight, None)  # padding_mode, stride and dilation as the module's

    rng = torch.Generator().manual_seed(seed)
    v = torch.randn(1, *input_shape, generator=rng, dtype=torch.float64)
    v /= v.norm()
    sigma = 0.0
    for _ in range(iterations):
        x = v.clone().requires_grad_(True)
        y = apply(x)  # A v
        sigma = float(y.detach().norm())
        (grad,) = torch.autograd.grad(y, x, grad_outputs=y)  # A^T A v
        v = grad / grad.norm()
    return sigma


__all__ = ["conv_operator_norm", "reshaped_kernel_norm"]
