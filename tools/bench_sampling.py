"""How the sampling batch size and the weights' memory layout change the cost of sampling the shipped DDPM.

The measurement behind ``sdgan_course.device.sampling_batch_size`` and ``sampling_layout``: one sampler setting
(default DPM-Solver++ with 10 steps and guidance 2, the headline of notebook 10), timed for each batch size with the
weights in the default (contiguous) and in channels_last layout. Run it on a quiet machine; it prints seconds per
image and milliseconds per network evaluation per image.

    python tools/bench_sampling.py --n 500 --batches 50,100,250,500 --threads 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and not __package__:  # run as `python tools/NAME.py`: import as `-m tools.NAME` does
    import _as_package  # noqa: F401  (tools/_as_package.py: the repository root first on sys.path)

from sdgan_course.sample.base import network_evaluations  # noqa: E402
from sdgan_course.sample.diffusion import generate_diffusion  # noqa: E402
from sdgan_course.train.diffusion import load_diffusion  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, default=ROOT / "data/checkpoints/ddpm_fashion_mnist.pt")
    p.add_argument("--n", type=int, default=500, help="images per measurement")
    p.add_argument("--batches", default="50,100,250,500", help="comma-separated sampling batch sizes")
    p.add_argument("--sampler", default="dpm-solver")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--guidance", type=float, default=2.0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    loaded = load_diffusion(args.checkpoint)
    labels = torch.arange(args.n) % loaded.config.num_classes
    nfe = network_evaluations(args.steps, args.guidance)

    def seconds_per_image(batch: int, channels_last: bool) -> float:
        start = time.perf_counter()
        generate_diffusion(loaded.model, loaded.schedule, args.n, shape=loaded.image_shape, labels=labels,
                           sampler=args.sampler, steps=args.steps, guidance=args.guidance,
                           prediction=loaded.prediction, rng=torch.Generator().manual_seed(0), batch_size=batch,
                           channels_last=channels_last)
        return (time.perf_counter() - start) / args.n

    seconds_per_image(min(50, args.n), True)  # warm-up: first calls pay oneDNN's kernel selection
    print(f"{args.sampler}, {args.steps} steps, guidance {args.guidance:g} ({nfe} network evaluations), {args.n} "
          f"images, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"{'batch':>6} {'layout':>14} {'s / image':>10} {'ms / NFE / image':>17}")
    for batch in (int(b) for b in args.batches.split(",")):
        for channels_last in (False, True):
            s = seconds_per_image(batch, channels_last)
            layout = "channels_last" if channels_last else "contiguous"
            print(f"{batch:>6} {layout:>14} {s:>10.4f} {1000 * s / nfe:>17.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
