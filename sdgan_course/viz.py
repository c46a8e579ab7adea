"""Pictures: image grids (one ``imshow`` of a tiled array), loss curves, 2-D scatter and density plots.

Images arrive in the model range [-1, 1] and are converted for display by
:func:`sdgan_course.data.images.to_unit_range`.
Shape legend: B images, C channels, H x W pixels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .data.images import to_unit_range


def image_grid(
    images: torch.Tensor, *, nrow: int | None = None, padding: int = 2, pad_value: float = 1.0
) -> np.ndarray:
    """Tile a batch ``(B, C, H, W)`` in [-1, 1] into one array ``(rows*(H+p)+p, nrow*(W+p)+p[, 3])`` in [0, 1].

    ``nrow`` images per row (default: a square-ish grid). Greyscale stays 2-D; 3 channels become RGB.
    """
    if images.ndim == 3:
        images = images.unsqueeze(1)  # (B, 1, H, W)
    if images.ndim != 4:
        raise ValueError(f"image_grid expects (B, C, H, W) images, got shape {tuple(images.shape)}.")
    b, c, h, w = images.shape
    if c not in (1, 3):
        raise ValueError(f"image_grid shows 1 or 3 channels, got {c}.")
    if b == 0:
        raise ValueError("image_grid got an empty batch.")
    nrow = nrow or math.ceil(math.sqrt(b))
    rows = math.ceil(b / nrow)
    x = to_unit_range(images).cpu().numpy()  # (B, C, H, W) in [0, 1]
    grid = np.full((c, rows * (h + padding) + padding, nrow * (w + padding) + padding), pad_value, dtype=np.float32)
    for i in range(b):
        r, col = divmod(i, nrow)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top : top + h, left : left + w] = x[i]
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)  # (H', W') or (H', W', 3)


def show_images(
    images: torch.Tensor,
    *,
    nrow: int | None = None,
    title: str | None = None,
    ax=None,
    figsize_per_image=0.6,
    row_labels: Sequence[str] | None = None,
):
    """Show a batch of images as one grid with a single ``imshow``; returns the axes.

    ``row_labels`` names each row of the grid (e.g. the class drawn in that row).
    """
    padding = 2
    grid = image_grid(images, nrow=nrow, padding=padding)
    if ax is None:
        n = nrow or math.ceil(math.sqrt(len(images)))
        rows = math.ceil(len(images) / n)
        _, ax = plt.subplots(figsize=(max(2.0, n * figsize_per_image), max(2.0, rows * figsize_per_image)))
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    if row_labels is not None:
        h = images.shape[-2] + padding
        ax.set_yticks([padding + h * i + (h - padding) / 2 for i in range(len(row_labels))], list(row_labels))
        ax.tick_params(length=0)
    if title:
        ax.set_title(title)
    return ax


def plot_curves(
    history: Mapping[str, Sequence[float]], *, ax=None, smooth: int = 1, title: str | None = None, xlabel="step"
):
    """Plot several named curves (e.g. losses) against their index; ``smooth`` > 1 adds a running mean."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for name, values in history.items():
        y = np.asarray(values, dtype=float)
        if len(y) == 0:
            continue
        if smooth > 1 and len(y) >= smooth:
            kernel = np.ones(smooth) / smooth
            ax.plot(np.arange(smooth - 1, len(y)), np.convolve(y, kernel, mode="valid"), label=name)
        else:
            ax.plot(y, label=name)
    ax.set_xlabel(xlabel)
    ax.legend()
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    return ax


def scatter_2d(points: torch.Tensor, *, ax=None, title: str | None = None, lim: float = 3.0, **kwargs):
    """Scatter 2-D points ``(n, 2)`` on a square, equal-aspect axis."""
    if ax is None:
        _, ax = plt.subplots(figsize=(3.5, 3.5))
    p = torch.as_tensor(points).detach().cpu().float().numpy()
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"scatter_2d expects points of shape (n, 2), got {p.shape}.")
    ax.scatter(p[:, 0], p[:, 1], s=kwargs.pop("s", 3), alpha=kwargs.pop("alpha", 0.5), **kwargs)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def density_2d(log_prob, *, ax=None, lim: float = 3.0, resolution: int = 200, title: str | None = None, cmap="viridis"):
    """Show a density ``exp(log_prob(points))`` on a grid over ``[-lim, lim]^2``; ``log_prob`` maps (n, 2) -> (n,)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(3.5, 3.5))
    xs = torch.linspace(-lim, lim, resolution, dtype=torch.float64)
    gx, gy = torch.meshgrid(xs, xs, indexing="xy")  # (R, R) each
    pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)  # (R*R, 2)
    dens = torch.as_tensor(log_prob(pts)).exp().reshape(resolution, resolution).cpu().numpy()  # (R, R)
    ax.imshow(dens, origin="lower", extent=(-lim, lim, -lim, lim), cmap=cmap)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def show_frames(grids: Sequence[np.ndarray], *, titles: Sequence[str] | None = None, count: int = 5,
                size: float = 2.2):
    """A static strip of ``count`` frames, evenly spaced from first to last (the fallback beside a frame player).

    ``grids`` are [0, 1] arrays such as :func:`image_grid` returns; returns the figure.
    """
    if len(grids) == 0:
        raise ValueError("show_frames needs at least one frame.")
    picks = sorted(set(np.linspace(0, len(grids) - 1, min(count, len(grids))).round().astype(int).tolist()))
    fig, axes = plt.subplots(1, len(picks), figsize=(size * len(picks), size + 0.3), squeeze=False)
    for ax, i in zip(axes[0], picks):
        ax.imshow(grids[i], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(titles[i] if titles else f"frame {i}", fontsize=10)
    fig.tight_layout()
    return fig
