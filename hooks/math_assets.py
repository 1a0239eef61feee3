"""Load KaTeX only on pages that have maths.

mkdocs.yml lists KaTeX's stylesheet and scripts once for the whole site, so every page would fetch them
(about 300 KB before compression). pymdownx.arithmatex marks each formula with ``class="arithmatex"``; a
page without one gets the KaTeX tags removed. Instant navigation is off, so each page is loaded whole and
brings exactly the assets it needs.
"""

from __future__ import annotations

import re

_KATEX_TAGS = re.compile(
    r'[ \t]*(?:<script src="[^"]*katex[^"]*"></script>|<link rel="stylesheet" href="[^"]*katex[^"]*">)\n?'
)


def on_post_page(output: str, page, config) -> str:
    if 'class="arithmatex"' in output:
        return output
    return _KATEX_TAGS.sub("", output)
