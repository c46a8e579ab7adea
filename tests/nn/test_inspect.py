"""Inspection tools (sdgan_course.nn.inspect): receptive fields, convolution size arithmetic, the shape walk."""

import pytest
import torch
from torch import nn

from sdgan_course.models.gan import DCGANDiscriminator, DCGANGenerator
from sdgan_course.nn.inspect import (
    conv_output_size,
    conv_transpose_output_size,
    count_parameters,
    layer_shapes,
    receptive_field,
)

# ---------------------------------------------------------------- receptive field


def test_receptive_field_hand_computed_stack():
    # conv k3 s1: r = 1 + 2 = 3, j = 1; conv k3 s2: r = 3 + 2*1 = 5, j = 2; maxpool k2 s2: r = 5 + 1*2 = 7, j = 4;
    # conv k3 s1 dilation 2 (effective k = 5): r = 7 + 4*4 = 23, j = 4
    layers = [
        nn.Conv2d(1, 1, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(1, 1, 3, stride=2, padding=1),
        nn.MaxPool2d(2),
        nn.Conv2d(1, 1, 3, dilation=2, padding=2),
    ]
    rf = receptive_field(layers)
    assert [row.size for row in rf.layers] == [3, 5, 7, 23]
    assert [row.jump for row in rf.layers] == [1, 2, 4, 4]
    assert (rf.size, rf.jump) == (23, 4)
    assert receptive_field(nn.Sequential(*layers)).size == 23


def test_receptive_field_first_centre():
    # k4 s2 p1: first output's window covers input pixels -1..2, centre 0.5
    rf = receptive_field([nn.Conv2d(1, 1, 4, stride=2, padding=1)])
    assert rf.layers[0].start == 0.5


def test_receptive_field_of_dcgan_patch_discriminator():
    # 28: k4 s2 -> r 4, j 2; k4 s2 -> r 4 + 3*2 = 10, j 4; head k3 s1 -> r 10 + 2*4 = 18
    assert receptive_field(DCGANDiscriminator(image_size=28, patch=True)).size == 18
    # 64: 4, 10, 22, 46, then head k3: 46 + 2*16 = 78
    assert receptive_field(DCGANDiscriminator(image_size=64, patch=True)).size == 78


def test_receptive_field_checks_the_layers_it_sees():
    """The walk agrees with autograd: an output's gradient is non-zero exactly on its receptive field."""
    d = DCGANDiscriminator(base_channels=2, image_size=28, patch=True, norm="none")
    x = torch.randn(1, 1, 28, 28, requires_grad=True)
    d(x)[0, 0, 3, 3].backward()
    rows, cols = torch.nonzero(x.grad[0, 0].abs() > 0, as_tuple=True)
    rf = receptive_field(d)
    assert rows.max() - rows.min() + 1 <= rf.size and cols.max() - cols.min() + 1 <= rf.size
    assert rows.max() - rows.min() + 1 >= rf.size - 2  # only zero padding/LeakyReLU slopes can shave a border


def test_receptive_field_without_convolutions_is_an_error():
    with pytest.raises(ValueError, match="no Conv2d"):
        receptive_field(nn.Sequential(nn.Linear(2, 2)))


# ---------------------------------------------------------------- size arithmetic and shape walk


@pytest.mark.parametrize("size, kernel, stride, padding", [(7, 4, 2, 1), (4, 4, 2, 1), (5, 3, 1, 1), (9, 5, 3, 0)])
def test_output_size_formulas_match_torch(size, kernel, stride, padding):
    x = torch.zeros(1, 1, size, size)
    conv = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding)
    convt = nn.ConvTranspose2d(1, 1, kernel, stride=stride, padding=padding)
    assert conv_output_size(size, kernel=kernel, stride=stride, padding=padding) == conv(x).shape[-1]
    assert conv_transpose_output_size(size, kernel=kernel, stride=stride, padding=padding) == convt(x).shape[-1]


def test_output_size_hand_values():
    assert [conv_transpose_output_size(s, kernel=4, stride=2, padding=1) for s in (4, 7, 14)] == [8, 14, 28]
    assert [conv_output_size(s, kernel=4, stride=2, padding=1) for s in (28, 14, 64)] == [14, 7, 32]
    assert conv_output_size(10, kernel=3, dilation=2) == 6
    with pytest.raises(ValueError, match="leaves nothing"):
        conv_output_size(2, kernel=5)


def test_layer_shapes_walk_of_the_dcgan_generator():
    g = DCGANGenerator(z_dim=16, base_channels=4, image_size=28)
    g.train()
    running = g.net[0].running_mean.clone()
    rows = layer_shapes(g, torch.randn(3, 16))
    assert rows[0] == ("project", "Linear", (3, 8 * 7 * 7), 16 * 8 * 7 * 7)
    assert rows[1].shape == (3, 8, 7, 7)
    convt = [r for r in rows if r.kind == "ConvTranspose2d"]
    assert [r.shape for r in convt] == [(3, 4, 14, 14), (3, 1, 28, 28)]
    assert rows[-1].kind == "Tanh" and rows[-1].shape == (3, 1, 28, 28)
    assert sum(r.params for r in rows) == count_parameters(g)
    assert g.training and torch.equal(running, g.net[0].running_mean)  # mode restored, statistics untouched
    assert not g._forward_hooks and not g.project._forward_hooks  # hooks removed


def test_layer_shapes_sees_spectrally_normalised_layers_and_labels():
    d = DCGANDiscriminator(base_channels=4, num_classes=3, spectral_norm=True, norm="none", conditioning="projection")
    rows = layer_shapes(d, torch.randn(2, 1, 28, 28), torch.tensor([0, 2]))
    names = [r.name for r in rows]
    assert names[0] == "features.0" and "head" in names and "embedding" in names
    assert sum(r.params for r in rows) == count_parameters(d)
