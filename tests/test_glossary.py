"""The concepts glossary (data/glossary.yml) and the jieba search dictionary generated from it.

The glossary and the site search must never disagree: every Chinese term of the glossary is one word for
jieba, the committed dictionary data/jieba_user_dict.txt is exactly what the glossary generates, and
mkdocs.yml hands that file to the search plugin. (Links of the glossary are checked with all other data
links in test_plan_data.py.)
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

import render_data_hook

ROOT = Path(__file__).resolve().parents[1]


rd = render_data_hook.load()
GROUPS = rd.load("glossary")["groups"]
TERMS = [term for group in GROUPS for term in group["terms"]]
REQUIRED_WORDS = ["反向传播", "感受野", "池化层", "注意力机制", "梯度下降", "卷积神经网络", "批量归一化"]


def test_at_least_200_terms():
    assert len(TERMS) >= 200


@pytest.mark.parametrize("key", ["id", "zh", "en"])
def test_terms_are_unique(key):
    counts = Counter(term[key].lower() for term in TERMS)
    assert [k for k, n in counts.items() if n > 1] == []


def test_group_ids_are_unique_slugs():
    ids = [g["id"] for g in GROUPS]
    assert len(ids) == len(set(ids))
    assert all(re.match(r"^[a-z][a-z0-9-]*$", i) for i in ids)


@pytest.mark.parametrize("term", TERMS, ids=lambda t: t["id"])
def test_term_is_complete(term):
    assert re.match(r"^[a-z0-9][a-z0-9-]*$", term["id"])
    assert re.search(r"[\u4e00-\u9fff]", term["zh"]), "the Chinese term has Chinese in it"
    for lang in ("zh", "en"):
        definition = rd.t(term["def"], lang)
        assert definition and "\n" not in definition, f"a one-line {lang} definition"
    han = re.compile(r"[\u4e00-\u9fff]")
    assert han.search(term["def"]["zh"]) and not han.search(term["def"]["en"]), (
        "each definition in its language"
    )
    assert term["link"].split("#")[0].endswith(".md"), "link: a docs-relative page or page#section"


def test_every_rendered_term_has_its_anchor_in_both_languages():
    for lang, src in (("zh", "notes/concepts.md"), ("en", "notes/concepts.en.md")):
        out = rd.render_page("<!-- render: glossary -->\n", lang, src)
        ids = re.findall(r'<span id="term-([\w-]+)"></span>', out)
        assert ids == [term["id"] for term in TERMS]


# ------------------------------------------------------------------------------------------ jieba


def test_committed_jieba_dictionary_is_in_sync_with_the_glossary():
    committed = rd.JIEBA_DICT.read_text(encoding="utf-8")
    assert committed == rd.jieba_dict_text(), "run: python hooks/render_data.py --jieba"
    assert rd.main(["--jieba", "--check"]) == 0


def test_jieba_dictionary_lines_are_word_frequency_tag():
    lines = rd.JIEBA_DICT.read_text(encoding="utf-8").splitlines()
    assert lines
    for line in lines:
        word, freq, tag = line.split(" ")
        assert re.match(r"^[\u4e00-\u9fff]+$", word) and int(freq) > 0 and tag.isalpha()
    words = [line.split(" ")[0] for line in lines]
    assert set(REQUIRED_WORDS) <= set(words)
    assert len(words) == len(set(words))


def test_mkdocs_hands_the_dictionary_to_the_search_plugin():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s+jieba_dict_user:\s+data/jieba_user_dict\.txt\s*$", config, re.M)
    assert re.search(r"^hooks:\s*\n(\s+- .*\n)*\s+- hooks/render_data\.py", config, re.M)


@pytest.fixture(scope="module")
def tokenizer():
    jieba = pytest.importorskip("jieba")
    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()  # a private instance: the global one is left alone
    tk.load_userdict(str(rd.JIEBA_DICT))
    return tk


def test_jieba_keeps_glossary_terms_whole(tokenizer):
    assert tokenizer.lcut("感受野和池化层") == ["感受野", "和", "池化层"]
    assert tokenizer.lcut("反向传播与梯度下降") == ["反向传播", "与", "梯度下降"]
    assert tokenizer.lcut("注意力机制") == ["注意力机制"]


def test_every_dictionary_word_is_one_token(tokenizer):
    split = {w: tokenizer.lcut(w) for w in rd.jieba_words() if tokenizer.lcut(w) != [w]}
    assert not split, f"jieba cuts these glossary terms apart: {split}"


def test_without_the_dictionary_jieba_cuts_the_terms_apart():
    """The dictionary is what keeps 感受野 whole: plain jieba does not (so the test above means something)."""
    jieba = pytest.importorskip("jieba")
    jieba.setLogLevel(logging.WARNING)
    assert jieba.Tokenizer().lcut("感受野和池化层") != ["感受野", "和", "池化层"]


def test_check_mode_reports_a_stale_dictionary(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "jieba_user_dict.txt"
    stale.write_text("反向传播 20000 n\n", encoding="utf-8")
    monkeypatch.setattr(rd, "JIEBA_DICT", stale)
    assert rd.main(["--jieba", "--check"]) == 1
    assert "out of date" in capsys.readouterr().out


# ------------------------------------------------------------------------ the terms in the search index
#
# A reader finds a concept by searching for its name: the Chinese term on the Chinese site, the English
# term on the English one. So each chapter that the glossary links a term to uses the term in its prose
# (headings and text, not code or output blocks), and the built search index of that language holds it:
# the Chinese term as whole jieba tokens, the English term as words (a plural and -ise/-ize count).

CHAPTER_PAGES = sorted({term["link"].split("#")[0] for term in TERMS if term["link"].startswith("phases/")})


def is_stub(path: str) -> bool:
    """A chapter not written yet: both twins carry the "being written" notice that the data links also
    recognise (render_data.PLACEHOLDER: 本章正在编写 / This chapter is being written) and have no `##`
    section. A chapter with sections is checked even if its notice is left in."""
    for lang in rd.LANGS:
        page = rd.twin(path, lang)
        index = rd.page_index(page)
        text = (rd.DOCS / page).read_text(encoding="utf-8")
        if index is None or not index.placeholder or re.search(r"^##\s", text, re.M):
            return False
    return True


STUB_PAGES = [p for p in CHAPTER_PAGES if is_stub(p)]
TAUGHT_TERMS = [t for t in TERMS if t["link"].split("#")[0] in set(CHAPTER_PAGES) - set(STUB_PAGES)]


def test_only_stub_chapters_are_left_out():
    written = [p for p in CHAPTER_PAGES if int(p.removeprefix("phases/")[:2]) <= 6]
    assert written and not set(written) & set(STUB_PAGES), "phases 1-6 are written: their terms are checked"


@dataclass(frozen=True)
class SearchIndex:
    """One language's built search index: the separator it tokenizes with and each page's prose."""

    separator: re.Pattern[str]
    prose: dict[str, str]  # page URL ("phases/04-mlp/") -> title and text of all its entries, code removed

    def split(self, text: str) -> list[str]:
        """Text to search tokens as the browser makes them: split at the index's separator, lower case,
        and lunr's trimmer, which strips punctuation from both ends (a lone "–" or "（" disappears)."""
        tokens = (re.sub(r"^\W+|\W+$", "", tok) for tok in self.separator.split(text.lower()))
        return [tok for tok in tokens if tok]

    def tokens(self, url: str) -> list[str]:
        return self.split(self.prose.get(url, ""))


def read_index(path: Path) -> SearchIndex:
    data = json.loads(path.read_text(encoding="utf-8"))
    prose: dict[str, list[str]] = {}
    for entry in data["docs"]:
        text = re.sub(r"<pre\b.*?</pre>", " ", entry["text"], flags=re.S)  # code and output blocks
        text = html.unescape(re.sub(r"<[^>]+>", " ", text))
        prose.setdefault(entry["location"].split("#")[0], []).extend([entry["title"], text])
    return SearchIndex(re.compile(data["config"]["separator"]), {u: " ".join(t) for u, t in prose.items()})


@pytest.fixture(scope="module")
def search_indexes(site_dir: Path) -> dict[str, SearchIndex]:
    """The per-language indexes that hooks/search_i18n.py writes: search/ (中文) and en/search/."""
    return {
        "zh": read_index(site_dir / "search" / "search_index.json"),
        "en": read_index(site_dir / "en" / "search" / "search_index.json"),
    }


def unwritten_pages(lang: str) -> set[str]:
    """URLs of the pages of `lang` that are only a "being written" notice (kept out of the search)."""
    suffix = ".en.md" if lang == "en" else ".md"
    return {
        rd.page_url(p.relative_to(rd.DOCS).as_posix().removesuffix(suffix) + ".md")
        for p in rd.DOCS.rglob(f"*{suffix}")
        if (lang == "en") == p.name.endswith(".en.md") and rd.is_unwritten(p.read_text(encoding="utf-8"))
    }


@pytest.mark.xdist_group("site")
def test_each_language_has_its_own_index(site_dir, search_indexes):
    """Every written page of a language is in its language's index, no page of the other language is, and
    no page that is only a "being written" notice is."""
    for lang, root in (("zh", site_dir), ("en", site_dir / "en")):
        pages = {
            "" if p.parent == root else p.parent.relative_to(root).as_posix() + "/"
            for p in root.rglob("index.html")
            if lang == "en" or not p.is_relative_to(site_dir / "en")
        }
        unwritten = unwritten_pages(lang)
        assert unwritten <= pages
        indexed = set(search_indexes[lang].prose)
        assert indexed == pages - unwritten, (
            f"the {lang} index does not list exactly the written {lang} pages"
        )
    zh, en = (search_indexes[lang].prose["phases/04-mlp/"] for lang in ("zh", "en"))
    assert zh.startswith("阶段") and en.startswith("Phase 4"), (zh[:20], en[:20])


def contains(tokens: list[str], words: list[str]) -> bool:
    n = len(words)
    return n > 0 and any(tokens[i : i + n] == words for i in range(len(tokens) - n + 1))


@pytest.mark.xdist_group("site")
@pytest.mark.parametrize("term", TAUGHT_TERMS, ids=lambda t: t["id"])
def test_chinese_chapter_uses_the_chinese_term(term, search_indexes, tokenizer):
    index = search_indexes["zh"]
    han = re.compile(r"[\u4e00-\u9fff]+")
    segmented = han.sub(lambda m: "\u200b" + "\u200b".join(tokenizer.cut(m.group())) + "\u200b", term["zh"])
    words = index.split(segmented)
    url = rd.page_url(term["link"])
    assert contains(index.tokens(url), words), f"{term['link']} (中文) never says {term['zh']} in its prose"


def english_pattern(term: str) -> re.Pattern[str]:
    """The English term as words: with or without its parenthesis ("multilayer perceptron (MLP)" or
    "multilayer perceptron"), a space, hyphen or dash between words, -ise or -ize, and a plural."""
    forms = {term, re.sub(r"\s*\([^)]*\)", "", term)}
    alternatives = []
    for form in forms:
        words = [re.escape(w) for w in re.split(r"[\s\-–]+", form) if w]
        words = [re.sub(r"i[sz](e|ation|ing|ed)$", r"i[sz]\1", w) for w in words]
        alternatives.append(r"[\s\-–]+".join(words).replace(r"\(", r"\(\s*").replace(r"\)", r"\s*\)"))
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")(?:s|es)?(?!\w)", re.I)


@pytest.mark.xdist_group("site")
@pytest.mark.parametrize("term", TAUGHT_TERMS, ids=lambda t: t["id"])
def test_english_chapter_uses_the_english_term(term, search_indexes):
    prose = search_indexes["en"].prose.get(rd.page_url(term["link"]), "")
    assert english_pattern(term["en"]).search(" ".join(prose.split())), (
        f"{rd.twin(term['link'].split('#')[0], 'en')} never says {term['en']!r} in its prose"
    )
