"""Imported first by a tool run as a file (``python tools/NAME.py``), so that its imports resolve exactly as under
``python -m tools.NAME`` from the repository root.

Python puts a script's own folder, tools/, first on ``sys.path``. This puts the repository root there instead, so
``from tools.NAME import ...`` works and the checkout's ``sdgan_course`` comes first (as the tools had it before
they were a package), and no sibling can be imported a second time under a bare name. It is the one ``sys.path``
change in tools/; ``python -m tools.NAME``, the tests and a tool imported by another never run it.
"""

import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parent

if sys.path and Path(sys.path[0] or ".").resolve() == TOOLS:
    sys.path[0] = str(TOOLS.parent)
