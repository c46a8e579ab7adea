"""The rules for notebooks in git (README, "How the notebooks are kept"), checked on every notebook."""

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from sdgan_course.course import NOTEBOOKS, colab_setup_source, colab_url
from tools.notebook_rules import (  # the repository root is on sys.path: conftest.py sits there
    KERNELSPEC,
    WIDGET_PLACEHOLDER,
    WIDGET_VIEW,
    code_hash,
    has_outputs,
    stored_claims,
    tidy_widget_outputs,
)

ROOT = Path(__file__).resolve().parent.parent

PATHS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_every_notebook_is_in_the_course_map_and_back():
    assert {p.stem for p in PATHS} == {nb.stem for nb in NOTEBOOKS}


def test_readme_and_colab_cells_are_in_sync_with_course_py():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "sync_course.py"), "--check"], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr + "\nRun: python tools/sync_course.py"


def test_the_course_maps_cpu_minutes_are_the_stored_render_times():
    """minutes_cpu is measured, not guessed: the stored cpu-profile render's seconds, rounded up to whole minutes."""
    import math

    for entry in NOTEBOOKS:
        meta = nbformat.read(ROOT / "notebooks" / f"{entry.stem}.ipynb", as_version=4).metadata["sdgan_course"]
        assert entry.minutes_cpu == max(1, math.ceil(meta["seconds"] / 60)), (
            f"{entry.stem}: rendered in {meta['seconds']} s; set minutes_cpu in sdgan_course/course.py, then run "
            "python tools/sync_course.py")


def test_the_stored_kernelspec_is_what_jupyterlab_writes():
    """JupyterLab rewrites the kernelspec from the installed kernel when it opens a notebook; a different stored one
    marks every notebook modified on open (a save prompt on close)."""
    from ipykernel.kernelspec import KERNEL_NAME, get_kernel_dict

    installed = get_kernel_dict()
    assert KERNELSPEC == {"name": KERNEL_NAME, "display_name": installed["display_name"],
                          "language": installed["language"]}
    for path in PATHS:
        assert nbformat.read(path, as_version=4).metadata.get("kernelspec") == KERNELSPEC, (
            f"{path.name}: run python tools/sync_course.py")


def test_every_notebook_has_its_open_in_colab_badge_and_it_fetches_nothing():
    for path in PATHS:
        nb = nbformat.read(path, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "markdown").source
        assert f"[![Open In Colab](figures/colab-badge.svg)]({colab_url(path.stem)})" in first.splitlines()[:3], (
            f"{path.name}: no badge under the title; run python tools/sync_course.py")
    assert (ROOT / "notebooks" / "figures" / "colab-badge.svg").is_file()


# a script, stylesheet or font fetched from elsewhere (a CDN): offline it fails, online it is a request nobody asked for
EXTERNAL = re.compile(r"""<(?:script|link|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//"""
                      r"""|url\(\s*["']?(?:https?:)?//|@import\s+["']?(?:https?:)?//|font-?awesome|cdnjs|cdn\.jsdelivr|unpkg\.com"""
                      r"""|fonts\.googleapis""", re.IGNORECASE)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_no_output_fetches_scripts_or_fonts_from_the_network(path):
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        texts = [cell.source] if cell.cell_type == "markdown" else []
        for output in cell.get("outputs", []):
            for mime, value in output.get("data", {}).items():
                if mime.startswith(("text/", "application/javascript", "image/svg")):
                    texts.append(value if isinstance(value, str) else "".join(value))
        for text in texts:
            found = EXTERNAL.search(text)
            assert not found, f"{path.name}, cell {index}: {found.group(0)!r} is fetched from the network"


def _widget_output(text):
    return nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {"model_id": "m", "version_major": 2,
                                                                      "version_minor": 0}, "text/plain": text})


def test_tidy_widget_outputs_drops_frozen_bars_and_replaces_widget_reprs():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("train()", outputs=[
        nbformat.v4.new_output("stream", text="2 parameters\n"),
        _widget_output("GAN training:   0%|          | 0/2000 [00:00<?, ?step/s]"),
        _widget_output("VBox(children=(HBox(children=(Play(value=0),)),))"),
        _widget_output("Output()"),
        nbformat.v4.new_output("stream", text="2000 steps in 9.0 s\n"),
    ])])
    assert tidy_widget_outputs(nb) == 3
    outputs = nb.cells[0].outputs
    assert [o.get("text", o.get("data", {}).get("text/plain")) for o in outputs] == [
        "2 parameters\n", WIDGET_PLACEHOLDER, "2000 steps in 9.0 s\n"]
    assert tidy_widget_outputs(nb) == 0  # idempotent


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_no_stored_widget_shows_its_python_repr_or_a_frozen_progress_bar(path):
    """Widget state is not stored, so JupyterLab shows a widget's text/plain until its cell runs again: it must be
    the placeholder (tools/render_notebooks.py writes it), not "VBox(children=..." or a bar at 0 %."""
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if WIDGET_VIEW in output.get("data", {}):
                assert output["data"].get("text/plain") == WIDGET_PLACEHOLDER, (
                    f"{path.name}, cell {index}: re-render it with python tools/render_notebooks.py")


# JupyterLab at 1,400 px with the file browser open gives a cell output about 960 px (measured with
# tools/screenshot_notebooks.py); a wider figure is scaled down to fit, its text with it. At 1,200 px (a 12-inch figure
# at 100 dpi) the text is shown at 80 % of its size, about the smallest that stays comfortable to read.
MAX_FIGURE_WIDTH = 1200


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_no_stored_figure_is_so_wide_that_jupyterlab_shrinks_its_text_unreadably(path):
    import base64
    import io

    from PIL import Image

    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if "image/png" in output.get("data", {}):
                width = Image.open(io.BytesIO(base64.b64decode(output["data"]["image/png"]))).size[0]
                assert width <= MAX_FIGURE_WIDTH, (
                    f"{path.name}, cell {index}: a figure {width} px wide; split it or make it narrower")


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_notebook_follows_the_rules(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and code[0].source.startswith(colab_setup_source()), "first code cell must start with the set-up"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for heading in ("Goals", "Prerequisites", "Time", "Summary", "Exercises", "References"):
        assert re.search(rf"^#+ .*{heading}", text, flags=re.MULTILINE | re.IGNORECASE), f"no '{heading}' heading"
    for cell in code:
        assert not re.search(r"^\s*from \S+ import \*", cell.source, flags=re.MULTILINE), "no star imports"
    if has_outputs(nb):
        stored = nb.metadata.get("sdgan_course", {}).get("code_sha256")
        assert stored == code_hash(nb), (
            f"{path.name}: its stored outputs come from other code. Re-render it: "
            f"python tools/render_notebooks.py notebooks/{path.name}"
        )
        errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, "a stored output is an error"
        profile = nb.metadata["sdgan_course"].get("profile")
        assert profile == "cpu", (
            f"{path.name}: its stored outputs come from the {profile!r} profile; readers see the cpu profile's "
            f"(the one learners run). Re-render it: python tools/render_notebooks.py notebooks/{path.name}"
        )


def test_notebooks_of_the_course_map_are_ruff_clean():
    paths = [str(ROOT / "notebooks" / f"{nb.stem}.ipynb") for nb in NOTEBOOKS]
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *paths], capture_output=True,
                            text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- claims: a sentence about the run is checked by the run (sdgan_course.course.claim) ----------------------------


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_every_stored_claim_held_when_the_notebook_was_rendered(path):
    """The render records each claim beside the code hash; the stored outputs show the same claims, all ✓."""
    nb = nbformat.read(path, as_version=4)
    if not has_outputs(nb):
        return
    recorded = nb.metadata.get("sdgan_course", {}).get("claims")
    assert recorded is not None, (f"{path.name} was rendered before claims were recorded: "
                                  f"python tools/render_notebooks.py notebooks/{path.name}")
    assert recorded == stored_claims(nb), f"{path.name}: the recorded claims are not the ones its outputs show"
    failed = [f"cell {c['cell']}: {c['statement']}" for c in recorded if not c["holds"]]
    assert not failed, f"{path.name}: claims that did not hold: {failed}"
    for claim_record in recorded:  # the text a reader sees carries the same verdict
        cell = nb.cells[claim_record["cell"]]
        texts = ["".join(o["data"]["text/plain"]) for o in cell.outputs if "text/plain" in o.get("data", {})]
        assert any(t.startswith("✓ claim: " + claim_record["statement"]) for t in texts)
        stray = [t for t in texts if t in ("True", "False")]
        assert not stray, f"{path.name}, cell {claim_record['cell']}: a stray {stray[0]} under the claims"


def test_claim_prints_a_tick_or_a_cross_and_refuses_what_is_not_one_truth_value(capsys):
    import numpy as np
    import torch

    from sdgan_course.course import claim

    assert claim("two is more than one", 2 > 1, "2 vs 1") is None  # nothing returned: no stray True under a cell
    claim("a 0-d tensor counts", torch.tensor(3.0) > 2)
    claim("a numpy bool counts", np.float64(1.0) < 0.5)
    out = capsys.readouterr().out.splitlines()
    assert out == ["✓ claim: two is more than one (2 vs 1)", "✓ claim: a 0-d tensor counts",
                   "✗ claim: a numpy bool counts"]
    with pytest.raises(TypeError, match="one true-or-false value"):
        claim("several values", torch.tensor([1.0, 2.0]) > 0)
    with pytest.raises(ValueError, match="sentence"):
        claim("", True)


def _tiny_notebook(path, statements):
    nb = nbformat.v4.new_notebook()
    lines = ["from sdgan_course.course import claim"] + [f"claim({text!r}, {expr})" for text, expr in statements]
    nb.cells = [nbformat.v4.new_markdown_cell("# a tiny notebook"), nbformat.v4.new_code_cell("\n".join(lines))]
    nbformat.write(nb, path)
    return path.read_text()


def test_render_fails_on_a_false_claim_in_the_cpu_profile_and_keeps_the_stored_notebook(tmp_path, monkeypatch):
    from tools import render_notebooks

    monkeypatch.setenv("SDGAN_PROFILE", "ci")  # restored after the test (render sets the profile it runs)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setattr(render_notebooks, "FAILED_DIR", tmp_path / "failed")
    path = tmp_path / "99_tiny.ipynb"
    before = _tiny_notebook(path, [("one is less than two", "1 < 2"), ("two is less than one", "2 < 1")])
    with pytest.raises(render_notebooks.ClaimFailed) as failure:
        render_notebooks.render(path, "cpu", timeout=120)
    assert "99_tiny.ipynb, cell 1: ✗ two is less than one" in str(failure.value)
    assert "one is less than two" not in str(failure.value)
    assert path.read_text() == before  # the stored notebook is unchanged
    assert (tmp_path / "failed" / "99_tiny.ipynb").is_file()
    # in ci the same claims print but do not fail, and the record says which held
    render_notebooks.render(path, "ci", timeout=120)
    recorded = nbformat.read(path, as_version=4).metadata["sdgan_course"]["claims"]
    assert [(c["cell"], c["holds"]) for c in recorded] == [(1, True), (1, False)]
