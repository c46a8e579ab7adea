"""Command line: ``python -m sdgan_course <command> ...``.

Each command is a small function that parses nothing itself; ``build_parser`` holds all the options.
"""

from __future__ import annotations

import argparse
import platform
import sys


def cmd_info(args: argparse.Namespace) -> int:
    """Print versions, device, profile and where the data was found."""
    import numpy as np
    import torch

    from . import __version__
    from .config import get_profile
    from .data import DATASETS, DataError, data_dirs, find_file
    from .device import describe_device, get_device

    print(f"sdgan_course {__version__}")
    print(f"python       {platform.python_version()} ({sys.executable})")
    print(f"torch        {torch.__version__} (CUDA build: {torch.version.cuda or 'no'})")
    print(f"numpy        {np.__version__}")
    for name in ("matplotlib", "ipywidgets", "tqdm"):
        try:
            module = __import__(name)
            print(f"{name:<12} {module.__version__}")
        except ImportError:
            print(f"{name:<12} not installed")
    print(f"device       {describe_device(get_device())}")
    print(f"profile      {get_profile()}")
    print("data folders " + "\n             ".join(str(d) for d in data_dirs()))
    for name, info in DATASETS.items():
        try:
            where = str(find_file(info.file, info.sha256))
        except DataError as err:
            online = info.torchvision_name is not None
            problem = str(err).splitlines()[0]
            where = "not fetched (online only: download=True)" if online else f"MISSING or bad: {problem}"
        print(f"  {name:<14} {where}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sdgan_course",
        description="The course library's command line: environment info, training, sampling, benchmarks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="print versions, device, profile and where the data was found")
    info.set_defaults(func=cmd_info)
    train_parser = sub.add_parser("train", help="train a model: gan | classifier")
    train = train_parser.add_subparsers(dest="model", metavar="MODEL")
    _add_gan_commands(sub, train)
    _add_metrics_commands(sub, train)
    return parser


def _add_gan_commands(sub, train) -> None:
    """``train gan``, ``sample gan``, ``bench gan`` (GAN track)."""
    from .gan_cli import add_commands

    add_commands(sub, train)


def _add_metrics_commands(sub, train) -> None:
    """``train classifier`` and ``evaluate`` (evaluation track)."""
    from .classifier import add_train_parser
    from .metrics import add_evaluate_parser

    add_train_parser(train)
    add_evaluate_parser(sub)


def main(argv: list[str] | None = None) -> int:
    from .checkpoint import CheckpointError
    from .config import ProfileError
    from .data import DataError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except (ProfileError, DataError, CheckpointError, FileNotFoundError, ValueError) as err:
        # A learner's mistake, not a bug: say what happened and how to fix it, without a traceback.
        print(f"error: {err}", file=sys.stderr)
        return 2
