"""Notebook 12's comparison: the shipped GAN, cGAN, DDPM and latent text-to-image model on the same data, scored the
same way, with what each costs to train and to sample; and, optionally, a GAN and a DDPM trained for equal minutes.

Writes a JSON that notebook 12 reads. Every number is measured here with the seeds given, except the training minutes
of the shipped files, which are the facts recorded in `data/checkpoints/README.md` (or the checkpoint's own `info`).

    python tools/compare_models.py --n 5000 --threads 2                       # the shipped models, 5,000 samples
    python tools/compare_models.py --equal-minutes 10 --equal-n 1000 --no-shipped --threads 1   # equal compute
    python tools/compare_models.py --n 200 --ldm-checkpoint /tmp/ldm12/ldm.pt --out /tmp/cmp.json   # a quick look

Each part merges into an existing --out file, so the two sections can be made by separate runs. Labels and prompts
are balanced over the classes (``arange(n) % 10``); the unconditional GAN draws without labels.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and not __package__:  # run as `python tools/NAME.py`: import as `-m tools.NAME` does
    import _as_package  # noqa: F401  (tools/_as_package.py: the repository root first on sys.path)


from sdgan_course.metrics.features import reference_statistics  # noqa: E402
from sdgan_course.metrics.prompt_following import class_prompt  # noqa: E402
from sdgan_course.metrics.report import describe_machine, real_floor, score_row  # noqa: E402
from sdgan_course.models.classifier import load_classifier  # noqa: E402
from sdgan_course.sample.base import network_evaluations  # noqa: E402

DATASET = "fashion_mnist"
OUT = ROOT / "data" / "checkpoints" / "comparison_eval.json"

# Training time of the shipped files, from data/checkpoints/README.md: one thread of a 2-core AMD EPYC virtual
# machine, wall time while other jobs shared it (so upper bounds on the compute).
README_TRAINING = {
    "gan_fashion_mnist": dict(minutes=70, steps=17_032, batch_size=128, note="README: 17,032 steps in 70 min"),
    "cgan_fashion_mnist": dict(minutes=40, steps=13_942, batch_size=128, note="README: 13,942 steps in 40 min"),
    "ddpm_fashion_mnist": dict(minutes=123, steps=3_000, batch_size=128, note="README: 3,000 steps in 123 min"),
    # the latent model's frozen parts, trained before it (README sections "Miniature CLIP" and "The autoencoder")
    "autoencoder_fashion_mnist": dict(minutes=48, steps=2_000, batch_size=64,
                                      note="README: steps 0-2,000 without the adversarial term in 48 min of wall time"),
    "clip_fashion_mnist": dict(minutes=20, steps=796, batch_size=256, note="README: 796 steps in 20 min"),
}


def echo(row: dict) -> dict:
    """Print a row as soon as it is measured (one JSON line), and return it."""
    print(json.dumps(row), flush=True)
    return row


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def timed(fn):
    """(result, wall seconds, process CPU seconds) of fn()."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


# ---------------------------------------------------------------- the shipped models


def gan_row(name, n, reference, classifier) -> dict:
    from sdgan_course.models.gan import load_shipped_gan
    from sdgan_course.sample.gan import generate

    model = load_shipped_gan(name)
    conditional = model.config.num_classes > 0
    labels = torch.arange(n) % 10 if conditional else None
    rng = torch.Generator().manual_seed(0)
    images, wall, _ = timed(lambda: generate(model.generator, n, z_dim=model.config.z_dim, labels=labels, rng=rng))
    train = README_TRAINING[name]
    row = dict(model=name, family="GAN", conditioning="class label" if conditional else "none", n=n,
               sampler="one generator pass", nfe=1, seconds_per_image=round(wall / n, 6),
               parameters={"generator": count(model.generator)}, training_minutes={"generator": train["minutes"]},
               training_steps=model.step, training_note=train["note"] + " (the discriminator trains alongside)")
    row.update(score_row(images, labels, reference, classifier))
    return echo(row)


def ddpm_row(n, steps, guidance, reference, classifier, *, checkpoint=None) -> dict:
    from sdgan_course.sample.diffusion import generate_diffusion
    from sdgan_course.train.diffusion import load_diffusion, load_shipped_diffusion

    loaded = load_diffusion(checkpoint) if checkpoint else load_shipped_diffusion("ddpm_fashion_mnist")
    labels = torch.arange(n) % loaded.config.num_classes
    images, wall, _ = timed(lambda: generate_diffusion(
        loaded.model, loaded.schedule, n, shape=loaded.image_shape, labels=labels, sampler="dpm-solver", steps=steps,
        guidance=guidance, prediction=loaded.prediction, rng=torch.Generator().manual_seed(0)))
    train = README_TRAINING["ddpm_fashion_mnist"]
    row = dict(model="ddpm_fashion_mnist", family="diffusion (pixels)", conditioning="class label", n=n,
               sampler=f"DPM-Solver++ {steps} steps, guidance {guidance:g}",
               nfe=network_evaluations(steps, guidance), seconds_per_image=round(wall / n, 6),
               parameters={"unet": count(loaded.model)}, training_minutes={"unet": train["minutes"]},
               training_steps=loaded.step, training_note=train["note"])
    row.update(score_row(images, labels, reference, classifier))
    return echo(row)


def ldm_guidance_default() -> float:
    """The headline guidance of tools/evaluate_ldm.py's file when there is one (its best FID), else 3."""
    path = ROOT / "data" / "checkpoints" / "ldm_words_fashion_mnist_eval.json"
    try:
        return float(json.loads(path.read_text())["headline"]["guidance"])
    except (OSError, KeyError, TypeError, ValueError):
        return 3.0


def ldm_training_minutes(ldm) -> tuple[float | str, str]:
    info = ldm.info
    if info.get("wall_minutes") is not None:
        return round(float(info["wall_minutes"]), 1), "the checkpoint's info['wall_minutes']"
    if info.get("seconds") is not None:
        return round(float(info["seconds"]) / 60, 1), "the checkpoint's info['seconds'] (its last training session)"
    return "unknown", "the checkpoint records no training time"


def ldm_row(n, steps, guidance, reference, classifier, *, checkpoint=None) -> dict:
    from sdgan_course.sample.ldm import generate_ldm
    from sdgan_course.train.ldm import load_ldm, load_shipped_ldm

    ldm = load_ldm(checkpoint) if checkpoint else load_shipped_ldm("ldm_words_fashion_mnist")
    labels = torch.arange(n) % 10
    prompts = [class_prompt(DATASET, c) for c in labels.tolist()]
    images, wall, _ = timed(lambda: generate_ldm(ldm, prompts, n, guidance=guidance, steps=steps,
                                                 rng=torch.Generator().manual_seed(0)))
    unet_minutes, source = ldm_training_minutes(ldm)
    ae, clip = README_TRAINING["autoencoder_fashion_mnist"], README_TRAINING["clip_fashion_mnist"]
    row = dict(model=str(checkpoint) if checkpoint else "ldm_words_fashion_mnist", family="latent diffusion + text",
               conditioning="prompt 'a photo of a {name}'", n=n, sampler=f"DPM-Solver++ {steps} steps, guidance "
               f"{guidance:g}", nfe=network_evaluations(steps, guidance), seconds_per_image=round(wall / n, 6),
               nfe_note="U-Net evaluations; plus one text-encoder pass per prompt and one decoder pass per image",
               parameters={"unet": count(ldm.unet), "text_encoder": count(ldm.text_encoder),
                           "autoencoder_decoder": count(ldm.autoencoder.decoder) + count(ldm.autoencoder.conv_out)},
               training_minutes={"unet": unet_minutes, "text_encoder": clip["minutes"],
                                 "autoencoder": ae["minutes"]},
               training_steps=ldm.step, training_note=f"U-Net: {source}; text encoder: {clip['note']}; autoencoder: "
               f"{ae['note']}")
    row.update(score_row(images, labels, reference, classifier))
    return echo(row)


# ---------------------------------------------------------------- equal training compute


def train_for(kind: str, minutes: float, profile: str, *, seed: int = 0, export: Path | None = None) -> dict:
    """Train a class-conditional GAN or DDPM from scratch for ``minutes`` of wall time (the profile's model and batch
    size); returns the sampling weights and what the run cost."""
    from sdgan_course.data.images import load_images
    from sdgan_course.models.gan import GANConfig
    from sdgan_course.models.unet import UNetConfig
    from sdgan_course.train.diffusion import DiffusionRun, DiffusionTrainConfig, export_diffusion, train_diffusion
    from sdgan_course.train.gan import GANRun, GANTrainConfig, export_gan, train_gan

    budget = 10**9  # steps: time, not the step count, ends the run
    if kind == "cgan":
        cfg = GANTrainConfig.preset(profile, steps=budget, seed=seed, checkpoint_every=budget)
        run = GANRun(GANConfig.preset(profile, conditional=True), cfg)
        model, train = run.generator, train_gan
    else:
        cfg = DiffusionTrainConfig.preset(profile, steps=budget, seed=seed, checkpoint_every=budget)
        run = DiffusionRun(UNetConfig.preset(profile, num_classes=10), cfg)
        model, train = run.model, train_diffusion
    data = load_images(cfg.dataset, "train", limit=cfg.train_limit)
    result, wall, cpu = timed(lambda: train(run, data.images, data.labels, progress=False, max_seconds=60 * minutes))
    if export is not None:
        (export_gan if kind == "cgan" else export_diffusion)(run, export, seconds=result.seconds)
    row = dict(model=f"{kind}, trained {minutes:g} min", family="GAN" if kind == "cgan" else "diffusion (pixels)",
               profile=profile, train_steps=run.step, batch_size=cfg.batch_size, images_seen=run.step * cfg.batch_size,
               train_images=len(data.images), train_wall_minutes=round(wall / 60, 2),
               train_cpu_minutes=round(cpu / 60, 2), parameters=count(model), threads=torch.get_num_threads())
    print(json.dumps(row), flush=True)
    return dict(row=row, run=run)


def score_equal(trained: dict, n, reference, classifier, *, ddpm_steps=10, guidance=2.0) -> dict:
    from sdgan_course.sample.diffusion import generate_diffusion
    from sdgan_course.sample.gan import generate

    run, row = trained["run"], dict(trained["row"])
    labels = torch.arange(n) % 10
    rng = torch.Generator().manual_seed(0)
    if row["family"] == "GAN":
        images, wall, _ = timed(lambda: generate(run.ema.model, n, z_dim=run.gan_config.z_dim, labels=labels, rng=rng))
        row.update(sampler="one generator pass", nfe=1)
    else:
        images, wall, _ = timed(lambda: generate_diffusion(
            run.ema.model, run.schedule, n, shape=run.train_config.image_shape, labels=labels, sampler="dpm-solver",
            steps=ddpm_steps, guidance=guidance, prediction=run.train_config.prediction, rng=rng))
        row.update(sampler=f"DPM-Solver++ {ddpm_steps} steps, guidance {guidance:g}",
                   nfe=network_evaluations(ddpm_steps, guidance))
    row.update(n=n, seconds_per_image=round(wall / n, 6), **score_row(images, labels, reference, classifier))
    return echo(row)


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=5000, help="samples per shipped model (and real test images)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--ddpm-steps", type=int, default=10, help="DPM-Solver++ steps of the DDPM")
    parser.add_argument("--ddpm-guidance", type=float, default=2.0)
    parser.add_argument("--ldm-checkpoint", type=Path, default=None,
                        help="default: the shipped ldm_words_fashion_mnist (notebook 11's first model)")
    parser.add_argument("--ldm-steps", type=int, default=20)
    parser.add_argument("--ldm-guidance", type=float, default=None,
                        help="default: the headline of ldm_words_fashion_mnist_eval.json, else 3")
    parser.add_argument("--no-shipped", action="store_true", help="skip the shipped models (e.g. equal compute only)")
    parser.add_argument("--no-ldm", action="store_true", help="skip the latent model")
    parser.add_argument("--ldm-only", action="store_true",
                        help="measure only the latent model and put its row into the file's existing shipped rows")
    parser.add_argument("--equal-minutes", type=float, default=None,
                        help="also train a cGAN and a DDPM from scratch for this many minutes each and score them")
    parser.add_argument("--equal-n", type=int, default=1000, help="samples per equal-compute model")
    parser.add_argument("--equal-profile", default="cpu", help="model and batch size of the equal-compute runs")
    parser.add_argument("--equal-export", type=Path, default=None, help="folder to keep the equal-compute models in")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    classifier = load_classifier(DATASET)
    result = json.loads(args.out.read_text()) if args.out.is_file() else {}
    result.update(machine=describe_machine(), command=" ".join(sys.argv), features="course classifier (notebook 06)")

    def save():
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))

    if args.ldm_only:
        shipped = result.get("shipped")
        if not shipped or shipped["n_samples"] != args.n:
            raise SystemExit(f"--ldm-only adds to a file whose shipped rows have n = {args.n}: run without it first.")
        reference = reference_statistics(DATASET, "train", classifier=classifier, num_features=args.n)
        guidance = ldm_guidance_default() if args.ldm_guidance is None else args.ldm_guidance
        row = ldm_row(args.n, args.ldm_steps, guidance, reference, classifier, checkpoint=args.ldm_checkpoint)
        shipped["rows"] = [r for r in shipped["rows"] if r.get("family") != row.get("family")] + [row]
        shipped["ldm_command"] = result["command"]
        save()
    elif not args.no_shipped:
        reference = reference_statistics(DATASET, "train", classifier=classifier, num_features=args.n)
        rows = [echo(real_floor(args.n, reference, classifier)) | dict(family="real data")]
        rows += [gan_row(name, args.n, reference, classifier) for name in ("gan_fashion_mnist", "cgan_fashion_mnist")]
        rows.append(ddpm_row(args.n, args.ddpm_steps, args.ddpm_guidance, reference, classifier))
        if not args.no_ldm:
            guidance = ldm_guidance_default() if args.ldm_guidance is None else args.ldm_guidance
            rows.append(ldm_row(args.n, args.ldm_steps, guidance, reference, classifier,
                                checkpoint=args.ldm_checkpoint))
        result["shipped"] = dict(n_samples=args.n, rows=rows, threads=torch.get_num_threads(),
                                 command=result["command"],
                                 timing="seconds per image: the whole batched draw of n samples / n (GAN batches "
                                 "of 500, DDPM 50 with channels_last weights, LDM 200), on the machine above")
        save()

    if args.equal_minutes:
        trained = []
        for kind in ("cgan", "ddpm"):
            export = args.equal_export / f"{kind}_{args.equal_minutes:g}min.pt" if args.equal_export else None
            trained.append(train_for(kind, args.equal_minutes, args.equal_profile, export=export))
        reference = reference_statistics(DATASET, "train", classifier=classifier, num_features=args.equal_n)
        rows = [echo(real_floor(args.equal_n, reference, classifier)) | dict(family="real data")]
        rows += [score_equal(t, args.equal_n, reference, classifier) for t in trained]
        result["equal_compute"] = dict(minutes=args.equal_minutes, n_samples=args.equal_n, profile=args.equal_profile,
                                       threads=torch.get_num_threads(), command=result["command"], rows=rows)
        save()
    print(f"Wrote {args.out}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
