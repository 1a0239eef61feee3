"""Chinese prose: one quotation style, the mainland standard “…” (‘…’ inside), never straight quotes;
spacing and punctuation between Chinese and Latin text as AutoCorrect wants it; and, in the built site, no
space where a paragraph only breaks a line.

Code, inline code, maths, HTML comments (test markers), link targets, attribute lists and admonition titles
keep their ASCII quotes: only the prose around them is checked."""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
ZH_PAGES = sorted(p for p in DOCS.rglob("*.md") if not p.name.endswith(".en.md"))
sys.path[:0] = [str(DOCS.parent / "hooks"), str(DOCS.parent / "scripts")]
import cjk_lint  # noqa: E402
from cjk_linebreaks import CJK, INLINE_TAGS, join_cjk_lines  # noqa: E402
from render_data import lines_outside_code  # noqa: E402

NOT_PROSE = re.compile(
    r"<!--.*?-->"  # test markers, comments
    r"|`[^`]*`"  # inline code
    r"|\$\$.*?\$\$|\$[^$]*\$"  # maths
    r"|\]\([^)]*\)"  # link targets
    r"|\{[#.:][^}]*\}"  # attribute lists
    r"|<[^>]*>"  # HTML tags
    r'|^\s*(?:\?\?\?|!!!|===)\+?(?:\s*[\w-]+)?(?:\s+"[^"]*")?'  # admonition / tab titles (`=== "Keras"`)
)
WRONG_QUOTES = re.compile(r'["「」『』]')


def prose_lines(text: str):
    """(line number, line with every non-prose span removed) for each line outside fenced blocks."""
    for number, line in lines_outside_code(text):
        yield number, NOT_PROSE.sub("", line)


def test_prose_reader_skips_code_maths_markers_and_titles():
    page = "\n".join(
        [
            '??? success "答案"',
            '=== "Keras"',
            '用 `f("x")` 和 $a = "b"$ <!--pytest-codeblocks:cont--> 看 [链接](a.md "t") 里的“引号”。',
            "```python",
            'print("hi")',
            "```",
            '这里说"错了"。',
        ]
    )
    flagged = [n for n, line in prose_lines(page) if WRONG_QUOTES.search(line)]
    assert flagged == [7]


@pytest.mark.parametrize("page", ZH_PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_chinese_and_latin_text_are_spaced_and_punctuated(page: Path):
    """AutoCorrect's rules (scripts/cjk_lint.py, .autocorrectrc): a space between Chinese and Latin words or
    numbers, none inside full-width punctuation, full-width commas after Chinese text."""
    problems = cjk_lint.findings(page)
    assert not problems, "run `make format` (or scripts/cjk_lint.py --fix):\n" + "\n".join(problems)


@pytest.mark.parametrize("page", ZH_PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_chinese_prose_uses_curly_quotes(page: Path):
    wrong = [
        f"{page.name}:{n}: {line.strip()[:80]}"
        for n, line in prose_lines(page.read_text())
        if WRONG_QUOTES.search(line)
    ]
    assert not wrong, "use “…” (and ‘…’ inside) in Chinese prose:\n" + "\n".join(wrong)


# --- the built site: a line break inside a Chinese paragraph must not become a space ---


_BREAK_AS_SPACE = re.compile(rf"[{CJK}][ \t]*\n\s*[{CJK}]")
_SKIPPED_ELEMENTS = {"pre", "code", "script", "style", "svg", "textarea"}


class _VisibleText(HTMLParser):
    """Text a reader sees, outside code, scripts and drawings; a block element ends a run of text."""

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.chunks = 0, []

    def handle_starttag(self, tag, attrs):
        self.depth += tag in _SKIPPED_ELEMENTS
        if tag not in INLINE_TAGS:
            self.chunks.append("\0")

    def handle_endtag(self, tag):
        self.depth -= tag in _SKIPPED_ELEMENTS and self.depth > 0
        if tag not in INLINE_TAGS:
            self.chunks.append("\0")

    def handle_data(self, data):
        if not self.depth:
            self.chunks.append(data)


def test_join_cjk_lines_keeps_code_and_english_breaks():
    html = "一分钟\n跑完，<b>门控</b>\n  各自 English\nword 中文\nEnglish <code>中\n文</code>“引号”\n的"
    assert (
        join_cjk_lines(html)
        == "一分钟跑完，<b>门控</b>各自 English\nword 中文\nEnglish <code>中\n文</code>“引号”的"
    )


def test_built_chinese_pages_have_no_line_break_between_chinese_characters(site_dir: Path):
    pages = [p for p in site_dir.rglob("*.html") if p.relative_to(site_dir).parts[0] not in {"en", "assets"}]
    assert len(pages) > 20
    found = []
    for page in pages:
        text = _VisibleText()
        text.feed(page.read_text(encoding="utf-8"))
        found += [
            f"{page.relative_to(site_dir)}: {m.group(0)!r}"
            for m in _BREAK_AS_SPACE.finditer("".join(text.chunks))
        ]
    assert not found, "a line break between Chinese characters renders as a space:\n" + "\n".join(found[:20])
