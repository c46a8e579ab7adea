r"""The denoising U-Net of the diffusion notebooks: :math:`\epsilon_\theta(x_t, t, y)`.

The shape of Ho et al. 2020 (arXiv:2006.11239, appendix B), itself after PixelCNN++: an encoder of residual blocks at
falling resolutions, a middle with self-attention, and a decoder that concatenates the encoder's features at the same
resolution (Ronneberger et al. 2015, arXiv:1505.04597). Every block receives the time embedding; a class label, when
the model is conditional, is embedded and **added** to the time embedding (as in Dhariwal and Nichol 2021,
arXiv:2105.05233). Index ``num_classes`` is the *null class* used for classifier-free guidance (Ho and Salimans 2022,
arXiv:2207.12598): the model learns the unconditional estimate with it.

With ``context_dim > 0`` every attention level also has cross-attention to a context (B, L, E), the text tokens of
notebook 11 (Rombach et al. 2022, arXiv:2112.10752, section 3.3).

Fully convolutional: any H x W works (28 x 28 images, 7 x 7 latents, wider canvases); upsampling follows the skip
connection's size, so odd sizes do not need padding.

Shape legend: B batch, C channels, H x W pixels, D time-embedding width, L context tokens, E context width.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import profile_sizes
from ..nn.attention import SpatialAttention
from ..nn.embedding import TimeEmbedding
from ..nn.resnet import Downsample, ResBlock, Upsample, group_norm


@dataclass(frozen=True)
class UNetConfig:
    """Everything that decides a U-Net's weights; a checkpoint stores ``asdict(config)`` and rebuilds from it."""

    in_channels: int = 1
    out_channels: int | None = None  # default: in_channels
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2)  # one level per entry; each level after the first halves H and W
    num_res_blocks: int = 1  # per level in the encoder (the decoder has one more, for the downsampling skip)
    attention_levels: tuple[int, ...] = (2,)  # levels with self-attention (the middle always has it)
    num_heads: int = 4
    num_classes: int = 0  # > 0: class-conditional, with one extra embedding for the null class
    context_dim: int = 0  # > 0: cross-attention to a context (text tokens) at the attention levels
    dropout: float = 0.0
    groups: int = 8

    def __post_init__(self):
        object.__setattr__(self, "channel_mults", tuple(self.channel_mults))
        object.__setattr__(self, "attention_levels", tuple(self.attention_levels))
        if not self.channel_mults or self.base_channels < 1 or self.num_res_blocks < 1:
            raise ValueError("A U-Net needs at least one level, base_channels >= 1 and num_res_blocks >= 1.")
        bad = [level for level in self.attention_levels if not 0 <= level < len(self.channel_mults)]
        if bad:
            raise ValueError(f"attention_levels {bad} do not exist: levels are 0..{len(self.channel_mults) - 1}.")

    @classmethod
    def preset(cls, profile: str, **overrides) -> UNetConfig:
        """The U-Net size for a profile (``ci``, ``cpu``, ``gpu``), with ``overrides`` applied."""
        return cls(**profile_sizes(_UNET_PRESETS, profile, "UNetConfig.preset", **overrides))

    @property
    def null_label(self) -> int:
        """The label that means "no class" (classifier-free guidance's unconditional estimate)."""
        return self.num_classes

    def to_dict(self) -> dict:
        return asdict(self)


_UNET_PRESETS = {
    "ci": UNetConfig(base_channels=16, channel_mults=(1, 2), attention_levels=(1,), num_heads=2),
    "cpu": UNetConfig(base_channels=24, channel_mults=(1, 2, 2), attention_levels=(2,)),  # the shipped model's size
    "gpu": UNetConfig(base_channels=64, channel_mults=(1, 2, 2), num_res_blocks=2, attention_levels=(1, 2)),
}


class _Level(nn.Module):
    """The residual blocks (and attention) of one resolution."""

    def __init__(self, channels_in: list[int], channels: int, *, attention: bool, cfg: UNetConfig, temb_dim: int):
        super().__init__()
        self.blocks = nn.ModuleList(
            ResBlock(c, channels, temb_dim=temb_dim, dropout=cfg.dropout, groups=cfg.groups) for c in channels_in
        )
        n = len(channels_in)
        self.attn = nn.ModuleList(
            SpatialAttention(channels, num_heads=cfg.num_heads, groups=cfg.groups) for _ in range(n if attention else 0)
        )
        cross = attention and cfg.context_dim > 0
        self.cross = nn.ModuleList(
            SpatialAttention(channels, num_heads=cfg.num_heads, context_dim=cfg.context_dim, groups=cfg.groups)
            for _ in range(n if cross else 0)
        )

    def block(self, i: int, h, temb, context, mask):
        h = self.blocks[i](h, temb)
        if self.attn:
            h = self.attn[i](h)
        if self.cross:
            h = self.cross[i](h, context, mask)
        return h


class UNet(nn.Module):
    r""":math:`\epsilon_\theta(x_t, t, y)`: ``forward(x, t, labels=None, context=None, context_mask=None)``.

    ``x`` (B, C, H, W), ``t`` (B,) integer steps, ``labels`` (B,) in ``0..num_classes`` (``num_classes`` = null),
    ``context`` (B, L, E) text tokens with ``context_mask`` (B, L) True where a token is real. Returns (B, C_out, H, W).
    """

    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = cfg = config
        ch = [cfg.base_channels * m for m in cfg.channel_mults]
        temb_dim = 4 * cfg.base_channels
        self.time_embed = TimeEmbedding(base_dim=cfg.base_channels, dim=temb_dim)
        self.label_embed = nn.Embedding(cfg.num_classes + 1, temb_dim) if cfg.num_classes > 0 else None
        self.conv_in = nn.Conv2d(cfg.in_channels, ch[0], 3, padding=1)

        skips = [ch[0]]
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        prev = ch[0]
        for level, c in enumerate(ch):
            ins = [prev] + [c] * (cfg.num_res_blocks - 1)
            self.down.append(_Level(ins, c, attention=level in cfg.attention_levels, cfg=cfg, temb_dim=temb_dim))
            skips += [c] * cfg.num_res_blocks
            prev = c
            if level < len(ch) - 1:
                self.downsample.append(Downsample(c))
                skips.append(c)
        self.mid = _Level([prev, prev], prev, attention=True, cfg=cfg, temb_dim=temb_dim)

        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(len(ch))):
            c = ch[level]
            ins = []
            for _ in range(cfg.num_res_blocks + 1):
                ins.append(prev + skips.pop())
                prev = c
            self.up.append(_Level(ins, c, attention=level in cfg.attention_levels, cfg=cfg, temb_dim=temb_dim))
            if level > 0:
                self.upsample.append(Upsample(c))
        self.norm_out = group_norm(prev, cfg.groups)
        self.conv_out = nn.Conv2d(prev, cfg.out_channels or cfg.in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        labels: torch.Tensor | None = None,
        context: torch.Tensor | None = None,
        context_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        cfg = self.config
        if x.ndim != 4 or x.shape[1] != cfg.in_channels:
            raise ValueError(f"The U-Net expects (B, {cfg.in_channels}, H, W) inputs, got {tuple(x.shape)}.")
        t = torch.as_tensor(t, device=x.device)
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        temb = self.time_embed(t)  # (B, D)
        if self.label_embed is not None:
            if labels is None:
                labels = torch.full((x.shape[0],), cfg.null_label, device=x.device, dtype=torch.long)
            temb = temb + self.label_embed(labels.to(x.device).long())  # (B, D)
        elif labels is not None:
            raise ValueError("This U-Net is unconditional (num_classes = 0): do not pass labels.")
        if cfg.context_dim > 0 and context is None:
            raise ValueError("This U-Net attends to a context (context_dim > 0): pass context=(B, L, E) tokens.")

        h = self.conv_in(x)  # (B, C0, H, W)
        skips = [h]
        for level, layer in enumerate(self.down):
            for i in range(len(layer.blocks)):
                h = layer.block(i, h, temb, context, context_mask)  # (B, C_level, H_level, W_level)
                skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)  # (B, C_level, ceil(H/2), ceil(W/2))
                skips.append(h)
        for i in range(2):
            h = self.mid.block(i, h, temb, context, context_mask)
        for j, layer in enumerate(self.up):
            for i in range(len(layer.blocks)):
                skip = skips.pop()
                h = layer.block(i, torch.cat([h, skip], dim=1), temb, context, context_mask)  # (B, C_level, ...)
            if j < len(self.upsample):
                h = self.upsample[j](h, size=skips[-1].shape[-2:])  # to the next skip's (larger) size
        return self.conv_out(F.silu(self.norm_out(h)))  # (B, C_out, H, W)


def build_unet(config: UNetConfig) -> UNet:
    return UNet(config)


__all__ = ["UNet", "UNetConfig", "build_unet"]
