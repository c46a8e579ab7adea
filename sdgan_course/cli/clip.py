"""The CLIP command: ``train clip`` (a miniature CLIP on captioned images, with zero-shot accuracy as it trains)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from ..config import get_profile
from ..data.captions import CLASS_WORDS
from ..data.images import load_images
from ..device import describe_device, get_device
from ..distributed import is_main
from ..metrics.clip_score import zero_shot_accuracy
from ..models.text_encoder import CLIPConfig
from ..nn.inspect import count_parameters
from ..train.clip import CLIPRun, CLIPTrainConfig, export_clip, train_clip
from .common import add_training_options, given, resume_run, set_threads


def add_commands(*, train) -> None:
    """Add ``clip`` to the ``train`` command group."""
    p = train.add_parser("clip", help="train a miniature CLIP on captioned images (resumes from DIR/checkpoint.pt)")
    p.add_argument("--dataset", default="fashion_mnist", help="fashion_mnist | mnist")
    add_training_options(p, out="runs/clip", export="also write a small encoding-only checkpoint here")
    p.add_argument("--pair-fraction", type=float, default=None, help="share of compositions per batch (0.25)")
    p.add_argument("--width", type=int, default=None, help="text width E, the U-Net's context width")
    p.add_argument("--layers", type=int, default=None, help="text transformer layers")
    p.add_argument("--eval-every", type=int, default=250, help="zero-shot accuracy on 1,000 test images every N steps")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    profile = get_profile(args.profile)
    device = get_device()
    checkpoint = args.out / "checkpoint.pt"
    run = resume_run(CLIPRun, args, device)
    if run is None:
        overrides = given(steps=args.steps, batch_size=args.batch_size, lr=args.lr, pair_fraction=args.pair_fraction)
        cfg = CLIPTrainConfig.preset(profile, dataset=args.dataset, seed=args.seed, **overrides)
        sizes = {k: v for k, v in dict(width=args.width, layers=args.layers).items() if v is not None}
        run = CLIPRun(CLIPConfig.preset(profile, **sizes), cfg, device=device)
    cfg = run.train_config
    data = load_images(cfg.dataset, "train", limit=cfg.train_limit)
    test = load_images(cfg.dataset, "test", limit=1_000)
    print(
        f"Training a miniature CLIP ({count_parameters(run.model):,} parameters; text width "
        f"{run.model_config.width}, {run.model_config.layers} layers, {run.tokenizer.vocab_size} tokens) on "
        f"{cfg.dataset} captions ({len(data.images):,} images, {cfg.pair_fraction:.0%} compositions per batch), "
        f"profile {profile}, {describe_device(device)}."
    )
    args.out.mkdir(parents=True, exist_ok=True)

    def evaluate(run, stats):
        zs = zero_shot_accuracy(run.model, test.images, test.labels, dataset=cfg.dataset)
        run.history.setdefault("zero_shot", []).append(zs.accuracy)
        run.history.setdefault("zero_shot_step", []).append(float(run.step))
        print(f"step {run.step}: loss {stats.get('loss', float('nan')):.3f}, zero-shot accuracy {zs.accuracy:.3f}")
        run.model.train()

    max_seconds = 60 * args.max_minutes if args.max_minutes else None
    result = train_clip(
        run,
        data.images,
        data.labels,
        checkpoint_path=checkpoint,
        hook=evaluate,
        hook_every=max(1, args.eval_every),
        max_seconds=max_seconds,
        progress=not args.no_progress,
    )
    if not is_main():
        return 0  # under torchrun rank 0 alone writes files
    full = load_images(cfg.dataset, "test")
    zs = zero_shot_accuracy(run.model, full.images, full.labels, dataset=cfg.dataset)
    per_class = ", ".join(f"{w} {a:.2f}" for w, a in zip(CLASS_WORDS[cfg.dataset], zs.per_class.tolist()))
    print(
        f"Done: step {run.step}, {result.seconds:.0f} s this session, {result.images_per_second:.0f} images/s. "
        f"Zero-shot accuracy on the {len(full.labels):,} test images: {zs.accuracy:.3f} ({per_class})."
    )
    summary = {
        "step": run.step,
        "seconds": result.seconds,
        "zero_shot_accuracy": zs.accuracy,
        "zero_shot_per_class": zs.per_class.tolist(),
        "prompts": zs.prompts,
    }
    (args.out / "history.json").write_text(json.dumps(run.history))
    (args.out / "zero_shot.json").write_text(json.dumps(summary, indent=1))
    if args.export:
        command = "python -m sdgan_course " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        export_clip(run, args.export, command=command, seconds=result.seconds, zero_shot_accuracy=zs.accuracy)
        print(f"Exported the model to {args.export}.")
    return 0
