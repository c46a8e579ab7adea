"""The latent text-to-image commands: ``train ldm`` and ``sample ldm`` (the latent U-Net of notebook 11), and the same
commands for any latent family (:class:`LatentFamily`; :mod:`.flow` adds ``train flow`` and ``sample flow``)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ..config import get_profile
from ..data.images import to_uint8
from ..device import describe_device, get_device, seed_everything
from ..metrics.prompt_following import prompt_agreement
from ..models.classifier import load_classifier
from ..nn.inspect import count_parameters
from ..sample.ldm import LDM_SAMPLERS, generate_ldm
from ..train.ldm import (
    LDMRun,
    LDMTrainConfig,
    export_ldm,
    ldm_unet_config,
    load_ldm,
    prepare_ldm_data,
    shipped_frozen_parts,
    train_ldm,
)
from ..train.snapshots import ldm_snapshot
from .common import add_training_options, finish_training, given, resume_run, set_threads


class LatentFamily(NamedTuple):
    """What the shared latent commands need to know about one family."""

    name: str  # the command's model name: "ldm" or "flow"
    run: type  # its run class (train/ldm.LDMRun, train/flow.FlowRun)
    train_config: type  # its training config class
    network_config: Callable  # (profile, context_dim, latent_channels, **sizes) -> the network's config
    width_option: str  # the network config's width field, set by --width
    network: str  # what the network is, for messages
    load: Callable  # path, device= -> LatentDiffusion
    samplers: tuple[str, ...]  # what --sampler offers
    sampler: str  # its default
    example: str  # a checkpoint path for --help


LDM = LatentFamily("ldm", LDMRun, LDMTrainConfig, ldm_unet_config, "base_channels", "latent text-to-image U-Net",
                   load_ldm, LDM_SAMPLERS, "dpm-solver", "data/checkpoints/ldm_fashion_mnist.pt")


def add_commands(*, train, sample, bench=None) -> None:
    """Add ``ldm`` to the ``train``, ``sample`` (and ``bench``) command groups."""
    if bench is not None:
        _add_bench(bench)
    add_family_commands(LDM, train=train, sample=sample)


def add_family_commands(family: LatentFamily, *, train, sample) -> None:
    """``train NAME`` and ``sample NAME`` for a latent family, with the same options for every family."""
    p = train.add_parser(family.name, help=f"train a {family.network} (resumes from DIR/checkpoint.pt)")
    p.add_argument("--dataset", default="fashion_mnist", help="fashion_mnist (the shipped autoencoder and CLIP's)")
    add_training_options(p, out=f"runs/{family.name}", export="also write a sampling-only checkpoint here")
    p.add_argument("--p-uncond", type=float, default=None, help="caption dropout to the empty prompt (default 0.1)")
    p.add_argument("--pair-every", type=int, default=None, help="every Nth step a batch of compositions (3; 0 = none)")
    p.add_argument("--width", "--base-channels", dest="width", type=int, default=None,
                   help="network width (default: the profile's)")
    p.add_argument("--compile", action="store_true", help="torch.compile the network (pays on a GPU, long runs)")
    p.add_argument("--snapshot-every", type=int, default=0,
                   help="every N steps save the EMA model (DIR/ema_stepNNNNNN.pt) and measure prompt following")
    p.set_defaults(func=cmd_train, family=family)

    p = sample.add_parser(family.name, help=f"write N images (uint8) for a text prompt from a {family.network}")
    p.add_argument("--checkpoint", type=Path, required=True, help=f"e.g. {family.example}")
    p.add_argument("--prompt", required=True, help='e.g. "a photo of a sneaker", "trousers", "a dark coat" or "a bag '
                   'to the left of a coat" (any text tokenizes; "" is the unconditional model)')
    p.add_argument("--negative-prompt", default="", help="what to steer away from (default: the empty prompt)")
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--guidance", type=float, default=3.0, help="classifier-free guidance scale (1 = none)")
    p.add_argument("--steps", type=int, default=20, help="sampler steps (network calls: x 2 unless guidance is 0 "
                   "or 1; Heun: 2 per step but the last)")
    p.add_argument("--sampler", choices=family.samplers, default=family.sampler)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--init-image", type=Path, default=None, help="image to image: start from a .npz (images) or .png")
    p.add_argument("--strength", type=float, default=0.6, help="with --init-image: 1 ignores it, 0.3 keeps most of it")
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--out", type=Path, required=True, help="output .npz (images uint8 (N, H, W), prompts)")
    p.set_defaults(func=cmd_sample, family=family)


def cmd_train(args: argparse.Namespace) -> int:
    set_threads(args.threads)
    profile = get_profile(args.profile)
    device = get_device()
    checkpoint = args.out / "checkpoint.pt"
    family = args.family
    run = resume_run(family.run, args, device)
    if run is None:
        options = given(steps=args.steps, batch_size=args.batch_size, lr=args.lr, p_uncond=args.p_uncond,
                        pair_every=args.pair_every)
        options["compile"] = args.compile
        cfg = family.train_config.preset(profile, dataset=args.dataset, seed=args.seed, **options)
        clip_state, ae_state = shipped_frozen_parts(device)
        sizes = {} if args.width is None else {family.width_option: args.width}
        net_cfg = family.network_config(profile, context_dim=clip_state["config"]["width"],
                                        latent_channels=ae_state["config"]["latent_channels"], **sizes)
        run = family.run(net_cfg, cfg, clip_state=clip_state, autoencoder_state=ae_state, device=device)
    cfg = run.train_config
    start = time.perf_counter()
    data = prepare_ldm_data(run)
    pairs = 0 if data.pairs is None else len(data.pairs.labels)
    print(
        f"Training a {family.network} ({count_parameters(run.model):,} parameters, attending to "
        f"{run.unet_config.context_dim}-wide tokens, {cfg.schedule} schedule) on {len(data.singles.labels):,} "
        f"{cfg.dataset} latents {tuple(data.singles.mean.shape[1:])} and {pairs:,} compositions "
        f"(encoded once in {time.perf_counter() - start:.0f} s), profile {profile}, {describe_device(device)}."
    )
    args.out.mkdir(parents=True, exist_ok=True)
    snapshot = None
    if args.snapshot_every:  # the snapshot's prompt agreement: the dataset classifier's
        classifier = load_classifier(cfg.dataset, device=device).model
        snapshot = ldm_snapshot(args.out, cfg.dataset,
                                agreement=lambda images, labels: prompt_agreement(classifier, images, labels).agreement)

    max_seconds = 60 * args.max_minutes if args.max_minutes else None
    result = train_ldm(run, data, checkpoint_path=checkpoint, hook=snapshot,
                       hook_every=args.snapshot_every or cfg.steps + 1, max_seconds=max_seconds,
                       progress=not args.no_progress)
    print(f"Done: step {run.step}, {result.seconds:.0f} s this session, {result.images_per_second:.0f} examples/s.")
    return finish_training(run, args, result.seconds, export=export_ldm,
                           what=f"the model ({family.network}, text encoder and autoencoder in one file)")


def _read_init_image(path: Path) -> torch.Tensor:
    """An image to start from: the first image of a .npz (key ``images``, uint8) or a grey-scale .png."""
    if not path.is_file():
        raise FileNotFoundError(f"--init-image {path} does not exist.")
    if path.suffix == ".npz":
        with np.load(path) as f:
            if "images" not in f:
                raise ValueError(f"{path} has no 'images' array (keys: {', '.join(f.files)}).")
            array = f["images"][0]
    else:
        from PIL import Image

        array = np.asarray(Image.open(path).convert("L"))
    image = torch.from_numpy(np.asarray(array, dtype=np.float32)) / 127.5 - 1  # (H, W) in [-1, 1]
    return image.view(1, 1, *image.shape[-2:])


def cmd_sample(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}.")
    ldm = args.family.load(args.checkpoint, device=get_device())
    if not args.prompt.strip():
        print("The prompt is empty: this samples the unconditional model (the branch guidance steers away from), so "
              "any class may come out. Describe what you want, e.g. --prompt \"a photo of a sneaker\".")
    init = _read_init_image(args.init_image) if args.init_image else None
    rng = seed_everything(args.seed)
    start = time.perf_counter()
    images = generate_ldm(ldm, args.prompt, args.n, negative_prompt=args.negative_prompt, guidance=args.guidance,
                          sampler=args.sampler, steps=args.steps, init_images=init, strength=args.strength, rng=rng,
                          batch_size=args.batch_size)
    seconds = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=to_uint8(images)[:, 0], prompts=np.array([args.prompt] * args.n),
                        negative_prompt=np.array(args.negative_prompt))
    print(f"Wrote {args.n} images {tuple(images.shape[1:])} for {args.prompt!r} to {args.out} ({args.sampler}, "
          f"{args.steps} steps, guidance {args.guidance:g}; {seconds / args.n:.3f} s per image).")
    return 0


def _add_bench(bench) -> None:
    p = bench.add_parser("ldm", help="latent U-Net training images/s, FLOP/s against the matmul rate, peak memory")
    p.add_argument("--profile", default=None)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=5, help="timed training steps")
    p.add_argument("--context-dim", type=int, default=64, help="text width (the shipped CLIP's)")
    p.add_argument("--tokens", type=int, default=16, help="caption positions L")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    """Time the denoiser's training step on random latents (4, 7, 7) and a random caption context (L, E): the
    latents and captions are encoded once before training, so this step is the whole cost per image."""
    from ..bench import bench_row, bench_step, matmul_peak_gflops, print_bench_header
    from ..models.unet import UNet
    from ..train.ldm import ldm_train_step

    profile, device = get_profile(args.profile), get_device()
    torch.manual_seed(0)
    unet_cfg = ldm_unet_config(profile, args.context_dim)
    model = UNet(unet_cfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    schedule = LDMTrainConfig.preset(profile).make_schedule()
    b = args.batch_size
    latents = torch.randn(b, unet_cfg.in_channels, 7, 7, device=device)  # (B, 4, 7, 7)
    context = torch.randn(b, args.tokens, args.context_dim, device=device)  # (B, L, E)
    mask = torch.ones(b, args.tokens, dtype=torch.bool, device=device)  # (B, L)
    rng = torch.Generator().manual_seed(0)
    peak = matmul_peak_gflops(device)
    print_bench_header(device, peak, f"batch size {b}; {args.steps} timed training steps; latents (4, 7, 7), "
                                     f"context ({args.tokens}, {args.context_dim})")
    r = bench_step(lambda: ldm_train_step(model, opt, latents, context, mask, schedule, rng=rng, amp=True),
                   batch_size=b, steps=args.steps, device=device)
    bench_row(f"latent U-Net ({profile}, width {unet_cfg.base_channels})", f"{count_parameters(model) / 1e6:.2f}M",
              r, peak)
    return 0


__all__ = ["LDM", "LatentFamily", "add_commands", "add_family_commands", "cmd_bench", "cmd_sample", "cmd_train"]
