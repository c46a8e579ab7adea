r"""GAN theory in closed form: the value function, the optimal discriminator, Jensen–Shannon and the generator losses.

Everything here follows Goodfellow et al. 2014, *Generative Adversarial Nets* (arXiv:1406.2661); equation numbers are
that paper's. The functions work on tensors of discriminator outputs (Monte Carlo estimates) or on densities tabulated
on a 1-D grid (numerical integration with the trapezoid rule), in float64 so that the closed forms can be checked to
many digits.

Notation: :math:`p_{data}` the data density, :math:`p_g` the generator's density, :math:`p_z` the noise prior,
:math:`D(x) \in (0, 1)` the discriminator's probability that :math:`x` is real, and :math:`a` its logit,
:math:`D = \sigma(a)`.

Shape legend: N grid points or samples (any shape works elementwise unless a function integrates over a grid).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

LOG4 = math.log(4.0)
LOG2 = math.log(2.0)


# ---------------------------------------------------------------- the value function


def value_function(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    r"""Monte Carlo estimate of the value function, Eq. (1) of Goodfellow et al. 2014 (arXiv:1406.2661).

    .. math:: V(D, G) = \mathbb{E}_{x \sim p_{data}}[\log D(x)] + \mathbb{E}_{z \sim p_z}[\log(1 - D(G(z)))]

    ``d_real`` are the probabilities :math:`D(x)` on real samples, ``d_fake`` the probabilities :math:`D(G(z))` on
    generated samples (any shapes; each is averaged). The discriminator maximises :math:`V`, the generator minimises
    it. Probabilities of exactly 0 or 1 give :math:`-\infty`, as the formula says; use :func:`value_function_logits`
    when you have logits.
    """
    d_real, d_fake = torch.as_tensor(d_real), torch.as_tensor(d_fake)
    _check_probabilities(d_real, "d_real")
    _check_probabilities(d_fake, "d_fake")
    return torch.log(d_real).mean() + torch.log1p(-d_fake).mean()


def value_function_logits(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    r"""Eq. (1) of arXiv:1406.2661 from logits :math:`a`, with :math:`D = \sigma(a)`, computed stably.

    :math:`\log D = \log\sigma(a)` and :math:`\log(1 - D) = \log\sigma(-a)`, so no probability is rounded to 0 or 1.
    It equals minus the binary cross-entropy the discriminator minimises (real labelled 1, fake labelled 0).
    """
    return F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean()


def value_on_grid(d: torch.Tensor, p_data: torch.Tensor, p_g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""The value function written as one integral over data space, Eq. (3) of arXiv:1406.2661.

    .. math:: V(G, D) = \int_x p_{data}(x) \log D(x) + p_g(x) \log(1 - D(x)) \, dx

    ``d``, ``p_data`` and ``p_g`` are tabulated on the sorted 1-D grid ``x`` (all of shape ``(N,)``); the integral
    uses the trapezoid rule. Terms with zero density contribute zero (:math:`0 \log 0 = 0`).
    """
    d, p_data, p_g, x = _grid_args(x, d=d, p_data=p_data, p_g=p_g)
    _check_probabilities(d, "d")
    integrand = torch.xlogy(p_data, d) + torch.xlogy(p_g, 1.0 - d)  # (N,)
    return torch.trapezoid(integrand, x)


def value_at_optimum(p_data: torch.Tensor, p_g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""The value function at the optimal discriminator, Eq. (4) of arXiv:1406.2661, integrated on the grid ``x``.

    .. math:: C(G) = \mathbb{E}_{x \sim p_{data}}\Big[\log \frac{p_{data}(x)}{p_{data}(x) + p_g(x)}\Big]
              + \mathbb{E}_{x \sim p_g}\Big[\log \frac{p_g(x)}{p_{data}(x) + p_g(x)}\Big]

    The same number as :func:`value_on_grid` with ``d = optimal_discriminator(p_data, p_g)``, but it computes
    :math:`1 - D^* = p_g / (p_{data} + p_g)` directly, so it stays finite where :math:`D^*` rounds to exactly 1 in
    floating point (in the tails, where :math:`p_g \ll p_{data}`).
    """
    p_data, p_g, x = _grid_args(x, p_data=p_data, p_g=p_g)
    total = p_data + p_g  # (N,)
    integrand = torch.xlogy(p_data, p_data) + torch.xlogy(p_g, p_g) - torch.xlogy(total, total)  # (N,)
    return torch.trapezoid(integrand, x)


# ---------------------------------------------------------------- the optimal discriminator


def optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    r"""The optimal discriminator for a fixed generator, Eq. (2) of arXiv:1406.2661 (Proposition 1).

    .. math:: D^*_G(x) = \frac{p_{data}(x)}{p_{data}(x) + p_g(x)}

    Derivation: for each :math:`x` the integrand of Eq. (3), :math:`y \mapsto a \log y + b \log(1 - y)` with
    :math:`a = p_{data}(x)`, :math:`b = p_g(x)`, has derivative :math:`a/y - b/(1 - y)`, zero at :math:`y = a/(a+b)`,
    and is concave, so that is the maximum. Where both densities are zero the value is irrelevant; it is set to 1/2.
    Elementwise on densities of any (equal) shape.
    """
    p_data, p_g = torch.as_tensor(p_data), torch.as_tensor(p_g)
    if (p_data < 0).any() or (p_g < 0).any():
        raise ValueError("Densities must be non-negative; got a negative value in p_data or p_g.")
    total = p_data + p_g
    safe = torch.where(total > 0, total, torch.ones_like(total))
    return torch.where(total > 0, p_data / safe, torch.full_like(total, 0.5))


def optimal_discriminator_logit(log_p_data: torch.Tensor, log_p_g: torch.Tensor) -> torch.Tensor:
    r"""The logit of :math:`D^*` (Eq. (2) of arXiv:1406.2661): :math:`\log p_{data}(x) - \log p_g(x)`.

    Since :math:`D^* = \sigma(\log p_{data} - \log p_g)`, a discriminator trained with a logit output learns the
    log-density ratio. Working with log-densities keeps it finite far in the tails where both densities underflow.
    For two Gaussians with equal variance it is linear in :math:`x`, so even a single-layer (logistic) discriminator
    can represent it exactly.
    """
    return torch.as_tensor(log_p_data) - torch.as_tensor(log_p_g)


# ---------------------------------------------------------------- divergences and C(G)


def kl_divergence(p: torch.Tensor, q: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""Kullback–Leibler divergence in nats of two densities tabulated on the 1-D grid ``x`` (trapezoid rule).

    .. math:: \mathrm{KL}(p \,\|\, q) = \int_x p(x) \log\frac{p(x)}{q(x)} \, dx

    Points where :math:`p = 0` contribute 0; a point where :math:`p > 0` and :math:`q = 0` makes it :math:`+\infty`.
    """
    p, q, x = _grid_args(x, p=p, q=q)
    integrand = torch.xlogy(p, p) - torch.xlogy(p, q)  # (N,)
    return torch.trapezoid(integrand, x)


def js_divergence(p: torch.Tensor, q: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""Jensen–Shannon divergence in nats of two densities on the 1-D grid ``x`` (as in Eq. (5)–(6), arXiv:1406.2661).

    .. math:: \mathrm{JSD}(p \,\|\, q) = \tfrac12 \mathrm{KL}\big(p \,\|\, \tfrac{p+q}{2}\big)
              + \tfrac12 \mathrm{KL}\big(q \,\|\, \tfrac{p+q}{2}\big)

    It is symmetric, always finite, 0 exactly when :math:`p = q`, and :math:`\log 2` (its maximum) when the supports
    are disjoint — where a discriminator can separate the two perfectly.
    """
    p, q, x = _grid_args(x, p=p, q=q)
    m = 0.5 * (p + q)  # (N,)
    return 0.5 * kl_divergence(p, m, x) + 0.5 * kl_divergence(q, m, x)


def virtual_training_criterion(p_data: torch.Tensor, p_g: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""The generator's criterion against the optimal discriminator, Eq. (6) of arXiv:1406.2661 (Theorem 1).

    .. math:: C(G) = \max_D V(G, D) = V(G, D^*_G) = -\log 4 + 2 \cdot \mathrm{JSD}(p_{data} \,\|\, p_g)

    Computed from the Jensen–Shannon divergence on the grid ``x``. Its global minimum, :math:`-\log 4`, is reached
    exactly when :math:`p_g = p_{data}` (then :math:`D^* = 1/2` everywhere). Compare with
    :func:`value_at_optimum`, the same number computed from Eq. (4).
    """
    return -LOG4 + 2.0 * js_divergence(p_data, p_g, x)


def wasserstein_1d(p: torch.Tensor, q: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""The Wasserstein-1 (earth mover's) distance of two densities on the 1-D grid ``x``.

    .. math:: W_1(p, q) = \inf_{\gamma \in \Pi(p, q)} \mathbb{E}_{(x, y) \sim \gamma} |x - y|
              = \int_x \big|F_p(x) - F_q(x)\big| \, dx

    (the definition is Eq. (1) of Arjovsky et al. 2017, arXiv:1701.07875; the second form, with the cumulative
    distribution functions :math:`F`, holds in one dimension). Unlike the JSD it keeps growing as the two densities
    move apart — :math:`W_1 = |\theta|` for a density and its copy shifted by :math:`\theta` — so it still has a slope
    when they do not overlap. The CDFs are integrated with the trapezoid rule; each density is normalised on the grid.
    """
    p, q, x = _grid_args(x, p=p, q=q)
    if (p < 0).any() or (q < 0).any():
        raise ValueError("Densities must be non-negative; got a negative value in p or q.")
    dx = x.diff()  # (N-1,)
    cdf_p = torch.cat([p.new_zeros(1), torch.cumsum(0.5 * (p[1:] + p[:-1]) * dx, 0)])  # (N,)
    cdf_q = torch.cat([q.new_zeros(1), torch.cumsum(0.5 * (q[1:] + q[:-1]) * dx, 0)])  # (N,)
    if cdf_p[-1] <= 0 or cdf_q[-1] <= 0:
        raise ValueError("Each density must have positive mass on the grid x.")
    return torch.trapezoid((cdf_p / cdf_p[-1] - cdf_q / cdf_q[-1]).abs(), x)


# ---------------------------------------------------------------- generator losses: saturating vs non-saturating


def saturating_generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    r"""The minimax ("saturating") generator loss per sample, the generator's term of Eq. (1), arXiv:1406.2661.

    .. math:: \ell_{sat}(D(G(z))) = \log(1 - D(G(z))), \qquad
              L_G^{sat} = \mathbb{E}_{z \sim p_z}[\log(1 - D(G(z)))] \ \text{(minimised)}

    Elementwise in :math:`D(G(z)) \in [0, 1)`. Its gradient vanishes when the discriminator confidently rejects the
    fakes (:math:`D(G(z)) \to 0`), which is exactly the situation early in training (see
    :func:`generator_loss_gradients`).
    """
    d_fake = torch.as_tensor(d_fake)
    _check_probabilities(d_fake, "d_fake")
    return torch.log1p(-d_fake)


def non_saturating_generator_loss(d_fake: torch.Tensor) -> torch.Tensor:
    r"""The non-saturating generator loss per sample (Goodfellow et al. 2014, arXiv:1406.2661, Section 3).

    .. math:: \ell_{ns}(D(G(z))) = -\log D(G(z)), \qquad L_G = -\mathbb{E}_{z \sim p_z}[\log D(G(z))]

    The expectation is over the noise :math:`z \sim p_z` fed to the generator (not over data :math:`x \sim p_{data}`).
    It has the same fixed point as the minimax loss but strong gradients where :math:`D(G(z)) \approx 0`.
    """
    d_fake = torch.as_tensor(d_fake)
    _check_probabilities(d_fake, "d_fake")
    return -torch.log(d_fake)


class GeneratorLossGradients(NamedTuple):
    """Both generator losses and their derivatives, evaluated at the same values of D(G(z))."""

    d: torch.Tensor  # (N,) the values D(G(z))
    saturating: torch.Tensor  # (N,) log(1 - D)
    non_saturating: torch.Tensor  # (N,) -log D
    grad_saturating: torch.Tensor  # (N,) derivative of log(1 - D) w.r.t. the logit a (or D)
    grad_non_saturating: torch.Tensor  # (N,) derivative of -log D w.r.t. the logit a (or D)


def generator_loss_gradients(d: torch.Tensor, *, wrt: str = "logit") -> GeneratorLossGradients:
    r"""Saturating and non-saturating generator losses and their gradients as functions of :math:`D(G(z))`.

    With :math:`D = \sigma(a)` and ``wrt="logit"`` (what back-propagation actually passes into the generator):

    .. math:: \frac{\partial}{\partial a}\log(1 - \sigma(a)) = -D, \qquad
              \frac{\partial}{\partial a}\big(-\log \sigma(a)\big) = -(1 - D)

    so when the discriminator wins (:math:`D(G(z)) \to 0`) the saturating gradient vanishes and the non-saturating
    one is largest. With ``wrt="probability"``: :math:`-1/(1 - D)` and :math:`-1/D`. Both are negative: each loss
    falls as :math:`D(G(z))` rises, i.e. both push the generator towards fooling the discriminator.
    """
    d = torch.as_tensor(d)
    if wrt == "logit":
        grad_sat, grad_ns = -d, -(1.0 - d)
    elif wrt == "probability":
        grad_sat, grad_ns = -1.0 / (1.0 - d), -1.0 / d
    else:
        raise ValueError(f"wrt must be 'logit' or 'probability', got {wrt!r}.")
    return GeneratorLossGradients(d, saturating_generator_loss(d), non_saturating_generator_loss(d), grad_sat, grad_ns)


# ---------------------------------------------------------------- helpers


def _check_probabilities(p: torch.Tensor, name: str) -> None:
    if torch.is_floating_point(p) and ((p < 0) | (p > 1)).any():
        raise ValueError(
            f"{name} must hold probabilities in [0, 1], got values in [{p.min().item():.3g}, {p.max().item():.3g}]. "
            "If these are logits, apply torch.sigmoid first (or use value_function_logits)."
        )


def _grid_args(x: torch.Tensor, **arrays: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Check that every array is 1-D and tabulated on the sorted grid ``x``; return them (and x) as float64."""
    x = torch.as_tensor(x, dtype=torch.float64)
    if x.ndim != 1 or len(x) < 2:
        raise ValueError(f"x must be a 1-D grid of at least 2 points, got shape {tuple(x.shape)}.")
    if (x[1:] <= x[:-1]).any():
        raise ValueError("x must be strictly increasing (a sorted integration grid), e.g. torch.linspace(-6, 6, 2001).")
    out = []
    for name, a in arrays.items():
        a = torch.as_tensor(a, dtype=torch.float64)
        if a.shape != x.shape:
            raise ValueError(
                f"{name} has shape {tuple(a.shape)} but the grid x has shape {tuple(x.shape)}; "
                "tabulate every density on the same grid."
            )
        out.append(a)
    return (*out, x)
