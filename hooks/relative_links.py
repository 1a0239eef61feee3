"""Links from a page to the site itself are relative, so the site works under any base path.

static-i18n writes the language switcher of the two home pages as absolute links under the path of
``site_url`` (``/dl-roadmap/``, ``/dl-roadmap/en/``): served anywhere else (``mkdocs serve``, a fork's
Pages site, a folder on disk) they lead to a 404. Every other page already links relatively. This hook
rewrites each ``href``/``src`` under the ``site_url`` path into a path relative to the page.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import urlsplit


def on_post_page(output: str, page, config) -> str:
    base = urlsplit(config.site_url or "").path.rstrip("/") + "/"
    here = posixpath.dirname(base + page.url)  # the page's folder: pages are folders (directory URLs)
    absolute = re.compile(rf'\b(href|src)="{re.escape(base)}([^"]*)"')

    def relative(m: re.Match) -> str:
        rel = posixpath.relpath(base + m[2], here)
        return f'{m[1]}="{rel}/"' if m[2].endswith("/") or not m[2] else f'{m[1]}="{rel}"'

    return absolute.sub(relative, output)
