r"""Attention over the pixels of a feature map: self-attention, and cross-attention to a sequence of text tokens.

Scaled dot-product attention (Vaswani et al. 2017, arXiv:1706.03762, eq. 1):
:math:`\mathrm{Attention}(Q, K, V) = \mathrm{softmax}(QK^\top/\sqrt{d})\,V`, with several heads. In self-attention
queries, keys and values all come from the image features; in cross-attention (Rombach et al. 2022,
arXiv:2112.10752, section 3.3) the queries come from the image and the keys and values from the context
:math:`\tau_\theta(y)` (text tokens), so each pixel gathers what the prompt says about it.

Shape legend: B batch, C channels, H x W pixels, N = H*W positions, L context tokens, E context width.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .resnet import group_norm


class SpatialAttention(nn.Module):
    """Residual multi-head attention over the H*W positions: (B, C, H, W) -> (B, C, H, W).

    With ``context_dim`` it is cross-attention to a context (B, L, E); ``last_weights`` then keeps the attention map
    (B, heads, N, L) of the last call when ``keep_weights`` is set (to show where each word acts).
    """

    def __init__(self, channels: int, *, num_heads: int = 4, context_dim: int | None = None, groups: int = 8):
        super().__init__()
        if channels % num_heads:
            raise ValueError(f"channels ({channels}) must be divisible by num_heads ({num_heads}).")
        self.num_heads = num_heads
        self.norm = group_norm(channels, groups)
        self.to_q = nn.Linear(channels, channels)
        kv_dim = channels if context_dim is None else context_dim
        self.to_k = nn.Linear(kv_dim, channels)
        self.to_v = nn.Linear(kv_dim, channels)
        self.out = nn.Linear(channels, channels)
        nn.init.zeros_(self.out.weight)  # starts as the identity
        nn.init.zeros_(self.out.bias)
        self.is_cross = context_dim is not None
        self.keep_weights = False
        self.last_weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        b, c, h, w = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)  # (B, N, C)
        source = tokens if not self.is_cross else context  # (B, N, C) or (B, L, E)
        if source is None:
            raise ValueError("This cross-attention layer needs a context (B, L, E), e.g. text token embeddings.")
        q, k, v = self.to_q(tokens), self.to_k(source), self.to_v(source)  # (B, N, C), (B, L, C), (B, L, C)
        heads = self.num_heads
        q, k, v = (z.view(b, -1, heads, c // heads).transpose(1, 2) for z in (q, k, v))  # (B, heads, *, C/heads)
        attn_mask = None if mask is None else mask[:, None, None, :].to(torch.bool)  # (B, 1, 1, L), True = attend
        if self.keep_weights:
            scores = q @ k.transpose(-1, -2) / (c // heads) ** 0.5  # (B, heads, N, L)
            if attn_mask is not None:
                scores = scores.masked_fill(~attn_mask, float("-inf"))
            weights = scores.softmax(-1)
            self.last_weights = weights.detach()
            out = weights @ v  # (B, heads, N, C/heads)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (B, heads, N, C/heads)
        out = out.transpose(1, 2).reshape(b, h * w, c)  # (B, N, C)
        return x + self.out(out).transpose(1, 2).view(b, c, h, w)  # (B, C, H, W)
