r"""Training a miniature CLIP: one visible contrastive step on captioned images, on the shared loop.

Each step (Radford et al. 2021, arXiv:2103.00020, Figure 3): take a batch of images with their class labels, write a
caption for each, drawn at random among the class's wordings (:func:`sdgan_course.data.wordings.draw_captions`:
synonyms, plurals, a full stop, capitals; a new wording every time an image comes round), stating the image's
brightness ("a dark coat") with probability ``p_attribute`` when the image is in its class's darkest or lightest
third and the pair is not held out, optionally replace part of the batch by two-item compositions on a 28 x 56 canvas
(never a held-out arrangement), embed images and captions, and take an AdamW step on the symmetric contrastive loss
with duplicate captions handled by their meaning (:func:`sdgan_course.losses.clip.clip_loss`). The temperature is a
parameter like the others; CLIP clips its scale at 100.

After training the text encoder is **frozen** and its token embeddings become the U-Net's context, as Stable
Diffusion froze CLIP ViT-L/14's text encoder.

Shape legend: B batch, P compositions in the batch, D embedding width.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

from ..checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ..config import profile_sizes
from ..data.batches import StepBatches
from ..data.captions import CLASS_WORDS, caption_labels, compose_pairs
from ..data.wordings import (
    attribute_allowed,
    brightness_attribute,
    brightness_thresholds,
    draw_attributes,
    draw_captions,
)
from ..distributed import all_gather_with_grad, check_global_batch, rank_generator, wrap_ddp_methods
from ..losses.clip import clip_loss
from ..models.text_encoder import CLIPConfig, MiniCLIP, Tokenizer
from .loop import ResumableRun, grad_norm, loop_options, train_loop

CHECKPOINT_KIND = "clip"


@dataclass(frozen=True)
class CLIPTrainConfig:
    """How to train a miniature CLIP (the network is a :class:`~sdgan_course.models.text_encoder.CLIPConfig`)."""

    dataset: str = "fashion_mnist"
    pair_fraction: float = 0.25  # share of each batch that is two-item compositions (0: single items only)
    duplicates: str = "soft"  # how captions of the same meaning are treated: "soft" or "mask" (losses.clip)
    p_attribute: float = 0.5  # chance that a dark or light image's caption says so ("a dark coat")
    steps: int = 2_000
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.1  # decoupled (AdamW), as CLIP
    warmup_steps: int = 100
    final_lr_fraction: float = 0.1  # cosine decay to this share of lr
    max_grad_clip: float = 1.0
    seed: int = 0
    train_limit: int | None = None
    checkpoint_every: int = 250
    log_every: int = 10
    max_grad_norm: float = 1e4  # the divergence guard's threshold (before clipping)

    def __post_init__(self):
        if not 0 <= self.p_attribute <= 1:
            raise ValueError(f"p_attribute must be in [0, 1], got {self.p_attribute}.")
        if not 0 <= self.pair_fraction < 1:
            raise ValueError(f"pair_fraction must be in [0, 1), got {self.pair_fraction}.")
        if self.duplicates not in ("soft", "mask"):
            raise ValueError(f"duplicates must be 'soft' or 'mask', got {self.duplicates!r}.")
        if self.dataset not in CLASS_WORDS:
            raise ValueError(f"No captions for dataset {self.dataset!r}; use one of {', '.join(CLASS_WORDS)}.")

    @classmethod
    def preset(cls, profile: str, **overrides) -> CLIPTrainConfig:
        """The steps and batch size of a profile (:data:`CLIP_TRAIN_PRESETS`), with ``overrides`` applied."""
        return cls(**profile_sizes(CLIP_TRAIN_PRESETS, profile, "CLIPTrainConfig.preset", **overrides))

    def lr_factor(self, step: int) -> float:
        """Linear warm-up, then cosine decay to ``final_lr_fraction`` at ``steps``."""
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps))
        return self.final_lr_fraction + (1 - self.final_lr_fraction) * 0.5 * (1 + math.cos(math.pi * progress))


CLIP_TRAIN_PRESETS = {
    "ci": dict(steps=20, batch_size=32, train_limit=2_000, checkpoint_every=10, log_every=2, warmup_steps=5),
    "cpu": dict(steps=2_000, batch_size=256),
    "gpu": dict(steps=10_000, batch_size=512, checkpoint_every=1_000),
}


def clip_train_step(
    model: MiniCLIP,
    opt: torch.optim.Optimizer,
    images: torch.Tensor,
    captions: list[str],
    groups: torch.Tensor,
    *,
    pair_images: torch.Tensor | None = None,
    pair_captions: list[str] | None = None,
    pair_groups: torch.Tensor | None = None,
    duplicates: str = "soft",
    max_grad_clip: float | None = 1.0,
) -> dict[str, float]:
    """One contrastive step on images (B, 1, 28, 28) with captions and meaning ids ``groups`` (B,), plus optional
    compositions (P, 1, 28, 56). Returns ``{"loss", "accuracy", "scale", "grad_norm"}``."""
    image_emb = model.encode_image(images)  # (B, D)
    if pair_images is not None:
        image_emb = torch.cat([image_emb, model.encode_image(pair_images)])  # (B + P, D)
        captions = list(captions) + list(pair_captions)
        groups = torch.cat([groups, pair_groups])  # (B + P,)
    text_emb = model.encode_text(captions).pooled  # (B + P, D)
    # Under torchrun: every rank's embeddings (with gradients), so each image is contrasted with the captions of the
    # whole global batch, as in one process (no-ops in one process; distributed.all_gather_with_grad)
    image_emb, text_emb = all_gather_with_grad(image_emb), all_gather_with_grad(text_emb)  # (N (B + P), D)
    groups = all_gather_with_grad(groups.to(model.device))  # (N (B + P),)
    out = clip_loss(image_emb, text_emb, model.log_scale, groups=groups, duplicates=duplicates)
    opt.zero_grad(set_to_none=True)
    out.loss.backward()
    norm = grad_norm(model)
    if max_grad_clip:
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_clip)
    opt.step()
    with torch.no_grad():
        model.log_scale.clamp_(max=math.log(100.0))  # CLIP: the scale never exceeds 100
    values = torch.stack([out.loss.detach(), out.accuracy, model.log_scale.detach().exp(), norm.to(model.device)])
    loss, accuracy, scale, norm = values.tolist()
    return {"loss": loss, "accuracy": accuracy, "scale": scale, "grad_norm": norm}


def pair_group_ids(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Meaning ids for (P, 2) (left, right) labels, after the single classes' ids 0..K-1."""
    return num_classes + labels[:, 0] * num_classes + labels[:, 1]  # (P,)


def single_group_ids(labels: torch.Tensor, attributes: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Meaning ids for single items: the class (0..K-1) with no attribute word, else one id per (attribute, class)
    after the pairs' ids (K + K*K onwards)."""
    k = num_classes
    return torch.where(attributes == 0, labels, k + k * k + (attributes - 1) * k + labels)  # (B,)


class CLIPRun(ResumableRun):
    """A CLIP training run: model, AdamW, LR schedule, step counter, history and RNG state (captions, pairs)."""

    kind = CHECKPOINT_KIND

    def __init__(self, model_config: CLIPConfig, train_config: CLIPTrainConfig, *, device="cpu"):
        self.model_config, self.train_config = model_config, train_config
        self.device = torch.device(device)
        torch.manual_seed(train_config.seed)  # weights are initialised reproducibly
        self.model = MiniCLIP(model_config).to(self.device)
        decay = [p for n, p in self.model.named_parameters() if p.ndim >= 2 and "embed" not in n]
        rest = [p for n, p in self.model.named_parameters() if not (p.ndim >= 2 and "embed" not in n)]
        self.opt = torch.optim.AdamW(
            [{"params": decay, "weight_decay": train_config.weight_decay}, {"params": rest, "weight_decay": 0.0}],
            lr=train_config.lr,
            betas=(0.9, 0.98),  # CLIP's beta2 for stability
        )
        self.lr_schedule = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: self.train_config.lr_factor(s))
        self.rng = torch.Generator().manual_seed(train_config.seed + 1)
        self.step = 0
        self.history: dict[str, list[float]] = {}

    @property
    def tokenizer(self) -> Tokenizer:
        return self.model.tokenizer

    def state(self) -> dict:
        return {
            "model_config": asdict(self.model_config),
            "train_config": asdict(self.train_config),
            "step": self.step,
            "model": self.model.state_dict(),
            "opt": self.opt.state_dict(),
            "lr_schedule": self.lr_schedule.state_dict(),
            "rng": self.rng.get_state(),
            "history": self.history,
        }

    @classmethod
    def load(cls, path, *, device="cpu", train_config: CLIPTrainConfig | None = None) -> CLIPRun:
        """Rebuild a run from :meth:`save`'s file; ``train_config`` may extend e.g. ``steps``."""
        ckpt = cls.read_resumable(path)
        config = _model_config(ckpt, path)
        run = cls(config, train_config or CLIPTrainConfig(**ckpt["train_config"]), device=device)
        _load_weights(run.model, ckpt["model"], path)
        run.opt.load_state_dict(ckpt["opt"])
        run.lr_schedule.load_state_dict(ckpt["lr_schedule"])
        run.rng.set_state(ckpt["rng"])
        run.step, run.history = ckpt["step"], ckpt["history"]
        return run


class CLIPTrainResult(NamedTuple):
    run: CLIPRun
    seconds: float
    images_per_second: float


def train_clip(
    run: CLIPRun,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    steps: int | None = None,
    checkpoint_path: str | Path | None = None,
    hook=None,
    hook_every: int = 100,
    progress: bool = True,
    max_seconds: float | None = None,
) -> CLIPTrainResult:
    """Train ``run`` to ``steps`` (default: the config's) on ``images`` (N, 1, 28, 28) in [-1, 1] with class
    ``labels`` (N,), through the shared loop. Captions and compositions are drawn from ``run.rng`` (resumable)."""
    cfg = run.train_config
    steps = cfg.steps if steps is None else steps
    if images.ndim != 4 or images.shape[1] != run.model_config.image_channels or len(images) != len(labels):
        raise ValueError(
            f"Expected images (N, {run.model_config.image_channels}, H, W) and labels (N,), got "
            f"{tuple(images.shape)} and {tuple(labels.shape)}."
        )
    k = len(CLASS_WORDS[cfg.dataset])
    num_pairs = round(cfg.pair_fraction * cfg.batch_size)
    singles = cfg.batch_size - num_pairs
    words = bool(run.model_config.vocab)  # an older word-level tokenizer: the first captions' templates only
    attributes = torch.zeros_like(labels) if words else brightness_attribute(
        images, labels, brightness_thresholds(cfg.dataset))  # (N,) 0 middle, 1 dark, 2 light third of its class
    allowed = attribute_allowed(cfg.dataset)  # (K, 3) the training (class, attribute) captions
    stream = StepBatches(images, labels, attributes, batch_size=singles, seed=cfg.seed,
                         device=run.device)  # this rank's shard
    local_pairs = check_global_batch(num_pairs)  # under torchrun each rank composes its share of the pairs
    pool_x, pool_y = images.to(run.device), labels
    run.model.train()
    # Under torchrun each rank encodes its shard; the step gathers the embeddings, so the negatives are global.
    model = wrap_ddp_methods(run.model, ("encode_image", "encode_text"))

    def step_fn(step: int) -> dict[str, float]:
        x, y, a = stream.batch(step)
        rng = rank_generator(run.rng)
        if words:
            captions, _ = caption_labels(y.cpu(), dataset=cfg.dataset, rng=rng)
        else:
            a = draw_attributes(a, y, allowed, cfg.p_attribute, rng)  # (B,) the attribute each caption states
            captions = draw_captions(y.cpu(), a, dataset=cfg.dataset, rng=rng)
        groups = single_group_ids(y.cpu(), a.cpu(), k).to(y.device)  # (B,)
        pairs = compose_pairs(pool_x, pool_y, local_pairs, dataset=cfg.dataset, rng=rng) if num_pairs else None
        stats = clip_train_step(
            model,
            run.opt,
            x,
            captions,
            groups,
            pair_images=pairs.images if pairs else None,
            pair_captions=pairs.captions if pairs else None,
            pair_groups=pair_group_ids(pairs.labels, k).to(y.device) if pairs else None,
            duplicates=cfg.duplicates,
            max_grad_clip=cfg.max_grad_clip,
        )
        run.lr_schedule.step()
        return stats

    result = train_loop(
        run,
        step_fn,
        steps=steps,
        checkpoint_path=checkpoint_path,
        hook=hook,
        hook_every=hook_every,
        progress=progress,
        max_seconds=max_seconds,
        desc="CLIP training",
        postfix=("loss", "accuracy"),
        fixes="lower the learning rate or raise warmup_steps",
        **loop_options(cfg),  # batch_size, checkpoint_every, log_every, max_grad_norm: as every family's
    )
    return CLIPTrainResult(run, result.seconds, result.examples_per_second)


# ---------------------------------------------------------------- shipping and loading


def _model_config(ckpt: dict, path) -> CLIPConfig:
    try:
        return CLIPConfig.from_dict(ckpt["model_config"])
    except (KeyError, TypeError) as err:
        raise CheckpointError(f"{path} has no valid CLIP config ({err}): it was not written by this library.") from err


def _load_weights(model: MiniCLIP, state: dict, path) -> None:
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"{path} does not match the CLIP its config describes: {err}") from err


def export_clip(run: CLIPRun, path: str | Path, **info) -> Path:
    """Save only what encoding needs (weights + configs, which hold the vocabulary): a small, shippable file."""
    state = {
        "model_config": asdict(run.model_config),
        "train_config": asdict(run.train_config),
        "step": run.step,
        "model": run.model.state_dict(),
        "info": info,
    }
    return save_checkpoint(path, state, kind=CHECKPOINT_KIND)


def load_clip(path: str | Path, *, device=None) -> MiniCLIP:
    """Load a CLIP checkpoint (a run or an exported one), **frozen** (eval mode, no gradients), on ``device``.

    The returned model carries ``.step`` and ``.info`` (what :func:`export_clip` recorded)."""
    ckpt = load_checkpoint(path, kind=CHECKPOINT_KIND)
    model = MiniCLIP(_model_config(ckpt, path))
    _load_weights(model, ckpt["model"], path)
    model.step, model.info = ckpt["step"], ckpt.get("info", {})
    device = torch.device(device) if device is not None else torch.device("cpu")
    return model.to(device).eval().requires_grad_(False)


def load_shipped_clip(name: str = "clip_fashion_mnist", *, device=None) -> MiniCLIP:
    """Load a CLIP shipped with the course (``data/checkpoints/NAME.pt``, checked against the manifest)."""
    from ..assets import find_asset

    return load_clip(find_asset(f"checkpoints/{name}.pt"), device=device)


__all__ = [
    "CHECKPOINT_KIND",
    "CLIP_TRAIN_PRESETS",
    "CLIPRun",
    "CLIPTrainConfig",
    "CLIPTrainResult",
    "clip_train_step",
    "export_clip",
    "load_clip",
    "load_shipped_clip",
    "pair_group_ids",
    "single_group_ids",
    "train_clip",
]
