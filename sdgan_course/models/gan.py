r"""The GAN family: the noise prior, :class:`GANConfig` and its presets, :func:`build_gan` and loading a checkpoint.

The networks themselves (the MLP pair and the DCGAN pair, every discriminator returning logits, every generator
ending in ``tanh``) are in :mod:`sdgan_course.models.gan_networks`; every name there is importable from here too, so
``from sdgan_course.models.gan import DCGANGenerator`` and ``gan.DCGANGenerator`` keep working. (The toy pairs for
1-D and 2-D data are in :mod:`sdgan_course.models.toy`.)

:class:`GANConfig` is a frozen dataclass with presets per profile; a checkpoint stores ``dataclasses.asdict(config)``
and :func:`build_gan` rebuilds the same pair from it (DCGAN's N(0, 0.02) initialisation, Radford et al. 2015,
arXiv:1511.06434). :func:`load_gan` reads such a file back: a GAN checkpoint holds a model and its model config
alone, so it is read beside the model (the exporter, ``export_gan``, sits beside the run in
:mod:`sdgan_course.train.gan`).

Shape legend: B batch, Z noise dimension (``z_dim``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from ..assets import find_asset
from ..checkpoint import CheckpointError, load_checkpoint
from ..config import profile_sizes
from ..nn.blocks import init_dcgan_weights
from .gan_networks import (
    D_CONDITIONINGS,
    D_NORMS,
    IMAGE_SIZES,
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    check_image_size,
)

ARCHS = ("dcgan", "mlp")
CHECKPOINT_KIND = "gan"  # the kind of every GAN checkpoint (training runs and exported models)


# ---------------------------------------------------------------- the noise prior


def sample_noise(
    n: int, z_dim: int, *, device: torch.device | str | None = None, rng: torch.Generator | None = None
) -> torch.Tensor:
    r"""Noise z ~ N(0, I) of shape (n, z_dim), the prior p_z of Goodfellow et al. 2014 (arXiv:1406.2661).

    It is drawn on the CPU (with ``rng`` if given) and then moved to ``device``, so one seed gives the same
    z on every device.
    """
    if n < 0 or z_dim <= 0:
        raise ValueError(f"sample_noise needs n >= 0 and z_dim > 0, got n={n}, z_dim={z_dim}.")
    z = torch.randn(n, z_dim, generator=rng)  # (B, Z)
    return z if device is None else z.to(device)


# ---------------------------------------------------------------- config, factory and loading


@dataclass(frozen=True)
class GANConfig:
    """Everything needed to rebuild a generator/discriminator pair; a checkpoint stores ``dataclasses.asdict`` of it.

    ``arch`` is ``"dcgan"`` or ``"mlp"``. ``base_channels``, ``d_norm`` apply to DCGAN; ``g_hidden``/``d_hidden`` to
    the MLP pair; ``spectral_norm`` to both discriminators. ``num_classes`` > 0 makes both class-conditional.
    Use ``d_norm="none"`` with WGAN-GP, R1 or spectral norm: batch norm mixes the samples of a batch, and those
    regularisers assume each logit depends on its own sample only.

    ``d_conditioning`` says how a conditional DCGAN discriminator sees the label: ``"concat"`` (one-hot label maps as
    extra input channels, the default) or ``"projection"`` (Miyato and Koyama 2018). ``"concat"`` is the default
    because, for the shipped conditional model, the projection discriminator let the generator collapse within each
    class (with the non-saturating loss + batch norm and with the hinge loss + spectral norm) while ``"concat"`` kept
    the variety; the runs and their numbers are in ``data/checkpoints/README.md`` ("A conditional run that
    collapsed").
    """

    arch: str = "dcgan"
    z_dim: int = 100
    base_channels: int = 64
    image_size: int = 28
    channels: int = 1
    num_classes: int = 0
    d_norm: str = "batch"
    spectral_norm: bool = False
    d_conditioning: str = "concat"
    g_hidden: tuple[int, ...] = (128, 256, 512, 1024)
    d_hidden: tuple[int, ...] = (512, 256)

    def __post_init__(self):
        # asdict -> JSON/torch.save -> GANConfig(**d) may turn tuples into lists: turn them back.
        for name in ("g_hidden", "d_hidden"):
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        if self.arch not in ARCHS:
            raise ValueError(f"GANConfig.arch={self.arch!r} is not known. Valid values: {', '.join(map(repr, ARCHS))}.")
        if self.arch == "dcgan":
            check_image_size(self.image_size)
        if self.d_norm not in D_NORMS:
            raise ValueError(
                f"GANConfig.d_norm={self.d_norm!r} is not known. Valid values: {', '.join(map(repr, D_NORMS))}."
            )
        for name in ("z_dim", "base_channels", "image_size", "channels"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"GANConfig.{name} must be positive, got {getattr(self, name)!r}.")
        if self.num_classes < 0:
            raise ValueError(f"GANConfig.num_classes must be >= 0 (0 = unconditional), got {self.num_classes}.")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    @classmethod
    def preset(
        cls, profile: str, *, conditional: bool = False, num_classes: int = 10, arch: str = "dcgan", **overrides
    ) -> GANConfig:
        """The config of a profile: ``"ci"`` tiny, ``"cpu"`` laptop-sized, ``"gpu"`` full-sized for 28 x 28 images
        (``base_channels=64``: 128 channels at 7 x 7; DCGAN's 64-pixel generator starts from 1024 channels at 4 x 4,
        which would be ``base_channels=128`` here); any field can be overridden by keyword
        (``GANConfig.preset("cpu", base_channels=32)``); the sizes are :data:`GAN_PRESETS`."""
        sizes = profile_sizes(GAN_PRESETS, profile, "GANConfig.preset", **overrides)
        return cls(arch=arch, num_classes=num_classes if conditional else 0, **sizes)

    def replace(self, **changes) -> GANConfig:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)


GAN_PRESETS = {
    "ci": dict(z_dim=32, base_channels=8, g_hidden=(32, 64, 128, 256), d_hidden=(128, 64)),
    "cpu": dict(z_dim=64, base_channels=48, g_hidden=(128, 256, 512, 1024), d_hidden=(512, 256)),
    "gpu": dict(z_dim=100, base_channels=64, g_hidden=(128, 256, 512, 1024), d_hidden=(512, 256)),
}


class GANPair(NamedTuple):
    generator: nn.Module
    discriminator: nn.Module


def build_gan(config: GANConfig) -> GANPair:
    """Build the generator and discriminator described by ``config``, with the DCGAN initialisation applied."""
    if config.arch == "mlp":
        g = MLPGenerator(z_dim=config.z_dim, hidden=config.g_hidden, image_shape=config.image_shape,
                         num_classes=config.num_classes)
        d = MLPDiscriminator(image_shape=config.image_shape, hidden=config.d_hidden, num_classes=config.num_classes,
                             spectral_norm=config.spectral_norm)
    else:
        g = DCGANGenerator(z_dim=config.z_dim, base_channels=config.base_channels, image_size=config.image_size,
                           channels=config.channels, num_classes=config.num_classes)
        d = DCGANDiscriminator(base_channels=config.base_channels, image_size=config.image_size,
                               channels=config.channels, num_classes=config.num_classes, norm=config.d_norm,
                               conditioning=config.d_conditioning,
                               spectral_norm=config.spectral_norm)
    return GANPair(init_dcgan_weights(g), init_dcgan_weights(d))


class LoadedGAN(NamedTuple):
    generator: nn.Module  # the EMA generator, in eval mode
    discriminator: nn.Module  # in eval mode
    config: GANConfig
    step: int


def load_gan(path: str | Path, *, device: torch.device | str | None = None) -> LoadedGAN:
    """Load a GAN checkpoint (a training run or an exported one) for sampling: EMA generator and discriminator."""
    ckpt = load_checkpoint(path, kind=CHECKPOINT_KIND)
    config = GANConfig(**ckpt["gan_config"])
    generator, discriminator = build_gan(config)
    try:
        generator.load_state_dict(ckpt["ema_model"])  # old files: "ema_generator"
        discriminator.load_state_dict(ckpt["discriminator"])
    except RuntimeError as err:
        raise CheckpointError(f"{path} does not match the model its config describes: {err}") from err
    device = torch.device(device) if device is not None else torch.device("cpu")
    return LoadedGAN(generator.to(device).eval(), discriminator.to(device).eval(), config, ckpt["step"])


def load_shipped_gan(name: str = "gan_fashion_mnist", *, device: torch.device | str | None = None) -> LoadedGAN:
    """Load a pretrained GAN shipped with the course: ``"gan_fashion_mnist"`` or ``"cgan_fashion_mnist"``."""
    return load_gan(find_asset(f"checkpoints/{name}.pt"), device=device)


__all__ = [
    "ARCHS", "CHECKPOINT_KIND", "D_CONDITIONINGS", "D_NORMS", "GAN_PRESETS", "IMAGE_SIZES", "DCGANDiscriminator",
    "DCGANGenerator", "GANConfig", "GANPair", "LoadedGAN", "MLPDiscriminator", "MLPGenerator", "build_gan",
    "init_dcgan_weights", "load_gan", "load_shipped_gan", "sample_noise",
]
