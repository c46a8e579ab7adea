"""Notebook 01's exercise checks: the right answer passes, a blank fails with a hint, each known mistake is named."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sdgan_course.exercises import ExerciseError
from sdgan_course.exercises import nb01 as ex


def test_latent(capsys):
    ex.check_latent((4, 96, 96), 48.0)
    assert "48 times fewer" in capsys.readouterr().out
    ex.check_latent([4, 96, 96], 3 * 768 * 768 // (4 * 96 * 96))  # a list and an int are fine
    with pytest.raises(ExerciseError, match="still `...`") as err:
        ex.check_latent(..., ...)
    assert err.value.hint
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_latent((4, 96, 96), ...)
    with pytest.raises(ExerciseError, match="512 x 512"):
        ex.check_latent((4, 64, 64), 48)
    with pytest.raises(ExerciseError, match="3 colour channels"):
        ex.check_latent((3, 96, 96), 48)
    with pytest.raises(ExerciseError, match="channels last"):
        ex.check_latent((96, 96, 4), 48)
    with pytest.raises(ExerciseError, match="three numbers"):
        ex.check_latent((96, 96), 48)
    with pytest.raises(ExerciseError, match="upside down"):
        ex.check_latent((4, 96, 96), 1 / 48)
    with pytest.raises(ExerciseError, match="positions only"):
        ex.check_latent((4, 96, 96), 64)
    with pytest.raises(ExerciseError, match="4 channels"):
        ex.check_latent((4, 96, 96), 192)
    with pytest.raises(ExerciseError, match="not the compression factor"):
        ex.check_latent((4, 96, 96), 12)


def test_latent_takes_tensors_and_numpy_numbers_and_names_a_wrong_type(capsys):
    ex.check_latent(torch.tensor([4, 96, 96]), torch.tensor(48.0))  # a tensor shape and a 0-d tensor
    ex.check_latent(torch.Size([4, 96, 96]), np.float64(48.0))
    ex.check_latent((np.int64(4), 96.0, 96), 48)
    assert capsys.readouterr().out.count("Correct") == 3
    with pytest.raises(ExerciseError, match="three numbers in brackets"):  # was a bare TypeError
        ex.check_latent(4, 48)
    with pytest.raises(ExerciseError, match="`compression` should be a number"):  # was a bare TypeError
        ex.check_latent((4, 96, 96), (48,))
    with pytest.raises(ExerciseError, match="one number is asked for"):
        ex.check_latent((4, 96, 96), torch.tensor([48.0, 48.0]))
    with pytest.raises(ExerciseError, match="not the latent of a 768 x 768 image"):
        ex.check_latent((4, 96.5, 96), 48)


def test_unet_evaluations(capsys):
    ex.check_unet_evaluations(60)
    assert "Correct" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_unet_evaluations(...)
    with pytest.raises(ExerciseError, match="one evaluation per step"):
        ex.check_unet_evaluations(30)
    with pytest.raises(ExerciseError, match="decoder"):
        ex.check_unet_evaluations(61)
    with pytest.raises(ExerciseError, match="noise levels"):
        ex.check_unet_evaluations(1000)
    with pytest.raises(ExerciseError, match="not the number of U-Net evaluations"):
        ex.check_unet_evaluations(120)
    with pytest.raises(ExerciseError, match="whole number"):  # 60.4 used to pass (a tolerance of 0.5)
        ex.check_unet_evaluations(60.4)
    with pytest.raises(ExerciseError, match="section 3's example"):  # 50 steps x 2, copied from section 3
        ex.check_unet_evaluations(100)
    with pytest.raises(ExerciseError, match="truth value"):
        ex.check_unet_evaluations(True)
    ex.check_unet_evaluations(torch.tensor(60))
    ex.check_unet_evaluations(np.int64(60))


def test_true_statement(capsys):
    for right in ("c", "C", "(c)", " c "):
        ex.check_true_statement(right)
    assert "(c)" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_true_statement(...)
    for wrong, words in (("a", "latent diffusion model"), ("b", "noise level"), ("d", "77 x 768"),
                         ("e", "frozen")):
        with pytest.raises(ExerciseError, match=words) as err:
            ex.check_true_statement(wrong)
        assert err.value.problem.startswith(f"({wrong}) is wrong") and "(c)" not in err.value.problem
    for bad in ("f", "ac", 3, ""):
        with pytest.raises(ExerciseError, match="one letter"):
            ex.check_true_statement(bad)


def test_discriminator_loss(capsys):
    ex.check_discriminator_loss(lambda r, f: -(F.logsigmoid(r).mean() + F.logsigmoid(-f).mean()))
    assert "Correct" in capsys.readouterr().out

    def blank(real_logits, fake_logits):
        """# YOUR CODE HERE"""

    with pytest.raises(ExerciseError, match="returned None"):
        ex.check_discriminator_loss(blank)
    with pytest.raises(ExerciseError, match="not a function yet"):
        ex.check_discriminator_loss(...)
    with pytest.raises(ExerciseError, match=r"log sigmoid\(f\) for the fakes"):
        ex.check_discriminator_loss(lambda r, f: -(F.logsigmoid(r).mean() + F.logsigmoid(f).mean()))
    with pytest.raises(ExerciseError, match="wrong sign"):
        ex.check_discriminator_loss(lambda r, f: F.logsigmoid(r).mean() + F.logsigmoid(-f).mean())
    with pytest.raises(ExerciseError, match="sums over the batch"):
        ex.check_discriminator_loss(lambda r, f: -(F.logsigmoid(r).sum() + F.logsigmoid(-f).sum()))
    with pytest.raises(ExerciseError, match="one number"):
        ex.check_discriminator_loss(lambda r, f: -(F.logsigmoid(r) + F.logsigmoid(-f)))
    with pytest.raises(ExerciseError, match="infinite for logits of -100") as err:
        ex.check_discriminator_loss(
            lambda r, f: -(torch.log(torch.sigmoid(r)).mean() + torch.log(1 - torch.sigmoid(f)).mean()))
    assert "1 - sigmoid(100)" in err.value.problem
    with pytest.raises(ExerciseError, match="half the loss"):  # the two terms averaged instead of added
        ex.check_discriminator_loss(lambda r, f: -(F.logsigmoid(r).mean() + F.logsigmoid(-f).mean()) / 2)
    with pytest.raises(ExerciseError, match="half the loss"):  # one BCE over all 2B logits
        ex.check_discriminator_loss(lambda r, f: F.binary_cross_entropy_with_logits(
            torch.cat([r, f]), torch.cat([torch.ones_like(r), torch.zeros_like(f)])))
    with pytest.raises(ExerciseError, match="is not discriminator_loss"):
        ex.check_discriminator_loss(lambda r, f: -F.logsigmoid(r).mean())


def test_detach_gradients(capsys):
    ex.check_detach_gradients({"D", "G"})
    assert "Correct" in capsys.readouterr().out
    ex.check_detach_gradients(["G", "D"])
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_detach_gradients(...)
    with pytest.raises(ExerciseError, match=r"with\* .detach\(\) gives"):
        ex.check_detach_gradients({"D"})
    with pytest.raises(ExerciseError, match="always reaches D"):
        ex.check_detach_gradients({"G"})
    with pytest.raises(ExerciseError, match="always reaches D"):
        ex.check_detach_gradients(set())
    with pytest.raises(ExerciseError, match="set of the names"):
        ex.check_detach_gradients({"generator"})
    with pytest.raises(ExerciseError, match="set of the names"):  # was a bare TypeError
        ex.check_detach_gradients(True)
