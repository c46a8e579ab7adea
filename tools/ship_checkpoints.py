"""Export a training run's sampling weights into data/checkpoints/ and record them in the asset manifest
(data/SHA256SUMS).

    python tools/ship_checkpoints.py runs/gan/checkpoint.pt gan_fashion_mnist
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from sdgan_course.assets import record_asset  # noqa: E402
from sdgan_course.train.gan import GANRun, export_gan  # noqa: E402

FOLDER = ROOT / "data" / "checkpoints"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_checkpoint", type=Path)
    parser.add_argument("name")
    args = parser.parse_args()
    run = GANRun.load(args.run_checkpoint)
    path = export_gan(run, FOLDER / f"{args.name}.pt")
    record_asset(path)
    print(f"{path} (step {run.step}, {path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
