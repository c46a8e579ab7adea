"""The diffusion commands: ``train ddpm``, ``sample ddpm``, ``bench ddpm``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from ..config import get_profile
from ..data.images import load_images
from ..device import describe_device, get_device, sampling_batch_size, seed_everything
from ..distributed import describe_processes
from ..models.unet import UNetConfig
from ..nn.inspect import count_parameters
from ..sample.base import REGISTRY, check_sampler, network_evaluations, sampler_names
from ..sample.diffusion import generate_diffusion
from ..schedules import SCHEDULES
from ..train.diffusion import (
    DiffusionRun,
    DiffusionTrainConfig,
    diffusion_train_step,
    export_diffusion,
    load_diffusion,
    train_diffusion,
)
from ..train.snapshots import diffusion_snapshot
from .common import add_training_options, finish_training, given, resume_run, set_threads
from .sampling import check_count, check_label, write_samples


def add_commands(*, train, sample, bench) -> None:
    """Add ``ddpm`` to the ``train``, ``sample`` and ``bench`` command groups."""
    p = train.add_parser("ddpm", help="train a (class-conditional) diffusion U-Net (resumes from DIR/checkpoint.pt)")
    p.add_argument("--dataset", default="fashion_mnist", help="fashion_mnist | mnist")
    add_training_options(p, out="runs/ddpm", export="also write a small sampling-only checkpoint here")
    p.add_argument("--unconditional", action="store_true", help="no class labels (default: class-conditional)")
    p.add_argument("--p-uncond", type=float, default=None, help="label dropout for guidance (default 0.1)")
    p.add_argument("--prediction", choices=("eps", "v"), default=None, help="what the U-Net predicts (default eps)")
    p.add_argument("--schedule", choices=SCHEDULES, default=None, help="noise schedule (default linear)")
    p.add_argument("--base-channels", type=int, default=None, help="U-Net width (default: the profile's)")
    p.add_argument(
        "--snapshot-every",
        type=int,
        default=0,
        help="every N steps save the EMA weights (DIR/ema_stepNNNNNN.pt) and --samples fixed-noise samples",
    )
    p.add_argument("--samples", type=int, default=100, help="images per snapshot and in DIR/samples.npz")
    p.add_argument("--compile", action="store_true", help="torch.compile the U-Net (pays on a GPU, long runs)")
    p.set_defaults(func=cmd_train)

    p = sample.add_parser("ddpm", help="write N images (uint8, (N, H, W)) and their labels from a diffusion model")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--out", type=Path, required=True, help="FILE.npz")
    p.add_argument("--sampler", default="ddim", help=f"{' | '.join(sampler_names('diffusion'))} (default ddim)")
    p.add_argument(
        "--steps",
        type=int,
        default=None,
        help="sampler steps (network evaluations: x 2 unless guidance is 0 or 1); default "
        + ", ".join(f"{name} {REGISTRY[name].steps}" for name in sampler_names("diffusion")),
    )
    p.add_argument("--eta", type=float, default=0.0, help="DDIM noise: 0 deterministic, 1 DDPM's variance")
    p.add_argument(
        "--guidance",
        type=float,
        default=None,
        help="classifier-free guidance scale (0 unconditional, 1 conditional; default 2 with labels)",
    )
    p.add_argument("--label", type=int, default=None, help="class to draw (default: labels uniform over classes)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--batch-size", type=int, default=None, help="images per sampling batch (default 50 on the CPU, 1000 on a GPU)"
    )
    p.set_defaults(func=cmd_sample)

    p = bench.add_parser("ddpm", help="diffusion training images/s and sampling seconds per image per sampler")
    p.add_argument("--profile", default=None)
    p.add_argument("--checkpoint", type=Path, default=None, help="time this model (default: the profile's U-Net)")
    p.add_argument("--batch-size", type=int, default=128, help="training batch")
    p.add_argument("--steps", type=int, default=5, help="timed training steps")
    p.add_argument("--n", type=int, default=200, help="images per sampling measurement (the DDPM row: n / 10)")
    p.add_argument("--guidance", type=float, default=2.0)
    p.add_argument("--ddpm-steps", type=int, default=1000, help="steps of the DDPM row (1000 = the full chain)")
    p.set_defaults(func=cmd_bench)


def cmd_train(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    profile = get_profile(args.profile)
    device = get_device()
    checkpoint = args.out / "checkpoint.pt"
    run = resume_run(DiffusionRun, args, device)
    if run is None:
        overrides = given(steps=args.steps, batch_size=args.batch_size, lr=args.lr, p_uncond=args.p_uncond,
                          prediction=args.prediction, schedule=args.schedule)
        overrides["compile"] = args.compile
        cfg = DiffusionTrainConfig.preset(profile, dataset=args.dataset, seed=args.seed, **overrides)
        unet = {} if args.base_channels is None else {"base_channels": args.base_channels}
        unet_cfg = UNetConfig.preset(profile, num_classes=0 if args.unconditional else 10, **unet)
        run = DiffusionRun(unet_cfg, cfg, device=device)
    cfg = run.train_config
    data = load_images(cfg.dataset, "train", limit=cfg.train_limit)
    labels = data.labels if run.unet_config.num_classes else None
    kind = "class-conditional" if labels is not None else "unconditional"
    print(
        f"Training a {kind} diffusion U-Net ({count_parameters(run.model):,} parameters, {cfg.prediction}-prediction, "
        f"{cfg.schedule} schedule, T = {cfg.num_train_steps}) on {cfg.dataset} ({len(data.images):,} images), "
        f"profile {profile}, {describe_device(device)}."
    )
    print(f"{describe_processes(cfg.batch_size)}, learning rate {cfg.lr:g}.")
    args.out.mkdir(parents=True, exist_ok=True)
    snapshot = diffusion_snapshot(args.out, args.samples)

    max_seconds = 60 * args.max_minutes if args.max_minutes else None
    result = train_diffusion(
        run,
        data.images,
        labels,
        checkpoint_path=checkpoint,
        hook=snapshot if args.snapshot_every else None,
        hook_every=args.snapshot_every or cfg.steps + 1,
        max_seconds=max_seconds,
        progress=not args.no_progress,
    )
    print(f"Done: step {run.step}, {result.seconds:.0f} s this session, {result.images_per_second:.0f} images/s.")
    return finish_training(run, args, result.seconds, export=export_diffusion, snapshot=snapshot)


def cmd_sample(args: argparse.Namespace) -> int:
    check_count(args.n)  # a ValueError: main() prints it and exits 2, as for every bad argument
    loaded = load_diffusion(args.checkpoint, device=get_device())
    steps = check_sampler(args.sampler, args.steps, loaded.schedule, family="diffusion")
    k = loaded.config.num_classes
    check_label(args.label, k)
    rng = seed_everything(args.seed)
    if k:
        labels = (
            torch.full((args.n,), args.label)
            if args.label is not None
            else torch.randint(0, k, (args.n,), generator=rng)
        )
    else:
        labels = None
    guidance = args.guidance if args.guidance is not None else (2.0 if k else 1.0)
    shape = loaded.image_shape
    start = time.perf_counter()
    images = generate_diffusion(
        loaded.model,
        loaded.schedule,
        args.n,
        shape=shape,
        labels=labels,
        sampler=args.sampler,
        steps=steps,
        eta=args.eta,
        guidance=guidance,
        prediction=loaded.prediction,
        rng=rng,
        batch_size=args.batch_size,
    )
    seconds = time.perf_counter() - start
    write_samples(args.out, images, labels)
    print(
        f"Wrote {args.n} images {tuple(images.shape[1:])} to {args.out} ({args.sampler}, {steps} steps, guidance "
        f"{guidance:g}; {seconds / args.n:.3f} s per image)."
    )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from ..bench import bench_row, bench_step, matmul_peak_gflops, print_bench_header
    from ..sample.guidance import classifier_free_guidance

    profile = get_profile(args.profile)
    device = get_device()
    torch.manual_seed(0)
    cfg = UNetConfig.preset(profile, num_classes=10)
    loaded = None if args.checkpoint is None else load_diffusion(args.checkpoint, device=device)
    if loaded is not None:
        cfg = loaded.config
    run = DiffusionRun(cfg, DiffusionTrainConfig.preset(profile, batch_size=args.batch_size), device=device)  # once
    if loaded is not None:  # time this model: its weights in the trained and in the sampled (EMA) copy
        run.model.load_state_dict(loaded.model.state_dict())
        run.ema.model.load_state_dict(loaded.model.state_dict())
    schedule, model = (loaded.schedule if loaded is not None else run.schedule), run.model
    peak = matmul_peak_gflops(device)
    print_bench_header(device, peak, f"batch size {args.batch_size}; {args.steps} timed training steps; "
                       f"{torch.get_num_threads()} CPU threads")
    x = (torch.rand(args.batch_size, 1, 28, 28) * 2 - 1).to(device)
    y = torch.randint(0, 10, (len(x),)).to(device)
    rng = torch.Generator().manual_seed(0)

    def step():
        diffusion_train_step(run.model, run.opt, x, run.schedule, labels=y, p_uncond=0.1, rng=rng,
                             amp=run.train_config.amp)

    r = bench_step(step, batch_size=args.batch_size, steps=args.steps, device=device)
    bench_row(f"U-Net ({profile}, width {cfg.base_channels})", f"{count_parameters(model) / 1e6:.2f}M", r, peak)
    print()
    batch = sampling_batch_size(device)
    print(f"{'sampler':<12} {'steps':>6} {'NFE':>5} {'s / image':>10}   ({args.n} images in batches of {batch}, "
          f"guidance {args.guidance:g})")
    model = run.ema.model.eval()
    labels = torch.arange(args.n) % 10
    rows = (("dpm-solver", 10), ("dpm-solver", 20), ("ddim", 20), ("ddim", 50), ("ddpm", args.ddpm_steps))
    for sampler, steps in rows:
        steps = min(steps, schedule.num_steps)
        n = args.n if sampler != "ddpm" else max(1, args.n // 10)
        eps_fn = classifier_free_guidance(model, labels[:1].to(device), scale=args.guidance, null_label=10)
        eps_fn(torch.zeros(1, 1, 28, 28, device=device), torch.zeros(1, dtype=torch.long, device=device))
        start = time.perf_counter()
        generate_diffusion(
            model,
            schedule,
            n,
            labels=labels[:n],
            sampler=sampler,
            steps=steps,
            guidance=args.guidance,
            rng=torch.Generator().manual_seed(0),
        )
        seconds = (time.perf_counter() - start) / n
        nfe = network_evaluations(steps, args.guidance)  # a guided step evaluates the U-Net twice
        print(f"{sampler:<12} {steps:>6} {nfe:>5} {seconds:>10.4f}")
    return 0
