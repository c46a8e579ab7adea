"""Checks for the exercises of notebook 07, generate, score, select.

Each ``check_*`` takes the learner's answer first; a blank (``...``) gets "not filled in yet" and the exercise's hint,
a wrong answer gets what is wrong with it. ``show("ex1")`` prints our solution.
"""

from __future__ import annotations

import math

import torch

from ..sample import gan as selection
from . import solutions
from .checks import ExerciseError, as_number, call, close, expect, mistake, passed

NOTEBOOK = "07_generate_score_select"


def show(exercise: str) -> None:
    """Print our solution to ``exercise`` ("ex1", "ex2", ...) of this notebook."""
    solutions.show(NOTEBOOK, exercise)


def check_slerp(slerp_by_hand) -> None:
    """Exercise 1: spherical interpolation of two latent codes, against ``selection.slerp``."""
    hint = ("first the angle Omega between z0 and z1, from their dot product divided by both norms; then weight z0 "
            "and z1 with the sines of section 4's formula.")
    rng = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(2, 64, generator=rng, dtype=torch.float64)  # (64,) each
    got = {t: call(slerp_by_hand, z0, z1, t, name="slerp_by_hand", hint=hint) for t in (0.0, 0.3, 0.5, 1.0)}
    for t, value in got.items():
        expect(isinstance(value, torch.Tensor) and tuple(value.shape) == (64,),
               f"slerp_by_hand(z0, z1, {t}) should be a tensor of z0's shape (64,).", hint)
        mistake(bool(torch.isnan(value).any()), f"slerp_by_hand(z0, z1, {t}) has NaN entries: arccos got a cosine "
                "outside [-1, 1].", "divide the dot product by both norms before the arccos.")
    mistake(torch.allclose(got[0.0], z1) and torch.allclose(got[1.0], z0),
            "slerp_by_hand runs backwards: it gives z1 at t = 0 and z0 at t = 1.",
            "the weight of z0 is sin((1 - t) Omega) / sin Omega, which is 1 at t = 0.")
    mistake(torch.allclose(got[0.5], (z0 + z1) / 2), "slerp_by_hand(z0, z1, 0.5) is the straight line's midpoint: "
            "that is lerp.", "the weights are sines of angles, sin((1 - t) Omega) / sin Omega and "
            "sin(t Omega) / sin Omega, not 1 - t and t.")
    for t, value in got.items():
        close(value, selection.slerp(z0, z1, t), f"slerp_by_hand(z0, z1, {t})", hint, rtol=1e-6, atol=1e-8,
              what=f"selection.slerp at t = {t}")
    norms = [f"{float(got[t].norm()):.2f}" for t in (0.0, 0.5, 1.0)]
    passed(f"your slerp equals the library's; its norm stays close to the end points' ({', '.join(norms)} at "
           f"t = 0, 0.5, 1; sqrt(64) = 8 is typical), where lerp's midpoint has {float(((z0 + z1) / 2).norm()):.2f}.")


def check_lerp_norm(lerp_norm_at_quarter, z_dim) -> None:
    """Exercise 2: the typical norm of lerp(z0, z1; 1/4) for independent z0, z1 ~ N(0, I_Z)."""
    hint = ("a weighted sum of independent standard Gaussians is Gaussian: what is its variance per coordinate, and "
            "what norm does a vector of Z such coordinates typically have (the end points, variance 1, have sqrt(Z))?")
    value = as_number(lerp_norm_at_quarter, "lerp_norm_at_quarter", hint)
    t = 0.25
    expected = math.sqrt(z_dim * ((1 - t) ** 2 + t**2))
    mistake(math.isclose(value, math.sqrt(z_dim), rel_tol=1e-3), f"lerp_norm_at_quarter = {value:.3g} is the norm "
            "of the end points (sqrt(Z)); lerp cuts inside the sphere.",
            "weights 0.75 and 0.25 on independent vectors add in quadrature, not linearly.")
    mistake(math.isclose(value, math.sqrt(z_dim / 2), rel_tol=1e-3), f"lerp_norm_at_quarter = {value:.3g} is the "
            "midpoint's norm, at t = 1/2.", "at t = 1/4 the weights are 0.75 and 0.25.")
    mistake(math.isclose(value, expected**2, rel_tol=1e-3), f"lerp_norm_at_quarter = {value:.3g} is the squared "
            "norm.", "take the square root.")
    close(value, expected, "lerp_norm_at_quarter", hint, rtol=2e-3,
          what=f"the typical norm of lerp at t = 1/4 in {z_dim} dimensions")
    rng = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(2, 20_000, z_dim, generator=rng)  # (20000, Z) each
    measured = selection.lerp(z0, z1, t).norm(dim=-1).mean()  # (20000,) -> mean
    shorter = (z0.norm(dim=-1) < expected).float().mean()  # how often the prior itself draws a code this short
    passed(f"sqrt({z_dim} x 0.625) = {expected:.2f} (the end points have about {math.sqrt(z_dim):.2f}); random pairs "
           f"give {float(measured):.2f} on average, a norm that only {float(shorter):.1%} of the codes drawn in "
           "training have.")


def check_selection_cost(acceptance_m4, acceptance_m8, candidates_best_of_16) -> None:
    """Exercise 3: acceptance rates of exact rejection sampling with bounds 4 and 8; candidates of best-of-16."""
    hint = ("a candidate x from p_g is accepted with probability p_data(x) / (M p_g(x)): average that over p_g. And "
            "how many candidates does best-of-N look at for every sample it keeps?")
    acceptance_m4 = as_number(acceptance_m4, "acceptance_m4", hint)  # a number, a 0-d tensor or a numpy scalar
    acceptance_m8 = as_number(acceptance_m8, "acceptance_m8", hint)
    candidates_best_of_16 = as_number(candidates_best_of_16, "candidates_best_of_16", hint)
    m4, m8 = selection.expected_acceptance_rate(math.log(4)), selection.expected_acceptance_rate(math.log(8))
    for name, value, m, rate in (("acceptance_m4", acceptance_m4, 4, m4), ("acceptance_m8", acceptance_m8, 8, m8)):
        mistake(math.isclose(value, m), f"{name} = {value:g} is the bound M itself, a number of "
                "candidates per accepted sample, not a fraction.", "the acceptance rate is 1/M.")
        mistake(m == 8 and math.isclose(value, m4), f"{name} = {value:g}, the same as with M = 4: "
                "but a looser bound makes every acceptance probability p_data / (M p_g) smaller.",
                "the rate is 1/M for any valid bound M: a looser bound is still exact, only slower.")
        mistake(math.isclose(value, 100 * rate), f"{name} = {value:g} is a percentage.",
                "give the fraction (between 0 and 1).")
        close(value, rate, name, hint, rtol=1e-9, what=f"the acceptance rate with bound M = {m}")
    # the library's own count: best-of-16 on a trivial generator, keeping 1,000 samples
    counted = selection.best_of_n(lambda n, rng: torch.zeros(n), lambda x: x, 1000, n=16).num_proposed
    mistake(candidates_best_of_16 == 1000, "candidates_best_of_16 = 1000 counts the kept samples.",
            "each kept sample is the best of 16 candidates.")
    close(candidates_best_of_16, counted, "candidates_best_of_16", hint, atol=0,
          what="the candidates best-of-16 draws for 1,000 samples")
    passed(f"acceptance 1/4 and 1/8: a looser bound stays exact but costs twice the candidates ({1000 / m4:,.0f} "
           f"and {1000 / m8:,.0f} for 1,000 samples); best-of-16 draws {counted:,} and, unlike rejection sampling, "
           "does not sample p_data.")


def check_exact_acceptance(exact_acceptance) -> None:
    """Exercise 4: exact rejection sampling's acceptance probability from logits, against DRS with gamma = eps = 0."""
    hint = ("the logit is log(p_data / p_g) and logit_max is log M, so p_data / (M p_g) is the exponential of a "
            "difference of the two.")
    logits = torch.tensor([-3.0, -2.0, -1.0, -0.25, 0.5])  # (5,)
    logit_max = 0.5
    got = call(exact_acceptance, logits, logit_max, name="exact_acceptance", hint=hint)
    expect(isinstance(got, torch.Tensor), f"exact_acceptance should return a tensor, got {type(got).__name__}.",
           hint)
    expect(tuple(got.shape) == (5,), f"exact_acceptance returned shape {tuple(got.shape)}; one probability per "
           "logit, (5,), is expected.", hint)
    got = got.double()
    mistake(torch.allclose(got, logits.double().exp(), rtol=1e-5), "exact_acceptance is exp(logit): without "
            "dividing by M some 'probabilities' exceed 1.", "divide by M = exp(logit_max): subtract logit_max.")
    mistake(torch.allclose(got, torch.sigmoid(logits.double()), rtol=1e-5), "exact_acceptance is sigmoid(logit), "
            "D(x) itself: the probability that x is real, not the acceptance probability of rejection sampling.",
            "accept with p_data / (M p_g) = exp(logit - logit_max).")
    expected = selection.drs_acceptance_probability(logits, logit_max, eps=0.0, gamma=0.0)  # (5,)
    close(got, expected, "exact_acceptance", hint, rtol=1e-5, atol=1e-7,
          what="selection.drs_acceptance_probability with gamma = 0, eps = 0")
    passed("exp(D~ - D~_M) is DRS's sigma(F^) with gamma = 0 and eps -> 0: the largest logit is accepted with "
           "probability 1, one nat lower with 1/e.")


def check_rejection_rate(measured_rate, toy_generator, ideal_logit) -> None:
    """Exercise 5: the acceptance rate of exact rejection sampling measured on the toy, against 1/M."""
    hint = ("one uniform draw per candidate (the cell's torch.rand call); a candidate is accepted where its draw is "
            "below its acceptance probability from exercise 4; the rate is the share of candidates accepted.")
    value = as_number(measured_rate, "measured_rate", hint)
    rng = torch.Generator().manual_seed(1)
    x = toy_generator(200_000, rng)  # (200000,) candidates from p_g
    grid = torch.linspace(float(x.min()), float(x.max()), 20_001)  # (20001,)
    log_m = float(ideal_logit(grid).max())
    expected = selection.expected_acceptance_rate(log_m)  # 1 / M
    logits = ideal_logit(x).double()  # (200000,)
    tolerance = 4 * math.sqrt(expected * (1 - expected) / 20_000) + 2e-3  # 4 standard errors of 20,000 draws
    if abs(value - expected) > tolerance:
        mistake(abs(value - float(logits.exp().clamp(max=1).mean())) < tolerance,
                f"measured_rate = {value:.3f}: the candidates were accepted with probability exp(logit), without "
                "dividing by M.", "use exact_acceptance(logits, logit_max) from exercise 4.")
        mistake(abs(value - float(torch.sigmoid(logits).mean())) < tolerance,
                f"measured_rate = {value:.3f}: the candidates were accepted with probability D(x) = sigmoid(logit).",
                "use exact_acceptance(logits, logit_max) from exercise 4.")
        mistake(value > 0.99, f"measured_rate = {value:.3f}: almost every candidate was accepted.",
                "accept where a uniform draw is *below* the acceptance probability.")
        raise ExerciseError(f"measured_rate = {value:.3f} is further from 1/M than 20,000 candidates explain.", hint)
    passed(f"measured {value:.3f}, and 1/M = exp(-{log_m:.3f}) = {expected:.3f}: rejection sampling accepts the "
           "area under p_data / M, which is 1/M.")
