"""``python -m sdgan_course info``: versions, device, profile, data folders and the state of every shipped file."""

from __future__ import annotations

import argparse
import platform
import sys


def cmd_info(args: argparse.Namespace) -> int:
    """Print versions, device, profile, where the data is looked for and whether every shipped file is intact."""
    import numpy as np
    import torch

    from .. import __version__
    from ..assets import data_dirs, manifest, verify_all
    from ..config import get_profile
    from ..device import describe_device, get_device

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
    problems = verify_all()
    shipped = manifest()
    print(f"shipped files {len(shipped) - len(problems)} of {len(shipped)} present and intact (data/SHA256SUMS)")
    for name in shipped:
        print(f"  {name:<52} {problems.get(name, 'ok')}")
    return 0


def add_commands(sub) -> None:
    info = sub.add_parser("info", help="print versions, device, profile and where the data was found")
    info.set_defaults(func=cmd_info)
