"""Checks for the exercises of notebook 10, faster and steerable sampling (DDIM, spacing, guidance).

Each ``check_*`` takes the learner's answer first; a blank (``...``) gets "not filled in yet" and the exercise's hint,
a wrong answer gets what is wrong with it. ``show("ex1")`` prints our solution.

Shape legend: B batch, C channels, H x W pixels.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from ..metrics import extract_features
from ..sample.ddim import ddim_step
from ..sample.diffusion import generate_diffusion
from ..sample.guidance import guided_eps, model_eps_fn
from ..schedules import NoiseSchedule, sampling_timesteps
from . import solutions
from .checks import as_number, call, close, expect, given, mistake, passed

NOTEBOOK = "10_faster_and_steerable_sampling"


def show(exercise: str) -> None:
    """Print our solution to ``exercise`` ("ex1", "ex2", ...) of this notebook."""
    solutions.show(NOTEBOOK, exercise)


def check_ddim_step_eta0(ddim_step_eta0) -> None:
    """Exercise 1: ``ddim_step_eta0(eps, xt, t, s, schedule)``, Song et al. eq. 12 with sigma = 0, s = -1 the clean
    image; compared with the library's ``ddim_step(..., eta=0, clip_x0=False)``."""
    hint = ("eq. 12 with sigma = 0 has two terms: sqrt(ab_s) times the predicted clean image x0_hat (the first "
            "underbrace), and the term pointing back towards x_t. Read ab_t and ab_s from schedule.alpha_bar; s = -1 "
            "is the clean image, whose alpha_bar is 1. ex.show(\"ex1\") prints our solution.")
    schedule = NoiseSchedule.from_name("linear", 1000)
    rng = torch.Generator().manual_seed(0)
    x0 = torch.rand(3, 1, 28, 28, generator=rng) * 2 - 1  # (3, 1, 28, 28)
    noise = torch.randn(3, 1, 28, 28, generator=rng)
    for t, s in [(999, 899), (500, 450), (40, -1)]:
        xt = schedule.add_noise(x0, noise, torch.full((3,), t))  # (3, 1, 28, 28)
        eps = noise + 0.1 * torch.randn(3, 1, 28, 28, generator=rng)  # a network's imperfect estimate
        got = call(ddim_step_eta0, eps, xt, t, s, schedule, name="ddim_step_eta0", hint=hint)
        expect(isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(xt.shape),
               "ddim_step_eta0 should return one tensor shaped like x_t: x_s.", hint)
        expected = ddim_step(schedule, eps, xt, t, s, eta=0.0, clip_x0=False).prev
        ab_t = schedule.alpha_bar[t]
        ab_s = schedule.alpha_bar[s] if s >= 0 else torch.tensor(1.0)
        x0_hat = (xt - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()

        def same(a, got=got):
            return torch.allclose(got, a, rtol=1e-4, atol=1e-4)

        last = schedule.alpha_bar[-1]
        mistake(s == -1 and same(last.sqrt() * x0_hat + (1 - last).sqrt() * eps),
                "for s = -1 your step used schedule.alpha_bar[-1]: in Python that is the *last* entry, the noisiest "
                "step, so the step went back to pure noise.",
                "s = -1 stands for the clean image, whose alpha_bar is 1: use 1.0 when s < 0.")
        mistake(s >= 0 and same(ab_s.sqrt() * x0_hat),
                f"x_s for {t} -> {s} is only sqrt(ab_s) x0_hat: the term pointing back towards x_t is missing.",
                "eq. 12 with sigma = 0 adds sqrt(1 - ab_s) eps: x_s keeps the noise level of step s.")
        mistake(s >= 0 and same(ab_s.sqrt() * x0_hat + (1 - ab_t).sqrt() * eps),
                "the noise term uses sqrt(1 - ab_t), the noise level of the step you leave.",
                "x_s should have the noise level of the step you arrive at: sqrt(1 - ab_s) eps.")
        mistake(same(ab_s.sqrt() * x0_hat.clamp(-1, 1) + (1 - ab_s).sqrt() * eps) and not same(expected),
                "x0_hat was clipped to [-1, 1]: this exercise is the bare eq. 12 (the library's clip_x0=False).",
                "leave x0_hat unclipped.")
        close(got, expected, "ddim_step_eta0", hint, rtol=1e-4, atol=1e-4,
              what=f"the library's DDIM step {t} -> {s} with eta = 0")
    passed("Eq. 12 with eta = 0 has no random numbers in it: the same x_T always gives the same image, which is "
           "what makes DDIM inversion possible (section 4).")


def check_respaced_variance(sigma2_respaced, schedule) -> None:
    """Exercise 2: sigma^2 at eta = 1 (Song et al. eq. 16) for the respaced step 699 -> 679 of ``schedule``."""
    hint = ("square eq. 16 with eta = 1. The step leaves t = 699 and reaches s = 679: read alpha_bar_t and "
            "alpha_bar_s from SCHEDULE.alpha_bar, and .item() makes a tensor a number. ex.show(\"ex2\") prints our "
            "solution.")
    value = as_number(sigma2_respaced, "sigma2_respaced", hint)
    ab = schedule.alpha_bar.double()
    ab_t, ab_s = ab[699], ab[679]
    expected = ((1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)).item()

    def near(a):
        return math.isclose(value, a, rel_tol=1e-3)

    mistake(near(math.sqrt(expected)), f"sigma2_respaced = {value:.4g} is sigma, not sigma^2.",
            "eq. 16 gives sigma; square it (or drop the square roots).")
    one_step = schedule.posterior_variance[699].item()
    mistake(near(one_step), f"sigma2_respaced = {value:.4g} is beta tilde of the single step 699 -> 698.",
            "this step jumps 20 timesteps, to 679: use alpha_bar[679] as alpha_bar_s, not alpha_bar[698].")
    mistake(near((1 - ab_t / ab_s).item()),
            f"sigma2_respaced = {value:.4g} is beta' = 1 - ab_t / ab_s, DDPM's 'large' variance of this step.",
            "eq. 16 multiplies it by (1 - ab_s) / (1 - ab_t).")
    mistake(value < 0, f"sigma2_respaced = {value:.4g} is negative: a variance cannot be.",
            "t = 699 is the noisier step (smaller alpha_bar), s = 679 the one you go to: check which is which.")
    close(value, expected, "sigma2_respaced", hint, rtol=1e-4, what="sigma^2 of eq. 16 for 699 -> 679")
    passed(f"sigma^2 = {value:.4g}, {value / one_step:.1f} times beta tilde of the single step 699 -> 698: a step "
           "that jumps 20 timesteps needs that much more fresh noise to stay DDPM's posterior (eta = 1).")


def _int_list(value, name: str, hint: str) -> list:
    value = given(value, name, hint)
    if isinstance(value, (torch.Tensor, np.ndarray)):
        value = value.tolist()
    expect(isinstance(value, (list, tuple)), f"`{name}` should be a list of timesteps, got {type(value).__name__}.",
           hint)
    try:
        whole = all(float(v) == int(v) for v in value)
    except (TypeError, ValueError):
        whole = False
    expect(whole, f"`{name}` should hold whole timesteps (numbers).", hint)
    return [int(v) for v in value]


def check_spacing(leading_8, trailing_8) -> None:
    """Exercise 3: the 8 timesteps (T = 1000) of 'leading' and of 'trailing' spacing, in the order a sampler visits
    them."""
    hint = ("with T = 1000 and S = 8, T / S = 125. Leading: k T / S for k = S-1, ..., 0. Trailing: "
            "round(T - k T / S) - 1 for k = 0, ..., S-1. Both from the noisiest timestep down.")
    lead, trail = _int_list(leading_8, "leading_8", hint), _int_list(trailing_8, "trailing_8", hint)
    want_lead = sampling_timesteps(8, 1000, spacing="leading").tolist()
    want_trail = sampling_timesteps(8, 1000, spacing="trailing").tolist()
    for name, got in (("leading_8", lead), ("trailing_8", trail)):
        expect(len(got) == 8, f"`{name}` has {len(got)} timesteps; 8 steps visit 8 timesteps.", hint)
    mistake(lead == want_trail and trail == want_lead, "leading_8 and trailing_8 are swapped.",
            "trailing is the one that starts at T - 1 = 999.")
    for name, got, want in (("leading_8", lead, want_lead), ("trailing_8", trail, want_trail)):
        mistake(got == want[::-1], f"`{name}` is in ascending order.",
                "a sampler visits the timesteps from noisy to clean: list them descending.")
    mistake(trail == [t + 1 for t in want_trail], "trailing_8 starts at 1000: code timesteps run from 0 to T-1 = 999.",
            "subtract 1: round(T - k T / S) - 1.")
    mistake(lead == [t + 125 for t in want_lead], "leading_8 starts at 1000 and never reaches 0.",
            "k runs from S-1 = 7 down to 0: the first timestep is 7 x 125, the last 0.")
    mistake(lead == [t + 1 for t in want_lead], "leading_8 is leading spacing with steps_offset = 1, as Stable "
            "Diffusion 1.x's scheduler configs set it (876, ..., 1).",
            "the library's leading spacing, the table's k T / S, has no offset: it ends at 0.")
    expect(lead == want_lead, f"leading_8 = {lead} is not the leading spacing.", hint)
    expect(trail == want_trail, f"trailing_8 = {trail} is not the trailing spacing.", hint)
    passed(f"Leading starts at {lead[0]} and never gives the network the pure noise of t = 999 that the sampler "
           f"starts from; trailing starts at {trail[0]} and ends at {trail[-1]}, leading spends its last step "
           f"on an almost clean image at t = {lead[-1]}.")


class _CountingNet(nn.Module):
    """A stand-in for a class-conditional U-Net that predicts zero noise and counts the images it is shown."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(()))  # gives the samplers a device
        self.config = SimpleNamespace(num_classes=num_classes, null_label=num_classes)
        self.images_seen = 0

    def forward(self, x, t, y=None):
        self.images_seen += x.shape[0]
        return torch.zeros_like(x)


def _nfe_per_image(guidance: float, steps: int = 15) -> float:
    net, n = _CountingNet(), 2
    generate_diffusion(net, NoiseSchedule.from_name("linear", 1000), n, labels=torch.tensor([3, 7]),
                       sampler="dpm-solver", steps=steps, guidance=guidance, rng=torch.Generator().manual_seed(0))
    return net.images_seen / n


def check_guided_nfe(nfe_guided, nfe_unconditional) -> None:
    """Exercise 4: network evaluations per image of 15 DPM-Solver++ steps at guidance scale 2 and at scale 0
    (measured here by counting what a stand-in network is shown)."""
    hint = ("one evaluation per image per step for the estimate the step needs; eq. 6 needs eps(x_t, y) and "
            "eps(x_t, null) unless one of its two terms drops out.")
    guided = as_number(nfe_guided, "nfe_guided", hint)
    unconditional = as_number(nfe_unconditional, "nfe_unconditional", hint)
    want_guided, want_unconditional = _nfe_per_image(2.0), _nfe_per_image(0.0)
    mistake(guided == 15, "nfe_guided = 15 counts one evaluation per step.",
            "at s = 2 each step needs both the conditional and the unconditional estimate (the library runs them "
            "as one batch of 2B, but that is still two evaluations per image).")
    mistake(unconditional == 30, "nfe_unconditional = 30 counts both estimates at s = 0.",
            "at s = 0, eq. 6 is eps_null + 0 (eps_y - eps_null) = eps_null: only the unconditional estimate is needed, "
            "and the library computes only that one.")
    close(guided, want_guided, "nfe_guided", hint, rtol=0, atol=1e-9, what="the evaluations per image at s = 2")
    close(unconditional, want_unconditional, "nfe_unconditional", hint, rtol=0, atol=1e-9,
          what="the evaluations per image at s = 0")
    passed(f"{want_guided:.0f} and {want_unconditional:.0f}: guidance doubles the cost of every step, except at "
           "s = 0 and s = 1, where eq. 6 keeps one estimate. That is why the tables count NFE, not steps.")


def check_guidance_notation(scale_for_w, w_for_unconditional) -> None:
    """Exercise 5: the library's scale s for the paper's weight w = 0.3, and the w that gives the unconditional
    model (checked numerically with ``guided_eps``)."""
    hint = ("the paper: (1 + w) eps_c - w eps_u; the library: eps_u + s (eps_c - eps_u) = s eps_c + (1 - s) eps_u. "
            "Match the coefficients of eps_c.")
    s = as_number(scale_for_w, "scale_for_w", hint)
    w = as_number(w_for_unconditional, "w_for_unconditional", hint)
    rng = torch.Generator().manual_seed(0)
    eps_c, eps_u = torch.randn(16, generator=rng), torch.randn(16, generator=rng)  # (16,) two estimates
    mistake(math.isclose(s, 0.3), "scale_for_w = 0.3 is the paper's w itself.",
            "expand the library's form: s eps_c + (1 - s) eps_u, and compare it with (1 + w) eps_c - w eps_u.")
    mistake(math.isclose(s, 0.7), "scale_for_w = 0.7 is 1 - w: the sign is off.",
            "the coefficient of eps_c is 1 + w in the paper and s in the library.")
    close(guided_eps(eps_c, eps_u, s), (1 + 0.3) * eps_c - 0.3 * eps_u, "guided_eps(eps_c, eps_u, scale_for_w)",
          hint, rtol=1e-6, atol=1e-6, what="the paper's estimate at w = 0.3")
    mistake(math.isclose(w, 0.0, abs_tol=1e-12), "w = 0 gives (1 + 0) eps_c - 0 eps_u = eps_c: the plain conditional "
            "model, not the unconditional one.", "which w makes the coefficient of eps_c zero?")
    close((1 + w) * eps_c - w * eps_u, eps_u, "(1 + w) eps_c - w eps_u", "which w makes the coefficient of eps_c "
          "zero?", rtol=1e-6, atol=1e-6, what="the unconditional estimate eps_u")
    passed(f"s = 1 + w: the paper's w = 0.3 is s = {s:g}; w = 0 (s = 1) is the conditional model and w = {w:g} "
           "(s = 0) the unconditional one. diffusers' Stable Diffusion default, guidance_scale = 7.5, is w = 6.5.")


def check_guided_guess(p_class_s1, p_class_s3, model, schedule, prediction, classifier) -> None:
    """Exercise 6: the classifier's mean probability of the requested class (0..7) for the network's first guess of
    x0 at t = 700 from seeded pure noise, at guidance scale 1 and 3."""
    hint = ("for each scale: the guided noise estimate of classifier_free_guidance (section 7) at x_noise and t_700, "
            "x0_hat from SCHEDULE.predict_x0 clipped to [-1, 1], the classifier's probabilities of x0_hat, and the "
            "mean of each image's probability of its own requested class. ex.show(\"ex6\") prints our solution.")
    p1 = as_number(p_class_s1, "p_class_s1", hint)
    p3 = as_number(p_class_s3, "p_class_s3", hint)
    device = next(model.parameters()).device
    y = torch.arange(8, device=device)  # (8,) the classes 0..7
    x = torch.randn(8, model.config.in_channels, 28, 28, generator=torch.Generator().manual_seed(0)).to(device)
    t = torch.full((8,), 700, device=device)
    expected, accuracy = {}, {}
    with torch.no_grad():  # both estimates in one batch: (16, C, 28, 28)
        both = model_eps_fn(model, labels=torch.cat([y, torch.full_like(y, model.config.null_label)]),
                            schedule=schedule, prediction=prediction)(torch.cat([x, x]), torch.cat([t, t]))
        eps_cond, eps_null = both.chunk(2)
        guesses = [schedule.predict_x0(x, t, guided_eps(eps_cond, eps_null, scale)).clamp(-1, 1) for scale in (1, 3)]
        probs = extract_features(torch.cat(guesses), classifier).probs.view(2, 8, -1)  # (scale, image, class)
    for scale, p in zip((1.0, 3.0), probs, strict=True):
        expected[scale] = p[torch.arange(8), y.cpu()].mean().item()
        accuracy[scale] = (p.argmax(1) == y.cpu()).float().mean().item()

    def near(a, b):
        return math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-6)

    mistake(near(p1, expected[3.0]) and near(p3, expected[1.0]) and not near(expected[1.0], expected[3.0]),
            "p_class_s1 and p_class_s3 are swapped.",
            "p_class_s1 is the probability at scale 1, p_class_s3 at scale 3.")
    mistake((near(p1, accuracy[1.0]) and not near(p1, expected[1.0]))
            or (near(p3, accuracy[3.0]) and not near(p3, expected[3.0])),
            "that is the fraction of guesses the classifier names correctly, not its mean probability.",
            "average the probability of the requested class: probs[torch.arange(8), y_ask].mean().")
    mistake(near(p3, expected[1.0]) and not near(expected[1.0], expected[3.0]),
            "p_class_s3 is the probability at scale 1: the guidance scale 3 did not reach the noise estimate.",
            "build a second eps_fn with classifier_free_guidance(..., scale=3.0, ...) and use it for p_class_s3.")
    close(p1, expected[1.0], "p_class_s1", hint, rtol=1e-3, what="the mean probability at scale 1")
    close(p3, expected[3.0], "p_class_s3", hint, rtol=1e-3, what="the mean probability at scale 3")
    if p3 > p1:
        passed(f"Guidance raises the classifier's probability of the requested class from {p1:.2f} to {p3:.2f} "
               "already in the network's first guess of x0: eq. 6 pushes every step, from the first, towards "
               "images that are unmistakably of the class.")
    else:
        passed(f"Here guidance did not raise it ({p1:.2f} -> {p3:.2f}): is this the shipped model? An untrained "
               "network has not learned what the label means.")
