"""Notebook 03's checks: the right answer passes, a blank gets the hint, each recognised mistake its own message."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sdgan_course.exercises import ExerciseError
from sdgan_course.exercises import nb03 as ex


def blank_fails(check, *args):
    with pytest.raises(ExerciseError) as err:
        check(*args)
    assert err.value.hint and ("`...`" in err.value.problem or "not a function" in err.value.problem)


def passes(check, capsys, *args):
    check(*args)
    assert "Correct." in capsys.readouterr().out


def test_convt_parameters(capsys):
    passes(ex.check_convt_parameters, capsys, 128 * 64 * 16, 2 * 64)
    blank_fails(ex.check_convt_parameters, ..., 128)
    blank_fails(ex.check_convt_parameters, 131072, ...)
    with pytest.raises(ExerciseError, match="counts a bias"):
        ex.check_convt_parameters(128 * 64 * 16 + 64, 128)
    with pytest.raises(ExerciseError, match="part of the kernel"):
        ex.check_convt_parameters(128 * 64 * 4, 128)
    with pytest.raises(ExerciseError, match="running mean and variance"):
        ex.check_convt_parameters(128 * 64 * 16, 4 * 64)
    with pytest.raises(ExerciseError, match="not the layer's count"):
        ex.check_convt_parameters(1000, 128)
    with pytest.raises(ExerciseError, match="should be a number"):
        ex.check_convt_parameters("many", 128)
    with pytest.raises(ExerciseError, match="not a whole number"):
        ex.check_convt_parameters(131072.5, 128)
    with pytest.raises(ExerciseError, match="truth value"):
        ex.check_convt_parameters(True, 128)


def test_checks_leave_the_notebooks_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ex.check_convt_parameters(131072, 128)
    ex.check_concat_label_maps(concat_label_maps)
    assert torch.equal(torch.rand(3), expected)


def test_receptive_field(capsys):
    passes(ex.check_receptive_field, capsys, 38, 8)
    blank_fails(ex.check_receptive_field, ..., 8)
    with pytest.raises(ExerciseError, match="after the three strided convolutions"):
        ex.check_receptive_field(22, 8)
    with pytest.raises(ExerciseError, match=r"adds k \* j"):
        ex.check_receptive_field(53, 8)
    with pytest.raises(ExerciseError, match="distance between neighbouring logits"):
        ex.check_receptive_field(38, 16)
    with pytest.raises(ExerciseError, match="not the receptive field"):
        ex.check_receptive_field(40, 8)


def test_mlp_output(capsys):
    passes(ex.check_mlp_output, capsys, 3072, (5, 3, 32, 32))
    blank_fails(ex.check_mlp_output, ..., (5, 3, 32, 32))
    blank_fails(ex.check_mlp_output, 3072, (5, ..., 32, 32))
    with pytest.raises(ExerciseError, match="one channel's worth"):
        ex.check_mlp_output(1024, (5, 3, 32, 32))
    with pytest.raises(ExerciseError, match="channels-last"):
        ex.check_mlp_output(3072, (5, 32, 32, 3))
    with pytest.raises(ExerciseError, match="shape of one image"):
        ex.check_mlp_output(3072, (3, 32, 32))


def test_convt_settings(capsys):
    passes(ex.check_convt_settings, capsys, 1, 4)
    passes(ex.check_convt_settings, capsys, torch.tensor(1), np.int64(4))  # a 0-d tensor and a numpy integer count
    blank_fails(ex.check_convt_settings, ..., 4)
    with pytest.raises(ExerciseError) as err:
        ex.check_convt_settings(..., 4)
    assert "14 = " not in err.value.hint and "10 = " not in err.value.hint  # the hint does not set up the answer
    with pytest.raises(ExerciseError, match="2p"):
        ex.check_convt_settings(2, 4)
    with pytest.raises(ExerciseError, match=r"\(i - 1\) s"):
        ex.check_convt_settings(1, 2)
    with pytest.raises(ExerciseError, match="does not map 7 -> 14"):
        ex.check_convt_settings(0, 4)
    with pytest.raises(ExerciseError, match="does not map 4 -> 10"):
        ex.check_convt_settings(1, 5)


def test_even_kernels(capsys):
    passes(ex.check_even_kernels, capsys, {3, 6, 9})
    passes(ex.check_even_kernels, capsys, [9, 6, 3])
    blank_fails(ex.check_even_kernels, ...)
    with pytest.raises(ExerciseError, match="kernels with a checkerboard"):
        ex.check_even_kernels({2, 4, 5, 7, 8})
    with pytest.raises(ExerciseError, match="rule for stride 2"):
        ex.check_even_kernels({2, 4, 6, 8})
    with pytest.raises(ExerciseError, match="misses 1"):
        ex.check_even_kernels({3, 6})
    with pytest.raises(ExerciseError, match="overlap unevenly"):
        ex.check_even_kernels({3, 4, 6, 9})
    with pytest.raises(ExerciseError, match="set of kernel sizes"):
        ex.check_even_kernels(3)


def concat_label_maps(x, labels, num_classes):
    maps = F.one_hot(labels, num_classes).to(x.dtype)[:, :, None, None].expand(-1, -1, *x.shape[2:])  # (B, K, H, W)
    return torch.cat([x, maps], dim=1)  # (B, C + K, H, W)


def test_concat_label_maps(capsys):
    passes(ex.check_concat_label_maps, capsys, concat_label_maps)
    blank_fails(ex.check_concat_label_maps, ...)
    with pytest.raises(ExerciseError) as err:
        ex.check_concat_label_maps(...)
    assert "view" not in err.value.hint and "torch.cat" not in err.value.hint  # a hint, not the code of the answer
    with pytest.raises(ExerciseError, match="label maps first"):
        ex.check_concat_label_maps(lambda x, y, k: torch.cat([concat_label_maps(x, y, k)[:, 1:], x], dim=1))
    with pytest.raises(ExerciseError, match="the label number as a value"):
        ex.check_concat_label_maps(lambda x, y, k: torch.cat([x, y.float().view(-1, 1, 1, 1).expand_as(x)], dim=1))
    with pytest.raises(ExerciseError, match="shape"):  # the maps alone, without the image
        ex.check_concat_label_maps(lambda x, y, k: concat_label_maps(x, y, k)[:, 1:])
    with pytest.raises(ExerciseError, match="logits"):  # the right shape, the wrong content: labels shifted by one
        ex.check_concat_label_maps(lambda x, y, k: concat_label_maps(x, (y + 1) % k, k))
    with pytest.raises(ExerciseError, match="raised RuntimeError"):  # the maps not expanded to H x W
        ex.check_concat_label_maps(lambda x, y, k: torch.cat([x, F.one_hot(y, k)[:, :, None, None].float()], dim=1))


def test_the_checks_measurement_of_an_even_overlap():
    assert ex._stamps_even(4, 2) and ex._stamps_even(6, 3) and ex._stamps_even(2, 2)
    assert not ex._stamps_even(3, 2) and not ex._stamps_even(4, 3) and not ex._stamps_even(2, 3)
