"""The GAN commands: ``train gan``, ``sample gan``, ``bench gan``."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..config import get_profile
from ..data.images import load_images
from ..device import describe_device, get_device, seed_everything
from ..distributed import describe_processes
from ..losses.gan import GAN_LOSSES
from ..models.gan import GANConfig, build_gan, load_gan
from ..nn.inspect import count_parameters
from ..sample.gan import generate
from ..train.gan import GANRun, GANTrainConfig, export_gan, train_gan
from ..train.snapshots import gan_snapshot
from .common import add_training_options, finish_training, given, resume_run, set_threads
from .sampling import check_count, check_label, write_samples


def add_commands(*, train, sample, bench) -> None:
    """Register ``train gan``, ``sample gan`` and ``bench gan`` on the sub-parsers of those three commands."""
    p = train.add_parser("gan", help="train a GAN on an image dataset (resumes from DIR/checkpoint.pt)")
    p.add_argument("--dataset", default="fashion_mnist", help="fashion_mnist | mnist")
    p.add_argument("--loss", default="ns", choices=GAN_LOSSES)
    p.add_argument("--conditional", action="store_true", help="class-conditional generator and discriminator")
    add_training_options(p, out="runs/gan", export="also write a small sampling-only checkpoint here")
    p.add_argument("--base-channels", type=int, default=None, help="DCGAN width (default: the profile's)")
    p.add_argument("--spectral-norm", action="store_true", help="spectral normalisation in the discriminator")
    p.add_argument("--d-conditioning", choices=("projection", "concat"), default=None,
                   help="how a conditional discriminator sees the label (default: the config's)")
    p.add_argument("--snapshot-every", type=int, default=0, help="save 100 fixed-noise samples every N steps")
    p.add_argument("--compile", action="store_true", help="torch.compile the networks (pays on a GPU, long runs)")
    p.set_defaults(func=cmd_train)

    p = sample.add_parser("gan", help="write N generated images (uint8, (N, 28, 28)) and their labels to an .npz")
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--out", type=Path, required=True, help="FILE.npz")
    p.add_argument("--label", type=int, default=None, help="class to draw (conditional models); default: all classes")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_sample)

    p = bench.add_parser("gan", help="DCGAN training throughput (images/s) and share of the matmul peak")
    p.add_argument("--profile", default=None)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--base-channels", type=int, default=None)
    p.set_defaults(func=cmd_bench)


def cmd_train(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    profile = get_profile(args.profile)
    device = get_device()
    checkpoint = args.out / "checkpoint.pt"
    run = resume_run(GANRun, args, device)
    if run is not None:
        cfg = run.train_config
    else:
        overrides = given(steps=args.steps, batch_size=args.batch_size, lr=args.lr)
        cfg = GANTrainConfig.preset(profile, loss=args.loss, dataset=args.dataset, seed=args.seed,
                                    compile=args.compile, **overrides)
        gan_cfg = GANConfig.preset(profile, conditional=args.conditional)
        changes = {}
        if args.base_channels:
            changes["base_channels"] = args.base_channels
        if args.spectral_norm:
            changes["spectral_norm"] = True
        if args.d_conditioning:
            changes["d_conditioning"] = args.d_conditioning
        if args.loss == "wgan-gp" or args.spectral_norm:
            changes["d_norm"] = "none"  # per-sample penalties and spectral norm do not mix with batch norm
        if changes:
            gan_cfg = gan_cfg.replace(**changes)
        run = GANRun(gan_cfg, cfg, device=device)
    data = load_images(cfg.dataset, "train", limit=cfg.train_limit)
    labels = data.labels if run.gan_config.num_classes else None
    print(
        f"Training a {'conditional ' if labels is not None else ''}{run.gan_config.arch} GAN "
        f"({count_parameters(run.generator):,} + {count_parameters(run.discriminator):,} parameters) on "
        f"{cfg.dataset} ({len(data.images):,} images), loss {cfg.loss}, profile {profile}, {describe_device(device)}."
    )
    print(f"{describe_processes(cfg.batch_size)}, learning rate {cfg.lr:g}.")
    args.out.mkdir(parents=True, exist_ok=True)

    snapshot = gan_snapshot(args.out)

    hook_every = args.snapshot_every or cfg.steps + 1
    max_seconds = 60 * args.max_minutes if args.max_minutes else None
    hook = snapshot if args.snapshot_every else None
    result = train_gan(
        run, data.images, labels, checkpoint_path=checkpoint, hook=hook, hook_every=hook_every, max_seconds=max_seconds,
        progress=not args.no_progress,
    )
    print(f"Done: step {run.step}, {result.seconds:.0f} s this session, {result.images_per_second:.0f} images/s.")
    return finish_training(run, args, result.seconds, export=export_gan, snapshot=snapshot)


def cmd_sample(args: argparse.Namespace) -> int:
    check_count(args.n)  # a ValueError: main() prints it and exits 2, as for every bad argument
    model = load_gan(args.checkpoint, device=get_device())
    k = model.config.num_classes
    check_label(args.label, k)
    rng = seed_everything(args.seed)
    if k:
        labels = torch.full((args.n,), args.label) if args.label is not None else torch.arange(args.n) % k
    else:
        labels = None
    images = generate(model.generator, args.n, z_dim=model.config.z_dim, labels=labels, rng=rng)
    write_samples(args.out, images, labels)
    print(f"Wrote {args.n} images {tuple(images.shape[1:])} to {args.out}.")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from ..bench import bench_gan_step, bench_row, matmul_peak_gflops, print_bench_header, tutorial_pair

    profile = get_profile(args.profile)
    device = get_device()
    torch.manual_seed(0)
    cfg = GANConfig.preset(profile)
    if args.base_channels:
        cfg = cfg.replace(base_channels=args.base_channels)
    course_g, course_d = build_gan(cfg)
    tut_g, tut_d = tutorial_pair()
    peak = matmul_peak_gflops(device)
    print_bench_header(device, peak, f"batch size {args.batch_size}; {args.steps} timed steps (D step + G step)")
    rows = [
        (f"course DCGAN ({profile}, width {cfg.base_channels})", course_g, course_d, cfg.z_dim),
        ("tutorial DCGAN (reference)", tut_g, tut_d, 100),
    ]
    for name, g, d, z_dim in rows:
        r = bench_gan_step(g, d, z_dim=z_dim, batch_size=args.batch_size, steps=args.steps, device=device)
        bench_row(name, f"{count_parameters(g) / 1e6:.2f}M+{count_parameters(d) / 1e6:.2f}M", r, peak)
    return 0
