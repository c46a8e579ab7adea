"""Train the ablations of notebook 15 at an equal number of steps: adversarial loss only and distillation loss only,
from the shipped teacher, with the shipped student's config and seed otherwise (the data are encoded once and shared).
The third arm, both losses, is the shipped run's own snapshot at the same step (``--out DIR/ema_stepNNNNNN.pt`` of
``train distill --snapshot-every``): the same config, seed and data order, so the same run up to that step.

    python tools/distill_ablations.py --steps 800 --out runs/distill_ablations --threads 1

Writes ``OUT/adversarial_only.pt`` and ``OUT/distillation_only.pt`` (exports, loadable with ``load_distill``) and
``OUT/ablations.json`` (seconds and steps of each); ``tools/evaluate_distill.py --ablation NAME=PATH`` scores them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and not __package__:  # run as `python tools/NAME.py`: import as `-m tools.NAME` does
    import _as_package  # noqa: F401  (tools/_as_package.py: the repository root first on sys.path)

from sdgan_course.train.distill import (  # noqa: E402
    DistillRun,
    DistillTrainConfig,
    export_distill,
    prepare_ldm_data,
    shipped_teacher_state,
    train_distill,
)

ARMS = {"adversarial_only": dict(distill_weight=0.0), "distillation_only": dict(adversarial_weight=0.0)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--out", type=Path, default=Path("runs/distill_ablations"))
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    teacher, data, record = shipped_teacher_state(), None, {}
    for name, overrides in ARMS.items():
        run = DistillRun(teacher, DistillTrainConfig.preset(args.profile, steps=args.steps, **overrides))
        data = data or prepare_ldm_data(run)  # the same frozen parts and seeds: the same data for every arm
        result = train_distill(run, data, progress=False)
        export_distill(run, args.out / f"{name}.pt", seconds=result.seconds, ablation=name)
        record[name] = dict(steps=run.step, seconds=round(result.seconds, 1), **overrides)
        print(name, json.dumps(record[name]), flush=True)
    (args.out / "ablations.json").write_text(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
