"""Command line: ``python -m sdgan_course <command> ...``, the only part of the library that parses arguments.

Each command lives in its own module (``info``, ``gan``, ``classifier``, ``evaluate``, ``exercises``, ``vae``,
``diffusion``, ...) as ``cmd_*`` functions and an ``add_commands`` that registers their options; :func:`build_parser`
puts them together.
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import distributed
from ..assets import DataError
from ..checkpoint import CheckpointError
from ..config import ProfileError
from ..device import get_device
from . import classifier, clip, diffusion, distill, evaluate, exercises, flow, gan, info, ldm, vae


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sdgan_course",
        description="The course library's command line: environment info, training, sampling, benchmarks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info.add_commands(sub)
    train, sample, bench = (
        sub.add_parser(name, help=text).add_subparsers(dest="model", metavar="MODEL")
        for name, text in (
            ("train", "train a model: gan | classifier | vae | autoencoder | ddpm | clip | ldm | flow"),
            ("sample", "draw samples from a trained model"),
            ("bench", "measure training speed"),
        )
    )
    # Each model family registers its sub-commands: ``add_commands(train=..., sample=..., bench=...)``.
    gan.add_commands(train=train, sample=sample, bench=bench)  # train gan, sample gan, bench gan
    classifier.add_commands(train=train)  # train classifier
    vae.add_commands(sub, train)  # train vae, train autoencoder
    diffusion.add_commands(train=train, sample=sample, bench=bench)  # train ddpm, sample ddpm, bench ddpm
    clip.add_commands(train=train)  # train clip
    ldm.add_commands(train=train, sample=sample, bench=bench)  # train ldm, sample ldm, bench ldm
    flow.add_commands(train=train, sample=sample)  # train flow, sample flow
    distill.add_commands(train=train, sample=sample)  # train distill, sample distill
    evaluate.add_commands(sub)  # evaluate
    exercises.add_commands(sub)  # exercises (the learner's notebooks)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv  # what was typed, recorded in exported files
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    if distributed.launched_by_torchrun():  # torchrun --nproc_per_node=N: join the group, one GPU per process
        distributed.init_distributed(get_device())
        if not distributed.is_main():
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - rank 0 alone prints; errors still reach stderr
    try:
        return args.func(args)
    except (ProfileError, DataError, CheckpointError, FileNotFoundError, ValueError) as err:
        # A learner's mistake, not a bug: say what happened and how to fix it, without a traceback.
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        distributed.shutdown()
