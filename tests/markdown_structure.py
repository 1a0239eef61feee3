"""Read the parts of a Markdown page that must agree between its 中文 and English twins: fenced code
blocks (also those indented inside admonitions and tabs), test markers, images and the heading outline."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.*?)\s*(?:\{(?P<attrs>[^}]*)\})?\s*$")
MARKER = re.compile(r"<!--\s*(pytest[\w.-]*[:.][^>]*?)\s*-->")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")
ID_ATTR = re.compile(r"#([\w-]+)")


@dataclass
class Page:
    path: Path
    code_blocks: list[tuple[str, str]] = field(default_factory=list)  # (language, code without indent)
    markers: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    headings: list[tuple[int, str | None]] = field(default_factory=list)  # (level, explicit id)


def read_page(path: Path) -> Page:
    page = Page(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if m := FENCE.match(line):
            indent, fence = m["indent"], m["fence"]
            body = []
            i += 1
            while i < len(lines) and not re.match(
                rf"^{re.escape(indent)}{fence[0]}{{{len(fence)},}}\s*$", lines[i]
            ):
                body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i].lstrip())
                i += 1
            language = m["info"].strip().split(" ")[0].lstrip("{.").rstrip("}")
            page.code_blocks.append((language, "\n".join(body)))
        else:
            page.markers += MARKER.findall(line)
            page.images += IMAGE.findall(line)
            if h := HEADING.match(line):
                ids = ID_ATTR.findall(h["attrs"] or "")
                page.headings.append((len(h["hashes"]), ids[0] if ids else None))
        i += 1
    return page
