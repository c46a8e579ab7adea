"""Checks for the exercises of notebook 02, GAN mathematics: D*, the value at the optimum, the generator's gradients,
the Jensen-Shannon divergence and what C(G) prefers.

Each ``check_*`` takes the learner's answer first; a blank (``...``) gets "not filled in yet" and the exercise's hint,
a wrong answer gets what is wrong with it. The expected answers come from the closed forms of
:mod:`sdgan_course.theory.gan` (Goodfellow et al. 2014, arXiv:1406.2661; equation numbers are the paper's).
``show("ex1")`` prints our solution.
"""

from __future__ import annotations

import math

import torch

from ..theory import gan as theory
from . import solutions
from .checks import as_number, call, close, expect, mistake, passed

NOTEBOOK = "02_gan_mathematics"


def show(exercise: str) -> None:
    """Print our solution to ``exercise`` ("ex1", "ex2", ...) of this notebook."""
    solutions.show(NOTEBOOK, exercise)


def _near(value: float, target: float, tol: float = 1e-3) -> bool:
    return math.isclose(value, target, rel_tol=tol, abs_tol=tol)


def check_optimal_discriminator(d_star) -> None:
    """Exercise 1: D*(x) where p_data(x) = 0.3 and p_g(x) = 0.1 (Eq. 2)."""
    hint = ("D* is the probability that x is real, given how likely x is under the data and under the generator "
            "(section 2, Eq. (2)).")
    value = as_number(d_star, "d_star", hint)
    p_data, p_g = 0.3, 0.1
    expected = float(theory.optimal_discriminator(torch.tensor(p_data), torch.tensor(p_g)))
    mistake(_near(value, p_data / p_g), f"d_star = {value:g} is the ratio p_data / p_g: the odds, not a probability.",
            "a probability lies in [0, 1]: divide by the sum p_data + p_g.")
    mistake(_near(value, 1 - expected), f"d_star = {value:g} is p_g / (p_data + p_g): the probability that x is fake.",
            "D outputs the probability that x is real: p_data on top.")
    mistake(_near(value, math.log(p_data / p_g)), f"d_star = {value:.4g} is the logit of D*, log p_data - log p_g.",
            "apply the sigmoid to the logit, or use the ratio form of Eq. (2).")
    mistake(_near(value, 0.5), "d_star = 0.5 is D* only where p_data = p_g; here the data is denser.", hint)
    close(value, expected, "d_star", hint, rtol=1e-3, atol=1e-3, what="D*(x)")
    passed(f"D* = {expected:g}: data is {p_data / p_g:g} times as likely as fakes at this x, and the logit is "
           f"log p_data - log p_g = log {p_data / p_g:g} = {math.log(p_data / p_g):.3f}.")


def check_value_at_equilibrium(c_at_optimum) -> None:
    """Exercise 2: C(G) = max_D V(D, G) when p_g = p_data."""
    hint = "when p_g = p_data, D* = 1/2 everywhere: put D = 1/2 into both terms of V(D, G), Eq. (1)."
    value = as_number(c_at_optimum, "c_at_optimum", hint)
    x = torch.linspace(-8.0, 8.0, 2001, dtype=torch.float64)  # (2001,)
    density = torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)  # any density: p_g = p_data
    expected = float(theory.value_at_optimum(density, density, x))  # Eq. (4), integrated
    mistake(_near(value, 0.0), "c_at_optimum = 0 is the JSD at p_g = p_data, not C(G).",
            "C(G) is the value V(D*, G) itself (Eq. 4); the JSD is only one part of it (Eq. 6).")
    mistake(_near(value, -expected), f"c_at_optimum = {value:.4g} has the wrong sign: that is the discriminator's "
            "loss (its BCE), -V.", "V itself is a sum of logarithms of probabilities: negative.")
    mistake(_near(value, math.log(0.5)), f"c_at_optimum = {value:.4g} is one of the two terms.",
            "V has two terms, E[log D(x)] and E[log(1 - D(G(z)))]: add both.")
    mistake(_near(value, 0.5), "c_at_optimum = 0.5 is D*, not the value V(D*, G).", hint)
    close(value, expected, "c_at_optimum", hint, rtol=1e-3, atol=1e-3, what="C(G) at p_g = p_data")
    passed(f"C(G) = log 1/2 + log 1/2 = -log 4 = {expected:.4f}, the global minimum of C(G) (Theorem 1): no generator "
           "can do better than reproducing the data.")


def check_generator_gradients(grad_saturating, grad_non_saturating) -> None:
    """Exercise 3: the derivatives of both generator losses w.r.t. the logit, where D(G(z)) = 0.01."""
    hint = ("differentiate each loss with respect to the logit a, with D = sigmoid(a) and dD/da = D (1 - D); section "
            "4 wrote both derivatives in terms of D.")
    sat = as_number(grad_saturating, "grad_saturating", hint)
    ns = as_number(grad_non_saturating, "grad_non_saturating", hint)
    d = 0.01
    right = theory.generator_loss_gradients(torch.tensor([d], dtype=torch.float64))
    by_prob = theory.generator_loss_gradients(torch.tensor([d], dtype=torch.float64), wrt="probability")
    exp_sat, exp_ns = float(right.grad_saturating), float(right.grad_non_saturating)
    mistake(_near(sat, float(by_prob.grad_saturating)) and _near(ns, float(by_prob.grad_non_saturating)),
            f"({sat:.4g}, {ns:.4g}) are the derivatives with respect to the probability D, not the logit.",
            "back-propagation passes through the sigmoid: differentiate with respect to a, where D = sigmoid(a).")
    mistake(_near(sat, -exp_sat) and _near(ns, -exp_ns), f"({sat:g}, {ns:g}) have the wrong sign.",
            "both losses fall as D(G(z)) rises, so both derivatives are negative.")
    mistake(_near(sat, exp_ns) and _near(ns, exp_sat), f"({sat:g}, {ns:g}) are swapped.",
            "the saturating loss log(1 - D) is the one whose gradient vanishes as D -> 0.")
    close(sat, exp_sat, "grad_saturating", hint, rtol=1e-3, atol=1e-4, what="d log(1 - D) / d logit at D = 0.01")
    close(ns, exp_ns, "grad_non_saturating", hint, rtol=1e-3, atol=1e-4, what="d (-log D) / d logit at D = 0.01")
    passed(f"Saturating {exp_sat:g}, non-saturating {exp_ns:g}: where D rejects the fakes, the non-saturating loss "
           f"gives the generator {exp_ns / exp_sat:.0f} times the signal (Goodfellow et al. 2014, section 3).")


def _gaussian(x: torch.Tensor, mu: float, s: float) -> torch.Tensor:
    return torch.exp(-0.5 * ((x - mu) / s) ** 2) / (s * math.sqrt(2 * math.pi))  # (N,)


def check_jsd(my_jsd) -> None:
    """Exercise 4: the Jensen-Shannon divergence of two densities on a grid (trapezoid rule), in nats."""
    hint = ("m = (p + q) / 2; JSD = 1/2 KL(p || m) + 1/2 KL(q || m), each KL = trapezoid of p log(p / m) over x; "
            "torch.xlogy(p, p) - torch.xlogy(p, m) makes 0 log 0 = 0.")
    x = torch.linspace(-8.0, 8.0, 3201, dtype=torch.float64)  # (3201,)
    p, q = _gaussian(x, -1.0, 1.0), _gaussian(x, 1.5, 0.7)  # (3201,) each: different widths, so KL is asymmetric
    got = call(my_jsd, p, q, x, name="my_jsd", hint=hint)
    value = as_number(got, "my_jsd(p, q, x)", "integrate over the grid: torch.trapezoid(integrand, x) is one number.")
    expected = float(theory.js_divergence(p, q, x))
    mistake(_near(value, float(theory.kl_divergence(p, q, x)), 1e-6), "my_jsd is KL(p || q): the KL between the two "
            "densities, not to their mixture.", "compare each density with the mixture m = (p + q) / 2.")
    mistake(_near(value, 2 * expected, 1e-6), "my_jsd is twice the JSD: KL(p || m) + KL(q || m).",
            "each KL term has the weight 1/2.")
    mistake(_near(value, expected / math.log(2), 1e-6), "my_jsd is in bits (log base 2).",
            "use the natural logarithm: the course measures divergences in nats.")
    close(value, expected, "my_jsd", hint, rtol=1e-6, atol=1e-9, what="JSD(p || q)")
    swapped = float(call(my_jsd, q, p, x, name="my_jsd", hint=hint))
    expect(_near(swapped, value, 1e-9), "my_jsd(q, p) differs from my_jsd(p, q): the JSD is symmetric.", hint)
    same = float(call(my_jsd, p, p, x, name="my_jsd", hint=hint))
    close(same, 0.0, "my_jsd(p, p)", hint, rtol=0, atol=1e-9, what="0, the JSD of a density with itself")
    far, near = _gaussian(x, 5.0, 0.3), _gaussian(x, -5.0, 0.3)  # (3201,) each: no overlap at all
    disjoint = float(call(my_jsd, far, near, x, name="my_jsd", hint=hint))
    mistake(not math.isfinite(disjoint), f"my_jsd of two densities that do not overlap is {disjoint}: a 0 log 0 "
            "became NaN, or a log of 0 crept in.", "torch.xlogy(p, m) is 0 where p = 0; compare with m, which is "
            "positive wherever p or q is.")
    close(disjoint, math.log(2), "my_jsd of non-overlapping densities", hint, rtol=1e-6, what="log 2")
    passed(f"JSD = {value:.5f} nats for N(-1, 1) and N(1.5, 0.7^2); 0 for identical densities and log 2 = "
           f"{math.log(2):.5f} for densities that do not overlap: the ceiling that makes C(G) flat far from the data.")


def check_best_blur(best_sigma, best_c, p_data, x) -> None:
    """Exercise 5: the width sigma of the centred Gaussian N(0, sigma^2) that minimises C(G), and that C(G)."""
    hint = ("for each sigma in sigmas, tabulate N(0, sigma^2) on X (gaussian_on_grid(0.0, s)) and compute "
            "theory.virtual_training_criterion(P_DATA, p_g, X); keep the sigma with the smallest value.")
    sigma = as_number(best_sigma, "best_sigma", hint)
    c_value = as_number(best_c, "best_c", hint)
    x = torch.as_tensor(x, dtype=torch.float64)

    def c_of(s: float) -> float:  # C(G) of p_g = N(0, s^2), Eq. (6)
        return float(theory.virtual_training_criterion(p_data, _gaussian(x, 0.0, s), x))

    sigma_star, step = 2.6, 2.5  # the middle of [0.1, 5.1]; each round: 21 widths around the best, 10 times finer
    for _ in range(3):
        sigma_star = min(torch.linspace(max(sigma_star - step, 0.05), sigma_star + step, 21).tolist(), key=c_of)
        step /= 10
    c_star = c_of(sigma_star)
    one_bump = min(float(theory.virtual_training_criterion(p_data, _gaussian(x, mu, s), x))
                   for mu in (-2.0, 2.0) for s in (0.45, 0.5, 0.55))
    mistake(abs(sigma - 0.5) < 0.05, "best_sigma = 0.5 is the width of one data bump; centred at 0, such a narrow "
            "Gaussian sits in the gap between the bumps.", "search the whole range of sigmas, up to 5.")
    mistake(_near(c_value, (c_star + theory.LOG4) / 2, 2e-3), f"best_c = {c_value:.4f} is the JSD, not C(G).",
            "C(G) = -log 4 + 2 JSD (Eq. 6).")
    mistake(_near(c_value, one_bump, 2e-3) and abs(sigma - sigma_star) > 0.1,
            f"best_c = {c_value:.4f} is C(G) of the Gaussian on one bump (section 3), not of the centred one.",
            "keep the mean at 0 and vary only the width.")
    expect(abs(sigma - sigma_star) <= 0.1, f"best_sigma = {sigma:.3g} is not where C(G) of N(0, sigma^2) is smallest.",
           hint)
    close(c_value, c_of(sigma), "best_c", hint, rtol=0, atol=2e-3, what=f"C(G) at sigma = {sigma:.3g}")
    mle_sigma = float(torch.trapezoid(x**2 * torch.as_tensor(p_data, dtype=torch.float64), x).sqrt())
    passed(f"The best width, sigma = {sigma_star:.2f}, gives C(G) = {c_star:.4f}, *below* the {one_bump:.4f} of "
           "the best Gaussian on one bump: with its width free, the JSD prefers the wide Gaussian that covers both "
           f"bumps, close to the maximum-likelihood fit (sigma = {mle_sigma:.2f}, the data's standard deviation). The "
           "JSD alone does not ask a generator to drop a mode when it can widen instead; experiment B looks at what "
           "the non-saturating loss asks.")
