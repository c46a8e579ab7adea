"""Check the built course website: what a reader would find broken, without and with a browser.

    python tools/build_site.py && python tools/check_site.py              # static checks of _build/site
    python tools/check_site.py --browser                                   # and every page in headless Chromium

Static (Python's HTML parser, no browser): every local link and resource of every page exists (and its #anchor);
no page loads a script, style sheet, font or image from another host; every ```mermaid block of the sources is a
``<pre class="mermaid">`` on its page; every arXiv identifier in the prose is a link to its abstract; no widget view
is left as an empty box; each chapter has its Colab link (the README's), its .ipynb download (the course's file) and
previous/next links; the search page and index exist.

Browser (``--browser``; playwright from PyPI and Debian's Chromium at /usr/bin/chromium, as
tools/screenshot_notebooks.py: ``apt-get install -y chromium`` and ``pip install playwright``, never
``playwright install``): the site is served on 127.0.0.1 and every request to another host is blocked and reported.
On each page every equation is typeset by MathJax (no raw ``$$`` or ``\\(`` left, no MathJax error), every Mermaid
diagram is drawn (an ``<svg>`` in each block, not Mermaid's error picture), every image loads (naturalWidth > 0) and
no script error is thrown; a page with a diagram is also opened from file://, and a search returns results.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

if __name__ == "__main__" and not __package__:  # run as `python tools/NAME.py`: import as `-m tools.NAME` does
    import _as_package  # noqa: F401  (tools/_as_package.py: the repository root first on sys.path)
from sdgan_course.course import colab_url  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SITE = ROOT / "_build" / "site"
CHROMIUM = "/usr/bin/chromium"
ARXIV = re.compile(r"arXiv:(\d{4}\.\d{4,5}(?:v\d+)?)")
MERMAID_FENCE = re.compile(r"^```mermaid\s*$", re.MULTILINE)
REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
RESOURCE_TAGS = {"img", "script", "iframe", "source", "video", "audio", "embed"}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
NOT_PROSE_TAGS = {"a", "pre", "code", "script", "style", "title", "textarea"}


@dataclass
class Report:
    """What a check counted (None: not counted by this check) and what it found wrong."""

    pages: int = 0
    links: int | None = None
    images: int = 0
    mermaid: int = 0
    maths: int = 0
    arxiv: int | None = None
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        counts = [(self.pages, "pages"), (self.links, "local links and resources"), (self.images, "images"),
                  (self.mermaid, "Mermaid diagrams"), (self.maths, "equations"), (self.arxiv, "arXiv links")]
        head = ", ".join(f"{n} {what}" for n, what in counts if n is not None)
        if not self.problems:
            return head + ": no problem"
        return head + f": {len(self.problems)} problems\n" + "\n".join(f"  {p}" for p in self.problems)


class Page(HTMLParser):
    """What the checks need from one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.refs: list[tuple[str, str]] = []  # (tag, url) of every href and src
        self.remote_resources: list[str] = []
        self.classes: list[tuple[str, set[str], dict]] = []  # (tag, classes, attributes) of elements with classes
        self.unlinked_arxiv: list[str] = []
        self.arxiv_links: list[tuple[str, str]] = []  # (href, text)
        self._skip: list[str] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = {k: v or "" for k, v in attrs}
        for key in ("id", "name") if tag == "a" else ("id",):
            if attributes.get(key):
                self.ids.add(attributes[key])
        classes = set(attributes.get("class", "").split())
        if classes or tag == "script":
            self.classes.append((tag, classes, attributes))
        for key in ("href", "src"):
            if attributes.get(key):
                self.refs.append((tag, attributes[key]))
        url = attributes.get("src") if tag in RESOURCE_TAGS else attributes.get("href") if tag == "link" else None
        if url and REMOTE.match(url) and not (tag == "link" and attributes.get("rel") in ("canonical", "alternate")):
            self.remote_resources.append(f"<{tag}> {url}")
        if tag in NOT_PROSE_TAGS:
            self._skip.append(tag)
        if tag == "a":
            self._href = attributes.get("href", "")

    def handle_endtag(self, tag: str) -> None:
        if tag in NOT_PROSE_TAGS and tag in self._skip:
            while self._skip and self._skip.pop() != tag:
                pass
        if tag == "a":
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._href is not None and self._href.startswith("https://arxiv.org/abs/"):
            for match in ARXIV.finditer(data):
                self.arxiv_links.append((self._href, match.group(1)))
        elif not self._skip:
            self.unlinked_arxiv += [m.group(0) for m in ARXIV.finditer(data)]

    def count(self, tag: str, cls: str) -> int:
        return sum(1 for t, classes, _ in self.classes if t == tag and cls in classes)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def mermaid_in_sources(sources: Path) -> dict[str, int]:
    """The ```mermaid blocks of each staged source, by the HTML page it becomes."""
    import nbformat

    found = {}
    for path in sorted(sources.rglob("*")):
        if path.suffix == ".md":
            text = path.read_text(encoding="utf-8")
        elif path.suffix == ".ipynb":
            cells = nbformat.read(path, as_version=4).cells
            text = "\n".join(cell.source for cell in cells if cell.cell_type == "markdown")
        else:
            continue
        found[path.relative_to(sources).with_suffix(".html").as_posix()] = len(MERMAID_FENCE.findall(text))
    return found


def check_static(site: Path, sources: Path | None = None) -> Report:
    """The checks that need no browser (see the module docstring); ``sources``: the staged sources, for the diagrams."""
    report = Report(links=0, arxiv=0)
    pages = {p.relative_to(site).as_posix(): p for p in sorted(site.rglob("*.html")) if "_static" not in p.parts}
    parsed = {name: parse(path) for name, path in pages.items()}
    report.pages = len(parsed)
    for name, page in parsed.items():
        for tag, url in page.refs:
            parts = urlsplit(url)
            if parts.scheme or url.startswith("//"):
                continue
            report.links += 1
            target = (pages[name].parent / unquote(parts.path)).resolve() if parts.path else pages[name]
            if parts.path and not target.exists():
                report.problems.append(f"{name}: <{tag}> {url} does not exist")
            elif parts.fragment and target.suffix == ".html" and target.is_relative_to(site.resolve()):
                ids = parsed.get(target.relative_to(site.resolve()).as_posix())
                if ids is not None and parts.fragment not in ids.ids:
                    report.problems.append(f"{name}: <{tag}> {url}: no #{parts.fragment} there")
            if tag == "img":
                report.images += 1
        report.problems += [f"{name}: loads {r} from another host" for r in page.remote_resources]
        report.problems += [f"{name}: {a} is not a link" for a in page.unlinked_arxiv]
        for href, identifier in page.arxiv_links:
            if href != f"https://arxiv.org/abs/{identifier}":
                report.problems.append(f"{name}: arXiv:{identifier} links to {href}")
        report.arxiv += len(page.arxiv_links)
        report.mermaid += page.count("pre", "mermaid")
        report.maths += page.count("span", "math") + page.count("div", "math")
        if any(t == "script" and a.get("type") == WIDGET_VIEW for t, _, a in page.classes):
            report.problems.append(f"{name}: a widget view without its state (an empty box)")
        if name.startswith("notebooks/"):
            report.problems += chapter_problems(name, page, site)
    for css in sorted(site.rglob("*.css")):
        text = css.read_text(encoding="utf-8", errors="replace")
        for url in re.findall(r"url\(\s*['\"]?((?:https?:)?//[^)'\"]+)", text):
            report.problems.append(f"{css.relative_to(site)}: loads {url} from another host")
    if sources is not None:
        for name, expected in mermaid_in_sources(sources).items():
            drawn = parsed[name].count("pre", "mermaid") if name in parsed else 0
            if drawn != expected:
                report.problems.append(f"{name}: {expected} ```mermaid blocks in the source, {drawn} on the page")
    for needed in ("search.html", "searchindex.js", "index.html"):
        if not (site / needed).is_file():
            report.problems.append(f"{needed} is missing")
    return report


def chapter_problems(name: str, page: Page, site: Path) -> list[str]:
    """A chapter links to Colab (the README's address), to its own .ipynb, and to the previous and next pages."""
    stem = Path(name).stem
    hrefs = {url for tag, url in page.refs if tag == "a"}
    problems = []
    if colab_url(stem) not in hrefs:
        problems.append(f"{name}: no link to {colab_url(stem)}")
    download = f"../_sources/notebooks/{stem}.ipynb"
    if download not in hrefs or not (site / "_sources" / "notebooks" / f"{stem}.ipynb").is_file():
        problems.append(f"{name}: no download link {download} to an existing file")
    for cls in ("left-prev", "right-next"):
        if not any(cls in classes for t, classes, _ in page.classes if t == "a"):
            problems.append(f"{name}: no {cls} link")
    return problems


# Run in each page once it has loaded: MathJax's typesetting and Mermaid's drawing finished (or timed out), then the
# equations, diagrams and images as the reader sees them.
SETTLE = """async (timeoutMs) => {
  const deadline = Date.now() + timeoutMs;
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const images = [...document.images];
  images.forEach(i => { i.loading = "eager"; });
  const drawn = () => [...document.querySelectorAll("pre.mermaid")].every(e => e.querySelector("svg"));
  while (Date.now() < deadline && (!drawn() || images.some(i => !i.complete))) {
    await new Promise(r => setTimeout(r, 100));
  }
}"""
INSPECT = r"""() => {
  const maths = [...document.querySelectorAll(".math")];
  const skip = "pre, code, script, style, textarea, mjx-container";
  const raw = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, text = node.textContent;
    if (node.parentElement.closest(skip)) continue;
    if (/\$\$|\\\(|\\\[|\\begin\{|\$[^$\s][^$]*\\[a-zA-Z]+[^$]*\$/.test(text)) raw.push(text.trim().slice(0, 80));
  }
  const diagrams = [...document.querySelectorAll("pre.mermaid")];
  return {
    maths: maths.length,
    untypeset: maths.filter(e => !e.querySelector("mjx-container")).map(e => e.textContent.slice(0, 60)),
    mathErrors: [...document.querySelectorAll("mjx-merror")].map(e => e.textContent.slice(0, 60)),
    raw: raw,
    diagrams: diagrams.length,
    undrawn: diagrams.filter(e => !e.querySelector("svg")).length,
    diagramErrors: diagrams.filter(e => e.querySelector('svg[aria-roledescription="error"]')).length,
    images: document.images.length,
    broken: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute("src")),
  };
}"""


def inspect_page(page, url: str, name: str, report: Report, timeout_ms: int) -> dict:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url, wait_until="load")
    page.evaluate(SETTLE, timeout_ms)
    seen = page.evaluate(INSPECT)
    report.problems += [f"{name}: equation not typeset: {m!r}" for m in seen["untypeset"]]
    report.problems += [f"{name}: MathJax error: {m!r}" for m in seen["mathErrors"]]
    report.problems += [f"{name}: raw TeX left in the text: {t!r}" for t in seen["raw"]]
    if seen["undrawn"] or seen["diagramErrors"]:
        report.problems.append(f"{name}: {seen['undrawn']} of {seen['diagrams']} diagrams not drawn, "
                               f"{seen['diagramErrors']} drawn as Mermaid's error picture")
    report.problems += [f"{name}: image {src} did not load" for src in seen["broken"]]
    report.problems += [f"{name}: script error: {e}" for e in errors]
    return seen


def check_browser(site: Path, pages: list[str] | None = None, executable: str = CHROMIUM,
                  timeout_ms: int = 20000) -> Report:
    """Every page of ``site`` (or those in ``pages``, paths like "notebooks/01_the_landscape.html") in headless
    Chromium, served on 127.0.0.1, requests to other hosts blocked (module docstring)."""
    import functools
    import http.server
    import threading

    from playwright.sync_api import sync_playwright

    report = Report()
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    blocked: list[str] = []

    def route(request_route) -> None:
        url = request_route.request.url
        if url.startswith((base, "file://", "data:", "blob:")):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    names = pages or sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html") if "_static" not in p.parts)
    missing = [name for name in names if not (site / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{missing} are not pages of {site}: build the site first (tools/build_site.py)")
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", route)
            with_diagram = None
            for name in names:
                page = context.new_page()
                seen = inspect_page(page, base + name, name, report, timeout_ms)
                page.close()
                report.pages += 1
                report.maths += seen["maths"]
                report.mermaid += seen["diagrams"] - seen["undrawn"]
                report.images += seen["images"] - len(seen["broken"])
                with_diagram = with_diagram or (name if seen["diagrams"] else None)
            if with_diagram:  # opened from disk: classic scripts only (an ES-module import is refused from file://)
                page = context.new_page()
                url = (site / with_diagram).resolve().as_uri()
                inspect_page(page, url, f"file://{with_diagram}", report, timeout_ms)
                page.close()
            page = context.new_page()
            page.goto(base + "search.html?q=diffusion", wait_until="load")
            try:
                page.wait_for_selector("#search-results li", timeout=timeout_ms)
            except Exception:  # noqa: BLE001 (playwright's TimeoutError; reported as a problem)
                report.problems.append("search.html?q=diffusion: no result")
            page.close()
            browser.close()
    finally:
        server.shutdown()
    report.problems += [f"blocked a request to another host: {url}" for url in sorted(set(blocked))]
    return report


def browser_available(executable: str = CHROMIUM) -> str | None:
    """None when the browser check can run here, else why not."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; no `playwright install`)"
    if not Path(executable).is_file():
        return f"no Chromium at {executable} (apt-get install -y chromium)"
    return None


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", nargs="?", type=Path, default=DEFAULT_SITE, help="the built site (default _build/site)")
    parser.add_argument("--browser", action="store_true", help="also open every page in headless Chromium")
    parser.add_argument("--chromium", default=CHROMIUM, help=f"the browser to drive (default {CHROMIUM})")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        print(f"{args.site} holds no built site: run `python tools/build_site.py` first")
        return 2
    sources = args.site.with_name(args.site.name + "_src")
    report = check_static(args.site, sources if sources.is_dir() else None)
    print("static: " + report.summary())
    failed = bool(report.problems)
    if args.browser:
        why_not = browser_available(args.chromium)
        if why_not:
            print(f"browser: cannot run: {why_not}")
            return 2
        browser_report = check_browser(args.site, executable=args.chromium)
        print("browser: " + browser_report.summary())
        failed = failed or bool(browser_report.problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
