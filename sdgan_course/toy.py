r"""Toy GANs on 1-D and 2-D data: single-layer models, a training loop that records everything, and mode counting.

Small enough to train in seconds on a CPU, and the data densities are known, so what a GAN learns can be compared
with the truth: the optimal discriminator of :mod:`sdgan_course.theory`, the modes of a mixture.

- :class:`SingleLayerGenerator` :math:`G(z) = \mathrm{act}(W_G z + b_G)` and :class:`SingleLayerDiscriminator`
  :math:`D(x) = \sigma(W_D x + b_D)`: the smallest models that make the adversarial game, and what they cannot do.
- :func:`train_toy_gan`: a plain loop over :func:`sdgan_course.train.gan_train_step` (discriminator step, then
  generator step, separate optimisers) that records the step statistics and generated samples over time.
- :func:`fit_discriminator`: train a discriminator alone, against a fixed generator, to compare it with
  :math:`D^*_G(x) = p_{data}(x) / (p_{data}(x) + p_g(x))`.
- :func:`count_modes`: how many modes of a mixture (the ring of 8 Gaussians) the samples cover, and how many samples
  are of high quality (Srivastava et al. 2017, VEEGAN, arXiv:1705.07761, section 5).
- :func:`train_ring_gan`: the MLP GAN on the ring of Gaussians in one call, with its mode coverage.

Shape legend: B batch, Z noise dimension, D data dimension (1 or 2), n samples, K mixture components.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import torch
from torch import nn

from .data import GaussianMixture, ring_of_gaussians
from .gan import ToyDiscriminator, ToyGenerator, sample_noise

ACTIVATIONS = {
    "linear": nn.Identity,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "sigmoid": nn.Sigmoid,
}

Sampler = Callable[..., torch.Tensor]  # sampler(n, generator=...) -> (n, D)


# ---------------------------------------------------------------- single-layer models


class SingleLayerGenerator(nn.Module):
    r"""The single-layer generator :math:`G(z) = \mathrm{act}(W_G z + b_G)`.

    With ``activation="linear"`` and :math:`z \sim \mathcal{N}(0, I)`, :math:`G(z)` is Gaussian,
    :math:`\mathcal{N}(b_G, W_G W_G^\top)`: an affine map of one Gaussian is one Gaussian, so it can never produce two
    modes. A monotone activation (``tanh``, ``sigmoid``) only bends that one bump; ``relu`` piles mass onto 0.
    """

    def __init__(self, *, z_dim: int = 1, data_dim: int = 1, activation: str = "linear"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"Unknown activation {activation!r}. Valid activations: {', '.join(ACTIVATIONS)}.")
        self.z_dim, self.data_dim, self.activation = z_dim, data_dim, activation
        self.linear = nn.Linear(z_dim, data_dim)
        self.act = ACTIVATIONS[activation]()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.act(self.linear(z))  # (B, D)


class SingleLayerDiscriminator(nn.Module):
    r"""The single-layer (logistic) discriminator :math:`D(x) = \sigma(W_D x + b_D)`.

    ``forward`` returns the **logit** :math:`W_D x + b_D` (the course's losses take logits, computed stably);
    :meth:`probability` applies the sigmoid — a probability needs a sigmoid, a ReLU would not give one. Its decision
    boundary :math:`W_D x + b_D = 0` is a point in 1-D and a straight line in 2-D, so it can only separate data
    from fakes along one direction.
    """

    def __init__(self, *, data_dim: int = 1):
        super().__init__()
        self.data_dim = data_dim
        self.linear = nn.Linear(data_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 1 and self.data_dim == 1:
            x = x.unsqueeze(1)  # (B, 1)
        return self.linear(x).squeeze(1)  # (B,)

    def probability(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`D(x) = \\sigma(W_D x + b_D)`, shape (B,)."""
        return torch.sigmoid(self(x))


# ---------------------------------------------------------------- training loops


@contextlib.contextmanager
def cpu_threads(device: torch.device, num_threads: int = 1) -> Iterator[None]:
    """Run a block with ``num_threads`` CPU threads when ``device`` is the CPU, then restore the previous count.

    Toy models (a few thousand parameters, batches of a few hundred 2-D points) are too small to split across
    threads: synchronising the threads costs more than the arithmetic, many times more on a busy machine. On other
    devices this does nothing.
    """
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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


def train_toy_gan(
    generator: nn.Module,
    discriminator: nn.Module,
    sample_real: Sampler,
    *,
    steps: int,
    batch_size: int = 256,
    loss: str = "ns",
    lr: float = 1e-3,
    lr_d: float | None = None,
    betas: tuple[float, float] = (0.5, 0.999),
    n_critic: int = 1,
    gp_weight: float = 10.0,
    r1_weight: float = 0.0,
    clip_value: float = 0.01,
    snapshot_every: int | None = None,
    snapshot_size: int = 1000,
    generator_rng: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> ToyRun:
    """Train a toy GAN for ``steps`` steps of :func:`sdgan_course.train.gan_train_step`; record history and samples.

    ``sample_real(n, generator=...)`` draws ``(n, D)`` data (e.g. ``ring_of_gaussians().sample``). Each step trains
    the discriminator ``n_critic`` times on real data and detached fakes, then the generator once, with two Adam
    optimisers (``lr`` for G, ``lr_d`` for D, default ``lr``). ``generator_rng`` (a ``torch.Generator``) drives the data
    and the noise, so a run is reproducible; seed the models' initialisation yourself before building them. Snapshots
    of ``snapshot_size`` samples from one fixed noise batch are taken every ``snapshot_every`` steps (default: 10 per
    run). The models are trained in place and returned, in train mode, on ``device`` (default: the generator's).
    """
    from .train import gan_train_step, make_gan_optimizers  # imported here: train imports the whole GAN stack

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
    z_fixed = sample_noise(snapshot_size, z_dim, device=device, generator=generator_rng)  # (n, Z)

    def snapshot(step: int) -> Snapshot:
        with torch.no_grad():
            return Snapshot(step, generator(z_fixed).detach().float().cpu())  # (n, D)

    history: dict[str, list[float]] = {}
    snapshots = [snapshot(0)]
    start = time.perf_counter()
    with cpu_threads(device):  # tiny models: one thread is fastest
        for step in range(1, steps + 1):
            real = sample_real(batch_size, generator=generator_rng).to(device)  # (B, D)
            stats = gan_train_step(
                generator, discriminator, opt_g, opt_d, real, loss=loss, z_dim=z_dim, gp_weight=gp_weight,
                r1_weight=r1_weight, clip_value=clip_value, n_critic=n_critic, noise_generator=generator_rng,
            )  # fmt: skip
            for key, value in stats.items():
                history.setdefault(key, []).append(value)
            if not all(math.isfinite(v) for v in stats.values()):
                raise FloatingPointError(
                    f"Toy GAN training diverged at step {step} ({loss=}, {lr=}): {stats}. Lower the learning rate "
                    "or use a regularised loss (wgan-gp, r1_weight > 0, spectral norm)."
                )
            if step % snapshot_every == 0 or step == steps:
                snapshots.append(snapshot(step))
    return ToyRun(history, snapshots, generator, discriminator, time.perf_counter() - start)


def fit_discriminator(
    discriminator: nn.Module,
    sample_real: Sampler,
    sample_fake: Sampler,
    *,
    steps: int,
    batch_size: int = 256,
    lr: float = 1e-3,
    generator_rng: torch.Generator | None = None,
) -> list[float]:
    r"""Train a discriminator alone (the generator fixed) by maximising Eq. (1) of arXiv:1406.2661; return its losses.

    The loss is the binary cross-entropy on logits, :math:`-\log D(x) - \log(1 - D(G(z)))` averaged, i.e. minus the
    value function. With enough capacity and steps, :math:`\sigma(\text{logit})` approaches :math:`D^*_G`
    (:func:`sdgan_course.theory.optimal_discriminator`) wherever there are samples.
    """
    from .losses import discriminator_loss

    device = next(discriminator.parameters()).device
    opt = torch.optim.Adam(discriminator.parameters(), lr=lr)
    losses = []
    with cpu_threads(device):
        for _ in range(steps):
            real = sample_real(batch_size, generator=generator_rng).to(device)  # (B, D)
            fake = sample_fake(batch_size, generator=generator_rng).to(device)  # (B, D)
            loss = discriminator_loss("minimax", discriminator(real), discriminator(fake))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


# ---------------------------------------------------------------- mode coverage


class ModeCoverage(NamedTuple):
    """How well samples cover the modes of a mixture (see :func:`count_modes`)."""

    modes_covered: int  # number of components with enough high-quality samples
    high_quality_fraction: float  # share of samples within num_std standard deviations of their nearest mode
    counts: torch.Tensor  # (K,) int64: high-quality samples per component


def count_modes(
    samples: torch.Tensor, mixture: GaussianMixture, *, num_std: float = 3.0, min_share: float = 0.05
) -> ModeCoverage:
    r"""Count the modes of ``mixture`` that ``samples`` (n, D) cover, and the fraction of high-quality samples.

    A sample is **high quality** when it lies within ``num_std`` standard deviations of the nearest component mean
    (the criterion of Srivastava et al. 2017, VEEGAN, arXiv:1705.07761; 3 std for the 2-D ring). A component is
    **covered** when at least ``min_share`` of the samples it would receive from a perfect generator
    (:math:`\pi_k n`) land on it with high quality — by default 5 % (13 of 2,000 samples for the ring of 8), so a
    few stray points do not count as a mode (``min_share=0`` counts a mode hit by a single sample).
    """
    samples = torch.as_tensor(samples).detach().to("cpu", torch.float64)
    if samples.ndim == 1 and mixture.dim == 1:
        samples = samples[:, None]  # (n, 1)
    if samples.ndim != 2 or samples.shape[1] != mixture.dim:
        raise ValueError(
            f"count_modes expects samples of shape (n, {mixture.dim}) for this {mixture.dim}-D mixture, "
            f"got {tuple(samples.shape)}."
        )
    if len(samples) == 0:
        raise ValueError("count_modes got no samples.")
    if num_std <= 0 or min_share < 0:
        raise ValueError(f"num_std must be > 0 and min_share >= 0, got num_std={num_std}, min_share={min_share}.")
    dist = torch.cdist(samples, mixture.means)  # (n, K)
    nearest_dist, nearest = dist.min(dim=1)  # (n,), (n,)
    high_quality = nearest_dist <= num_std * mixture.stds[nearest]  # (n,)
    k = len(mixture.means)
    counts = torch.bincount(nearest[high_quality], minlength=k)  # (K,)
    needed = torch.clamp(min_share * mixture.weights * len(samples), min=1.0)  # (K,)
    return ModeCoverage(int((counts >= needed).sum()), high_quality.double().mean().item(), counts)


# ---------------------------------------------------------------- the ring experiment in one call

# Settings of the MLP GAN on the ring, per profile: the same models and optimiser, only the number of steps changes.
# Checked over several seeds: 6 to 8 modes covered after the ci budget (8 seeds), 8 after the cpu budget (3 seeds).
RING_PRESETS: dict[str, dict] = {
    "ci": dict(steps=800, hidden=(64, 64), lr=2e-3, betas=(0.5, 0.9), batch_size=512),
    "cpu": dict(steps=2000, hidden=(64, 64), lr=2e-3, betas=(0.5, 0.9), batch_size=512),
    "gpu": dict(steps=3000, hidden=(64, 64), lr=2e-3, betas=(0.5, 0.9), batch_size=512),
}


def ring_preset(profile: str, **overrides) -> dict:
    """The :func:`train_ring_gan` keyword arguments of a profile (``"ci"``, ``"cpu"``, ``"gpu"``), with overrides."""
    if profile not in RING_PRESETS:
        raise ValueError(f"Unknown profile {profile!r} for ring_preset. Valid profiles: {', '.join(RING_PRESETS)}.")
    return {**RING_PRESETS[profile], **overrides}


class RingResult(NamedTuple):
    """A trained ring GAN and how many of the modes its final samples cover."""

    run: ToyRun
    coverage: ModeCoverage
    coverage_over_time: list[int]  # modes covered at each snapshot


def train_ring_gan(
    *,
    steps: int,
    loss: str = "ns",
    seed: int = 0,
    z_dim: int = 2,
    hidden: Sequence[int] = (128, 128),
    spectral_norm: bool = False,
    batch_size: int = 256,
    lr: float = 1e-3,
    lr_d: float | None = None,
    betas: tuple[float, float] = (0.5, 0.999),
    n_critic: int = 1,
    gp_weight: float = 10.0,
    r1_weight: float = 0.0,
    clip_value: float = 0.01,
    snapshot_every: int | None = None,
    snapshot_size: int = 2000,
    mixture: GaussianMixture | None = None,
    device: torch.device | str | None = None,
) -> RingResult:
    """Build a :class:`~sdgan_course.gan.ToyGenerator`/:class:`~sdgan_course.gan.ToyDiscriminator` pair (seeded with
    ``seed``), train it on the ring of 8 Gaussians (or ``mixture``) with :func:`train_toy_gan`, and count the modes.
    """
    mixture = mixture or ring_of_gaussians()
    torch.manual_seed(seed)
    g = ToyGenerator(z_dim=z_dim, data_dim=mixture.dim, hidden=hidden)
    d = ToyDiscriminator(data_dim=mixture.dim, hidden=hidden, spectral_norm=spectral_norm)
    if device is not None:
        g, d = g.to(device), d.to(device)
    run = train_toy_gan(
        g, d, mixture.sample, steps=steps, batch_size=batch_size, loss=loss, lr=lr, lr_d=lr_d, betas=betas,
        n_critic=n_critic, gp_weight=gp_weight, r1_weight=r1_weight, clip_value=clip_value,
        snapshot_every=snapshot_every, snapshot_size=snapshot_size,
        generator_rng=torch.Generator().manual_seed(seed), device=device,
    )  # fmt: skip
    over_time = [count_modes(s.samples, mixture).modes_covered for s in run.snapshots]
    return RingResult(run, count_modes(run.snapshots[-1].samples, mixture), over_time)
