"""Old links to a section of a split chapter still land on that section.

A long phase is a folder of pages (CONTRIBUTING, "A long phase is a folder of pages"): a section that used
to be ``phases/05-cnn/#grad-cam`` is now ``phases/05-cnn/visualisation/#grad-cam``. Readers' bookmarks, old
notes and other sites still use the first form, and the front page has no such anchor. This hook gives each
phase's front page (``page:`` in ``data/phases.yml``) a small script that knows the heading ids of the
other pages in its folder: when the address names one of them, the browser goes to its page. Anchors that
the front page has are left alone.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from render_data import DOCS, load, page_url  # noqa: E402

HEADING_ID = re.compile(r"^#{2,6} .*\{#([\w-]+)\}[ \t]*$", re.M)
SCRIPT = (
    "<script>(function(){{var moved={moved};"
    "var id=decodeURIComponent(location.hash.slice(1));"
    "if(id&&moved[id]&&!document.getElementById(id))location.replace(moved[id]+location.hash);"
    "}})();</script>"
)


def explicit_ids(file: Path) -> list[str]:
    """The ``{#id}`` of every heading of a Markdown file (the same in both languages)."""
    return HEADING_ID.findall(file.read_text(encoding="utf-8"))


def moved_sections() -> dict[str, dict[str, str]]:
    """``{front page: {section id: URL of its page, relative to the front page}}`` for every phase that is
    a folder: each heading id of the folder's other pages that the front page does not have itself (an id
    on two of those pages is left out: no one place to send it)."""
    out: dict[str, dict[str, str]] = {}
    for phase in load("phases"):
        front = phase["page"]
        if not front.endswith("/index.md"):
            continue  # a one-page chapter: nothing moved
        here = set(explicit_ids(DOCS / front))
        found: dict[str, list[str]] = {}
        for file in sorted((DOCS / front).parent.glob("*.md")):
            if file.name.endswith(".en.md") or file.name == "index.md":
                continue
            rel = posixpath.relpath(page_url(file.relative_to(DOCS).as_posix()), page_url(front)) + "/"
            for anchor in explicit_ids(file):
                found.setdefault(anchor, []).append(rel)
        moved = {a: pages[0] for a, pages in found.items() if a not in here and len(set(pages)) == 1}
        if moved:
            out[front] = moved
    return out


def _front_page(src: str) -> str:
    """The Chinese file name of a page (``x.en.md`` -> ``x.md``), as phases.yml writes it."""
    return src.removesuffix(".en.md") + ".md" if src.endswith(".en.md") else src


_moved: dict[str, dict[str, str]] | None = None  # moved_sections() of this build, computed at its first page


def on_pre_build(config) -> None:
    global _moved
    _moved = None  # `mkdocs serve` rebuilds after an edit: read the pages again


def on_post_page(output: str, page, config) -> str:
    global _moved
    if _moved is None:
        _moved = moved_sections()
    moved = _moved.get(_front_page(page.file.src_uri))
    if not moved:
        return output
    script = SCRIPT.format(moved=json.dumps(moved, sort_keys=True, separators=(",", ":")))
    return output.replace("</body>", script + "</body>", 1)
