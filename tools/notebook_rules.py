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
