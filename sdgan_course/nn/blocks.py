r"""Building blocks shared by the model families: initialisation, spectral norm, activations, MLP stacks.

(Residual blocks, attention and time embeddings live beside this file, one module each.)

Shape legend: B batch, F features.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm


def maybe_spectral_norm(layer: nn.Module, use: bool) -> nn.Module:
    """``layer`` wrapped in spectral normalisation (Miyato et al. 2018, arXiv:1802.05957) when ``use`` is true."""
    return _spectral_norm(layer) if use else layer


def leaky_relu() -> nn.LeakyReLU:
    """LeakyReLU with slope 0.2, the DCGAN choice for discriminators (Radford et al. 2015, arXiv:1511.06434)."""
    return nn.LeakyReLU(0.2)


def mlp_layers(
    in_dim: int, hidden: Sequence[int], out_dim: int, *, spectral_norm: bool = False
) -> list[nn.Module]:
    """The layers of a fully connected stack: ``Linear`` + ``LeakyReLU(0.2)`` per hidden width, then a last ``Linear``.

    ``spectral_norm`` wraps every linear layer. Returns a list, so a caller can append an output activation before
    building its ``nn.Sequential`` (the layer indices, and so the checkpoint keys, stay those of the plain stack).
    """
    layers: list[nn.Module] = []
    width = in_dim
    for h in hidden:
        layers += [maybe_spectral_norm(nn.Linear(width, h), spectral_norm), leaky_relu()]
        width = h
    layers.append(maybe_spectral_norm(nn.Linear(width, out_dim), spectral_norm))
    return layers


def init_dcgan_weights(module: nn.Module) -> nn.Module:
    r"""DCGAN initialisation (Radford et al. 2015, arXiv:1511.06434, section 4), applied to every sub-module.

    Convolution, transposed-convolution and linear weights ~ N(0, 0.02); batch-norm weights ~ N(1, 0.02); all biases
    zero. Spectrally normalised layers get the initialisation on their unnormalised weight. Embeddings keep their own
    initialisation. Returns ``module`` so it can be chained.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            weight = m.parametrizations.weight.original if parametrize.is_parametrized(m, "weight") else m.weight
            with torch.no_grad():
                weight.normal_(0.0, 0.02)
                if m.bias is not None:
                    m.bias.zero_()
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.affine:
            with torch.no_grad():
                m.weight.normal_(1.0, 0.02)
                m.bias.zero_()
    return module
