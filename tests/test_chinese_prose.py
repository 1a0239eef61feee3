"""Chinese prose uses one quotation style, the mainland standard “…” (‘…’ inside), never straight quotes.

Code, inline code, maths, HTML comments (test markers), link targets, attribute lists and admonition titles
keep their ASCII quotes: only the prose around them is checked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
ZH_PAGES = sorted(p for p in DOCS.rglob("*.md") if not p.name.endswith(".en.md"))

FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
NOT_PROSE = re.compile(
    r"<!--.*?-->"  # test markers, comments
    r"|`[^`]*`"  # inline code
    r"|\$\$.*?\$\$|\$[^$]*\$"  # maths
    r"|\]\([^)]*\)"  # link targets
    r"|\{[#.:][^}]*\}"  # attribute lists
    r"|<[^>]*>"  # HTML tags
    r'|^\s*(?:\?\?\?|!!!|===)\+?\s*[\w-]*(?:\s+"[^"]*")?'  # admonition / tab titles
)
WRONG_QUOTES = re.compile(r'["「」『』]')


def prose_lines(text: str):
    """(line number, line with every non-prose span removed) for each line outside fenced blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        opening = FENCE.match(line)
        if fence:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = None
            continue
        if opening:
            fence = opening.group(1)
            continue
        yield number, NOT_PROSE.sub("", line)


def test_prose_reader_skips_code_maths_markers_and_titles():
    page = "\n".join(
        [
            '??? success "答案"',
            '用 `f("x")` 和 $a = "b"$ <!--pytest-codeblocks:cont--> 看 [链接](a.md "t") 里的“引号”。',
            "```python",
            'print("hi")',
            "```",
            '这里说"错了"。',
        ]
    )
    flagged = [n for n, line in prose_lines(page) if WRONG_QUOTES.search(line)]
    assert flagged == [6]


@pytest.mark.parametrize("page", ZH_PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_chinese_prose_uses_curly_quotes(page: Path):
    wrong = [
        f"{page.name}:{n}: {line.strip()[:80]}"
        for n, line in prose_lines(page.read_text())
        if WRONG_QUOTES.search(line)
    ]
    assert not wrong, "use “…” (and ‘…’ inside) in Chinese prose:\n" + "\n".join(wrong)
