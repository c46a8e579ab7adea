"""Widgets that work offline, in JupyterLab 4 (ipywidgets 8) and on Colab (ipywidgets 7.7).

Nothing here fetches anything from the network: a frame player is pre-rendered PNG frames behind an ipywidgets
slider and play button (matplotlib's JavaScript animation player loads its icons from a CDN; this one does not).
A widget shows nothing on a static page (GitHub, a stored notebook without widget state), so every cell that shows one
also draws a static fallback, e.g. :func:`sdgan_course.viz.show_frames`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np


def png_bytes(grid: np.ndarray, *, scale: int = 2) -> bytes:
    """A [0, 1] image array ``(H, W)`` or ``(H, W, 3)`` as PNG bytes, enlarged ``scale`` times without smoothing."""
    from PIL import Image

    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim not in (2, 3):
        raise ValueError(f"png_bytes expects an (H, W) or (H, W, 3) array, got shape {grid.shape}.")
    image = Image.fromarray((grid.clip(0.0, 1.0) * 255).round().astype(np.uint8))
    image = image.resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def frame_player(grids: Sequence[np.ndarray], *, titles: Sequence[str] | None = None, caption: str = "",
                 interval: int = 300, scale: int = 2):
    """An offline animation: a play button and a slider over pre-rendered frames (e.g. :func:`viz.image_grid` s).

    ``titles`` names each frame (shown beside the slider, with ``caption``); ``interval`` is milliseconds per frame.
    Returns an ``ipywidgets.VBox`` to ``display``; moving the slider needs a live kernel.
    """
    import ipywidgets as widgets

    if len(grids) == 0:
        raise ValueError("frame_player needs at least one frame.")
    if titles is not None and len(titles) != len(grids):
        raise ValueError(f"frame_player got {len(grids)} frames but {len(titles)} titles.")
    pngs = [png_bytes(g, scale=scale) for g in grids]

    def label(i: int) -> str:
        return "   ".join(part for part in ((titles[i] if titles else f"frame {i}"), caption) if part)

    picture = widgets.Image(value=pngs[0], format="png")
    text = widgets.Label(value=label(0))
    slider = widgets.IntSlider(value=0, min=0, max=len(pngs) - 1, description="frame", readout=False)
    play = widgets.Play(value=0, min=0, max=len(pngs) - 1, interval=interval, description="play")
    widgets.jslink((play, "value"), (slider, "value"))

    def show(change):
        picture.value = pngs[change["new"]]
        text.value = label(change["new"])

    slider.observe(show, names="value")
    return widgets.VBox([widgets.HBox([play, slider, text]), picture])
