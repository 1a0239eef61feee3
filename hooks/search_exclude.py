"""Keep code out of the search index: diagram sources, code blocks, output blocks.

Material's search plugin indexes a page's whole text. Two kinds of block would only add noise and weight:

- a ```diagram fence renders as ``<div class="dl-diagram">`` holding its Mermaid source (pymdownx.superfences
  ``custom_fences``), which ``docs/assets/javascripts/diagrams.js`` draws in the browser: its text is
  ``flowchart TB``, arrows and node ids;
- code and output blocks (``<div class="highlight">``, a notebook's code cells, the API reference's source
  listings) were half the index (547,394 of 963,606 characters of the Chinese one), which every reader
  downloads on the first search. Names from the code that the prose uses (``nn.Linear``) stay findable:
  inline code is kept.

Each such div is marked ``data-search-exclude``, which the plugin skips.
"""

from __future__ import annotations

import re

# diagrams; code and output blocks; a notebook's code cells; the API reference's "source code" boxes
EXCLUDED = re.compile(
    r'<(?P<tag>div|details)(?P<attrs> [^>]*class="(?:[^"]* )?'
    r'(?:dl-diagram|highlight|jp-CodeCell|mkdocstrings-source)[" ][^>]*)>'
)


def on_page_content(html: str, **kwargs: object) -> str:
    return EXCLUDED.sub(r"<\g<tag>\g<attrs> data-search-exclude>", html)
