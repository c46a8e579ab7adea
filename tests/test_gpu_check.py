"""tools/gpu_check.py: its CPU dry run passes every part in a subprocess, and a failing part gives exit status 1."""

import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from sdgan_course.course import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "gpu_check.py"


def load_tool():
    return importlib.import_module("tools.gpu_check")


def test_the_dry_run_passes_every_part_and_prints_the_summary():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--dry-run"], capture_output=True, text=True, timeout=600,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = proc.stdout[proc.stdout.index("gpu_check summary on cpu"):]
    rows = [line for line in summary.splitlines() if line.startswith(("train", "bench", "notebook"))]
    for part in ("train gan", "train ddpm", "train ldm", "train vae", "train clip", "bench gan", "bench ddpm",
                 "bench ldm", *(f"notebook {nb.stem[:2]}" for nb in NOTEBOOKS)):
        assert any(r.startswith(part + " ") and " ok " in r for r in rows), (part, summary)
    assert "T4 est. img/s" in summary and "@256" in summary  # the stored T4 estimate beside what was measured
    parts = 8 + len(NOTEBOOKS)  # five trainings, three benches, every notebook's first cells
    assert summary.rstrip().endswith(f"gpu_check: {parts} parts, 0 failed, 0 skipped (time budget)")


@pytest.mark.parametrize("failure", ["nan", "exception"])
def test_a_failing_part_is_reported_and_the_exit_status_is_1(monkeypatch, capsys, failure):
    tool = load_tool()

    def broken(name, profile, steps, device, data, amp, **sizes):
        if failure == "exception":
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        run = SimpleNamespace(step=steps, history={"loss": [0.5, float("nan")]})
        return (run, 1.0, 100.0), run, []

    monkeypatch.setattr(tool, "train_family", broken)
    assert tool.main(["--dry-run", "--parts", "train", "--families", "vae,clip"]) == 1
    out = capsys.readouterr().out
    assert "train vae" in out and "train clip" in out and "2 parts, 2 failed" in out
    assert ("loss nan" if failure == "nan" else "RuntimeError: CUDA error") in out


BLOCKED_FRONT_END = """
import importlib.abc, importlib.util, sys
class Block(importlib.abc.MetaPathFinder):  # a GPU machine without Jupyter: no ipywidgets, no IPython
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("ipywidgets", "IPython"):
            raise ImportError(name)
sys.meta_path.insert(0, Block())
spec = importlib.util.spec_from_file_location("gpu_check", sys.argv[1])
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)
tool.run_notebook_cells(1)
"""


def test_the_notebook_cells_run_where_jupyter_is_missing():
    env = {"SDGAN_PROFILE": "ci", "SDGAN_DEVICE": "cpu", "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", BLOCKED_FRONT_END, str(SCRIPT)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT, env=env)
    rows = [json.loads(line[len("NOTEBOOK "):]) for line in proc.stdout.splitlines() if line.startswith("NOTEBOOK ")]
    assert len(rows) == len(NOTEBOOKS), proc.stdout[-2000:] + proc.stderr[-2000:]
    for row in rows:
        assert row["error"] == "" and row["device"] == "cpu", row
        assert row["stubbed"] == ["ipywidgets", "IPython", "IPython.display"]
