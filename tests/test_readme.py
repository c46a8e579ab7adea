"""The README says what is true: its test command is exactly what CI runs, and its library map lists every stage."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_test_command_is_what_ci_runs():
    ci_lines = [line for line in CI.splitlines() if "python -m pytest" in line]
    assert len(ci_lines) == 1, ".ci/run should run pytest exactly once"
    ci_command = ci_lines[0].strip()
    readme_lines = [line for line in README.splitlines() if "python -m pytest" in line and "pip install" in line]
    assert readme_lines, "the README has no install-and-test command line"
    # the README line creates the virtual environment first; from `pip install` on, the two are identical
    assert readme_lines[0].strip().endswith(ci_command), f"README: {readme_lines[0]!r}\n.ci/run: {ci_command!r}"


def test_the_library_map_lists_every_module_and_package():
    block = README.split("## How the library is organised", 1)[1].split("```", 2)[1]
    listed = set(re.findall(r"\b([a-z_]+)(?:/|\.py)", block))
    package = ROOT / "sdgan_course"
    present = {p.stem for p in package.glob("*.py") if not p.name.startswith("_")}
    present |= {p.name for p in package.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert present <= listed, f"missing from the README's library map: {sorted(present - listed)}"


def test_the_readme_points_only_to_files_that_exist():
    for path in re.findall(r"`((?:tools|tests|data|notebooks|sdgan_course)/[\w./-]+)`", README):
        assert (ROOT / path).exists() or "<" in path, f"the README mentions {path}, which does not exist"


def test_the_lab_extra_brings_the_ipywidgets_jupyterlab_4_needs_and_the_core_keeps_colabs():
    tomllib = __import__("pytest").importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "ipywidgets>=7.7" in project["dependencies"], "the core must keep working with Colab's ipywidgets 7.7"
    lab = project["optional-dependencies"]["lab"]
    assert any(r.startswith("jupyterlab>=4") for r in lab) and "ipywidgets>=8" in lab
    conda = (ROOT / "environment.yml").read_text(encoding="utf-8")
    for requirement in ("jupyterlab>=4", "ipywidgets>=8"):
        assert re.search(rf"^\s*- {requirement}", conda, re.MULTILINE), f"environment.yml lacks {requirement}"
