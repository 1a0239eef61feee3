"""Build src/lessons/data/course_summaries.json: course pages as documents, their opening as reference.

Run once from the repository root (``python scripts/build_summary_data.py``); the snapshot is committed so
that later edits of the pages do not move the figures of section 11.10. Each page of phases 3-12 (not the
phase front pages) gives one document in each language: the plain prose paragraphs of its ``##``/``###``
sections before its exercises (no code, outputs, lists, tables, formulas or admonitions), split into
sentences, and the page's opening paragraph (the one under its ``#`` title) as the reference summary. Only
pages whose English twin has at most 60 such sentences are kept, in both languages. The committed snapshot
(2026-12-04) holds 15 pages; running this again later picks up the pages written since, this one included.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src/lessons/data/course_summaries.json"
STOP = re.compile(r"\{#[\w-]*(exercises|references|milestone)[\w-]*\}")
SYMBOLS = re.compile(r"\\[a-zA-Z]+|[{}^_\\]")  # LaTeX commands and markup
LIST = re.compile(r"^\d+\.\s")
LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
MAX_SENTENCES = 60  # longer pages left out, to keep the embedding of every sentence within a few seconds
SPLIT = {"en": re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“(])"), "zh": re.compile(r"(?<=[。！？])(?![”’）」])")}


def clean(text: str) -> str:
    text = LINK.sub(r"\1", text)
    text = re.sub(r"\$([^$]*)\$", lambda m: SYMBOLS.sub(" ", m.group(1)), text)  # a formula: its symbols
    text = re.sub(r"[*`]", "", text)
    return " ".join(text.split())


def paragraphs(lines: list[str]) -> list[str]:
    out, current, skip = [], [], False
    for line in [*lines, ""]:
        if not line.strip():
            if current:
                out.append(clean(" ".join(current)))
            current, skip = [], False
            continue
        if skip or line[0] in " |-!?<>" or LIST.match(line) or line.startswith(("$$", "**Try", "**试")):
            current, skip = [], True  # a list, table, admonition, formula or code: drop the paragraph
            continue
        current.append(line.strip())
    return [p for p in out if p]


def document(path: Path, language: str) -> dict | None:
    lines = path.read_text(encoding="utf-8").splitlines()
    fence = False
    kept = []
    for line in lines:
        if line.lstrip().startswith("```"):
            fence = not fence
            kept.append("")
            continue
        kept.append("" if fence else line)
    heads = [i for i, line in enumerate(kept) if line.startswith("## ") or line.startswith("### ")]
    if not heads or not kept[0].startswith("# "):
        return None
    intro = paragraphs(kept[1 : heads[0]])
    end = next((i for i in heads if STOP.search(kept[i])), len(kept))
    body = paragraphs([line for line in kept[heads[0] : end] if not line.startswith("#")])
    sentences = [s.strip() for p in body for s in SPLIT[language].split(p) if len(s.strip()) >= 12]
    if not intro or len(sentences) < 10:
        return None
    return {"page": str(path.relative_to(ROOT / "docs")).replace(".en.md", ".md"), "language": language,
            "reference": intro[0], "sentences": sentences}  # fmt: skip


def main() -> None:
    docs = []
    for path in sorted((ROOT / "docs/phases").glob("[01][0-9]-*/*.md")):
        if path.name.startswith(("index", "project")) or int(path.parent.name[:2]) < 3:
            continue
        language = "en" if path.name.endswith(".en.md") else "zh"
        doc = document(path, language)
        if doc:
            docs.append(doc)
    short = {d["page"] for d in docs if d["language"] == "en" and len(d["sentences"]) <= MAX_SENTENCES}
    docs = [d for d in docs if d["page"] in short]  # the same pages in both languages
    OUT.write_text(json.dumps(docs, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    for lang in ("en", "zh"):
        d = [x for x in docs if x["language"] == lang]
        print(lang, len(d), "documents,", sum(len(x["sentences"]) for x in d), "sentences")


if __name__ == "__main__":
    main()
