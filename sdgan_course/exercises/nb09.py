"""Checks for the exercises of notebook 09, diffusion from scratch (DDPM).

Each ``check_*`` takes the learner's answer first; a blank (``...``) gets "not filled in yet" and the exercise's hint,
a wrong answer gets what is wrong with it. ``show("ex1")`` prints our solution.

Shape legend: B batch, C channels, H x W pixels, T diffusion steps.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..nn.inspect import count_parameters
from ..nn.resnet import ResBlock
from ..sample.guidance import model_eps_fn
from ..schedules import NoiseSchedule
from . import solutions
from .checks import call, close, expect, given, mistake, passed

NOTEBOOK = "09_diffusion_from_scratch"


def show(exercise: str) -> None:
    """Print our solution to ``exercise`` ("ex1", "ex2", ...) of this notebook."""
    solutions.show(NOTEBOOK, exercise)


def _column(values: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return values[t].view(-1, 1, 1, 1)  # (B,) -> (B, 1, 1, 1)


def check_noisy_batch(noisy_batch) -> None:
    """Exercise 1: ``noisy_batch(x0, t, schedule, rng) -> (x_t, eps)``, Ho et al. eq. 4, with eps drawn from ``rng``."""
    hint = ("eps = torch.randn(x0.shape, generator=rng); take alpha_bar_t = schedule.alpha_bar[t] as a (B, 1, 1, 1) "
            "column (.view(-1, 1, 1, 1)) so it broadcasts over C, H, W; x_t = sqrt(alpha_bar_t) x0 + "
            "sqrt(1 - alpha_bar_t) eps; return xt, eps.")
    schedule = NoiseSchedule.from_name("cosine", 1000)
    x0 = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1  # (4, 1, 28, 28) in [-1, 1]
    t = torch.tensor([0, 10, 500, 999])  # (4,)
    out = call(noisy_batch, x0, t, schedule, torch.Generator().manual_seed(1), name="noisy_batch", hint=hint)
    expect(isinstance(out, tuple) and len(out) == 2 and all(isinstance(o, torch.Tensor) for o in out),
           "noisy_batch should return two tensors, (x_t, eps).", hint)
    xt, eps = out
    for name, value in (("x_t", xt), ("eps", eps)):
        expect(tuple(value.shape) == (4, 1, 28, 28), f"{name} has shape {tuple(value.shape)}; for x0 of shape "
               "(4, 1, 28, 28) it should have the same shape.", hint)
    again = call(noisy_batch, x0, t, schedule, torch.Generator().manual_seed(1), name="noisy_batch", hint=hint)
    expect(torch.equal(again[1], eps), "Two calls with the same seeded rng gave different eps: the noise is not drawn "
           "from rng.", "pass the generator: torch.randn(x0.shape, generator=rng).")
    expect(abs(eps.std().item() - 1) < 0.1 and abs(eps.mean().item()) < 0.1,
           f"eps has mean {eps.mean().item():.3f} and standard deviation {eps.std().item():.3f}; standard Gaussian "
           "noise has 0 and 1.", "draw eps with torch.randn (not torch.rand, which is uniform on [0, 1]).")
    ab = _column(schedule.alpha_bar, t)  # (4, 1, 1, 1)
    mistake(torch.allclose(xt, ab * x0 + (1 - ab) * eps, atol=1e-4),
            "x_t scales x0 by alpha_bar_t and eps by 1 - alpha_bar_t: those are the variances, not the scales.",
            "take square roots: sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps.")
    alpha = _column(schedule.alphas, t)
    mistake(torch.allclose(xt, alpha.sqrt() * x0 + (1 - alpha).sqrt() * eps, atol=1e-4),
            "x_t uses alpha_t = 1 - beta_t: that is one step of the chain (eq. 2), not the jump from x0.",
            "the jump uses the product alpha_bar_t = alpha_1 ... alpha_t: schedule.alpha_bar.")
    mistake(torch.allclose(xt, (1 - ab).sqrt() * x0 + ab.sqrt() * eps, atol=1e-4),
            "x0 and eps have swapped coefficients: at t = 0 x_t should be almost x0, at t = T-1 almost noise.",
            "sqrt(alpha_bar_t) goes with x0, sqrt(1 - alpha_bar_t) with eps.")
    close(xt, schedule.add_noise(x0, eps, t), "x_t", hint, atol=1e-4, what="x_t of eq. 4 for the eps you returned")
    passed(f"Any noise level in one line, no loop. At t = 999 of the cosine schedule x_t keeps "
           f"sqrt(alpha_bar) = {schedule.alpha_bar[999].sqrt().item():.1e} of the image.")


def check_x0_from_v(x0_from_v) -> None:
    """Exercise 2: ``x0_from_v(xt, v, t, schedule) -> x0``, without dividing by sqrt(alpha_bar)."""
    hint = ("substitute x_t = sqrt(ab) x0 + sqrt(1 - ab) eps and v = sqrt(ab) eps - sqrt(1 - ab) x0 into "
            "sqrt(ab) x_t - sqrt(1 - ab) v: the eps terms cancel, and ab + (1 - ab) = 1 is left in front of x0.")
    rng = torch.Generator().manual_seed(2)
    x0 = torch.rand(4, 1, 28, 28, generator=rng) * 2 - 1  # (4, 1, 28, 28)
    eps = torch.randn(4, 1, 28, 28, generator=rng)  # (4, 1, 28, 28)
    t = torch.tensor([0, 300, 700, 999])  # (4,)
    for schedule in (NoiseSchedule.from_name("linear", 1000),
                     NoiseSchedule.from_name("linear", 1000, zero_terminal_snr=True)):
        xt, v = schedule.add_noise(x0, eps, t), schedule.velocity(x0, eps, t)
        got = call(x0_from_v, xt, v, t, schedule, name="x0_from_v", hint=hint)
        expect(isinstance(got, torch.Tensor) and tuple(got.shape) == (4, 1, 28, 28),
               "x0_from_v should return a tensor shaped like x_t, (B, C, H, W).", hint)
        mistake(not bool(torch.isfinite(got).all()),
                f"x0_from_v gives NaN or infinity on the {schedule.name} schedule at t = 999, where alpha_bar = 0: it "
                "divides by sqrt(alpha_bar) (it goes through eps).",
                "no division is needed: x0 = sqrt(ab) x_t - sqrt(1 - ab) v.")
        ab = _column(schedule.alpha_bar, t)
        mistake(torch.allclose(got, eps, atol=1e-4), "x0_from_v returns the noise eps, not x0.",
                "eps = sqrt(1 - ab) x_t + sqrt(ab) v; x0 is the other combination, sqrt(ab) x_t - sqrt(1 - ab) v.")
        mistake(torch.allclose(got, ab.sqrt() * xt + (1 - ab).sqrt() * v, atol=1e-4),
                "x0_from_v adds the velocity term; it should be subtracted.",
                "v = sqrt(ab) eps - sqrt(1 - ab) x0 carries -x0: x0 = sqrt(ab) x_t - sqrt(1 - ab) v.")
        close(got, x0, "x0_from_v(xt, v, t, schedule)", hint, atol=1e-4, what=f"x0 on the {schedule.name} schedule")
    passed("You get x0 back exactly from the true velocity, even at t = T-1 of a zero-terminal-SNR schedule, where "
           "x0 from eps divides by sqrt(alpha_bar) = 0.")


def check_resblock_parameters(resblock_parameters) -> None:
    """Exercise 3: the parameter count of ``ResBlock(24, 48, temb_dim=96)``, worked out by hand."""
    hint = ("add up: GroupNorm(24) and GroupNorm(48) (a scale and a shift per channel), conv 3x3 24 -> 48 and "
            "48 -> 48 (k*k*C_in*C_out weights + C_out biases), Linear 96 -> 48 for the time embedding, and the 1x1 "
            "skip conv 24 -> 48.")
    value = given(resblock_parameters, "resblock_parameters", hint)
    expect(isinstance(value, (int, float)) and float(value) == int(value),
           f"resblock_parameters should be a whole number, got {value!r}.", hint)
    block = ResBlock(24, 48, temb_dim=96)
    expected = count_parameters(block)
    value = int(value)
    skip, temb = count_parameters(block.skip), count_parameters(block.temb)
    biases = sum(m.bias.numel() for m in (block.conv1, block.temb, block.conv2, block.skip))
    norms = count_parameters(block.norm1) + count_parameters(block.norm2)
    mistake(value == expected - skip, f"resblock_parameters = {value:,} leaves out the skip path.",
            "24 channels in, 48 out: the skip path x is widened by a 1x1 convolution, with its own weights and bias.")
    mistake(value == expected - temb, f"resblock_parameters = {value:,} leaves out the time embedding's layer.",
            "each block projects the time embedding (96 numbers) to its 48 channels with its own Linear layer.")
    mistake(value == expected - biases, f"resblock_parameters = {value:,} counts no biases.",
            "every convolution and the linear layer have one bias per output channel.")
    mistake(value == expected - norms, f"resblock_parameters = {value:,} leaves out the two GroupNorms.",
            "GroupNorm learns a scale and a shift per channel (24 + 24 and 48 + 48 numbers).")
    close(value, expected, "resblock_parameters", hint, rtol=0, atol=0.5, what="the parameter count of that block")
    passed(f"{expected:,} parameters, {count_parameters(block.conv2) / expected:.0%} of them in the second 3x3 "
           "convolution: the widest layer dominates.")


def check_beta_tilde(my_beta_tilde, small_is_smaller) -> None:
    """Exercise 4: beta tilde (Ho et al. eq. 7) of the cosine schedule, T = 1000, and whether it is <= beta."""
    hint = ("alpha_bar = cumprod(1 - betas); alpha_bar_prev = alpha_bar shifted right by one step with a 1 in "
            "front (torch.cat); beta_tilde = (1 - alpha_bar_prev) / (1 - alpha_bar) * betas, all in float64.")
    tilde = given(my_beta_tilde, "my_beta_tilde", hint)
    given(small_is_smaller, "small_is_smaller", "answer True or False: is beta tilde_t <= beta_t at every step?")
    schedule = NoiseSchedule.from_name("cosine", 1000)
    expect(isinstance(tilde, torch.Tensor), f"my_beta_tilde should be a tensor, got {type(tilde).__name__}.", hint)
    expect(tuple(tilde.shape) == (1000,), f"my_beta_tilde has shape {tuple(tilde.shape)}; one variance per step, "
           "(T,) = (1000,), is expected.", hint)
    got, betas = tilde.detach().double().cpu(), schedule.betas.double()
    expected = schedule.posterior_variance.double()
    mistake(torch.allclose(got, betas, rtol=1e-6), "my_beta_tilde equals beta_t: the factor "
            "(1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) came out as 1.",
            "alpha_bar_{t-1} is alpha_bar shifted by one step: torch.cat([ones(1), alpha_bar[:-1]]).")
    mistake(abs(got[0].item()) > 1e-12, f"my_beta_tilde[0] is {got[0].item():.3g}; at the first step nothing comes "
            "before, alpha_bar_{t-1} = 1, so beta tilde is 0 there.",
            "put a 1 in front of alpha_bar[:-1] (not alpha_bar[-1], as torch.roll would).")
    close_loose = torch.allclose(got[1:], expected[1:], rtol=1e-2)
    mistake(close_loose and not torch.allclose(got[1:], expected[1:], rtol=1e-5),
            "my_beta_tilde is right to about 3 digits only: float32 loses the digits of 1 - alpha_bar_t at the "
            "first steps, where alpha_bar_t is 0.99996.", "compute from cosine.betas.double(), in float64.")
    close(got, expected, "my_beta_tilde", hint, rtol=1e-5, atol=1e-12, what="beta tilde of eq. 7")
    truth = bool((expected <= betas * (1 + 1e-9)).all())
    expect(isinstance(small_is_smaller, bool), f"small_is_smaller should be True or False, got {small_is_smaller!r}.",
           "answer with a bool.")
    mistake(small_is_smaller != truth, f"small_is_smaller = {small_is_smaller} is not right.",
            "look at the factor (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t): alpha_bar only falls with t, so is the "
            "factor above or below 1?")
    ratio = (got[1:] / betas[1:]).double()
    passed(f"Beta tilde <= beta at every step ('small' and 'large' are the right names); the ratio beta tilde / "
           f"beta goes from {ratio[0].item():.2f} at t = 1 to {ratio[-1].item():.3f} at t = T-1: they differ in the "
           "first steps.")


def check_label_helps(mse_label, mse_null, model, schedule, prediction, test) -> None:
    """Exercise 5: the error of x0_hat at t = 600 with the true labels and with the null label (first 8 test images,
    noise from ``torch.Generator().manual_seed(0)``, x0_hat clipped to [-1, 1])."""
    hint = ("eps_fn = model_eps_fn(model, labels=..., schedule=schedule, prediction=prediction); x_t = "
            "schedule.add_noise(x_probe, noise_probe, t_probe); x0_hat = schedule.predict_x0(x_t, t_probe, "
            "eps_fn(x_t, t_probe)).clamp(-1, 1); F.mse_loss(x0_hat, x_probe).item(); once with y_probe and once "
            "with torch.full_like(y_probe, model.config.null_label).")
    with_label = float(given(mse_label, "mse_label", hint))
    with_null = float(given(mse_null, "mse_null", hint))
    device = next(model.parameters()).device
    x0, y = test.images[:8].to(device), test.labels[:8].to(device)  # (8, 1, 28, 28), (8,)
    t = torch.full((8,), 600, device=device)  # (8,)
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0)).to(device)  # (8, 1, 28, 28)
    xt = schedule.add_noise(x0, noise, t)  # (8, 1, 28, 28)
    both = torch.cat([y, torch.full_like(y, model.config.null_label)])  # (16,): true labels, then null
    with torch.no_grad():
        eps_hat = model_eps_fn(model, labels=both, schedule=schedule, prediction=prediction)(
            torch.cat([xt, xt]), torch.cat([t, t])).chunk(2)  # two (8, 1, 28, 28)
    x0_raw = [schedule.predict_x0(xt, t, e) for e in eps_hat]  # unclipped
    expected = [F.mse_loss(x.clamp(-1, 1), x0).item() for x in x0_raw]
    unclipped = [F.mse_loss(x, x0).item() for x in x0_raw]
    noise_error = [F.mse_loss(e, noise).item() for e in eps_hat]

    def near(a, b):
        return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-6)

    mistake(near(with_label, expected[1]) and near(with_null, expected[0]) and not near(*expected),
            "mse_label and mse_null are swapped.", "mse_label goes with y_probe, mse_null with the null label.")
    mistake(near(with_label, noise_error[0]) or near(with_null, noise_error[1]),
            "that is the error of the noise estimate, ||eps - eps_hat||^2, not of the image.",
            "turn eps_hat into x0_hat with schedule.predict_x0(x_t, t_probe, eps_hat) and compare it with x_probe.")
    mistake((near(with_label, unclipped[0]) or near(with_null, unclipped[1]))
            and not near(unclipped[0], expected[0]),
            "x0_hat was not clipped: at t = 600 eq. 15 divides by sqrt(alpha_bar) and overshoots the data range.",
            "clip the prediction to the image range with .clamp(-1, 1) before comparing.")
    close(with_label, expected[0], "mse_label", hint, rtol=1e-3, what="the error with the true labels")
    close(with_null, expected[1], "mse_null", hint, rtol=1e-3, what="the error with the null label")
    if with_label < with_null:
        passed(f"With the true labels the error of the model's one-call guess of x0 is "
               f"{1 - with_label / with_null:.0%} smaller: at t = 600 the noisy image leaves the garment open and the "
               "label settles it. The gap between the two estimates is what classifier-free guidance (notebook 10) "
               "amplifies.")
    else:
        passed("Here the label did not help: is this the shipped model? An untrained network has not learned to "
               "use the label yet.")
