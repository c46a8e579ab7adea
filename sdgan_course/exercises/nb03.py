"""Checks for the exercises of notebook 03, generator and discriminator.

Each ``check_*`` takes the learner's answer first; a blank (``...``) gets "not filled in yet" and the exercise's hint,
a wrong answer gets what is wrong with it. ``show("ex1")`` prints our solution.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..models import gan
from ..nn.inspect import conv_transpose_output_size, count_parameters, receptive_field
from . import solutions
from .checks import as_number, call, close, expect, given, mistake, passed, seeded

NOTEBOOK = "03_generator_and_discriminator"


def show(exercise: str) -> None:
    """Print our solution to ``exercise`` ("ex1", "ex2", ...) of this notebook."""
    solutions.show(NOTEBOOK, exercise)


def _whole_number(value, name: str, hint: str) -> int:
    number = as_number(value, name, hint)  # a Python number, a 0-d tensor or a numpy scalar
    expect(math.isfinite(number) and number == int(number), f"`{name}` = {value} is not a whole number.", hint)
    return int(number)


def check_convt_parameters(convt_params, bn_params) -> None:
    """Exercise 1: parameters of the first ConvTranspose2d (128 -> 64, k = 4, no bias) of the gpu-width DCGAN
    generator for 28 x 28, and of the batch norm after it."""
    hint = ("a ConvTranspose2d(c_in, c_out, k) has c_in * c_out * k * k weights (and no bias here); batch norm "
            "learns a scale and a shift per channel.")
    convt_params = _whole_number(given(convt_params, "convt_params", hint), "convt_params", hint)
    bn_params = _whole_number(given(bn_params, "bn_params", hint), "bn_params", hint)
    with seeded(0):
        generator = gan.DCGANGenerator(z_dim=100, base_channels=64, image_size=28)  # the gpu preset's widths
    convt = next(m for m in generator.modules() if isinstance(m, nn.ConvTranspose2d))
    bn = next(m for m in generator.net if isinstance(m, nn.BatchNorm2d) and m.num_features == convt.out_channels)
    weights, channels = convt.weight.numel(), convt.out_channels
    mistake(convt_params == weights + channels, f"convt_params = {convt_params:,} counts a bias per output channel.",
            "this layer is built with bias=False: the batch norm after it has its own shift, so a bias would be "
            "redundant.")
    mistake(convt_params in (weights // 16, weights // 4), f"convt_params = {convt_params:,} leaves out part of the "
            "kernel.", "each (input channel, output channel) pair has a whole 4 x 4 kernel: k * k = 16 weights.")
    mistake(bn_params == 4 * channels, f"bn_params = {bn_params} counts the running mean and variance.",
            "those are buffers (statistics, not trained); only the scale gamma and the shift beta are parameters.")
    expect(convt_params == count_parameters(convt), f"convt_params = {convt_params:,} is not the layer's count.", hint)
    expect(bn_params == count_parameters(bn), f"bn_params = {bn_params} is not the batch norm's count.", hint)
    passed(f"{convt_params:,} weights in one 4 x 4 transposed convolution, {bn_params} in its batch norm: "
           "the convolutions hold the weights, the normalisation is almost free.")


def check_receptive_field(field_size, jump) -> None:
    """Exercise 2: receptive field and jump of one logit of the 32 x 32 patch discriminator."""
    hint = ("walk the four layers with r_out = r_in + (k - 1) j_in and j_out = j_in s, from r = 1, j = 1: three "
            "convolutions (k = 4, s = 2), then the head (k = 3, s = 1).")
    field_size = _whole_number(given(field_size, "field_size", hint), "field_size", hint)
    jump = _whole_number(given(jump, "jump", hint), "jump", hint)
    with seeded(0):
        walk = receptive_field(gan.DCGANDiscriminator(base_channels=8, image_size=32, patch=True))
    without_head = walk.layers[-2]
    mistake((field_size, jump) == (without_head.size, without_head.jump),
            f"field_size = {field_size}, jump = {jump} is the receptive field after the three strided convolutions.",
            "the 3 x 3 head is a convolution too: it adds (3 - 1) times the jump so far.")
    with_k = 1 + sum(layer.kernel * (layer.jump // layer.stride) for layer in walk.layers)
    mistake(field_size == with_k, f"field_size = {field_size} adds k * j at every layer.",
            "a kernel of k pixels adds k - 1 new ones to the window (one is shared with the window so far).")
    expect(jump == walk.jump, f"jump = {jump} is not the distance between neighbouring logits.",
           "the jump is the product of the strides of every layer up to the logit.")
    expect(field_size == walk.size, f"field_size = {field_size} is not the receptive field of one logit.", hint)
    passed(f"Each logit sees a {field_size} x {field_size} window, neighbours {jump} pixels apart: on a 32 x 32 "
           "image the window is larger than the image (its edge reaches into the zero padding).")


def check_mlp_output(units, batch_shape) -> None:
    """Exercise 3: the last layer's width of an MLP generator for 32 x 32 colour images, and a batch's shape."""
    hint = ("the last Linear layer outputs every number of the image, channels * height * width; PyTorch stores a "
            "batch as (B, C, H, W).")
    units = _whole_number(given(units, "units", hint), "units", hint)
    batch_shape = tuple(given(batch_shape, "batch_shape", hint))
    with seeded(0):
        generator = gan.MLPGenerator(hidden=(8,), image_shape=(3, 32, 32))  # the hidden widths do not matter here
    last = [m for m in generator.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        shape = tuple(generator(torch.zeros(5, generator.z_dim)).shape)  # (5, 3, 32, 32)
    mistake(units == 32 * 32, f"units = {units} is one channel's worth of pixels.",
            "a colour image has 3 channels: every pixel is 3 numbers.")
    expect(units == last.out_features, f"units = {units} is not the number of outputs the image needs.", hint)
    mistake(batch_shape == (5, 32, 32, 3), f"batch_shape = {batch_shape} is channels-last, the Keras/TensorFlow "
            "layout.", "PyTorch's convolutions read (B, C, H, W): the channels come right after the batch.")
    mistake(batch_shape == shape[1:], f"batch_shape = {batch_shape} is the shape of one image.",
            "a batch of 5 has the batch dimension in front.")
    expect(batch_shape == shape, f"batch_shape = {batch_shape} is not the shape of the generator's output.", hint)
    passed(f"{units} = 3 x 32 x 32 outputs, reshaped to {shape}: the numbers must fill the image exactly.")


def check_convt_settings(padding, kernel) -> None:
    """Exercise 4: the padding that maps 7 -> 14 (k = 4, s = 2) and the kernel that maps 4 -> 10 (s = 2, p = 0)."""
    hint = ("put the sizes i and o, the stride s and the known one of k and p into o = (i - 1) s - 2p + k, then "
            "solve for the unknown one.")
    padding = _whole_number(given(padding, "padding", hint), "padding", hint)
    kernel = _whole_number(given(kernel, "kernel", hint), "kernel", hint)
    right_padding = [p for p in range(8) if conv_transpose_output_size(7, kernel=4, stride=2, padding=p) == 14]
    right_kernel = [k for k in range(1, 12) if conv_transpose_output_size(4, kernel=k, stride=2) == 10]
    mistake(padding == 2 * right_padding[0], f"padding = {padding} would take 2p = {2 * padding} pixels off.",
            "padding p removes p pixels from each side of the output: 2p in all.")
    mistake(kernel == right_kernel[0] - 2, f"kernel = {kernel} solves 10 = 4 * 2 + k.",
            "the formula has (i - 1) s, not i s: the first stamp lands at 0, the last at (i - 1) s.")
    expect(padding in right_padding, f"with padding = {padding} the transposed convolution does not map 7 -> 14.",
           hint)
    expect(kernel in right_kernel, f"with kernel = {kernel} the transposed convolution does not map 4 -> 10.", hint)
    out_7 = nn.ConvTranspose2d(1, 1, 4, stride=2, padding=padding)(torch.zeros(1, 1, 7, 7)).shape[-1]
    out_4 = nn.ConvTranspose2d(1, 1, kernel, stride=2)(torch.zeros(1, 1, 4, 4)).shape[-1]
    passed(f"PyTorch agrees: 7 -> {out_7} with k = 4, s = 2, p = {padding}; 4 -> {out_4} with k = {kernel}, s = 2.")


def _stamps_even(kernel: int, stride: int, size: int = 8) -> bool:
    """Does a transposed convolution with an all-ones kernel cover every inner pixel equally (no checkerboard)?"""
    convt = nn.ConvTranspose2d(1, 1, kernel, stride=stride, bias=False)
    nn.init.ones_(convt.weight)
    with torch.no_grad():
        counts = convt(torch.ones(1, 1, size, size))[0, 0, kernel:-kernel, kernel:-kernel]  # (H, W) stamps per pixel
    return counts.unique().numel() == 1


def check_even_kernels(even_kernels) -> None:
    """Exercise 5: the kernel sizes 2..9 with stride 3 whose stamps overlap evenly, found with stamp_counts."""
    hint = ("for each k in 2..9 run stamp_counts(k, 3, 0, size=8), cut k pixels off every border (they get fewer "
            "stamps anyway) and keep k if every remaining pixel has the same count.")
    chosen = given(even_kernels, "even_kernels", hint)
    expect(isinstance(chosen, (set, list, tuple, frozenset)), f"`even_kernels` should be a set of kernel sizes, got "
           f"{type(chosen).__name__}.", hint)
    chosen = {_whole_number(k, "a kernel size in even_kernels", hint) for k in chosen}
    expected = {k for k in range(2, 10) if _stamps_even(k, 3)}
    mistake(chosen == set(range(2, 10)) - expected, f"even_kernels = {sorted(chosen)} are the kernels with a "
            "checkerboard.", "keep the kernels whose inner counts are all equal (one unique value), not the others.")
    mistake(chosen == {k for k in range(2, 10) if k % 2 == 0}, f"even_kernels = {sorted(chosen)} are the even "
            "kernels: that is the rule for stride 2.", "here the stride is 3: measure with stamp_counts(k, 3, 0).")
    missing, extra = sorted(expected - chosen), sorted(chosen - expected)
    expect(not extra, f"even_kernels includes {extra}, whose stamps overlap unevenly.", hint)
    expect(not missing, f"even_kernels misses {len(missing)} kernel size(s) that overlap evenly.", hint)
    passed(f"k in {sorted(chosen)}: the kernel is a multiple of the stride, so every inner pixel gets k / s stamps "
           "per direction. Any other k, 4 included, builds a checkerboard into a stride-3 generator.")


def check_concat_label_maps(concat_label_maps) -> None:
    """Exercise 6: the input of the concat-conditioned DCGAN discriminator: (B, C, H, W), labels -> (B, C + K, H, W)."""
    hint = ("one-hot encode the labels (F.one_hot gives (B, K)), turn each of the K numbers into a constant H x W "
            "map, and join the maps to the image along the channel dimension, after its channels.")
    rng = torch.Generator().manual_seed(3)
    x = torch.randn(4, 1, 28, 28, generator=rng)  # (B, C, H, W)
    labels = torch.tensor([3, 0, 9, 3])  # (B,)
    got = call(concat_label_maps, x, labels, 10, name="concat_label_maps", hint=hint)
    expect(isinstance(got, torch.Tensor), "concat_label_maps should return a tensor.", hint)
    maps = F.one_hot(labels, 10).float()[:, :, None, None].expand(-1, -1, 28, 28)  # (B, K, H, W)
    mistake(tuple(got.shape) == (4, 2, 28, 28), "concat_label_maps adds one channel: the label number as a value.",
            "the label becomes K = 10 channels, one per class: the map of its class is all ones, the others zeros.")
    expect(tuple(got.shape) == (4, 11, 28, 28), f"concat_label_maps returned shape {tuple(got.shape)}; the image's "
           "channel plus 10 label maps, (4, 11, 28, 28), is expected.", hint)
    mistake(torch.equal(got.float(), torch.cat([maps, x], dim=1)), "concat_label_maps puts the label maps first.",
            "the discriminator's first convolution reads the image channels first, then the K label maps.")
    with seeded(0):
        conditional = gan.DCGANDiscriminator(base_channels=4, num_classes=10, conditioning="concat", norm="none")
        plain = gan.DCGANDiscriminator(base_channels=4, channels=11, norm="none")  # same layers, 11 input channels
    plain.load_state_dict(conditional.state_dict())
    with torch.no_grad():
        expected, yours = conditional(x, labels), plain(got.float())  # (B,) logits each
    close(yours, expected, "the discriminator's logits on your input", hint, rtol=1e-5, atol=1e-6,
          what="the logits of the library's concat-conditioned discriminator")
    passed("The library's conditional discriminator and a plain one fed your (4, 11, 28, 28) input give the same "
           "logits: conditioning by concatenation is only a wider first convolution.")
