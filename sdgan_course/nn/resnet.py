r"""The residual block of a diffusion U-Net, and the resampling layers between its resolutions.

The block follows Ho et al. 2020 (arXiv:2006.11239, appendix B, after Wide ResNet): GroupNorm (Wu and He 2018,
arXiv:1803.08494) -> SiLU -> 3x3 conv, plus a projection of the time embedding added to every pixel, then again
GroupNorm -> SiLU -> dropout -> 3x3 conv whose weights start at zero, so that each block starts as the identity.

Shape legend: B batch, C channels, H x W pixels, D time-embedding width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def group_norm(channels: int, groups: int = 8) -> nn.GroupNorm:
    """GroupNorm with at most ``groups`` groups that divide ``channels``."""
    g = min(groups, channels)
    while channels % g:
        g -= 1
    return nn.GroupNorm(g, channels)


class ResBlock(nn.Module):
    """``x + F(x, temb)``, the time embedding added between the convolutions: (B, C_in, H, W) -> (B, C_out, H, W)."""

    def __init__(self, in_channels: int, out_channels: int, *, temb_dim: int, dropout: float = 0.0, groups: int = 8):
        super().__init__()
        self.norm1 = group_norm(in_channels, groups)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.temb = nn.Linear(temb_dim, out_channels)
        self.norm2 = group_norm(out_channels, groups)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, C_out, H, W)
        h = h + self.temb(F.silu(temb))[:, :, None, None]  # (B, C_out, 1, 1) broadcast over pixels
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))  # (B, C_out, H, W)
        return self.skip(x) + h


class Downsample(nn.Module):
    """A stride-2 3x3 convolution: (B, C, H, W) -> (B, C, ceil(H/2), ceil(W/2))."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest-neighbour upsampling to ``size`` (the skip's size, so odd sizes such as 7 work), then a 3x3 conv."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return self.conv(F.interpolate(x, size=size, mode="nearest"))  # (B, C, *size)
