"""One home per family for writing and reading its checkpoints (issue 20, item 3).

The rule: a family's files are read where their layout is defined. A file that holds a model and its model config
alone is read beside the model (models/gan.py, models/classifier.py); a file whose reading needs the training config
(diffusion and latent diffusion: schedule and prediction; CLIP; the VAE and the autoencoder) is written and read
beside its run, at the end of train/<family>.py. Every exporter sits beside its run. A new loader or exporter
elsewhere fails here, and every import of a loader that the notebooks and tools write still resolves."""

import ast
import importlib
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sdgan_course"

HOMES = {
    "sdgan_course.models.gan": {"load_gan", "load_shipped_gan"},
    "sdgan_course.models.classifier": {"load_classifier"},
    "sdgan_course.train.gan": {"export_gan"},
    "sdgan_course.train.classifier": {"save_classifier"},
    "sdgan_course.train.diffusion": {"export_diffusion", "load_diffusion", "load_shipped_diffusion"},
    "sdgan_course.train.ldm": {"export_ldm", "load_ldm", "load_shipped_ldm"},
    "sdgan_course.train.flow": {"load_flow", "load_shipped_flow"},  # exported by train.ldm.export_ldm (its kind)
    "sdgan_course.train.distill": {"export_distill", "load_distill", "load_shipped_distill"},
    "sdgan_course.train.clip": {"export_clip", "load_clip", "load_shipped_clip"},
    "sdgan_course.train.vae": {"load_vae", "export_autoencoder", "load_autoencoder", "load_shipped_autoencoder"},
    "sdgan_course.models.real_sd": {"load_stable_diffusion"},  # the real weights, from the Hugging Face Hub
}
NOT_A_MODEL = {"load_checkpoint", "save_checkpoint", "load_images", "load_samples", "save_reference_statistics"}


def defined_loaders() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and re.match(r"(load|export|save)_", node.name):
                if node.name not in NOT_A_MODEL:
                    found.setdefault(module, set()).add(node.name)
    return found


def test_each_family_is_written_and_read_in_its_home():
    assert defined_loaders() == HOMES


def test_the_loader_imports_of_notebooks_and_tools_still_resolve():
    pattern = re.compile(r"from (sdgan_course[\w.]*) import ([\w, ]+)")
    sources = [p.read_text() for p in (ROOT / "tools").glob("*.py")]
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        sources += ["".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
    checked = 0
    for text in sources:
        for module, names in pattern.findall(text):
            for name in (n.strip() for n in names.split(",")):
                if re.match(r"(load|export)_|Loaded", name):
                    assert hasattr(importlib.import_module(module), name), f"{module}.{name}"
                    checked += 1
    assert checked >= 20  # load_shipped_gan, load_shipped_diffusion, load_ldm, load_shipped_ldm, export_ldm, ...
