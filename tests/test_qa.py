"""Unit tests for lessons.qa: the templated QA data, SQuAD's exact match and F1, and span decoding."""

from __future__ import annotations

import itertools
import re

import pytest
import torch

from lessons import qa
from lessons.qa import best_span, exact_match, f1_score, make_qa_examples, normalize_answer, squad_scores


def test_spans_are_right_by_construction_and_deterministic() -> None:
    examples = make_qa_examples(40, split="train", questions_per_passage=3, seed=1)
    assert len(examples) == 120
    assert [e.passage_id for e in examples[:6]] == [0, 0, 0, 1, 1, 1]
    for e in examples:
        assert e.context[e.answer_start : e.answer_end] == e.answer
        assert e.kind in qa.KINDS
    assert examples == make_qa_examples(40, split="train", questions_per_passage=3, seed=1)
    assert examples != make_qa_examples(40, split="train", questions_per_passage=3, seed=2)
    assert {e.kind for e in examples} == set(qa.KINDS)


def test_train_and_test_share_no_entity() -> None:
    train, test = make_qa_examples(200, split="train"), make_qa_examples(200, split="test")
    for pool in (qa.FIRST_NAMES, qa.SURNAMES, qa.CITIES, qa.JOBS):
        words = [
            {w for w in pool if any(re.search(rf"\b{re.escape(w)}\b", e.context) for e in part)}
            for part in (train, test)
        ]
        assert words[0] and words[1] and words[0].isdisjoint(words[1])


def test_each_passage_has_two_cities_and_two_years() -> None:
    examples = make_qa_examples(60, split="test", questions_per_passage=5)
    born_first = 0
    for e in examples:
        assert len(re.findall(r"\b\d{4}\b", e.context)) == 2
        assert sum(bool(re.search(rf"\b{c}\b", e.context)) for c in qa.CITIES) == 2
        assert e.question.split()[-2] in e.context  # the surname of the one person
        born_first += e.context.index("born") < e.context.index("moved")
    assert 0.3 < born_first / len(examples) < 0.7  # the order of the two sentences is random


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_passages": 0}, "n_passages"),
        ({"n_passages": 2, "split": "dev"}, "split"),
        ({"n_passages": 2, "questions_per_passage": 6}, "questions_per_passage"),
    ],
)
def test_bad_arguments_name_themselves(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_qa_examples(**kwargs)
    with pytest.raises(TypeError, match="seed"):
        make_qa_examples(1, seed=1.5)


def test_normalisation_follows_squad() -> None:
    assert normalize_answer("The Cat sat, on A mat!") == "cat sat on mat"
    assert normalize_answer("  an   apple ") == "apple"
    assert normalize_answer("theatre") == "theatre"  # articles only as whole words
    assert normalize_answer("the-art") == "theart"  # punctuation goes before articles are looked for
    with pytest.raises(TypeError, match="text"):
        normalize_answer(3)  # type: ignore[arg-type]


def test_exact_match_and_f1_by_hand() -> None:
    assert exact_match("the Eiffel tower.", "Eiffel Tower") == 1.0
    assert exact_match("Eiffel", ["Paris", "eiffel"]) == 1.0
    assert exact_match("Eiffel", "Paris") == 0.0
    # prediction "new york city" vs gold "york": P = 1/3, R = 1, F1 = 0.5
    assert f1_score("New York City", "York") == pytest.approx(0.5)
    # repeated words count as a multiset: "b b" vs "b": P = 1/2, R = 1
    assert f1_score("b b", "b") == pytest.approx(2 / 3)
    # best gold "here we go": P = 1/2, R = 1/3, F1 = 0.4
    assert f1_score("nothing here", ["no", "here we go"]) == pytest.approx(0.4)
    assert f1_score("the", "a") == 0.0  # both normalise to nothing: 0, as in the v1.1 script
    scores = squad_scores(["Lisbon", "in 1987", "pilot"], [["Lisbon"], "1987", ["a baker", "baker"]])
    assert scores["exact_match"] == pytest.approx(100 / 3)
    assert scores["f1"] == pytest.approx(100 * (1 + 2 / 3 + 0) / 3)


def test_metric_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="gold_answers"):
        exact_match("x", [])
    with pytest.raises(TypeError, match=r"gold_answers\[1\]"):
        f1_score("x", ["x", None])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="same length"):
        squad_scores(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="predictions"):
        squad_scores([], [])
    with pytest.raises(TypeError, match="predictions"):
        squad_scores("a", ["a"])  # type: ignore[arg-type]


def test_best_span_equals_brute_force() -> None:
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        n = int(torch.randint(1, 12, (1,), generator=g))
        s, e = torch.randn(n, generator=g), torch.randn(n, generator=g)
        allowed = torch.rand(n, generator=g) < 0.7
        allowed[int(torch.randint(n, (1,), generator=g))] = True
        max_len = int(torch.randint(1, 6, (1,), generator=g))
        pairs = [(i, j) for i, j in itertools.product(range(n), repeat=2) if i <= j < i + max_len]
        pairs = [(i, j) for i, j in pairs if allowed[i] and allowed[j]]
        brute = max(pairs, key=lambda p: float(s[p[0]] + e[p[1]]))
        assert best_span(s, e, allowed, max_answer_len=max_len) == brute


def test_best_span_respects_order_and_length() -> None:
    s = torch.tensor([0.0, 0.0, 5.0, 0.0])
    e = torch.tensor([4.0, 0.0, 0.0, 1.0])  # the best end (0) lies before the best start (2)
    assert best_span(s, e) == (2, 3)  # 5 + 1 beats (0, 0) with 0 + 4
    assert best_span(s, e, max_answer_len=1) == (2, 2)  # 5 + 0
    assert best_span(s, e, torch.tensor([True, True, False, True]), max_answer_len=1) == (0, 0)


def test_best_span_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match="start_logits and end_logits"):
        best_span(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="allowed"):
        best_span(torch.zeros(3), torch.zeros(3), torch.zeros(3, dtype=torch.bool))
    with pytest.raises(ValueError, match="allowed"):
        best_span(torch.zeros(3), torch.zeros(3), torch.ones(2, dtype=torch.bool))
    with pytest.raises(ValueError, match="max_answer_len"):
        best_span(torch.zeros(3), torch.zeros(3), max_answer_len=0)
