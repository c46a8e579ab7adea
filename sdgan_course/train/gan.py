"""GAN training: one visible step, its config and run, on the shared loop (:mod:`sdgan_course.train.loop`).

The step is the heart of the course: **discriminator first** (on real images and on *detached* fakes, so its loss
cannot reach the generator), **then the generator** (through the discriminator, which it does not update), each with
its own optimiser (Goodfellow et al. 2014, arXiv:1406.2661, Algorithm 1).

Shape legend: B batch, C channels, H x W pixels, Z noise dimension.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from ..checkpoint import CheckpointError, save_checkpoint
from ..config import profile_sizes
from ..data.batches import StepBatches
from ..device import adam_speed_options, maybe_compile
from ..distributed import local_part, world_size, wrap_ddp
from ..losses.gan import GAN_LOSSES, clip_weights_, discriminator_loss, generator_loss, gradient_penalty, r1_penalty
from ..models.gan import CHECKPOINT_KIND, GANConfig, build_gan, sample_noise
from .loop import EMA, DivergenceError, MixedPrecision, ResumableRun, loop_options, mixed_precision, train_loop

# ---------------------------------------------------------------- optimisers and the step


def make_gan_optimizers(
    generator: nn.Module,
    discriminator: nn.Module,
    *,
    lr: float = 2e-4,
    betas: tuple[float, float] = (0.5, 0.999),
    lr_d: float | None = None,
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """Two separate Adam optimisers, ``(opt_g, opt_d)``; DCGAN's Adam(2e-4, beta1 = 0.5) by default.

    (Radford et al. 2015, arXiv:1511.06434, section 4: beta1 = 0.9 oscillated, 0.5 stabilised training.)
    """
    fast = adam_speed_options(next(generator.parameters()).device)  # fused Adam on CUDA
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas, **fast)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr if lr_d is None else lr_d, betas=betas, **fast)
    return opt_g, opt_d


def _call(model: nn.Module, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    return model(x) if labels is None else model(x, labels)


@dataclass(frozen=True)
class GANStepConfig:
    """The hyperparameters of one GAN update, in one place, passed whole to :func:`gan_train_step`.

    ``loss`` one of :data:`~sdgan_course.losses.gan.GAN_LOSSES`; ``n_critic`` discriminator steps per generator step;
    ``gp_weight`` the WGAN-GP lambda (used with ``"wgan-gp"``); ``r1_weight`` the R1 gamma (0: off); ``clip_value``
    the WGAN weight clip (used with ``"wgan"``).
    """

    loss: str = "ns"
    n_critic: int = 1
    gp_weight: float = 10.0
    r1_weight: float = 0.0
    clip_value: float = 0.01

    def __post_init__(self):
        if self.loss not in GAN_LOSSES:
            raise ValueError(f"Unknown GAN loss {self.loss!r}. Valid losses: {', '.join(GAN_LOSSES)}.")
        if self.n_critic < 1:
            raise ValueError(f"n_critic must be at least 1, got {self.n_critic}.")


def gan_train_step(
    generator: nn.Module,
    discriminator: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real: torch.Tensor,
    *,
    z_dim: int,
    config: GANStepConfig | None = None,
    labels: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
    amp: bool = False,
    scaler: torch.amp.GradScaler | None = None,
) -> dict[str, float]:
    r"""One GAN update: ``config.n_critic`` discriminator steps, then one generator step. Returns a dict of floats.

    The fakes of the last discriminator step are generated with a graph into G and reused by the generator step
    (as in the DCGAN reference code): the discriminator sees them through ``.detach()``, the generator step does not.

    Discriminator: minimise ``discriminator_loss`` (+ ``gp_weight`` * WGAN-GP penalty for ``"wgan-gp"``, Gulrajani
    et al. 2017 eq. 3; + ``r1_weight / 2`` * R1, Mescheder et al. 2018 eq. 9; weight clipping for ``"wgan"``).
    Generator: minimise ``generator_loss`` on those same fakes, now not detached (so no new G forward pass), e.g. the
    non-saturating :math:`L_G = -\mathbb{E}_{z \sim p_z}[\log D(G(z))]` (Goodfellow et al. 2014, section 3).

    ``config`` is a :class:`GANStepConfig` (default: the non-saturating loss, one critic step). ``real`` (B, C, H, W)
    in [-1, 1] (or (B, D) for toy data); ``labels`` (B,) for conditional models.

    **One real batch per call.** With ``n_critic > 1`` every critic step sees this one real batch (and fresh fakes);
    Arjovsky et al.'s and Gulrajani et al.'s Algorithm 1 draw a new real batch for each critic step. The step takes
    its real data as one argument so that every loss uses data the same way: one call of the shared loop is one batch
    (:class:`~sdgan_course.data.batches.StepBatches` maps the step number to its batch, which is what makes a resumed
    run continue identically), whatever ``n_critic`` is. So a ``"wgan"`` / ``"wgan-gp"`` run sees ``n_critic`` times
    fewer real images per generator step than the papers', and its critic takes ``n_critic`` updates against the same
    real samples. Drawing a batch per critic step instead would feed the critic the papers' ``n_critic`` batches per
    generator step, make an epoch ``n_critic`` times fewer generator steps, and change the data order and the random
    draws, so the seeded runs of notebooks 02 and 04 (``n_critic=5``) would no longer reproduce their stored outputs.
    """
    config = config or GANStepConfig()
    loss, n_critic = config.loss, config.n_critic
    device, b = real.device, real.shape[0]
    if scaler is not None:  # an explicit scaler (the tests' CPU one) for both optimisers
        prec_d = prec_g = MixedPrecision(device, amp, scaler=scaler)
    else:  # each optimiser keeps its own path, and its loss scale across steps (train/loop.py)
        prec_d, prec_g = mixed_precision(opt_d, device, amp), mixed_precision(opt_g, device, amp)
    stats: dict[str, torch.Tensor] = {}

    # ---- 1. discriminator: real vs detached fake ----
    for i in range(n_critic):
        z = local_part(sample_noise(b * world_size(), z_dim, device=device, rng=rng))  # (B, Z): see distributed.py
        reuse = i == n_critic - 1  # the last fakes are reused by the generator step: one G forward saved
        with torch.set_grad_enabled(reuse), prec_g.autocast():
            fake = _call(generator, z, labels)  # (B, C, H, W)
        with prec_d.autocast():
            real_logits = _call(discriminator, real, labels)  # (B,)
            fake_logits = _call(discriminator, fake.detach(), labels)  # (B,); .detach(): D's loss never reaches G
            loss_d = discriminator_loss(loss, real_logits, fake_logits)
        if loss == "wgan-gp":
            gp = gradient_penalty(discriminator, real, fake.float(), labels=labels, rng=rng)
            loss_d = loss_d + config.gp_weight * gp
            stats["gp"] = gp.detach()
        if config.r1_weight > 0:
            r1 = r1_penalty(discriminator, real, labels=labels)
            loss_d = loss_d + 0.5 * config.r1_weight * r1
            stats["r1"] = r1.detach()
        opt_d.zero_grad(set_to_none=True)
        stats["grad_norm_d"] = prec_d.step(loss_d, opt_d, discriminator)
        if loss == "wgan":
            clip_weights_(discriminator, config.clip_value)

    # ---- 2. generator: fool the (just updated) discriminator with the same fakes, now not detached ----
    with prec_g.autocast():
        loss_g = generator_loss(loss, _call(discriminator, fake, labels))  # gradients flow through D into G
    opt_g.zero_grad(set_to_none=True)
    stats["grad_norm_g"] = prec_g.step(loss_g, opt_g, generator)  # D gets gradients, only G steps

    squash = torch.sigmoid if loss in ("minimax", "ns") else (lambda t: t)
    stats.update(
        loss_d=loss_d.detach(),
        loss_g=loss_g.detach(),
        d_real=squash(real_logits.detach().float()).mean(),
        d_fake=squash(fake_logits.detach().float()).mean(),
    )
    values = torch.stack([v.float().to(device) for v in stats.values()]).tolist()  # one device sync, not eight
    return dict(zip(stats, values))


# ---------------------------------------------------------------- configs and the loop


@dataclass(frozen=True)
class GANTrainConfig:
    """How to train (the model itself is a :class:`~sdgan_course.models.gan.GANConfig`)."""

    dataset: str = "fashion_mnist"
    loss: str = "ns"
    steps: int = 2000
    batch_size: int = 128
    lr: float = 2e-4
    lr_d: float | None = None
    betas: tuple[float, float] = (0.5, 0.999)
    n_critic: int = 1
    gp_weight: float = 10.0
    r1_weight: float = 0.0
    clip_value: float = 0.01
    ema_decay: float = 0.999
    amp: bool = True
    seed: int = 0
    train_limit: int | None = None
    checkpoint_every: int = 500
    log_every: int = 10
    max_grad_norm: float = 1e4  # the divergence guard's threshold
    compile: bool = False  # torch.compile the networks (GPU runs)

    def __post_init__(self):
        object.__setattr__(self, "betas", tuple(self.betas))
        self.step_config  # noqa: B018 - checks the step's fields (loss name, n_critic) early

    @property
    def step_config(self) -> GANStepConfig:
        """The step's hyperparameters, as the one config :func:`gan_train_step` takes."""
        return GANStepConfig(self.loss, self.n_critic, self.gp_weight, self.r1_weight, self.clip_value)

    @classmethod
    def preset(cls, profile: str, *, loss: str = "ns", **overrides) -> GANTrainConfig:
        """Steps and batch size per profile (:data:`GAN_TRAIN_PRESETS`); the WGAN losses get their papers' learning
        rates and critic steps (:data:`GAN_LOSS_SETTINGS`); ``overrides`` win over both.

        ``"wgan"``: lr 5e-5, 5 critic steps, clip 0.01 (Arjovsky et al. 2017, Algorithm 1), with Adam(beta1 = 0,
        beta2 = 0.99) where the paper used RMSProp: the paper found momentum (Adam with beta1 > 0) made the critic
        unstable; with beta1 = 0 Adam's update is RMSProp's (PyTorch's ``RMSprop(alpha=0.99)``) plus the bias
        correction of the squared-gradient average, so the course keeps one optimiser type for every loss.
        ``"wgan-gp"``: Adam(1e-4, betas (0, 0.9)), 5 critic steps (Gulrajani et al. 2017, Algorithm 1).
        """
        settings = {**GAN_LOSS_SETTINGS.get(loss, {}), **overrides}
        return cls(loss=loss, **profile_sizes(GAN_TRAIN_PRESETS, profile, "GANTrainConfig.preset", **settings))


GAN_TRAIN_PRESETS = {
    "ci": dict(steps=30, batch_size=32, train_limit=2_000, checkpoint_every=10, log_every=2),
    "cpu": dict(steps=2_000, batch_size=128, train_limit=None, checkpoint_every=500),
    "gpu": dict(steps=20_000, batch_size=256, train_limit=None, checkpoint_every=2_000),
}
GAN_LOSS_SETTINGS = {  # per loss, on top of the profile's sizes
    "wgan": dict(lr=5e-5, betas=(0.0, 0.99), n_critic=5),  # Arjovsky et al. 2017: RMSProp-like, no momentum
    "wgan-gp": dict(lr=1e-4, betas=(0.0, 0.9), n_critic=5),  # Gulrajani et al. 2017, Algorithm 1
}


class GANRun(ResumableRun):
    """Everything a GAN training run holds: models, optimisers, EMA, step counter, history and RNG state."""

    kind = CHECKPOINT_KIND
    optimizer_key = "opt_g"

    def __init__(self, gan_config: GANConfig, train_config: GANTrainConfig, *, device: torch.device | str = "cpu"):
        self.gan_config, self.train_config = gan_config, train_config
        self.device = torch.device(device)
        torch.manual_seed(train_config.seed)  # weights are initialised reproducibly
        self.generator, self.discriminator = (m.to(self.device) for m in build_gan(gan_config))
        self.opt_g, self.opt_d = make_gan_optimizers(
            self.generator, self.discriminator, lr=train_config.lr, betas=train_config.betas, lr_d=train_config.lr_d
        )
        self.ema = EMA(self.generator, decay=train_config.ema_decay)
        self.rng = torch.Generator().manual_seed(train_config.seed + 1)
        self.step = 0
        self.history: dict[str, list[float]] = {}

    @property
    def ema_source(self) -> nn.Module:
        """The live model the EMA follows (the training loop updates ``ema`` from it after each step)."""
        return self.generator

    # -- checkpoints --
    def state(self) -> dict:
        return {
            "gan_config": asdict(self.gan_config),
            "train_config": asdict(self.train_config),
            "step": self.step,
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "ema_model": self.ema.model.state_dict(),
            "ema_updates": self.ema.num_updates,
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": self.rng.get_state(),
            "history": self.history,
        }

    @classmethod
    def load(cls, path: str | Path, *, device: torch.device | str = "cpu", train_config: GANTrainConfig | None = None):
        """Rebuild a run from a checkpoint written by :meth:`save`; ``train_config`` may extend e.g. ``steps``."""
        ckpt = cls.read_resumable(path)
        saved_train = GANTrainConfig(**ckpt["train_config"])
        run = cls(GANConfig(**ckpt["gan_config"]), train_config or saved_train, device=device)
        try:
            run.generator.load_state_dict(ckpt["generator"])
            run.discriminator.load_state_dict(ckpt["discriminator"])
            run.ema.model.load_state_dict(ckpt["ema_model"])
        except RuntimeError as err:
            raise CheckpointError(f"{path} does not match the model its config describes: {err}") from err
        run.opt_g.load_state_dict(ckpt["opt_g"])
        run.opt_d.load_state_dict(ckpt["opt_d"])
        run.ema.num_updates = ckpt["ema_updates"]
        run.rng.set_state(ckpt["rng"])
        run.step, run.history = ckpt["step"], ckpt["history"]
        return run


class TrainResult(NamedTuple):
    run: GANRun
    seconds: float
    images_per_second: float


def train_gan(
    run: GANRun,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    steps: int | None = None,
    checkpoint_path: str | Path | None = None,
    hook: Callable[[GANRun, dict[str, float]], None] | None = None,
    hook_every: int = 100,
    progress: bool = True,
    max_seconds: float | None = None,
) -> TrainResult:
    """Train ``run`` until ``run.step == steps`` (default: the config's steps), resuming from ``run.step``.

    ``images`` (N, C, H, W) in [-1, 1]; ``labels`` (N,) only for a conditional model. Every ``checkpoint_every``
    steps (and at the end) the run is saved atomically to ``checkpoint_path``. If a loss turns NaN/inf or a gradient
    norm exceeds ``max_grad_norm``, training stops with :class:`DivergenceError` and the last good checkpoint is left
    untouched. ``hook(run, stats)`` is called every ``hook_every`` steps (live plots). With ``max_seconds``
    training also stops (and saves) once that much wall time has passed.
    """
    cfg = run.train_config
    steps = cfg.steps if steps is None else steps
    conditional = run.gan_config.num_classes > 0
    if conditional and labels is None:
        raise ValueError("This GAN is class-conditional (num_classes > 0): pass the dataset's labels.")
    tensors = (images, labels) if conditional else (images,)
    stream = StepBatches(*tensors, batch_size=cfg.batch_size, seed=cfg.seed, device=run.device)
    run.generator.train()
    run.discriminator.train()
    # DDP under torchrun, torch.compile with cfg.compile; in one plain process the networks themselves
    generator, discriminator = (maybe_compile(wrap_ddp(m), cfg.compile) for m in (run.generator, run.discriminator))

    step_config = cfg.step_config

    def step_fn(step: int) -> dict[str, float]:
        batch = stream.batch(step)  # this rank's shard of global batch `step`
        real, y = batch[0], (batch[1] if conditional else None)
        return gan_train_step(
            generator, discriminator, run.opt_g, run.opt_d, real, z_dim=run.gan_config.z_dim,
            config=step_config, labels=y, rng=run.rng, amp=cfg.amp,
        )

    result = train_loop(
        run, step_fn, steps=steps, checkpoint_path=checkpoint_path, hook=hook, hook_every=hook_every,
        progress=progress, max_seconds=max_seconds, desc="GAN training", **loop_options(cfg),
        postfix=("loss_d", "loss_g"),
        fixes="lower the learning rate, use spectral normalisation or a gradient penalty (wgan-gp, r1), or turn off "
        "mixed precision (amp=False)",
    )
    return TrainResult(run, result.seconds, result.examples_per_second)


# ---------------------------------------------------------------- shipping a trained generator


def export_gan(run: GANRun, path: str | Path, **info) -> Path:
    """Save only what sampling and scoring need (EMA generator + discriminator + config): a small, shippable file."""
    state = {
        "gan_config": asdict(run.gan_config),
        "train_config": asdict(run.train_config),
        "step": run.step,
        "ema_model": run.ema.model.state_dict(),
        "discriminator": run.discriminator.state_dict(),
        "info": info,
    }
    return save_checkpoint(path, state, kind=CHECKPOINT_KIND)


__all__ = [
    "DivergenceError", "EMA", "GAN_LOSS_SETTINGS", "GAN_TRAIN_PRESETS", "GANRun", "GANStepConfig", "GANTrainConfig",
    "TrainResult", "export_gan", "gan_train_step", "make_gan_optimizers", "train_gan",
]
