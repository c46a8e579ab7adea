"""What the ``train`` commands share: their common options, resuming a run from ``--out DIR/checkpoint.pt``, and
what rank 0 writes at the end. (What the ``sample`` commands share is in :mod:`.sampling`.)"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path

import torch

from ..distributed import is_main


def add_training_options(p: argparse.ArgumentParser, *, out: str, export: str | None) -> None:
    """The options every resumable ``train`` command has; ``out`` is the default folder, ``export`` the help of
    ``--export`` (what the small exported file holds; ``None``: the command exports nothing)."""
    p.add_argument("--profile", default=None, help="ci | cpu | gpu (default: $SDGAN_PROFILE or the hardware's)")
    p.add_argument("--steps", type=int, default=None, help="total training steps (default: the profile's)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path(out), help="output folder")
    if export is not None:
        p.add_argument("--export", type=Path, default=None, help=export)
    p.add_argument("--no-resume", action="store_true", help="start afresh even if DIR/checkpoint.pt exists")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (and save) after this much wall time")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for log files)")


def set_threads(threads: int | None) -> None:
    if threads:
        torch.set_num_threads(threads)


def resume_run(run_class, args: argparse.Namespace, device):
    """The run saved in ``args.out/checkpoint.pt`` (its total steps raised or lowered to ``--steps``), or ``None``
    when there is none or ``--no-resume`` asks for a fresh start."""
    checkpoint = args.out / "checkpoint.pt"
    if args.no_resume or not checkpoint.exists():
        return None
    run = run_class.load(checkpoint, device=device)
    if args.steps is not None and args.steps != run.train_config.steps:
        run.train_config = replace(run.train_config, steps=args.steps)
    print(f"Resuming {checkpoint} at step {run.step} of {run.train_config.steps}.")
    return run


def given(**options) -> dict:
    """The options the user set (not ``None``): the overrides of a preset."""
    return {k: v for k, v in options.items() if v is not None}


def training_command(args: argparse.Namespace) -> str:
    """The command line that is running, as a learner would type it (recorded in exported files)."""
    return "python -m sdgan_course " + shlex.join(getattr(args, "argv", sys.argv[1:]))


def finish_training(run, args: argparse.Namespace, seconds: float, *, export, snapshot=None,
                    what: str = "the sampling weights") -> int:
    """After the loop, on rank 0 only (under torchrun the other ranks write nothing): the final samples
    (``snapshot(run, {}, name="samples.npz")``, if given), ``DIR/history.json``, and with ``--export`` the small file
    ``export(run, path, command=..., seconds=...)`` writes. Returns the command's exit code, 0."""
    if not is_main():
        return 0
    if snapshot is not None:
        snapshot(run, {}, name="samples.npz")
    (args.out / "history.json").write_text(json.dumps(run.history))
    if args.export:
        export(run, args.export, command=training_command(args), seconds=seconds)
        print(f"Exported {what} to {args.export}.")
    return 0


__all__ = ["add_training_options", "finish_training", "given", "resume_run", "set_threads", "training_command"]
