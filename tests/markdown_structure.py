"""Read the parts of a Markdown page that must agree between its 中文 and English twins: fenced code
blocks (also those indented inside admonitions and tabs), test markers, images and the heading outline.

Diagram fences (```diagram, Mermaid source) are the one kind of block whose text differs between twins: each
page's labels are in its own language. They must still draw the same graph, which :func:`diagram_skeleton`
compares: the source with every quoted label and the accessible title and description taken out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.*?)\s*(?:\{(?P<attrs>[^}]*)\})?\s*$")
MARKER = re.compile(r"<!--\s*(pytest[\w.-]*[:.][^>]*?)\s*-->")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")
ID_ATTR = re.compile(r"#([\w-]+)")

DIAGRAM_LANGUAGES = frozenset({"diagram"})  # mkdocs.yml: pymdownx.superfences custom_fences
QUOTED_LABEL = re.compile(r'"[^"\n]*"')
ACC_LINE = re.compile(r"^([ \t]*acc(?:Title|Descr)[ \t]*:).*$", re.M)
ACC_BLOCK = re.compile(r"^([ \t]*accDescr[ \t]*)\{[^}]*\}", re.M)


@dataclass
class Page:
    path: Path
    code_blocks: list[tuple[str, str]] = field(default_factory=list)  # (language, code without indent)
    markers: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    headings: list[tuple[int, str | None]] = field(default_factory=list)  # (level, explicit id)
    # Lines (1-based) of cont / expected-output markers that pytest-codeblocks would attach to a diagram
    # fence: it links such a marker to the fence just before it, whatever its language.
    markers_after_diagram: list[int] = field(default_factory=list)


def diagram_skeleton(code: str) -> str:
    """What two language versions of a diagram share: node ids, shapes, edges, their kinds and order, the
    direction and any styling. Quoted labels (``a["输入"]``, ``-->|"恒等"|``) become ``"…"`` and the text of
    ``accTitle:`` / ``accDescr:`` lines (or an ``accDescr { ... }`` block) is dropped, so an unquoted label
    that was translated shows up as a difference."""
    code = ACC_BLOCK.sub(r"\1{…}", code)
    code = ACC_LINE.sub(r"\1 …", code)
    return QUOTED_LABEL.sub('"…"', code)


def read_page(path: Path) -> Page:
    page = Page(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    last_language = None
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
            last_language = language
        else:
            found = MARKER.findall(line)
            if last_language in DIAGRAM_LANGUAGES and any(
                k.endswith((":cont", "expected-output", "expected-output-ignore-whitespace")) for k in found
            ):
                page.markers_after_diagram.append(i + 1)
            page.markers += found
            page.images += IMAGE.findall(line)
            if h := HEADING.match(line):
                ids = ID_ATTR.findall(h["attrs"] or "")
                page.headings.append((len(h["hashes"]), ids[0] if ids else None))
        i += 1
    return page
