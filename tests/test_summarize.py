"""Tests of lessons.summarize: ROUGE against rouge-score, the extractive scorers, the data and FAQBot."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch
from rouge_score import rouge_scorer
from rouge_score.tokenizers import DefaultTokenizer

from lessons.summarize import (
    CharTokenizer,
    FAQBot,
    centroid_scores,
    char_tokenize,
    lcs_length,
    lead,
    load_course_documents,
    load_faq,
    mmr_select,
    ngram_counts,
    rouge_l,
    rouge_n,
    rouge_scores,
    rouge_tokenize,
    split_sentences,
    textrank_scores,
    top_k,
)

PAIRS = [
    ("the cat sat on the mat", "the cat lay on the mat"),
    ("A B C D e f", "f e d c b a"),
    ("police killed the gunman", "the gunman was shot by police, police said"),
    ("nothing in common", "entirely different words"),
    ("", "an empty candidate scores zero"),
    ("ROUGE-2 on 2 numbers: 3.14 and 2.72!", "2 numbers 3 14 2 72"),
]


@pytest.mark.parametrize(("candidate", "reference"), PAIRS)
def test_rouge_equals_rouge_score(candidate, reference):
    library = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"]).score(reference, candidate)
    ours = rouge_scores(candidate, reference)
    for key in ("rouge1", "rouge2", "rougeL"):
        assert np.allclose(tuple(ours[key]), tuple(library[key]), atol=1e-12), key


def test_chinese_rouge_with_the_char_tokenizer_equals_rouge_score():
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], tokenizer=CharTokenizer())
    reference, candidate = "用 GPU 训练模型很快。", "在 GPU 上训练这个模型并不快"
    library, ours = (
        scorer.score(reference, candidate),
        rouge_scores(candidate, reference, tokenize=char_tokenize),
    )
    for key in ours:
        assert np.allclose(tuple(ours[key]), tuple(library[key]), atol=1e-12)
    assert rouge_scorer.RougeScorer(["rouge1"]).score(reference, candidate)["rouge1"].fmeasure == 1.0


def test_tokenizers():
    text = "Hello, 世界! GPU-2 模型"
    assert rouge_tokenize(text) == DefaultTokenizer().tokenize(text) == ["hello", "gpu", "2"]
    assert char_tokenize(text) == ["hello", "世", "界", "gpu", "2", "模", "型"]
    with pytest.raises(TypeError, match="text"):
        rouge_tokenize(3)
    with pytest.raises(TypeError, match="text"):
        char_tokenize(None)


def test_ngrams_lcs_and_clipping():
    assert ngram_counts(["a", "b", "a", "b"], 2) == {("a", "b"): 2, ("b", "a"): 1}
    assert ngram_counts(["a"], 2) == {}
    assert lcs_length(list("abcbdab"), list("bdcaba")) == 4
    assert lcs_length([], ["a"]) == 0
    assert rouge_n(["the", "the", "the"], ["the", "cat"], 1).precision == pytest.approx(1 / 3)  # clipped
    assert rouge_l(["a", "b"], ["b", "a"]).fmeasure == pytest.approx(0.5)


def test_rouge_errors_name_the_argument():
    with pytest.raises(TypeError, match="candidate"):
        rouge_n("a string", ["a"], 1)
    with pytest.raises(TypeError, match="reference"):
        rouge_l(["a"], "a string")
    with pytest.raises(ValueError, match="n must be"):
        rouge_n(["a"], ["a"], 0)
    with pytest.raises(TypeError, match="candidate"):
        rouge_scores(["not", "text"], "reference")


def test_split_sentences():
    assert split_sentences("One here. Two there! Three? e.g. four") == [
        "One here.",
        "Two there!",
        "Three? e.g. four",
    ]
    assert split_sentences("第一句。第二句（“真的？”）。第三句！", "zh") == [
        "第一句。",
        "第二句（“真的？”）。",
        "第三句！",
    ]
    with pytest.raises(ValueError, match="language"):
        split_sentences("x", "fr")


def test_lead_and_top_k():
    assert lead(10, 3) == [0, 1, 2] and lead(2, 3) == [0, 1]
    assert top_k(np.array([0.2, 0.9, 0.1, 0.9]), 2) == [1, 3]
    assert top_k(np.array([1.0, 2.0]), 5) == [0, 1]
    with pytest.raises(ValueError, match="k must be"):
        lead(3, 0)
    with pytest.raises(ValueError, match="n_sentences"):
        lead(0, 1)
    with pytest.raises(ValueError, match="scores"):
        top_k(np.zeros((2, 2)), 1)


def test_centroid_and_textrank():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(12, 5))
    c = centroid_scores(v)
    unit = v / np.linalg.norm(v, axis=1, keepdims=True)
    mean = unit.mean(0)
    assert np.allclose(c, unit @ mean / np.linalg.norm(mean))
    r = textrank_scores(torch.tensor(v))
    w = np.clip(unit @ unit.T, 0, None) * (1 - np.eye(12))
    pr = nx.pagerank(nx.from_numpy_array(w), alpha=0.85, tol=1e-12)
    assert np.allclose(r, [pr[i] for i in range(12)], atol=1e-8) and r.sum() == pytest.approx(1)
    with pytest.raises(ValueError, match="damping"):
        textrank_scores(v, damping=1.0)
    with pytest.raises(ValueError, match="vectors"):
        centroid_scores(np.zeros(3))


def test_mmr():
    # three near-duplicates of one direction and one different sentence
    v = np.array([[1, 0, 0], [1, 0.01, 0], [1, 0, 0.01], [0.6, 0.8, 0]], dtype=float)
    assert mmr_select(v, 2, lam=1.0) == top_k(centroid_scores(v), 2)  # lam = 1: plain relevance
    picked = mmr_select(v, 2, lam=0.5)
    assert 3 in picked  # redundancy pushes the different sentence in
    assert mmr_select(v, 10) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="lam"):
        mmr_select(v, 2, lam=1.5)
    with pytest.raises(ValueError, match="relevance"):
        mmr_select(v, 2, relevance=np.zeros(3))


def test_course_documents_and_faq():
    en, zh = load_course_documents("en"), load_course_documents("zh")
    assert len(en) == len(zh) == 15 and [d.page for d in en] == [d.page for d in zh]
    assert sum(len(d.sentences) for d in en) == 704 and all(d.reference for d in en)
    with pytest.raises(ValueError, match="language"):
        load_course_documents("fr")
    entries, out_of_scope = load_faq()
    assert len(entries) == 24 and len(out_of_scope) == 16
    assert all(len(e.paraphrases) == 2 and e.answer for e in entries)


def bag_of_letters(texts):
    return torch.tensor([[t.lower().count(c) + 0.0 for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts])


def test_faq_bot_answers_and_falls_back():
    bot = FAQBot(["aaaa", "zzzz"], ["about a", "about z"], bag_of_letters, threshold=0.9)
    assert bot.reply("a a a").text == "about a" and bot.reply("a a a").index == 0
    fallback = bot.reply("qqq")
    assert fallback.index is None and fallback.text == bot.fallback and fallback.score < 0.9
    assert bot.scores(["zz", "aa"]).argmax(1).tolist() == [1, 0]


def test_faq_bot_errors_name_the_argument():
    with pytest.raises(ValueError, match="same length"):
        FAQBot(["a", "b"], ["x"], bag_of_letters)
    with pytest.raises(TypeError, match="embed"):
        FAQBot(["a"], ["x"], "not a function")
    with pytest.raises(ValueError, match="threshold"):
        FAQBot(["a"], ["x"], bag_of_letters, threshold=2.0)
    bot = FAQBot(["a"], ["x"], bag_of_letters)
    with pytest.raises(ValueError, match="text"):
        bot.reply("  ")
    with pytest.raises(TypeError, match="texts"):
        bot.scores("one string")
