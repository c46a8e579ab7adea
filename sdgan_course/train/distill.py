r"""Adversarial diffusion distillation of the latent text-to-image model: a 1-4 step student, on the shared loop.

Sauer et al. 2023 (arXiv:2311.17042), Algorithm 1 in miniature. Three networks: the **teacher** (the shipped latent
U-Net, frozen), the **student** (a copy of the teacher that learns), the **discriminator** (the teacher's encoder,
frozen, with trainable heads: :mod:`sdgan_course.models.distill`). One step (:func:`distill_train_step`):

1. noise a batch of training latents to student timesteps :math:`s \in \{\tau_1..\tau_n\}` (999, 749, 499, 249) and
   let the student predict the clean latents :math:`\hat x_\theta(x_s, s)`;
2. the discriminator's step: hinge loss on real latents against the **detached** prediction, plus R1 every
   ``r1_every`` steps (lazy regularisation, Karras et al. 2020, arXiv:1912.04958, section 4.1: gamma scaled by
   ``r1_every``);
3. the student's step: the adversarial loss through the frozen features (the heads' gradients switched off), plus
   :math:`\lambda` times the distillation loss against the teacher **with classifier-free guidance** (scale
   ``guidance``) on the re-noised student output: the student learns the guided teacher, so it needs no guidance
   itself (distilling guidance: Meng et al. 2023, arXiv:2210.03142).

The data and the captions are the teacher's own (:func:`~sdgan_course.train.ldm.prepare_ldm_data`: single items, and
two-item compositions every ``pair_every``-th step; no caption dropout, since the student is never run unconditional).
All losses: :mod:`sdgan_course.losses.distill`.

Shape legend: B batch, C latent channels, h x w latent pixels, L tokens, E text width.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from ..checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from ..config import profile_sizes
from ..data.batches import StepBatches
from ..losses.distill import DISTILL_WEIGHTINGS, discriminator_objective, distillation_loss, student_objective
from ..models.distill import DiscriminatorConfig, DistillDiscriminator
from ..models.ldm import LatentDiffusion, PromptContext, frozen_parts
from ..models.unet import UNet
from ..sample.distill import MAX_STUDENT_STEPS, student_timesteps
from ..sample.ldm import prompt_guidance
from .diffusion import ema_unet
from .ldm import LDMData, LDMTrainConfig, caption_context, prepare_ldm_data
from .loop import EMA, ResumableRun, grad_norm, loop_options, train_loop

CHECKPOINT_KIND = "distill"

DISTILL_TRAIN_PRESETS = {
    "ci": dict(steps=4, batch_size=8, pair_batch_size=4, num_pairs=40, train_limit=200, checkpoint_every=2,
               log_every=1, r1_every=2),
    "cpu": dict(steps=20_000),  # the time budget (--max-minutes) ends a cpu run
    "gpu": dict(steps=20_000, batch_size=256, pair_batch_size=128, num_pairs=60_000, checkpoint_every=1_000),
}


@dataclass(frozen=True)
class DistillTrainConfig:
    """How to distil (the student's size is the teacher's). ``adversarial_weight`` and ``distill_weight`` are ADD's 1
    and :math:`\\lambda` = 2.5; setting one to 0 is an ablation."""

    presets: ClassVar[dict] = DISTILL_TRAIN_PRESETS

    dataset: str = "fashion_mnist"
    student_steps: int = 4  # the student timesteps it trains on (trailing: 999, 749, 499, 249)
    first_share: float | None = None  # how often the noisiest (the one-step) timestep is drawn; None = uniform (ADD)
    guidance: float = 2.0  # the teacher's guidance scale in the distillation target (its best FID, notebook 11)
    adversarial_weight: float = 1.0
    distill_weight: float = 2.5
    weighting: str = "exponential"  # c(t)
    r1_gamma: float = 1e-3
    r1_every: int = 4
    disc_hidden: int = 64
    disc_max_t: int = 250
    steps: int = 20_000
    batch_size: int = 32
    pair_batch_size: int = 16
    pair_every: int = 3  # every 3rd step a batch of compositions (as the teacher); 0 = none
    num_pairs: int = 30_000
    p_attribute: float = 0.5  # as the teacher's captions: a dark or light image's caption says so half the time
    train_limit: int | None = None
    lr: float = 2e-5  # the student's Adam (ADD's 1e-5 order; trials at 300-1200 steps in the report)
    disc_lr: float = 2e-4  # the heads' Adam
    max_grad_clip: float = 1.0
    ema_decay: float = 0.995
    seed: int = 0
    checkpoint_every: int = 200
    log_every: int = 10
    max_grad_norm: float = 1e4

    def __post_init__(self):
        if not 1 <= self.student_steps <= MAX_STUDENT_STEPS:
            raise ValueError(f"student_steps must be 1..{MAX_STUDENT_STEPS}, got {self.student_steps}.")
        if self.weighting not in DISTILL_WEIGHTINGS:
            raise ValueError(f"Unknown weighting {self.weighting!r}. Valid: {', '.join(DISTILL_WEIGHTINGS)}.")
        if self.adversarial_weight < 0 or self.distill_weight < 0 or not (self.adversarial_weight or
                                                                         self.distill_weight):
            raise ValueError("adversarial_weight and distill_weight must be >= 0, and not both 0.")
        if self.pair_every < 0 or self.pair_every == 1:
            raise ValueError(f"pair_every must be 0 (no compositions) or >= 2, got {self.pair_every}.")
        if self.first_share is not None and not 0 < self.first_share <= 1:
            raise ValueError(f"first_share must be in (0, 1] (or None for uniform), got {self.first_share}.")
        if self.r1_every < 1:
            raise ValueError(f"r1_every must be >= 1, got {self.r1_every}.")

    @classmethod
    def preset(cls, profile: str, **overrides) -> DistillTrainConfig:
        return cls(**profile_sizes(cls.presets, profile, f"{cls.__name__}.preset", **overrides))

    @property
    def p_uncond(self) -> float:  # what caption_context reads: the student never sees the empty prompt
        return 0.0

    def discriminator_config(self) -> DiscriminatorConfig:
        return DiscriminatorConfig(hidden=self.disc_hidden, max_t=self.disc_max_t)


def latent_diffusion(state: dict, *, unet: UNet | None = None, device="cpu", path="the checkpoint") -> LatentDiffusion:
    """A :class:`LatentDiffusion` from a latent-diffusion sampling state (:meth:`LDMRun.sampling_state`), with its
    EMA U-Net or with ``unet`` in its place (the student)."""
    text, tokenizer, ae = frozen_parts(state["text_encoder"], state["autoencoder"], torch.device(device))
    ldm_config = LDMTrainConfig(**state["train_config"])
    unet = ema_unet(state, path) if unet is None else unet
    return LatentDiffusion(unet.to(device), text, tokenizer, ae, ldm_config.make_schedule(),
                           prediction=ldm_config.prediction, step=state.get("step", 0),
                           info={**state.get("info", {}), "dataset": ldm_config.dataset})


class DistillRun(ResumableRun):
    """The teacher (frozen, stored whole so a resume needs no other file), the student with its EMA and Adam, the
    discriminator's heads with theirs, the RNG, the step and the history."""

    kind = CHECKPOINT_KIND

    def __init__(self, teacher_state: dict, train_config: DistillTrainConfig, *, device="cpu"):
        self.teacher_state, self.train_config = teacher_state, train_config
        self.device = torch.device(device)
        self.teacher = latent_diffusion(teacher_state, device=self.device)
        torch.manual_seed(train_config.seed)  # the heads are initialised reproducibly
        self.student = copy.deepcopy(self.teacher.unet).train().requires_grad_(True)  # initialised from the teacher
        self.ema = EMA(self.student, decay=train_config.ema_decay)
        self.discriminator = DistillDiscriminator(self.teacher.unet, train_config.discriminator_config()).to(device)
        self.opt = torch.optim.Adam(self.student.parameters(), lr=train_config.lr, betas=(0.0, 0.99))
        self.opt_d = torch.optim.Adam(self.discriminator.heads.parameters(), lr=train_config.disc_lr,
                                      betas=(0.0, 0.99))
        self.rng = torch.Generator().manual_seed(train_config.seed + 1)
        self.step = 0
        self.history: dict[str, list[float]] = {}

    # what prepare_ldm_data reads from a run
    text_encoder = property(lambda self: self.teacher.text_encoder)
    tokenizer = property(lambda self: self.teacher.tokenizer)
    autoencoder = property(lambda self: self.teacher.autoencoder)
    schedule = property(lambda self: self.teacher.schedule)

    @property
    def ema_source(self) -> nn.Module:
        return self.student

    def state(self) -> dict:
        return {**self.sampling_state(), "model": self.student.state_dict(), "ema_updates": self.ema.num_updates,
                "opt": self.opt.state_dict(), "opt_d": self.opt_d.state_dict(),
                "discriminator": self.discriminator.heads_state(), "rng": self.rng.get_state(),
                "history": self.history}

    def sampling_state(self) -> dict:
        """The student as a latent-diffusion file (its EMA U-Net in the teacher's place) and the teacher."""
        return {"train_config": asdict(self.train_config), "step": self.step, "teacher": self.teacher_state,
                "unet_config": self.teacher_state["unet_config"], "ema_model": self.ema.model.state_dict()}

    def export_state(self) -> dict:
        """:meth:`sampling_state` without the teacher's U-Net weights (the student replaces them): the shipped file."""
        teacher = {k: v for k, v in self.teacher_state.items() if k != "ema_model"}
        return {**self.sampling_state(), "teacher": teacher}

    @classmethod
    def load(cls, path, *, device="cpu", train_config: DistillTrainConfig | None = None) -> DistillRun:
        ckpt = cls.read_resumable(path)
        run = cls(ckpt["teacher"], train_config or DistillTrainConfig(**ckpt["train_config"]), device=device)
        try:
            run.student.load_state_dict(ckpt["model"])
            run.ema.model.load_state_dict(ckpt["ema_model"])
            run.discriminator.heads.load_state_dict(ckpt["discriminator"]["weights"])
        except RuntimeError as err:
            raise CheckpointError(f"{path} does not match the networks its configs describe: {err}") from err
        run.opt.load_state_dict(ckpt["opt"])
        run.opt_d.load_state_dict(ckpt["opt_d"])
        run.ema.num_updates = ckpt["ema_updates"]
        run.rng.set_state(ckpt["rng"])
        run.step, run.history = ckpt["step"], ckpt["history"]
        return run


def teacher_x0_fn(teacher: UNet, schedule, context: PromptContext, negative: PromptContext, *, guidance: float,
                  prediction: str = "eps"):
    """``x0_fn(x_t, t)``: the teacher's guided estimate of the clean latent (sample.ldm.prompt_guidance's noise
    estimate, then Ho et al.'s eq. 15)."""
    eps_fn = prompt_guidance(teacher, context, negative, scale=guidance, schedule=schedule, prediction=prediction)
    return lambda xt, t: schedule.predict_x0(xt, t, eps_fn(xt, t))


def student_draw(n: int, b: int, first_share: float | None, rng: torch.Generator | None) -> torch.Tensor:
    """(B,) indices into the n student timesteps: uniform (ADD), or the first (noisiest) with probability
    ``first_share`` and the others evenly."""
    if first_share is None or n == 1:
        return torch.randint(n, (b,), generator=rng)
    probs = torch.tensor([first_share] + [(1 - first_share) / (n - 1)] * (n - 1))
    return torch.multinomial(probs, b, replacement=True, generator=rng)


def distill_train_step(run: DistillRun, latents: torch.Tensor, context: torch.Tensor, mask: torch.Tensor,
                       negative: PromptContext, *, rng: torch.Generator | None = None) -> dict[str, float]:
    """One ADD step on scaled ``latents`` (B, C, h, w) with their prompts' ``context`` (B, L, E), ``mask`` (B, L);
    ``negative`` the empty prompt (1, L, E) for the teacher's guidance. Discriminator first, then the student, the
    ``.detach()`` in plain sight. Returns the statistics (``loss`` is the student's total)."""
    cfg, schedule, device = run.train_config, run.schedule, latents.device
    b = latents.shape[0]
    # 1. the student's prediction from real latents noised to student timesteps
    taus = student_timesteps(cfg.student_steps, schedule.num_steps)
    s = taus[student_draw(len(taus), b, cfg.first_share, rng)].to(device)  # (B,)
    noise = torch.randn(latents.shape, generator=rng).to(device)
    x_s = schedule.add_noise(latents, noise, s)  # (B, C, h, w)
    x0 = schedule.to_x0(run.teacher.prediction, x_s, s, run.student(x_s, s, context=context, context_mask=mask))
    stats: dict[str, float] = {}

    fake_logits = None
    if cfg.adversarial_weight:
        disc = run.discriminator
        t_d = torch.randint(disc.config.max_t + 1, (b,), generator=rng).to(device)  # (B,) the discriminator's noise
        eps_d = torch.randn(latents.shape, generator=rng).to(device)

        def d_fn(x):  # the heads' logits on x noised to t_d, for this batch's prompts
            return disc(schedule.add_noise(x, eps_d, t_d), t_d, context, mask)

        # 2. the discriminator: real latents against the DETACHED prediction (+ lazy R1)
        disc.heads.requires_grad_(True)
        gamma = cfg.r1_gamma * cfg.r1_every if run.step % cfg.r1_every == 0 else 0.0
        loss_d, r1 = discriminator_objective(d_fn, latents, x0.detach(), r1_gamma=gamma)
        run.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        run.opt_d.step()
        stats.update(loss_d=loss_d.item(), r1=r1.item())
        # 3a. the student's adversarial term: through the frozen features, the heads switched off
        disc.heads.requires_grad_(False)
        fake_logits = d_fn(x0)

    distill = None
    if cfg.distill_weight:  # 3b. the distillation term, against the guided teacher on the re-noised prediction
        t = torch.randint(schedule.num_steps, (b,), generator=rng).to(device)  # (B,)
        eps2 = torch.randn(latents.shape, generator=rng).to(device)
        x0_fn = teacher_x0_fn(run.teacher.unet, schedule, PromptContext(context, mask),
                              PromptContext(negative.tokens.expand(b, -1, -1), negative.mask.expand(b, -1)),
                              guidance=cfg.guidance, prediction=run.teacher.prediction)
        distill = distillation_loss(x0, x0_fn, schedule, t, eps2, weighting=cfg.weighting)
        stats["distill"] = distill.item()
    loss = student_objective(fake_logits, distill, adversarial_weight=cfg.adversarial_weight,
                             distill_weight=cfg.distill_weight)
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    norm = grad_norm(run.student)
    if cfg.max_grad_clip:
        nn.utils.clip_grad_norm_(run.student.parameters(), cfg.max_grad_clip)
    run.opt.step()
    if fake_logits is not None:
        stats["adv"] = sum(-f.mean() for f in fake_logits).item()
    return {"loss": loss.item(), "grad_norm": norm.item(), **stats}


def train_distill(run: DistillRun, data: LDMData, *, steps: int | None = None,
                  checkpoint_path: str | Path | None = None, hook=None, hook_every: int = 100, progress: bool = True,
                  max_seconds: float | None = None):
    """Distil ``run`` to ``steps`` (default: the config's) on :func:`prepare_ldm_data`'s ``data``, through the loop.
    Returns the loop's :class:`~sdgan_course.train.loop.LoopResult`."""
    cfg = run.train_config
    steps = cfg.steps if steps is None else steps
    scale = run.autoencoder.config.scale_factor
    singles = StepBatches(*data.singles, batch_size=min(cfg.batch_size, len(data.singles.labels)), seed=cfg.seed,
                          device=run.device)
    pairs = None
    if cfg.pair_every and data.pairs is not None:
        pairs = StepBatches(*data.pairs, batch_size=min(cfg.pair_batch_size, len(data.pairs.labels)),
                            seed=cfg.seed + 1, device=run.device)
    negative = PromptContext(data.captions.empty[None], data.captions.empty_mask[None])  # (1, L, E), (1, L)
    run.student.train()

    def step_fn(step: int) -> dict[str, float]:
        is_pair = pairs is not None and step % cfg.pair_every == cfg.pair_every - 1
        mean, std, labels, attributes = (pairs if is_pair else singles).batch(step)
        latents = (mean + std * torch.randn(mean.shape, generator=run.rng).to(run.device)) * scale  # (B, C, h, w)
        context, mask = caption_context(data.captions, labels, attributes, p_attribute=cfg.p_attribute, rng=run.rng)
        return distill_train_step(run, latents, context, mask, negative, rng=run.rng)

    return train_loop(run, step_fn, steps=steps, checkpoint_path=checkpoint_path, hook=hook, hook_every=hook_every,
                      progress=progress, max_seconds=max_seconds, desc="adversarial distillation",
                      fixes="lower lr or disc_lr, or raise r1_gamma", **loop_options(cfg))


# ---------------------------------------------------------------- shipping and loading


def export_distill(run: DistillRun, path: str | Path, **info) -> Path:
    """The EMA student with the teacher's text encoder and autoencoder: what sampling needs, no optimiser, no
    teacher U-Net."""
    return save_checkpoint(path, {**run.export_state(), "info": info}, kind=CHECKPOINT_KIND)


def load_distill(path: str | Path, *, device=None) -> LatentDiffusion:
    """The distilled student (a run or an export) as a :class:`LatentDiffusion` with its EMA U-Net, for
    :func:`~sdgan_course.sample.distill.generate_student`; ``info`` holds its training config."""
    ckpt = load_checkpoint(path, kind=CHECKPOINT_KIND)
    teacher_state = ckpt["teacher"]
    unet = ema_unet(ckpt, path)
    ldm = latent_diffusion(teacher_state, unet=unet, device=device or "cpu", path=path)
    ldm.step = ckpt["step"]
    ldm.info.update(ckpt.get("info", {}), distill_config=ckpt["train_config"], teacher_step=teacher_state["step"])
    return ldm


def load_shipped_distill(name: str = "distill_fashion_mnist", *, device=None) -> LatentDiffusion:
    """The distilled student shipped with the course (``data/checkpoints/NAME.pt``, checked against the manifest)."""
    from ..assets import find_asset

    return load_distill(find_asset(f"checkpoints/{name}.pt"), device=device)


def shipped_teacher_state(device="cpu") -> dict:
    """The shipped latent-diffusion model's file, as the state a :class:`DistillRun` starts from."""
    from ..assets import find_asset

    return load_checkpoint(find_asset("checkpoints/ldm_words_fashion_mnist.pt"), kind="ldm", map_location=device)


__all__ = [
    "CHECKPOINT_KIND", "DISTILL_TRAIN_PRESETS", "DistillRun", "DistillTrainConfig",
    "distill_train_step", "export_distill", "latent_diffusion", "load_distill", "load_shipped_distill",
    "prepare_ldm_data", "shipped_teacher_state", "teacher_x0_fn", "train_distill",
]
