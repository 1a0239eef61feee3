"""The site as a whole: it builds strictly, and every page has an equal twin in the other language."""

from __future__ import annotations

from pathlib import Path

import pytest

from markdown_structure import read_page

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


def test_api_reference_covers_every_module():
    import pkgutil

    import lessons

    modules = {m.name for m in pkgutil.walk_packages(lessons.__path__, "lessons.") if not m.ispkg}
    for page in ("index.md", "index.en.md"):
        text = (DOCS / "reference" / page).read_text(encoding="utf-8")
        missing = sorted(m for m in modules if f"::: {m}\n" not in text)
        assert not missing, f"reference/{page} does not document {missing}"
