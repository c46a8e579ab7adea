r"""Training a diffusion model: one visible step (noise an image, predict the noise, regress), on the shared loop.

The step is Algorithm 1 of Ho et al. 2020 (arXiv:2006.11239): draw :math:`x_0` from the data, :math:`t \sim
\mathcal{U}\{0..T-1\}` and :math:`\epsilon \sim \mathcal{N}(0, I)`, form :math:`x_t = \sqrt{\bar\alpha_t}x_0 +
\sqrt{1-\bar\alpha_t}\epsilon` and take a gradient step on the simplified loss
:math:`\lVert \epsilon - \epsilon_\theta(x_t, t) \rVert^2` (their eq. 14), or on the v-prediction loss (Salimans and
Ho 2022). For classifier-free guidance the label is replaced by the null class with probability ``p_uncond`` (Ho and
Salimans 2022, arXiv:2207.12598, Algorithm 1), so one network learns both estimates.

Shape legend: B batch, C channels, H x W pixels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import ClassVar, NamedTuple

import torch
from torch import nn

from ..checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ..config import profile_sizes
from ..data.batches import StepBatches
from ..device import adam_speed_options, maybe_compile
from ..distributed import global_shape, local_part, unwrap, wrap_ddp
from ..losses.diffusion import diffusion_loss
from ..losses.flow import flow_matching_loss
from ..models.unet import UNet, UNetConfig
from ..schedules import NoiseSchedule
from .loop import EMA, ResumableRun, loop_options, mixed_precision, train_loop

CHECKPOINT_KIND = "ddpm"


DIFFUSION_TRAIN_PRESETS = {
    "ci": dict(steps=12, batch_size=16, train_limit=2_000, checkpoint_every=10, log_every=2, warmup_steps=4),
    "cpu": dict(steps=4_000, batch_size=128),
    "gpu": dict(steps=40_000, batch_size=256, checkpoint_every=2_000),
}


@dataclass(frozen=True)
class DiffusionTrainConfig:
    """How to train a diffusion model (the network is a :class:`~sdgan_course.models.unet.UNetConfig`); the latent
    model's config (:class:`~sdgan_course.train.ldm.LDMTrainConfig`) extends this one."""

    presets: ClassVar[dict] = DIFFUSION_TRAIN_PRESETS  # the sizes of each profile, for :meth:`preset`

    dataset: str = "fashion_mnist"
    image_shape: tuple[int, int, int] = (1, 28, 28)  # (C, H, W) of one training image: what sampling draws
    schedule: str = "linear"
    num_train_steps: int = 1000  # T
    prediction: str = "eps"  # "eps" (Ho et al. 2020) or "v" (Salimans and Ho 2022)
    p_uncond: float = 0.1  # label dropout for classifier-free guidance (0 for an unconditional model)
    steps: int = 4000
    batch_size: int = 128
    lr: float = 4e-4
    warmup_steps: int = 200
    max_grad_clip: float = 1.0  # gradient clipping, as in Ho et al.'s code
    ema_decay: float = 0.999
    amp: bool = True
    seed: int = 0
    train_limit: int | None = None
    checkpoint_every: int = 250
    log_every: int = 10
    max_grad_norm: float = 1e4  # the divergence guard's threshold (before clipping)
    compile: bool = False  # torch.compile the U-Net (GPU runs)

    predictions: ClassVar[tuple[str, ...]] = ("eps", "v")  # the targets this family's samplers understand

    def __post_init__(self):
        object.__setattr__(self, "image_shape", tuple(self.image_shape))
        check_diffusion_options(self.prediction, self.p_uncond, self.predictions)

    @classmethod
    def preset(cls, profile: str, **overrides) -> DiffusionTrainConfig:
        """The steps and batch size of a profile (``cls.presets``), with ``overrides`` applied."""
        return cls(**profile_sizes(cls.presets, profile, f"{cls.__name__}.preset", **overrides))

    def make_schedule(self) -> NoiseSchedule:
        return NoiseSchedule.from_name(self.schedule, self.num_train_steps)


def check_diffusion_options(prediction: str, p_uncond: float, predictions: tuple[str, ...] = ("eps", "v")) -> None:
    """What every diffusion training config checks: the prediction target and the label-dropout probability."""
    if prediction not in predictions:
        raise ValueError(f"Unknown prediction type {prediction!r}: use {' or '.join(map(repr, predictions))}.")
    if not 0 <= p_uncond < 1:
        raise ValueError(f"p_uncond must be in [0, 1), got {p_uncond}.")


def drop_labels(labels: torch.Tensor, p_uncond: float, null_label: int, *, rng: torch.Generator | None = None):
    """Replace each label by ``null_label`` with probability ``p_uncond`` (classifier-free guidance training)."""
    if p_uncond <= 0:
        return labels
    drop = local_part(torch.rand(global_shape(labels.shape), generator=rng)) < p_uncond  # (B,) on the CPU
    return torch.where(drop.to(labels.device), torch.full_like(labels, null_label), labels)


def diffusion_train_step(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    x0: torch.Tensor,
    schedule: NoiseSchedule,
    *,
    labels: torch.Tensor | None = None,
    context: torch.Tensor | None = None,
    context_mask: torch.Tensor | None = None,
    prediction: str = "eps",
    p_uncond: float = 0.0,
    max_grad_clip: float | None = 1.0,
    rng: torch.Generator | None = None,
    amp: bool = False,
) -> dict[str, float]:
    r"""One step of Algorithm 1 (Ho et al. 2020) with optional label dropout. Returns ``{"loss", "grad_norm"}``.
    With ``prediction="flow"`` the same step regresses the flow-matching velocity instead
    (:func:`~sdgan_course.losses.flow.flow_matching_loss`; ``schedule`` is then a
    :class:`~sdgan_course.schedules.FlowSchedule`).

    ``x0`` (B, C, H, W) in [-1, 1], or scaled latents; the conditioning is an argument: ``labels`` (B,) for a
    class-conditional model (``model.config.null_label`` is used for the dropped ones), or a text ``context`` (B, L, E)
    with its ``context_mask`` (B, L) for the latent model (eq. 3 of Rombach et al. 2022; its captions are dropped to
    the empty prompt before, by ``train.ldm.caption_context``); ``rng`` draws t, the noise and the label dropout (on
    the CPU, so runs are reproducible).
    """
    device = x0.device
    if labels is not None:
        labels = drop_labels(labels, p_uncond, unwrap(model).config.null_label, rng=rng)
    text = {} if context is None else dict(context=context, context_mask=context_mask)  # a text prompt, if any
    precision = mixed_precision(opt, device, amp)  # autocast, and loss scaling for fp16 (train/loop.py)
    with precision.autocast():
        if prediction == "flow":  # flow matching on the straight path (losses/flow.py; schedule: a FlowSchedule)
            loss = flow_matching_loss(model, x0, schedule, rng=rng, **text)
        else:
            loss = diffusion_loss(model, x0, schedule, labels=labels, prediction=prediction, rng=rng, **text)
    opt.zero_grad(set_to_none=True)
    norm = precision.step(loss, opt, model, max_grad_clip=max_grad_clip)
    values = torch.stack([loss.detach().float(), norm.to(device)]).tolist()  # one device sync
    return {"loss": values[0], "grad_norm": values[1]}


class DiffusionRun(ResumableRun):
    """A diffusion training run: U-Net, its EMA, optimiser, LR warm-up, step counter, history and RNG state."""

    kind = CHECKPOINT_KIND
    network: ClassVar[type[nn.Module]] = UNet  # the denoiser this family trains (the flow family: an MMDiT)
    network_config: ClassVar[type] = UNetConfig
    config_key: ClassVar[str] = "unet_config"  # where its config is stored in the checkpoint

    def __init__(self, unet_config, train_config: DiffusionTrainConfig, *, device="cpu"):
        self.unet_config, self.train_config = unet_config, train_config
        self.device = torch.device(device)
        torch.manual_seed(train_config.seed)  # weights are initialised reproducibly
        self.model = self.network(unet_config).to(self.device)
        self.ema = EMA(self.model, decay=train_config.ema_decay)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=train_config.lr, **adam_speed_options(self.device))
        warmup = max(1, train_config.warmup_steps)
        self.lr_schedule = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: min(1.0, (s + 1) / warmup))
        self.schedule = train_config.make_schedule()
        self.rng = torch.Generator().manual_seed(train_config.seed + 1)
        self.step = 0
        self.history: dict[str, list[float]] = {}

    @property
    def ema_source(self) -> nn.Module:
        return self.model

    def state(self) -> dict:
        return {
            self.config_key: asdict(self.unet_config),
            "train_config": asdict(self.train_config),
            "step": self.step,
            "model": self.model.state_dict(),
            "ema_model": self.ema.model.state_dict(),
            "ema_updates": self.ema.num_updates,
            "opt": self.opt.state_dict(),
            "lr_schedule": self.lr_schedule.state_dict(),
            "rng": self.rng.get_state(),
            "history": self.history,
        }

    def sampling_state(self) -> dict:
        """What sampling needs (EMA U-Net and configs), without the optimiser: the body of an exported file."""
        return {
            self.config_key: asdict(self.unet_config),
            "train_config": asdict(self.train_config),
            "step": self.step,
            "ema_model": self.ema.model.state_dict(),
        }

    @classmethod
    def _from_checkpoint(cls, ckpt: dict, train_config, device) -> DiffusionRun:
        """A fresh run with the checkpoint's configs (subclasses add what else they are built from)."""
        return cls(cls.network_config(**ckpt[cls.config_key]),
                   train_config or DiffusionTrainConfig(**ckpt["train_config"]), device=device)

    @classmethod
    def load(cls, path, *, device="cpu", train_config: DiffusionTrainConfig | None = None) -> DiffusionRun:
        """Rebuild a run from :meth:`save`'s file; ``train_config`` may extend e.g. ``steps``."""
        ckpt = cls.read_resumable(path)
        run = cls._from_checkpoint(ckpt, train_config, device)
        try:
            run.model.load_state_dict(ckpt["model"])
            run.ema.model.load_state_dict(ckpt["ema_model"])
        except RuntimeError as err:
            raise CheckpointError(f"{path} does not match the network its config describes: {err}") from err
        run.opt.load_state_dict(ckpt["opt"])
        run.lr_schedule.load_state_dict(ckpt["lr_schedule"])
        run.ema.num_updates = ckpt["ema_updates"]
        run.rng.set_state(ckpt["rng"])
        run.step, run.history = ckpt["step"], ckpt["history"]
        return run


class DiffusionTrainResult(NamedTuple):
    """What a diffusion training session returns, pixel or latent (``train.ldm.LDMTrainResult`` is this record)."""

    run: DiffusionRun
    seconds: float
    images_per_second: float  # training examples per second (latent: single items and compositions alike)


def train_diffusion(
    run: DiffusionRun,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    steps: int | None = None,
    checkpoint_path: str | Path | None = None,
    hook=None,
    hook_every: int = 100,
    progress: bool = True,
    max_seconds: float | None = None,
) -> DiffusionTrainResult:
    """Train ``run`` to ``steps`` (default: the config's) on ``images`` (N, C, H, W) in [-1, 1], through the loop."""
    cfg = run.train_config
    steps = cfg.steps if steps is None else steps
    conditional = run.unet_config.num_classes > 0
    if conditional and labels is None:
        raise ValueError("This diffusion model is class-conditional (num_classes > 0): pass the dataset's labels.")
    if images.shape[1] != run.unet_config.in_channels:
        raise ValueError(
            f"The U-Net expects {run.unet_config.in_channels} channels, the images have {images.shape[1]}."
        )
    if tuple(images.shape[1:]) != cfg.image_shape:
        run.train_config = cfg = replace(cfg, image_shape=tuple(images.shape[1:]))  # what sampling will draw
    tensors = (images, labels) if conditional else (images,)
    stream = StepBatches(*tensors, batch_size=cfg.batch_size, seed=cfg.seed, device=run.device)  # this rank's shard
    run.model.train()
    model = maybe_compile(wrap_ddp(run.model), cfg.compile)  # run.model itself in one plain process

    def step_fn(step: int) -> dict[str, float]:
        batch = stream.batch(step)
        stats = diffusion_train_step(
            model,
            run.opt,
            batch[0],
            run.schedule,
            labels=batch[1] if conditional else None,
            prediction=cfg.prediction,
            p_uncond=cfg.p_uncond if conditional else 0.0,
            max_grad_clip=cfg.max_grad_clip,
            rng=run.rng,
            amp=cfg.amp,
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
        desc="diffusion training",
        **loop_options(cfg),
    )
    return DiffusionTrainResult(run, result.seconds, result.examples_per_second)


# ---------------------------------------------------------------- shipping and loading


class LoadedDiffusion(NamedTuple):
    model: UNet  # the EMA weights, in eval mode
    schedule: NoiseSchedule
    config: UNetConfig
    prediction: str
    step: int
    image_shape: tuple[int, int, int]  # (C, H, W) of the training images


def export_diffusion(run: DiffusionRun, path: str | Path, **info) -> Path:
    """Save only what sampling needs (EMA U-Net + configs): a small, shippable file."""
    return save_checkpoint(path, {**run.sampling_state(), "info": info}, kind=run.kind)


def ema_unet(ckpt: dict, path, *, network: type[nn.Module] = UNet, network_config: type = UNetConfig,
             config_key: str = "unet_config") -> nn.Module:
    """The EMA denoiser of a diffusion checkpoint (run or export), rebuilt from its stored config, on the CPU: a U-Net
    by default, any family's network (``DiffusionRun.network``, ``network_config``, ``config_key``) otherwise."""
    model = network(network_config(**ckpt[config_key]))
    try:
        model.load_state_dict(ckpt["ema_model"])
    except RuntimeError as err:
        raise CheckpointError(f"{path} does not match the network its config describes: {err}") from err
    return model


def load_diffusion(path: str | Path, *, device=None) -> LoadedDiffusion:
    """Load a diffusion checkpoint (a training run or an exported one) for sampling, with its EMA weights."""
    ckpt = load_checkpoint(path, kind=CHECKPOINT_KIND)
    train_config = DiffusionTrainConfig(**ckpt["train_config"])
    model = ema_unet(ckpt, path)
    device = torch.device(device) if device is not None else torch.device("cpu")
    return LoadedDiffusion(
        model.to(device).eval(),
        train_config.make_schedule(),
        model.config,
        train_config.prediction,
        ckpt["step"],
        train_config.image_shape,
    )


def load_shipped_diffusion(name: str = "ddpm_fashion_mnist", *, device=None) -> LoadedDiffusion:
    """Load a diffusion model shipped with the course (``data/checkpoints/NAME.pt``, checked against the manifest)."""
    from ..assets import find_asset

    return load_diffusion(find_asset(f"checkpoints/{name}.pt"), device=device)


__all__ = [
    "CHECKPOINT_KIND",
    "DIFFUSION_TRAIN_PRESETS",
    "DiffusionRun",
    "DiffusionTrainConfig",
    "DiffusionTrainResult",
    "LoadedDiffusion",
    "check_diffusion_options",
    "diffusion_train_step",
    "drop_labels",
    "ema_unet",
    "export_diffusion",
    "load_diffusion",
    "load_shipped_diffusion",
    "train_diffusion",
]
