"""Ruff's F rules (pyflakes: unused imports and variables, undefined names, redefinitions, f-strings without
placeholders ...) on the code of every page, and on the project notebooks' sources.

A chain of python blocks (a first block and the ``cont`` blocks after it) runs as one module, so it is linted
as one: its segments joined in order. Each finding is reported at its line in the page itself. To keep a
finding on purpose, change the code if you can; otherwise end the line with ``# noqa: F811`` (the rule)
and a short comment saying why.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import pytest
from harness import markdown

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
NOTEBOOKS = sorted((DOCS / "projects").glob("*.py"))


def _modules(page: Path) -> list[tuple[str, list[int]]]:
    """Each python chain of `page` as ``(source, page_lines)``: page_lines[i] is the page line of line i+1."""
    if page.suffix == ".py":
        text = page.read_text(encoding="utf-8")
        return [(text, list(range(1, text.count("\n") + 2)))]
    modules = []
    for chain in markdown.parse(page):
        if chain.language != "python":
            continue
        source, lines = "", []
        for segment in chain.segments:
            source += segment.fence.code
            first = segment.fence.start + 2  # the line after the opening fence, 1-based
            lines += range(first, first + segment.fence.code.count("\n"))
        modules.append((source, lines))
    return modules


def _lint(pages: list[Path]) -> dict[Path, list[str]]:
    """Lint every chain of `pages` in one ruff run; ``{page: ["page.md:LINE: F401 message", ...]}``."""
    found: dict[Path, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        where: dict[str, tuple[Path, list[int]]] = {}
        for page in pages:
            for source, lines in _modules(page):
                name = f"chain_{len(where):05d}.py"
                (Path(tmp) / name).write_text(source, encoding="utf-8")
                where[name] = (page, lines)
        run = subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "F", "--output-format", "json",
             "--no-cache", tmp],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if run.returncode not in (0, 1):  # 1: findings; anything else: ruff itself failed
            raise RuntimeError(f"ruff failed ({run.returncode}): {run.stderr}")
        for item in json.loads(run.stdout or "[]"):
            page, lines = where[Path(item["filename"]).name]
            row = item["location"]["row"]
            line = lines[min(row, len(lines)) - 1]
            found.setdefault(page, []).append(f"{page.name}:{line}: {item['code']} {item['message']}")
    return found


@cache
def _findings() -> dict[Path, list[str]]:
    return _lint(PAGES + NOTEBOOKS)


def test_every_page_with_code_is_linted() -> None:
    assert any(_modules(p) for p in PAGES), "no python chain found under docs/"
    assert NOTEBOOKS, "no project notebook source found"


@pytest.mark.parametrize("page", PAGES + NOTEBOOKS, ids=lambda p: str(p.relative_to(DOCS)))
def test_page_code_passes_ruff_f_rules(page: Path) -> None:
    findings = _findings().get(page, [])
    assert not findings, "ruff --select F on the page's code:\n" + "\n".join(findings)


def test_a_finding_is_reported_at_its_page_line(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "Text.\n\n```python\nimport os\n\nx = 1\n```\n\n"
        "<!--pytest-codeblocks:cont-->\n```python\nprint(y)\n```\n",
        encoding="utf-8",
    )
    ((source, lines),) = _modules(page)
    assert source == "import os\n\nx = 1\nprint(y)\n"
    assert lines == [4, 5, 6, 11]  # `print(y)` is on page line 11
    findings = _lint([page])[page]
    assert findings == ["page.md:4: F401 `os` imported but unused", "page.md:11: F821 Undefined name `y`"]
