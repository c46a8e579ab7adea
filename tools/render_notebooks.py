"""Execute notebooks and store their outputs, so the repository shows the pictures and they match the code.

Rule (enforced by tests/test_notebook_rules.py): a notebook in git either has no outputs, or outputs produced by this
script from exactly its current code. The script records a SHA-256 of the code cells in the notebook's metadata; a
code change without re-rendering fails the tests. Volatile metadata (timings per cell, widget state) is dropped so
diffs stay readable.

    python tools/render_notebooks.py                      # every notebook, cpu profile (an hour or more)
    python tools/render_notebooks.py notebooks/05_*.ipynb # some
    python tools/render_notebooks.py --profile ci ...     # a quick look; the tests want cpu-profile outputs stored

Stored outputs come from the ``cpu`` profile, the one learners run (CI executes the ``ci`` profile with nbval and
does not store anything); the tests check the profile recorded in each notebook's metadata.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))
from notebook_rules import KERNELSPEC, code_hash, tidy_widget_outputs  # noqa: E402


def render(path: Path, profile: str, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    os.environ["SDGAN_PROFILE"] = profile
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # small models: one thread is fastest and never oversubscribes
    start = time.perf_counter()
    resources = {"metadata": {"path": str(path.parent)}}
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources=resources).execute()
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nb.metadata.pop("widgets", None)
    tidy_widget_outputs(nb)  # readable text where a widget would show "VBox(children=..." until run
    nb.metadata["kernelspec"] = dict(KERNELSPEC)  # what JupyterLab writes: opening the notebook changes nothing
    nb.metadata["sdgan_course"] = {"code_sha256": code_hash(nb), "profile": profile, "seconds": round(seconds, 1)}
    nbformat.write(nb, path)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per cell")
    args = parser.parse_args()
    paths = args.paths or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        print(f"{path.name}: {render(path, args.profile, args.timeout):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
