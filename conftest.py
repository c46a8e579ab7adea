"""Test-session set-up shared by the unit tests and the notebooks that nbval executes.

pytest-xdist runs two workers on CI's two cores; each worker (and each notebook kernel it starts, which inherits this
environment) must use one thread, or the threads oversubscribe the cores and spin: a notebook then runs 5-10x slower.

This file sits at the repository root, so pytest (its default "prepend" import mode) puts the root on ``sys.path``:
that is how the tests import the maintainer's tools as a package, ``from tools.notebook_rules import ...``.
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
