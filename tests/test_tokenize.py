"""lessons.tokenize: byte-level BPE equal to the `tokenizers` trainer, and Unigram's Viterbi split."""

import json

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from lessons.tokenize import byte_to_unicode, encode_bpe, pre_tokenize, train_bpe, unigram_segment

TEXT = "the cat sat on the mat; the rat sat on the hat. 猫坐在垫子上，3 cats sat!\n\n  aaaa aaa"


def library_merges(text, n):
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=256 + n, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator([text], trainer)
    return tokenizer, [tuple(m) for m in json.loads(tokenizer.to_str())["model"]["merges"]]


def test_byte_table_is_gpt2s():
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    table = byte_to_unicode()
    assert table == bytes_to_unicode() and table[32] == "Ġ"


def test_pre_tokenize_keeps_every_byte():
    pieces = pre_tokenize("Hi, 你好")
    assert pieces[:2] == ["Hi", ","]
    inverse = {c: b for b, c in byte_to_unicode().items()}
    assert bytes(inverse[c] for c in "".join(pieces)).decode("utf-8") == "Hi, 你好"


def test_train_bpe_equals_the_library_with_ties_and_repeats():
    n = 40  # the text has many ties and overlapping pairs ("aaaa")
    ours = train_bpe(TEXT, n)
    tokenizer, theirs = library_merges(TEXT, n)
    assert ours == theirs[:n]
    assert encode_bpe(TEXT, ours) == tokenizer.encode(TEXT).tokens


def test_train_bpe_stops_when_no_pair_is_left():
    merges = train_bpe("ab ab", 100)
    assert merges == [("a", "b"), ("Ġ", "ab")]
    assert encode_bpe(" ab", merges) == ["Ġab"]
    assert train_bpe("abc", 0) == []


def test_encode_without_merges_gives_bytes():
    assert encode_bpe("学", []) == [byte_to_unicode()[b] for b in "学".encode()]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: train_bpe("ab", -1), ValueError, "num_merges must be an int >= 0"),
        (lambda: train_bpe("ab", 2.0), TypeError, "num_merges must be an int"),
        (lambda: train_bpe(b"ab", 2), TypeError, "text must be a str"),
        (lambda: encode_bpe("ab", [("a", "b", "c")]), TypeError, "merges must hold pairs of strings"),
        (lambda: encode_bpe("ab", ["ab"]), TypeError, "position 0"),
        (lambda: unigram_segment(3, {"a": -1.0}), TypeError, "word must be a str"),
        (lambda: unigram_segment("", {"a": -1.0}), ValueError, "word must not be empty"),
        (lambda: unigram_segment("ab", {"a": -1.0}), ValueError, "a character is missing"),
    ],
)
def test_errors_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_unigram_takes_the_most_probable_split():
    log_p = {"a": -1.0, "b": -1.0, "ab": -3.0, "abc": -5.0, "c": -1.0}
    assert unigram_segment("abc", log_p) == ["a", "b", "c"]  # -3 beats "abc" (-5) and "ab"+"c" (-4)
    log_p["abc"] = -2.5
    assert unigram_segment("abc", log_p) == ["abc"]


def test_unigram_equals_the_library():
    text = "the cat sat on the mat and the rat sat on the hat " * 20
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=30, unk_token="<unk>", special_tokens=["<unk>"], show_progress=False
    )
    tokenizer.train_from_iterator([text], trainer)
    log_p = {p: s for p, s in json.loads(tokenizer.to_str())["model"]["vocab"] if p != "<unk>"}
    probe = "the hat sat on a mat"
    words = [w for w, _ in tokenizer.pre_tokenizer.pre_tokenize_str(probe)]
    assert [p for w in words for p in unigram_segment(w, log_p)] == tokenizer.encode(probe).tokens
