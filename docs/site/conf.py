"""Sphinx configuration of the course's website (built by ``python tools/build_site.py``; see docs/site/README.md).

The sources are not here: tools/build_site.py stages copies of README.md (as the home page), README.zh-CN.md,
docs/glossary.md, docs/teaching.md and notebooks/*.ipynb in ``_build/site_src`` and runs Sphinx with this folder as
its configuration folder. The notebooks' stored outputs (the cpu profile's) are shown as they are: nothing is
executed. Nothing is fetched at build or view time: MathJax and Mermaid come from ``_static/vendor``.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))  # this folder's own extension (not a tools/ script: Sphinx loads it by name)
sys.path.insert(0, str(HERE.parent.parent))  # the checkout: the course's address comes from sdgan_course.course

from sdgan_course.course import BRANCH, REPOSITORY  # noqa: E402

project = "From GANs to Stable Diffusion"
html_title = "From GANs to Stable Diffusion"
author = "the sdgan_course authors"
copyright = "the sdgan_course authors, MIT licence"  # noqa: A001 (Sphinx's name)
language = "en"

extensions = ["myst_nb", "sphinxcontrib.mermaid", "course_site"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# --- notebooks: the stored outputs, never executed -----------------------------------------------------------------
nb_execution_mode = "off"
nb_merge_streams = True
# Markdown outputs (display(Markdown(...))) carry $maths$ too: parse them as MyST (myst-nb's default is commonmark).
nb_render_markdown_format = "myst"
# No widget state is stored in the notebooks (tools/notebook_rules.py drops it), so a widget view would be an empty
# box: drop the view and show its text/plain placeholder; every widget cell also prints a static picture after it.
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_ipywidgets_js = {}  # myst-nb's default loads require.js and the widget manager from two CDNs

# --- MyST: dollar maths, ```mermaid fences as diagrams, heading anchors for the README's links ---------------------
myst_enable_extensions = ["dollarmath", "amsmath", "html_image", "strikethrough"]
myst_fence_as_directive = ["mermaid"]
myst_heading_anchors = 3

# --- offline: MathJax 3 (SVG output, all TeX extensions in one file) and Mermaid from _static/vendor ----------------
html_static_path = ["_static"]
mathjax_path = "vendor/mathjax/tex-svg-full.js"
mathjax3_config = {"svg": {"fontCache": "global"}}
mermaid_output_format = "raw"  # <pre class="mermaid">, drawn in the browser by the vendored mermaid.min.js
course_mermaid_js = "vendor/mermaid/mermaid.min.js"  # read by course_site (see there why not mermaid_use_local)

# --- the theme ------------------------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_css_files = ["course.css"]
html_sourcelink_suffix = ""  # _sources/notebooks/NN_x.ipynb is the notebook itself (the download button's target)
html_last_updated_fmt = None
html_theme_options = {
    "repository_url": REPOSITORY,
    "repository_branch": BRANCH,
    "path_to_docs": "",  # the staged sources mirror the repository: notebooks/NN_x.ipynb
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "use_download_button": True,
    "use_repository_button": True,
    "use_fullscreen_button": False,
    "show_navbar_depth": 1,
    "home_page_in_toc": True,
    "navigation_with_keys": False,
}
