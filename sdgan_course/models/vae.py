r"""Variational autoencoders: a small fully connected VAE, and the convolutional KL-autoencoder of latent diffusion.

Both describe an image x by a diagonal Gaussian posterior :math:`q_\phi(z|x) = \mathcal{N}(\mu_\phi(x),
\mathrm{diag}\,\sigma^2_\phi(x))` and a decoder :math:`p_\theta(x|z)`, with the prior :math:`p(z) = \mathcal{N}(0, I)`
(Kingma and Welling 2013, arXiv:1312.6114, section 3 and appendix C.2). The encoder returns the mean and the
**log-variance** :math:`\log\sigma^2` (unconstrained, so no positivity constraint is needed); a sample is drawn with
the reparameterisation trick (their eq. 10 with :math:`g(\epsilon, x) = \mu + \sigma \odot \epsilon`)

.. math:: z = \mu + \exp(\tfrac12 \log\sigma^2) \odot \epsilon, \qquad \epsilon \sim \mathcal{N}(0, I),

so the randomness sits in :math:`\epsilon` and gradients flow through :math:`\mu` and :math:`\sigma`.

Models:

- :class:`VAE`: the small MLP VAE of notebook 08, image (784) -> hidden -> (mu, logvar) of ``latent_dim`` (2 for the
  latent-space plot) -> hidden -> 784 **logits** of a Bernoulli decoder (see :mod:`sdgan_course.losses.vae`).
- :class:`KLAutoencoder`: the autoencoder that latent diffusion uses (Rombach et al. 2022, arXiv:2112.10752,
  section 3.1 and appendix G, "KL-reg."): fully convolutional (residual blocks with GroupNorm and SiLU, stride-2
  convolutions down, nearest-neighbour upsampling + convolution up), a spatial latent of ``latent_channels`` (4)
  channels at 1/``factor`` of the image size (7 x 7 for 28 x 28 with factor 4; Stable Diffusion: factor 8, 4 channels,
  64 x 64 for 512 x 512). It works on any canvas whose sides divide by the factor (56 x 56 -> 14 x 14,
  28 x 84 -> 7 x 21). ``config.scale_factor`` (1 / std of the latents, :func:`latent_scale_factor`) rescales the
  latents to unit variance for diffusion, as Stable Diffusion's 0.18215.

Shape legend: B batch, C image channels, H x W pixels, D latent dimension (MLP VAE), c latent channels,
h x w = H/factor x W/factor the latent map, F feature channels.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..config import profile_sizes
from ..nn.resnet import Downsample, group_norm

VAE_KIND = "vae"
AUTOENCODER_KIND = "autoencoder"
LOGVAR_RANGE = (-30.0, 20.0)  # the clamp of Stable Diffusion's DiagonalGaussianDistribution (CompVis code)


# ---------------------------------------------------------------- the Gaussian posterior


class DiagonalGaussian(NamedTuple):
    r""":math:`q(z|x) = \mathcal{N}(\mu, \mathrm{diag}\,\exp(\log\sigma^2))`, any shape (B, D) or (B, c, h, w)."""

    mean: torch.Tensor
    logvar: torch.Tensor

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.logvar)

    def sample(self, *, rng: torch.Generator | None = None) -> torch.Tensor:
        return reparameterize(self.mean, self.logvar, rng=rng)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, *, rng: torch.Generator | None = None) -> torch.Tensor:
    r"""The reparameterisation trick (Kingma and Welling 2013, eq. 10): :math:`z = \mu + \sigma \odot \epsilon`.

    :math:`\epsilon \sim \mathcal{N}(0, I)` is drawn on the CPU with ``rng`` and moved to ``mu``'s device, so one seed
    gives the same z everywhere. Same shape as ``mu``.
    """
    eps = torch.randn(mu.shape, generator=rng, dtype=mu.dtype).to(mu.device)  # same shape as mu
    return mu + torch.exp(0.5 * logvar) * eps


# ---------------------------------------------------------------- the small MLP VAE


@dataclass(frozen=True)
class VAEConfig:
    """The small fully connected VAE: ``image_shape`` (C, H, W), ``hidden`` widths, ``latent_dim`` D."""

    image_shape: tuple[int, int, int] = (1, 28, 28)
    hidden: tuple[int, ...] = (512, 256)
    latent_dim: int = 2

    def __post_init__(self):
        object.__setattr__(self, "image_shape", tuple(int(v) for v in self.image_shape))
        object.__setattr__(self, "hidden", tuple(int(v) for v in self.hidden))
        if len(self.image_shape) != 3 or min(self.image_shape) <= 0:
            raise ValueError(f"VAEConfig.image_shape must be (C, H, W) with positive sides, got {self.image_shape}.")
        if self.latent_dim <= 0 or not self.hidden or min(self.hidden) <= 0:
            raise ValueError("VAEConfig needs latent_dim > 0 and at least one positive hidden width.")

    @classmethod
    def preset(cls, profile: str, **overrides) -> VAEConfig:
        """The widths of a profile (:data:`VAE_PRESETS`), with ``overrides`` applied."""
        return cls(**profile_sizes(VAE_PRESETS, profile, "VAEConfig.preset", **overrides))

    def replace(self, **changes) -> VAEConfig:
        return dataclasses.replace(self, **changes)


VAE_PRESETS = {"ci": dict(hidden=(64,)), "cpu": dict(hidden=(512, 256)), "gpu": dict(hidden=(512, 256))}


class VAEOutput(NamedTuple):
    logits: torch.Tensor  # (B, C, H, W) decoder logits (Bernoulli) or means (Gaussian)
    posterior: DiagonalGaussian  # mean, logvar (B, D)
    z: torch.Tensor  # (B, D) the sample that was decoded


class VAE(nn.Module):
    r"""The MLP VAE: x (C*H*W) -> hidden (ReLU) -> (mu, logvar) in R^D; z (D) -> reversed hidden (ReLU) -> C*H*W.

    The decoder's outputs are **logits**: with a Bernoulli likelihood :math:`p_\theta(x|z) = \prod_i
    \mathrm{Bern}(x_i; \mathrm{sigmoid}(\ell_i))` (Kingma and Welling 2013, appendix C.1) the image to show is
    ``sigmoid(logits)`` in [0, 1] (:meth:`mean_image`).
    """

    def __init__(self, *, config: VAEConfig | None = None):
        super().__init__()
        self.config = cfg = config or VAEConfig()
        dims = [math.prod(cfg.image_shape), *cfg.hidden]
        enc: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(dims[:-1], dims[1:]):
            enc += [nn.Linear(a, b), nn.ReLU()]
        self.encoder = nn.Sequential(*enc)
        self.to_moments = nn.Linear(dims[-1], 2 * cfg.latent_dim)  # (mu, logvar)
        rev = [cfg.latent_dim, *reversed(cfg.hidden)]
        dec: list[nn.Module] = []
        for a, b in zip(rev[:-1], rev[1:]):
            dec += [nn.Linear(a, b), nn.ReLU()]
        self.decoder = nn.Sequential(*dec, nn.Linear(rev[-1], dims[0]), nn.Unflatten(1, cfg.image_shape))

    def encode(self, x: torch.Tensor) -> DiagonalGaussian:
        if tuple(x.shape[1:]) != self.config.image_shape:
            raise ValueError(f"This VAE takes images (B, {self.config.image_shape}) in [-1, 1], got {tuple(x.shape)}.")
        mu, logvar = self.to_moments(self.encoder(x)).chunk(2, dim=1)  # (B, D), (B, D)
        return DiagonalGaussian(mu, logvar)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)  # (B, D) -> (B, C, H, W) logits

    def forward(self, x: torch.Tensor, *, rng: torch.Generator | None = None) -> VAEOutput:
        posterior = self.encode(x)
        z = posterior.sample(rng=rng)  # (B, D)
        return VAEOutput(self.decode(z), posterior, z)

    @staticmethod
    def mean_image(logits: torch.Tensor) -> torch.Tensor:
        """The decoder's mean image in the model range [-1, 1]: 2 sigmoid(logits) - 1."""
        return 2 * torch.sigmoid(logits) - 1


# ---------------------------------------------------------------- the KL-autoencoder of latent diffusion


@dataclass(frozen=True)
class AutoencoderConfig:
    """The KL-autoencoder: ``base_channels`` times ``channel_mult`` per resolution (one stride-2 step between two
    entries, so the factor is 2 ** (len(channel_mult) - 1)), ``latent_channels`` c, ``num_res_blocks`` per resolution,
    ``scale_factor`` (1 / std of the latents, measured on data by :func:`latent_scale_factor`; 1.0 until then)."""

    channels: int = 1
    base_channels: int = 16
    channel_mult: tuple[int, ...] = (1, 2, 4)
    latent_channels: int = 4
    num_res_blocks: int = 1
    scale_factor: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "channel_mult", tuple(int(v) for v in self.channel_mult))
        if len(self.channel_mult) < 1 or min(self.channel_mult) <= 0:
            raise ValueError(f"AutoencoderConfig.channel_mult must be positive integers, got {self.channel_mult}.")
        for name in ("channels", "base_channels", "latent_channels", "num_res_blocks"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"AutoencoderConfig.{name} must be positive, got {getattr(self, name)!r}.")
        if not self.scale_factor > 0:
            raise ValueError(f"AutoencoderConfig.scale_factor must be positive, got {self.scale_factor}.")

    @property
    def factor(self) -> int:
        """How much smaller each side of the latent is than the image's."""
        return 2 ** (len(self.channel_mult) - 1)

    @classmethod
    def preset(cls, profile: str, **overrides) -> AutoencoderConfig:
        """``ci`` tiny; ``cpu`` the shipped size (28 -> 7, about 0.4 M parameters); ``gpu`` wider
        (:data:`AUTOENCODER_PRESETS`)."""
        return cls(**profile_sizes(AUTOENCODER_PRESETS, profile, "AutoencoderConfig.preset", **overrides))

    def replace(self, **changes) -> AutoencoderConfig:
        return dataclasses.replace(self, **changes)


AUTOENCODER_PRESETS = {
    "ci": dict(base_channels=8, channel_mult=(1, 2, 2)),
    "cpu": dict(base_channels=16, channel_mult=(1, 2, 4)),
    "gpu": dict(base_channels=32, channel_mult=(1, 2, 4), num_res_blocks=2),
}


class Block(nn.Module):
    """A residual block without time embedding: ``skip(x) + conv(SiLU(GN(conv(SiLU(GN(x))))))``, as in the
    autoencoder of the CompVis code (ResnetBlock with ``temb_channels=0``): (B, F_in, H, W) -> (B, F_out, H, W)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.norm1, self.conv1 = group_norm(in_channels), nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2, self.conv2 = group_norm(out_channels), nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, F_out, H, W)
        h = self.conv2(F.silu(self.norm2(h)))  # (B, F_out, H, W)
        return self.skip(x) + h


class Upsample2x(nn.Module):
    """Nearest-neighbour upsampling by 2, then a 3x3 convolution: (B, F, h, w) -> (B, F, 2h, 2w)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class KLAutoencoder(nn.Module):
    r"""The KL-regularised autoencoder of latent diffusion (Rombach et al. 2022, arXiv:2112.10752, section 3.1).

    ``encode(x)`` -> :class:`DiagonalGaussian` (mean, logvar) each (B, c, H/f, W/f); ``decode(z)`` -> (B, C, H, W),
    an image in (roughly) [-1, 1] with no output activation, as in the CompVis decoder. The last decoder layer,
    :attr:`last_layer`, is where the adaptive adversarial weight is measured
    (:func:`sdgan_course.losses.vae.adaptive_weight`). Fully convolutional: H and W only need to divide by
    ``config.factor``.
    """

    def __init__(self, *, config: AutoencoderConfig | None = None):
        super().__init__()
        self.config = cfg = config or AutoencoderConfig()
        widths = [cfg.base_channels * m for m in cfg.channel_mult]
        enc: list[nn.Module] = [nn.Conv2d(cfg.channels, widths[0], 3, padding=1)]  # (B, F0, H, W)
        width = widths[0]
        for level, w in enumerate(widths):
            for _ in range(cfg.num_res_blocks):
                enc.append(Block(width, w))
                width = w
            if level < len(widths) - 1:
                enc.append(Downsample(width))  # halves H and W
        enc += [Block(width, width), group_norm(width), nn.SiLU(), nn.Conv2d(width, 2 * cfg.latent_channels, 3,
                                                                               padding=1)]  # (B, 2c, h, w)
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv2d(cfg.latent_channels, width, 3, padding=1), Block(width, width)]
        for level, w in reversed(list(enumerate(widths))):
            for _ in range(cfg.num_res_blocks):
                dec.append(Block(width, w))
                width = w
            if level > 0:
                dec.append(Upsample2x(width))  # doubles H and W
        dec += [group_norm(width), nn.SiLU()]
        self.decoder = nn.Sequential(*dec)
        self.conv_out = nn.Conv2d(width, cfg.channels, 3, padding=1)  # the decoder's last layer

    @property
    def last_layer(self) -> torch.Tensor:
        """The weight of the decoder's last convolution (where SD's adaptive weight compares gradients)."""
        return self.conv_out.weight

    def _check(self, x: torch.Tensor, channels: int, what: str) -> None:
        f = self.config.factor if what == "images" else 1
        if x.ndim != 4 or x.shape[1] != channels or x.shape[2] % f or x.shape[3] % f:
            raise ValueError(
                f"The autoencoder takes {what} (B, {channels}, H, W)"
                + (f" with H and W divisible by {f}" if f > 1 else "")
                + f"; got {tuple(x.shape)}."
                + (" Pad or crop the canvas to a multiple of the factor." if f > 1 and x.ndim == 4 and
                   x.shape[1] == channels else "")
            )

    def encode(self, x: torch.Tensor) -> DiagonalGaussian:
        self._check(x, self.config.channels, "images")
        mean, logvar = self.encoder(x).chunk(2, dim=1)  # (B, c, h, w) each
        return DiagonalGaussian(mean, logvar.clamp(*LOGVAR_RANGE))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        self._check(z, self.config.latent_channels, "latents")
        return self.conv_out(self.decoder(z))  # (B, c, h, w) -> (B, C, H, W)

    def forward(self, x: torch.Tensor, *, sample: bool = True, rng: torch.Generator | None = None):
        """Reconstruct: decode a posterior sample (``sample=True``, training) or the mean.

        Returns (x_hat, posterior)."""
        posterior = self.encode(x)
        z = posterior.sample(rng=rng) if sample else posterior.mean  # (B, c, h, w)
        return self.decode(z), posterior

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, *, batch_size: int = 500) -> torch.Tensor:
        """Decode the posterior means of ``x`` in batches (eval mode, no gradients), clamped to [-1, 1]."""
        outs = [self.decode(self.encode(x[i : i + batch_size]).mean) for i in range(0, len(x), batch_size)]
        return torch.cat(outs).clamp(-1, 1)  # (N, C, H, W)

    # latent diffusion works with scaled latents: z_scaled = scale_factor * z
    def encode_scaled(self, x: torch.Tensor, *, rng: torch.Generator | None = None) -> torch.Tensor:
        """A posterior sample times ``config.scale_factor``: the latent a diffusion model is trained on."""
        return self.encode(x).sample(rng=rng) * self.config.scale_factor

    def decode_scaled(self, z_scaled: torch.Tensor) -> torch.Tensor:
        return self.decode(z_scaled / self.config.scale_factor)


@torch.no_grad()
def latent_scale_factor(autoencoder: KLAutoencoder, images: torch.Tensor, *, batch_size: int = 500,
                        rng: torch.Generator | None = None) -> float:
    r"""1 / std of the latents z ~ q(z|x) over ``images`` (all entries pooled): the factor that gives the diffusion
    model unit-variance inputs (Rombach et al. 2022, section G: "we rescale the latents by the component-wise standard
    deviation"; Stable Diffusion v1 uses 0.18215, measured the same way on its first training batch)."""
    zs = [autoencoder.encode(images[i : i + batch_size]).sample(rng=rng) for i in range(0, len(images), batch_size)]
    return float(1.0 / torch.cat(zs).double().std())


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "AUTOENCODER_KIND", "AUTOENCODER_PRESETS", "AutoencoderConfig", "Block", "DiagonalGaussian", "KLAutoencoder",
    "LOGVAR_RANGE", "Upsample2x", "VAE", "VAEConfig", "VAEOutput", "VAE_KIND", "VAE_PRESETS", "count_parameters",
    "latent_scale_factor", "reparameterize",
]
