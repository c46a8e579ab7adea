"""Notebook 08's exercise checks: the right answer passes, a blank gets a hint (not the answer), each known mistake its
message."""

import math

import pytest
import torch
import torch.nn.functional as F

from sdgan_course.exercises import ExerciseError
from sdgan_course.exercises import nb08 as ex
from sdgan_course.losses import vae as vl
from sdgan_course.models.vae import AutoencoderConfig, KLAutoencoder


def fails(match):
    return pytest.raises(ExerciseError, match=match)


def blank_hint(check, *blanks):
    with pytest.raises(ExerciseError) as caught:
        check(*blanks)
    return caught.value.hint


@pytest.fixture(scope="module")
def autoencoder():
    torch.manual_seed(0)
    return KLAutoencoder(config=AutoencoderConfig.preset("ci")).eval()  # factor 4, 4 channels, like the shipped one


# ---------------------------------------------------------------- exercise 1: KL by hand


def test_kl_by_hand(capsys):
    right = 0.5 * (1 + 4 - 1 - math.log(4))
    ex.check_kl_by_hand(right)
    ex.check_kl_by_hand(torch.tensor(right))  # a 0-d tensor is a number too
    assert capsys.readouterr().out.startswith("Correct. KL = 1.3069")
    with fails("takes 4 as the standard deviation"):
        ex.check_kl_by_hand(0.5 * (1 + 16 - 1 - math.log(16)))
    with fails("twice the KL"):
        ex.check_kl_by_hand(2 * right)
    with fails("log of the standard deviation"):  # new: log sigma where the formula has log sigma^2
        ex.check_kl_by_hand(0.5 * (1 + 4 - 1 - math.log(2)))
    with fails("a truth value"):
        ex.check_kl_by_hand(True)
    with fails("that is not KL"):
        ex.check_kl_by_hand(1.0)


def test_kl_by_hand_blank_gets_a_hint_not_the_answer():
    hint = blank_hint(ex.check_kl_by_hand, ...)
    assert 'ex.show("ex1")' in hint and "4 - 1" not in hint and "sigma^2 = 4" not in hint


# ---------------------------------------------------------------- exercise 2: bits per pixel


def test_bits_per_pixel(capsys):
    right = 200 / (784 * math.log(2))
    ex.check_bits_per_pixel(right)
    assert capsys.readouterr().out.startswith("Correct. 0.3680")
    with fails("nats per pixel"):
        ex.check_bits_per_pixel(200 / 784)
    with fails("bits per image"):
        ex.check_bits_per_pixel(200 / math.log(2))
    with fails("multiplies by ln 2"):  # new: the conversion the wrong way round
        ex.check_bits_per_pixel(200 * math.log(2) / 784)


def test_bits_per_pixel_blank_gets_a_hint_not_the_answer():
    hint = blank_hint(ex.check_bits_per_pixel, ...)
    assert 'ex.show("ex2")' in hint and "784 ln 2)" not in hint


# ---------------------------------------------------------------- exercise 3: the latent of a larger canvas


def test_latent_shape(autoencoder, capsys):
    ex.check_latent_shape((4, 14, 21), 4.0, autoencoder)
    ex.check_latent_shape(torch.Size([4, 14, 21]), torch.tensor(4.0), autoencoder)
    assert capsys.readouterr().out.startswith("Correct. latent (4, 14, 21): 4 times")
    with fails("`latent_shape` is still"):
        ex.check_latent_shape(..., ..., autoencoder)
    with fails("height and width are swapped"):
        ex.check_latent_shape((4, 21, 14), 4.0, autoencoder)
    with fails("Stable Diffusion's factor 8"):
        ex.check_latent_shape((4, 7, 10.5), 64.0, autoencoder)
    with fails("keeps the image's one channel"):
        ex.check_latent_shape((1, 14, 21), 16.0, autoencoder)
    with fails("three numbers"):
        ex.check_latent_shape((14, 21), 4.0, autoencoder)
    with fails("upside down"):
        ex.check_latent_shape((4, 14, 21), 0.25, autoencoder)
    with fails("that is not the compression factor"):
        ex.check_latent_shape((4, 14, 21), 3.0, autoencoder)


# ---------------------------------------------------------------- exercise 4: the Bernoulli NLL


def test_bernoulli_nll(capsys):
    ex.check_bernoulli_nll(lambda l, x: F.binary_cross_entropy_with_logits(l, x, reduction="none").flatten(1).sum(1))
    assert capsys.readouterr().out.startswith("Correct. NLL of 4 random images")
    with fails("batch mean"):
        ex.check_bernoulli_nll(lambda l, x: vl.bernoulli_nll(l, x).mean())
    with fails("784 times too small"):
        ex.check_bernoulli_nll(lambda l, x: vl.bernoulli_nll(l, x) / 784)
    with fails("negative values"):
        ex.check_bernoulli_nll(lambda l, x: -vl.bernoulli_nll(l, x))
    with fails("shape"):
        ex.check_bernoulli_nll(lambda l, x: F.binary_cross_entropy_with_logits(l, x, reduction="none"))


def test_bernoulli_nll_blank_gets_a_hint_not_the_answer():
    hint = blank_hint(ex.check_bernoulli_nll, ...)
    assert 'ex.show("ex4")' in hint and "binary_cross_entropy_with_logits" not in hint
