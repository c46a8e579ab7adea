"""Build the course as a static website from the stored notebooks, offline, executing nothing.

    python tools/build_site.py                       # the whole course into _build/site/ (open _build/site/index.html)
    python tools/build_site.py --only 01_the_landscape 05_training_a_gan --out /tmp/site   # a few chapters
    python tools/build_site.py --check               # then the static checks of tools/check_site.py

Sphinx with myst-nb and sphinx-book-theme (configuration and the reasons for it: docs/site/README.md). Each notebook
is a chapter with its stored cpu-profile outputs (myst-nb's execution is off), README.md is the home page, then the
glossary, the teachers' guide and the Chinese README. The sources are staged as copies in ``<out>_src`` (the files of
the checkout are never edited): a link to a staged file points to its page, a link to another file of the checkout
points to it on GitHub (``REPOSITORY`` of sdgan_course/course.py), and the README's remote Colab badge becomes the
course's local copy, so that no page fetches anything. Sphinx's warnings fail the build (``--no-strict`` keeps them
as warnings): a link to a missing page, for instance, is a warning.
"""

from __future__ import annotations

import argparse
import html
import json
import posixpath
import re
import shutil
import sys
import time
from pathlib import Path
from typing import NamedTuple

if __name__ == "__main__" and not __package__:  # run as `python tools/NAME.py`: import as `-m tools.NAME` does
    import _as_package  # noqa: F401  (tools/_as_package.py: the repository root first on sys.path)
from sdgan_course.course import BRANCH, NOTEBOOKS, REPOSITORY, SETUP_MARKER  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "docs" / "site"
DEFAULT_OUT = ROOT / "_build" / "site"
# The pages besides the notebooks: where each file of the checkout lands among the staged sources.
PAGES = {"README.md": "index.md", "README.zh-CN.md": "README.zh-CN.md",
         "docs/glossary.md": "docs/glossary.md", "docs/teaching.md": "docs/teaching.md"}
FIGURES = "notebooks/figures"
# Remote images that the sources show, and the course's own copy of each (a page must fetch nothing).
LOCAL_IMAGES = {"https://colab.research.google.com/assets/colab-badge.svg": "notebooks/figures/colab-badge.svg"}
# A markdown link's target: ](target) or ](target "title")
LINK = re.compile(r'\]\((?P<target>[^)\s]+)(?P<title>\s+"[^"]*")?\)')
CLAIM = "application/vnd.sdgan-course.claim+json"  # sdgan_course.course.claim's output; myst-nb does not know it
# The sidebar after the chapters: (page, its title in the sidebar); the home page comes first on its own.
REFERENCE = (("docs/glossary", "Glossary 术语表"), ("docs/teaching", "For teachers"), ("README.zh-CN", "中文 (README)"))


class Built(NamedTuple):
    out: Path
    sources: Path
    pages: list[str]  # the staged source files, relative to ``sources``
    seconds: float
    warnings: str


def rewrite_links(text: str, source: str, staged: dict[str, str]) -> str:
    """``text`` (markdown from ``source``, a path in the checkout) with each relative link pointing where it lands on
    the site: a staged file's page, else the file on GitHub; remote images in LOCAL_IMAGES become local ones."""
    page = staged[source]

    def target_of(match: re.Match) -> str:
        target = match.group("target")
        path, hash_, fragment = target.partition("#")
        if target in LOCAL_IMAGES:
            new = posixpath.relpath(LOCAL_IMAGES[target], posixpath.dirname(page) or ".")
        elif re.match(r"^[a-z][a-z0-9+.-]*:", target) or not path:  # a URL, mailto: or an anchor on the same page
            new = target
        else:
            in_repo = posixpath.normpath(posixpath.join(posixpath.dirname(source), path))
            lands = staged.get(in_repo) or (in_repo if in_repo.startswith(FIGURES + "/") else None)
            if lands is not None:
                new = posixpath.relpath(lands, posixpath.dirname(page) or ".") + hash_ + fragment
            elif (ROOT / in_repo).exists() and not in_repo.startswith(".."):
                kind = "tree" if (ROOT / in_repo).is_dir() else "blob"
                new = f"{REPOSITORY}/{kind}/{BRANCH}/{in_repo}" + hash_ + fragment
            else:
                new = target  # Sphinx warns about it (a strict build fails)
        return f"]({new}{match.group('title') or ''})"

    return LINK.sub(target_of, text)


def claim_as_html(output: dict) -> None:
    """A claim check's stored output, in place: its own mime type becomes HTML that wraps on a phone (its text/plain
    would be a wide code block); the notebook's copy only, as the claim's statement, evidence, ✓ or ✗."""
    claim = output.get("data", {}).pop(CLAIM, None)
    if claim is None:
        return
    mark, kind = ("✓", "holds") if claim["holds"] else ("✗", "fails")
    evidence = f' <span class="claim-evidence">({html.escape(claim["evidence"])})</span>' if claim["evidence"] else ""
    output["data"]["text/html"] = (f'<p class="claim claim-{kind}"><span class="claim-mark">{mark}</span> claim: '
                                   f'{html.escape(claim["statement"])}{evidence}</p>')


def toctree(stems: list[str]) -> str:
    """The hidden tables of contents that make the sidebar: the chapters in course order, then the references."""
    chapters = "\n".join(f"notebooks/{stem}" for stem in stems)
    reference = "\n".join(f"{title} <{page}>" for page, title in REFERENCE)
    return (f"\n\n```{{toctree}}\n:hidden:\n:caption: The course\n\n{chapters}\n```\n\n"
            f"```{{toctree}}\n:hidden:\n:caption: Reference\n\n{reference}\n```\n")


def write_if_changed(path: Path, data: bytes) -> None:
    """Keep an unchanged file's time stamp, so that Sphinx rebuilds only what changed."""
    if not path.is_file() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def stage(sources: Path, only: list[str] | None = None) -> list[str]:
    """Copy the pages and notebooks (all, or the stems in ``only``, in course order) into ``sources``, links rewritten;
    remove what an earlier staging left there. Return the staged files, relative to ``sources``."""
    stems = [nb.stem for nb in NOTEBOOKS]
    if only is not None:
        unknown = sorted(set(only) - set(stems))
        if unknown:
            raise SystemExit(f"--only: {unknown} are not notebooks of the course map; choose among {stems}")
        stems = [stem for stem in stems if stem in only]
    missing = [stem for stem in stems if not (ROOT / "notebooks" / f"{stem}.ipynb").is_file()]
    if missing:
        raise SystemExit(f"notebooks {missing} are in the course map (sdgan_course/course.py) but not in notebooks/")
    staged = dict(PAGES) | {f"notebooks/{stem}.ipynb": f"notebooks/{stem}.ipynb" for stem in stems}
    for source, page in PAGES.items():
        text = rewrite_links((ROOT / source).read_text(encoding="utf-8"), source, staged)
        if page == "index.md":
            text += toctree(stems)
        write_if_changed(sources / page, text.encode("utf-8"))
    for stem in stems:
        source = f"notebooks/{stem}.ipynb"
        notebook = json.loads((ROOT / source).read_text(encoding="utf-8"))
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code" and SETUP_MARKER in "".join(cell["source"]):
                # the Colab set-up (40 lines a web reader does not need): folded, one click opens it
                cell.setdefault("metadata", {}).setdefault("tags", []).append("hide-input")
            if cell["cell_type"] == "markdown":
                text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
                cell["source"] = rewrite_links(text, source, staged)
            for output in cell.get("outputs", []):
                claim_as_html(output)
        write_if_changed(sources / source, (json.dumps(notebook, ensure_ascii=False, indent=1) + "\n").encode())
    figures = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / FIGURES).iterdir() if p.is_file())
    for figure in figures:
        write_if_changed(sources / figure, (ROOT / figure).read_bytes())
    kept = set(staged.values()) | set(figures)
    for path in sorted(sources.rglob("*")):
        if path.is_file() and path.relative_to(sources).as_posix() not in kept:
            path.unlink()
    return sorted(kept)


def build(out: Path = DEFAULT_OUT, only: list[str] | None = None, strict: bool = True) -> Built:
    """Stage the sources in ``<out>_src`` and run Sphinx into ``out`` (doctrees in ``<out>_doctrees``; myst-nb puts
    the outputs' images in ``<out>/../jupyter_execute`` on the way). Raises SystemExit when Sphinx fails."""
    try:
        from sphinx.cmd.build import build_main
    except ImportError as error:
        raise SystemExit(f"the website needs Sphinx and its extensions ({error}): pip install -e \".[site]\"") from None

    start = time.perf_counter()
    out = out.resolve()
    sources, doctrees = out.with_name(out.name + "_src"), out.with_name(out.name + "_doctrees")
    pages = stage(sources, only)
    warnings_file = out.with_name(out.name + "_warnings.txt")
    argv = ["-b", "html", "-c", str(CONF), "-d", str(doctrees), "-w", str(warnings_file), "-q",
            str(sources), str(out)]
    if strict:
        argv[:0] = ["-W", "--keep-going"]
    status = build_main(argv)
    warnings = warnings_file.read_text(encoding="utf-8") if warnings_file.is_file() else ""
    if status != 0:
        raise SystemExit(f"Sphinx failed (exit status {status}); its warnings:\n{warnings}")
    for page in pages:  # the download button's notebook is the course's own file, not the staged copy
        if page.endswith(".ipynb"):
            shutil.copyfile(ROOT / page, out / "_sources" / page)
    for source_map in (out / "_static").rglob("*.map"):  # the theme's source maps: 3.5 MB only a debugger reads
        source_map.unlink()
    return Built(out, sources, pages, time.perf_counter() - start, warnings)


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the site's folder (default: _build/site)")
    parser.add_argument("--only", nargs="+", metavar="STEM", help="build these notebooks only (e.g. 05_training_a_gan)")
    parser.add_argument("--no-strict", action="store_true", help="keep Sphinx's warnings as warnings")
    parser.add_argument("--check", action="store_true", help="then run tools/check_site.py's static checks")
    args = parser.parse_args(argv)
    built = build(args.out, args.only, strict=not args.no_strict)
    print(f"built {len(built.pages)} sources into {built.out} in {built.seconds:.1f} s "
          f"({size_mb(built.out):.1f} MB); open {built.out / 'index.html'}")
    if built.warnings.strip():
        print(built.warnings)
    if args.check:
        from tools.check_site import check_static

        report = check_static(built.out, built.sources)
        print(report.summary())
        return 1 if report.problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
