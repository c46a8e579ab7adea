"""The .npz every ``sample`` command writes (cli.sampling.write_samples): ``sample gan`` and ``sample ddpm``."""

import numpy as np
import torch

from sdgan_course.cli.sampling import write_samples


def test_greyscale_samples_drop_the_channel_axis_and_keep_their_labels(tmp_path):
    images = torch.linspace(-1, 1, 2 * 28 * 28).reshape(2, 1, 28, 28)  # (B, C, H, W)
    path = tmp_path / "deeper" / "s.npz"  # the folder is made
    write_samples(path, images, torch.tensor([3, 7]))
    data = np.load(path)
    assert data["images"].shape == (2, 28, 28) and data["images"].dtype == np.uint8
    assert data["images"].min() == 0 and data["images"].max() == 255
    assert data["labels"].tolist() == [3, 7] and data["labels"].dtype == np.int64


def test_unconditional_samples_are_labelled_minus_one_and_colour_keeps_its_channels(tmp_path):
    images = torch.zeros(4, 3, 8, 8)
    images[:, 2] = 1.0  # only the last channel is bright: dropping channels would lose it
    write_samples(tmp_path / "s.npz", images, None)
    data = np.load(tmp_path / "s.npz")
    assert data["images"].shape == (4, 3, 8, 8) and int(data["images"][:, 2].min()) == 255
    assert data["labels"].tolist() == [-1] * 4
