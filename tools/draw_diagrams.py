"""The course's two flow diagrams, written once and emitted twice: as Mermaid text and as a matplotlib PNG.

Notebook 01 shows each diagram as a ```mermaid block (GitHub and JupyterLab >= 4.1 draw it) followed by a markdown
image link to the PNG drawn here (every other viewer still sees the picture). Both come from the same :class:`Diagram`
data, so the two versions cannot disagree; ``tests/test_diagrams.py`` checks that the notebook carries exactly the
Mermaid text produced here and that the PNGs exist.

    python tools/draw_diagrams.py                 # writes notebooks/figures/*.png
    python tools/draw_diagrams.py --out /tmp/figs # elsewhere
    python tools/draw_diagrams.py --mermaid       # print the Mermaid text instead

Facts drawn (Stable Diffusion v1): Rombach et al. 2022, arXiv:2112.10752 (latent diffusion, an autoencoder with
downsampling factor 8 and 4 latent channels, a U-Net with cross-attention), the CompVis model card (860M-parameter
U-Net, frozen CLIP ViT-L/14 text encoder of 123M parameters, 77 tokens x 768), Ho and Salimans 2022, arXiv:2207.12598
(classifier-free guidance), Song et al. 2020, arXiv:2010.02502 (DDIM). GAN loop: Goodfellow et al. 2014,
arXiv:1406.2661 (Algorithm 1).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "notebooks" / "figures"

# One colour scheme for both renderings: (fill, stroke) per node kind.
STYLES = {
    "data": ("#f1f5f9", "#475569"),  # inputs: data, noise, prompts
    "model": ("#dbeafe", "#1d4ed8"),  # networks that are trained
    "frozen": ("#e0e7ff", "#4338ca"),  # pretrained networks that stay fixed
    "op": ("#fef3c7", "#b45309"),  # operations without parameters
    "loss": ("#fee2e2", "#b91c1c"),  # losses and optimiser steps
    "output": ("#dcfce7", "#15803d"),  # results
}
KIND_NAMES = {
    "data": "input",
    "model": "trained network",
    "frozen": "pretrained network, kept frozen",
    "op": "operation without parameters",
    "loss": "loss or optimiser step",
    "output": "output",
}


class Node(NamedTuple):
    """A box: ``label`` lines are separated by ``\\n``; ``xy`` is its centre and ``size`` its (width, height) in the
    PNG's data units (Mermaid lays itself out and ignores both)."""

    id: str
    label: str
    kind: str
    xy: tuple[float, float]
    size: tuple[float, float] = (3.2, 1.2)


class Edge(NamedTuple):
    """An arrow from ``src`` to ``dst``. In the PNG, ``rad`` bends it, ``via`` routes it through corner points (around
    other boxes) and ``label_xy`` places its label."""

    src: str
    dst: str
    label: str = ""
    dashed: bool = False
    rad: float = 0.0
    label_xy: tuple[float, float] | None = None
    via: tuple[tuple[float, float], ...] = ()  # PNG only: route the arrow through these corner points


class Group(NamedTuple):
    """A titled frame around some nodes (a Mermaid subgraph); ``box`` is (x0, y0, x1, y1) in the PNG."""

    id: str
    title: str
    node_ids: tuple[str, ...]
    box: tuple[float, float, float, float]


class Diagram(NamedTuple):
    name: str  # file stem of the PNG
    title: str
    direction: str  # Mermaid flowchart direction: "TD" or "LR"
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    groups: tuple[Group, ...] = ()
    figsize: tuple[float, float] = (12.0, 6.0)
    limits: tuple[float, float, float, float] = (0.0, 16.0, 0.0, 8.0)  # x0, x1, y0, y1


# ---------------------------------------------------------------------------------------------- the diagrams

SD_PIPELINE = Diagram(
    name="stable_diffusion_pipeline",
    title="Stable Diffusion v1: text-to-image sampling (latent diffusion, Rombach et al. 2022)",
    direction="TD",
    nodes=(
        Node("prompt", "Prompt (text)\n'a watercolour fox in the snow'", "data", (2.2, 7.0), (3.8, 1.1)),
        Node("tokens", "CLIP tokenizer\n77 token ids (padded or truncated)", "op", (7.2, 7.0), (4.0, 1.1)),
        Node(
            "textenc",
            "CLIP ViT-L/14 text encoder\nfrozen, 123M parameters\n77 × 768 token embeddings",
            "frozen",
            (12.6, 7.0),
            (4.4, 1.4),
        ),
        Node("noise", "Start from pure noise\nz_T ~ N(0, I)\nlatent 4 × 64 × 64", "data", (2.2, 4.1), (3.8, 1.4)),
        Node(
            "unet",
            "U-Net denoiser ε_θ(z_t, t, c), ~860M parameters\npredicts the noise in z_t at noise level t,\n"
            "cross-attention to the 77 × 768 embeddings",
            "model",
            (8.6, 4.1),
            (5.6, 1.4),
        ),
        Node(
            "cfg",
            "Classifier-free guidance\nε = ε_∅ + s · (ε_c − ε_∅), s ≈ 7.5\n(ε_∅: the U-Net on the empty prompt)",
            "op",
            (15.0, 4.1),
            (4.6, 1.4),
        ),
        Node("step", "Sampler step (DDIM, PLMS, ...)\nz_t → z_t−1 (less noise)", "op", (8.6, 1.1), (4.6, 1.1)),
        Node("decoder", "VAE decoder\nupsamples by a factor of 8\nz_0 → pixels", "frozen", (13.4, 1.1), (3.4, 1.4)),
        Node("image", "Image\n512 × 512 × 3", "output", (17.0, 1.1), (2.4, 1.1)),
    ),
    edges=(
        Edge("prompt", "tokens"),
        Edge("tokens", "textenc"),
        Edge("textenc", "unet", "keys and values\nof cross-attention", label_xy=(12.3, 5.55)),
        Edge("noise", "unet", "z_T", label_xy=(4.9, 4.4)),
        Edge("unet", "cfg", "ε_c and ε_∅", label_xy=(12.0, 4.45)),
        Edge("cfg", "step", "guided ε", label_xy=(12.9, 2.55)),
        Edge(
            "step",
            "unet",
            "repeat for t = T, ..., 1\n(about 20 to 50 steps)",
            dashed=True,
            rad=0.5,
            label_xy=(5.9, 2.6),
        ),
        Edge("step", "decoder", "z_0"),
        Edge("decoder", "image"),
    ),
    figsize=(14.0, 6.6),
    limits=(0.0, 18.6, 0.0, 8.0),
)

GAN_LOOP = Diagram(
    name="gan_training_loop",
    title="One iteration of GAN training: a discriminator step, then a generator step (separate optimisers)",
    direction="TD",
    nodes=(
        Node("real", "Real batch\nx ~ p_data", "data", (1.9, 8.0), (2.8, 1.0)),
        Node("z1", "Noise\nz ~ p_z = N(0, I)", "data", (5.5, 8.0), (2.8, 1.0)),
        Node("g1", "Generator G\nx_fake = G(z)", "model", (5.5, 6.4), (2.8, 1.0)),
        Node("detach", ".detach()\nno gradient reaches G", "op", (5.5, 4.8), (2.8, 1.0)),
        Node("d1", "Discriminator D\nlogits for real and fake", "model", (3.7, 3.2), (3.4, 1.0)),
        Node("lossd", "D loss\nBCE(D(x), 1) + BCE(D(x_fake), 0)", "loss", (3.7, 1.8), (4.6, 1.0)),
        Node("optd", "opt_D.step()\nupdates D only", "loss", (3.7, 0.5), (3.0, 0.9)),
        Node("z2", "Noise z ~ p_z: a fresh batch,\nor the D step's z again", "data", (11.6, 8.0), (3.6, 1.0)),
        Node("g2", "Generator G\nx_fake = G(z), not detached", "model", (11.6, 6.4), (3.6, 1.0)),
        Node("d2", "Discriminator D\nsame network, gradients\nflow through it to G", "model", (11.6, 4.7), (3.6, 1.3)),
        Node("lossg", "G loss (non-saturating)\n−log D(G(z)) = BCE(D(G(z)), 1)", "loss", (11.6, 3.0), (4.4, 1.0)),
        Node("optg", "opt_G.step()\nupdates G only", "loss", (11.6, 1.4), (3.0, 0.9)),
    ),
    edges=(
        Edge("z1", "g1"),
        Edge("g1", "detach"),
        Edge("real", "d1", "x", label_xy=(2.55, 5.6)),
        Edge("detach", "d1", "x_fake", label_xy=(5.1, 3.95)),
        Edge("d1", "lossd"),
        Edge("lossd", "optd", "backward()", label_xy=(5.1, 1.15)),
        Edge("optd", "z2", "then", via=((8.2, 0.5), (8.2, 8.0)), label_xy=(8.2, 4.3)),
        Edge("z2", "g2"),
        Edge("g2", "d2"),
        Edge("d2", "lossg"),
        Edge("lossg", "optg", "backward()", label_xy=(12.9, 2.2)),
        Edge(
            "optg",
            "real",
            "next iteration",
            dashed=True,
            via=((14.9, 1.4), (14.9, 9.6), (1.9, 9.6)),
            label_xy=(8.2, 9.6),
        ),
    ),
    groups=(
        Group(
            "dstep",
            "1. Discriminator step",
            ("real", "z1", "g1", "detach", "d1", "lossd", "optd"),
            (0.2, -0.2, 7.4, 9.1),
        ),
        Group("gstep", "2. Generator step", ("z2", "g2", "d2", "lossg", "optg"), (9.0, 0.6, 14.3, 9.1)),
    ),
    figsize=(11.0, 7.6),
    limits=(0.0, 15.2, -0.4, 10.0),
)

DIAGRAMS = (SD_PIPELINE, GAN_LOOP)


# ---------------------------------------------------------------------------------------------- Mermaid


def _mermaid_text(text: str) -> str:
    """Escape a label for a quoted Mermaid label: line breaks become <br/>, double quotes are not allowed."""
    if '"' in text or "#" in text or ";" in text:
        raise ValueError(f"Mermaid labels here must not contain '\"', '#' or ';' (they need entity codes): {text!r}")
    return text.replace("\n", "<br/>")


def to_mermaid(diagram: Diagram) -> str:
    """The diagram as a Mermaid flowchart (the text inside a ```mermaid fence)."""
    lines = [f"flowchart {diagram.direction}"]
    grouped = {nid for g in diagram.groups for nid in g.node_ids}
    by_id = {n.id: n for n in diagram.nodes}
    for node in diagram.nodes:
        if node.id not in grouped:
            lines.append(f'    {node.id}["{_mermaid_text(node.label)}"]')
    for group in diagram.groups:
        lines.append(f'    subgraph {group.id}["{_mermaid_text(group.title)}"]')
        for nid in group.node_ids:
            lines.append(f'        {nid}["{_mermaid_text(by_id[nid].label)}"]')
        lines.append("    end")
    for edge in diagram.edges:
        arrow = "-.->" if edge.dashed else "-->"
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"    {edge.src} {arrow}{label} {edge.dst}")
    for kind, (fill, stroke) in STYLES.items():
        members = [n.id for n in diagram.nodes if n.kind == kind]
        if members:
            lines.append(f"    classDef {kind} fill:{fill},stroke:{stroke},color:#0f172a")
            lines.append(f"    class {','.join(members)} {kind}")
    return "\n".join(lines)


def mermaid_block(diagram: Diagram) -> str:
    """A fenced ```mermaid block, ready for a markdown cell."""
    return f"```mermaid\n{to_mermaid(diagram)}\n```"


# ---------------------------------------------------------------------------------------------- matplotlib


def _boundary(centre, size, towards):
    """Where the ray from a box's centre towards a point leaves the box (so arrows start and end on the edge)."""
    (cx, cy), (w, h), (tx, ty) = centre, size, towards
    dx, dy = tx - cx, ty - cy
    scale = min(w / 2 / abs(dx) if dx else float("inf"), h / 2 / abs(dy) if dy else float("inf"))
    return cx + scale * dx, cy + scale * dy


def draw(diagram: Diagram):
    """Draw the diagram with matplotlib boxes and arrows; returns the Figure."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch, Rectangle
    from matplotlib.path import Path

    fig, ax = plt.subplots(figsize=diagram.figsize)
    x0, x1, y0, y1 = diagram.limits
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_axis_off()
    fig.suptitle(diagram.title, fontsize=12, fontweight="bold")

    for group in diagram.groups:
        gx0, gy0, gx1, gy1 = group.box
        ax.add_patch(
            Rectangle(
                (gx0, gy0),
                gx1 - gx0,
                gy1 - gy0,
                facecolor="#f8fafc",
                edgecolor="#94a3b8",
                lw=1.2,
                linestyle="--",
                zorder=0,
            )
        )
        ax.text(
            gx0 + 0.15, gy1 - 0.12, group.title, ha="left", va="top", fontsize=11, fontweight="bold", color="#334155"
        )

    boxes = {}
    for node in diagram.nodes:
        if node.kind not in STYLES:
            raise ValueError(f"Node {node.id!r} has unknown kind {node.kind!r}; use one of {sorted(STYLES)}.")
        fill, stroke = STYLES[node.kind]
        (cx, cy), (w, h) = node.xy, node.size
        box = FancyBboxPatch(
            (cx - w / 2, cy - h / 2),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.15",
            facecolor=fill,
            edgecolor=stroke,
            lw=1.6,
            zorder=2,
        )
        ax.add_patch(box)
        ax.text(cx, cy, node.label, ha="center", va="center", fontsize=9, zorder=3, linespacing=1.35)
        boxes[node.id] = box

    centres = {n.id: n.xy for n in diagram.nodes}
    sizes = {n.id: (n.xy, n.size) for n in diagram.nodes}
    for edge in diagram.edges:
        for end in (edge.src, edge.dst):
            if end not in boxes:
                raise ValueError(f"Edge {edge.src!r} -> {edge.dst!r} names an unknown node {end!r}.")
        style = dict(
            arrowstyle="-|>",
            mutation_scale=16,
            lw=1.5,
            color="#334155",
            zorder=1,
            linestyle="--" if edge.dashed else "-",
        )
        if edge.via:
            src, dst = sizes[edge.src], sizes[edge.dst]
            points = [_boundary(*src, edge.via[0]), *edge.via, _boundary(*dst, edge.via[-1])]
            path = Path(points, [Path.MOVETO] + [Path.LINETO] * (len(points) - 1))
            arrow = FancyArrowPatch(path=path, **style)
        else:
            arrow = FancyArrowPatch(
                centres[edge.src],
                centres[edge.dst],
                patchA=boxes[edge.src],
                patchB=boxes[edge.dst],
                connectionstyle=f"arc3,rad={edge.rad}",
                **style,
            )
        ax.add_patch(arrow)
        if edge.label:
            if edge.label_xy is not None:
                lx, ly = edge.label_xy
            else:
                (ax_, ay_), (bx_, by_) = centres[edge.src], centres[edge.dst]
                lx, ly = (ax_ + bx_) / 2, (ay_ + by_) / 2
            ax.text(
                lx,
                ly,
                edge.label,
                ha="center",
                va="center",
                fontsize=8.5,
                style="italic",
                color="#334155",
                zorder=4,
                bbox=dict(boxstyle="round,pad=0.2", facecolor="white", edgecolor="none", alpha=0.9),
            )
    kinds = [k for k in STYLES if any(n.kind == k for n in diagram.nodes)]
    handles = [Patch(facecolor=STYLES[k][0], edgecolor=STYLES[k][1], label=KIND_NAMES[k]) for k in kinds]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8.5, frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def save_all(out_dir: Path = FIGURES, dpi: int = 110) -> list[Path]:
    """Draw every diagram and save it as ``<out_dir>/<name>.png``; returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for diagram in DIAGRAMS:
        fig = draw(diagram)
        path = out_dir / f"{diagram.name}.png"
        fig.savefig(path, dpi=dpi, facecolor="white", metadata={"Software": None})
        plt.close(fig)
        paths.append(path)
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=FIGURES, help="folder for the PNGs (default: notebooks/figures)")
    parser.add_argument("--mermaid", action="store_true", help="print the Mermaid text of each diagram and exit")
    args = parser.parse_args()
    if args.mermaid:
        for diagram in DIAGRAMS:
            print(f"%% {diagram.name}\n{to_mermaid(diagram)}\n")
        return 0
    for path in save_all(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
