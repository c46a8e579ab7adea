"""The VAE track's commands: ``train vae`` (the small MLP VAE) and ``train autoencoder`` (the KL-autoencoder of
latent diffusion, with or without its patch-adversarial term)."""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from ..config import get_profile
from ..data import load_images, to_uint8
from ..device import describe_device, get_device
from ..distributed import is_main
from .common import add_training_options, given, resume_run, set_threads


def _common(p: argparse.ArgumentParser, out: str, export: str | None = None) -> None:
    add_training_options(p, out=out, export=export)
    p.add_argument("--dataset", default="fashion_mnist", help="fashion_mnist | mnist")
    p.add_argument("--snapshot-every", type=int, default=0, help="save 64 fixed reconstructions every N steps")


def add_commands(sub, train) -> None:
    """Register ``train vae`` and ``train autoencoder`` on the ``train`` sub-parsers (``sub`` is unused today)."""
    p = train.add_parser("vae", help="train the small MLP VAE (ELBO, beta) (resumes from OUT/checkpoint.pt)")
    _common(p, "runs/vae")
    p.add_argument("--latent-dim", type=int, default=2, help="latent dimension D (2 for the latent-space plot)")
    p.add_argument("--beta", type=float, default=1.0, help="weight of the KL term (1: the ELBO)")
    p.add_argument("--likelihood", choices=("bernoulli", "gaussian"), default="bernoulli")
    p.set_defaults(func=cmd_train_vae)

    p = train.add_parser("autoencoder", help="train the KL-autoencoder for latent diffusion (resumes from "
                                             "OUT/checkpoint.pt)")
    _common(p, "runs/autoencoder",
            export="also write the small, shippable autoencoder (with its measured latent scale factor) here")
    p.add_argument("--no-adversarial", action="store_true", help="leave out the patch-adversarial term")
    p.add_argument("--disc-start", type=int, default=None, help="first step of the adversarial term")
    p.add_argument("--base-channels", type=int, default=None, help="autoencoder width (default: the profile's)")
    p.add_argument("--init-from", type=Path, default=None,
                   help="start a new run from the weights and step of this autoencoder checkpoint (e.g. a run "
                        "without the adversarial term, saved before --disc-start)")
    p.add_argument("--eval-every", type=int, default=0,
                   help="every N steps: PSNR, SSIM and FID of 1,000 test reconstructions, into OUT/quality.jsonl")
    p.add_argument("--keep-every", type=int, default=0, help="also keep OUT/checkpoint_stepNNNNNN.pt every N steps")
    p.set_defaults(func=cmd_train_autoencoder)


def _setup(args):
    set_threads(args.threads)
    profile, device = get_profile(args.profile), get_device()
    args.out.mkdir(parents=True, exist_ok=True)
    return profile, device, args.out / "checkpoint.pt"


def _overrides(args) -> dict:
    return given(steps=args.steps, batch_size=args.batch_size, lr=args.lr)


def cmd_train_vae(args: argparse.Namespace) -> int:
    from ..models.vae import VAEConfig, count_parameters
    from ..train.vae import VAERun, VAETrainConfig, train_vae

    profile, device, checkpoint = _setup(args)
    run = resume_run(VAERun, args, device)
    if run is None:
        cfg = VAETrainConfig.preset(profile, dataset=args.dataset, beta=args.beta, likelihood=args.likelihood,
                                    seed=args.seed, **_overrides(args))
        run = VAERun(VAEConfig.preset(profile, latent_dim=args.latent_dim), cfg, device=device)
    cfg = run.train_config
    data = load_images(cfg.dataset, "train", limit=cfg.train_limit)
    test = load_images(cfg.dataset, "test", limit=64).images.to(device)
    print(f"Training a VAE (D = {run.vae_config.latent_dim}, {count_parameters(run.model):,} parameters, beta "
          f"{cfg.beta}, {cfg.likelihood} decoder) on {cfg.dataset} ({len(data.images):,} images), profile {profile}, "
          f"{describe_device(device)}.")

    def snapshot(run, stats, name=None):
        with torch.no_grad():
            images = run.model.mean_image(run.model.decode(run.model.encode(test).mean))
        np.savez_compressed(args.out / (name or f"recon_step{run.step:06d}.npz"), images=to_uint8(images)[:, 0])

    result = train_vae(run, data.images, checkpoint_path=checkpoint, hook=snapshot if args.snapshot_every else None,
                       hook_every=args.snapshot_every or 1, progress=not args.no_progress,
                       max_seconds=60 * args.max_minutes if args.max_minutes else None)
    if not is_main():
        return 0  # under torchrun rank 0 alone writes files
    snapshot(run, {}, name="recon.npz")
    (args.out / "history.json").write_text(json.dumps(run.history))
    print(f"Done: step {run.step}, {result.seconds:.0f} s this session, {result.examples_per_second:.0f} images/s; "
          f"last ELBO {run.history['elbo'][-1]:.1f} nats per image (training batch).")
    return 0


def cmd_train_autoencoder(args: argparse.Namespace) -> int:
    from ..checkpoint import load_checkpoint
    from ..losses.vae import ClassifierPerceptualLoss
    from ..metrics import reconstruction_quality, reference_statistics
    from ..models.classifier import load_classifier
    from ..models.vae import AUTOENCODER_KIND, AutoencoderConfig, count_parameters
    from ..train.vae import (
        AutoencoderRun,
        AutoencoderTrainConfig,
        export_autoencoder,
        train_autoencoder,
    )

    profile, device, checkpoint = _setup(args)
    run = resume_run(AutoencoderRun, args, device)
    if run is None:
        extra = {"disc_start": args.disc_start} if args.disc_start is not None else {}
        cfg = AutoencoderTrainConfig.preset(profile, dataset=args.dataset, adversarial=not args.no_adversarial,
                                            seed=args.seed, **extra, **_overrides(args))
        ae_cfg = AutoencoderConfig.preset(profile)
        if args.base_channels:
            ae_cfg = ae_cfg.replace(base_channels=args.base_channels)
        if args.init_from is not None:
            start = load_checkpoint(args.init_from, kind=AUTOENCODER_KIND)
            ae_cfg = AutoencoderConfig(**start["ae_config"])
        run = AutoencoderRun(ae_cfg, cfg, device=device)
        if args.init_from is not None:
            run.model.load_state_dict({k: v.float() for k, v in start["model"].items()})
            if "opt" in start:
                run.opt.load_state_dict(start["opt"])
            if "rng" in start:
                run.rng.set_state(start["rng"])
            run.step, run.history = start["step"], start.get("history", {})
            print(f"Starting from {args.init_from} (step {run.step}).")
    cfg = run.train_config
    classifier = load_classifier(cfg.dataset, device=device)
    perceptual = ClassifierPerceptualLoss(classifier) if cfg.perceptual_weight > 0 else None
    data = load_images(cfg.dataset, "train", limit=cfg.train_limit)
    test = load_images(cfg.dataset, "test", limit=1000).images
    reference = reference_statistics(cfg.dataset, "train", classifier=classifier) if args.eval_every else None
    n_d = count_parameters(run.discriminator) if run.discriminator is not None else 0
    print(f"Training a KL-autoencoder ({count_parameters(run.model):,} parameters, factor {run.ae_config.factor}, "
          f"{run.ae_config.latent_channels} latent channels) "
          + (f"with a patch discriminator ({n_d:,} parameters) from step {cfg.disc_start}" if cfg.adversarial
             else "without the adversarial term")
          + f" on {cfg.dataset} ({len(data.images):,} images), profile {profile}, {describe_device(device)}.",
          flush=True)
    quality_log = args.out / "quality.jsonl"
    started = time.perf_counter()

    def hook(run, stats):
        if args.snapshot_every and run.step % args.snapshot_every == 0:
            recon = run.model.eval().reconstruct(test[:64].to(device))
            run.model.train()
            np.savez_compressed(args.out / f"recon_step{run.step:06d}.npz", images=to_uint8(recon)[:, 0])
        if args.eval_every and run.step % args.eval_every == 0:
            q = reconstruction_quality(run.model, test, classifier=classifier, reference=reference)
            row = {"step": run.step, "psnr": round(q.psnr, 3), "ssim": round(q.ssim, 4), "fid_1000": round(q.fid, 3),
                   "minutes_this_session": round((time.perf_counter() - started) / 60, 2)}
            with quality_log.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
        if args.keep_every and run.step % args.keep_every == 0 and checkpoint.exists():
            shutil.copyfile(checkpoint, args.out / f"checkpoint_step{run.step:06d}.pt")

    every = [n for n in (args.snapshot_every, args.eval_every, args.keep_every) if n]
    hook_every = int(np.gcd.reduce(every)) if every else 0
    result = train_autoencoder(run, data.images, perceptual, checkpoint_path=checkpoint,
                               hook=hook if hook_every else None, hook_every=hook_every or 1,
                               progress=not args.no_progress,
                               max_seconds=60 * args.max_minutes if args.max_minutes else None)
    if not is_main():
        return 0  # under torchrun rank 0 alone writes files
    (args.out / "history.json").write_text(json.dumps(run.history))
    print(f"Done: step {run.step}, {result.seconds:.0f} s this session, {result.examples_per_second:.0f} images/s.")
    if args.export:
        scale_images = load_images(cfg.dataset, "train", limit=5000).images
        export_autoencoder(run, args.export, scale_images=scale_images,
                           command="python -m sdgan_course train autoencoder ...", seconds=result.seconds)
        print(f"Exported the autoencoder to {args.export}.")
    return 0
