"""The site as a whole: it builds strictly, and every page has an equal twin in the other language."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from markdown_structure import DIAGRAM_LANGUAGES, diagram_skeleton, read_page

DOCS = Path(__file__).resolve().parents[1] / "docs"
ZH_PAGES = sorted(p for p in DOCS.rglob("*.md") if not p.name.endswith(".en.md"))
EN_PAGES = sorted(DOCS.rglob("*.en.md"))


def twin(path: Path) -> Path:
    if path.name.endswith(".en.md"):
        return path.with_name(path.name.removesuffix(".en.md") + ".md")
    return path.with_suffix(".en.md")


def rel(path: Path) -> str:
    return str(path.relative_to(DOCS))


@pytest.mark.xdist_group("site")
def test_mkdocs_build_is_strict_and_clean(site_build):
    assert site_build.returncode == 0, site_build.log[-4000:]
    warnings = [line for line in site_build.log.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert not warnings, "\n".join(warnings)
    assert (site_build.site_dir / "index.html").is_file()
    assert (site_build.site_dir / "en" / "index.html").is_file()


def test_every_page_has_a_twin():
    missing = [rel(twin(p)) for p in ZH_PAGES + EN_PAGES if not twin(p).is_file()]
    assert not missing, f"pages without their twin: {missing}"


@pytest.mark.parametrize("zh", ZH_PAGES, ids=rel)
def test_twins_have_the_same_code_markers_images_and_outline(zh: Path):
    en = twin(zh)
    if not en.is_file():
        pytest.fail(f"{rel(en)} is missing")
    a, b = read_page(zh), read_page(en)
    assert len(a.code_blocks) == len(b.code_blocks), "different number of code blocks"
    for n, (block_zh, block_en) in enumerate(zip(a.code_blocks, b.code_blocks, strict=True), 1):
        (lang_zh, code_zh), (lang_en, code_en) = block_zh, block_en
        if lang_zh in DIAGRAM_LANGUAGES and lang_en == lang_zh:  # labels in each page's language
            assert diagram_skeleton(code_zh) == diagram_skeleton(code_en), (
                f"diagram (block {n}) of {rel(zh)} and {rel(en)} differs in more than its quoted labels: "
                "same node ids, shapes and edges in both, and every translated label in quotes"
            )
        else:
            assert block_zh == block_en, f"code block {n} differs between {rel(zh)} and {rel(en)}"
    assert a.markers == b.markers, "pytest-codeblocks / pytest.mark comments differ"
    assert a.images == b.images, "images differ"
    assert [lvl for lvl, _ in a.headings] == [lvl for lvl, _ in b.headings], "heading levels differ"
    assert [i for _, i in a.headings] == [i for _, i in b.headings], "explicit heading ids {#id} differ"


@pytest.mark.parametrize("page", sorted((DOCS / "phases").glob("*.md")), ids=rel)
def test_chapter_sections_have_explicit_ids(page: Path):
    """Links into chapters (the coverage map, the glossary, the other language) rely on stable ids."""
    unnamed = [lvl for lvl, anchor in read_page(page).headings if lvl == 2 and anchor is None]
    assert not unnamed, f"{rel(page)}: every '## ' heading needs an explicit {{#id}}"


def test_structure_reader_sees_indented_blocks(tmp_path: Path):
    page = tmp_path / "x.md"
    page.write_text(
        "## A {#a}\n\n<!--pytest-codeblocks:cont-->\n```python\nx = 1\n```\n\n"
        '??? success "答案"\n    ```python\n    y = 2\n    ```\n\n![plot](../figures/p.svg)\n'
    )
    got = read_page(page)
    assert got.code_blocks == [("python", "x = 1"), ("python", "y = 2")]
    assert got.markers == ["pytest-codeblocks:cont"]
    assert got.images == ["../figures/p.svg"]
    assert got.headings == [(2, "a")]


@pytest.mark.parametrize("page", ZH_PAGES + EN_PAGES, ids=rel)
def test_no_test_marker_refers_back_to_a_diagram(page: Path):
    """pytest-codeblocks links `cont` and `expected-output` to the fence right before them, diagrams too:
    a diagram between a code block and its `cont` would silently take the continuation (and not run it)."""
    lines = read_page(page).markers_after_diagram
    assert not lines, f"{rel(page)}, lines {lines}: move the diagram out from between the blocks"


def test_diagram_twins_may_differ_only_in_quoted_labels(tmp_path: Path):
    zh, en = tmp_path / "x.md", tmp_path / "x.en.md"
    zh.write_text(
        "```diagram\nflowchart TB\n  accTitle: 残差块\n  accDescr { 两条路\n  相加 }\n"
        '  x["输入 x"] --> f["3×3 卷积"]\n  x -->|"恒等"| add(("+"))\n  f --> add\n```\n'
    )
    en.write_text(
        "```diagram\nflowchart TB\n  accTitle: Residual block\n  accDescr { two paths,\n  added }\n"
        '  x["input x"] --> f["3×3 conv"]\n  x -->|"identity"| add(("+"))\n  f --> add\n```\n'
    )
    [(lang_zh, code_zh)], [(lang_en, code_en)] = read_page(zh).code_blocks, read_page(en).code_blocks
    assert lang_zh == lang_en == "diagram" and lang_zh in DIAGRAM_LANGUAGES
    assert code_zh != code_en
    assert diagram_skeleton(code_zh) == diagram_skeleton(code_en)
    assert 'x["…"] --> f["…"]' in diagram_skeleton(code_en)
    # Anything but a quoted label counts: another edge, another node id, another arrow, an unquoted label.
    for changed in (
        code_en + "\n  x --> f",
        code_en.replace("f --> add", "g --> add"),
        code_en.replace("f --> add", "f -.-> add"),
        code_en.replace('f["3×3 conv"]', "f[3×3 conv]"),
    ):
        assert diagram_skeleton(changed) != diagram_skeleton(code_zh), changed
    en.write_text(en.read_text() + "\n<!--pytest-codeblocks:cont-->\n```python\nx = 1\n```\n")
    assert read_page(en).markers_after_diagram == [11]
    assert read_page(zh).markers_after_diagram == []


def test_api_reference_covers_every_module():
    import pkgutil

    import lessons

    modules = {m.name for m in pkgutil.walk_packages(lessons.__path__, "lessons.") if not m.ispkg}
    for page in ("index.md", "index.en.md"):
        text = (DOCS / "reference" / page).read_text(encoding="utf-8")
        missing = sorted(m for m in modules if f"::: {m}\n" not in text)
        assert not missing, f"reference/{page} does not document {missing}"


@pytest.mark.xdist_group("site")
def test_katex_is_loaded_only_where_there_is_maths(site_dir: Path):
    """hooks/math_assets.py: a page with a formula loads KaTeX's script, stylesheet and renderer; a page
    without one loads none of them."""
    with_maths, without = [], []
    for page in site_dir.rglob("index.html"):
        html = page.read_text(encoding="utf-8")
        (with_maths if 'class="arithmatex"' in html else without).append((page, html.count("katex")))
    assert len(with_maths) > 10 and len(without) > 10
    assert all(n >= 4 for _, n in with_maths), [str(p) for p, n in with_maths if n < 4]
    assert all(n == 0 for _, n in without), [str(p) for p, n in without if n][:5]


@pytest.mark.xdist_group("site")
def test_images_are_lazy_and_sized(site_dir: Path):
    """hooks/images.py: every image loads lazily, and every figure of ours states its size in pixels."""
    images = [
        (page, tag)
        for page in site_dir.rglob("index.html")
        for tag in re.findall(r"<img\b[^>]*>", page.read_text(encoding="utf-8"))
    ]
    figures = [(page, tag) for page, tag in images if "/figures/" in tag]
    assert len(figures) > 50
    assert all('loading="lazy"' in tag for _, tag in images), [t for _, t in images if "lazy" not in t][:3]
    assert all(re.search(r'width="\d+" height="\d+"', tag) for _, tag in figures)


@pytest.mark.xdist_group("site")
def test_palette_toggle_is_named_in_the_page_language(site_dir: Path):
    for page in site_dir.rglob("index.html"):
        english = page.relative_to(site_dir).parts[0] == "en"
        names = re.findall(
            r'<label class="md-header__button md-icon" title="([^"]*)"', page.read_text("utf-8")
        )
        expected = (
            ["Switch to dark mode", "Switch to light mode"]
            if english
            else ["切换到深色模式", "切换到浅色模式"]
        )
        assert sorted(names) == sorted(expected), (page, names)


@pytest.mark.xdist_group("site")
def test_pages_link_to_the_site_relatively(site_dir: Path):
    """hooks/relative_links.py: no page (but the 404 page, which is served at any depth) links to the site by
    an absolute path, so the site works under any base path and under `mkdocs serve`."""
    absolute = re.compile(r'\b(?:href|src)="/(?!/)[^"]*"')
    code = re.compile(r"<(pre|code)\b.*?</\1>", re.S)  # a URL shown in code is not a link
    found = {
        str(page.relative_to(site_dir)): absolute.findall(code.sub("", page.read_text(encoding="utf-8")))
        for page in site_dir.rglob("*.html")
        if page.name != "404.html"
    }
    assert not {page: links for page, links in found.items() if links}


@pytest.mark.xdist_group("site")
def test_search_index_holds_prose_not_code(site_dir: Path):
    """hooks/search_exclude.py: code blocks, output blocks, diagram sources and the API's source listings are
    not indexed; inline code in the prose is. (A project notebook's page is indexed whole: Material's parser
    does not honour the exclusion inside mkdocs-jupyter's markup.)"""
    for index in (
        site_dir / "search" / "search_index.json",
        site_dir / "en" / "search" / "search_index.json",
    ):
        docs = json.loads(index.read_text(encoding="utf-8"))["docs"]
        text = "\n".join(doc["text"] for doc in docs if not doc["location"].startswith("projects/"))
        assert "<pre" not in text and "flowchart" not in text
        assert "<code>nn.MultiheadAttention</code>" in text


@pytest.mark.xdist_group("site")
def test_a_split_phase_front_page_sends_old_section_links_on(site_dir: Path):
    """hooks/moved_sections.py: the front page of a phase that is a folder knows where each section of its
    other pages went, and each of those pages has the anchor (in both languages)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hooks"))
    import moved_sections

    for front, moved in moved_sections.moved_sections().items():
        base = moved_sections.page_url(front)
        for root in (site_dir, site_dir / "en"):
            html = (root / base / "index.html").read_text(encoding="utf-8")
            script = re.search(r"var moved=(\{.*?\});", html)
            assert script and json.loads(script[1]) == moved, f"{base}: no or wrong map of moved sections"
            for anchor, target in moved.items():
                page = (root / base / target / "index.html").read_text(encoding="utf-8")
                assert f'id="{anchor}"' in page, f"{base}{target} has no #{anchor}"
