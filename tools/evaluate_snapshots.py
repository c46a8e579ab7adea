"""Quality across training: score the fixed-noise snapshots a `train gan --snapshot-every N` run wrote.

    python tools/evaluate_snapshots.py runs/cgan [--conditional]

Each snapshot holds 100 images from the same noise (for a conditional run, labels 0..9 repeating). With 100 samples
FID is strongly biased, so the table shows KID (unbiased) and, for conditional runs, how often the course classifier
agrees with the requested class; use it to see when quality stops improving.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and not __package__:  # run as `python tools/NAME.py`: import as `-m tools.NAME` does
    import _as_package  # noqa: F401  (tools/_as_package.py: the repository root first on sys.path)
from sdgan_course.data.images import to_model_range  # noqa: E402
from sdgan_course.metrics.features import reference_statistics  # noqa: E402
from sdgan_course.metrics.report import score_samples  # noqa: E402
from sdgan_course.models.classifier import load_classifier  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--conditional", action="store_true")
    parser.add_argument("--dataset", default="fashion_mnist")
    args = parser.parse_args()
    classifier = load_classifier(args.dataset)
    reference = reference_statistics(args.dataset, "train", classifier=classifier)
    print(f"{'step':>7} {'KID':>9} {'precision':>9} {'recall':>7} {'classes':>7} {'label agr.':>10}")
    for path in sorted(args.run_dir.glob("samples_step*.npz")):
        step = int(path.stem.removeprefix("samples_step"))
        with np.load(path) as f:
            images = to_model_range(torch.from_numpy(f["images"])).unsqueeze(1)  # (100, 1, 28, 28)
        labels = torch.arange(len(images)) % 10 if args.conditional else None
        torch.manual_seed(0)
        s = score_samples(images, reference, classifier, labels=labels, kid_subsets=20, kid_subset_size=len(images))
        agree = f"{s['label_agreement']:.2f}" if s["label_agreement"] is not None else "-"
        print(f"{step:>7} {s['kid']:>9.3g} {s['precision']:>9.2f} {s['recall']:>7.2f} "
              f"{s['classes_covered']:>7} {agree:>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
