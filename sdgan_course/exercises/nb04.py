"""Checks for the exercises of notebook 04, losses and stability.

Each ``check_*`` takes the learner's answer first; a blank (``...``) gets "not filled in yet" and the exercise's hint,
a wrong answer gets what is wrong with it. ``show("ex1")`` prints our solution.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..losses.gan import GAN_LOSSES, discriminator_loss, generator_loss, gradient_penalty, r1_penalty
from ..models.gan import DCGANDiscriminator
from . import solutions
from .checks import ExerciseError, as_number, call, close, expect, given, mistake, passed, seeded

NOTEBOOK = "04_losses_and_stability"

REAL_LOGITS = (2.0, 0.5, -1.0, 1.5)  # exercise 1: r = D(x) on four real images
FAKE_LOGITS = (-3.0, -0.5, 0.5, 0.0)  # exercise 1: f = D(G(z)) on four fakes


def show(exercise: str) -> None:
    """Print our solution to ``exercise`` ("ex1", "ex2", ...) of this notebook."""
    solutions.show(NOTEBOOK, exercise)


def _number(value, name: str, hint: str) -> float:
    number = as_number(value, name, hint)  # a Python number, a 0-d tensor or a numpy scalar
    expect(math.isfinite(number), f"`{name}` is {number}: not a finite number.", hint)
    return number


def _is(value: float, target: float) -> bool:
    return math.isclose(value, target, rel_tol=1e-6, abs_tol=1e-9)


def check_hinge_by_hand(hinge_d, hinge_g) -> None:
    """Exercise 1: the hinge losses L_D and L_G of the logits REAL_LOGITS and FAKE_LOGITS, by hand."""
    hint = ("L_D = mean of max(0, 1 - r) over the real logits + mean of max(0, 1 + f) over the fake ones; "
            "L_G = -mean(f).")
    d_value = _number(given(hinge_d, "hinge_d", hint), "hinge_d", hint)
    g_value = _number(given(hinge_g, "hinge_g", hint), "hinge_g", hint)
    r, f = torch.tensor(REAL_LOGITS), torch.tensor(FAKE_LOGITS)  # (4,) each
    mistake(_is(d_value, float((1 - r).mean() + (1 + f).mean())), f"hinge_d = {d_value:g} leaves out the max(0, .).",
            "a real logit above 1 (or a fake one below -1) is past the margin and costs nothing: clip at 0.")
    mistake(_is(d_value, float(torch.relu(1 - r).mean() + torch.relu(1 - f).mean())),
            f"hinge_d = {d_value:g} treats the fakes like real images, max(0, 1 - f).",
            "the discriminator wants fake logits below -1: the fake term is max(0, 1 + f).")
    mistake(_is(d_value, float(torch.relu(1 - r).sum() + torch.relu(1 + f).sum())),
            f"hinge_d = {d_value:g} sums over the images.", "each term is a mean over its 4 logits.")
    close(d_value, float(discriminator_loss("hinge", r, f)), "hinge_d", hint, rtol=1e-6, what="the hinge L_D")
    mistake(_is(g_value, float(torch.relu(1 - f).mean())), f"hinge_g = {g_value:g} uses a margin for the generator.",
            "the generator's hinge loss has no max: it is -E[f] (Lim and Ye 2017; Miyato et al. 2018).")
    mistake(_is(g_value, float(f.mean())), f"hinge_g = {g_value:g} has the wrong sign.",
            "the generator wants the fakes' logits high, so it minimises minus their mean.")
    close(g_value, float(generator_loss("hinge", f)), "hinge_g", hint, rtol=1e-6, what="the hinge L_G")
    past = [f"{v:g}" for v in REAL_LOGITS if v >= 1] + [f"{v:g}" for v in FAKE_LOGITS if v <= -1]
    passed(f"L_D = {d_value:g}: the logits past the margin ({', '.join(past)}) cost the discriminator nothing; "
           f"L_G = {g_value:g} keeps pushing every fake, whatever its logit.")


def check_vanishing_losses(vanishing) -> None:
    """Exercise 2: the losses whose generator gradient |dL_G/df| is below 0.01 at f = -20, measured."""
    hint = ("for each kind in GAN_LOSSES make f = torch.tensor([-20.0], requires_grad=True), take "
            "torch.autograd.grad(generator_loss(kind, f), f) and keep the kinds whose |gradient| < 0.01.")
    chosen = given(vanishing, "vanishing", hint)
    expect(isinstance(chosen, (set, frozenset, list, tuple)), f"`vanishing` should be a set of loss names, got "
           f"{type(chosen).__name__}.", hint)
    chosen = set(chosen)
    unknown = sorted(str(k) for k in chosen if k not in GAN_LOSSES)
    expect(not unknown, f"`vanishing` has names that are not losses: {unknown}. The losses are "
           f"{', '.join(map(repr, GAN_LOSSES))}.", hint)
    gradients = {}
    for kind in GAN_LOSSES:
        f = torch.tensor([-20.0], requires_grad=True)
        (gradients[kind],) = torch.autograd.grad(generator_loss(kind, f), f)
    expected = {kind for kind, g in gradients.items() if abs(g.item()) < 0.01}
    mistake("ns" in chosen, "`vanishing` includes 'ns', the non-saturating loss.",
            "ns was designed for this case: its gradient sigmoid(f) - 1 is close to -1 when D rejects the fake.")
    mistake("lsgan" in chosen, "`vanishing` includes 'lsgan'.",
            "least squares pushes with f - 1: the farther the fake's logit from its target 1, the harder.")
    linear_in_f = sorted(chosen & {"hinge", "wgan", "wgan-gp"})
    mistake(linear_in_f, f"`vanishing` includes {linear_in_f}.",
            "these generators minimise -E[f]: the gradient is -1 at every logit.")
    expect(chosen == expected, "`vanishing` misses the loss whose gradient does vanish at f = -20.", hint)
    (name,) = expected
    passed(f"Only {name!r}: dL_G/df = -sigmoid(-20) = {gradients[name].item():.1e}, while 'ns' gets "
           f"{gradients['ns'].item():.6f}. A fake the discriminator rejects outright teaches the minimax generator "
           "nothing.")


def check_linear_critic_penalties(gp_value, r1_value) -> None:
    """Exercise 3: the WGAN-GP penalty (without lambda) and the R1 penalty (without gamma / 2) of D(x) = w . x,
    w = (3, 4)."""
    hint = ("the gradient of w . x with respect to x is the same at every x: work out its norm; then "
            "GP = E[(|grad| - 1)^2] and R1 = E[|grad|^2].")
    gp = _number(given(gp_value, "gp_value", hint), "gp_value", hint)
    r1 = _number(given(r1_value, "r1_value", hint), "r1_value", hint)
    with seeded(0):
        linear = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[3.0, 4.0]]))

    def critic(x):  # (B, 2) -> (B,)
        return linear(x).squeeze(1)

    points = torch.randn(16, 2, generator=torch.Generator().manual_seed(4))  # (16, 2)
    expected_gp = gradient_penalty(critic, points, -points, rng=torch.Generator().manual_seed(5)).item()
    expected_r1 = r1_penalty(critic, points).item()
    norm = float(linear.weight.detach().norm())
    mistake(_is(gp, norm - 1), f"gp_value = {gp:g} is |grad| - 1, not squared.", "the penalty is (|grad| - 1)^2.")
    mistake(_is(gp, (norm**2 - 1) ** 2), f"gp_value = {gp:g} uses the squared norm |grad|^2 inside.",
            "WGAN-GP penalises the norm itself: (|grad| - 1)^2, with |grad| = sqrt(3^2 + 4^2).")
    mistake(_is(gp, 10 * expected_gp), f"gp_value = {gp:g} includes lambda = 10.",
            "the question asks for the penalty alone; the trainer multiplies it by lambda.")
    close(gp, expected_gp, "gp_value", hint, rtol=1e-4, what="the gradient penalty of this critic")
    mistake(_is(r1, norm), f"r1_value = {r1:g} is the norm, not its square.", "R1 is E[|grad_x D(x)|^2].")
    mistake(_is(r1, (norm - 1) ** 2), f"r1_value = {r1:g} is centred at 1, like WGAN-GP.",
            "R1 is zero-centred: it penalises |grad|^2, pulling the gradient on real data towards 0, not 1.")
    close(r1, expected_r1, "r1_value", hint, rtol=1e-4, what="the R1 penalty of this critic")
    passed(f"GP = {gp:g} and R1 = {r1:g} at every point: a linear critic has the same gradient everywhere, so "
           "where the penalty is measured (interpolates or real data) does not matter, only how it is centred.")


def check_gradient_penalty(my_gradient_penalty) -> None:
    """Exercise 4: the WGAN-GP penalty for image batches (B, C, H, W), against the library's gradient_penalty."""
    hint = ("interpolate with one alpha per image (alpha.view(-1, 1, 1, 1) broadcasts over C, H, W), take the "
            "gradient of critic(x_hat).sum() with respect to x_hat keeping the graph (create_graph=True), and one "
            "norm per image over all of its C * H * W numbers.")
    rng = torch.Generator().manual_seed(6)
    real = torch.randn(4, 3, 28, 28, generator=rng).clamp(-1, 1)  # (B, C, H, W)
    fake = torch.randn(4, 3, 28, 28, generator=rng).clamp(-1, 1)  # (B, C, H, W)
    alpha = torch.rand(4, generator=rng)  # (B,)
    with seeded(0):
        critic = DCGANDiscriminator(base_channels=4, channels=3, norm="none")  # per-sample: no batch norm
    got = call(my_gradient_penalty, critic, real, fake, alpha, name="my_gradient_penalty", hint=hint)
    value = _number(got, "my_gradient_penalty(...)", hint)
    expected = gradient_penalty(critic, real, fake, alpha=alpha).item()

    a = alpha.view(-1, 1, 1, 1)  # (B, 1, 1, 1)
    x_hat = (a * real + (1 - a) * fake).requires_grad_(True)  # (B, C, H, W)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)  # (B, C, H, W)
    mistake(_is(value, float(((grad.norm(dim=1) - 1) ** 2).mean())),
            "my_gradient_penalty takes the norm over dim=1 only: for images that is one norm per pixel, over the "
            "channels.", "the penalty wants one norm per image, over all C * H * W numbers: grad.flatten(1) first.")
    mistake(_is(value, float((grad.norm() - 1) ** 2)), "my_gradient_penalty takes one norm of the whole batch.",
            "each image gets its own norm, shape (B,), and the penalty is their mean.")
    mistake(_is(value, float(((grad.flatten(1).pow(2).sum(1) - 1) ** 2).mean())),
            "my_gradient_penalty uses the squared norm |grad|^2.", "take the square root: (|grad| - 1)^2.")
    x_real = real.clone().requires_grad_(True)
    (g_real,) = torch.autograd.grad(critic(x_real).sum(), x_real)
    mistake(_is(value, float(((g_real.flatten(1).norm(dim=1) - 1) ** 2).mean())),
            "my_gradient_penalty measures the gradient at the real images.",
            "WGAN-GP measures it at the interpolates x_hat = alpha real + (1 - alpha) fake, between the two.")
    close(value, expected, "my_gradient_penalty(...)", hint, rtol=1e-4, what="the library's gradient_penalty")
    expect(isinstance(got, torch.Tensor) and got.requires_grad,
           "the value is right, but it cannot be back-propagated into the critic.",
           "pass create_graph=True to torch.autograd.grad (and return a tensor): the critic is trained on this "
           "penalty, so its gradient must stay in the graph.")
    (weight_grad,) = torch.autograd.grad(got, critic.head.weight)
    expect(bool(weight_grad.abs().sum() > 0), "the penalty does not depend on the critic's weights.", hint)
    passed(f"GP = {value:.4f}, as the library's; and it back-propagates into the critic's weights (create_graph).")


def _power_iteration_reference(weight: torch.Tensor, u: torch.Tensor, steps: int) -> float:
    """u^T W v after ``steps`` steps of Miyato et al.'s Algorithm 1 from ``u`` (steps >= 1)."""
    for _ in range(steps):
        v = weight.T @ u  # (n,)
        v = v / v.norm()
        u = weight @ v  # (m,)
        u = u / u.norm()
    return float(u @ weight @ v)


def check_power_iteration(power_iteration) -> None:
    """Exercise 5: sigma_max by power iteration (Miyato et al. 2018, Algorithm 1), compared after 1, 5 and 50 steps
    with the same iteration done here, and after 50 with matrix_norm(ord=2)."""
    hint = ("repeat `steps` times: v = W^T u / |W^T u|, u = W v / |W v|; then sigma = u^T W v (u @ weight @ v). "
            "Do not call torch.linalg inside: iterate.")
    q_left, _ = torch.linalg.qr(torch.randn(5, 3, generator=torch.Generator().manual_seed(7), dtype=torch.float64))
    q_right, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(8), dtype=torch.float64))
    singular = torch.tensor([3.0, 2.0, 0.5], dtype=torch.float64)
    weight = q_left @ torch.diag(singular) @ q_right.T  # (5, 3), singular values 3, 2, 0.5
    start = q_left[:, 1] + 0.1 * q_left[:, 0] + 0.5 * q_left[:, 2]  # (5,) mostly along the second direction
    sigma = float(torch.linalg.matrix_norm(weight, ord=2))  # 3, up to rounding
    estimates = {}
    for steps in (1, 5, 50):
        got = call(power_iteration, weight.clone(), start.clone(), steps, name="power_iteration", hint=hint)
        estimates[steps] = _number(got, f"power_iteration(weight, u, {steps})", hint)
    frobenius = float(torch.linalg.matrix_norm(weight))
    mistake(_is(estimates[50], frobenius), "power_iteration returns the Frobenius norm, sqrt of the sum of squares.",
            "the spectral norm is the largest singular value alone; the Frobenius norm mixes in all of them.")
    mistake(math.isclose(estimates[50], sigma**2, rel_tol=1e-4), "power_iteration returns sigma squared, the largest "
            "eigenvalue of W^T W.", "sigma = u^T W v with both vectors normalised (or the norm of W v).")
    expect(estimates[1] <= sigma * (1 + 1e-6), f"after one step power_iteration gives {estimates[1]:.4g}, more than "
           "the largest singular value: u^T W v of unit vectors can never exceed it.", "normalise u and v at every "
           "step.")
    mistake(math.isclose(estimates[1], sigma, rel_tol=1e-6), "power_iteration is exact after one step from this "
            "start vector, which is far from the top singular vector: it cannot be iterating.",
            "compute sigma from your own u and v, not with torch.linalg.")
    # The estimate after k steps from this start vector differs from the one after k - 1 or k + 1 steps by more
    # than 1e-3 for k = 1 and 5 (2.01 after 1 step, 2.95 after 5): an off-by-one loop is told apart and named.
    for steps in (1, 5):
        expected = _power_iteration_reference(weight, start, steps)
        if math.isclose(estimates[steps], expected, rel_tol=1e-6):
            continue
        for off, words in ((1, "one step too many"), (-1, "one step too few"), (2, "two steps too many")):
            if steps + off >= 1 and math.isclose(estimates[steps], _power_iteration_reference(weight, start,
                                                                                                steps + off),
                                                 rel_tol=1e-6):
                raise ExerciseError(
                    f"power_iteration(weight, u, {steps}) gives {estimates[steps]:.6f}, the estimate after "
                    f"{steps + off} steps ({words}); after exactly {steps} it is {expected:.6f}.",
                    "the loop body (one v update, then one u update) should run exactly `steps` times, "
                    "for _ in range(steps), starting from the u you were given.")
        raise ExerciseError(
            f"power_iteration(weight, u, {steps}) gives {estimates[steps]:.6f}; {steps} step(s) of power iteration "
            f"from this u give {expected:.6f} (the exact sigma is {sigma:.6f}).", hint)
    close(estimates[50], sigma, "power_iteration(weight, u, 50)", hint, rtol=1e-5,
          what="the largest singular value (torch.linalg.matrix_norm(weight, ord=2))")
    passed(f"Estimates after 1, 5, 50 steps: {estimates[1]:.4f}, {estimates[5]:.4f}, {estimates[50]:.6f}; exact "
           f"{sigma:.6f}. They approach sigma from below, as one step per training update does in spectral "
           "normalisation.")
