"""Measure a diffusion checkpoint on the course features: quality against cost, guidance, and beside the shipped cGAN.

Writes a JSON that notebook 10 and `data/checkpoints/README.md` read. Every number is measured here, on this machine,
with the seeds given; nothing is typed in by hand.

    python tools/evaluate_diffusion.py --checkpoint data/checkpoints/ddpm_fashion_mnist.pt \
        --out data/checkpoints/ddpm_fashion_mnist_eval.json --n 5000 --threads 2
    python tools/evaluate_diffusion.py --snapshots runs/ddpm_fm --n 500       # quality over training
    python tools/evaluate_diffusion.py --checkpoint data/checkpoints/ddpm_fashion_mnist.pt \
        --out data/checkpoints/ddpm_fashion_mnist_eval.json --add sampler_accuracy --n 250 \
        --grid ddpm:1000,ddim:50 --guidance 2 --threads 1   # add rows to one section of an existing file

``--add SECTION`` keeps what the file holds, measures the real-data floor at ``--n`` once for that section, and
appends one row per ``--grid`` entry (saved after each row, so a stopped run keeps its rows; rows already there are
skipped, so the same command resumes).

Labels are balanced (``arange(n) % 10``) so FID is not confounded by class frequencies.
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
from sdgan_course.metrics.report import describe_machine, real_floor, score_row  # noqa: E402
from sdgan_course.models.classifier import load_classifier  # noqa: E402
from sdgan_course.sample.base import network_evaluations  # noqa: E402
from sdgan_course.sample.diffusion import generate_diffusion  # noqa: E402
from sdgan_course.train.diffusion import load_diffusion  # noqa: E402

# (sampler, steps, guidance): the quality-against-cost grid at the default guidance, then the guidance sweep
DEFAULT_GRID = [
    ("dpm-solver", 5),
    ("dpm-solver", 10),
    ("dpm-solver", 15),
    ("dpm-solver", 20),
    ("ddim", 10),
    ("ddim", 20),
    ("ddim", 50),
    ("ddim", 100),
    ("ddpm", 100),
]
DEFAULT_SCALES = [0.0, 1.0, 1.5, 2.0, 3.0, 5.0]


def echo(row: dict) -> dict:
    """Print a row as soon as it is measured (one JSON line), and return it."""
    print(json.dumps(row), flush=True)
    return row


def measure_diffusion(loaded, n, sampler, steps, guidance, reference, classifier, *, seed=0) -> dict:
    labels = torch.arange(n) % loaded.config.num_classes
    start = time.perf_counter()
    images = generate_diffusion(
        loaded.model,
        loaded.schedule,
        n,
        shape=loaded.image_shape,
        labels=labels,
        sampler=sampler,
        steps=steps,
        guidance=guidance,
        prediction=loaded.prediction,
        rng=torch.Generator().manual_seed(seed),
    )
    seconds = (time.perf_counter() - start) / n
    nfe = network_evaluations(steps, guidance)  # a guided step evaluates the network twice (one batch)
    row = dict(sampler=sampler, steps=steps, nfe=nfe, guidance=guidance, n=n, seconds_per_image=round(seconds, 4))
    row.update(score_row(images, labels, reference, classifier))
    return echo(row)


def measure_cgan(n, reference, classifier) -> dict:
    from sdgan_course.models.gan import load_shipped_gan
    from sdgan_course.sample.gan import generate

    model = load_shipped_gan("cgan_fashion_mnist")
    labels = torch.arange(n) % 10
    start = time.perf_counter()
    images = generate(model.generator, n, z_dim=model.config.z_dim, labels=labels, rng=torch.Generator().manual_seed(0))
    row = dict(model="cgan_fashion_mnist", n=n, seconds_per_image=round((time.perf_counter() - start) / n, 5))
    row.update(score_row(images, labels, reference, classifier))
    return echo(row)


def parse_grid(text: str) -> list[tuple[str, int]]:
    return [(g.split(":")[0], int(g.split(":")[1])) for g in text.split(",")]


def add_rows(args, loaded, reference, classifier) -> int:
    """Append ``--grid`` rows at ``--n`` samples to ``result[args.add]`` in the ``--out`` file, resumably."""
    if args.out is None or args.grid is None or args.guidance is None:
        raise SystemExit("--add needs --out (the file to extend), --grid and --guidance.")
    result = json.loads(args.out.read_text()) if args.out.exists() else {}
    rows = result.setdefault(args.add, [])
    floors = result.setdefault(f"{args.add}_floor", {})
    if str(args.n) not in floors:
        floors[str(args.n)] = echo(real_floor(args.n, reference, classifier))
    result.setdefault("commands", []).append(f"{' '.join(sys.argv)}  # on {describe_machine()}")
    args.out.write_text(json.dumps(result, indent=1))
    for sampler, steps in parse_grid(args.grid):
        key = (sampler, steps, args.guidance, args.n)
        done = [r for r in rows if (r["sampler"], r["steps"], r["guidance"], r["n"]) == key]
        if done:
            print(f"already measured: {sampler} {steps} at guidance {args.guidance}, n={args.n}", flush=True)
            continue
        rows.append(measure_diffusion(loaded, args.n, sampler, steps, args.guidance, reference, classifier))
        args.out.write_text(json.dumps(result, indent=1))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--snapshots", type=Path, help="a training folder with ema_step*.pt files")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--n", type=int, default=5000, help="samples for the floor, the cGAN and the headline row")
    parser.add_argument("--grid-n", type=int, default=None, help="samples per grid and guidance row (default --n)")
    parser.add_argument("--headline", default="dpm-solver:10:best", help="sampler:steps:guidance (or best) at --n")
    parser.add_argument("--guidance", type=float, default=None, help="guidance of the grid (default: the headline's)")
    parser.add_argument("--grid", default=None, help="sampler:steps,... (default: the full grid)")
    parser.add_argument("--scales", default=None, help="guidance scales, comma-separated")
    parser.add_argument("--scale-sampler", default="dpm-solver:10", help="sampler:steps of the guidance sweep")
    parser.add_argument("--no-cgan", action="store_true")
    parser.add_argument("--add", metavar="SECTION", help="append --grid rows at --n to SECTION of the --out file")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    classifier = load_classifier("fashion_mnist")
    reference = reference_statistics("fashion_mnist", "train", classifier=classifier, num_features=args.n)

    if args.snapshots:
        rows = []
        for path in sorted(args.snapshots.glob("ema_step*.pt")):
            loaded = load_diffusion(path)
            row = measure_diffusion(loaded, args.n, "dpm-solver", 10, args.guidance or 2.0, reference, classifier)
            rows.append({"step": loaded.step, **row})
        if args.out:
            args.out.write_text(json.dumps(rows, indent=1))
        return 0

    loaded = load_diffusion(args.checkpoint)
    if args.add:
        return add_rows(args, loaded, reference, classifier)
    result = {
        "machine": describe_machine(),
        "model": str(args.checkpoint),
        "model_step": loaded.step,
        "n_samples": args.n,
        "command": " ".join(sys.argv),
    }
    result["real_floor"] = echo(real_floor(args.n, reference, classifier))
    if not args.no_cgan:
        result["cgan"] = measure_cgan(args.n, reference, classifier)
    grid_n = args.grid_n or args.n
    grid_reference = reference
    if grid_n != args.n:  # precision/recall compare equal set sizes: a reference of the grid's size
        grid_reference = reference_statistics("fashion_mnist", "train", classifier=classifier, num_features=grid_n)
        result["real_floor_grid"] = echo(real_floor(grid_n, grid_reference, classifier))
    result["grid_n"] = grid_n

    def save():
        if args.out:
            args.out.write_text(json.dumps(result, indent=1))

    # 1. the guidance sweep (its best FID picks the guidance of the headline row when --headline ends in ":best")
    scales = DEFAULT_SCALES if args.scales is None else [float(s) for s in args.scales.split(",")]
    sampler, steps = args.scale_sampler.split(":")
    result["guidance"] = []
    for scale in scales:
        row = measure_diffusion(loaded, grid_n, sampler, int(steps), scale, grid_reference, classifier)
        result["guidance"].append(row)
        save()
    # 2. the headline row at --n samples, beside the cGAN
    sampler, steps, scale = args.headline.split(":")
    if scale == "best":
        scale = min(result["guidance"], key=lambda r: r["fid"])["guidance"]
    result["headline"] = measure_diffusion(loaded, args.n, sampler, int(steps), float(scale), reference, classifier)
    save()
    # 3. quality against cost at the headline's guidance
    guidance = float(scale) if args.guidance is None else args.guidance
    grid = DEFAULT_GRID
    if args.grid is not None:
        grid = parse_grid(args.grid)
    result["samplers"] = []
    for sampler, steps in grid:
        row = measure_diffusion(loaded, grid_n, sampler, steps, guidance, grid_reference, classifier)
        result["samplers"].append(row)
        save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
