"""The course itself as data: the glossary and the sections of its pages, for agents and retrieval to search.

Both are read from the repository checkout that `lessons` is installed from (``data/glossary.yml`` and the
Markdown pages under ``docs/``), so what an agent finds is exactly what the site says.

Examples:
    >>> terms = load_glossary()
    >>> term = next(t for t in terms if t.en == "dropout")
    >>> term.zh, term.link
    ('丢弃法', 'phases/04-mlp/dropout-batchnorm.md#dropout')
    >>> sections = load_course_sections("en")
    >>> next(s for s in sections if s.anchor == "dropout").title
    '4.6 Dropout'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from lessons.checks import check_choice

__all__ = ["GlossaryTerm", "Section", "load_glossary", "load_lora_project_terms", "load_course_sections"]

_ROOT = Path(__file__).resolve().parents[3]  # src/lessons/datasets/course.py -> the checkout


@dataclass(frozen=True)
class GlossaryTerm:
    """One entry of the concepts glossary (``data/glossary.yml``).

    Attributes:
        id: the stable slug.
        zh, en: the term in Chinese and in English.
        definition_zh, definition_en: its one-line definition in each language.
        aliases: other names (abbreviations, synonyms).
        link: where the course teaches it, ``page.md#anchor`` relative to ``docs/``.
    """

    id: str
    zh: str
    en: str
    definition_zh: str
    definition_en: str
    aliases: tuple[str, ...]
    link: str


@dataclass(frozen=True)
class Section:
    """One ``##`` or ``###`` section of a page, as prose: code blocks, outputs and comments removed.

    Attributes:
        page: the Chinese file name relative to ``docs/`` (the site's link target), e.g.
            ``"phases/04-mlp/dropout-batchnorm.md"``.
        anchor: the heading's explicit id (``{#dropout}``).
        title: the heading's text without its id.
        text: the section's prose, up to the next heading of any level.
    """

    page: str
    anchor: str
    title: str
    text: str


def _checkout_file(relative: str) -> Path:
    path = _ROOT / relative
    if not path.exists():
        raise FileNotFoundError(
            f"{relative} not found under {_ROOT}: the course's own data is read from a checkout of the "
            "repository (pip install -e .), not from an installed wheel"
        )
    return path


def load_glossary() -> list[GlossaryTerm]:
    """Every term of the course glossary, in the glossary's order.

    Returns:
        About 300 `GlossaryTerm` s.

    Raises:
        FileNotFoundError: `lessons` is not installed from a checkout.
    """
    groups = yaml.safe_load(_checkout_file("data/glossary.yml").read_text(encoding="utf-8"))["groups"]
    return [
        GlossaryTerm(
            id=t["id"],
            zh=t["zh"],
            en=t["en"],
            definition_zh=t["def"]["zh"],
            definition_en=t["def"]["en"],
            aliases=tuple(t.get("aliases", ())),
            link=t["link"],
        )
        for group in groups
        for t in group["terms"]
    ]


def load_lora_project_terms() -> list[GlossaryTerm]:
    """The glossary terms the phase-12 LoRA project trains and tests on: a frozen list of ids.

    The project's numbers depend on which terms exist, so it reads the 329 ids of
    ``src/lessons/data/lora_project_terms.txt`` (the glossary of 2026-12-03) instead of the whole glossary:
    terms added later change nothing there, while an edit to a listed term's wording still shows.

    Returns:
        The listed `GlossaryTerm` s, in the glossary's order.

    Raises:
        ValueError: a listed id is no longer in the glossary (say which, so the list can be mended).
    """
    text = resources.files("lessons").joinpath("data/lora_project_terms.txt").read_text(encoding="utf-8")
    ids = {line for line in text.splitlines() if line and not line.startswith("#")}
    terms = [t for t in load_glossary() if t.id in ids]
    missing = sorted(ids - {t.id for t in terms})
    if missing:
        raise ValueError(f"lora_project_terms.txt lists ids the glossary no longer has: {', '.join(missing)}")
    return terms


_HEADING = re.compile(r"^(#{2,3}) (.+?) \{#([\w-]+)\}\s*$")
_FENCE = re.compile(r"^\s*```")


def _page_sections(path: Path, page: str) -> list[Section]:
    sections: list[Section] = []
    current: tuple[str, str] | None = None  # (anchor, title) of the open section
    lines: list[str] = []
    in_code = False
    for line in [*path.read_text(encoding="utf-8").splitlines(), "# end"]:
        if _FENCE.match(line):
            in_code = not in_code
            continue
        if in_code or line.lstrip().startswith("<!--"):
            continue
        heading = _HEADING.match(line)
        if heading or line.startswith("# "):
            if current is not None:
                text = " ".join(" ".join(lines).split())
                sections.append(Section(page=page, anchor=current[0], title=current[1], text=text))
            current = (heading.group(3), heading.group(2)) if heading else None
            lines = []
        else:
            lines.append(line.strip())
    return sections


def load_course_sections(language: str = "en") -> list[Section]:
    """The ``##`` and ``###`` sections with an explicit id of every page of the site in one language.

    Args:
        language: ``"en"`` (the ``.en.md`` pages) or ``"zh"`` (the others).

    Returns:
        The sections in file order (pages sorted by path), each with its prose only.

    Raises:
        ValueError: an unknown `language`.
        FileNotFoundError: `lessons` is not installed from a checkout.
    """
    check_choice("language", language, ("en", "zh"))
    docs = _checkout_file("docs")
    return [
        section
        for path in sorted(docs.rglob("*.md"))
        if path.name.endswith(".en.md") == (language == "en")
        for section in _page_sections(path, str(path.relative_to(docs)).replace(".en.md", ".md"))
    ]
