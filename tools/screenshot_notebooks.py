"""Screenshot notebooks as JupyterLab shows them: file browser open, stored outputs, no cell executed.

What a learner sees depends on the window: markdown tables wrap and figures scale to the notebook panel's width, which
is the window less the sidebar. This script opens each notebook in a running JupyterLab at a chosen viewport width and
saves PNGs of every cell (each output of a code cell on its own), plus one shot of the whole window.

Install (nothing here downloads a browser; do NOT run `playwright install`):

    apt-get install -y chromium fonts-wqy-microhei       # Debian's Chromium at /usr/bin/chromium; a CJK font (nb 01)
    python3 -m venv /tmp/shotenv && /tmp/shotenv/bin/pip install playwright

Run (JupyterLab from the project's venv; JUPYTERLAB_SETTINGS_DIR keeps the temporary setting below out of ~/.jupyter):

    JUPYTERLAB_SETTINGS_DIR=/tmp/jlsettings .venv/bin/jupyter lab --no-browser --port 8899 \\
        --ServerApp.token='' --ServerApp.password='' --notebook-dir=.   # add --allow-root as root
    /tmp/shotenv/bin/python tools/screenshot_notebooks.py notebooks/*.ipynb --out /tmp/shots

Files: OUT/<notebook>/window.png, then cell_NNN.png for a markdown cell and cell_NNN_in.png, cell_NNN_out1.png, ... for
a code cell (NNN: the cell's index in the .ipynb; outK as JupyterLab shows them, consecutive streams merged), each
with _part1, _part2, ... when taller than the panel.
While it runs, the notebook setting windowingMode is set to "none" (so every cell is in the page) and put back at the
end. JupyterLab starts a kernel for each notebook it opens; the script runs nothing in it and shuts it down afterwards.
Nothing is edited, so nothing is saved (to be safe while someone works in the checkout, serve a copy of notebooks/).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from playwright.sync_api import Locator, Page, sync_playwright

TRACKER = "/lab/api/settings/@jupyterlab/notebook-extension:tracker"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
SCROLLER = f"{PANEL} .jp-WindowedPanel-outer"
# fetch() with the _xsrf cookie, which Jupyter Server wants on every request that changes something
API = """async ([method, url, body]) => {
  const xsrf = (document.cookie.match(/_xsrf=([^;]+)/) || [])[1] || '';
  const r = await fetch(url, {method, body, headers: {'X-XSRFToken': xsrf, 'Content-Type': 'application/json'}});
  return r.status === 204 ? null : await r.text();
}"""
# every image loaded and every markdown cell rendered; MathJax typesets after that, hence --settle-ms on top
SETTLED = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) img')].every(i => i.complete)
  && !document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-MarkdownCell:not(.jp-mod-rendered)')"""


def api(page: Page, method: str, url: str, body: dict | None = None) -> str | None:
    return page.evaluate(API, [method, url, None if body is None else json.dumps(body)])


def shoot_piece(page: Page, piece: Locator, box: dict, out: Path, name: str) -> None:
    """Save one element, scrolled to the top of the panel; one taller than the panel as name_part1.png, _part2, ..."""
    scroller = page.locator(SCROLLER)
    piece.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(150)  # let images and MathJax that just came into view paint
    top, height = piece.evaluate(
        "(e, s) => [e.getBoundingClientRect().top - s.getBoundingClientRect().top + s.scrollTop,"
        " e.getBoundingClientRect().height]",
        scroller.element_handle(),
    )
    parts = max(1, -(-int(height) // int(box["height"])))
    for k in range(parts):
        scroller.evaluate("(s, y) => { s.scrollTop = y; }", top + k * box["height"])
        page.wait_for_timeout(100)
        r = piece.bounding_box()
        y0, y1 = max(r["y"], box["y"]), min(r["y"] + r["height"], box["y"] + box["height"])
        if y1 - y0 >= 1:
            clip = {"x": r["x"], "y": y0, "width": r["width"], "height": y1 - y0}
            page.screenshot(path=out / (f"{name}.png" if parts == 1 else f"{name}_part{k + 1}.png"), clip=clip)


def shoot_notebook(page: Page, base: str, nb: str, out: Path, settle_ms: int) -> int:
    out.mkdir(parents=True, exist_ok=True)
    page.goto(f"{base}/lab/tree/{nb}?reset")  # ?reset: no tabs restored from an earlier run
    page.wait_for_selector(f"{PANEL} .jp-Cell", timeout=120_000)
    page.add_style_tag(content=".Toastify { display: none !important; }")  # the "notified about news?" toast
    if not page.is_visible("#jp-left-stack"):  # the file browser is the sidebar a learner usually has open
        page.click("[data-id='filebrowser']")
    page.wait_for_function(SETTLED, timeout=120_000)
    page.wait_for_timeout(settle_ms)
    page.screenshot(path=out / "window.png")
    box = page.locator(SCROLLER).bounding_box()
    cells = page.locator(f"{PANEL} .jp-WindowedPanel-viewport > .jp-Cell")
    n = cells.count()
    for i in range(n):
        cell = cells.nth(i)
        # a code cell in pieces (its input, then each output) so that no figure is cut in two; a markdown cell whole
        if "jp-CodeCell" in (cell.get_attribute("class") or ""):
            pieces = [("in", cell.locator(".jp-Cell-inputWrapper"))]
            outs = cell.locator(".jp-OutputArea-child")
            pieces += [(f"out{k + 1}", outs.nth(k)) for k in range(outs.count())]
        else:
            pieces = [("", cell)]
        for tag, piece in pieces:
            name = f"cell_{i:03d}" + (f"_{tag}" if tag else "")
            shoot_piece(page, piece, box, out, name)
    for s in json.loads(api(page, "GET", "/api/sessions") or "[]"):  # the kernel JupyterLab started: never used
        if s["path"] == nb:
            api(page, "DELETE", f"/api/sessions/{s['id']}")
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("notebooks", nargs="+", help="notebook paths relative to JupyterLab's --notebook-dir")
    ap.add_argument("--url", default="http://localhost:8899", help="running JupyterLab (no token)")
    ap.add_argument("--width", type=int, default=1400, help="viewport width in CSS pixels")
    ap.add_argument("--height", type=int, default=900, help="viewport height in CSS pixels")
    ap.add_argument("--out", type=Path, default=Path("/tmp/shots"), help="folder for the PNGs")
    ap.add_argument("--chromium", default="/usr/bin/chromium", help="browser executable (Debian's chromium)")
    ap.add_argument("--settle-ms", type=int, default=1500, help="extra wait after rendering looks finished")
    args = ap.parse_args()
    base = args.url.rstrip("/")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": args.width, "height": args.height})
        page.goto(f"{base}/lab?reset")
        page.wait_for_selector("#jp-main-dock-panel", timeout=120_000)
        old = json.loads(api(page, "GET", TRACKER) or "{}").get("raw", "{}")
        api(page, "PUT", TRACKER, {"raw": json.dumps({"windowingMode": "none"})})
        try:
            for nb in args.notebooks:
                n = shoot_notebook(page, base, nb, args.out / Path(nb).stem, args.settle_ms)
                print(f"{nb}: {n} cells -> {args.out / Path(nb).stem}")
        finally:
            api(page, "PUT", TRACKER, {"raw": old})
            browser.close()


if __name__ == "__main__":
    main()
