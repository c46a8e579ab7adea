"""tools/ is a package: each tool runs as ``python -m tools.NAME`` and as ``python tools/NAME.py`` (the form the
READMEs and the notebooks write), and only tools/_as_package.py touches ``sys.path`` (issue 20, item 4)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLS = sorted(p for p in (ROOT / "tools").glob("*.py") if not p.name.startswith("_"))
GUARD = 'if __name__ == "__main__" and not __package__:'


def test_only_one_file_of_tools_changes_sys_path():
    changing = [p.name for p in (ROOT / "tools").glob("*.py")
                if re.search(r"sys\.path\.(insert|append|extend)|sys\.path\[[^\]]*\]\s*=", p.read_text())]
    assert changing == ["_as_package.py"]


@pytest.mark.parametrize("path", TOOLS, ids=lambda p: p.stem)
def test_a_tool_importing_the_repository_guards_its_imports(path):
    """A tool that imports the course or a sibling imports tools/_as_package.py first when it runs as a file, and a
    sibling only as tools.NAME (a bare name would load a second copy of the module)."""
    text = path.read_text()
    siblings = {p.stem for p in TOOLS} | {"notebook_rules", "draw_diagrams"}
    bare = re.findall(rf"^\s*(?:from|import) ({'|'.join(siblings)})\b", text, flags=re.MULTILINE)
    assert not bare, f"{path.name} imports {bare}: write `from tools.{bare[0]} import ...`"
    first = re.search(r"^(?:from|import) (sdgan_course|tools)\b", text, flags=re.MULTILINE)
    if first:
        assert GUARD in text and text.index(GUARD) < first.start(), f"{path.name}: the guard must come first"


def test_as_a_file_the_repository_root_replaces_the_tools_folder_on_sys_path():
    """What Python does for ``python tools/NAME.py`` (tools/ first on sys.path), then tools/_as_package.py."""
    code = (f"import sys; sys.path[0] = {str(ROOT / 'tools')!r}; import _as_package; import tools.notebook_rules; "
            "import sdgan_course; print(sys.path[0]); print(sdgan_course.__file__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    first, package = proc.stdout.splitlines()
    assert Path(first) == ROOT and Path(package).parent == ROOT / "sdgan_course"  # the checkout's library


@pytest.mark.parametrize("command", [[str(ROOT / "tools" / "render_notebooks.py")], ["-m", "tools.render_notebooks"]],
                         ids=["file", "module"])
def test_a_tool_runs_as_a_file_and_as_a_module(command, tmp_path):
    """The file form from any folder (the tool finds the repository itself); the module form from the root."""
    cwd = tmp_path if command[0] != "-m" else ROOT
    proc = subprocess.run([sys.executable, *command, "--claims"], capture_output=True, text=True, cwd=cwd, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert re.search(r"\d+ claims, \d+ ✓, 0 ✗", proc.stdout)
