"""Render the roadmap's data (``data/*.yml``) into the pages, in the page's language.

One source of truth, two languages: the coverage map, the schedule, the milestones, the progress tracker,
the papers and the glossary are YAML files in ``data/``. A page asks for a piece by a marker on a line of
its own, e.g. ``<!-- render: coverage 003 -->``; this MkDocs hook (registered under ``hooks:`` in
``mkdocs.yml``) replaces the marker with Markdown in the page's language (``x.en.md`` is English, ``x.md``
Chinese, as mkdocs-static-i18n's suffix layout has it).

Links in the data are relative to ``docs/`` (``phases/05-cnn/resnet.md#resnet``). The same resolver that the
tests use (:func:`page_index`) reads the target Markdown and finds its anchors (explicit ``{#id}``
attributes and slugified headings), so a label can show the section's real heading. At build time a link
whose anchor is not written yet points to the page instead (logged at INFO, so ``--strict`` stays green
while chapters are being written); ``tests/test_plan_data.py`` fails on it.

Run as a script, it writes the jieba search dictionary from the glossary::

    python hooks/render_data.py --jieba          # writes data/jieba_user_dict.txt
    python hooks/render_data.py --jieba --check  # exit 1 if the committed file is out of date
"""

from __future__ import annotations

import argparse
import html
import logging
import posixpath
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
DOCS = ROOT / "docs"
JIEBA_DICT = ROOT / "data" / "jieba_user_dict.txt"
JIEBA_FREQ = 20000
JIEBA_TAG = "n"

LANGS = ("zh", "en")
MARKER = re.compile(r"^[ \t]*<!--\s*render:\s*(?P<name>[\w-]+)(?:[ \t]+(?P<arg>[\w.-]+))?\s*-->[ \t]*$", re.M)
PLACEHOLDER = re.compile(  # the notice of a page that is not written yet
    "|".join(
        [
            "本章正在编写",
            "本笔记正在编写",
            "（编写中）",
            "This chapter is being written",
            "This note is being written",
        ]
        + [r"\(being written\)"]
    )
)
_SECTION = re.compile(r"^##\s", re.M)


def is_unwritten(markdown: str) -> bool:
    """A page that is only its "being written" notice: no ``##`` section yet."""
    return bool(PLACEHOLDER.search(markdown)) and not _SECTION.search(markdown)


CJK_WORD = re.compile(r"^[\u4e00-\u9fff]+$")

log = logging.getLogger("mkdocs.hooks.render_data")


# --------------------------------------------------------------------------------------------- data


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DATA_CACHE: dict[str, tuple[float, Any]] = {}


def load(name: str) -> Any:
    """Return the parsed YAML file ``data/<name>.yml`` (cached until the file changes; do not mutate it)."""
    path = DATA / f"{name}.yml"
    mtime = path.stat().st_mtime
    cached = _DATA_CACHE.get(name)
    if cached is None or cached[0] != mtime:
        with path.open(encoding="utf-8") as fh:
            cached = (mtime, yaml.load(fh, Loader=_LOADER))  # noqa: S506 - a safe loader
        _DATA_CACHE[name] = cached
    return cached[1]


def t(value: Any, lang: str) -> str:
    """Pick the text for ``lang`` out of a ``{zh: ..., en: ...}`` mapping (a plain string is both)."""
    if isinstance(value, dict):
        return str(value[lang]).strip()
    return "" if value is None else str(value).strip()


# -------------------------------------------------------------------------------- anchors and titles

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})")
_HEADING = re.compile(r"^(?P<level>#{1,6})[ \t]+(?P<text>.+?)[ \t]*#*[ \t]*$")
_ATTR_AT_END = re.compile(r"\{(?P<attrs>[^{}]*)\}[ \t]*$")
_ATTR_ID = re.compile(r"\{:?[^{}\n]*?#(?P<id>[\w\-]+)[^{}\n]*\}")
_HTML_ID = re.compile(r"""\b(?:id|name)\s*=\s*["'](?P<id>[^"']+)["']""")


@dataclass
class PageIndex:
    """What a Markdown page offers to links: its title, its anchors (id -> heading text) and whether it is
    still a placeholder ("being written")."""

    path: str
    title: str = ""
    anchors: dict[str, str] = field(default_factory=dict)
    placeholder: bool = False


def _plain(text: str) -> str:
    """Heading Markdown to the plain text the toc extension slugifies."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("`", "")
    text = re.sub(r"(\*\*|__|\*|_(?=\w)|(?<=\w)_)", "", text)
    return html.unescape(text).strip()


_slugify: Callable[[str, str], str] | None = None


def slugify(text: str) -> str:
    """The slug the site's toc extension gives a heading (pymdownx.slugs, lower case)."""
    global _slugify
    if _slugify is None:
        from pymdownx.slugs import slugify as factory

        _slugify = factory(case="lower")
    return _slugify(text, "-")


def lines_outside_code(markdown: str) -> Iterator[tuple[int, str]]:
    """``(line number from 1, line)`` for each line of a Markdown text outside fenced code blocks."""
    fence: str | None = None
    for number, line in enumerate(markdown.splitlines(), 1):
        m = _FENCE.match(line)
        if fence is None:
            if m:
                fence = m.group("fence")
                continue
            yield number, line
        elif (
            m
            and m.group("fence")[0] == fence[0]
            and len(m.group("fence")) >= len(fence)
            and not line[m.end() :].strip()
        ):
            fence = None


def _outside_code(markdown: str) -> Iterator[str]:
    """The lines of a Markdown text that are not inside fenced code blocks."""
    return (line for _, line in lines_outside_code(markdown))


def scan_markdown(markdown: str, path: str = "") -> PageIndex:
    """Index a Markdown text: title (first ``#`` heading), anchors (explicit ids and heading slugs)."""
    index = PageIndex(path=path, placeholder=is_unwritten(markdown))
    seen: dict[str, int] = {}
    for line in _outside_code(markdown):
        heading = _HEADING.match(line)
        if heading:
            text = heading.group("text")
            attrs = _ATTR_AT_END.search(text)
            explicit = None
            if attrs:
                text = text[: attrs.start()].rstrip()
                m = re.search(r"#([\w\-]+)", attrs.group("attrs"))
                explicit = m.group(1) if m else None
            plain = _plain(text)
            if explicit:
                anchor = explicit
            else:
                anchor = slugify(plain)
                if anchor in seen:  # the toc extension numbers duplicates: x, x_1, x_2 ...
                    seen[anchor] += 1
                    anchor = f"{anchor}_{seen[anchor]}"
            seen.setdefault(anchor, 0)
            index.anchors.setdefault(anchor, plain)
            if len(heading.group("level")) == 1 and not index.title:
                index.title = plain
            continue
        for m in _ATTR_ID.finditer(line):
            index.anchors.setdefault(m.group("id"), "")
        for m in _HTML_ID.finditer(line):
            index.anchors.setdefault(m.group("id"), "")
    return index


_CACHE: dict[tuple[str, float], PageIndex] = {}


def page_index(path: str) -> PageIndex | None:
    """Index of ``docs/<path>`` (``None`` when the file does not exist). Pages with render markers are
    indexed after rendering, so ids that the data generates count too. Cached by modification time."""
    file = DOCS / path
    if not file.is_file():
        return None
    key = (path, file.stat().st_mtime)
    if key not in _CACHE:
        text = file.read_text(encoding="utf-8")
        if MARKER.search(text):
            text = render_page(text, lang_of(path), path, check_anchors=False)
        _CACHE[key] = scan_markdown(text, path)
    return _CACHE[key]


def lang_of(path: str) -> str:
    """Language of a page by its file name: ``x.en.md`` is English, ``x.md`` Chinese."""
    return "en" if path.endswith(".en.md") else "zh"


def page_url(path: str) -> str:
    """The directory URL of a docs-relative page, an anchor dropped: ``phases/04-mlp.md`` ->
    ``phases/04-mlp/``, ``phases/05-cnn/index.md`` -> ``phases/05-cnn/``, ``index.md`` -> ``""``."""
    page = path.partition("#")[0].removesuffix(".md")
    return "" if page == "index" else page.removesuffix("/index") + "/"


def twin(path: str, lang: str) -> str:
    """The file of ``path`` (written as the Chinese ``x.md``) in ``lang``."""
    if lang == "en" and path.endswith(".md") and not path.endswith(".en.md"):
        return path[: -len(".md")] + ".en.md"
    return path


@dataclass
class Link:
    """A link from the data, resolved for one language."""

    target: str  # as written in the data, relative to docs/: "phases/05-cnn/resnet.md#resnet"
    page: str  # "phases/05-cnn/index.md"
    anchor: str  # "resnet" or ""
    label: str  # heading text, or the page title
    exists: bool  # the page exists in this language
    anchor_ok: bool  # the anchor is found (True when there is none)
    placeholder: bool  # the target page is still being written


def resolve(target: str, lang: str) -> Link:
    """Resolve a docs-relative link ``page.md#anchor`` against the page of language ``lang``."""
    page, _, anchor = target.partition("#")
    index = page_index(twin(page, lang))
    if index is None:
        return Link(target, page, anchor, target, False, False, False)
    anchor_ok = not anchor or anchor in index.anchors
    label = index.anchors.get(anchor) if anchor and anchor_ok else ""
    return Link(target, page, anchor, label or index.title or page, True, anchor_ok, index.placeholder)


def iter_links(value: Any) -> Iterator[str]:
    """Every docs-relative link stored in a data structure (values of keys ``to``, ``link``, ``proof``,
    ``page``, ``chapter``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in {"to", "link", "proof", "chapter", "page"}:
                yield from ([item] if isinstance(item, str) else item or [])
            else:
                yield from iter_links(item)
    elif isinstance(value, list):
        for item in value:
            yield from iter_links(item)


# -------------------------------------------------------------------------------------- rendering

UI = {
    "zh": {
        "topic": "主题（原文）",
        "where": "在哪里学",
        "status": "说明",
        "taught": "✓ 讲授",
        "partial": "◐ 小规模版本",
        "out": "✗ 不在本站范围",
        "pending": "（尚在编写）",
        "planned": "… 尚在编写",
        "ms_body": "本周结束时按{checklist}自查，在{tracker}页勾选通过的项。",
        "checklist": "里程碑清单",
        "tracker": "进度追踪",
        "plan": "计划",
        "topics": "主题数",
        "week": "周",
        "phase": "阶段",
        "goal": "目标",
        "deliverable": "交付物",
        "sections": "要学的小节",
        "milestone": "里程碑",
        "proof": "用这些练习证明",
        "year": "年份",
        "paper": "论文",
        "authors": "作者",
        "why": "为什么重要",
        "chapter": "在哪一章实现",
        "term": "术语",
        "other": "English",
        "definition": "释义",
        "taught_in": "讲授位置",
        "all": "合计",
        "export": "导出 JSON",
        "import": "导入 JSON",
        "file": "从文件导入",
        "reset": "全部清除",
        "json": "进度 JSON（导出后复制保存，或粘贴后导入）",
        "msg_exported": "已导出 {n} 项，也已下载为文件。",
        "msg_imported": "已导入 {n} 项。",
        "msg_bad": "无法导入：这不是本站导出的进度 JSON。",
        "msg_reset": "已清除全部进度。",
        "confirm_reset": "确定清除全部勾选吗？",
        "overall": "总进度",
        "milestones": "里程碑检查",
        "week_n": "第 {n} 周",
        "weeks_n": "第 {a}–{b} 周",
        "phase_n": "阶段 {n}",
        "capstone": "结业项目",
        "colon": "：",
        "glossary_total": "共 {n} 个术语，按主题分组；每个术语链接到讲授它的章节。",
    },
    "en": {
        "topic": "Topic (translated)",
        "where": "Where it is taught",
        "status": "Notes",
        "taught": "✓ taught",
        "partial": "◐ small-scale version",
        "out": "✗ out of scope here",
        "pending": "(not written yet)",
        "planned": "… not written yet",
        "ms_body": "At the end of the week, check yourself against the {checklist} "
        "and tick what you pass on the {tracker}.",
        "checklist": "milestone checklist",
        "tracker": "progress tracker",
        "plan": "Plan",
        "topics": "Topics",
        "week": "Week",
        "phase": "Phase",
        "goal": "Goal",
        "deliverable": "Deliverable",
        "sections": "Sections to study",
        "milestone": "Milestone",
        "proof": "Proved by",
        "year": "Year",
        "paper": "Paper",
        "authors": "Authors",
        "why": "Why it matters",
        "chapter": "Implemented in",
        "term": "Term",
        "other": "中文",
        "definition": "Definition",
        "taught_in": "Taught in",
        "all": "Total",
        "export": "Export JSON",
        "import": "Import JSON",
        "file": "Import from file",
        "reset": "Clear all",
        "json": "Progress JSON (copy it after export, or paste and import)",
        "msg_exported": "Exported {n} ticks; a file was downloaded too.",
        "msg_imported": "Imported {n} ticks.",
        "msg_bad": "Cannot import: this is not a progress JSON exported by this site.",
        "msg_reset": "All progress cleared.",
        "confirm_reset": "Clear every tick?",
        "overall": "Overall",
        "milestones": "Milestone checks",
        "week_n": "Week {n}",
        "weeks_n": "Weeks {a}–{b}",
        "phase_n": "Phase {n}",
        "capstone": "Capstone",
        "colon": ": ",
        "glossary_total": "{n} terms, grouped by topic; each links to the section that teaches it.",
    },
}


def cell(text: str) -> str:
    """Make text safe for one Markdown table cell."""
    return " ".join(str(text).split()).replace("|", "\\|")


class Renderer:
    """Renders the data pieces for one page (language ``lang``, file ``src`` relative to docs/)."""

    def __init__(self, lang: str, src: str, check_anchors: bool = True) -> None:
        self.lang = lang
        self.src = src
        self.ui = UI[lang]
        self.check_anchors = check_anchors
        self.pending: list[str] = []  # links whose section is not written yet (rendered as page links)

    # -- links

    def href(self, target: str, drop_anchor: bool = False) -> str:
        page, _, anchor = target.partition("#")
        rel = posixpath.relpath(page, posixpath.dirname(self.src) or ".")
        return rel + (f"#{anchor}" if anchor and not drop_anchor else "")

    def link(self, target: str, label: str | None = None, title: str = "") -> str:
        """A Markdown link to a docs-relative target, labelled with the section heading or page title."""
        tip = f' "{title.replace(chr(34), chr(39))}"' if title else ""
        if not self.check_anchors:
            return f"[{label or target}]({self.href(target)}{tip})"
        ln = resolve(target, self.lang)
        drop = bool(ln.anchor) and not ln.anchor_ok
        if not ln.exists:
            log.warning("render_data: %s links to a missing page %s", self.src, target)
        elif drop:
            self.pending.append(target)
        text = label or self.label(ln, drop)
        out = f"[{cell(text)}]({self.href(target, drop_anchor=drop)}{tip})"
        if ln.placeholder and not label:
            out += f" {self.ui['pending']}"
        return out

    def label(self, ln: Link, dropped: bool) -> str:
        """A link's text: the section heading (with its chapter when the heading does not say it), or the
        page title when the link goes to the page."""
        index = page_index(twin(ln.page, self.lang))
        title = index.title if index and index.title else ln.page
        if not ln.anchor or dropped:
            return title
        heading = ln.label
        chapter = re.match(r"phases/(\d\d)-", ln.page)
        if chapter and re.match(r"\d", heading):  # "5.12 Grad-CAM": the number names the chapter
            return heading
        prefix = self.ui["phase_n"].format(n=int(chapter.group(1))) if chapter else title
        return f"{prefix} · {heading}" if heading else prefix

    def links(self, targets: Iterable[str], sep: str = "<br>") -> str:
        """Several links; those that end up identical (sections not written yet fall back to their page)
        are shown once."""
        return sep.join(dict.fromkeys(self.link(x) for x in targets))

    # -- coverage map

    def status(self, entry: dict) -> str:
        """A topic's status as the reader should see it: one taught (or shown small-scale) only on pages
        that are still being written is planned, not taught, whatever the data says it will be."""
        status = entry.get("status", "taught")
        targets = entry.get("to", [])
        if (
            status in ("taught", "partial")
            and targets
            and all(resolve(x, self.lang).placeholder for x in targets)
        ):
            return "pending"
        return status

    def coverage(self, plan: str | None) -> str:
        data = load("plan_topics")
        topics = data["topics"]
        cover = load("coverage")
        intro = [t(data["plans"][plan]["about"], self.lang), ""] if plan else []
        rows = [
            *intro,
            f"| # | {self.ui['topic']} | {self.ui['where']} | {self.ui['status']} |",
            "|---|---|---|---|",
        ]
        n = 0
        for topic in topics:
            if plan and topic["plan"] != plan:
                continue
            n += 1
            entry = cover.get(topic["id"], {})
            status = self.status(entry)
            name = cell(t(topic, self.lang))
            if self.lang == "en":
                name += f'<br><small lang="zh">{cell(topic["zh"])}</small>'
            note = self.ui["planned" if status == "pending" else status]
            if entry.get("note"):
                note += "<br>" + cell(t(entry["note"], self.lang))
            rows.append(f"| {n} | {name} | {self.links(entry.get('to', []))} | {note} |")
        return "\n".join(rows)

    def coverage_summary(self, _arg: str | None) -> str:
        data = load("plan_topics")
        cover = load("coverage")
        ui = self.ui
        columns = ("plan", "topics", "taught", "partial", "out", "planned")
        head = "| " + " | ".join(ui[c] for c in columns) + " |"
        rows = [head, "|---|---|---|---|---|---|"]
        totals = [0, 0, 0, 0, 0]
        for plan_id, plan in data["plans"].items():
            counts = [0, 0, 0, 0, 0]
            for topic in data["topics"]:
                if topic["plan"] == plan_id:
                    status = self.status(cover.get(topic["id"], {}))
                    counts[0] += 1
                    counts[{"taught": 1, "partial": 2, "out": 3, "pending": 4}[status]] += 1
            totals = [a + b for a, b in zip(totals, counts, strict=True)]
            name = f"[{plan_id} · {cell(t(plan['title'], self.lang))}](#plan-{plan_id})"
            rows.append(f"| {name} | " + " | ".join(map(str, counts)) + " |")
        rows.append(f"| **{self.ui['all']}** | " + " | ".join(f"**{x}**" for x in totals) + " |")
        return "\n".join(rows)

    # -- phases, schedule, milestones

    def section_target(self, phase: dict, sec: dict) -> str:
        if "page" in sec:  # a section that lives on a page of its own (the Keras track, a note)
            return sec["page"]
        anchored = phase.get("anchored", True) and not sec.get("pending", False)
        return f"{phase['page']}#{sec['id']}" if anchored else phase["page"]

    def phases_by_id(self) -> dict[str, dict]:
        return {p["id"]: p for p in load("phases")}

    def weeks_label(self, weeks: list[int]) -> str:
        a, b = min(weeks), max(weeks)
        return self.ui["week_n"].format(n=a) if a == b else self.ui["weeks_n"].format(a=a, b=b)

    def schedule_table(self, _arg: str | None) -> str:
        phases = self.phases_by_id()
        ui = self.ui
        rows = [f"| {ui['week']} | {ui['phase']} | {ui['goal']} | {ui['deliverable']} |", "|---|---|---|---|"]
        for week in load("schedule"):
            phase = phases.get(week.get("phase", ""))
            phase_cell = self.link(phase["page"], t(phase["short"], self.lang)) if phase else ui["capstone"]
            goal = f"[{cell(t(week['title'], self.lang))}](#week-{week['week']})"
            deliverable = cell(t(week["deliverable"], self.lang))
            rows.append(f"| {week['week']} | {phase_cell} | {goal} | {deliverable} |")
        return "\n".join(rows)

    def schedule(self, _arg: str | None) -> str:
        phases = self.phases_by_id()
        ui = self.ui
        out: list[str] = []
        for week in load("schedule"):
            phase = phases.get(week.get("phase", ""))
            title = f"{ui['week_n'].format(n=week['week'])} · {t(week['title'], self.lang)}"
            out += [f"### {title} {{#week-{week['week']}}}", ""]
            if phase:
                out += [
                    f"**{ui['phase']}**{ui['colon']}{self.link(phase['page'], t(phase['title'], self.lang))}",
                    "",
                ]
            out += [t(week["goal"], self.lang), ""]
            secs = []
            for ref in week.get("sections", []):
                pid, _, sid = ref.partition(".")
                ph = phases[pid]
                sec = next(s for s in ph["sections"] if s["id"] == sid)
                secs.append(f"- {self.link(self.section_target(ph, sec), t(sec, self.lang))}")
            for target in week.get("also", []):
                secs.append(f"- {self.link(target)}")
            if secs:
                out += [f"**{ui['sections']}**", "", *secs, ""]
            out += [f"**{ui['deliverable']}**{ui['colon']}{t(week['deliverable'], self.lang)}", ""]
            if week.get("milestone"):
                ms = next(m for m in load("milestones") if m["id"] == week["milestone"])
                label = f"{ui['milestone']}{ui['colon']}{t(ms['title'], self.lang)}"
                out += [
                    f'!!! success "{label}"',
                    "    "
                    + ui["ms_body"].format(
                        checklist=self.link("plan/milestones.md#" + ms["anchor"], ui["checklist"]),
                        tracker=self.link("plan/progress.md", ui["tracker"]),
                    ),
                    "",
                ]
        return "\n".join(out)

    def milestone(self, arg: str | None) -> str:
        ms = next(m for m in load("milestones") if m["id"] == arg)
        out = [t(ms["intro"], self.lang), ""]
        for item in ms["items"]:
            proof = self.links(item["proof"], sep=", ")
            out.append(f"- [ ] {t(item, self.lang)}  \n  {self.ui['proof']}{self.ui['colon']}{proof}")
        return "\n".join(out)

    # -- progress tracker

    def tracker(self, _arg: str | None) -> str:
        ui = self.ui
        msgs = {k: ui[k] for k in ("msg_exported", "msg_imported", "msg_bad", "msg_reset", "confirm_reset")}
        data_attrs = " ".join(f'data-{k.replace("_", "-")}="{html.escape(v)}"' for k, v in msgs.items())
        out = [
            f'<div class="dlr-tracker" data-storage-key="dl-roadmap:progress:v1" {data_attrs} markdown>',
            "",
            '<div class="dlr-overall" data-group="all">',
            f'<span class="dlr-overall__label">{ui["overall"]}</span> '
            '<progress class="dlr-bar" max="1" value="0"></progress> <span class="dlr-count">0 / 0</span>',
            "</div>",
            "",
            '<div class="dlr-toolbar">',
            f'<button type="button" class="md-button" data-action="export">{ui["export"]}</button>',
            f'<button type="button" class="md-button" data-action="import">{ui["import"]}</button>',
            f'<label class="md-button dlr-file">{ui["file"]}'
            '<input type="file" accept="application/json,.json" data-action="file" hidden></label>',
            f'<button type="button" class="md-button" data-action="reset">{ui["reset"]}</button>',
            "</div>",
            "",
            f'<textarea class="dlr-json" rows="3" aria-label="{ui["json"]}" placeholder="{ui["json"]}"'
            ' spellcheck="false"></textarea>',
            '<p class="dlr-message" role="status" aria-live="polite"></p>',
            "",
        ]
        for phase in load("phases"):
            n = phase["n"]
            title = f"{ui['phase_n'].format(n=n)} · {t(phase['title'], self.lang)}"
            weeks = self.weeks_label(phase["weeks"])
            out += [
                f'<section class="dlr-group" data-group="{phase["id"]}" markdown>',
                "",
                f"### {title} {{#track-{phase['id']}}}",
                "",
                f'<div class="dlr-progress"><progress class="dlr-bar" max="1" value="0"></progress> '
                f'<span class="dlr-count">0 / 0</span> <span class="dlr-weeks">{weeks}</span></div>',
                "",
            ]
            for sec in phase["sections"]:
                key = f"{phase['id']}.{sec['id']}"
                target = self.section_target(phase, sec)
                out.append(self.check_item(key, t(sec, self.lang), target))
            out += ["", "</section>", ""]
        out += [
            '<section class="dlr-group" data-group="milestones" markdown>',
            "",
            f"### {ui['milestones']} {{#track-milestones}}",
            "",
            '<div class="dlr-progress"><progress class="dlr-bar" max="1" value="0"></progress> '
            '<span class="dlr-count">0 / 0</span></div>',
            "",
        ]
        for ms in load("milestones"):
            for item in ms["items"]:
                key = f"{ms['id']}.{item['id']}"
                label = f"{ui['week_n'].format(n=ms['week'])} · {t(item, self.lang)}"
                out.append(self.check_item(key, label, f"plan/milestones.md#{ms['anchor']}"))
        out += ["", "</section>", "", "</div>"]
        return "\n".join(out)

    def check_item(self, key: str, label: str, target: str) -> str:
        box = f'<input type="checkbox" class="dlr-check" data-key="{html.escape(key)}">'
        return f'- <label class="dlr-item">{box} {cell(label)}</label> {self.link(target, "→", title=label)}'

    # -- papers

    def papers(self, _arg: str | None) -> str:
        ui = self.ui
        rows = [
            f"| {ui['year']} | {ui['paper']} | {ui['authors']} | {ui['why']} | {ui['chapter']} |",
            "|---|---|---|---|---|",
        ]
        for p in sorted(load("papers"), key=lambda p: (p["year"], p["title"])):
            title = ("★ " if p.get("read") else "") + f"[{cell(p['title'])}]({p['url']})"
            chapters = self.links(p["chapter"] if isinstance(p["chapter"], list) else [p["chapter"]])
            why = cell(t(p["why"], self.lang))
            rows.append(f"| {p['year']} | {title} | {cell(p['authors'])} | {why} | {chapters} |")
        return "\n".join(rows)

    # -- glossary

    def glossary(self, _arg: str | None) -> str:
        data = load("glossary")
        ui = self.ui
        total = sum(len(g["terms"]) for g in data["groups"])
        out = [self.ui["glossary_total"].format(n=total), ""]
        for group in data["groups"]:
            out += [f"## {t(group['title'], self.lang)} {{#{group['id']}}}", ""]
            out += [
                f"| {ui['term']} | {ui['other']} | {ui['definition']} | {ui['taught_in']} |",
                "|---|---|---|---|",
            ]
            for term in group["terms"]:
                first, second = (term["zh"], term["en"]) if self.lang == "zh" else (term["en"], term["zh"])
                anchor = f'<span id="term-{term["id"]}"></span>'
                definition = cell(t(term["def"], self.lang))
                where = self.link(term["link"])
                out.append(f"| {anchor}**{cell(first)}** | {cell(second)} | {definition} | {where} |")
            out.append("")
        return "\n".join(out)


RENDERERS: dict[str, Callable[[Renderer, str | None], str]] = {
    "coverage": Renderer.coverage,
    "coverage-summary": Renderer.coverage_summary,
    "schedule": Renderer.schedule,
    "schedule-table": Renderer.schedule_table,
    "milestone": Renderer.milestone,
    "tracker": Renderer.tracker,
    "papers": Renderer.papers,
    "glossary": Renderer.glossary,
}


def render_page(markdown: str, lang: str, src: str, check_anchors: bool = True) -> str:
    """Replace every ``<!-- render: name [arg] -->`` marker of a page with the rendered data."""
    renderer = Renderer(lang, src, check_anchors)

    def replace(m: re.Match[str]) -> str:
        name = m.group("name")
        if name not in RENDERERS:
            raise ValueError(f"{src}: unknown render marker {name!r}; known: {sorted(RENDERERS)}")
        return RENDERERS[name](renderer, m.group("arg"))

    out = MARKER.sub(replace, markdown)
    if renderer.pending:
        pending = sorted(set(renderer.pending))
        log.info(
            "render_data: %s: %d links point to sections not written yet; they go to the page for now: %s",
            src,
            len(pending),
            ", ".join(pending[:5]) + (" …" if len(pending) > 5 else ""),
        )
    return out


# ------------------------------------------------------------------------------------ mkdocs hooks


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """MkDocs event: render the data markers of a page in its language."""
    if "<!--" not in markdown or not MARKER.search(markdown):
        return markdown
    src = page.file.src_uri
    return render_page(markdown, lang_of(src), src)


def on_serve(server: Any, config: Any, builder: Any) -> Any:
    """MkDocs event: `mkdocs serve` rebuilds when the data changes too."""
    server.watch(str(DATA))
    return server


# ------------------------------------------------------------------------------------------ jieba


def jieba_words() -> list[str]:
    """The Chinese words of the glossary (terms and aliases written in Han characters only), in order."""
    words: list[str] = []
    for group in load("glossary")["groups"]:
        for term in group["terms"]:
            for word in [term["zh"], *term.get("aliases", [])]:
                if CJK_WORD.match(word) and word not in words:
                    words.append(word)
    return words


def jieba_dict_text() -> str:
    """The jieba user dictionary (``word freq tag`` per line) generated from the glossary."""
    # No comment line: jieba would read it as a word. The file is generated: do not edit it by hand.
    return "".join(f"{w} {JIEBA_FREQ} {JIEBA_TAG}\n" for w in jieba_words())


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jieba", action="store_true", help="write data/jieba_user_dict.txt")
    parser.add_argument("--check", action="store_true", help="only check that the file is up to date")
    args = parser.parse_args(argv)
    if not args.jieba:
        parser.print_help()
        return 2
    text = jieba_dict_text()
    if args.check:
        current = JIEBA_DICT.read_text(encoding="utf-8") if JIEBA_DICT.exists() else ""
        if current != text:
            print(f"{_shown(JIEBA_DICT)} is out of date: run python hooks/render_data.py --jieba")
            return 1
        return 0
    JIEBA_DICT.write_text(text, encoding="utf-8")
    print(f"wrote {len(text.splitlines())} words to {_shown(JIEBA_DICT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
