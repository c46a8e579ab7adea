r"""Training toy GANs on 1-D and 2-D data, on the shared loop, recording everything a notebook wants to plot.

- :func:`train_toy_gan`: :func:`sdgan_course.train.gan.gan_train_step` (discriminator step, then generator step,
  separate optimisers) run by :func:`sdgan_course.train.loop.train_loop`, with the step statistics and generated
  samples over time.
- :func:`fit_discriminator`: train a discriminator alone, against a fixed generator, to compare it with
  :math:`D^*_G(x) = p_{data}(x) / (p_{data}(x) + p_g(x))`.
- :func:`train_ring_gan`: the MLP GAN on the ring of Gaussians in one call, with its mode coverage
  (:func:`sdgan_course.data.toy.count_modes`).

The models are in :mod:`sdgan_course.models.toy`, the distributions in :mod:`sdgan_course.data.toy`.

Shape legend: B batch, Z noise dimension, D data dimension (1 or 2), n samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import nn

from ..config import profile_sizes
from ..data.toy import GaussianMixture, ModeCoverage, count_modes, ring_of_gaussians
from ..device import cpu_threads
from ..losses.gan import discriminator_loss
from ..models.gan import sample_noise
from ..models.toy import ToyDiscriminator, ToyGenerator
from .gan import GANStepConfig, gan_train_step, make_gan_optimizers
from .loop import Run, train_loop

Sampler = Callable[..., torch.Tensor]  # sampler(n, rng=...) -> (n, D)


class Snapshot(NamedTuple):
    """Generated samples at one step (always from the same fixed noise, so the points can be followed)."""

    step: int
    samples: torch.Tensor  # (n, D), on the CPU


class ToyRun(NamedTuple):
    """What :func:`train_toy_gan` returns."""

    history: dict[str, list[float]]  # one list per statistic of gan_train_step, one value per step
    snapshots: list[Snapshot]  # samples over time, including step 0 and the last step
    generator: nn.Module
    discriminator: nn.Module
    seconds: float


def _history(state: Run) -> dict[str, list[float]]:
    return {k: v for k, v in state.history.items() if k != "step"}  # one value per step: the index is the step


def train_toy_gan(
    generator: nn.Module,
    discriminator: nn.Module,
    sample_real: Sampler,
    *,
    steps: int,
    batch_size: int = 256,
    lr: float = 1e-3,
    lr_d: float | None = None,
    betas: tuple[float, float] = (0.5, 0.999),
    snapshot_every: int | None = None,
    snapshot_size: int = 1000,
    rng: torch.Generator | None = None,
    device: torch.device | str | None = None,
    **step,
) -> ToyRun:
    """Train a toy GAN for ``steps`` steps of :func:`sdgan_course.train.gan_train_step`; record history and samples.

    ``sample_real(n, rng=...)`` draws ``(n, D)`` data (e.g. ``ring_of_gaussians().sample``). Each step trains
    the discriminator ``n_critic`` times on real data and detached fakes, then the generator once, with two Adam
    optimisers (``lr`` for G, ``lr_d`` for D, default ``lr``); the step's own hyperparameters (``loss``, ``n_critic``,
    ``gp_weight``, ``r1_weight``, ``clip_value``) are the fields of :class:`~sdgan_course.train.gan.GANStepConfig`.
    ``rng`` (a ``torch.Generator``) drives the data and the noise, so a run is reproducible; seed the models'
    initialisation yourself before building them. Snapshots of ``snapshot_size`` samples from one fixed noise batch are
    taken every ``snapshot_every`` steps (default: 10 per run). The models are trained in place and returned, in
    train mode, on ``device`` (default: the generator's).
    """
    step_config = GANStepConfig(**step)  # unknown names and losses are refused here, before any training
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be positive, got steps={steps}, batch_size={batch_size}.")
    if not hasattr(generator, "z_dim"):
        raise ValueError("The generator needs a z_dim attribute (ToyGenerator and SingleLayerGenerator have one).")
    device = torch.device(device) if device is not None else next(generator.parameters()).device
    generator.to(device).train()
    discriminator.to(device).train()
    z_dim = generator.z_dim
    opt_g, opt_d = make_gan_optimizers(generator, discriminator, lr=lr, lr_d=lr_d, betas=betas)
    snapshot_every = snapshot_every or max(1, steps // 10)
    z_fixed = sample_noise(snapshot_size, z_dim, device=device, rng=rng)  # (n, Z)

    def snapshot(step: int) -> Snapshot:
        with torch.no_grad():
            return Snapshot(step, generator(z_fixed).detach().float().cpu())  # (n, D)

    snapshots = [snapshot(0)]
    state = Run()

    def step_fn(step: int) -> dict[str, float]:
        real = sample_real(batch_size, rng=rng).to(device)  # (B, D)
        return gan_train_step(generator, discriminator, opt_g, opt_d, real, z_dim=z_dim, config=step_config, rng=rng)

    with cpu_threads(device):  # tiny models: one thread is fastest
        result = train_loop(
            state, step_fn, steps=steps, batch_size=batch_size, log_every=1, max_grad_norm=math.inf,
            hook=lambda run, stats: snapshots.append(snapshot(run.step)), hook_every=snapshot_every, progress=False,
            desc="toy GAN", fixes=f"lower the learning rate ({lr=}) or use a regularised loss (wgan-gp, r1_weight > 0, "
            f"spectral norm) instead of {step_config.loss!r}",
        )
    return ToyRun(_history(state), snapshots, generator, discriminator, result.seconds)


def fit_discriminator(
    discriminator: nn.Module,
    sample_real: Sampler,
    sample_fake: Sampler,
    *,
    steps: int,
    batch_size: int = 256,
    lr: float = 1e-3,
    rng: torch.Generator | None = None,
) -> list[float]:
    r"""Train a discriminator alone (the generator fixed) by maximising Eq. (1) of arXiv:1406.2661; return its losses.

    The loss is the binary cross-entropy on logits, :math:`-\log D(x) - \log(1 - D(G(z)))` averaged, i.e. minus the
    value function. With enough capacity and steps, :math:`\sigma(\text{logit})` approaches :math:`D^*_G`
    (:func:`sdgan_course.theory.gan.optimal_discriminator`) wherever there are samples.
    """
    device = next(discriminator.parameters()).device
    opt = torch.optim.Adam(discriminator.parameters(), lr=lr)

    def step_fn(step: int) -> dict[str, float]:
        real = sample_real(batch_size, rng=rng).to(device)  # (B, D)
        fake = sample_fake(batch_size, rng=rng).to(device)  # (B, D)
        loss = discriminator_loss("minimax", discriminator(real), discriminator(fake))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    state = Run()
    with cpu_threads(device):
        train_loop(state, step_fn, steps=steps, batch_size=batch_size, log_every=1, progress=False,
                   desc="discriminator", fixes="lower the learning rate")
    return state.history["loss"]


# ---------------------------------------------------------------- the ring experiment in one call


# Settings of the MLP GAN on the ring, per profile: the same models and optimiser, only the number of steps changes.
# Checked over several seeds: 6 to 8 modes covered after the ci budget (8 seeds), 8 after the cpu budget (3 seeds).
RING_PRESETS: dict[str, dict] = {
    "ci": dict(steps=500, hidden=(64, 64), lr=2e-3, betas=(0.5, 0.9), batch_size=512),
    "cpu": dict(steps=2000, hidden=(64, 64), lr=2e-3, betas=(0.5, 0.9), batch_size=512),
    "gpu": dict(steps=3000, hidden=(64, 64), lr=2e-3, betas=(0.5, 0.9), batch_size=512),
}


def ring_preset(profile: str, **overrides) -> dict:
    """The :func:`train_ring_gan` keyword arguments of a profile (``"ci"``, ``"cpu"``, ``"gpu"``), with overrides."""
    return profile_sizes(RING_PRESETS, profile, "ring_preset", **overrides)


class RingResult(NamedTuple):
    """A trained ring GAN and how many of the modes its final samples cover."""

    run: ToyRun
    coverage: ModeCoverage
    coverage_over_time: list[int]  # modes covered at each snapshot


def train_ring_gan(
    *,
    steps: int,
    seed: int = 0,
    z_dim: int = 2,
    hidden: Sequence[int] = (128, 128),
    spectral_norm: bool = False,
    snapshot_size: int = 2000,
    mixture: GaussianMixture | None = None,
    device: torch.device | str | None = None,
    **train,
) -> RingResult:
    """Build a :class:`~sdgan_course.models.toy.ToyGenerator`/:class:`~sdgan_course.models.toy.ToyDiscriminator` pair
    (seeded with ``seed``), train it on the ring of 8 Gaussians (or ``mixture``) with :func:`train_toy_gan`, and count
    the modes. The other keyword arguments (``loss``, ``batch_size``, ``lr``, ``lr_d``, ``betas``, ``n_critic``,
    ``gp_weight``, ``r1_weight``, ``clip_value``, ``snapshot_every``) go to :func:`train_toy_gan`, with its defaults.
    """
    mixture = mixture or ring_of_gaussians()
    torch.manual_seed(seed)
    g = ToyGenerator(z_dim=z_dim, data_dim=mixture.dim, hidden=hidden)
    d = ToyDiscriminator(data_dim=mixture.dim, hidden=hidden, spectral_norm=spectral_norm)
    if device is not None:
        g, d = g.to(device), d.to(device)
    rng = torch.Generator().manual_seed(seed)
    run = train_toy_gan(g, d, mixture.sample, steps=steps, snapshot_size=snapshot_size, rng=rng, device=device, **train)
    over_time = [count_modes(s.samples, mixture).modes_covered for s in run.snapshots]
    return RingResult(run, count_modes(run.snapshots[-1].samples, mixture), over_time)
