"""The concepts glossary (data/glossary.yml) and the jieba search dictionary generated from it.

The glossary and the site search must never disagree: every Chinese term of the glossary is one word for
jieba, the committed dictionary data/jieba_user_dict.txt is exactly what the glossary generates, and
mkdocs.yml hands that file to the search plugin. (Links of the glossary are checked with all other data
links in test_plan_data.py.)
"""

from __future__ import annotations

import logging
import re
from collections import Counter
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
