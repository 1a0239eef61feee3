"""Unit tests for lessons.text (CharVocab, pad_sequences)."""

from __future__ import annotations

import pytest
import torch

from lessons.text import CharVocab, pad_sequences


def test_roundtrip_and_order() -> None:
    vocab = CharVocab.from_text("banana!")
    assert vocab.itos == ["!", "a", "b", "n"]  # sorted by code point: reproducible
    assert vocab.decode(vocab.encode("banana")) == "banana"
    assert len(vocab) == 4 and "a" in vocab and "z" not in vocab


def test_specials_come_first_and_unknowns_map_to_unk() -> None:
    vocab = CharVocab.from_text("ab", specials=("<pad>", "<unk>"), unk="<unk>")
    assert vocab.id_of("<pad>") == 0 and vocab.unk_id == 1
    assert vocab.encode("azb") == [2, 1, 3]
    assert vocab.decode([2, 1, 3]) == "a<unk>b"
    assert vocab.decode([0, 2, 0], skip=("<pad>",)) == "a"
    assert "<unk>" in repr(vocab)


def test_specials_are_not_parsed_from_text() -> None:
    vocab = CharVocab.from_text("<pad>", specials=("<pad>",))
    assert vocab.encode("<pad>") == [vocab.id_of(c) for c in "<pad>"]
    assert len(vocab.encode("<pad>")) == 5


def test_min_freq_drops_rare_characters() -> None:
    vocab = CharVocab.from_text("aaab", specials=("<unk>",), unk="<unk>", min_freq=2)
    assert vocab.itos == ["<unk>", "a"]
    assert vocab.encode("ab") == [1, 0]


def test_decode_accepts_a_tensor() -> None:
    vocab = CharVocab("xy")
    assert vocab.decode(torch.tensor([1, 0])) == "yx"


def test_unknown_without_unk_raises_keyerror_naming_the_characters() -> None:
    vocab = CharVocab.from_text("abc")
    with pytest.raises(KeyError, match=r"\['z'\]"):
        vocab.encode("abz")
    with pytest.raises(KeyError, match="not in the vocabulary"):
        vocab.id_of("q")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"chars": ["ab"]}, ValueError, "single characters"),
        ({"chars": [1]}, TypeError, "strings"),
        ({"chars": "aa"}, ValueError, "repeat"),
        ({"chars": "a", "specials": ("a",)}, ValueError, "repeat"),
        ({"chars": "a", "specials": "<pad>"}, TypeError, "sequence of token names"),
        ({"chars": "a", "specials": ("",)}, TypeError, "non-empty"),
        ({"chars": "a", "unk": "<unk>"}, ValueError, "unk must be one of specials"),
    ],
)
def test_bad_constructor_arguments(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        CharVocab(**kwargs)


def test_bad_from_text_and_encode_decode_arguments() -> None:
    with pytest.raises(TypeError, match="text must be a str"):
        CharVocab.from_text(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must not be empty"):
        CharVocab.from_text("")
    with pytest.raises(TypeError, match="min_freq must be an int"):
        CharVocab.from_text("abc", min_freq=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_freq"):
        CharVocab.from_text("a", min_freq=0)
    vocab = CharVocab("ab")
    with pytest.raises(TypeError, match="text must be a str"):
        vocab.encode([0, 1])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="outside the vocabulary"):
        vocab.decode([2])
    with pytest.raises(ValueError, match="1-D"):
        vocab.decode(torch.zeros(2, 2, dtype=torch.long))


def test_pad_sequences() -> None:
    out = pad_sequences([[1, 2, 3], [4], []], pad_id=9)
    assert out.dtype == torch.long
    assert out.tolist() == [[1, 2, 3], [4, 9, 9], [9, 9, 9]]
    assert pad_sequences([torch.tensor([5])], 0, length=3).tolist() == [[5, 0, 0]]
    with pytest.raises(ValueError, match="at least one"):
        pad_sequences([], 0)
    with pytest.raises(ValueError, match="length"):
        pad_sequences([[1, 2, 3]], 0, length=2)
