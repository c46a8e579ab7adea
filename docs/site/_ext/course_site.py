"""The course website's own Sphinx extension: arXiv citations as links, and Mermaid drawn offline (also from file://).

1. ``arXiv:2112.10752`` in the text of a page (markdown cells, markdown outputs, the READMEs) becomes a link to
   https://arxiv.org/abs/2112.10752. Code, code outputs, maths and existing links are left alone.
2. sphinxcontrib-mermaid writes each diagram as ``<pre class="mermaid">`` (``mermaid_output_format = "raw"``), but its
   script is an ES module that imports Mermaid (a CDN by default, or ``mermaid_use_local``). Browsers refuse module
   imports from ``file://`` pages, so a site opened from disk (a classroom without a server) would show the diagrams'
   source. This extension replaces that script, on pages with a diagram only, by two classic scripts: the vendored
   ``mermaid.min.js`` (``course_mermaid_js``, under html_static_path) and a call to ``mermaid.run``.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform
from sphinxcontrib import mermaid as sphinx_mermaid

ARXIV = re.compile(r"arXiv:(\d{4}\.\d{4,5})(v\d+)?")
# Text under these is not prose: leave it as it is.
NOT_PROSE = (nodes.reference, nodes.literal, nodes.FixedTextElement, nodes.raw, nodes.math, nodes.math_block,
             nodes.comment, nodes.target)
RUN_MERMAID = """document.addEventListener("DOMContentLoaded", () => {
  const dark = document.documentElement.dataset.theme === "dark";
  mermaid.initialize({startOnLoad: false, theme: dark ? "dark" : "default"});
  mermaid.run({querySelector: "pre.mermaid"});
});"""


def arxiv_url(identifier: str) -> str:
    return f"https://arxiv.org/abs/{identifier}"


def link_arxiv(text: str) -> list[nodes.Node]:
    """``text`` as Text nodes with each arXiv identifier made a reference; [Text(text)] when there is none."""
    parts: list[nodes.Node] = []
    last = 0
    for match in ARXIV.finditer(text):
        if match.start() > last:
            parts.append(nodes.Text(text[last:match.start()]))
        identifier = match.group(1) + (match.group(2) or "")
        parts.append(nodes.reference(match.group(0), match.group(0), refuri=arxiv_url(identifier), classes=["arxiv"]))
        last = match.end()
    if last < len(text):
        parts.append(nodes.Text(text[last:]))
    return parts


class ArxivLinks(SphinxTransform):
    """Make every arXiv identifier in a page's prose a link to its abstract page."""

    default_priority = 700  # after the parsers' own transforms, before Sphinx resolves references

    def apply(self, **kwargs) -> None:
        for text in list(self.document.findall(nodes.Text)):
            if "arXiv:" not in text or self._in_code(text):
                continue
            parts = link_arxiv(str(text))
            if len(parts) > 1 or not isinstance(parts[0], nodes.Text):
                text.parent.replace(text, parts)

    @staticmethod
    def _in_code(node: nodes.Node) -> bool:
        parent = node.parent
        while parent is not None:
            if isinstance(parent, NOT_PROSE):
                return True
            parent = parent.parent
        return False


def add_mermaid_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """On a page with a diagram: the vendored Mermaid (deferred: 3.6 MB) and the call that draws the diagrams."""
    if doctree is None or doctree.next_node(sphinx_mermaid.mermaid) is None:
        return
    app.add_js_file(app.config.course_mermaid_js, defer="defer")
    app.add_js_file(None, body=RUN_MERMAID)


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinxcontrib.mermaid")
    for listener in list(app.events.listeners.get("html-page-context", [])):
        if listener.handler is sphinx_mermaid.install_js:
            app.disconnect(listener.id)  # its ES-module script cannot load from file:// (see the module docstring)
    app.add_config_value("course_mermaid_js", "vendor/mermaid/mermaid.min.js", "html")
    app.add_transform(ArxivLinks)
    app.connect("html-page-context", add_mermaid_scripts)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
