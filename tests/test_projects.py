"""Project notebooks (jupytext percent scripts in docs/projects/, rendered by mkdocs-jupyter): each one
runs from top to bottom, and the 中文 and English twins hold the same code cells."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

PROJECTS = Path(__file__).resolve().parents[1] / "docs" / "projects"
NOTEBOOKS = sorted(PROJECTS.glob("*.py"))
ZH_NOTEBOOKS = [p for p in NOTEBOOKS if not p.name.endswith(".en.py")]


def code_cells(path: Path) -> list[str]:
    # split() with a group yields [header, marker, body, marker, body, ...]
    parts = re.split(r"^# %%(.*)$", path.read_text(encoding="utf-8"), flags=re.MULTILINE)[1:]
    return [
        body.strip()
        for marker, body in zip(parts[::2], parts[1::2], strict=True)
        if "[markdown]" not in marker
    ]


def test_there_are_projects():
    assert ZH_NOTEBOOKS, "docs/projects/ holds no notebook"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(notebook: Path, capsys):
    runpy.run_path(str(notebook), run_name="__main__")
    assert capsys.readouterr().out, "a project notebook should report what it found"


@pytest.mark.parametrize("zh", ZH_NOTEBOOKS, ids=lambda p: p.name)
def test_twins_have_identical_code(zh: Path):
    en = zh.with_name(zh.name.removesuffix(".py") + ".en.py")
    assert en.is_file(), f"{en.name} is missing"
    assert code_cells(zh) == code_cells(en)
    assert code_cells(zh), "no code cell found"
