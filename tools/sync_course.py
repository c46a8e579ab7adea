"""Rewrite the generated parts of the course; everything else in a notebook is written by hand, in the .ipynb.

The .ipynb is the one source of each notebook. This script owns only what is generated from another source:

- the README's course map, from ``NOTEBOOKS`` and ``PLANNED`` in ``sdgan_course/course.py``;
- the opening of every notebook's first code cell (the Colab set-up), from ``course.colab_setup_source()``;
- the "Open in Colab" badge under each notebook's title, from ``course.colab_url()`` (the badge image is
  ``notebooks/figures/colab-badge.svg``, so an offline notebook requests nothing);
- each notebook's kernelspec: what JupyterLab writes (``notebook_rules.KERNELSPEC``), so opening it changes nothing;
- the Mermaid block above each diagram's PNG link (``![...](figures/NAME.png)``), from ``tools/draw_diagrams.py``,
  and the collapsed ``<details>`` section that holds the PNG (so a reader whose front end draws Mermaid sees it once).

    python tools/sync_course.py          # rewrite what is out of date
    python tools/sync_course.py --check  # exit 1 if anything is out of date (the tests run this check)

A fork changes ``REPOSITORY`` in sdgan_course/course.py, runs this script, then re-renders the notebooks.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
if __name__ == "__main__" and not __package__:  # run as `python tools/NAME.py`: import as `-m tools.NAME` does
    import _as_package  # noqa: F401  (tools/_as_package.py: the repository root first on sys.path)
from sdgan_course.course import NOTEBOOKS, PLANNED, SETUP_MARKER, colab_setup_source, colab_url  # noqa: E402
from tools.draw_diagrams import DIAGRAMS, mermaid_block  # noqa: E402
from tools.notebook_rules import KERNELSPEC  # noqa: E402

# a Mermaid block and, under it, the PNG of the diagram it draws, collapsed (shown once where Mermaid renders, one
# click away where it does not, as on Colab)
DIAGRAM_PATTERN = re.compile(
    r"```mermaid\n.*?\n```\s*(?:<details><summary>[^<]*</summary>\s*)?(!\[[^\]]*\]\(figures/([\w-]+)\.png\))"
    r"(?:\s*</details>)?", re.DOTALL)
IMAGE_SUMMARY = "<details><summary>The same diagram as an image (if the diagram above does not show)</summary>"

BEGIN, END = "<!-- course-map:begin -->", "<!-- course-map:end -->"

# the badge line under a notebook's title (a local image: nothing is fetched from the network to show it)
BADGE_PATTERN = re.compile(r"^\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)$", re.MULTILINE)


def colab_badge(stem: str) -> str:
    return f"[![Open In Colab](figures/colab-badge.svg)]({colab_url(stem)})"


def course_map() -> str:
    rows = ["| # | notebook | what you learn | cpu | gpu (T4, est.) | Colab |", "|---|---|---|---|---|---|"]
    for nb in NOTEBOOKS:
        number = nb.stem[:2]
        badge = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(nb.stem)})"
        rows.append(
            f"| {number} | [{nb.title}](notebooks/{nb.stem}.ipynb) | {nb.topic} | {nb.minutes_cpu} min | "
            f"{nb.minutes_gpu} min | {badge} |"
        )
    for number, title, topic in PLANNED:
        rows.append(f"| {number} | {title} *(in preparation)* | {topic} | | | |")
    return "\n".join(rows)


def sync_readme(check: bool) -> list[str]:
    path = ROOT / "README.md"
    text = path.read_text()
    if BEGIN not in text or END not in text:
        return [f"README.md lacks the {BEGIN} ... {END} markers"]
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{course_map()}\n{END}{tail}"
    if new == text:
        return []
    if not check:
        path.write_text(new)
    return ["README.md course map"]


def sync_notebook(path: Path, check: bool) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not code:
        return [f"{path.name} has no code cell"]
    stale = []
    first = code[0]
    canonical = colab_setup_source()
    if not first.source.startswith(canonical):
        if SETUP_MARKER not in first.source:
            return [f"{path.name}: first code cell does not start with the course set-up (no {SETUP_MARKER!r})"]
        first.source = canonical + first.source.split(SETUP_MARKER, 1)[1]
        stale.append(f"{path.name} set-up cell")
    rest = first.source[len(canonical):]
    if rest.lstrip("\n").startswith(SETUP_MARKER):  # a repeated marker (an earlier sync's leftover)
        while rest.lstrip("\n").startswith(SETUP_MARKER):
            rest = rest.lstrip("\n")[len(SETUP_MARKER):]
        first.source = canonical + rest
        stale.append(f"{path.name} repeated set-up marker")
    stale += sync_badge(nb, path)
    if nb.metadata.get("kernelspec") != KERNELSPEC:
        nb.metadata["kernelspec"] = dict(KERNELSPEC)
        stale.append(f"{path.name} kernelspec")
    stale += sync_diagrams(nb, path.name)
    if stale and not check:
        nbformat.write(nb, path)
    return stale


def sync_badge(nb, path: Path) -> list[str]:
    """Put the "Open in Colab" badge on the line under the title of the notebook's first markdown cell."""
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    if not markdown or not markdown[0].source.startswith("# "):
        return [f"{path.name}: the first markdown cell does not start with the title ('# NN · ...')"]
    cell, badge = markdown[0], colab_badge(path.stem)
    title, _, body = cell.source.partition("\n")
    body = BADGE_PATTERN.sub("", body, count=1).lstrip("\n")
    new = f"{title}\n\n{badge}\n\n{body}".rstrip("\n")
    if new == cell.source:
        return []
    cell.source = new
    return [f"{path.name} Colab badge"]


def sync_diagrams(nb, name: str) -> list[str]:
    """Rewrite (in ``nb``) every Mermaid block that stands above a diagram's PNG link from tools/draw_diagrams.py."""
    diagrams = {d.name: d for d in DIAGRAMS}
    stale = []

    def fresh(match: re.Match) -> str:
        diagram = diagrams.get(match.group(2))
        if diagram is None:
            stale.append(f"{name}: figures/{match.group(2)}.png has a Mermaid block but no diagram in draw_diagrams.py")
            return match.group(0)
        return f"{mermaid_block(diagram)}\n\n{IMAGE_SUMMARY}\n\n{match.group(1)}\n\n</details>"

    for cell in nb.cells:
        if cell.cell_type == "markdown" and "```mermaid" in cell.source:
            new = DIAGRAM_PATTERN.sub(fresh, cell.source)
            if new != cell.source:
                cell.source = new
                stale.append(f"{name} diagram block")
    return stale


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = sync_readme(args.check)
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        stale += sync_notebook(path, args.check)
    for item in stale:
        print(("out of date: " if args.check else "updated: ") + item)
    return 1 if (stale and args.check) else 0


if __name__ == "__main__":
    raise SystemExit(main())
