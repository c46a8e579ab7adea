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
from .checks import as_bool, as_number, call, close, expect, given, mistake, passed

NOTEBOOK = "09_diffusion_from_scratch"


def show(exercise: str) -> None:
    """Print our solution to ``exercise`` ("ex1", "ex2", ...) of this notebook."""
    solutions.show(NOTEBOOK, exercise)


def _column(values: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return values[t].view(-1, 1, 1, 1)  # (B,) -> (B, 1, 1, 1)


def check_noisy_batch(noisy_batch) -> None:
    """Exercise 1: ``noisy_batch(x0, t, schedule, rng) -> (x_t, eps)``, Ho et al. eq. 4, with eps drawn from ``rng``."""
    hint = ("draw the noise from rng (torch.randn takes a generator= argument); schedule.alpha_bar[t] has one value "
            "per image, shape (B,): reshape it so that it broadcasts over C, H, W; then eq. 4. ex.show(\"ex1\") prints "
            "our solution.")
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
    drawn = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))  # what rng gives first
    mistake(torch.equal(xt, drawn) or torch.allclose(eps, schedule.add_noise(x0, xt, t), atol=1e-4),
            "noisy_batch returns (eps, x_t): the two are swapped. The first value is the noise, the second the noisy "
            "image.", "return them in the order (x_t, eps).")
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
    value = as_number(resblock_parameters, "resblock_parameters", hint)
    expect(math.isfinite(value) and value == int(value),
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


def check_beta_tilde(alpha_bar_prev, my_beta_tilde, small_is_smaller) -> None:
    """Exercise 4: alpha_bar_{t-1} and beta tilde (Ho et al. eq. 7) of the cosine schedule, T = 1000, in float64, and
    whether beta tilde <= beta at every step."""
    hint = ("alpha_bar is the running product of 1 - betas (torch.cumprod); alpha_bar_{t-1} is the same sequence "
            "moved one step later, with a 1 in front (torch.cat); then eq. 7. Keep everything in float64. "
            "ex.show(\"ex4\") prints our solution.")
    prev = given(alpha_bar_prev, "alpha_bar_prev", hint)
    tilde = given(my_beta_tilde, "my_beta_tilde", hint)
    given(small_is_smaller, "small_is_smaller", "answer True or False: is beta tilde_t <= beta_t at every step?")
    betas = NoiseSchedule.from_name("cosine", 1000).betas.double()  # (T,)
    alpha_bar = torch.cumprod(1 - betas, 0)  # (T,) in float64
    expected_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])  # (T,)
    expected = (1 - expected_prev) / (1 - alpha_bar) * betas  # (T,) eq. 7 in float64
    for name, value in (("alpha_bar_prev", prev), ("my_beta_tilde", tilde)):
        expect(isinstance(value, torch.Tensor), f"{name} should be a tensor, got {type(value).__name__}.", hint)
        expect(tuple(value.shape) == (1000,), f"{name} has shape {tuple(value.shape)}; one value per step, "
               "(T,) = (1000,), is expected.", hint)
    # alpha_bar_{t-1} first: the usual slips are not shifting it, shifting it round (torch.roll), or float32
    got_prev = prev.detach().double().cpu()
    mistake(torch.allclose(got_prev, alpha_bar, rtol=1e-6, atol=0),
            "alpha_bar_prev equals alpha_bar_t: it is not shifted by one step.",
            "alpha_bar_{t-1} at step t is alpha_bar at step t - 1: alpha_bar[:-1], with a 1 put in front.")
    mistake(abs(got_prev[0].item() - 1) > 1e-12, f"alpha_bar_prev[0] is {got_prev[0].item():.6g}; before the first "
            "step nothing has been noised, so alpha_bar_{t-1} = 1 there.",
            "put a 1 in front of alpha_bar[:-1] (torch.roll would bring the last value, alpha_bar_{T-1}, round).")
    close(got_prev, expected_prev, "alpha_bar_prev", hint, rtol=1e-6, atol=1e-12, what="alpha_bar_{t-1}")
    got = tilde.detach().double().cpu()
    expect(bool(torch.isfinite(got).all()), "my_beta_tilde has NaN or infinite entries.", hint)
    mistake(torch.allclose(got, betas, rtol=1e-6), "my_beta_tilde equals beta_t: the factor "
            "(1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) came out as 1.",
            "use the shifted alpha_bar_prev in the numerator and alpha_bar_t in the denominator.")
    mistake(abs(got[0].item()) > 1e-12, f"my_beta_tilde[0] is {got[0].item():.3g}; at the first step nothing comes "
            "before, alpha_bar_{t-1} = 1, so beta tilde is 0 there.",
            "compute it from alpha_bar_prev, whose first entry is 1.")
    # float32 is wrong in the 4th digit at t = 1 (relative 3.5e-4), so this branch must fire before the final check,
    # with the same tolerance as that check
    relative = ((got[1:] - expected[1:]).abs() / expected[1:]).max().item()  # beta tilde > 0 for t >= 1
    worst = int(((got[1:] - expected[1:]).abs() / expected[1:]).argmax()) + 1
    right = torch.allclose(got, expected, rtol=1e-7, atol=1e-15)
    digits = max(int(-math.log10(max(relative, 1e-300))), 1)
    mistake(not right and relative < 1e-2,
            f"my_beta_tilde is right to about {digits} digits only (relative error "
            f"{relative:.1e} at t = {worst}): float32 loses the digits of 1 - alpha_bar_t at the first steps, where "
            f"alpha_bar_t = {alpha_bar[0].item():.6f}.",
            "start from cosine.betas.double() and keep every step (cumprod, the shift, eq. 7) in float64; "
            "cosine.alpha_bar is float32.")
    close(got, expected, "my_beta_tilde", hint, rtol=1e-7, atol=1e-15, what="beta tilde of eq. 7")
    truth = bool((expected <= betas * (1 + 1e-9)).all())
    answer = as_bool(small_is_smaller, "small_is_smaller", "answer True or False: is beta tilde_t <= beta_t at every "
                     "step?")
    mistake(answer != truth, f"small_is_smaller = {answer} is not right.",
            "look at the factor (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t): alpha_bar only falls with t, so is the "
            "factor above or below 1?")
    ratio = got[1:] / betas[1:]
    passed(f"Beta tilde <= beta at every step ('small' and 'large' are the right names); the ratio beta tilde / "
           f"beta goes from {ratio[0].item():.2f} at t = 1 to {ratio[-1].item():.3f} at t = T-1: they differ in the "
           "first steps.")


def check_label_helps(mse_label, mse_null, model, schedule, prediction, test) -> None:
    """Exercise 5: the error of x0_hat at t = 600 with the true labels and with the null label (first 8 test images,
    noise from ``torch.Generator().manual_seed(0)``, x0_hat clipped to [-1, 1])."""
    hint = ("three steps, twice: noise x_probe to t_probe with noise_probe (eq. 4); get the model's noise estimate "
            "with model_eps_fn for a tensor of labels (y_probe, then a tensor filled with model.config.null_label); "
            "turn it into x0_hat (schedule.predict_x0), clip it, and compare with x_probe (F.mse_loss). "
            "ex.show(\"ex5\") prints our solution.")
    with_label = as_number(mse_label, "mse_label", hint)
    with_null = as_number(mse_null, "mse_null", hint)
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
