r"""Stable Diffusion in miniature: the three networks of a latent text-to-image model, held together.

Latent diffusion (Rombach et al. 2022, arXiv:2112.10752) is three separately trained parts:

1. an **autoencoder** :math:`\mathcal{E}, \mathcal{D}` (notebook 08) that maps an image x to a small latent
   :math:`z = \mathcal{E}(x)` and back; the latent is multiplied by a *scale factor* (1/std, Stable Diffusion v1:
   0.18215) so that the diffusion model sees unit-variance inputs;
2. a frozen **text encoder** :math:`\tau_\theta` (Stable Diffusion v1: CLIP ViT-L/14's, 77 x 768 token embeddings;
   here the course's miniature CLIP, 16 x 64) that turns a prompt into a sequence of token embeddings;
3. a **U-Net** :math:`\epsilon_\theta(z_t, t, \tau_\theta(y))` (notebook 09) with cross-attention to those tokens,
   trained with the DDPM loss on latents (their eq. 3).

Sampling runs the diffusion sampler in latent space with classifier-free guidance against the empty prompt, then
decodes once: :math:`x = \mathcal{D}(z_0 / \text{scale})`. Nothing in it is adversarial except, optionally, the
autoencoder's training loss; there is no recurrent network anywhere.

Like a Stable Diffusion ``.ckpt`` file, one checkpoint holds all three (:func:`sdgan_course.train.ldm.export_ldm`).

Shape legend: B batch, L tokens, E text width, C latent channels, h x w latent pixels, H x W image pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from ..checkpoint import CheckpointError
from ..data.captions import PAIR_SHAPE
from ..schedules import NoiseSchedule
from .text_encoder import CLIPConfig, TextEncoder, Tokenizer, make_tokenizer
from .tokenizer import BPETokenizer
from .unet import UNet
from .vae import AutoencoderConfig, KLAutoencoder

SINGLE_SHAPE = (28, 28)  # (H, W) of one item
PAIR_WORDS = ("left", "right")  # a prompt with these words describes a two-item composition (28 x 56 canvas)


class PromptContext(NamedTuple):
    tokens: torch.Tensor  # (B, L, E) what the U-Net's cross-attention attends to
    mask: torch.Tensor  # (B, L) bool, True on real tokens


def canvas_for_prompt(prompt: str) -> tuple[int, int]:
    """The image size (H, W) a prompt asks for: 28 x 56 for a composition ("a bag to the left of a coat"), else 28 x
    28. (The U-Net is fully convolutional, so one model draws both.)"""
    words = prompt.lower().split()
    return PAIR_SHAPE if any(w in words for w in PAIR_WORDS) else SINGLE_SHAPE


class LatentDiffusion:
    """The autoencoder, the frozen text encoder (with its tokenizer) and the latent U-Net, in eval mode.

    ``encode_prompts`` gives the U-Net's context, ``encode_images``/``decode_latents`` move between pixels and scaled
    latents; :func:`sdgan_course.sample.ldm.generate_ldm` draws images from prompts.
    """

    def __init__(
        self,
        unet: UNet,
        text_encoder: TextEncoder,
        tokenizer: BPETokenizer | Tokenizer,
        autoencoder: KLAutoencoder,
        schedule: NoiseSchedule,
        *,
        prediction: str = "eps",
        step: int = 0,
        info: dict | None = None,
    ):
        if unet.config.context_dim != text_encoder.context_dim:
            raise ValueError(
                f"The U-Net attends to {unet.config.context_dim}-wide tokens, the text encoder gives "
                f"{text_encoder.context_dim}-wide ones: they were not trained together."
            )
        if unet.config.in_channels != autoencoder.config.latent_channels:
            raise ValueError(
                f"The U-Net takes {unet.config.in_channels} channels, the autoencoder's latents have "
                f"{autoencoder.config.latent_channels}."
            )
        self.unet, self.text_encoder, self.tokenizer = unet.eval(), text_encoder.eval(), tokenizer
        self.autoencoder, self.schedule = autoencoder.eval(), schedule
        self.prediction, self.step, self.info = prediction, step, dict(info or {})
        for module in (self.unet, self.text_encoder, self.autoencoder):
            module.requires_grad_(False)

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @property
    def scale_factor(self) -> float:
        return self.autoencoder.config.scale_factor

    @property
    def latent_channels(self) -> int:
        return self.autoencoder.config.latent_channels

    def to(self, device) -> LatentDiffusion:
        for module in (self.unet, self.text_encoder, self.autoencoder):
            module.to(device)
        return self

    def latent_shape(self, image_size: tuple[int, int]) -> tuple[int, int, int]:
        """(C, h, w) of the latent of an H x W image (the autoencoder downsamples by its factor, rounding up)."""
        f = self.autoencoder.config.factor
        h, w = image_size
        if h % f or w % f:
            raise ValueError(f"Image sides must be multiples of the autoencoder's factor {f}, got {h} x {w}.")
        return (self.latent_channels, h // f, w // f)

    @torch.no_grad()
    def encode_prompts(self, prompts: str | Sequence[str]) -> PromptContext:
        """Prompts -> the U-Net's context. Any text tokenizes (byte-level BPE; an older checkpoint's word tokenizer
        reads an unknown word as ``<unk>``, with a warning); ``""`` is the empty prompt: the unconditional model,
        guidance's second branch."""
        ids, mask = self.tokenizer.encode([prompts] if isinstance(prompts, str) else list(prompts))
        out = self.text_encoder(ids.to(self.device), mask.to(self.device))
        return PromptContext(out.tokens, out.mask)  # (B, L, E), (B, L)

    @torch.no_grad()
    def encode_images(self, images: torch.Tensor, *, rng: torch.Generator | None = None) -> torch.Tensor:
        """Images (B, 1, H, W) in [-1, 1] -> scaled latents (B, C, h, w): the posterior mean (``rng=None``) or a
        sample, times the scale factor."""
        posterior = self.autoencoder.encode(images.to(self.device))
        z = posterior.mean if rng is None else posterior.sample(rng=rng)
        return z * self.scale_factor

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents (B, C, h, w) -> images (B, 1, H, W) in [-1, 1]."""
        return self.autoencoder.decode_scaled(latents.to(self.device)).clamp(-1, 1)


def frozen_parts(clip_state: dict, autoencoder_state: dict,
                 device) -> tuple[TextEncoder, BPETokenizer | Tokenizer, KLAutoencoder]:
    """Rebuild the frozen text encoder, tokenizer and autoencoder from their stored ``{"config", "weights"}``."""
    clip_config = CLIPConfig.from_dict(clip_state["config"])
    text = TextEncoder(clip_config)
    ae = KLAutoencoder(config=AutoencoderConfig(**autoencoder_state["config"]))
    for module, state, what in ((text, clip_state, "text encoder"), (ae, autoencoder_state, "autoencoder")):
        try:
            module.load_state_dict({k: v.float() for k, v in state["weights"].items()})
        except RuntimeError as err:
            raise CheckpointError(f"The stored {what} does not match its config: {err}") from err
        module.to(device).eval().requires_grad_(False)
    return text, make_tokenizer(clip_config), ae


__all__ = ["PAIR_WORDS", "SINGLE_SHAPE", "LatentDiffusion", "PromptContext", "canvas_for_prompt", "frozen_parts"]
