"""What the ``train`` commands share: their common options, and resuming a run from ``--out DIR/checkpoint.pt``."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch


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


__all__ = ["add_training_options", "given", "resume_run", "set_threads"]
