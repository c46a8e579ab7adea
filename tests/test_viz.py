import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from sdgan_course import viz  # noqa: E402


def test_grid_places_each_image_in_its_cell():
    images = torch.full((5, 1, 4, 4), -1.0)
    images[3] = 1.0  # the fourth image is white
    grid = viz.image_grid(images, nrow=3, padding=1, pad_value=0.5)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1)
    assert np.all(grid[6:10, 1:5] == 1.0)  # row 1, column 0
    assert np.all(grid[1:5, 1:5] == 0.0)
    assert grid[0, 0] == 0.5 and np.all(grid[6:10, 11:15] == 0.5)  # the empty sixth cell is padding


def test_grid_rgb_and_errors():
    assert viz.image_grid(torch.zeros(4, 3, 8, 8), nrow=2, padding=0).shape == (16, 16, 3)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        viz.image_grid(torch.zeros(2, 2, 8, 8))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        viz.image_grid(torch.zeros(8, 8))


def test_plots_draw_without_error():
    ax = viz.show_images(torch.rand(6, 1, 28, 28) * 2 - 1, title="x")
    assert len(ax.images) == 1  # one imshow for the whole grid
    ax = viz.plot_curves({"loss_d": [1, 2, 3, 4], "loss_g": [4, 3, 2, 1]}, smooth=2)
    assert len(ax.lines) == 2
    viz.scatter_2d(torch.randn(50, 2))
    with pytest.raises(ValueError):
        viz.scatter_2d(torch.randn(50, 3))
    viz.density_2d(lambda p: -(p**2).sum(1), resolution=20)
    matplotlib.pyplot.close("all")


def test_the_frame_player_works_offline_and_the_strip_shows_first_and_last():
    from sdgan_course import widgets

    grids = [viz.image_grid(torch.full((4, 1, 8, 8), v)) for v in (-1.0, 0.0, 1.0)]
    player = widgets.frame_player(grids, titles=["a", "b", "c"], caption="x")
    (_, slider, label), picture = player.children[0].children, player.children[1]
    assert picture.value == widgets.png_bytes(grids[0]) and label.value == "a   x"
    slider.value = 2  # what dragging the slider does in a live kernel
    assert picture.value == widgets.png_bytes(grids[2]) and label.value == "c   x"
    assert bytes(picture.value).startswith(b"\x89PNG")
    with pytest.raises(ValueError):
        widgets.frame_player([])
    with pytest.raises(ValueError, match="titles"):
        widgets.frame_player(grids, titles=["a"])
    fig = viz.show_frames(grids * 3, titles=[str(i) for i in range(9)], count=4)
    assert [ax.get_title() for ax in fig.axes] == ["0", "3", "5", "8"]
    matplotlib.pyplot.close("all")


def test_row_labels_name_each_row():
    ax = viz.show_images(torch.zeros(6, 1, 28, 28), nrow=3, row_labels=["Bag", "Sneaker"])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Bag", "Sneaker"]
    ticks = ax.get_yticks()
    assert ticks[0] < 30 < ticks[1] < 60  # the middle of each 28-pixel row (2-pixel padding)
