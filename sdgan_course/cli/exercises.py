"""``python -m sdgan_course exercises``: write the learner's versions of the notebooks (solutions cleared)."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_exercises(args: argparse.Namespace) -> int:
    """Write each notebook with its exercise solutions cleared (nbgrader's ClearSolutions) into ``--out``."""
    import sys

    from ..exercises.student import make_student_notebooks

    try:
        written = make_student_notebooks(args.out, args.notebooks or None)
    except ImportError as err:  # nbgrader, an extra, is missing: say how to get it
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(f"{len(written)} learner notebooks in {args.out}/: open them in JupyterLab; each exercise's check says "
          "what is missing, and ex.show('ex1') prints a solution.")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("exercises", help="write the learner's notebooks, with the exercise solutions cleared",
                       description=cmd_exercises.__doc__)
    p.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="numbers or names (default: every notebook)")
    p.add_argument("--out", type=Path, default=Path("student"), help="folder to write them into (default: student)")
    p.set_defaults(func=cmd_exercises)
