"""The tanh pushforward density against the exact CDF and a Monte Carlo histogram and its modes."""

import math

import pytest
import torch

from sdgan_course.theory.pushforward import count_modes, tanh_pushforward_density


@pytest.mark.parametrize("w,b", [(0.5, 0.0), (1.0, 0.0), (2.0, 0.3), (3.0, -0.5)])
def test_density_integrates_to_the_exact_bin_probabilities(w, b):
    # P(lo < Y < hi) = Phi((atanh hi - b) / w) - Phi((atanh lo - b) / w): the CDF, computed independently
    edges = torch.linspace(-0.98, 0.98, 50, dtype=torch.float64)
    cdf = 0.5 * (1 + torch.erf((torch.atanh(edges) - b) / w / math.sqrt(2)))
    exact = cdf[1:] - cdf[:-1]
    fine = [torch.linspace(lo, hi, 401, dtype=torch.float64) for lo, hi in zip(edges[:-1], edges[1:])]
    integrated = torch.stack([torch.trapezoid(tanh_pushforward_density(g, w, b), g) for g in fine])
    assert torch.allclose(integrated, exact, rtol=1e-4, atol=1e-9)
    # and samples of tanh(w z + b) fall into the bins with those probabilities
    z = torch.randn(1_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    counts = torch.histc(torch.tanh(w * z + b), bins=49, min=-0.98, max=0.98) / len(z)
    assert torch.allclose(counts, exact, atol=2e-3)


def test_one_bump_below_the_threshold_two_above():
    grid = torch.linspace(-0.999, 0.999, 20_001, dtype=torch.float64)
    assert count_modes(tanh_pushforward_density(grid, 0.5)) == 1
    assert count_modes(tanh_pushforward_density(grid, 1.0)) == 2  # already bimodal at w = 1
    # the minimum at 0 appears at w = 1 / sqrt(2): the second derivative of log p at y = 0 is 2 - 1 / w^2
    assert count_modes(tanh_pushforward_density(grid, 1 / math.sqrt(2) - 0.02)) == 1
    assert count_modes(tanh_pushforward_density(grid, 1 / math.sqrt(2) + 0.02)) == 2


def test_bad_input():
    with pytest.raises(ValueError, match="constant"):
        tanh_pushforward_density(torch.zeros(3), 0.0)
    with pytest.raises(ValueError, match="strictly inside"):
        tanh_pushforward_density(torch.tensor([1.0]), 1.0)
