"""Unit tests for lessons.datasets.text and lessons.datasets.series."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import torch

from lessons.datasets.series import GOOG_COLUMNS, chronological_split, load_goog, make_windows
from lessons.datasets.text import (
    DATE_FORMATS,
    CharLMDataset,
    format_date,
    load_hamlet,
    make_date_pairs,
    reversal_batch,
    split_text,
)


def test_hamlet_is_the_whole_play() -> None:
    text = load_hamlet()
    assert 170_000 < len(text) < 180_000
    assert text.startswith("The Tragedy of Hamlet, Prince of Denmark")
    assert "To be, or not to be" in text
    assert text.rstrip().endswith("a peal of ordnance is shot off")
    assert "\t" not in text and "|" not in text


def test_split_text() -> None:
    train, val = split_text("abcdefghij", val_fraction=0.2)
    assert (train, val) == ("abcdefgh", "ij")
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="val_fraction"):
            split_text("abcdef", bad)
    with pytest.raises(ValueError, match="empty part"):
        split_text("ab", 0.01)
    with pytest.raises(TypeError, match="text must be a str"):
        split_text(["a", "b"], 0.5)  # type: ignore[arg-type]


def test_char_lm_dataset_windows() -> None:
    ds = CharLMDataset(torch.arange(11), seq_len=4)
    assert len(ds) == 2
    x, y = ds[1]
    assert x.tolist() == [4, 5, 6, 7] and y.tolist() == [5, 6, 7, 8]
    assert torch.equal(ds[-1][0], ds[1][0])
    overlapping = CharLMDataset([0, 1, 2, 3, 4], seq_len=2, stride=1)
    assert [overlapping[i][0].tolist() for i in range(len(overlapping))] == [[0, 1], [1, 2], [2, 3]]
    with pytest.raises(IndexError):
        ds[2]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((torch.zeros(2, 5, dtype=torch.long), 2), "1-D"),
        ((torch.arange(5), 0), "seq_len"),
        ((torch.arange(5), 2, 0), "stride"),
        ((torch.arange(3), 3), "one window needs"),
    ],
)
def test_char_lm_dataset_errors(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CharLMDataset(*args)
    with pytest.raises(TypeError, match="seq_len must be an int"):
        CharLMDataset(torch.arange(5), 2.0)  # type: ignore[arg-type]


def test_format_date_covers_every_format() -> None:
    d = dt.date(2026, 11, 25)  # a Wednesday
    got = [format_date(d, f) for f in DATE_FORMATS]
    assert got == list(DATE_FORMATS)  # each format is named by how this very date looks
    assert format_date(dt.date(2001, 2, 3), "25/11/2026") == "03/02/2001"
    with pytest.raises(ValueError, match="fmt must be one of"):
        format_date(d, "%Y")


def test_make_date_pairs_is_reproducible_and_correct() -> None:
    pairs = make_date_pairs(200, seed=3)
    assert pairs == make_date_pairs(200, seed=3)
    assert pairs != make_date_pairs(200, seed=4)
    for _src, tgt in pairs:
        date = dt.date.fromisoformat(tgt)
        assert dt.date(1950, 1, 1) <= date <= dt.date(2049, 12, 31)
    # every target can be recovered from its source for a fixed format
    for src, tgt in make_date_pairs(50, seed=0, formats=("25/11/2026",)):
        d, m, y = src.split("/")
        assert tgt == f"{y}-{m}-{d}"
    state = np.random.get_state()[1].copy()
    make_date_pairs(5)
    assert np.array_equal(state, np.random.get_state()[1])  # global RNGs untouched


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n": 0}, "n must be"),
        ({"n": 2, "formats": ()}, "non-empty"),
        ({"n": 2, "formats": "25/11/2026"}, "non-empty sequence"),
        ({"n": 2, "formats": ("2026-11-25",)}, "unknown"),
        ({"n": 2, "start": dt.date(2000, 1, 2), "end": dt.date(2000, 1, 1)}, "before start"),
        ({"n": 2, "start": dt.date(1900, 1, 1), "end": dt.date(2049, 1, 1)}, "two-digit"),
    ],
)
def test_make_date_pairs_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_date_pairs(**kwargs)


def test_load_goog() -> None:
    dates, close = load_goog()
    assert dates.shape == close.shape == (1047,)
    assert dates.dtype == np.dtype("datetime64[D]") and close.dtype == np.float64
    assert str(dates[0]) == "2004-08-19" and str(dates[-1]) == "2008-10-14"
    assert np.all(np.diff(dates.astype(np.int64)) > 0)
    assert np.all(close > 0)
    _, volume = load_goog("volume")
    assert volume.min() > 1000
    assert set(GOOG_COLUMNS) >= {"close", "adj_close"}
    with pytest.raises(ValueError, match="column must be one of"):
        load_goog("price")


def test_make_windows_1d_and_2d() -> None:
    X, y = make_windows(np.arange(6.0), window=3)
    assert X.shape == (3, 3) and y.tolist() == [3.0, 4.0, 5.0]
    X, y = make_windows(np.arange(6.0), window=2, horizon=2)
    assert X.shape == (3, 2) and y.tolist() == [[2, 3], [3, 4], [4, 5]]
    series = np.arange(12.0).reshape(6, 2)
    X, y = make_windows(series, window=4)
    assert X.shape == (2, 4, 2) and y.shape == (2, 2)
    assert np.array_equal(X[1, -1], series[4]) and np.array_equal(y[1], series[5])
    X[0, 0] = -1
    assert series[0, 0] == 0  # a copy, not a view


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros((2, 2, 2)), 1), "1-D or 2-D"),
        ((np.arange(5.0), 0), "window"),
        ((np.arange(5.0), 2, 0), "horizon"),
        ((np.arange(5.0), 5), "too short"),
    ],
)
def test_make_windows_errors(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_windows(*args)
    with pytest.raises(TypeError, match="window must be an int"):
        make_windows(np.arange(5.0), 2.5)  # type: ignore[arg-type]
    assert make_windows(np.arange(5.0), np.int64(2))[0].shape == (3, 2)  # NumPy ints are ints


def test_chronological_split() -> None:
    parts = chronological_split(100)
    assert parts == [slice(0, 70), slice(70, 85), slice(85, 100)]
    assert chronological_split(10, (0.5, 0.5)) == [slice(0, 5), slice(5, 10)]
    with pytest.raises(ValueError, match="positive"):
        chronological_split(10, (1.2, -0.2))
    with pytest.raises(ValueError, match="sum to 1"):
        chronological_split(10, (0.5, 0.4))
    with pytest.raises(ValueError, match="too small"):
        chronological_split(2, (0.4, 0.3, 0.3))


def test_reversal_batch() -> None:
    src, tgt = reversal_batch(
        50, vocab_size=7, min_len=2, max_len=5, generator=torch.Generator().manual_seed(0)
    )
    assert src.shape == tgt.shape == (50, 5) and src.dtype == torch.long
    lengths = (src != 0).sum(1)
    assert int(lengths.min()) >= 2 and int(lengths.max()) <= 5
    for s, t, n in zip(src, tgt, lengths.tolist(), strict=True):
        assert t[:n].tolist() == s[:n].flip(0).tolist()
        assert s[n:].eq(0).all() and t[n:].eq(0).all()
        assert s[:n].ge(2).all() and s[:n].lt(7).all()
    a = reversal_batch(4, generator=torch.Generator().manual_seed(1))
    b = reversal_batch(4, generator=torch.Generator().manual_seed(1))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    with pytest.raises(ValueError, match="n must be"):
        reversal_batch(0)
    with pytest.raises(ValueError, match="min_len"):
        reversal_batch(2, min_len=5, max_len=4)
    with pytest.raises(ValueError, match="pad_id < first_id"):
        reversal_batch(2, pad_id=2, first_id=2)
