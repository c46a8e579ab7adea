"""How notebooks are kept in git (used by ``tools/render_notebooks.py`` and the tests).

A stored notebook carries outputs only if they were rendered from its current code: the metadata field
``sdgan_course.code_sha256`` must equal :func:`code_hash` of the code cells.
"""

from __future__ import annotations

import hashlib

# What JupyterLab (through ipykernel's installed "python3" kernel) writes into a notebook it opens. Stored exactly, so
# opening a notebook does not mark it modified (tests/test_notebooks.py checks it against ipykernel's own spec).
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def code_hash(nb) -> str:
    """SHA-256 of the notebook's code cells, in order (outputs and markdown excluded)."""
    digest = hashlib.sha256()
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            digest.update(source.encode("utf-8") + b"\0")
    return digest.hexdigest()


def has_outputs(nb) -> bool:
    """True if any code cell has stored outputs."""
    return any(cell.get("outputs") for cell in nb["cells"] if cell["cell_type"] == "code")


# A widget's stored output is only its text/plain fallback (widget state is not stored: it would bloat every diff), and
# JupyterLab shows that fallback until the cell runs again: "VBox(children=(HBox(..." or a tqdm bar frozen at 0 %.
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_PLACEHOLDER = "[interactive controls: run this cell to use them]"


def is_progress_bar(text: str) -> bool:
    """True for the text a tqdm bar shows when it is first displayed ("desc:   0%|          | 0/300 [...]")."""
    return "%|" in text and "/" in text


def tidy_widget_outputs(nb) -> int:
    """Give every stored widget output a readable fallback, in place; return how many outputs were changed.

    A tqdm progress bar is dropped (the cell prints its own summary line when training ends); an empty ``Output()``
    area is dropped; any other widget's fallback text becomes :data:`WIDGET_PLACEHOLDER`.
    """
    changed = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW not in data:
                kept.append(output)
                continue
            text = data.get("text/plain", "")
            text = text if isinstance(text, str) else "".join(text)
            if is_progress_bar(text) or text.strip() == "Output()":
                changed += 1  # dropped
                continue
            if text != WIDGET_PLACEHOLDER:
                data["text/plain"] = WIDGET_PLACEHOLDER
                changed += 1
            kept.append(output)
        cell["outputs"] = kept
    return changed


# Claims (sdgan_course.course.claim): a sentence about the run, shown with ✓ or ✗ beside the numbers that make it.
CLAIM_MIME = "application/vnd.sdgan-course.claim+json"


def stored_claims(nb) -> list[dict]:
    """Every claim in the notebook's outputs, in order: ``{"cell": index, "statement": ..., "holds": bool}``."""
    found = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if CLAIM_MIME in data:
                record = data[CLAIM_MIME]
                found.append({"cell": index, "statement": record["statement"], "holds": bool(record["holds"])})
    return found


def failed_claims(nb) -> list[dict]:
    """The claims of :func:`stored_claims` that did not hold."""
    return [c for c in stored_claims(nb) if not c["holds"]]
