"""Export a training run's sampling weights into data/checkpoints/ and record them in the asset manifest
(data/SHA256SUMS).

    python tools/ship_checkpoints.py runs/gan/checkpoint.pt gan_fashion_mnist
    python tools/ship_checkpoints.py runs/ldm_fm/checkpoint.pt ldm_fashion_mnist \
        --info command="python -m sdgan_course train ldm ..." --info minutes=62

The run's kind (``gan``, ``ldm``, ``flow`` or ``distill``) is read from the file; ``--info key=value`` is stored in the
exported file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and not __package__:  # run as `python tools/NAME.py`: import as `-m tools.NAME` does
    import _as_package  # noqa: F401  (tools/_as_package.py: the repository root first on sys.path)
from sdgan_course.assets import record_asset  # noqa: E402
from sdgan_course.train.distill import DistillRun, export_distill  # noqa: E402
from sdgan_course.train.flow import FlowRun  # noqa: E402
from sdgan_course.train.gan import GANRun, export_gan  # noqa: E402
from sdgan_course.train.ldm import LDMRun, export_ldm  # noqa: E402

FOLDER = ROOT / "data" / "checkpoints"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_checkpoint", type=Path)
    parser.add_argument("name")
    parser.add_argument("--info", action="append", default=[],
                        help="key=value facts stored in the file (ldm, distill)")
    args = parser.parse_args()
    info = dict(item.split("=", 1) for item in args.info)
    kind = torch.load(args.run_checkpoint, map_location="cpu", weights_only=True).get("kind")
    if kind in ("ldm", "flow"):  # both latent families export with export_ldm (the file's kind is the run's)
        run = (FlowRun if kind == "flow" else LDMRun).load(args.run_checkpoint)
        info["history"] = {k: run.history[k] for k in ("agreement", "agreement_step") if k in run.history}
        path = export_ldm(run, FOLDER / f"{args.name}.pt", **info)
    elif kind == "distill":
        run = DistillRun.load(args.run_checkpoint)
        keys = ("agreement_1", "agreement_4", "agreement_step")
        info["distill_history"] = {k: run.history[k] for k in keys if k in run.history}
        path = export_distill(run, FOLDER / f"{args.name}.pt", **info)
    else:
        run = GANRun.load(args.run_checkpoint)
        path = export_gan(run, FOLDER / f"{args.name}.pt")
    record_asset(path)
    print(f"{path} (step {run.step}, {path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
