"""What the reader sees of the outputs (hooks/outputs.py): every output block of a page is rendered, titled
in the page's language, and one compared within a tolerance says so and by how much."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from harness import markdown

pytestmark = pytest.mark.xdist_group("site")

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if any(s.output for c in markdown.parse(p) for s in c.segments))
TITLE = re.compile(
    r'<div class="(?:language-text )?(output[^"]*) highlight"[^>]*>'  # other attributes may follow the class
    r'<span class="filename">([^<]*)<'
)


def built(site_dir: Path, page: Path) -> str:
    rel = page.relative_to(DOCS).as_posix()
    lang_prefix, rel = ("en/", rel.removesuffix(".en.md")) if rel.endswith(".en.md") else ("", rel[:-3])
    rel = rel.removesuffix("index")
    return (site_dir / lang_prefix / rel / "index.html").read_text(encoding="utf-8")


def test_pages_with_outputs_were_found():
    assert len(PAGES) >= 12


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_every_output_is_rendered_and_titled_in_the_page_language(site_dir, page):
    outputs = [s.output for c in markdown.parse(page) for s in c.segments if s.output]
    titles = TITLE.findall(built(site_dir, page))
    assert len(titles) == len(outputs), "each output block becomes one titled output on the page"
    english = page.name.endswith(".en.md")
    for (css, title), out in zip(titles, outputs, strict=True):
        assert title.startswith("Output" if english else "输出")
        assert ("output--approx" in css) == (out.tolerance is not None)
        if out.tolerance is not None:
            assert ("tested within" if english else "测试容差") in title
            assert "±" in title
