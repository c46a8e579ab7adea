r"""A transformer denoiser: Stable Diffusion 3's MMDiT, in miniature.

Stable Diffusion 3 (Esser et al. 2024, arXiv:2403.03206, section 4 and figure 2) replaces the U-Net by a transformer
over *patches* of the latent, after DiT (Peebles and Xie 2023, arXiv:2212.09748):

1. **Patchify**: the latent (B, C, h, w) is cut into p x p patches, each a token of width D (a strided convolution),
   plus a fixed 2-D sine-cosine position embedding, so any h x w divisible by p works (7 x 7 and 7 x 14 here).
2. **Conditioning by adaLN-Zero** (DiT, section 3.2): the time t (and SD3's pooled text vector) makes one vector c;
   each block's LayerNorms have no weights of their own, their shift and scale come from c, and a *gate* from c scales
   each residual branch. The gates' layer starts at zero, so every block starts as the identity.
3. **Joint attention** (SD3's multimodal DiT, "MMDiT"): the text tokens and the image tokens keep **separate weights**
   (their own LayerNorm modulation, QKV projection, output projection and MLP), but attend in **one** attention over
   their concatenation: each image token sees every text token and every other image token, and the text tokens
   are updated by the image in turn. The U-Net's cross-attention is one-way.
4. **QK-normalisation**: queries and keys are RMS-normalised per head before the dot product (SD3 section 5.3.2,
   after Dehghani et al. 2023, arXiv:2302.05442), which keeps attention logits from growing in mixed precision.
5. An adaLN-modulated final LayerNorm and a zero-initialised linear layer map each image token back to a p x p
   patch of the velocity; *unpatchify* restores (B, C, h, w).

Sizes are tiny (a few hundred thousand parameters, 49 image tokens, 16 text tokens); the real SD3-medium has 24
blocks of width 1536 and three text encoders.

Shape legend: B batch, C latent channels, h x w latent pixels, p patch side, N image tokens, L text tokens,
E text width, D model width, H heads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.embedding import TimeEmbedding

TIME_SCALE = 1000.0  # t in [0, 1] is embedded as 1000 t (SD3 and diffusers pass t x num_train_timesteps)


@dataclass(frozen=True)
class MMDiTConfig:
    """Everything that decides an MMDiT's weights; a checkpoint stores ``asdict(config)`` and rebuilds from it."""

    in_channels: int = 4  # latent channels (SD3: 16)
    context_dim: int = 64  # text token width E (the miniature CLIP's)
    width: int = 96  # D
    depth: int = 4  # joint blocks
    num_heads: int = 4
    patch_size: int = 1  # p: a 7 x 7 latent is 49 tokens
    mlp_ratio: float = 4.0
    qk_norm: bool = True

    def __post_init__(self):
        if self.width % self.num_heads or (self.width // self.num_heads) % 2:
            raise ValueError(f"width {self.width} must split into {self.num_heads} heads of an even size.")
        if self.width % 4:
            raise ValueError(f"width must be a multiple of 4 (the 2-D position embedding), got {self.width}.")
        if min(self.depth, self.patch_size, self.in_channels, self.context_dim) < 1:
            raise ValueError("depth, patch_size, in_channels and context_dim must be >= 1.")


def position_embedding_2d(h: int, w: int, dim: int, *, device=None) -> torch.Tensor:
    """Fixed 2-D sine-cosine position embedding (ViT/MAE style, as DiT): half the width encodes the row, half the
    column, each with the transformer's sinusoids (Vaswani et al. 2017). Returns (h w, dim), row-major."""
    quarter = dim // 4
    omega = 1.0 / 10_000 ** (torch.arange(quarter, dtype=torch.float32, device=device) / quarter)  # (D/4,)
    rows = torch.arange(h, dtype=torch.float32, device=device)[:, None] * omega  # (h, D/4)
    cols = torch.arange(w, dtype=torch.float32, device=device)[:, None] * omega  # (w, D/4)
    row = torch.cat([rows.sin(), rows.cos()], 1)[:, None].expand(h, w, dim // 2)  # (h, w, D/2)
    col = torch.cat([cols.sin(), cols.cos()], 1)[None].expand(h, w, dim // 2)  # (h, w, D/2)
    return torch.cat([row, col], -1).reshape(h * w, dim)  # (N, D)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: ``x`` (B, N, D) normalised elsewhere, then :math:`x(1 + \\text{scale}) + \\text{shift}`, each (B, D)."""
    return x * (1 + scale[:, None]) + shift[:, None]


class StreamWeights(nn.Module):
    """One modality's weights in a joint block: its adaLN modulation (6 D values from c: shift, scale, gate for the
    attention and for the MLP), its QKV and output projections, its QK RMS-norms and its MLP."""

    def __init__(self, cfg: MMDiTConfig):
        super().__init__()
        d, head = cfg.width, cfg.width // cfg.num_heads
        self.modulation = nn.Linear(d, 6 * d)
        nn.init.zeros_(self.modulation.weight)  # adaLN-Zero: gates start at 0, the block is the identity
        nn.init.zeros_(self.modulation.bias)
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.q_norm = nn.RMSNorm(head, eps=1e-6) if cfg.qk_norm else nn.Identity()
        self.k_norm = nn.RMSNorm(head, eps=1e-6) if cfg.qk_norm else nn.Identity()
        self.proj = nn.Linear(d, d)
        hidden = int(d * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, d))
        self.num_heads = cfg.num_heads

    def qkv_heads(self, x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor):
        """(B, N, D) -> q, k, v each (B, H, N, D/H), q and k RMS-normalised."""
        b, n, d = x.shape
        q, k, v = self.qkv(modulate(self.norm1(x), shift, scale)).view(b, n, 3, self.num_heads, -1).unbind(2)
        return self.q_norm(q).transpose(1, 2), self.k_norm(k).transpose(1, 2), v.transpose(1, 2)


class JointBlock(nn.Module):
    """One MMDiT block: separate weights per modality, one attention over [text tokens, image tokens]."""

    def __init__(self, cfg: MMDiTConfig):
        super().__init__()
        self.text, self.image = StreamWeights(cfg), StreamWeights(cfg)

    def joint_qkv(self, x: torch.Tensor, ctx: torch.Tensor, c: torch.Tensor):
        """Each stream's modulations (2 x 6 x (B, D)) and the joint q, k, v (B, H, L + N, D/H): text first."""
        mods = [s.modulation(F.silu(c)).chunk(6, dim=1) for s in (self.text, self.image)]  # 2 x 6 x (B, D)
        heads = [s.qkv_heads(h, m[0], m[1]) for s, h, m in ((self.text, ctx, mods[0]), (self.image, x, mods[1]))]
        q, k, v = (torch.cat([heads[0][i], heads[1][i]], dim=2) for i in range(3))  # (B, H, L + N, D/H)
        return mods, q, k, v

    def attention_weights(self, x, ctx, c, key_mask) -> torch.Tensor:
        """softmax(q k^T / sqrt(d)) over the allowed keys: (B, H, L + N, L + N)."""
        _, q, k, _ = self.joint_qkv(x, ctx, c)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
        return scores.masked_fill(~key_mask, float("-inf")).softmax(-1)

    def forward(self, x: torch.Tensor, ctx: torch.Tensor, c: torch.Tensor, key_mask: torch.Tensor | None):
        """``x`` (B, N, D) image tokens, ``ctx`` (B, L, D) text tokens, ``c`` (B, D) the conditioning vector,
        ``key_mask`` (B, 1, 1, L + N) True where a key may be attended to (padding text tokens are not)."""
        mods, q, k, v = self.joint_qkv(x, ctx, c)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask)  # (B, H, L + N, D/H)
        out = out.transpose(1, 2).flatten(2)  # (B, L + N, D)
        length = ctx.shape[1]
        updated = []
        streams = ((self.text, ctx, out[:, :length], mods[0]), (self.image, x, out[:, length:], mods[1]))
        for stream, h, attn, m in streams:
            _, _, gate_attn, shift_mlp, scale_mlp, gate_mlp = m
            h = h + gate_attn[:, None] * stream.proj(attn)
            h = h + gate_mlp[:, None] * stream.mlp(modulate(stream.norm2(h), shift_mlp, scale_mlp))
            updated.append(h)
        return updated[1], updated[0]  # image (B, N, D), text (B, L, D)


class MMDiT(nn.Module):
    """:math:`v_\\theta(z_t, t, \\tau(y))`: the velocity of a latent (B, C, h, w) at times t (B,) in [0, 1], given
    text tokens ``context`` (B, L, E) with their ``context_mask`` (B, L) (True on real tokens)."""

    def __init__(self, config: MMDiTConfig):
        super().__init__()
        self.config = cfg = config
        d, p = cfg.width, cfg.patch_size
        self.patchify = nn.Conv2d(cfg.in_channels, d, p, stride=p)
        self.time_embed = TimeEmbedding(base_dim=d, dim=d)
        self.pooled_embed = nn.Sequential(nn.Linear(cfg.context_dim, d), nn.SiLU(), nn.Linear(d, d))
        self.context_in = nn.Linear(cfg.context_dim, d)
        self.blocks = nn.ModuleList(JointBlock(cfg) for _ in range(cfg.depth))
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.modulation_out = nn.Linear(d, 2 * d)
        self.out = nn.Linear(d, p * p * cfg.in_channels)
        for layer in (self.modulation_out, self.out):  # the final layer starts at zero (DiT's adaLN-Zero)
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def embed(self, x: torch.Tensor, t: torch.Tensor, context: torch.Tensor | None,
              context_mask: torch.Tensor | None):
        """What the blocks take: image tokens (B, N, D), text tokens (B, L, D), the conditioning vector c (B, D)
        and the key mask (B, 1, 1, L + N)."""
        cfg, p = self.config, self.config.patch_size
        if x.ndim != 4 or x.shape[1] != cfg.in_channels:
            raise ValueError(f"The MMDiT expects (B, {cfg.in_channels}, h, w) latents, got {tuple(x.shape)}.")
        b, _, h, w = x.shape
        if h % p or w % p:
            raise ValueError(f"The latent's sides {h} x {w} must be multiples of the patch size {p}.")
        if context is None:
            raise ValueError("The MMDiT attends to text: pass context=(B, L, E) tokens (the empty prompt's for none).")
        if context_mask is None:
            context_mask = torch.ones(context.shape[:2], dtype=torch.bool, device=x.device)
        t = torch.as_tensor(t, device=x.device, dtype=torch.float32)
        t = t.expand(b) if t.ndim == 0 else t
        tokens = self.patchify(x).flatten(2).transpose(1, 2)  # (B, N, D), N = h w / p^2
        tokens = tokens + position_embedding_2d(h // p, w // p, cfg.width, device=x.device).to(tokens.dtype)
        keep = context_mask.to(x.device)[..., None].to(context.dtype)  # (B, L, 1)
        pooled = (context * keep).sum(1) / keep.sum(1).clamp(min=1)  # (B, E): SD3 adds a pooled text vector to c
        c = self.time_embed(TIME_SCALE * t) + self.pooled_embed(pooled)  # (B, D)
        key_mask = torch.cat([context_mask.to(x.device).bool(),
                              torch.ones(b, tokens.shape[1], dtype=torch.bool, device=x.device)], 1)[:, None, None]
        return tokens, self.context_in(context), c, key_mask

    def forward(self, x: torch.Tensor, t: torch.Tensor, *, context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        tokens, ctx, c, key_mask = self.embed(x, t, context, context_mask)  # checks x first
        cfg, p = self.config, self.config.patch_size
        b, _, h, w = x.shape
        for block in self.blocks:
            tokens, ctx = block(tokens, ctx, c, key_mask)
        shift, scale = self.modulation_out(F.silu(c)).chunk(2, dim=1)  # (B, D) each
        out = self.out(modulate(self.norm_out(tokens), shift, scale))  # (B, N, p p C)
        out = out.view(b, h // p, w // p, p, p, cfg.in_channels).permute(0, 5, 1, 3, 2, 4)  # (B, C, h/p, p, w/p, p)
        return out.reshape(b, cfg.in_channels, h, w)  # (B, C, h, w)

    @torch.no_grad()
    def attention_weights(self, x: torch.Tensor, t: torch.Tensor, *, context: torch.Tensor,
                          context_mask: torch.Tensor | None = None, block: int = 0) -> torch.Tensor:
        """The joint attention's weights in ``block`` (B, H, L + N, L + N): rows are queries, columns keys, the
        first L of each the text tokens, then the image tokens (row-major patches). For pictures and checks."""
        tokens, ctx, c, key_mask = self.embed(x, t, context, context_mask)
        for earlier in self.blocks[:block]:
            tokens, ctx = earlier(tokens, ctx, c, key_mask)
        return self.blocks[block].attention_weights(tokens, ctx, c, key_mask)


__all__ = ["MMDiT", "MMDiTConfig", "JointBlock", "StreamWeights", "TIME_SCALE", "modulate", "position_embedding_2d"]
