"""The convolution operator norm against closed forms: a 1x1 convolution is a matrix, and a circular convolution's
singular values are those of its kernel's 2-D Fourier transform (Sedghi, Gupta, Long 2019, Theorem 6)."""

import torch
from torch import nn

from sdgan_course.nn.lipschitz import conv_operator_norm, reshaped_kernel_norm


def test_one_by_one_convolution_is_its_matrix():
    torch.manual_seed(0)
    conv = nn.Conv2d(5, 3, 1, bias=False)
    exact = torch.linalg.matrix_norm(conv.weight.detach()[:, :, 0, 0].double(), ord=2).item()
    assert abs(conv_operator_norm(conv, (5, 6, 6)) - exact) < 1e-6 * exact
    assert abs(reshaped_kernel_norm(conv.weight) - exact) < 1e-9


def test_circular_convolution_matches_the_fourier_formula_and_exceeds_the_reshaped_kernel():
    torch.manual_seed(1)
    n = 8
    conv = nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular", bias=False)
    w = conv.weight.detach().double()  # (c_out, c_in, 3, 3)
    # the operator is block-circulant: its singular values are those of K(u, v) = sum_pq w[:, :, p, q] e^{2 pi i ...}
    padded = torch.zeros(4, 3, n, n, dtype=torch.float64)
    padded[:, :, :3, :3] = w
    symbol = torch.fft.fft2(padded)  # (c_out, c_in, n, n): one c_out x c_in matrix per frequency
    exact = torch.linalg.matrix_norm(symbol.permute(2, 3, 0, 1), ord=2).max().item()
    measured = conv_operator_norm(conv, (3, n, n), iterations=500)
    assert abs(measured - exact) < 1e-4 * exact, (measured, exact)
    assert measured > reshaped_kernel_norm(conv.weight)  # the convolution is steeper than its reshaped kernel


def test_spectral_norm_does_not_make_a_convolution_one_lipschitz():
    torch.manual_seed(2)
    conv = nn.utils.parametrizations.spectral_norm(nn.Conv2d(8, 8, 3, padding=1), n_power_iterations=50)
    conv.eval()
    assert abs(reshaped_kernel_norm(conv.weight) - 1.0) < 1e-3  # what the normalisation divides by
    assert conv_operator_norm(conv, (8, 16, 16)) > 1.05  # the operator it defines is steeper
