r"""The real Stable Diffusion's parts, through ``diffusers`` and ``transformers``: a tiny copy built from configs.

Notebook 11's miniature has a counterpart class for each part in the libraries that run the real model:

- the autoencoder: ``diffusers.AutoencoderKL`` (latents are multiplied by ``vae.config.scaling_factor``, 0.18215 in
  Stable Diffusion v1, before the U-Net sees them, and divided by it before decoding);
- the U-Net with cross-attention: ``diffusers.UNet2DConditionModel``;
- the frozen text encoder: ``transformers.CLIPTextModel`` with a ``CLIPTokenizer`` (byte-level BPE, 77 tokens;
  Radford et al. 2021, arXiv:2103.00020);
- the noise schedule and sampler: a ``diffusers`` scheduler (``DDIMScheduler`` here) with v1's ``scaled_linear``
  betas from 0.00085 to 0.012 over 1000 steps (the CompVis ``v1-inference.yaml``; Rombach et al. 2022,
  arXiv:2112.10752).

:func:`build_tiny_stable_diffusion` assembles a *randomly initialised*, seeded, tiny version of each from its config,
with no download, so that notebook 11 and CI can run the real classes anywhere in a second; its pictures are noise.
:func:`load_stable_diffusion` loads the real weights instead (internet and a GPU). :func:`sample_by_hand` is the
guided DDIM loop of ``StableDiffusionPipeline``, written out; a test checks that both give the same latents.

diffusers and transformers are the optional ``sd`` extra: this module imports them only inside its functions, so the
rest of the course never needs them. Shape legend: B batch, C latent channels, h x w latent pixels, H x W image
pixels, L = 77 tokens, E the text encoder's width.
"""

from __future__ import annotations

import collections
import json
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any, NamedTuple

import torch

INSTALL_HINT = "pip install -e '.[sd]'"
REAL_MODEL_ID = "stable-diffusion-v1-5/stable-diffusion-v1-5"  # the v1 id diffusers' own loaders use
CLIP_MAX_LENGTH = 77  # CLIP's context length: every prompt becomes 77 tokens (Radford et al. 2021, section 2.4)
SD_V1_SCALING_FACTOR = 0.18215  # v1-inference.yaml's scale_factor; the v1 VAE's config.json scaling_factor
SD_V1_SCHEDULER = dict(  # the v1 scheduler config: the training schedule plus the sampling conventions of its repo
    num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
    clip_sample=False, set_alpha_to_one=False, steps_offset=1,
)
# A few sentences to learn the tiny tokenizer's merges from (the real CLIP learned 48,894 from its training text).
BPE_TEXT = (
    "a photo of a sneaker. a photo of a bag. a picture of the dress. an image of a coat. a photo of an ankle boot. "
    "a t-shirt to the left of a bag. a sneaker to the right of a sandal. a photo of trousers. a photo of a pullover. "
    "a photo of a shirt. a red dress on a white background. a dark coat. a light coat. a cat sitting on a sofa. "
    "an astronaut riding a horse on the moon. a painting of a lighthouse at sunset, oil on canvas."
)


def require_sd():
    """``(diffusers, transformers)``, or an ImportError that says how to install them."""
    try:
        import diffusers
        import transformers
    except ImportError as err:
        raise ImportError(
            f"The real Stable Diffusion's parts need diffusers and transformers, and {err.name or 'one'} is not "
            f"installed. Install the course's 'sd' extra: {INSTALL_HINT}"
        ) from err
    return diffusers, transformers


class SDParts(NamedTuple):
    """The five parts of a Stable Diffusion v1 pipeline (diffusers/transformers objects)."""

    vae: Any  # diffusers.AutoencoderKL
    unet: Any  # diffusers.UNet2DConditionModel
    text_encoder: Any  # transformers.CLIPTextModel
    tokenizer: Any  # transformers.CLIPTokenizer
    scheduler: Any  # a diffusers scheduler (DDIMScheduler)


# ---- a tiny byte-level BPE tokenizer in CLIP's file format ----


def byte_symbols() -> list[str]:
    """CLIP's (and GPT-2's) 256 byte symbols: printable bytes stand for themselves, the others are shifted past 255,
    so every byte string becomes a string of visible characters and *any* text can be tokenized."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    shifted = iter(range(256, 512))
    return [chr(b) if b in keep else chr(next(shifted)) for b in range(256)]


def learn_bpe(text: str, num_merges: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A CLIP-style vocabulary and merge list learned from ``text``: the 256 byte symbols, the same with the
    end-of-word mark ``</w>``, one token per merge (the most frequent adjacent pair each round, ties broken by the
    pair's text), then ``<|startoftext|>`` and ``<|endoftext|>``: 512 + merges + 2 entries, as CLIP's 49,408."""
    symbols = byte_symbols()
    pieces = re.findall(r"[a-z]+|[0-9]|[^\sa-z0-9]+", text.lower())  # CLIP's split: letters, digits, punctuation
    words = collections.Counter()
    for piece in pieces:
        chars = [symbols[b] for b in piece.encode("utf-8")]
        words[(*chars[:-1], chars[-1] + "</w>")] += 1
    merges = []
    for _ in range(num_merges):
        pairs = collections.Counter()
        for word, count in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += count
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(best)
        merged = collections.Counter()
        for word, count in words.items():
            out, i = [], 0
            while i < len(word):
                if word[i : i + 2] == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged[tuple(out)] += count
        words = merged
    tokens = [*symbols, *(s + "</w>" for s in symbols), *("".join(m) for m in merges), "<|startoftext|>",
              "<|endoftext|>"]
    return {token: i for i, token in enumerate(tokens)}, merges


def tiny_clip_tokenizer(num_merges: int = 200, text: str = BPE_TEXT):
    """A ``transformers.CLIPTokenizer`` on a vocabulary learned from ``text``, loaded from CLIP's two files
    (vocab.json, merges.txt) written to a temporary folder: it pads and truncates to 77 tokens like the real one."""
    _, transformers = require_sd()
    vocab, merges = learn_bpe(text, num_merges)
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
        Path(folder, "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges),
                                              encoding="utf-8")
        return transformers.CLIPTokenizer.from_pretrained(folder, model_max_length=CLIP_MAX_LENGTH)


# ---- the parts ----


def build_tiny_stable_diffusion(seed: int = 0, *, width: int = 32, image_size: int = 64) -> SDParts:
    """A randomly initialised Stable Diffusion v1 in miniature, from configs only (nothing is downloaded).

    Every part has v1's *structure* at a tiny width: a four-level ``AutoencoderKL`` (downsampling factor 8, 4 latent
    channels, ``scaling_factor`` 0.18215), a two-level ``UNet2DConditionModel`` whose cross-attention reads the text
    encoder's ``width``-dimensional tokens, a two-layer ``CLIPTextModel`` with 77 positions and the tokenizer of
    :func:`tiny_clip_tokenizer`, and a ``DDIMScheduler`` with v1's schedule. The same ``seed`` gives the same weights;
    torch's global random state is left as it was."""
    diffusers, transformers = require_sd()
    if image_size % 8 or image_size < 8:
        raise ValueError(f"image_size must be a positive multiple of 8 (the autoencoder's factor), got {image_size}.")
    tokenizer = tiny_clip_tokenizer()
    text_config = transformers.CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=width, intermediate_size=2 * width, num_hidden_layers=2,
        num_attention_heads=4, max_position_embeddings=CLIP_MAX_LENGTH, hidden_act="quick_gelu",
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        vae = diffusers.AutoencoderKL(
            in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16, 32, 32),
            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
            layers_per_block=1, norm_num_groups=8, sample_size=image_size, scaling_factor=SD_V1_SCALING_FACTOR,
        )
        unet = diffusers.UNet2DConditionModel(
            sample_size=image_size // 8, in_channels=4, out_channels=4, layers_per_block=1,
            block_out_channels=(32, 64), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=width, attention_head_dim=8,
            norm_num_groups=8,
        )
        text_encoder = transformers.CLIPTextModel(text_config)
    scheduler = diffusers.DDIMScheduler(**SD_V1_SCHEDULER)
    return SDParts(vae.eval(), unet.eval(), text_encoder.eval(), tokenizer, scheduler)


def load_stable_diffusion(model_id: str = REAL_MODEL_ID, *, device: str | torch.device = "cuda",
                          dtype: torch.dtype = torch.float16) -> SDParts:
    """The real weights of ``model_id`` from the Hugging Face Hub (downloaded once, then cached), on ``device``.

    Only the five parts are loaded (no safety checker); the scheduler is a ``DDIMScheduler`` built from the model's
    own scheduler config, as in :func:`build_tiny_stable_diffusion`."""
    diffusers, _ = require_sd()
    with warnings.catch_warnings():  # newer diffusers call it dtype; torch_dtype works from 0.25 on
        warnings.filterwarnings("ignore", message=".*torch_dtype.*deprecated", category=FutureWarning)
        pipe = diffusers.StableDiffusionPipeline.from_pretrained(
            model_id, torch_dtype=dtype, safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe = pipe.to(device)
    scheduler = diffusers.DDIMScheduler.from_config(pipe.scheduler.config)
    return SDParts(pipe.vae, pipe.unet, pipe.text_encoder, pipe.tokenizer, scheduler)


def make_pipeline(parts: SDParts, *, img2img: bool = False):
    """``StableDiffusionPipeline`` (or the image-to-image one) around ``parts``, without a safety checker."""
    diffusers, _ = require_sd()
    kind = diffusers.StableDiffusionImg2ImgPipeline if img2img else diffusers.StableDiffusionPipeline
    pipe = kind(vae=parts.vae, text_encoder=parts.text_encoder, tokenizer=parts.tokenizer, unet=parts.unet,
                scheduler=parts.scheduler, safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


# ---- the pieces the pipeline runs, written out ----


@torch.no_grad()
def encode_prompts(parts: SDParts, prompts: str | list[str]) -> torch.Tensor:
    """Token embeddings (B, 77, E): pad every prompt to 77 tokens, run the text encoder, keep every position
    (Stable Diffusion v1 passes no attention mask: the U-Net attends to the padding positions too)."""
    ids = parts.tokenizer(prompts, padding="max_length", max_length=parts.tokenizer.model_max_length,
                          truncation=True, return_tensors="pt").input_ids  # (B, 77)
    return parts.text_encoder(ids.to(parts.text_encoder.device))[0]  # (B, 77, E) last hidden state


@torch.no_grad()
def encode_images(parts: SDParts, images: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
    """Scaled latents (B, 4, H/8, W/8) of images (B, 3, H, W) in [-1, 1]: a sample of the encoder's Gaussian,
    times ``scaling_factor`` (so that the U-Net sees latents of about unit variance; Rombach et al. 2022,
    appendix G)."""
    posterior = parts.vae.encode(images.to(parts.vae.device, parts.vae.dtype)).latent_dist
    return posterior.sample(generator=rng) * parts.vae.config.scaling_factor  # (B, 4, h, w)


@torch.no_grad()
def decode_latents(parts: SDParts, latents: torch.Tensor) -> torch.Tensor:
    """Images (B, 3, H, W) in about [-1, 1] from scaled latents (B, 4, h, w): divide by ``scaling_factor``,
    decode."""
    return parts.vae.decode(latents / parts.vae.config.scaling_factor).sample  # (B, 3, H, W)


@torch.no_grad()
def sample_by_hand(parts: SDParts, prompt: str, *, negative_prompt: str = "", steps: int = 20,
                   guidance: float = 7.5, rng: torch.Generator | None = None,
                   image_size: int | None = None) -> torch.Tensor:
    r"""The clean latents (1, 4, h, w) of ``StableDiffusionPipeline(prompt, num_inference_steps=steps,
    guidance_scale=guidance, generator=rng, output_type="latent")``, by the same loop written out: classifier-free
    guidance :math:`\tilde\epsilon = \epsilon(z_t, \varnothing) + s(\epsilon(z_t, c) - \epsilon(z_t, \varnothing))`
    (Ho and Salimans 2022, arXiv:2207.12598) and one ``scheduler.step`` per timestep."""
    unet, scheduler = parts.unet, parts.scheduler
    device, dtype = unet.device, parts.text_encoder.dtype
    size = image_size or unet.config.sample_size * 8
    context = torch.cat([encode_prompts(parts, [negative_prompt]), encode_prompts(parts, [prompt])])  # (2, 77, E)
    shape = (1, unet.config.in_channels, size // 8, size // 8)
    rand_device = rng.device if rng is not None else "cpu"
    latents = torch.randn(shape, generator=rng, device=rand_device, dtype=dtype).to(device)  # (1, 4, h, w) z_T
    latents = latents * scheduler.init_noise_sigma
    scheduler.set_timesteps(steps, device=device)
    for t in scheduler.timesteps:
        model_input = scheduler.scale_model_input(torch.cat([latents] * 2), t)  # (2, 4, h, w)
        eps_uncond, eps_text = unet(model_input, t, encoder_hidden_states=context).sample.chunk(2)
        eps = eps_uncond + guidance * (eps_text - eps_uncond)  # (1, 4, h, w)
        latents = scheduler.step(eps, t, latents, eta=0.0, generator=rng).prev_sample
    return latents


# ---- the real sizes, counted from the configs ----


def sd_v1_parameter_counts() -> dict[str, int]:
    """Parameter counts of Stable Diffusion v1's three networks, built from their configs on the ``meta`` device
    (shapes only, no memory, nothing downloaded): the v1 U-Net (320-640-1280-1280 channels, cross-attention width
    768, 8 heads), the KL autoencoder (128-256-512-512) and CLIP ViT-L/14's text transformer (width 768, 12 layers,
    12 heads, 49,408 tokens, 77 positions)."""
    diffusers, transformers = require_sd()
    with torch.device("meta"):
        unet = diffusers.UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8)
        vae = diffusers.AutoencoderKL(
            block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=2, latent_channels=4, sample_size=512)
        text = transformers.CLIPTextModel(transformers.CLIPTextConfig(
            vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
            max_position_embeddings=CLIP_MAX_LENGTH, projection_dim=768))
    return {name: sum(p.numel() for p in module.parameters())
            for name, module in (("unet", unet), ("vae", vae), ("text_encoder", text))}


__all__ = [
    "CLIP_MAX_LENGTH", "INSTALL_HINT", "REAL_MODEL_ID", "SDParts", "SD_V1_SCALING_FACTOR", "SD_V1_SCHEDULER",
    "build_tiny_stable_diffusion", "byte_symbols", "decode_latents", "encode_images", "encode_prompts",
    "learn_bpe", "load_stable_diffusion", "make_pipeline", "require_sd", "sample_by_hand",
    "sd_v1_parameter_counts", "tiny_clip_tokenizer",
]
