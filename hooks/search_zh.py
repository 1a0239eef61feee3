"""Chinese search that finds whole words, from a smaller index.

Material's search plugin cuts Chinese text into words with jieba at build time and joins the words with a
zero-width space (U+200B), which the index's ``separator`` splits on in the browser. Two things go wrong:

1. **Padding.** jieba's cut also puts a U+200B beside spaces and punctuation that already separate words,
   so about two fifths of the U+200B in the Chinese index split nothing. Tokens do not change when they go
   (the separator is a ``[...]+`` class, so a run of separators splits once), and the index gets smaller.
2. **The query's last word is never whole.** The search worker segments a Chinese query against the words
   of the index, but its loop tries substrings ``t.slice(s, o)`` only for ``o < t.length``: a word that
   ends the query is never found, so 注意力 is searched as 注意*, 批量归一化 as 批量* 归一* (which ranks
   pages that say 归一 anywhere above the section on batch normalisation), and the page highlights 注意
   instead of 注意力. The hook fixes the bound in the built worker (``o <= t.length``). If the worker's
   code changes (an upgrade of Material), the hook warns, so ``mkdocs build --strict`` fails and someone
   looks: the fix may have landed upstream, or moved.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import re
from typing import Any

from mkdocs.plugins import event_priority

log = logging.getLogger("mkdocs.hooks.search_zh")

ZWSP = "\u200b"
WORKER = os.path.join("assets", "javascripts", "workers", "search.*.min.js")
# The worker's segmentation loop, as Material 9.7 minifies it, and the same loop with the end included.
QUERY_LOOP = "for(let o=s+1;o<t.length;o++)t.slice(s,o)in e"
FIXED_LOOP = "for(let o=s+1;o<=t.length;o++)t.slice(s,o)in e"


def drop_redundant_breaks(text: str, separator: str) -> str:
    """Remove each U+200B that touches another separator character: the tokens stay the same.

    Examples:
        >>> drop_redundant_breaks("缺失值\\u200b \\u200b标准化\\u200b。", r"[\\s\\u200b。]+")
        '缺失值 标准化。'
        >>> drop_redundant_breaks("批量\\u200b归一化", r"[\\s\\u200b。]+")
        '批量\\u200b归一化'
    """
    if ZWSP not in text:
        return text
    # One separator character, other than U+200B itself: the class of `separator` without its "+".
    other = re.compile(separator.removesuffix("+"))
    out = []
    for i, ch in enumerate(text):
        if ch == ZWSP:
            before = out[-1] if out else ""  # never a U+200B: of a run, only the last one is kept
            after = text[i + 1] if i + 1 < len(text) else ""
            if not before or not after or after == ZWSP or other.fullmatch(before) or other.fullmatch(after):
                continue
        out.append(ch)
    return "".join(out)


def compact_index(index: dict[str, Any]) -> dict[str, Any]:
    """The index with the U+200B that split nothing removed from every title and text."""
    separator = index["config"]["separator"]
    for doc in index["docs"]:
        for field in ("title", "text"):
            if isinstance(doc.get(field), str):
                doc[field] = drop_redundant_breaks(doc[field], separator)
    return index


def fix_query_segmentation(worker_js: str) -> str | None:
    """The worker's code with the segmentation loop's end included, or None if the loop is not there."""
    if worker_js.count(QUERY_LOOP) != 1:
        return None
    return worker_js.replace(QUERY_LOOP, FIXED_LOOP)


@event_priority(-120)  # after search_i18n (-110) has written one index per language
def on_post_build(config) -> None:
    site = config.site_dir
    for path in glob.glob(os.path.join(site, "**", "search", "search_index.json"), recursive=True):
        with open(path, encoding="utf-8") as fh:
            index = json.load(fh)
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(compact_index(index), fh, separators=(",", ":"), ensure_ascii=False)
    workers = glob.glob(os.path.join(site, WORKER))
    for path in workers:
        with open(path, encoding="utf-8") as fh:
            code = fh.read()
        fixed = fix_query_segmentation(code)
        if fixed is None:
            if FIXED_LOOP not in code:
                log.warning(
                    "search_zh: %s no longer holds the query-segmentation loop this hook fixes; check "
                    "whether Chinese queries still lose their last character, then update or drop the hook",
                    os.path.relpath(path, site),
                )
            continue
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(fixed)
    if not workers:
        log.warning("search_zh: no search worker in %s", os.path.join(site, WORKER))
