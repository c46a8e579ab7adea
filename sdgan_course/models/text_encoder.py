r"""A miniature CLIP: a tokenizer, a transformer text encoder and a small conv image encoder.

**What CLIP does** (Radford et al. 2021, arXiv:2103.00020, section 2.4): the text encoder is a Transformer (Vaswani
et al. 2017) with GPT-2's modifications (pre-norm layers, Radford et al. 2019), 63M parameters, 12 layers of width 512
with 8 heads, over a lower-cased byte-pair vocabulary of 49,152 tokens; a text is bracketed with [SOS] and [EOS]
tokens and capped at 76 tokens (77 positions with padding, the ``77`` of Stable Diffusion's 77 x 768 context). It uses
**masked (causal) self-attention**, so each token sees only the ones before it; the top layer's activation at the
[EOS] token, layer-normalised and linearly projected, is the text's embedding in the joint space. The image
encoder's embedding is projected into the same space, and training pulls matching pairs together
(:mod:`sdgan_course.losses.clip`).

**This miniature** keeps every one of those choices at a course's size: a byte-level byte-pair encoding trained on
the course's captions (:mod:`sdgan_course.models.tokenizer`: any string tokenizes), ``<start>`` and ``<end>``
tokens, a fixed length (24) with padding and a mask, learned token + position embeddings, a few pre-norm
causal transformer layers, a final layer norm, and the ``<end>`` token's projected activation as the pooled
embedding. The image encoder is a small convolutional network (CLIP's were ResNets and ViTs).

**What Stable Diffusion takes from it**: not the pooled embedding but the whole sequence of final-layer token
embeddings (Stable Diffusion v1: 77 x 768 from CLIP ViT-L/14's text encoder, frozen). :meth:`TextEncoder.forward`
returns that sequence ``tokens`` (B, L, E) with its ``mask`` (B, L) (True = a real token, ``<start>``, words and
``<end>``), which is what :class:`sdgan_course.nn.attention.SpatialAttention` attends to. (Stable Diffusion pads with
the end token and attends to all 77 positions without a mask; masking the padding is the cleaner choice here.) The
empty prompt ``""`` encodes as ``<start> <end>``: classifier-free guidance's null condition.

**Older checkpoints** (before the BPE tokenizer) store a closed word vocabulary (``CLIPConfig.vocab``, the 34 words
of the first captions) and use :class:`Tokenizer`: a word outside it becomes ``<unk>`` with a warning that names the
nearest known words (``on_unknown="error"`` raises :class:`UnknownWordError` instead). :func:`make_tokenizer` picks
the right one from a config.

Shape legend: B batch, L max_length (token positions), V vocabulary size, E text width, D joint embedding width,
C channels, H x W pixels.
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from ..config import profile_sizes
from ..data.captions import split_words
from .tokenizer import BPETokenizer, Tokens, bracket, shipped_bpe_json

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIAL_TOKENS = (PAD, START, END, UNK)  # ids 0..3; <pad> is 0


class UnknownWordError(ValueError):
    """A prompt uses a word outside the tokenizer's closed vocabulary."""


class Tokenizer:
    """Word-level tokenizer over a closed vocabulary (older checkpoints), with ``<start>``/``<end>`` brackets and
    padding to ``max_length`` (CLIP: 77 positions). Lower-cases; punctuation other than ``-`` and ``/`` inside a word
    is ignored, so ``"A photo of a bag."`` and ``"a photo of a bag"`` are the same tokens."""

    def __init__(self, words: Sequence[str], *, max_length: int = 16):
        words = [w for w in dict.fromkeys(words) if w not in SPECIAL_TOKENS]
        bad = [w for w in words if split_words(w) != [w]]
        if bad:
            raise ValueError(f"Vocabulary entries must be single lower-case words, got {bad[:5]}.")
        if max_length < 2:
            raise ValueError(f"max_length must leave room for <start> and <end> (>= 2), got {max_length}.")
        self.itos = list(SPECIAL_TOKENS) + words
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.max_length = max_length
        self.pad_id, self.start_id, self.end_id, self.unk_id = range(4)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self.itos[len(SPECIAL_TOKENS) :])

    def word_ids(self, text: str, *, on_unknown: str = "unk") -> list[int]:
        """The ids of a text's words (no brackets, no padding)."""
        ids = []
        for word in split_words(text):
            if word in self.stoi:
                ids.append(self.stoi[word])
                continue
            near = difflib.get_close_matches(word, self.words, n=3, cutoff=0.5)
            hint = f" Did you mean {' or '.join(repr(w) for w in near)}?" if near else ""
            message = (f"Unknown word {word!r} in {text!r}: this older model's tokenizer knows only the "
                       f"{len(self.words)} words of its captions.{hint} Known words: {', '.join(self.words)}.")
            if on_unknown != "unk":
                raise UnknownWordError(message)
            warnings.warn(message + " It is read as <unk>, which carries no meaning.", stacklevel=3)
            ids.append(self.unk_id)
        return ids

    def encode(self, texts: str | Sequence[str], *, on_unknown: str = "unk", truncate: bool = False) -> Tokens:
        """Texts -> :class:`Tokens` ``(ids, mask)``, each (B, L). A text longer than ``max_length - 2`` words is an
        error unless ``truncate`` (then its ``<end>`` takes the last position, as ``clip.tokenize(truncate=True)``)."""
        if on_unknown not in ("error", "unk"):
            raise ValueError(f"on_unknown must be 'error' or 'unk', got {on_unknown!r}.")
        texts = [texts] if isinstance(texts, str) else list(texts)
        sequences = []
        for text in texts:
            words = self.word_ids(text, on_unknown=on_unknown)
            room = self.max_length - 2
            if len(words) > room:
                if not truncate:
                    raise ValueError(
                        f"{text!r} has {len(words)} words; at most {room} fit in {self.max_length} tokens with "
                        "<start> and <end>. Shorten it, or encode with truncate=True."
                    )
                words = words[:room]
            sequences.append(words)
        return bracket(sequences, self.max_length, start_id=self.start_id, end_id=self.end_id, pad_id=self.pad_id)

    def decode(self, ids: torch.Tensor) -> list[str]:
        """(B, L) or (L,) ids -> texts (the words between ``<start>`` and ``<end>``, joined by spaces)."""
        rows = ids[None] if ids.ndim == 1 else ids
        texts = []
        for row in rows.tolist():
            words = []
            for i in row:
                if i == self.end_id or i == self.pad_id:
                    break
                if i != self.start_id:
                    words.append(self.itos[i])
            texts.append(" ".join(words))
        return texts


@dataclass(frozen=True)
class CLIPConfig:
    """Everything that decides a miniature CLIP's weights and its tokenizer: ``tokenizer``, the BPE tokenizer's JSON
    (default: the shipped one), or, in checkpoints written before it, ``vocab``, a closed word list."""

    vocab: tuple[str, ...] = ()
    tokenizer: str | None = None  # a `tokenizers` JSON; None with no vocab: the shipped BPE tokenizer
    max_length: int = 24  # L (CLIP: 77)
    width: int = 64  # E, the text width: the context width the U-Net's cross-attention sees (CLIP ViT-L/14: 768)
    layers: int = 2
    heads: int = 4
    causal: bool = True  # CLIP's masked self-attention
    embed_dim: int = 64  # D, the joint image-text space
    image_channels: int = 1
    image_width: int = 16  # channels of the image encoder's first stage (then 2x, 4x)

    def __post_init__(self):
        object.__setattr__(self, "vocab", tuple(self.vocab))
        if self.vocab and self.tokenizer:
            raise ValueError("A CLIPConfig has either a word list (vocab, older checkpoints) or a BPE tokenizer.")
        if not self.vocab and self.tokenizer is None:
            object.__setattr__(self, "tokenizer", shipped_bpe_json())
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be divisible by heads ({self.heads}).")

    @classmethod
    def from_dict(cls, state: dict) -> CLIPConfig:
        """A config stored in a checkpoint. Files written before the BPE tokenizer have ``vocab`` and no
        ``tokenizer`` and a length of 16: they keep their word tokenizer."""
        state = dict(state)
        if state.get("vocab"):
            state.setdefault("max_length", 16)
        return cls(**state)

    @classmethod
    def preset(cls, profile: str, **overrides) -> CLIPConfig:
        """The size for a profile (``ci``, ``cpu``, ``gpu``: :data:`CLIP_PRESETS`), with ``overrides`` applied."""
        return cls(**profile_sizes(CLIP_PRESETS, profile, "CLIPConfig.preset", **overrides))

    def to_dict(self) -> dict:
        return asdict(self)


CLIP_PRESETS = {
    "ci": dict(width=32, layers=1, heads=2, embed_dim=32, image_width=8),
    "cpu": dict(width=64, layers=2, heads=4, embed_dim=64, image_width=16),
    "gpu": dict(width=128, layers=4, heads=4, embed_dim=128, image_width=48),
}


def make_tokenizer(config: CLIPConfig) -> BPETokenizer | Tokenizer:
    """The tokenizer a config describes: its BPE JSON, or (older checkpoints) its closed word list."""
    if config.vocab:
        return Tokenizer(config.vocab, max_length=config.max_length)
    return BPETokenizer(config.tokenizer, max_length=config.max_length)


class TextEncoding(NamedTuple):
    tokens: torch.Tensor  # (B, L, E) final-layer token embeddings (layer-normed): the U-Net's context
    mask: torch.Tensor  # (B, L) bool, True = real token
    pooled: torch.Tensor  # (B, D) the <end> token's projected embedding (not normalised): CLIP's text embedding


class TextEncoder(nn.Module):
    r"""Token + position embeddings, ``layers`` pre-norm transformer layers (causal if ``config.causal``), a final
    layer norm; ``forward(ids, mask) -> TextEncoding``. The pooled embedding is :math:`W\,\mathrm{LN}(h_L)` at the
    ``<end>`` token (Radford et al. 2021, section 2.4)."""

    def __init__(self, config: CLIPConfig):
        super().__init__()
        self.config = cfg = config
        vocab_size = make_tokenizer(cfg).vocab_size
        self.token_embed = nn.Embedding(vocab_size, cfg.width)
        self.pos_embed = nn.Parameter(torch.randn(cfg.max_length, cfg.width) * 0.01)  # (L, E), CLIP's init scale
        nn.init.normal_(self.token_embed.weight, std=0.02)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                cfg.width,
                cfg.heads,
                dim_feedforward=4 * cfg.width,
                dropout=0.0,
                activation="gelu",
                batch_first=True,
                norm_first=True,
            )
            for _ in range(cfg.layers)
        )
        self.final_norm = nn.LayerNorm(cfg.width)
        self.proj = nn.Linear(cfg.width, cfg.embed_dim, bias=False)
        causal = torch.triu(torch.ones(cfg.max_length, cfg.max_length, dtype=torch.bool), diagonal=1)
        self.register_buffer("causal_mask", causal, persistent=False)  # (L, L) True = may not attend

    @property
    def context_dim(self) -> int:
        """E: what a U-Net's ``context_dim`` must be to attend to these tokens."""
        return self.config.width

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None) -> TextEncoding:
        if ids.ndim != 2 or ids.shape[1] > self.config.max_length:
            raise ValueError(f"Expected token ids (B, L <= {self.config.max_length}), got {tuple(ids.shape)}.")
        mask = ids != 0 if mask is None else mask.bool()  # (B, L)
        length = ids.shape[1]
        h = self.token_embed(ids) + self.pos_embed[:length]  # (B, L, E)
        causal = self.causal_mask[:length, :length] if self.config.causal else None
        for layer in self.layers:
            h = layer(h, src_mask=causal, src_key_padding_mask=~mask, is_causal=False)  # (B, L, E)
        h = self.final_norm(h)  # (B, L, E)
        end = mask.long().sum(1).clamp(min=1) - 1  # (B,) position of <end>: the last real token
        pooled = self.proj(h[torch.arange(len(ids), device=ids.device), end])  # (B, D)
        return TextEncoding(h, mask, pooled)


class ImageEncoder(nn.Module):
    """A small conv net: three stages (stride 1, 2, 2), then average pooling to a 2 x 2 grid (so left/right and
    top/bottom survive, for compositions) and a projection: (B, C, H, W) -> (B, D), any H, W >= 8."""

    def __init__(self, config: CLIPConfig):
        super().__init__()
        w = config.image_width

        def stage(c_in, c_out, stride):
            return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.GroupNorm(8, c_out), nn.GELU()]

        self.features = nn.Sequential(
            *stage(config.image_channels, w, 1), *stage(w, 2 * w, 2), *stage(2 * w, 4 * w, 2), *stage(4 * w, 4 * w, 1)
        )
        self.pool = nn.AdaptiveAvgPool2d((2, 2))
        self.proj = nn.Linear(4 * 4 * w, config.embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pool(self.features(x))  # (B, 4w, 2, 2)
        return self.proj(h.flatten(1))  # (B, D)


class MiniCLIP(nn.Module):
    r"""Image encoder, text encoder, tokenizer and the learned temperature :math:`t` (``log_scale``, initialised to
    :math:`\log(1/0.07)`, CLIP's Figure 3 / section 2.5)."""

    def __init__(self, config: CLIPConfig):
        super().__init__()
        self.config = config
        self.tokenizer = make_tokenizer(config)
        self.text = TextEncoder(config)
        self.image = ImageEncoder(config)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    @property
    def device(self) -> torch.device:
        return self.log_scale.device

    def tokenize(self, prompts: str | Sequence[str], **kwargs) -> Tokens:
        ids, mask = self.tokenizer.encode(prompts, **kwargs)
        return Tokens(ids.to(self.device), mask.to(self.device))

    def encode_text(self, prompts: str | Sequence[str] | Tokens, **kwargs) -> TextEncoding:
        """Prompts (or :class:`Tokens`) -> :class:`TextEncoding`; ``kwargs`` go to :meth:`Tokenizer.encode`."""
        tokens = prompts if isinstance(prompts, Tokens) else self.tokenize(prompts, **kwargs)
        return self.text(tokens.ids.to(self.device), tokens.mask.to(self.device))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) in [-1, 1] -> (B, D) embeddings (not normalised)."""
        if images.ndim != 4 or images.shape[1] != self.config.image_channels:
            raise ValueError(
                f"Expected images (B, {self.config.image_channels}, H, W) in [-1, 1], got {tuple(images.shape)}."
            )
        return self.image(images.to(self.device))

    @torch.no_grad()
    def embed(self, images: torch.Tensor | None = None, prompts=None) -> tuple[torch.Tensor | None, ...]:
        """Unit-norm image and/or text embeddings (each (B, D)), without gradients: for scores and retrieval."""
        img = F.normalize(self.encode_image(images), dim=-1) if images is not None else None
        txt = F.normalize(self.encode_text(prompts).pooled, dim=-1) if prompts is not None else None
        return img, txt


__all__ = [
    "END",
    "PAD",
    "SPECIAL_TOKENS",
    "START",
    "UNK",
    "CLIP_PRESETS",
    "CLIPConfig",
    "ImageEncoder",
    "MiniCLIP",
    "TextEncoder",
    "TextEncoding",
    "Tokenizer",
    "Tokens",
    "UnknownWordError",
    "make_tokenizer",
]
