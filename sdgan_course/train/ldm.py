r"""Training latent diffusion with text: the DDPM loss on autoencoder latents, conditioned on frozen text tokens.

Rombach et al. 2022 (arXiv:2112.10752), eq. 3: :math:`L_{LDM} = \mathbb{E}_{\mathcal{E}(x), y, \epsilon, t}
\lVert \epsilon - \epsilon_\theta(z_t, t, \tau_\theta(y)) \rVert^2`. Only :math:`\epsilon_\theta` learns: the
autoencoder (notebook 08) and the text encoder (the miniature CLIP) are trained before and frozen, as in Stable
Diffusion v1, whose text encoder is a frozen CLIP ViT-L/14.

Because both are frozen their outputs can be computed **once**: every training image is encoded to its posterior
(mean and std, a fresh latent sample is drawn per step, as the CompVis code samples the posterior), and every caption
the templates can produce is encoded to its tokens. A training step then costs only the U-Net.

The data mixes single items (28 x 28 -> 4 x 7 x 7 latents, ``"a photo of a bag"``) and two-item compositions
(28 x 56 -> 4 x 7 x 14, ``"a bag to the left of a coat"``, never a held-out pair): every ``pair_every``-th step is a
batch of compositions. The caption's wording (:mod:`sdgan_course.data.wordings`: synonyms, plurals, a full stop)
is drawn afresh each step; an image in its class's darkest or lightest third is captioned with that attribute ("a
dark coat") with probability ``p_attribute``, unless the pair is held out. With probability ``p_uncond`` the caption
is replaced by the empty prompt ``""`` (classifier-free guidance; Stable Diffusion v1.5 dropped 10 % of captions).
A text encoder with an older word tokenizer gets the first captions' templates only (what it was trained on).

Shape legend: N examples, B batch, C latent channels, h x w latent pixels, K classes, A attributes (none, dark, light),
V wordings, L tokens, E width.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar, NamedTuple

import torch

from ..checkpoint import load_checkpoint, save_checkpoint
from ..config import profile_sizes
from ..data.batches import StepBatches
from ..data.captions import CLASS_WORDS, PAIR_TEMPLATES, compose_pairs, templates_for
from ..data.images import load_images
from ..data.wordings import ATTRIBUTES, brightness_attribute, brightness_thresholds, training_wordings
from ..device import maybe_compile
from ..distributed import global_shape, local_part, wrap_ddp
from ..models.ldm import LatentDiffusion, frozen_parts
from ..models.text_encoder import TextEncoder, Tokenizer
from ..models.unet import UNet, UNetConfig
from ..models.vae import KLAutoencoder
from ..schedules import NoiseSchedule
from .diffusion import DiffusionRun, DiffusionTrainConfig, DiffusionTrainResult, diffusion_train_step, ema_unet
from .loop import loop_options, train_loop

CHECKPOINT_KIND = "ldm"


LDM_TRAIN_PRESETS = {
    "ci": dict(steps=9, batch_size=16, pair_batch_size=8, num_pairs=200, train_limit=1_000,
               checkpoint_every=6, log_every=3, warmup_steps=3),
    "cpu": dict(steps=6_000),
    "gpu": dict(steps=40_000, batch_size=256, pair_batch_size=128, num_pairs=60_000, checkpoint_every=2_000),
}


@dataclass(frozen=True)
class LDMTrainConfig(DiffusionTrainConfig):
    """How to train the latent U-Net (its size is a :class:`~sdgan_course.models.unet.UNetConfig`): every field of
    the pixel model's :class:`~sdgan_course.train.diffusion.DiffusionTrainConfig` (``p_uncond`` drops captions to the
    empty prompt; ``image_shape`` is one single-item training image, before encoding; ``batch_size`` counts single
    items), Stable Diffusion's schedule and more steps by default, and the two-item compositions."""

    presets: ClassVar[dict] = LDM_TRAIN_PRESETS
    schedule: str = "scaled_linear"  # Stable Diffusion's
    steps: int = 6000
    pair_batch_size: int = 64  # compositions (twice as wide: the same latent pixels per batch)
    pair_every: int = 3  # every 3rd step is a composition batch; 0 = single items only
    num_pairs: int = 30_000  # compositions built (seeded) from the training images
    p_attribute: float = 0.5  # chance that a dark or light image's caption says so ("a dark coat")

    def __post_init__(self):
        super().__post_init__()
        if self.pair_every < 0 or self.pair_every == 1:
            raise ValueError(f"pair_every must be 0 (no compositions) or >= 2, got {self.pair_every}.")


def ldm_unet_config(profile: str, context_dim: int, latent_channels: int = 4, **overrides) -> UNetConfig:
    """The latent U-Net of a profile (:data:`LDM_UNET_PRESETS`): attention (self and cross) at every level, since a
    7 x 7 latent is cheap."""
    sizes = profile_sizes(LDM_UNET_PRESETS, profile, "ldm_unet_config", **overrides)
    return UNetConfig(in_channels=latent_channels, context_dim=context_dim, **sizes)


LDM_UNET_PRESETS = {
    "ci": dict(base_channels=16, channel_mults=(1, 2), attention_levels=(0, 1), num_heads=2),
    "cpu": dict(base_channels=32, channel_mults=(1, 2), attention_levels=(0, 1), num_heads=4),  # shipped
    "gpu": dict(base_channels=96, channel_mults=(1, 2), attention_levels=(0, 1), num_heads=4, num_res_blocks=2),
}


# ---------------------------------------------------------------- the frozen parts and the precomputed data


class LatentSet(NamedTuple):
    mean: torch.Tensor  # (N, C, h, w) posterior means
    std: torch.Tensor  # (N, C, h, w) posterior standard deviations
    labels: torch.Tensor  # (N,) classes, or (N, 2) (left, right) classes
    attributes: torch.Tensor  # (N,) the brightness the pixels carry (0 middle third, 1 dark, 2 light); 0 for pairs


class CaptionTable(NamedTuple):
    """Every training caption, encoded once by the frozen text encoder."""

    single: torch.Tensor  # (K, A, V, L, E) wording v of class k with attribute a ("a photo of a dark coat")
    single_mask: torch.Tensor  # (K, A, V, L)
    single_count: torch.Tensor  # (K, A) how many of the V wordings are real (0: never a training caption)
    pair: torch.Tensor  # (K, K, 2, L, E) "a {left} to the left of a {right}" and its mirror wording
    pair_mask: torch.Tensor  # (K, K, 2, L)
    empty: torch.Tensor  # (L, E) the empty prompt
    empty_mask: torch.Tensor  # (L,)


@torch.no_grad()
def encode_latents(autoencoder: KLAutoencoder, images: torch.Tensor, labels: torch.Tensor,
                   attributes: torch.Tensor | None = None, *, batch_size: int = 500) -> LatentSet:
    """The posterior of every image (N, 1, H, W), in batches, on the autoencoder's device, with its labels and
    attributes (default: none)."""
    device = next(autoencoder.parameters()).device
    means, stds = [], []
    for i in range(0, len(images), batch_size):
        posterior = autoencoder.encode(images[i : i + batch_size].to(device))
        means.append(posterior.mean)
        stds.append(posterior.std)
    attributes = torch.zeros(len(labels), dtype=torch.long) if attributes is None else attributes
    return LatentSet(torch.cat(means), torch.cat(stds), labels.to(device), attributes.to(device))


def single_wordings(tokenizer, dataset: str) -> list[list[list[str]]]:
    """[class][attribute] -> the training wordings: :func:`~sdgan_course.data.wordings.single_captions` where the
    (class, attribute) pair is a training one, or, for an older word tokenizer, the first templates (no attribute)."""
    if isinstance(tokenizer, Tokenizer):
        return [[[t.format(name=n) for t in templates_for(dataset, "train")], [], []] for n in CLASS_WORDS[dataset]]
    return training_wordings(dataset)


@torch.no_grad()
def encode_caption_table(text_encoder: TextEncoder, tokenizer, dataset: str) -> CaptionTable:
    """Encode every training caption of ``dataset``: K x A x V single-item captions and K x K x 2 pair captions."""
    names = CLASS_WORDS[dataset]
    device = next(text_encoder.parameters()).device
    k = len(names)

    def encode(texts):
        ids, mask = tokenizer.encode(texts)
        out = text_encoder(ids.to(device), mask.to(device))
        return out.tokens, out.mask

    wordings = single_wordings(tokenizer, dataset)  # [K][A] lists of texts
    count = torch.tensor([[len(w) for w in row] for row in wordings])  # (K, A)
    v = int(count.max())
    flat = [row[a][i] if i < len(row[a]) else "" for row in wordings for a in range(len(ATTRIBUTES)) for i in range(v)]
    single, single_mask = encode(flat)
    pair_texts = [t.format(left=names[a], right=names[b]) for a in range(k) for b in range(k) for t in PAIR_TEMPLATES]
    pair, pair_mask = encode(pair_texts)
    empty, empty_mask = encode([""])
    length, width = single.shape[-2:]
    return CaptionTable(
        single.view(k, len(ATTRIBUTES), v, length, width),
        single_mask.view(k, len(ATTRIBUTES), v, length),
        count.to(device),
        pair.view(k, k, len(PAIR_TEMPLATES), length, width),
        pair_mask.view(k, k, len(PAIR_TEMPLATES), length),
        empty[0],
        empty_mask[0],
    )


def caption_context(table: CaptionTable, labels: torch.Tensor, attributes: torch.Tensor | None = None, *,
                    p_attribute: float = 0.0, p_uncond: float = 0.0,
                    rng: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The context of a batch: labels (B,) or (B, 2) -> tokens (B, L, E) and mask (B, L). A single item's caption
    states its ``attributes`` (B,) with probability ``p_attribute`` (where that pair is a training caption), in a
    wording drawn uniformly; with probability ``p_uncond`` the empty prompt replaces it. Draws are made on the CPU
    (for reproducibility), for the global batch under torchrun (each rank keeps its part)."""
    b = len(labels)
    if labels.ndim == 1:
        u = local_part(torch.rand(global_shape((b,)), generator=rng)).to(labels.device)  # (B,) which wording
        a = torch.zeros_like(labels)  # (B,) the attribute each caption states: none unless drawn below
        if p_attribute > 0 and attributes is not None:
            keep = (local_part(torch.rand(global_shape((b,)), generator=rng)) < p_attribute).to(labels.device)
            attributes = attributes.to(labels.device)
            a = torch.where(keep & (table.single_count[labels, attributes] > 0), attributes, a)
        count = table.single_count[labels, a]  # (B,)
        t = (u * count).long().minimum(count - 1)  # (B,) uniform over the pair's wordings
        tokens, mask = table.single[labels, a, t], table.single_mask[labels, a, t]
    else:
        t = local_part(torch.randint(table.pair.shape[2], global_shape((b,)), generator=rng)).to(labels.device)
        tokens, mask = table.pair[labels[:, 0], labels[:, 1], t], table.pair_mask[labels[:, 0], labels[:, 1], t]
    if p_uncond > 0:
        drop = (local_part(torch.rand(global_shape((b,)), generator=rng)) < p_uncond).to(labels.device)  # (B,)
        tokens = torch.where(drop[:, None, None], table.empty.expand_as(tokens), tokens)
        mask = torch.where(drop[:, None], table.empty_mask.expand_as(mask), mask)
    return tokens, mask


def shipped_frozen_parts(device="cpu") -> tuple[dict, dict]:
    """The shipped miniature CLIP's text tower and the shipped autoencoder, as ``{"config", "weights"}`` states."""
    from .clip import load_shipped_clip
    from .vae import load_shipped_autoencoder

    clip = load_shipped_clip(device=device)
    ae = load_shipped_autoencoder(device=device)
    clip_state = {"config": asdict(clip.config), "weights": clip.text.state_dict()}
    ae_state = {"config": asdict(ae.config), "weights": ae.model.state_dict()}
    return clip_state, ae_state


# ---------------------------------------------------------------- the run


class LDMRun(DiffusionRun):
    """A latent-diffusion run: a diffusion run (U-Net, EMA, optimiser, warm-up, RNG, history) on latents, plus the
    frozen text encoder and autoencoder it was trained with (stored in its checkpoints, so a resume needs no other
    file)."""

    kind = CHECKPOINT_KIND
    train_config_class: ClassVar[type] = LDMTrainConfig

    def __init__(self, unet_config: UNetConfig, train_config: LDMTrainConfig, *, clip_state: dict,
                 autoencoder_state: dict, device="cpu"):
        self.clip_state, self.autoencoder_state = clip_state, autoencoder_state
        self.text_encoder, self.tokenizer, self.autoencoder = frozen_parts(clip_state, autoencoder_state,
                                                                           torch.device(device))
        super().__init__(unet_config, train_config, device=device)  # seeds, then builds the U-Net

    def state(self) -> dict:
        return {**super().state(), **self._frozen_state()}

    def sampling_state(self) -> dict:
        return {**super().sampling_state(), **self._frozen_state()}

    def _frozen_state(self) -> dict:
        return {"text_encoder": self.clip_state, "autoencoder": self.autoencoder_state}

    @classmethod
    def _from_checkpoint(cls, ckpt: dict, train_config, device) -> LDMRun:
        return cls(cls.network_config(**ckpt[cls.config_key]),
                   train_config or cls.train_config_class(**ckpt["train_config"]),
                   clip_state=ckpt["text_encoder"], autoencoder_state=ckpt["autoencoder"], device=device)


class LDMData(NamedTuple):
    singles: LatentSet
    pairs: LatentSet | None
    captions: CaptionTable


def prepare_ldm_data(run: LDMRun, images: torch.Tensor | None = None, labels: torch.Tensor | None = None) -> LDMData:
    """Encode the training images (default: the config's dataset, ``train_limit`` of it), the compositions built
    from them and every caption, once."""
    cfg = run.train_config
    if images is None:
        data = load_images(cfg.dataset, "train", limit=cfg.train_limit)
        images, labels = data.images, data.labels
    attributes = brightness_attribute(images, labels, brightness_thresholds(cfg.dataset))  # (N,)
    singles = encode_latents(run.autoencoder, images, labels, attributes)
    pairs = None
    if cfg.pair_every:
        composed = compose_pairs(images, labels, cfg.num_pairs, dataset=cfg.dataset,
                                 rng=torch.Generator().manual_seed(cfg.seed + 2))
        pairs = encode_latents(run.autoencoder, composed.images, composed.labels)
    captions = encode_caption_table(run.text_encoder, run.tokenizer, cfg.dataset)
    return LDMData(singles, pairs, captions)


def ldm_train_step(model: UNet, opt: torch.optim.Optimizer, latents: torch.Tensor, context: torch.Tensor,
                   mask: torch.Tensor, schedule: NoiseSchedule, *, prediction: str = "eps",
                   max_grad_clip: float | None = 1.0, rng: torch.Generator | None = None,
                   amp: bool = False) -> dict[str, float]:
    """One step of eq. 3 of Rombach et al.: ``latents`` (B, C, h, w) scaled, ``context`` (B, L, E), ``mask`` (B, L).
    It is :func:`~sdgan_course.train.diffusion.diffusion_train_step` with a text context as its conditioning."""
    return diffusion_train_step(model, opt, latents, schedule, context=context, context_mask=mask,
                                prediction=prediction, max_grad_clip=max_grad_clip, rng=rng, amp=amp)


LDMTrainResult = DiffusionTrainResult  # one result record for both: run, seconds, images (examples) per second


def train_ldm(run: LDMRun, data: LDMData, *, steps: int | None = None, checkpoint_path: str | Path | None = None,
              hook=None, hook_every: int = 100, progress: bool = True,
              max_seconds: float | None = None) -> DiffusionTrainResult:
    """Train ``run`` to ``steps`` (default: the config's) on :func:`prepare_ldm_data`'s ``data``, through the loop.
    The flow family (:mod:`.flow`) trains here too: its run's ``prediction="flow"`` picks the flow-matching loss in
    :func:`~.diffusion.diffusion_train_step` and its schedule is a :class:`~sdgan_course.schedules.FlowSchedule`."""
    cfg = run.train_config
    steps = cfg.steps if steps is None else steps
    scale = run.autoencoder.config.scale_factor
    single_stream = StepBatches(*data.singles, batch_size=min(cfg.batch_size, len(data.singles.labels)),
                                seed=cfg.seed, device=run.device)
    pair_stream = None
    if cfg.pair_every and data.pairs is not None:
        pair_stream = StepBatches(*data.pairs, batch_size=min(cfg.pair_batch_size, len(data.pairs.labels)),
                                  seed=cfg.seed + 1, device=run.device)
    run.model.train()
    model = maybe_compile(wrap_ddp(run.model), cfg.compile)  # run.model itself in one plain process

    def step_fn(step: int) -> dict[str, float]:
        is_pair = pair_stream is not None and step % cfg.pair_every == cfg.pair_every - 1
        mean, std, labels, attributes = (pair_stream if is_pair else single_stream).batch(step)
        noise = local_part(torch.randn(global_shape(mean.shape), generator=run.rng)).to(run.device)
        latents = (mean + std * noise) * scale  # (B, C, h, w): a posterior sample, scaled to unit variance
        context, mask = caption_context(data.captions, labels, attributes, p_attribute=cfg.p_attribute,
                                        p_uncond=cfg.p_uncond, rng=run.rng)
        stats = diffusion_train_step(model, run.opt, latents, run.schedule, context=context, context_mask=mask,
                                     prediction=cfg.prediction, max_grad_clip=cfg.max_grad_clip, rng=run.rng,
                                     amp=cfg.amp)
        run.lr_schedule.step()
        return stats

    result = train_loop(run, step_fn, steps=steps, checkpoint_path=checkpoint_path, hook=hook, hook_every=hook_every,
                        progress=progress, max_seconds=max_seconds, desc=f"latent {run.kind} training",
                        **loop_options(cfg))
    return DiffusionTrainResult(run, result.seconds, result.examples_per_second)


# ---------------------------------------------------------------- shipping and loading


def export_ldm(run: LDMRun, path: str | Path, **info) -> Path:
    """One file with all three parts (EMA denoiser, text encoder, autoencoder), as a Stable Diffusion checkpoint; its
    kind is the run's (``"ldm"``, or ``"flow"`` for a :class:`~.flow.FlowRun`)."""
    return save_checkpoint(path, {**run.sampling_state(), "info": info}, kind=run.kind)


def load_ldm(path: str | Path, *, device=None, family: type[LDMRun] | None = None) -> LatentDiffusion:
    """Load a latent-diffusion checkpoint (a training run or an exported one) for sampling, with its EMA denoiser.
    ``family`` is the run class that wrote it (default :class:`LDMRun`; the flow family's
    :func:`~.flow.load_flow` passes :class:`~.flow.FlowRun`): it names the checkpoint kind, the network and configs."""
    family = LDMRun if family is None else family
    ckpt = load_checkpoint(path, kind=family.kind)
    device = torch.device(device) if device is not None else torch.device("cpu")
    text, tokenizer, ae = frozen_parts(ckpt["text_encoder"], ckpt["autoencoder"], device)
    unet = ema_unet(ckpt, path, network=family.network, network_config=family.network_config,
                    config_key=family.config_key)
    train_config = family.train_config_class(**ckpt["train_config"])
    return LatentDiffusion(unet.to(device), text, tokenizer, ae, train_config.make_schedule(),
                           prediction=train_config.prediction, step=ckpt["step"],
                           info={**ckpt.get("info", {}), "dataset": train_config.dataset})


def load_shipped_ldm(name: str = "ldm_fashion_mnist", *, device=None) -> LatentDiffusion:
    """The text-to-image model shipped with the course (``data/checkpoints/NAME.pt``, checked against the manifest)."""
    from ..assets import find_asset

    return load_ldm(find_asset(f"checkpoints/{name}.pt"), device=device)


__all__ = [
    "CHECKPOINT_KIND", "CaptionTable", "LDM_TRAIN_PRESETS", "LDM_UNET_PRESETS", "LDMData", "LDMRun",
    "LDMTrainConfig", "LDMTrainResult", "LatentSet",
    "caption_context", "encode_caption_table", "encode_latents", "export_ldm", "ldm_train_step", "single_wordings",
    "ldm_unet_config", "load_ldm", "load_shipped_ldm", "prepare_ldm_data", "shipped_frozen_parts", "train_ldm",
]
