"""Checks for the exercises of notebook 05, training a GAN.

Each ``check_*`` takes the learner's answer first; a blank (``...``) gets "not filled in yet" and the exercise's hint,
a wrong answer gets what is wrong with it. ``show("ex1")`` prints our solution.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from ..losses.gan import discriminator_loss
from ..models.gan import sample_noise
from ..train.gan import GANTrainConfig
from ..train.loop import EMA, grad_norm
from . import solutions
from .checks import as_number, call, close, expect, given, mistake, passed

NOTEBOOK = "05_training_a_gan"


def show(exercise: str) -> None:
    """Print our solution to ``exercise`` ("ex1", "ex2", ...) of this notebook."""
    solutions.show(NOTEBOOK, exercise)


def _fresh(module: nn.Module) -> nn.Module:
    """A copy of a notebook network with no gradients in it, so that the learner's function sees a clean start."""
    twin = copy.deepcopy(module)
    twin.zero_grad(set_to_none=True)
    return twin


def _require_function(answer, name: str, hint: str) -> None:
    """A blank or a non-function gets :func:`call`'s message before the check touches the notebook's objects."""
    if not callable(answer):
        call(answer, name=name, hint=hint)


def check_detach(generator_grad_after_d_loss, generator, discriminator, real) -> None:
    """Exercise 1: G's gradient norm after the discriminator's backward, with and without ``.detach()``."""
    hint = ("make fake = G(z); the loss is section 2's, F.softplus(-D(real)).mean() + F.softplus(D(...)).mean(), "
            "with D seeing fake.detach() or fake; call .backward() on it and return grad_norm(G) as a float.")
    _require_function(generator_grad_after_d_loss, "generator_grad_after_d_loss", hint)
    z_dim = generator.z_dim
    real = real[:8]  # (8, C, H, W)
    z = sample_noise(len(real), z_dim, device=real.device, rng=torch.Generator().manual_seed(5))  # (8, Z)
    measured = {}
    for detach in (False, True):
        got = call(generator_grad_after_d_loss, _fresh(generator), _fresh(discriminator), real, z, detach=detach,
                   name="generator_grad_after_d_loss", hint=hint)
        measured[detach] = as_number(got, f"generator_grad_after_d_loss(..., detach={detach})", hint)
    g, d = _fresh(generator), _fresh(discriminator)
    fake = g(z)  # (8, C, H, W)
    discriminator_loss("ns", d(real), d(fake)).backward()
    expected, d_norm = float(grad_norm(g)), float(grad_norm(d))
    mistake(math.isclose(measured[False], d_norm, rel_tol=1e-4) and not math.isclose(d_norm, expected, rel_tol=1e-4),
            "generator_grad_after_d_loss returns the *discriminator's* gradient norm.",
            "the question is what reaches the generator: return grad_norm(G).")
    mistake(measured[True] > 0 and math.isclose(measured[True], measured[False], rel_tol=1e-4),
            "generator_grad_after_d_loss gives the same gradient norm with detach=True as without: the "
            "`detach` argument changes nothing.", "with detach=True the discriminator must see fake.detach().")
    mistake(measured[False] == 0, "generator_grad_after_d_loss gives 0 even without .detach().",
            "with detach=False pass fake itself (not fake.detach()) to D, then call loss_d.backward().")
    close(measured[True], 0.0, "generator_grad_after_d_loss(..., detach=True)", hint, atol=1e-12,
          what="the gradient norm that reaches G through a detached fake")
    close(measured[False], expected, "generator_grad_after_d_loss(..., detach=False)", hint, rtol=1e-4, atol=1e-9,
          what="the generator's gradient norm after the discriminator's backward (non-saturating loss)")
    passed(f"without .detach() the discriminator's loss puts a gradient of norm {measured[False]:.3g} into G; with "
           "it, none. In the library's step the generator's zero_grad would clear it, but the backward through G "
           "is wasted work, and it frees the graph the generator step reuses.")


def check_wgan_gp(n_critic, adam_betas, critic_updates) -> None:
    """Exercise 2: the WGAN-GP preset (Gulrajani et al. 2017, Algorithm 1) and the critic updates of a cpu run."""
    hint = ("Gulrajani et al. 2017, Algorithm 1, lists its defaults: lambda = 10, n_critic = ..., alpha = 0.0001, "
            "beta1 = ..., beta2 = ...; a cpu run makes 2,000 generator steps.")
    given(n_critic, "n_critic", hint)
    given(adam_betas, "adam_betas", hint)
    given(critic_updates, "critic_updates", hint)
    n_critic = as_number(n_critic, "n_critic", hint)  # 5, 5.0, torch.tensor(5) and numpy.int64(5) all count
    critic_updates = as_number(critic_updates, "critic_updates", hint)
    if isinstance(adam_betas, torch.Tensor) or type(adam_betas).__module__ == "numpy":
        adam_betas = tuple(adam_betas.tolist())
    preset = GANTrainConfig.preset("cpu", loss="wgan-gp")
    mistake(n_critic == GANTrainConfig.preset("cpu").n_critic and preset.n_critic != 1,
            f"n_critic = {n_critic:g} is the non-saturating loss's setting, one critic step per generator step.",
            "WGAN-GP trains the critic several times per generator step: see Algorithm 1's n_critic.")
    close(n_critic, preset.n_critic, "n_critic", hint, atol=0, what="the preset's critic steps per generator step")
    expect(isinstance(adam_betas, (tuple, list)) and len(adam_betas) == 2,
           "adam_betas should be a pair (beta1, beta2).", hint)
    adam_betas = tuple(as_number(b, f"adam_betas[{i}]", hint) for i, b in enumerate(adam_betas))
    mistake(all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(adam_betas, GANTrainConfig.preset("cpu").betas)),
            f"adam_betas = {tuple(adam_betas)} are DCGAN's betas (the course's default), not WGAN-GP's.",
            "Gulrajani et al. use no momentum on the critic: beta1 = 0.")
    expect(all(math.isclose(a, b, rel_tol=1e-6) for a, b in zip(adam_betas, preset.betas)),  # float32 0.9 too
           f"adam_betas = {tuple(adam_betas)} are not the preset's betas.", hint)
    mistake(critic_updates == preset.steps, f"critic_updates = {critic_updates:g} counts the generator's updates.",
            "each generator step comes with n_critic critic steps.")
    close(critic_updates, preset.steps * preset.n_critic, "critic_updates", hint, atol=0,
          what="the number of critic updates of a 2,000-step cpu run")
    passed(f"n_critic = {preset.n_critic}, Adam betas {preset.betas}: a 2,000-step run updates the critic "
           f"{preset.steps * preset.n_critic:,} times, and each of those updates also computes a gradient penalty.")


def check_draw_grid(draw_grid, draw) -> None:
    """Exercise 3: ``draw_grid(names, n)``, n images of each class, stacked class by class."""
    hint = "call draw(name, n=n) for each name and join the results along the batch dimension (torch.cat)."
    names, n = ["bag", "trouser", "ankle boot"], 3
    got = call(draw_grid, names, n, name="draw_grid", hint=hint)
    parts = [draw(name, n=n) for name in names]  # 3 x (n, C, H, W)
    expected = torch.cat(parts)  # (3 n, C, H, W)
    mistake(isinstance(got, (list, tuple)), f"draw_grid returned a {type(got).__name__}, not one tensor.",
            "join the classes' images into one tensor with torch.cat.")
    expect(isinstance(got, torch.Tensor), f"draw_grid should return a tensor, got {type(got).__name__}.", hint)
    mistake(tuple(got.shape) == (len(names), n, *expected.shape[1:]),
            f"draw_grid returned shape {tuple(got.shape)}: torch.stack added a dimension for the classes.",
            "torch.cat joins along the batch dimension: (len(names) * n, 1, 28, 28).")
    expect(tuple(got.shape) == tuple(expected.shape),
           f"draw_grid({names}, {n}) has shape {tuple(got.shape)}; (len(names) * n, 1, 28, 28) = "
           f"{tuple(expected.shape)} is expected.", hint)
    mistake(torch.equal(got, torch.stack(parts, 1).flatten(0, 1)),
            "draw_grid interleaves the classes (bag, trouser, ankle boot, bag, ...).",
            "stack them class by class: all the bags, then all the trousers, ...")
    close(got, expected, "draw_grid", hint, atol=1e-6, what="n images of each class, class by class")
    passed(f"{len(names)} classes x {n} images, shape {tuple(got.shape)}; each row of the grid is one class.")


def _library_beta(num_updates: int, decay: float) -> float:
    """The beta the library's EMA uses at its ``num_updates``-th update, read off one averaged parameter."""
    model = nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = EMA(model, decay=decay)
    ema.num_updates = num_updates - 1
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)  # average <- beta * 0 + (1 - beta) * 1
    return 1.0 - float(ema.model.weight)


def check_ema_beta(beta_at_30, beta_at_2000) -> None:
    """Exercise 4: the warmed-up EMA beta min(0.999, (1 + n) / (10 + n)) at the 30th and the 2,000th update."""
    hint = "beta_n = min(decay, (1 + n) / (10 + n)) with decay = 0.999 and n the number of the update (30, 2000)."
    beta_at_30 = as_number(beta_at_30, "beta_at_30", hint)  # a Python number, a 0-d tensor or a numpy scalar
    beta_at_2000 = as_number(beta_at_2000, "beta_at_2000", hint)
    decay = GANTrainConfig().ema_decay
    b30, b2000 = _library_beta(30, decay), _library_beta(2000, decay)
    full = (10 * decay - 1) / (1 - decay)  # (1 + n) / (10 + n) = decay
    for name, n, value, expected in (("beta_at_30", 30, beta_at_30, b30), ("beta_at_2000", 2000, beta_at_2000,
                                                                          b2000)):
        mistake(math.isclose(value, decay), f"{name} = {value} is the decay itself: the warm-up "
                "keeps beta lower for the first updates.", "beta_n = min(decay, (1 + n) / (10 + n)).")
        mistake(math.isclose(value, 1 - expected, rel_tol=1e-6), f"{name} = {value:.4g} is 1 - beta, "
                "the weight of the *new* parameters.", "beta is the weight of the running average.")
        for off in (-1, 1):  # the value of the update before or after: n off by one
            mistake(math.isclose(value, min(decay, (1 + n + off) / (10 + n + off)), rel_tol=1e-9),
                    f"{name} = {value:.6g} is beta at update {n + off}, not {n}.",
                    f"put n = {n} itself into (1 + n) / (10 + n).")
        close(value, expected, name, hint, rtol=1e-6, what="the EMA's beta at that update")
    passed(f"beta = {b30:.3f} after 30 updates: the EMA then remembers about 1/(1 - beta) = {1 / (1 - b30):.0f} "
           f"steps; after 2,000 updates beta = {b2000:.4f}, a memory of about {1 / (1 - b2000):.0f} steps. The "
           f"full {decay} ({1 / (1 - decay):,.0f} steps) is reached only after {full:,.0f} updates.")


def _ema_test_models():
    rng = torch.Generator().manual_seed(0)

    def net():
        return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()

    average, model = net(), net()
    with torch.no_grad():
        for p in list(average.parameters()) + list(model.parameters()):
            p.copy_(torch.randn(p.shape, generator=rng, dtype=torch.float64))
        model[1].running_mean.copy_(torch.randn(4, generator=rng, dtype=torch.float64))
        model[1].running_var.copy_(torch.rand(4, generator=rng, dtype=torch.float64) + 0.5)
        model[1].num_batches_tracked.fill_(7)
    return average, model


def check_ema_update(ema_update) -> None:
    """Exercise 5: ``ema_update(average, model, beta)``, one EMA step in place, against the library's EMA."""
    hint = ("inside torch.no_grad(), walk over zip(average.parameters(), model.parameters()) and update each "
            "average in place (mul_ then add_, or lerp_); copy each buffer with copy_; return average.")
    _require_function(ema_update, "ema_update", hint)
    average, model = _ema_test_models()
    before = [p.clone() for p in average.parameters()]
    beta = 0.9
    library = EMA(average, decay=beta)  # a deep copy of average, stepped with the same beta (warm-up passed)
    library.num_updates = 10**6
    library.update(model)
    got = call(ema_update, average, model, beta, name="ema_update", hint=hint)
    mistake(all(torch.equal(a, b) for a, b in zip(average.parameters(), before)),
            "ema_update left `average` unchanged (did it build and return a new model?).",
            "update the parameters of `average` in place (mul_/add_ or lerp_), then return it.")
    expect(got is average, "ema_update should return `average` itself, updated in place.", hint)
    want = dict(library.model.named_parameters())
    swapped = {n: beta * p + (1 - beta) * b0 for (n, p), b0 in zip(model.named_parameters(), before)}
    mistake(all(torch.allclose(p, swapped[n]) for n, p in average.named_parameters()),
            "ema_update gives the new parameters the weight beta and the average 1 - beta: that follows the "
            "latest weights and averages almost nothing.", "avg <- beta * avg + (1 - beta) * theta.")
    for name, p in average.named_parameters():
        close(p, want[name], f"average's {name}", hint, rtol=1e-9, atol=1e-12,
              what="the library's EMA after one update")
    for (name, b), lib_b in zip(average.named_buffers(), library.model.buffers()):
        expect(torch.equal(b, lib_b), f"average's buffer {name} is not the model's: the batch-norm statistics are "
               "copied, not averaged, by the library's EMA.", "for each pair of buffers: avg_b.copy_(b).")
    passed("your update equals the library's EMA step; the library adds only the warm-up of beta.")
