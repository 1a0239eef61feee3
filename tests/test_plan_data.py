"""The roadmap's data (data/*.yml) and the pages it is rendered into (docs/plan/*, docs/notes/concepts*).

* Every topic of the five source plans (data/plan_topics.yml) is in the coverage map, and nothing else is.
* Every link in the data, and every relative link in the roadmap's hand-written pages, opens: the page
  exists in both languages and the anchor exists in both (explicit ``{#id}`` attributes and slugified
  headings of the target Markdown, so no build is needed). A chapter section that is not written yet fails
  here on purpose, even though the build quietly links to the page meanwhile.
* The schedule, milestones and tracker agree with each other, and both languages render the same structure.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest

import render_data_hook

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SOURCE_PLANS = Path(os.environ.get("DL_ROADMAP_PLANS", ROOT.parent / "shared" / "plans"))


rd = render_data_hook.load()
TOPICS = rd.load("plan_topics")
COVERAGE = rd.load("coverage")
PHASES = rd.load("phases")
SCHEDULE = rd.load("schedule")
MILESTONES = rd.load("milestones")
PAPERS = rd.load("papers")
GLOSSARY = rd.load("glossary")
PHASE_BY_ID = {p["id"]: p for p in PHASES}
ROADMAP_PAGES = sorted((DOCS / "plan").glob("*.md")) + sorted((DOCS / "notes").glob("concepts*.md"))


def section_target(phase: dict, section: dict) -> str:
    return rd.Renderer("zh", "plan/x.md").section_target(phase, section)


def data_links() -> dict[str, list[str]]:
    """Every docs-relative link in the data, with where it comes from."""
    links: dict[str, list[str]] = {}

    def add(target: str, origin: str) -> None:
        links.setdefault(target, []).append(origin)

    for topic_id, entry in COVERAGE.items():
        for target in entry.get("to", []):
            add(target, f"coverage {topic_id}")
    for phase in PHASES:
        add(phase["page"], f"phases {phase['id']}")
        for section in phase["sections"]:
            add(section_target(phase, section), f"phases {phase['id']}.{section['id']}")
    for week in SCHEDULE:
        for target in week.get("also", []):
            add(target, f"schedule week {week['week']}")
    for milestone in MILESTONES:
        for item in milestone["items"]:
            for target in item["proof"]:
                add(target, f"milestone {milestone['id']}.{item['id']}")
    for paper in PAPERS:
        for target in rd.iter_links({"chapter": paper["chapter"]}):
            add(target, f"paper {paper['title']}")
    for group in GLOSSARY["groups"]:
        for term in group["terms"]:
            add(term["link"], f"glossary {term['id']}")
    return links


DATA_LINKS = data_links()


def check_link(target: str) -> list[str]:
    """Problems with one docs-relative link, in both languages ([] when it resolves)."""
    problems = []
    for lang in rd.LANGS:
        ln = rd.resolve(target, lang)
        if not ln.exists:
            problems.append(f"{rd.twin(ln.page, lang)} does not exist")
        elif not ln.anchor_ok:
            problems.append(f"{rd.twin(ln.page, lang)} has no anchor #{ln.anchor}")
    return problems


# ------------------------------------------------------------------------------------- the data files


DATA_FILES = ["plan_topics", "coverage", "phases", "schedule", "milestones", "papers", "glossary"]


@pytest.mark.parametrize("name", DATA_FILES)
def test_data_file_has_no_stray_keys_or_empty_values(name):
    """Catches YAML slips such as an unquoted comma in a flow mapping, which turns half a sentence into a key
    with no value."""
    problems = []

    def walk(value, path):
        if value is None or value == "":
            problems.append(f"{path}: empty")
        elif isinstance(value, dict):
            for key, item in value.items():
                if not re.match(r"^[\w.-]+$", str(key)):
                    problems.append(f"{path}: odd key {key!r}")
                walk(item, f"{path}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")

    walk(rd.load(name), name)
    assert not problems, "\n".join(problems[:20])


# ------------------------------------------------------------------------------------- the coverage map


def test_topic_ids_are_unique_and_belong_to_a_known_plan():
    ids = [t["id"] for t in TOPICS["topics"]]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert {t["plan"] for t in TOPICS["topics"]} == set(TOPICS["plans"])
    for topic in TOPICS["topics"]:
        assert topic["id"].startswith(topic["plan"] + "."), topic["id"]
        assert topic["zh"].strip() and topic["en"].strip(), topic["id"]


def test_every_plan_has_its_topics_extracted():
    counts = Counter(t["plan"] for t in TOPICS["topics"])
    assert set(counts) == {"000", "001", "002", "003", "004"}
    # the backbone: every numbered file NN-name.py of plan 003 is a topic of its own
    numbered = [t for t in TOPICS["topics"] if re.match(r"^\d\d-[\w-]+\.py：", t["zh"])]
    assert len(numbered) == 108


def test_every_topic_is_in_the_coverage_map():
    topic_ids = {t["id"] for t in TOPICS["topics"]}
    missing = sorted(topic_ids - set(COVERAGE))
    unknown = sorted(set(COVERAGE) - topic_ids)
    assert not missing, f"topics with no entry in data/coverage.yml: {missing}"
    assert not unknown, f"entries of data/coverage.yml that are no topic of data/plan_topics.yml: {unknown}"


@pytest.mark.parametrize("topic_id", sorted(COVERAGE))
def test_coverage_entry_is_complete(topic_id):
    entry = COVERAGE[topic_id]
    assert set(entry) <= {"to", "status", "note"}, f"unknown keys {set(entry) - {'to', 'status', 'note'}}"
    assert entry.get("to"), "an entry links to at least one page"
    status = entry.get("status", "taught")
    assert status in {"taught", "partial", "out", "pending"}  # pending: its section is not written yet
    if status in {"partial", "out"}:
        note = entry.get("note") or {}
        assert note.get("zh") and note.get("en"), f"a {status!r} entry must say why, in both languages"


@pytest.mark.skipif(not SOURCE_PLANS.is_dir(), reason=f"source plans not found at {SOURCE_PLANS}")
def test_topics_quote_the_source_plans():
    """Each topic's Chinese text is taken from its plan (ignoring spaces, emphasis and code marks)."""

    def norm(text: str) -> str:
        return re.sub(r"[\s`*]|<br>", "", text)

    not_found = []
    for topic in TOPICS["topics"]:
        source = norm((SOURCE_PLANS / TOPICS["plans"][topic["plan"]]["file"]).read_text(encoding="utf-8"))
        if norm(topic["zh"]) not in source:
            not_found.append(f"{topic['id']}: {topic['zh']}")
    assert not not_found, "not found in the source plan:\n" + "\n".join(not_found)


@pytest.mark.parametrize("plan", sorted(TOPICS["plans"]))
@pytest.mark.parametrize("lang", rd.LANGS)
def test_coverage_table_lists_every_topic_of_the_plan(plan, lang):
    table = rd.Renderer(lang, "plan/coverage.md").coverage(plan)
    rows = [line for line in table.splitlines() if re.match(r"^\| \d+ \|", line)]
    assert len(rows) == sum(t["plan"] == plan for t in TOPICS["topics"])


# ------------------------------------------------------------------------------------------ links


@pytest.mark.parametrize("target", sorted(DATA_LINKS))
def test_data_link_resolves(target):
    problems = check_link(target)
    assert not problems, f"{target} (used by {', '.join(DATA_LINKS[target][:3])}): {'; '.join(problems)}"


LINK = re.compile(r"(?<!!)\[[^\]]*\]\((?P<url>[^)\s]+)(?:\s+\"[^\"]*\")?\)")


def page_links(page: Path) -> list[str]:
    """Relative links of a hand-written page, outside code (rendered data is checked by the data tests)."""
    text = "\n".join(rd._outside_code(page.read_text(encoding="utf-8")))
    urls = [m.group("url") for m in LINK.finditer(text)]
    return [u for u in urls if not re.match(r"^[a-z][a-z0-9+.-]*:", u)]


@pytest.mark.parametrize("page", ROADMAP_PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_hand_written_links_resolve(page):
    src = str(page.relative_to(DOCS))
    lang = rd.lang_of(src)
    problems = []
    for url in page_links(page):
        path, _, anchor = url.partition("#")
        target = posix_join(src, path) if path else src.replace(".en.md", ".md")
        if not target.endswith(".md"):
            problems.append(f"{url}: link to the .md file of a page")
            continue
        ln = rd.resolve(target + (f"#{anchor}" if anchor else ""), lang)
        if not ln.exists or not ln.anchor_ok:
            problems.append(f"{url} -> {rd.twin(ln.page, lang)}" + (f"#{anchor}" if anchor else ""))
    assert not problems, f"{src}: broken links: {problems}"


def posix_join(src: str, rel: str) -> str:
    import posixpath

    return posixpath.normpath(posixpath.join(posixpath.dirname(src), rel))


def test_external_links_are_https():
    urls = [p["url"] for p in PAPERS]
    for page in ROADMAP_PAGES:
        urls += [m.group("url") for m in LINK.finditer(page.read_text(encoding="utf-8"))]
    plain = [u for u in urls if u.startswith("http://")]
    assert not plain, f"use https: {plain}"


# ---------------------------------------------------------------------- schedule, milestones, tracker


def test_schedule_has_24_weeks_and_schedules_every_section_once():
    assert [w["week"] for w in SCHEDULE] == list(range(1, 25))
    scheduled = Counter(ref for week in SCHEDULE for ref in week.get("sections", []))
    sections = {f"{p['id']}.{s['id']}" for p in PHASES for s in p["sections"]}
    assert [r for r, n in scheduled.items() if n > 1] == [], "a section scheduled twice"
    assert sorted(set(scheduled) - sections) == [], "the schedule names unknown sections"
    assert sorted(sections - set(scheduled)) == [], "sections no week schedules"
    for week in SCHEDULE:
        assert week["phase"] in PHASE_BY_ID
        for ref in week.get("sections", []):
            assert ref.split(".")[0] == week["phase"], f"week {week['week']} lists {ref} of another phase"
            assert week["week"] in PHASE_BY_ID[week["phase"]]["weeks"], (
                f"week {week['week']} outside its phase"
            )
        for key in ("title", "goal", "deliverable"):
            assert rd.t(week[key], "zh") and rd.t(week[key], "en"), f"week {week['week']}: {key}"


def test_phases_cover_24_weeks_in_order():
    weeks = [w for p in PHASES for w in p["weeks"]]
    assert weeks == list(range(1, 25))
    assert [p["n"] for p in PHASES] == list(range(1, 13))


def test_milestones_close_weeks_4_8_12_18_24():
    assert [m["week"] for m in MILESTONES] == [4, 8, 12, 18, 24]
    closing = {w["week"]: w.get("milestone") for w in SCHEDULE if w.get("milestone")}
    assert closing == {m["week"]: m["id"] for m in MILESTONES}
    for m in MILESTONES:
        assert m["anchor"] == f"week-{m['week']}"
        for item in m["items"]:
            assert item["proof"], f"{m['id']}.{item['id']} has nothing that proves it"
            assert item["zh"] and item["en"]


def test_tracker_keys_are_unique_and_stable_in_form():
    keys = [f"{p['id']}.{s['id']}" for p in PHASES for s in p["sections"]]
    keys += [f"{m['id']}.{i['id']}" for m in MILESTONES for i in m["items"]]
    assert [k for k, n in Counter(keys).items() if n > 1] == []
    assert all(re.match(r"^[pm]\d+\.[a-z0-9-]+$", k) for k in keys)


def test_backbone_sections_use_the_plan_file_names():
    """Phase sections are the ids of plan 003's numbered files (``NN-name.py`` -> ``name``)."""
    for topic in TOPICS["topics"]:
        m = re.match(r"^003\.p(\d\d)\.(?!project|doc)(?P<name>[\w-]+)$", topic["id"])
        if m:
            phase = PHASE_BY_ID[f"p{m.group(1)}"]
            assert m.group("name") in {s["id"] for s in phase["sections"]}, topic["id"]
            assert topic["zh"].split("：")[0].endswith(f"-{m.group('name')}.py"), topic["id"]


# --------------------------------------------------------------------------------- rendered pages


def rendered(page: Path) -> str:
    src = str(page.relative_to(DOCS))
    return rd.render_page(page.read_text(encoding="utf-8"), rd.lang_of(src), src)


PAGES_WITH_DATA = [p for p in ROADMAP_PAGES if rd.MARKER.search(p.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("page", PAGES_WITH_DATA, ids=lambda p: str(p.relative_to(DOCS)))
def test_every_marker_renders(page):
    out = rendered(page)
    assert "<!-- render" not in out
    assert len(out) > len(page.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "zh", [p for p in PAGES_WITH_DATA if not p.name.endswith(".en.md")], ids=lambda p: p.name
)
def test_both_languages_render_the_same_anchors_and_tracker_keys(zh):
    en = zh.with_name(zh.name.removesuffix(".md") + ".en.md")
    a, b = rendered(zh), rendered(en)
    assert list(rd.scan_markdown(a).anchors)[1:] == list(rd.scan_markdown(b).anchors)[1:]  # [0]: the title
    keys = re.compile(r'data-key="([^"]+)"')
    assert keys.findall(a) == keys.findall(b)


def test_tracker_renders_every_section_and_milestone_item():
    out = rendered(DOCS / "plan" / "progress.md")
    keys = re.findall(r'data-key="([^"]+)"', out)
    expected = [f"{p['id']}.{s['id']}" for p in PHASES for s in p["sections"]]
    expected += [f"{m['id']}.{i['id']}" for m in MILESTONES for i in m["items"]]
    assert keys == expected


def test_papers_are_complete():
    for paper in PAPERS:
        assert isinstance(paper["year"], int) and 1950 < paper["year"] < 2100
        assert paper["url"].startswith("https://"), paper["title"]
        assert paper["authors"] and rd.t(paper["why"], "zh") and rd.t(paper["why"], "en")
    titles = [p["title"] for p in PAPERS]
    assert [t for t, n in Counter(titles).items() if n > 1] == []


# ----------------------------------------------------------------------------- the resolver itself


def test_scan_markdown_finds_ids_and_slugs_but_not_code():
    text = (
        "# Title\n\n## 1.1 NumPy basics {#numpy-basics}\n\n### A plain heading\n\n### A plain heading\n\n"
        "```python\n# not-a-heading\n## also not {#nope}\n```\n\n"
        'Text with [a span]{#span-id} and <span id="html-id"></span>.\n'
    )
    index = rd.scan_markdown(text)
    assert index.title == "Title"
    assert index.anchors["numpy-basics"] == "1.1 NumPy basics"
    assert "a-plain-heading" in index.anchors and "a-plain-heading_1" in index.anchors
    assert "span-id" in index.anchors and "html-id" in index.anchors
    assert "nope" not in index.anchors and "not-a-heading" not in index.anchors


def test_placeholder_pages_are_recognised():
    assert rd.scan_markdown('# X\n\n!!! info "本章正在编写"\n').placeholder
    assert not rd.scan_markdown("# X\n\n## A {#a}\n").placeholder
    # a written page that still lists one unwritten section ("（编写中）" in a table) is written
    assert not rd.scan_markdown("# X\n\n## A {#a}\n\n| 实例分割（编写中） | 10.6 |\n").placeholder


def test_resolve_reports_missing_pages_and_anchors():
    assert not rd.resolve("phases/no-such-page.md", "zh").exists
    missing = rd.resolve("plan/index.md#no-such-anchor", "en")
    assert missing.exists and not missing.anchor_ok
    assert rd.resolve("plan/index.md#time", "en").label == "How long it takes"


def test_unknown_marker_is_an_error():
    with pytest.raises(ValueError, match="unknown render marker 'nope'"):
        rd.render_page("<!-- render: nope -->\n", "zh", "plan/x.md")


def test_pending_sections_are_not_written_yet():
    """`pending: true` (a section of a written chapter that links to the page for now) is taken off as soon
    as the section exists, so that links go straight to it."""
    pending = [f"{p['page']}#{s['id']}" for p in PHASES for s in p["sections"] if s.get("pending")]
    written = [x for x in pending if any(rd.resolve(x, lang).anchor_ok for lang in rd.LANGS)]
    assert not written, f"written, still marked pending in data/phases.yml: {written}"
