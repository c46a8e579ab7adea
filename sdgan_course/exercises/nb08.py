"""Checks for the exercises of notebook 08, variational autoencoders.

Each ``check_*`` takes the learner's answer first; a blank (``...``) gets "not filled in yet" and the exercise's hint,
a wrong answer gets what is wrong with it. ``show("ex1")`` prints our solution.
"""

from __future__ import annotations

import math

import torch

from ..losses import vae as vl
from . import solutions
from .checks import as_number, call, close, expect, given, mistake, passed

NOTEBOOK = "08_variational_autoencoders"


def show(exercise: str) -> None:
    """Print our solution to ``exercise`` ("ex1", "ex2", ...) of this notebook."""
    solutions.show(NOTEBOOK, exercise)


def check_kl_by_hand(kl_by_hand) -> None:
    """Exercise 1: KL(N(1, 4) || N(0, 1)) in nats, by the closed form."""
    hint = ("use the closed form of section 2 for one dimension; in N(1, 4) the first number is the mean, the second "
            "the variance sigma^2 (not the standard deviation). ex.show(\"ex1\") prints our solution.")
    value = as_number(kl_by_hand, "kl_by_hand", hint)
    expected = float(vl.gaussian_kl(torch.tensor([[1.0]]), torch.tensor([[math.log(4.0)]])))
    mistake(math.isclose(value, 0.5 * (1 + 16 - 1 - math.log(16)), rel_tol=1e-6),
            f"kl_by_hand = {value:.4f} takes 4 as the standard deviation (sigma^2 = 16).",
            "the second parameter of N(1, 4) is the variance: sigma^2 = 4, log sigma^2 = log 4.")
    mistake(math.isclose(value, 2 * expected, rel_tol=1e-6), f"kl_by_hand = {value:.4f} is twice the KL.",
            "the closed form starts with a factor 1/2.")
    mistake(math.isclose(value, 0.5 * (1 + 4 - 1 - math.log(2)), rel_tol=1e-6),
            f"kl_by_hand = {value:.4f} takes the log of the standard deviation (log 2) where the formula has the log "
            "of the variance.", "the last term is log sigma^2 = log 4.")
    close(value, expected, "kl_by_hand", hint, rtol=1e-6, what="KL(N(1, 4) || N(0, 1))")
    passed(f"KL = {value:.4f} nats: the mean's distance (1/2 mu^2 = 0.5) plus the extra width (0.5 (4 - 1 - log 4)).")


def check_bits_per_pixel(bits_per_pixel) -> None:
    """Exercise 2: 200 nats per 28 x 28 image, in bits per pixel."""
    hint = ("two conversions: nats to bits (a bit is ln 2 = 0.693 nats), and per image to per pixel (a 28 x 28 image "
            "has 784 pixels). ex.show(\"ex2\") prints our solution.")
    value = as_number(bits_per_pixel, "bits_per_pixel", hint)
    mistake(math.isclose(value, 200 / 784, rel_tol=1e-6), f"bits_per_pixel = {value:.4f} is nats per pixel.",
            "convert nats to bits: divide by ln 2 (a bit is ln 2 = 0.693 nats).")
    mistake(math.isclose(value, 200 / math.log(2), rel_tol=1e-6), f"bits_per_pixel = {value:.1f} is bits per image.",
            "divide by the number of pixels, 784.")
    mistake(math.isclose(value, 200 * math.log(2) / 784, rel_tol=1e-6),
            f"bits_per_pixel = {value:.4f} multiplies by ln 2; nats become bits by dividing by it.",
            "a bit is ln 2 = 0.693 nats, so there are more bits than nats: bits = nats / ln 2.")
    close(value, vl.bits_per_dim(200.0, 784), "bits_per_pixel", hint, rtol=1e-9, what="200 nats in bits per pixel")
    passed(f"{value:.4f} bits per pixel (a binary pixel stored raw costs 1 bit).")


def check_latent_shape(latent_shape, compression, autoencoder) -> None:
    """Exercise 3: the latent shape of a 56 x 84 canvas under ``autoencoder``, and the compression factor."""
    hint = ("section 7: every side shrinks by the autoencoder's factor, and the latent has its own number of channels; "
            "compression = numbers in the image (1 x 56 x 84) / numbers in the latent. ex.show(\"ex3\") prints our "
            "solution.")
    shape = given(latent_shape, "latent_shape", hint)
    expect(isinstance(shape, (tuple, list, torch.Size)) and len(shape) == 3,
           f"latent_shape = {shape!r} should be three numbers, (channels, height, width).", hint)
    shape = tuple(as_number(v, "latent_shape", hint) for v in shape)
    value = as_number(compression, "compression", hint)
    with torch.no_grad():
        got = tuple(autoencoder.encode(torch.zeros(1, 1, 56, 84)).mean.shape[1:])
    factor = 56 // got[1]
    mistake(shape == (got[0], got[2], got[1]), f"latent_shape = {shape}: height and width are swapped.",
            "the canvas is 56 high and 84 wide; the latent keeps that orientation: (channels, 56 / f, 84 / f).")
    mistake(shape[1:] == (56 / 8, 84 / 8) or shape[1:] == (56 // 8, 84 // 8),
            f"latent_shape = {shape} uses Stable Diffusion's factor 8; this autoencoder's factor is {factor}.",
            "section 7: the course's autoencoder maps 28 x 28 to 7 x 7.")
    mistake(shape[0] == 1 and shape[1:] == got[1:], f"latent_shape = {shape} keeps the image's one channel; the latent "
            f"has {got[0]}.", "the encoder outputs a mean and a log-variance with the latent's own channel count.")
    expect(shape == got, f"latent_shape = {shape}, but encoding a 56 x 84 canvas gives a different shape.", hint)
    expected = 56 * 84 / math.prod(got)
    mistake(math.isclose(value, 1 / expected, rel_tol=1e-6), f"compression = {value:.4g} is the ratio upside down.",
            "divide the image's numbers by the latent's: the answer is above 1.")
    close(value, expected, "compression", hint, rtol=1e-9, what="the compression factor")
    passed(f"latent {got}: {value:.0f} times fewer numbers for the diffusion model to denoise.")


def check_bernoulli_nll(bernoulli_nll) -> None:
    """Exercise 4: the Bernoulli negative log-likelihood, (B, C, H, W) logits and 0/1 targets -> (B,) nats."""
    hint = ("each pixel contributes -[x log sigmoid(l) + (1 - x) log(1 - sigmoid(l))]; add the pixels of each image "
            "(keep the batch dimension). torch.nn.functional has a numerically stable function of the logits for the "
            "per-pixel terms. ex.show(\"ex4\") prints our solution.")
    rng = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(4, 1, 28, 28, generator=rng)  # (4, 1, 28, 28)
    x01 = (torch.rand(4, 1, 28, 28, generator=rng) < 0.3).float()  # (4, 1, 28, 28)
    got = call(bernoulli_nll, logits, x01, name="bernoulli_nll", hint=hint)
    expected = vl.bernoulli_nll(logits, x01)  # (4,)
    expect(isinstance(got, torch.Tensor), "bernoulli_nll should return a tensor.", hint)
    mistake(got.numel() == 1 and math.isclose(float(got), float(expected.mean()), rel_tol=1e-4),
            "bernoulli_nll returns the batch mean: one number for the whole batch.",
            "return one value per image, shape (B,): sum over (C, H, W) only.")
    expect(tuple(got.shape) == (4,), f"bernoulli_nll returned shape {tuple(got.shape)}; one number per image, (B,), "
           "is expected.", "sum over the channel and pixel dimensions, keep the batch dimension.")
    mistake(torch.allclose(got.double(), expected.double() / 784, rtol=1e-4),
            "bernoulli_nll is the mean over pixels, 784 times too small.",
            "the log-likelihood of an image is the *sum* over its independent pixels.")
    expect(bool((got > 0).all()), "bernoulli_nll has negative values: a negative log-likelihood of a probability "
           "below 1 is positive.", "check the sign: NLL = -log p.")
    close(got, expected, "bernoulli_nll", hint, rtol=1e-4, atol=1e-3, what="the Bernoulli NLL")
    passed(f"NLL of 4 random images under random logits: {', '.join(f'{v:.0f}' for v in got.tolist())} nats.")

