r"""Looking inside networks: parameter counts, convolution output sizes, layer-by-layer shapes, receptive fields.

Generic tools that work on any ``nn.Module`` (the GAN pairs of notebook 03, the classifier, later the U-Net).

Shape legend: B batch, C channels, H x W pixels.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import torch
from torch import nn


def count_parameters(module: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters of ``module``; with ``trainable_only`` only those with ``requires_grad`` (an EMA copy or
    a frozen text encoder has none of those, but its size is still its parameter count)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def conv_output_size(size: int, *, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    r"""Output size of a convolution (Dumoulin and Visin 2016, arXiv:1603.07285, relationship 6):

        o = floor((i + 2p - d (k - 1) - 1) / s) + 1

    e.g. k = 4, s = 2, p = 1 halves an even size: 28 -> 14 -> 7.
    """
    out = (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
    if out <= 0:
        raise ValueError(f"A convolution with kernel {kernel}, stride {stride}, padding {padding} on size {size} "
                         "leaves nothing: use a smaller kernel or more padding.")
    return out


def conv_transpose_output_size(
    size: int, *, kernel: int, stride: int = 1, padding: int = 0, output_padding: int = 0, dilation: int = 1
) -> int:
    r"""Output size of a transposed convolution (Dumoulin and Visin 2016, arXiv:1603.07285, relationship 14; the
    formula in the ``torch.nn.ConvTranspose2d`` documentation):

        o = (i - 1) s - 2p + d (k - 1) + output_padding + 1

    e.g. k = 4, s = 2, p = 1 doubles a size: 7 -> 14 -> 28.
    """
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


class LayerShape(NamedTuple):
    """One row of a shape walk: a leaf module, the shape it outputs and its own trainable parameters."""

    name: str
    kind: str
    shape: tuple[int, ...]
    params: int


def layer_shapes(module: nn.Module, *inputs, **kwargs) -> tuple[LayerShape, ...]:
    """Run ``module(*inputs, **kwargs)`` once with forward hooks on every leaf module and return, in call order, the
    output shape of each (the shape walk of notebook 03). Runs under ``torch.no_grad()`` and in eval mode (so batch
    norm statistics are not updated), then restores the module's mode.
    """
    rows: list[LayerShape] = []
    handles = []

    def hook(name):
        def record(m, args, out):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else ()
            rows.append(LayerShape(name, type(m).__name__, shape, count_parameters(m)))

        return record

    for name, m in module.named_modules():
        # a leaf: no children, apart from the parametrizations (spectral norm) of its weight
        children = [n for n, _ in m.named_children() if n != "parametrizations"]
        if name and not children and ".parametrizations." not in f".{name}.":
            handles.append(m.register_forward_hook(hook(name)))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            module(*inputs, **kwargs)
    finally:
        module.train(was_training)
        for h in handles:
            h.remove()
    return tuple(rows)


class RFLayer(NamedTuple):
    """One row of a receptive-field walk: a layer and the receptive field after it (in input pixels)."""

    name: str
    kernel: int  # effective kernel, dilation included
    stride: int
    padding: int
    jump: int  # distance in input pixels between two neighbouring outputs
    size: int  # receptive field of one output, in input pixels
    start: float  # input coordinate of the centre of the first output (pixel centres at 0, 1, 2, ...)


class ReceptiveField(NamedTuple):
    """The receptive field of the last layer, and the walk layer by layer."""

    size: int
    jump: int
    layers: tuple[RFLayer, ...]


def receptive_field(module_or_layers: nn.Module | Iterable[nn.Module]) -> ReceptiveField:
    r"""Receptive field of a stack of convolutions and poolings, layer by layer.

    The standard recurrence (e.g. Dumoulin and Visin 2016, arXiv:1603.07285; Araujo et al. 2019, Distill), starting
    from r_0 = 1, j_0 = 1, start_0 = 0 for one input pixel:

        r_out = r_in + (k - 1) j_in,    j_out = j_in s,    start_out = start_in + ((k - 1) / 2 - p) j_in

    with k the (dilated) kernel size, s the stride and p the padding. Layers that do not move pixels (activations,
    normalisation) are skipped; the walk visits ``Conv2d``, ``MaxPool2d`` and ``AvgPool2d`` in registration order.
    A ``Linear`` layer after a flatten sees the whole image, so it is not part of the walk.
    """
    modules = (
        list(module_or_layers.named_modules())
        if isinstance(module_or_layers, nn.Module)
        else [(f"{i}", m) for i, m in enumerate(module_or_layers)]
    )
    size, jump, start = 1, 1, 0.0
    rows: list[RFLayer] = []
    for name, m in modules:
        if isinstance(m, nn.Conv2d):
            k, s, p, d = m.kernel_size[0], m.stride[0], m.padding, m.dilation[0]
            if isinstance(p, str):
                raise ValueError(f"receptive_field needs numeric padding, layer {name!r} has padding={p!r}.")
            p = p[0]
            k = d * (k - 1) + 1
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            s = m.stride if isinstance(m.stride, int) else m.stride[0]
            p = m.padding if isinstance(m.padding, int) else m.padding[0]
            d = getattr(m, "dilation", 1)
            d = d if isinstance(d, int) else d[0]
            k = d * (k - 1) + 1
        else:
            continue
        start = start + ((k - 1) / 2 - p) * jump
        size = size + (k - 1) * jump
        jump = jump * s
        rows.append(RFLayer(name or type(m).__name__, k, s, p, jump, size, start))
    if not rows:
        raise ValueError("receptive_field found no Conv2d or pooling layer in what it was given.")
    return ReceptiveField(size, jump, tuple(rows))
