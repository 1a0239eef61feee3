"""Images load lazily and take their space before they arrive.

Each ``<img>`` of a page gets ``loading="lazy"`` and ``decoding="async"`` (a phone fetches a figure only
when the reader scrolls near it) and, read from the file, its ``width`` and ``height``, so the text does
not jump when it loads. The theme's ``max-width: 100%; height: auto`` still scales it down to the screen.
"""

from __future__ import annotations

import logging
import posixpath
import re
import struct
from pathlib import Path

log = logging.getLogger("mkdocs.hooks.images")

_IMG = re.compile(r"<img\b(?P<attrs>[^>]*?)\s*/?>")
_SRC = re.compile(r'\bsrc="(?P<src>[^"]+)"')
_SVG_SIZE = re.compile(
    r'<svg\b[^>]*?\bwidth="(?P<w>[\d.]+)(?P<wu>pt|px)?"[^>]*?\bheight="(?P<h>[\d.]+)(?P<hu>pt|px)?"', re.S
)
_PX_PER = {None: 1.0, "px": 1.0, "pt": 4 / 3}


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) in CSS pixels of a PNG or an SVG with absolute sizes; None for anything else."""
    if path.suffix == ".png":
        with path.open("rb") as f:  # the size is in the header: never read the whole image
            head = f.read(24)
        if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
    elif path.suffix == ".svg":
        with path.open(encoding="utf-8") as f:  # matplotlib writes the <svg> element first
            m = _SVG_SIZE.search(f.read(2000))
        if m:
            return round(float(m["w"]) * _PX_PER[m["wu"]]), round(float(m["h"]) * _PX_PER[m["hu"]])
    return None


def on_page_content(html: str, page, config, files) -> str:
    docs = Path(config.docs_dir)

    def lazy(m: re.Match) -> str:
        attrs = m["attrs"]
        extra = ""
        if "loading=" not in attrs:
            extra += ' loading="lazy" decoding="async"'
        src = _SRC.search(attrs)
        if src and "width=" not in attrs and not src["src"].startswith(("data:", "http:", "https:")):
            target = docs / posixpath.normpath(posixpath.join(page.url, src["src"]))
            size = image_size(target) if target.is_file() else None
            if size:
                extra += f' width="{size[0]}" height="{size[1]}"'
        return f"<img{attrs}{extra} />"

    return _IMG.sub(lazy, html)
