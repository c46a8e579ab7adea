"""The diagrams of notebook 01: one source (tools/draw_diagrams.py) for the Mermaid text and the PNG fallback."""

import re
from pathlib import Path

import nbformat
import pytest

from tools import draw_diagrams as dd

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "01_the_landscape.ipynb"

# Facts each diagram must show (taught in notebook 01; Rombach et al. 2022, arXiv:2112.10752; Goodfellow et al. 2014).
FACTS = {
    "stable_diffusion_pipeline": (
        "CLIP ViT-L/14", "frozen", "77 × 768", "4 × 64 × 64", "~860M", "cross-attention", "Classifier-free guidance",
        "factor of 8", "512 × 512", "repeat for t",
    ),
    "gan_training_loop": (".detach()", "opt_D.step()", "opt_G.step()", "z ~ p_z", "x ~ p_data", "non-saturating"),
}


@pytest.mark.parametrize("diagram", dd.DIAGRAMS, ids=lambda d: d.name)
def test_mermaid_states_the_facts_and_is_well_formed(diagram):
    text = dd.to_mermaid(diagram)
    assert text.startswith(f"flowchart {diagram.direction}\n")
    flat = text.replace("<br/>", " ")
    for fact in FACTS[diagram.name]:
        assert fact in flat, f"{diagram.name}: the Mermaid text lost {fact!r}"
    ids = {n.id for n in diagram.nodes}
    assert len(ids) == len(diagram.nodes), "node ids must be unique"
    for edge in diagram.edges:
        assert {edge.src, edge.dst} <= ids
        assert re.search(rf"^    {edge.src} -\.?->", text, flags=re.MULTILINE)
    for group in diagram.groups:
        assert set(group.node_ids) <= ids
    assert text.count("subgraph") == text.count("\n    end") == len(diagram.groups)
    assert not any(i in {"end", "graph", "subgraph", "class"} for i in ids), "Mermaid keywords are not node ids"


def test_notebook_carries_each_mermaid_block_with_its_png_collapsed_right_under_it():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for diagram in dd.DIAGRAMS:
        block = dd.mermaid_block(diagram)
        assert markdown.count(block) == 1, f"{diagram.name}: run python tools/sync_course.py"
        after = markdown.split(block, 1)[1].lstrip("\n")
        # the PNG is for front ends that do not draw Mermaid (Colab): collapsed, so the diagram is not shown twice
        link = re.match(r"<details><summary>[^<]+</summary>\s*!\[[^\]]+\]\(figures/([\w-]+\.png)\)\s*</details>", after)
        assert link and link.group(1) == f"{diagram.name}.png", "the collapsed image must follow the Mermaid block"
        png = ROOT / "notebooks" / "figures" / link.group(1)
        assert png.is_file(), f"{png} is missing: run python tools/draw_diagrams.py"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_draw_writes_pngs_of_the_figure_size(tmp_path):
    from PIL import Image

    paths = dd.save_all(tmp_path, dpi=40)
    assert [p.name for p in paths] == [f"{d.name}.png" for d in dd.DIAGRAMS]
    for path, diagram in zip(paths, dd.DIAGRAMS):
        with Image.open(path) as im:
            assert im.size == (round(diagram.figsize[0] * 40), round(diagram.figsize[1] * 40))


def test_bad_diagrams_are_refused():
    with pytest.raises(ValueError, match="must not contain"):
        dd.to_mermaid(dd.Diagram("x", "t", "TD", (dd.Node("a", 'say "hi"', "data", (0, 0)),), ()))
    with pytest.raises(ValueError, match="unknown kind"):
        dd.draw(dd.Diagram("x", "t", "TD", (dd.Node("a", "A", "magic", (1, 1)),), ()))
    with pytest.raises(ValueError, match="unknown node"):
        dd.draw(dd.Diagram("x", "t", "TD", (dd.Node("a", "A", "data", (1, 1)),), (dd.Edge("a", "b"),)))
