r"""Training the VAEs: one visible step each (the small VAE; the KL-autoencoder with its patch discriminator), their
configs and runs on the shared loop (:mod:`sdgan_course.train.loop`), export/load, and reconstruction quality.

The autoencoder step follows the CompVis ``AutoencoderKL.training_step`` (Rombach et al. 2022, arXiv:2112.10752):
**first the autoencoder** (L1 + perceptual + KL, plus the adaptively weighted adversarial term once
``step >= disc_start``), **then the patch discriminator** on real images and **detached** reconstructions, each with
its own Adam(betas = (0.5, 0.9)) optimiser. With ``adversarial=False`` the discriminator is never built: the same
model trained on L1 + perceptual + KL only.

Shape legend: B batch, C channels, H x W pixels, c latent channels, h x w latent map.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from ..assets import find_asset
from ..checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ..config import profile_sizes
from ..data.batches import StepBatches
from ..distributed import rank_generator, unwrap, wrap_ddp
from ..losses.vae import autoencoder_loss, patch_discriminator_loss, vae_loss
from ..models.gan import DCGANDiscriminator
from ..models.vae import (
    AUTOENCODER_KIND,
    VAE,
    VAE_KIND,
    AutoencoderConfig,
    KLAutoencoder,
    VAEConfig,
    latent_scale_factor,
)
from ..nn.blocks import init_dcgan_weights
from .loop import ResumableRun, grad_norm, train_loop

# ---------------------------------------------------------------- the small VAE


@dataclass(frozen=True)
class VAETrainConfig:
    """How to train the small VAE: β, likelihood (see :mod:`sdgan_course.losses.vae`), Adam, steps."""

    dataset: str = "fashion_mnist"
    beta: float = 1.0
    likelihood: str = "bernoulli"
    steps: int = 3000
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    train_limit: int | None = None
    checkpoint_every: int = 500
    log_every: int = 10
    max_grad_norm: float = 1e6  # the divergence guard (losses are sums over 784 pixels, so gradients are large)

    @classmethod
    def preset(cls, profile: str, **overrides) -> VAETrainConfig:
        """The steps and batch size of a profile (:data:`VAE_TRAIN_PRESETS`), with ``overrides`` applied."""
        return cls(**profile_sizes(VAE_TRAIN_PRESETS, profile, "VAETrainConfig.preset", **overrides))


VAE_TRAIN_PRESETS = {
    "ci": dict(steps=30, batch_size=64, train_limit=2_000, checkpoint_every=10, log_every=2),
    "cpu": dict(steps=3_000), "gpu": dict(steps=20_000, batch_size=256),
}


def vae_train_step(model: VAE, opt: torch.optim.Optimizer, x: torch.Tensor, *, beta: float = 1.0,
                   likelihood: str = "bernoulli", rng: torch.Generator | None = None) -> dict[str, float]:
    """One Adam step on the negative ELBO (β-weighted KL). Returns loss, elbo, reconstruction, kl, grad_norm."""
    terms = vae_loss(model, x, beta=beta, likelihood=likelihood, rng=rng)
    opt.zero_grad(set_to_none=True)
    terms.loss.backward()
    norm = grad_norm(model)
    opt.step()
    return {"loss": terms.loss.item(), "elbo": terms.elbo.item(), "reconstruction": terms.reconstruction.item(),
            "kl": terms.kl.item(), "grad_norm": norm.item()}


class VAERun:
    """A VAE training run: model, optimiser, step counter, history and RNG state (no EMA)."""

    def __init__(self, vae_config: VAEConfig, train_config: VAETrainConfig, *, device="cpu"):
        self.vae_config, self.train_config, self.device = vae_config, train_config, torch.device(device)
        torch.manual_seed(train_config.seed)
        self.model = VAE(config=vae_config).to(self.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=train_config.lr)
        self.rng = torch.Generator().manual_seed(train_config.seed + 1)
        self.step, self.history = 0, {}

    def save(self, path) -> Path:
        return save_checkpoint(path, {
            "vae_config": asdict(self.vae_config), "train_config": asdict(self.train_config), "step": self.step,
            "model": self.model.state_dict(), "opt": self.opt.state_dict(), "rng": self.rng.get_state(),
            "history": self.history,
        }, kind=VAE_KIND)

    @classmethod
    def load(cls, path, *, device="cpu", train_config: VAETrainConfig | None = None) -> VAERun:
        ckpt = load_checkpoint(path, kind=VAE_KIND)
        run = cls(VAEConfig(**ckpt["vae_config"]), train_config or VAETrainConfig(**ckpt["train_config"]),
                  device=device)
        _load_state(run.model, ckpt["model"], path)
        run.opt.load_state_dict(ckpt["opt"])
        run.rng.set_state(ckpt["rng"])
        run.step, run.history = ckpt["step"], ckpt["history"]
        return run


def train_vae(run: VAERun, images: torch.Tensor, *, steps: int | None = None, checkpoint_path=None, hook=None,
              hook_every: int = 100, progress: bool = True, max_seconds: float | None = None):
    """Train ``run`` to ``steps`` on ``images`` (N, C, H, W) in [-1, 1] through the shared loop; returns its result."""
    cfg = run.train_config
    _check_images(images, run.vae_config.image_shape[0])
    stream = StepBatches(images, batch_size=cfg.batch_size, seed=cfg.seed, device=run.device)  # this rank's shard
    run.model.train()
    model = wrap_ddp(run.model)  # run.model itself in one process

    def step_fn(step: int) -> dict[str, float]:
        return vae_train_step(model, run.opt, stream.batch(step)[0], beta=cfg.beta, likelihood=cfg.likelihood,
                              rng=rank_generator(run.rng))

    return train_loop(
        run, step_fn, steps=cfg.steps if steps is None else steps, batch_size=cfg.batch_size,
        checkpoint_path=checkpoint_path, checkpoint_every=cfg.checkpoint_every, log_every=cfg.log_every,
        max_grad_norm=cfg.max_grad_norm, hook=hook, hook_every=hook_every, progress=progress,
        max_seconds=max_seconds, desc="VAE training", postfix=("loss", "kl"), fixes="lower the learning rate",
    )


def load_vae(path, *, device=None) -> VAE:
    """The VAE of a training checkpoint, in eval mode."""
    ckpt = load_checkpoint(path, kind=VAE_KIND)
    model = VAE(config=VAEConfig(**ckpt["vae_config"]))
    _load_state(model, ckpt["model"], path)
    return model.to(device or "cpu").eval()


# ---------------------------------------------------------------- the KL-autoencoder


@dataclass(frozen=True)
class AutoencoderTrainConfig:
    """How to train the KL-autoencoder; weights as Stable Diffusion's ``kl-f8`` config (kl_weight 1e-6,
    disc_weight 0.5, perceptual_weight 1), Adam(betas=(0.5, 0.9)). ``disc_start``: first step of the adversarial
    term; ``adversarial=False`` leaves it out entirely."""

    dataset: str = "fashion_mnist"
    adversarial: bool = True
    kl_weight: float = 1e-6
    perceptual_weight: float = 1.0
    disc_weight: float = 0.5
    disc_start: int = 1000
    disc_channels: int = 32  # width of the patch discriminator (DCGAN discriminator, patch=True)
    steps: int = 3000
    batch_size: int = 64
    lr: float = 5e-4
    lr_d: float = 5e-4
    seed: int = 0
    train_limit: int | None = None
    checkpoint_every: int = 250
    log_every: int = 10
    max_grad_norm: float = 1e7  # the divergence guard (the loss is a sum over pixels)

    @classmethod
    def preset(cls, profile: str, **overrides) -> AutoencoderTrainConfig:
        """The steps and sizes of a profile (:data:`AUTOENCODER_TRAIN_PRESETS`), with ``overrides`` applied."""
        return cls(**profile_sizes(AUTOENCODER_TRAIN_PRESETS, profile, "AutoencoderTrainConfig.preset", **overrides))


AUTOENCODER_TRAIN_PRESETS = {
    "ci": dict(steps=8, batch_size=16, train_limit=1_000, disc_start=4, disc_channels=8, checkpoint_every=4,
               log_every=2),
    "cpu": dict(steps=3_000, disc_start=1_000),
    "gpu": dict(steps=30_000, batch_size=128, disc_start=10_000, disc_channels=64, checkpoint_every=1_000),
}


def build_patch_discriminator(config: AutoencoderTrainConfig, channels: int, image_size: int) -> nn.Module:
    """The GAN track's DCGAN discriminator with ``patch=True``: one hinge logit per patch, (B, 1, h, w)."""
    d = DCGANDiscriminator(base_channels=config.disc_channels, image_size=image_size, channels=channels, patch=True)
    return init_dcgan_weights(d)  # N(0, 0.02), as the CompVis weights_init


def autoencoder_train_step(
    autoencoder: KLAutoencoder,
    opt_ae: torch.optim.Optimizer,
    x: torch.Tensor,
    *,
    perceptual: nn.Module | None,
    discriminator: nn.Module | None = None,
    opt_d: torch.optim.Optimizer | None = None,
    step: int = 0,
    disc_start: int = 0,
    kl_weight: float = 1e-6,
    perceptual_weight: float = 1.0,
    disc_weight: float = 0.5,
    rng: torch.Generator | None = None,
) -> dict[str, float]:
    """One step: the autoencoder (through the discriminator, which it does not update), then the discriminator on
    real images and detached reconstructions (only once ``step >= disc_start``). ``x`` (B, C, H, W) in [-1, 1]."""
    adversarial = discriminator is not None and step >= disc_start
    # 1. the autoencoder
    x_hat, posterior = autoencoder(x, rng=rng)  # (B, C, H, W), posterior (B, c, h, w)
    terms = autoencoder_loss(x, x_hat, posterior, perceptual=perceptual, discriminator=discriminator,
                             last_layer=unwrap(autoencoder).last_layer, adversarial=adversarial, kl_weight=kl_weight,
                             perceptual_weight=perceptual_weight, disc_weight=disc_weight)
    opt_ae.zero_grad(set_to_none=True)
    terms.loss.backward()
    norm_ae = grad_norm(autoencoder)
    opt_ae.step()
    stats = {"loss": terms.loss.item(), "rec": terms.rec.item(), "l1": terms.l1.item(),
             "perceptual": terms.perceptual.item(), "kl": terms.kl.item(), "g_loss": terms.gan.item(),
             "adaptive_weight": terms.adaptive_weight.item(), "grad_norm_ae": norm_ae.item()}
    # 2. the discriminator, on real images and detached reconstructions
    if adversarial:
        d_loss = patch_discriminator_loss(discriminator, x, x_hat.detach())
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        stats["grad_norm_d"] = grad_norm(discriminator).item()
        opt_d.step()
        stats["d_loss"] = d_loss.item()
    return stats


class AutoencoderRun(ResumableRun):
    """An autoencoder training run: the autoencoder, the patch discriminator (if adversarial), two optimisers,
    step counter, history and RNG state. The perceptual network (the course classifier) is frozen and not saved."""

    kind = AUTOENCODER_KIND

    def __init__(self, ae_config: AutoencoderConfig, train_config: AutoencoderTrainConfig, *, device="cpu",
                 image_size: int = 28):
        self.ae_config, self.train_config, self.device = ae_config, train_config, torch.device(device)
        self.image_size = image_size
        torch.manual_seed(train_config.seed)
        self.model = KLAutoencoder(config=ae_config).to(self.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=train_config.lr, betas=(0.5, 0.9))
        self.discriminator, self.opt_d = None, None
        if train_config.adversarial:
            self.discriminator = build_patch_discriminator(train_config, ae_config.channels, image_size).to(device)
            self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=train_config.lr_d, betas=(0.5, 0.9))
        self.rng = torch.Generator().manual_seed(train_config.seed + 1)
        self.step, self.history = 0, {}

    def state(self) -> dict:
        state = {"ae_config": asdict(self.ae_config), "train_config": asdict(self.train_config),
                 "image_size": self.image_size, "step": self.step, "model": self.model.state_dict(),
                 "opt": self.opt.state_dict(), "rng": self.rng.get_state(), "history": self.history}
        if self.discriminator is not None:
            state |= {"discriminator": self.discriminator.state_dict(), "opt_d": self.opt_d.state_dict()}
        return state

    @classmethod
    def load(cls, path, *, device="cpu", train_config: AutoencoderTrainConfig | None = None) -> AutoencoderRun:
        ckpt = cls.read_resumable(path)
        train_config = train_config or AutoencoderTrainConfig(**ckpt["train_config"])
        run = cls(AutoencoderConfig(**ckpt["ae_config"]), train_config, device=device, image_size=ckpt["image_size"])
        _load_state(run.model, ckpt["model"], path)
        run.opt.load_state_dict(ckpt["opt"])
        if run.discriminator is not None and "discriminator" in ckpt:
            _load_state(run.discriminator, ckpt["discriminator"], path)
            run.opt_d.load_state_dict(ckpt["opt_d"])
        run.rng.set_state(ckpt["rng"])
        run.step, run.history = ckpt["step"], ckpt["history"]
        return run


def train_autoencoder(run: AutoencoderRun, images: torch.Tensor, perceptual: nn.Module | None, *,
                      steps: int | None = None, checkpoint_path=None, hook=None, hook_every: int = 100,
                      progress: bool = True, max_seconds: float | None = None):
    """Train ``run`` on ``images`` (N, C, H, W) in [-1, 1] with a perceptual network (e.g.
    ``ClassifierPerceptualLoss(load_classifier(dataset))``, or None for L1 + KL only) through the shared loop."""
    cfg = run.train_config
    _check_images(images, run.ae_config.channels)
    stream = StepBatches(images, batch_size=cfg.batch_size, seed=cfg.seed, device=run.device)
    if perceptual is not None:
        perceptual = perceptual.to(run.device)
    run.model.train()
    model = wrap_ddp(run.model)  # themselves in one process
    discriminator = wrap_ddp(run.discriminator) if run.discriminator is not None else None

    def step_fn(step: int) -> dict[str, float]:
        return autoencoder_train_step(
            model, run.opt, stream.batch(step)[0], perceptual=perceptual, discriminator=discriminator,
            opt_d=run.opt_d, step=step, disc_start=cfg.disc_start, kl_weight=cfg.kl_weight,
            perceptual_weight=cfg.perceptual_weight, disc_weight=cfg.disc_weight, rng=rank_generator(run.rng),
        )

    return train_loop(
        run, step_fn, steps=cfg.steps if steps is None else steps, batch_size=cfg.batch_size,
        checkpoint_path=checkpoint_path, checkpoint_every=cfg.checkpoint_every, log_every=cfg.log_every,
        max_grad_norm=cfg.max_grad_norm, hook=hook, hook_every=hook_every, progress=progress,
        max_seconds=max_seconds, desc="autoencoder training", postfix=("l1", "perceptual", "d_loss"),
        fixes="lower the learning rates (lr, lr_d), or start the discriminator later (disc_start)",
    )


# ---------------------------------------------------------------- shipping and loading


class LoadedAutoencoder(NamedTuple):
    model: KLAutoencoder  # eval mode; model.config.scale_factor is the measured one
    config: AutoencoderConfig
    step: int
    info: dict


def export_autoencoder(run: AutoencoderRun, path, *, scale_images: torch.Tensor | None = None, **info) -> Path:
    """Save only the autoencoder (no discriminator, no optimisers) with its config; with ``scale_images`` the latent
    scale factor is measured on them first (:func:`~sdgan_course.models.vae.latent_scale_factor`) and stored in the
    config."""
    config = run.ae_config
    if scale_images is not None:
        run.model.eval()
        config = config.replace(scale_factor=latent_scale_factor(run.model, scale_images.to(run.device),
                                                                 rng=torch.Generator().manual_seed(0)))
    state = {"ae_config": asdict(config), "train_config": asdict(run.train_config), "step": run.step,
             "model": {k: v.half() for k, v in run.model.state_dict().items()}, "dtype": "float16", "info": info}
    return save_checkpoint(path, state, kind=AUTOENCODER_KIND)


def load_autoencoder(path, *, device=None) -> LoadedAutoencoder:
    """Load an autoencoder checkpoint (a training run or an exported one) in eval mode, float32."""
    ckpt = load_checkpoint(path, kind=AUTOENCODER_KIND)
    config = AutoencoderConfig(**ckpt["ae_config"])
    model = KLAutoencoder(config=config)
    _load_state(model, {k: v.float() for k, v in ckpt["model"].items()}, path)
    return LoadedAutoencoder(model.to(device or "cpu").eval(), config, ckpt["step"], ckpt.get("info", {}))


def load_shipped_autoencoder(name: str = "autoencoder_fashion_mnist", *, device=None) -> LoadedAutoencoder:
    """The pretrained autoencoder shipped with the course (checksum-verified), the one latent diffusion uses."""
    return load_autoencoder(find_asset(f"checkpoints/{name}.pt"), device=device)


# ---------------------------------------------------------------- helpers


def _check_images(images: torch.Tensor, channels: int) -> None:
    if images.ndim != 4 or images.shape[1] != channels:
        raise ValueError(f"Training expects images (N, {channels}, H, W) in [-1, 1], got {tuple(images.shape)}.")
    if not math.isfinite(float(images.abs().max())) or float(images.abs().max()) > 1.0 + 1e-4:
        raise ValueError("Training images must lie in [-1, 1] (the model range): use data.to_model_range first.")


def _load_state(model: nn.Module, state: dict, path) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{path} does not match the model its config describes: {err}") from err


__all__ = [
    "AUTOENCODER_TRAIN_PRESETS", "AutoencoderRun", "AutoencoderTrainConfig", "LoadedAutoencoder", "VAERun",
    "VAE_TRAIN_PRESETS", "VAETrainConfig", "autoencoder_train_step", "build_patch_discriminator", "export_autoencoder",
    "load_autoencoder", "load_shipped_autoencoder", "load_vae",
    "train_autoencoder", "train_vae", "vae_train_step",
]
