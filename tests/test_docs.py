"""The documents a reader in Chinese (and a teacher) starts from stay in step with the README and the course map."""

import re
from pathlib import Path

from sdgan_course.course import NOTEBOOKS

ROOT = Path(__file__).resolve().parent.parent
CJK = re.compile(r"[\u4e00-\u9fff]")


def commands(text: str) -> list[str]:
    return re.findall(r"^python -m venv .*$", text, flags=re.MULTILINE)


def test_chinese_readme_has_the_readme_commands_exactly():
    english, chinese = (ROOT / "README.md").read_text(), (ROOT / "README.zh-CN.md").read_text()
    assert len(commands(english)) == 2
    assert commands(chinese) == commands(english), "README.zh-CN.md must give the same two commands as README.md"


def test_chinese_readme_maps_every_notebook():
    chinese = (ROOT / "README.zh-CN.md").read_text()
    missing = [nb.stem for nb in NOTEBOOKS if f"notebooks/{nb.stem}.ipynb" not in chinese]
    assert not missing, f"README.zh-CN.md's course map lacks {missing}"


def test_glossary_has_at_least_80_bilingual_terms():
    rows = [line for line in (ROOT / "docs" / "glossary.md").read_text().splitlines()
            if line.startswith("| ") and not line.startswith("| English") and CJK.search(line)]
    assert len(rows) >= 80, len(rows)
    english = [row.split("|")[1].strip().lower() for row in rows]
    assert len(english) == len(set(english)), "a term is listed twice"
    assert any(term.startswith("generator") for term in english) and any("latent diffusion" in t for t in english)
