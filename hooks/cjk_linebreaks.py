"""Drop the line break between two Chinese characters, which browsers would show as a space.

Markdown keeps a paragraph's line breaks in the HTML, and a browser renders each as a space: fine between
English words, wrong between Chinese characters ("一分钟 跑完"). CSS has no switch for this that browsers
implement, so the break is removed here, after rendering, wherever a Chinese character (or full-width
punctuation, or a curly quote) stands on both sides of it, possibly with inline tags in between. Code,
scripts and styles are left as they are.
"""

from __future__ import annotations

import re

CJK = "\u2e80-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef\u201c\u201d\u2018\u2019"
# Elements inside a run of text: a line break next to them still stands between two characters.
INLINE_TAGS = ("a", "strong", "em", "b", "i", "span", "sup", "sub", "mark", "abbr")
_INLINE_TAGS = rf"(?:</?(?:{'|'.join(INLINE_TAGS)})\b[^>]*>)*"
_BREAK = re.compile(rf"(?<=[{CJK}])({_INLINE_TAGS})[ \t]*\n\s*({_INLINE_TAGS})(?=[{CJK}])")
_VERBATIM = re.compile(r"(<(pre|code|script|style|textarea)\b.*?</\2>)", re.DOTALL | re.IGNORECASE)


def join_cjk_lines(html: str) -> str:
    """`html` without the line breaks that stand between two Chinese characters outside code."""
    parts = _VERBATIM.split(html)
    # re.split with two groups yields: text, verbatim block, its tag name, text, ...
    out = []
    for i, part in enumerate(parts):
        if i % 3 == 0:
            part = _BREAK.sub(r"\1\2", part)
        if i % 3 != 2:
            out.append(part)
    return "".join(out)


def on_page_content(html: str, page, config, files) -> str:
    return join_cjk_lines(html)
