"""The adversarial-distillation commands: ``train distill`` (a 1-4 step student of the shipped text-to-image model)
and ``sample distill``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from ..config import get_profile
from ..data.captions import CLASS_WORDS, TEMPLATES
from ..data.images import to_uint8
from ..device import describe_device, get_device, seed_everything
from ..metrics.prompt_following import prompt_agreement
from ..models.classifier import load_classifier
from ..nn.inspect import count_parameters
from ..sample.distill import MAX_STUDENT_STEPS, generate_student
from ..train.distill import (
    DistillRun,
    DistillTrainConfig,
    export_distill,
    latent_diffusion,
    load_distill,
    prepare_ldm_data,
    shipped_teacher_state,
    train_distill,
)
from .common import add_training_options, finish_training, given, resume_run, set_threads


def add_commands(*, train, sample) -> None:
    """Add ``distill`` to the ``train`` and ``sample`` command groups."""
    p = train.add_parser("distill", help="distil the shipped text-to-image model into a 1-4 step student (ADD; "
                                         "resumes from DIR/checkpoint.pt)")
    add_training_options(p, out="runs/distill", export="also write a sampling-only checkpoint of the student here")
    p.add_argument("--teacher", type=Path, default=None,
                   help="a latent-diffusion file (default: the shipped data/checkpoints/ldm_words_fashion_mnist.pt, "
                        "the teacher of the shipped student)")
    p.add_argument("--adversarial-weight", type=float, default=None, help="weight of the adversarial loss (1)")
    p.add_argument("--distill-weight", type=float, default=None, help="lambda, weight of the distillation loss (2.5)")
    p.add_argument("--guidance", type=float, default=None, help="the teacher's guidance in the target (2)")
    p.add_argument("--disc-lr", type=float, default=None, help="the discriminator heads' learning rate")
    p.add_argument("--first-share", type=float, default=None,
                   help="how often the one-step timestep 999 is drawn (default: the profile's; ADD: uniform)")
    p.add_argument("--snapshot-every", type=int, default=0,
                   help="every N steps measure the EMA student's prompt agreement at 1 and 4 steps (200 samples)")
    p.set_defaults(func=cmd_train)

    p = sample.add_parser("distill", help="write N images (uint8) for a text prompt from a distilled student")
    p.add_argument("--checkpoint", type=Path, required=True, help="e.g. data/checkpoints/distill_fashion_mnist.pt")
    p.add_argument("--prompt", required=True, help='e.g. "a photo of a sneaker" or "a bag to the left of a coat"')
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--steps", type=int, default=1, help=f"student steps, 1..{MAX_STUDENT_STEPS} (no guidance)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--out", type=Path, required=True, help="output .npz (images uint8 (N, H, W), prompts)")
    p.set_defaults(func=cmd_sample)


def distill_snapshot(out: Path, dataset: str, *, agreement, n: int = 200):
    """A hook that exports the EMA student to ``OUT/ema_stepNNNNNN.pt``, prints its prompt agreement at 1 and 4
    steps (``n`` prompts "a photo of a {name}", balanced, fixed noise) and keeps them in
    ``run.history["agreement_1"]``, ``["agreement_4"]`` and ``["agreement_step"]``."""
    names = CLASS_WORDS[dataset]
    labels = torch.arange(n) % len(names)
    prompts = [TEMPLATES[dataset][0].format(name=names[c]) for c in labels.tolist()]

    def snapshot(run, stats, name=None):
        if name is None:
            export_distill(run, out / f"ema_step{run.step:06d}.pt")
        student = latent_diffusion(run.teacher_state, unet=run.ema.model, device=run.device)
        scores = {}
        for steps in (1, 4):
            images = generate_student(student, prompts, n, steps=steps, rng=torch.Generator().manual_seed(0))
            scores[steps] = float(agreement(images, labels))
            run.history.setdefault(f"agreement_{steps}", []).append(scores[steps])
        run.history.setdefault("agreement_step", []).append(float(run.step))
        print(f"step {run.step}: loss {stats.get('loss', float('nan')):.4f}, prompt agreement {scores[1]:.3f} "
              f"(1 step), {scores[4]:.3f} (4 steps) ({n} samples)", flush=True)
        run.student.train()

    return snapshot


def cmd_train(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    profile = get_profile(args.profile)
    device = get_device()
    checkpoint = args.out / "checkpoint.pt"
    run = resume_run(DistillRun, args, device)
    if run is None:
        options = given(steps=args.steps, batch_size=args.batch_size, lr=args.lr, disc_lr=args.disc_lr,
                        adversarial_weight=args.adversarial_weight, distill_weight=args.distill_weight,
                        guidance=args.guidance, first_share=args.first_share)
        cfg = DistillTrainConfig.preset(profile, seed=args.seed, **options)
        if args.teacher is not None:
            from ..checkpoint import load_checkpoint

            teacher = load_checkpoint(args.teacher, kind="ldm", map_location=device)
        else:
            teacher = shipped_teacher_state(device)
        run = DistillRun(teacher, cfg, device=device)
    cfg = run.train_config
    start = time.perf_counter()
    data = prepare_ldm_data(run)
    pairs = 0 if data.pairs is None else len(data.pairs.labels)
    print(
        f"Distilling the latent U-Net (step {run.teacher.step}, {count_parameters(run.student):,} parameters) into a "
        f"{cfg.student_steps}-timestep student: adversarial weight {cfg.adversarial_weight:g}, distillation weight "
        f"{cfg.distill_weight:g}, teacher guidance {cfg.guidance:g}; {len(data.singles.labels):,} latents and "
        f"{pairs:,} compositions (encoded in {time.perf_counter() - start:.0f} s), profile {profile}, "
        f"{describe_device(device)}.", flush=True
    )
    args.out.mkdir(parents=True, exist_ok=True)
    snapshot = None
    if args.snapshot_every:
        classifier = load_classifier(cfg.dataset, device=device).model
        snapshot = distill_snapshot(args.out, cfg.dataset,
                                    agreement=lambda im, y: prompt_agreement(classifier, im, y).agreement)
    max_seconds = 60 * args.max_minutes if args.max_minutes else None
    result = train_distill(run, data, checkpoint_path=checkpoint, hook=snapshot,
                           hook_every=args.snapshot_every or cfg.steps + 1, max_seconds=max_seconds,
                           progress=not args.no_progress)
    print(f"Done: step {run.step}, {result.seconds:.0f} s this session, {result.examples_per_second:.0f} examples/s.")
    return finish_training(run, args, result.seconds, export=export_distill,
                           what="the student (U-Net, text encoder and autoencoder in one file)")


def cmd_sample(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}.")
    if not 1 <= args.steps <= MAX_STUDENT_STEPS:
        raise ValueError(f"--steps must be 1..{MAX_STUDENT_STEPS} for a distilled student, got {args.steps}.")
    student = load_distill(args.checkpoint, device=get_device())
    rng = seed_everything(args.seed)
    start = time.perf_counter()
    images = generate_student(student, args.prompt, args.n, steps=args.steps, rng=rng, batch_size=args.batch_size)
    seconds = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=to_uint8(images)[:, 0], prompts=np.array([args.prompt] * args.n))
    print(f"Wrote {args.n} images {tuple(images.shape[1:])} for {args.prompt!r} to {args.out} ({args.steps} student "
          f"steps; {seconds / args.n * 1e3:.2f} ms per image).")
    return 0


__all__ = ["add_commands", "cmd_sample", "cmd_train", "distill_snapshot"]
