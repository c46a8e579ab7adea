"""The course as a website (issue 24): tools/build_site.py builds every notebook into a chapter, offline, executing
nothing, and tools/check_site.py finds no broken link, missing image, undrawn diagram or unlinked arXiv citation.

The whole site is built once (about 10 s on one core). The headless-Chromium part runs on a few pages when playwright
and /usr/bin/chromium are present (CI's separate step opens every page) and is skipped otherwise.
"""

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sdgan_course.course import NOTEBOOKS, colab_url
from tools.build_site import CLAIM, PAGES, claim_as_html, rewrite_links, stage
from tools.check_site import MERMAID_FENCE, browser_available, check_browser, check_static

ROOT = Path(__file__).resolve().parent.parent
SITE_PACKAGES = ("sphinx", "myst_nb", "sphinx_book_theme", "sphinxcontrib.mermaid")  # the `site` extra (in `dev`)


@pytest.fixture(scope="module")
def course_site():
    """docs/site/_ext/course_site.py, the site's Sphinx extension."""
    for package in SITE_PACKAGES:
        pytest.importorskip(package)
    sys.path.insert(0, str(ROOT / "docs" / "site" / "_ext"))
    try:
        import course_site
    finally:
        sys.path.remove(str(ROOT / "docs" / "site" / "_ext"))
    return course_site


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    for package in SITE_PACKAGES:
        pytest.importorskip(package)
    out = tmp_path_factory.mktemp("site") / "site"
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "build_site.py"), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def test_every_notebook_is_a_chapter_and_the_static_checks_pass(site):
    report = check_static(site, site.with_name("site_src"))
    assert not report.problems, report.summary()
    # the four pages, every notebook, and Sphinx's search and index pages
    assert report.pages == len(PAGES) + len(NOTEBOOKS) + 2, report.summary()
    notebooks = [json.loads((ROOT / "notebooks" / f"{nb.stem}.ipynb").read_text()) for nb in NOTEBOOKS]
    cells = [cell for notebook in notebooks for cell in notebook["cells"] if cell["cell_type"] == "markdown"]
    fences = sum(len(MERMAID_FENCE.findall("".join(cell["source"]))) for cell in cells)
    assert fences > 0 and report.mermaid == fences, report.summary()
    assert report.arxiv > 100 and report.maths > 100 and report.images > len(NOTEBOOKS), report.summary()


def test_the_home_page_is_the_readme_with_its_links_on_the_site(site):
    home = (site / "index.html").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    title = re.search(r"^# (.+)$", readme, re.MULTILINE).group(1)
    assert title.split(" — ")[0] in home
    for nb in NOTEBOOKS:
        assert f'href="notebooks/{nb.stem}.html"' in home, nb.stem  # the course map's link: the chapter
        assert f'href="{colab_url(nb.stem)}"' in home, nb.stem  # and its Colab badge, the README's address
    assert 'href="docs/glossary.html"' in home and 'href="README.zh-CN.html"' in home
    assert "colab.research.google.com/assets" not in home  # the badge image is the local copy


def test_chapters_show_the_stored_outputs_and_download_the_course_notebook(site):
    """Nothing is executed: each chapter shows the stored claim checks, word for word, and its download button gives
    the repository's own file (not the staged copy)."""
    for nb in NOTEBOOKS:
        page = (site / "notebooks" / f"{nb.stem}.html").read_text(encoding="utf-8")
        stored = (ROOT / "notebooks" / f"{nb.stem}.ipynb").read_bytes()
        assert (site / "_sources" / "notebooks" / f"{nb.stem}.ipynb").read_bytes() == stored
        claims = [output["data"][CLAIM]["statement"] for cell in json.loads(stored)["cells"]
                  for output in cell.get("outputs", []) if CLAIM in output.get("data", {})]
        for statement in claims:
            assert html.escape(statement) in page, (nb.stem, statement)
        assert "application/vnd.jupyter.widget-view+json" not in page
        # the Colab set-up is folded (one click opens it), not dropped
        assert page.count("hide above-input") == 1 and "google.colab" in page, nb.stem


def test_arxiv_identifiers_become_links_and_code_is_left_alone(course_site):
    from docutils import nodes

    parts = course_site.link_arxiv("(Rombach et al. 2022, arXiv:2112.10752; arXiv:1406.2661v3).")
    links = [p for p in parts if isinstance(p, nodes.reference)]
    assert [p["refuri"] for p in links] == ["https://arxiv.org/abs/2112.10752", "https://arxiv.org/abs/1406.2661v3"]
    assert "".join(p.astext() for p in parts) == "(Rombach et al. 2022, arXiv:2112.10752; arXiv:1406.2661v3)."
    assert course_site.link_arxiv("no identifier, arXiv: 12") == [nodes.Text("no identifier, arXiv: 12")]
    code = nodes.literal_block("", "", nodes.Text("see arXiv:2112.10752"))
    assert course_site.ArxivLinks._in_code(code.children[0])


def test_links_are_rewritten_for_the_site():
    staged = dict(PAGES) | {"notebooks/05_training_a_gan.ipynb": "notebooks/05_training_a_gan.ipynb"}
    text = ("[05](notebooks/05_training_a_gan.ipynb) [09](notebooks/09_diffusion_from_scratch.ipynb#goals) "
            "[licence](LICENSE) [away](https://example.org) [here](#course-map) "
            "![badge](https://colab.research.google.com/assets/colab-badge.svg)")
    rewritten = rewrite_links(text, "README.md", staged)
    assert "[05](notebooks/05_training_a_gan.ipynb)" in rewritten  # staged: Sphinx makes it the chapter's page
    assert "(https://github.com/sdgan-course/sdgan_course/blob/main/notebooks/09_diffusion_from_scratch.ipynb#goals)" \
        in rewritten  # not staged (a partial build): the file on GitHub
    assert "(https://github.com/sdgan-course/sdgan_course/blob/main/LICENSE)" in rewritten
    assert "(https://example.org)" in rewritten and "(#course-map)" in rewritten
    assert "![badge](notebooks/figures/colab-badge.svg)" in rewritten
    zh = rewrite_links("[English](README.md) [术语表](docs/glossary.md)", "README.zh-CN.md", staged)
    assert zh == "[English](index.md) [术语表](docs/glossary.md)"
    assert rewrite_links("[zh](../README.zh-CN.md)", "docs/teaching.md", staged) == "[zh](../README.zh-CN.md)"


def test_a_claim_output_becomes_a_sentence_with_its_mark():
    output = {"data": {CLAIM: {"statement": "a < b", "holds": False, "evidence": "3 vs 2"}, "text/plain": "✗ ..."}}
    claim_as_html(output)
    assert CLAIM not in output["data"]
    assert output["data"]["text/html"] == ('<p class="claim claim-fails"><span class="claim-mark">✗</span> claim: '
                                           'a &lt; b <span class="claim-evidence">(3 vs 2)</span></p>')


def test_an_unknown_notebook_is_refused_with_the_choices(tmp_path):
    with pytest.raises(SystemExit, match="00_start_here"):
        stage(tmp_path, only=["05_training_a_gun"])


def test_the_static_checks_catch_each_kind_of_fault(tmp_path):
    """A hand-made site with one fault of each kind: each is reported (the checks above could not pass by accident)."""
    (tmp_path / "search.html").write_text("<html></html>")
    (tmp_path / "searchindex.js").write_text("")
    (tmp_path / "index.html").write_text(
        '<html><head><script src="https://cdn.example.org/x.js"></script></head><body>'
        '<a href="missing.html">x</a> <a href="search.html#nowhere">y</a> <img src="gone.png">'
        '<p>Rombach et al. 2022, arXiv:2112.10752</p> <a href="https://arxiv.org/abs/1406.2661">arXiv:2112.10752</a>'
        '<pre>arXiv:1406.2661 in code is fine</pre>'
        '<script type="application/vnd.jupyter.widget-view+json">{}</script></body></html>')
    src = tmp_path.with_name(tmp_path.name + "_src")
    src.mkdir()
    (src / "index.md").write_text("```mermaid\nflowchart LR\n  a --> b\n```\n")
    problems = "\n".join(check_static(tmp_path, src).problems)
    for fault in ("missing.html does not exist", "no #nowhere there", "gone.png does not exist",
                  "loads <script> https://cdn.example.org/x.js from another host", "arXiv:2112.10752 is not a link",
                  "arXiv:2112.10752 links to https://arxiv.org/abs/1406.2661", "widget view without its state",
                  "1 ```mermaid blocks in the source, 0 on the page"):
        assert fault in problems, (fault, problems)
    assert "1406.2661 in code" not in problems and problems.count("is not a link") == 1


@pytest.mark.skipif(browser_available() is not None, reason=str(browser_available()))
def test_pages_in_headless_chromium(site):
    """Equations typeset, diagrams drawn (also from file://), images loaded, nothing fetched from another host, and
    the search answers: on the home page, the chapter with the diagrams and one with widgets (CI's separate step,
    `python tools/check_site.py --browser`, opens every page)."""
    pages = ["index.html", "notebooks/01_the_landscape.html", "notebooks/05_training_a_gan.html"]
    report = check_browser(site, pages)
    assert not report.problems, report.summary()
    assert report.mermaid >= 2 and report.maths > 100 and report.images > 10, report.summary()
