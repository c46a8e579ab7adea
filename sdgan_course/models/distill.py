r"""The discriminator of adversarial diffusion distillation: frozen features, light trainable heads, the prompt.

ADD (Sauer et al. 2023, arXiv:2311.17042, section 3.2) builds its discriminator from a **frozen** pretrained feature
network :math:`F` (a DINOv2 ViT on pixels) with small trainable heads :math:`D_{\phi,k}` on the features of several
layers, each conditioned on the text by a projection (Miyato and Koyama 2018, arXiv:1802.05637): the logit of position
p is :math:`w^\top h_p + \langle P c, h_p \rangle`, with h the head's hidden features and c the prompt's embedding.
Latent ADD (Sauer et al. 2024, arXiv:2403.12015) takes the features from the **teacher's own** denoiser instead, on
noised latents: no decoding to pixels, and features that already know the text and every noise level.

The course follows latent ADD: :func:`encoder_features` runs the teacher U-Net's encoder half (its input convolution,
its down levels and its middle, with cross-attention to the prompt) on a latent noised to a small timestep and
returns one feature map per level. The course's classifier would also have served, on decoded images, but it is the
network that FID and prompt agreement are measured with (notebook 06): a discriminator built on it would train the
student towards the yardstick itself.

Shape legend: B batch, C latent channels, h x w latent pixels, L tokens, E text width, F feature channels,
P positions of a head's logit map.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .unet import UNet


@dataclass(frozen=True)
class DiscriminatorConfig:
    """The trainable heads: ``hidden`` channels per head; ``max_t``: the discriminator sees its input noised to a
    timestep drawn uniformly from 0..max_t (the teacher's features are noise-level features; a little noise also
    smooths the discriminator, as instance noise, Sønderby et al. 2016, arXiv:1610.04490)."""

    hidden: int = 64
    max_t: int = 250
    groups: int = 8

    def __post_init__(self):
        if self.hidden < 1 or self.hidden % self.groups:
            raise ValueError(f"hidden ({self.hidden}) must be a positive multiple of groups ({self.groups}).")
        if self.max_t < 0:
            raise ValueError(f"max_t must be >= 0, got {self.max_t}.")


def pooled_prompt(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The prompt's embedding for the projection: the mean of its real tokens (B, L, E), (B, L) -> (B, E)."""
    m = mask.to(tokens.dtype).unsqueeze(-1)  # (B, L, 1)
    return (tokens * m).sum(1) / m.sum(1).clamp_min(1.0)


def feature_channels(unet: UNet) -> list[int]:
    """The channels of each map :func:`encoder_features` returns: one per down level, then the middle."""
    ch = [unet.config.base_channels * m for m in unet.config.channel_mults]
    return [*ch, ch[-1]]


def encoder_features(unet: UNet, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor,
                     context_mask: torch.Tensor) -> list[torch.Tensor]:
    """The encoder half of ``unet`` (the same blocks, in the same order, as its ``forward`` up to the middle):
    ``x`` (B, C, h, w) at timesteps ``t`` (B,) -> one map (B, F_k, h_k, w_k) per down level and the middle's.
    Frozen or not is the caller's business; gradients flow to ``x`` either way."""
    temb = unet.time_embed(t)  # (B, D)
    h = unet.conv_in(x)  # (B, C0, h, w)
    features = []
    for level, layer in enumerate(unet.down):
        for i in range(len(layer.blocks)):
            h = layer.block(i, h, temb, context, context_mask)  # (B, F_level, h_level, w_level)
        features.append(h)
        if level < len(unet.downsample):
            h = unet.downsample[level](h)  # (B, F_level, ceil(h/2), ceil(w/2))
    for i in range(2):
        h = unet.mid.block(i, h, temb, context, context_mask)
    features.append(h)
    return features


class ProjectionHead(nn.Module):
    r"""One head :math:`D_{\phi,k}`: conv -> GroupNorm -> SiLU -> 1 x 1 conv to a logit map, plus the projection
    :math:`\langle P c, h_p\rangle` of the prompt embedding c onto the hidden features at every position."""

    def __init__(self, channels: int, context_dim: int, config: DiscriminatorConfig):
        super().__init__()
        self.conv = nn.Conv2d(channels, config.hidden, 3, padding=1)
        self.norm = nn.GroupNorm(config.groups, config.hidden)
        self.out = nn.Conv2d(config.hidden, 1, 1)
        self.project = nn.Linear(context_dim, config.hidden, bias=False)

    def forward(self, features: torch.Tensor, prompt: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.norm(self.conv(features)))  # (B, hidden, h_k, w_k)
        logits = self.out(h).flatten(1)  # (B, P)
        projection = torch.einsum("bchw,bc->bhw", h, self.project(prompt)).flatten(1)  # (B, P)
        return logits + projection / h.shape[1] ** 0.5


class DistillDiscriminator(nn.Module):
    """Frozen backbone (the teacher U-Net's encoder) + trainable :class:`ProjectionHead` s, one per feature level.

    ``forward(x, t, context, context_mask)`` -> a list of logit maps (B, P_k). Only ``heads`` train (and are saved:
    :meth:`heads_state`); the backbone is the teacher, frozen and stored once with the run."""

    def __init__(self, backbone: UNet, config: DiscriminatorConfig | None = None):
        super().__init__()
        self.config = config or DiscriminatorConfig()
        if backbone.config.context_dim <= 0:
            raise ValueError("The backbone U-Net has no text context (context_dim = 0): ADD's discriminator is "
                             "conditioned on the prompt; use the text-to-image U-Net.")
        self.backbone = backbone.eval().requires_grad_(False)
        self.heads = nn.ModuleList(ProjectionHead(c, backbone.config.context_dim, self.config)
                                   for c in feature_channels(backbone))

    def train(self, mode: bool = True) -> DistillDiscriminator:
        super().train(mode)
        self.backbone.eval()  # frozen: always in eval mode
        return self

    def forward(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor,
                context_mask: torch.Tensor) -> list[torch.Tensor]:
        features = encoder_features(self.backbone, x, t, context, context_mask)
        prompt = pooled_prompt(context, context_mask)  # (B, E)
        return [head(f, prompt) for head, f in zip(self.heads, features, strict=True)]

    def noised(self, x: torch.Tensor, schedule, *, rng: torch.Generator | None = None):
        """``x`` noised to a timestep drawn from 0..max_t per sample (drawn on the CPU): ``(x_t, t)``."""
        b = x.shape[0]
        t = torch.randint(self.config.max_t + 1, (b,), generator=rng).to(x.device)  # (B,)
        eps = torch.randn(x.shape, generator=rng).to(x.device)  # (B, C, h, w)
        return schedule.add_noise(x, eps, t), t

    def heads_state(self) -> dict:
        return {"config": asdict(self.config), "weights": self.heads.state_dict()}


__all__ = [
    "DiscriminatorConfig",
    "DistillDiscriminator",
    "ProjectionHead",
    "encoder_features",
    "feature_channels",
    "pooled_prompt",
]
