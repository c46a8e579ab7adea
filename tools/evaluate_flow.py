"""Measure the miniature Stable Diffusion 3 (the rectified-flow MMDiT) against notebook 11's latent U-Net, the same way.

Writes the JSON that notebook 14 and `data/checkpoints/README.md` read; every number is measured here, on the course
features (`sdgan_course.metrics`), beside the real-data floor at the same sample count:

- the flow model's guidance sweep (Euler, 10 steps, `--grid-n` samples per scale) and its best-FID scale;
- quality against network evaluations (`--nfe`, default 5, 10, 20, 50; without guidance's doubling): the flow model
  with Euler (S = NFE steps) and Heun (S = (NFE + 1) // 2 steps: 2S - 1 evaluations), the latent U-Net with
  DPM-Solver++(2M) (S = NFE), each at its own best guidance scale, `--grid-n` samples per row, on this machine;
- the headline rows at `--n` samples (Euler 10 and Heun 5 steps), new wordings, held-out compositions;
- the latent U-Net's own stored headline (`data/checkpoints/ldm_words_fashion_mnist_eval.json`: DPM-Solver++ 20 steps at
  5,000 samples), which this tool does not recompute.

    python tools/evaluate_flow.py --checkpoint data/checkpoints/flow_fashion_mnist.pt \
        --out data/checkpoints/flow_fashion_mnist_eval.json --n 5000 --grid-n 1000 --threads 1
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and not __package__:  # run as `python tools/NAME.py`: import as `-m tools.NAME` does
    import _as_package  # noqa: F401  (tools/_as_package.py: the repository root first on sys.path)

from sdgan_course.data.captions import HELD_OUT_TEMPLATES  # noqa: E402
from sdgan_course.metrics.features import reference_statistics  # noqa: E402
from sdgan_course.metrics.report import describe_machine, real_floor  # noqa: E402
from sdgan_course.models.classifier import load_classifier  # noqa: E402
from sdgan_course.train.flow import load_flow  # noqa: E402
from sdgan_course.train.ldm import load_ldm  # noqa: E402
from tools.evaluate_ldm import DATASET, composition_rows, prompt_row  # noqa: E402


def training_record(model) -> dict:
    """How a shipped latent model was trained, from what its file stores: steps, seconds, hardware, command."""
    info = model.info
    return {"step": model.step, "seconds": float(info["seconds"]) if "seconds" in info else None,
            "hardware": info.get("hardware"), "command": info.get("command")}


def heun_steps(nfe: int) -> int:
    """Heun steps whose 2S - 1 evaluations come closest to ``nfe`` from below (at least one step)."""
    return max(1, (nfe + 1) // 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True, help="the flow model (a 'flow' checkpoint)")
    parser.add_argument("--baseline", type=Path, default=ROOT / "data/checkpoints/ldm_words_fashion_mnist.pt")
    parser.add_argument("--baseline-eval", type=Path,
                        default=ROOT / "data/checkpoints/ldm_words_fashion_mnist_eval.json")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--n", type=int, default=5000, help="samples for the floor and the headline rows")
    parser.add_argument("--grid-n", type=int, default=1000, help="samples per sweep and cost row")
    parser.add_argument("--scales", default="1,1.5,2,3,5", help="the flow model's guidance sweep")
    parser.add_argument("--nfe", default="5,10,20,50", help="network evaluations per image of the cost rows")
    parser.add_argument("--per-pair", type=int, default=50, help="samples per composition")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    classifier = load_classifier(DATASET)
    reference = reference_statistics(DATASET, "train", classifier=classifier, num_features=max(args.n, 5000))
    flow, unet = load_flow(args.checkpoint), load_ldm(args.baseline)
    baseline_eval = json.loads(args.baseline_eval.read_text())
    unet_guidance = baseline_eval["headline"]["guidance"]

    result = {"machine": describe_machine(), "model": str(args.checkpoint), "model_step": flow.step,
              "training": training_record(flow), "command": " ".join(sys.argv), "baseline": str(args.baseline),
              "baseline_headline": baseline_eval["headline"], "baseline_training": training_record(unet)}
    result["floor"] = real_floor(args.n, reference, classifier)
    result["floor_grid"] = real_floor(args.grid_n, reference, classifier)
    print(json.dumps(result["floor"]), flush=True)

    scales = [float(s) for s in args.scales.split(",")]
    result["guidance_sweep"] = [prompt_row(flow, args.grid_n, g, 10, reference, classifier, sampler="euler")
                                for g in scales]
    best = min(result["guidance_sweep"], key=lambda r: r["fid"])["guidance"]
    result["guidance"] = {"flow": best, "unet": unet_guidance}

    cost = []
    for nfe in (int(x) for x in args.nfe.split(",")):
        cost.append({"model": "flow", **prompt_row(flow, args.grid_n, best, nfe, reference, classifier,
                                                   sampler="euler")})
        cost.append({"model": "flow", **prompt_row(flow, args.grid_n, best, heun_steps(nfe), reference, classifier,
                                                   sampler="heun")})
        cost.append({"model": "unet", **prompt_row(unet, args.grid_n, unet_guidance, nfe, reference, classifier,
                                                   sampler="dpm-solver")})
    result["cost"] = cost

    result["headline"] = {
        "euler": prompt_row(flow, args.n, best, 10, reference, classifier, sampler="euler"),
        "heun": prompt_row(flow, args.n, best, 5, reference, classifier, sampler="heun"),
    }
    result["new_wording"] = prompt_row(flow, args.grid_n, best, 10, reference, classifier, sampler="euler",
                                       template=HELD_OUT_TEMPLATES[DATASET][0])
    result["compositions"] = composition_rows(flow, args.per_pair, best, 10, classifier, sampler="euler")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
        print(f"Wrote {args.out}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
