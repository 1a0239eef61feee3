"""Keep the source of ```diagram fences out of the search index.

mkdocs.yml renders a ```diagram fence as ``<div class="dl-diagram">`` holding its Mermaid source
(pymdownx.superfences ``custom_fences``), which ``docs/assets/javascripts/diagrams.js`` draws in the browser.
Material's search plugin would index that source (``flowchart TB``, arrows, node ids) as page text; this hook
marks the div with ``data-search-exclude``, which the plugin skips.
"""

from __future__ import annotations

import re

DIAGRAM_DIV = re.compile(r'<div(?= [^>]*class="dl-diagram[" ])')


def on_page_content(html: str, **kwargs: object) -> str:
    return DIAGRAM_DIV.sub("<div data-search-exclude", html)
