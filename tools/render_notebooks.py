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

Claims (``sdgan_course.course.claim``): a sentence about the run's own numbers is shown with ✓ or ✗ where the numbers
are made. In the ``cpu`` profile a render with any ✗ fails: the notebook is left as it was, the failed render is
written to ``failed_renders/`` (git ignores it) for a look, and the script names the notebook, cell and claim. In
``ci`` (tiny models, other numbers) claims print but do not fail. The claims of a stored render are recorded in the
metadata beside the code hash (tests/test_notebooks.py checks that every one held). ``--claims`` prints the summary
of the stored notebooks without running anything.
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
if __name__ == "__main__" and not __package__:  # run as `python tools/NAME.py`: import as `-m tools.NAME` does
    import _as_package  # noqa: F401  (tools/_as_package.py: the repository root first on sys.path)
from tools.notebook_rules import KERNELSPEC, code_hash, stored_claims, tidy_widget_outputs  # noqa: E402

FAILED_DIR = ROOT / "failed_renders"


class ClaimFailed(RuntimeError):
    """A cpu-profile render in which a claim did not hold."""


def render(path: Path, profile: str, timeout: int) -> float:
    """Execute ``path`` in ``profile`` and store it; return the seconds. Raises :class:`ClaimFailed` (and stores
    nothing) when a claim is ✗ in the cpu profile."""
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
    claims = stored_claims(nb)
    nb.metadata["sdgan_course"] = {"code_sha256": code_hash(nb), "profile": profile, "seconds": round(seconds, 1),
                                   "claims": [{"cell": c["cell"], "statement": c["statement"], "holds": c["holds"]}
                                              for c in claims]}
    failed = [c for c in claims if not c["holds"]]
    if failed and profile == "cpu":
        FAILED_DIR.mkdir(exist_ok=True)
        nbformat.write(nb, FAILED_DIR / path.name)
        lines = "\n".join(f"  {path.name}, cell {c['cell']}: ✗ {c['statement']}" for c in failed)
        raise ClaimFailed(f"{path.name}: {len(failed)} of {len(claims)} claims do not hold in the cpu profile; "
                          f"the stored notebook is unchanged (this render: {FAILED_DIR / path.name}).\n{lines}\n"
                          "Change the sentence to what the run shows, or the run, and render again.")
    nbformat.write(nb, path)
    return seconds


def claim_summary(paths: list[Path]) -> str:
    """One line per stored notebook: how many claims its render checked and whether they all held."""
    lines = []
    for path in paths:
        meta = nbformat.read(path, as_version=4).metadata.get("sdgan_course", {})
        claims = meta.get("claims")
        if claims is None:
            lines.append(f"{path.stem}: no claim record (rendered before claims were recorded)")
            continue
        bad = [c for c in claims if not c["holds"]]
        lines.append(f"{path.stem}: {len(claims)} claims, {len(claims) - len(bad)} ✓, {len(bad)} ✗"
                     f" ({meta.get('profile')} profile)")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per cell")
    parser.add_argument("--claims", action="store_true", help="print the stored notebooks' claim summary and stop")
    args = parser.parse_args()
    paths = args.paths or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.claims:
        print(claim_summary(paths))
        return 0
    failures = 0
    for path in paths:
        try:
            seconds = render(path, args.profile, args.timeout)
        except ClaimFailed as err:
            print(err, file=sys.stderr, flush=True)
            failures += 1
            continue
        claims = nbformat.read(path, as_version=4).metadata["sdgan_course"]["claims"]
        print(f"{path.name}: {seconds:.1f} s, {len(claims)} claims, "
              f"{sum(c['holds'] for c in claims)} ✓ {sum(not c['holds'] for c in claims)} ✗", flush=True)
    print(claim_summary(paths))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
