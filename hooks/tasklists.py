"""A task-list checkbox is named by its item's text, for screen readers.

pymdownx.tasklist (``custom_checkbox``) wraps each checkbox in a label that holds only the drawn box, so the
checkbox has no accessible name; the item's text follows the label. Each checkbox gets that text as its
``aria-label``.
"""

from __future__ import annotations

import html
import re

_ITEM = re.compile(
    r'(<li class="task-list-item"><label class="task-list-control"><input type="checkbox")'
    r"(?P<rest>[^>]*>.*?</label>)(?P<text>.*?)(?=<ul|<ol|</li>)",
    re.S,
)
_TAGS = re.compile(r"<[^>]+>")


def on_page_content(content: str, page, config, files) -> str:
    def named(m: re.Match) -> str:
        text = " ".join(html.unescape(_TAGS.sub("", m["text"])).split())
        return f'{m[1]} aria-label="{html.escape(text)}"{m["rest"]}{m["text"]}'

    return _ITEM.sub(named, content)
