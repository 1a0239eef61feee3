"""Subword tokenizers written by hand: byte-level BPE (training and encoding) and Unigram segmentation.

`train_bpe` learns GPT-2-style byte-level BPE merges from a text, with the same pre-tokenisation and the
same tie-breaking rule as the `tokenizers` library's `BpeTrainer`, so the two learn the same merges in the
same order; `encode_bpe` applies merges by rank, as GPT-2 does. `unigram_segment` is the Viterbi search
that a Unigram (SentencePiece) model runs to split a word into its most probable pieces.

Examples:
    >>> merges = train_bpe("low lower lowest", num_merges=3)
    >>> merges
    [('l', 'o'), ('lo', 'w'), ('Ġ', 'low')]
    >>> encode_bpe(" lowly", merges)
    ['Ġlow', 'l', 'y']
    >>> unigram_segment("unbelievable", {"un": -2.0, "believ": -5.0, "able": -3.0, "u": -8.0, "n": -8.0})
    ['un', 'believ', 'able']
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from itertools import pairwise

import regex

from lessons.checks import check_int

__all__ = ["GPT2_PATTERN", "byte_to_unicode", "pre_tokenize", "train_bpe", "encode_bpe", "unigram_segment"]

#: GPT-2's pre-tokenisation regex: contractions, letters, digits, other symbols (each with an optional
#: leading space), whitespace. BPE never merges across the pieces it cuts.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_PIECES = regex.compile(GPT2_PATTERN)


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's table from the 256 byte values to printable characters (a space becomes ``Ġ``).

    Printable bytes keep their own character; the others are moved to code points 256, 257, ... in order.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    table, shifted = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + shifted)
            shifted += 1
    return table


_BYTE_TO_CHAR = byte_to_unicode()


def pre_tokenize(text: str) -> list[str]:
    """Cut `text` with `GPT2_PATTERN` and write each piece's UTF-8 bytes as `byte_to_unicode` characters.

    Raises:
        TypeError: `text` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return ["".join(_BYTE_TO_CHAR[b] for b in piece.encode("utf-8")) for piece in _PIECES.findall(text)]


def _merge_word(word: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    """Replace every non-overlapping occurrence of `pair` in `word`, left to right, by its concatenation."""
    out, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(word[i] + word[i + 1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def train_bpe(text: str, num_merges: int) -> list[tuple[str, str]]:
    """Learn `num_merges` byte-level BPE merges from `text`.

    The text is pre-tokenised with `pre_tokenize`; each distinct piece is a word, weighted by how often it
    occurs. At each step the most frequent adjacent pair (counted over all words, overlapping pairs
    included, as in ``aaa``) is merged everywhere. Ties go to the pair whose tokens have the smallest ids,
    where the 256 byte characters are numbered by code point and each new token takes the next id: the
    rule of the `tokenizers` library's `BpeTrainer`. Training stops early when no pair is left.

    Args:
        text: the training corpus.
        num_merges: how many merges to learn, >= 0.

    Returns:
        The merges in the order learned, each a pair of token strings (in `byte_to_unicode` characters).

    Raises:
        TypeError: `text` is not a string, or `num_merges` is not an int.
        ValueError: `num_merges` is negative.
    """
    num_merges = check_int("num_merges", num_merges, ge=0)
    words = Counter(tuple(piece) for piece in pre_tokenize(text))
    ids = {c: i for i, c in enumerate(sorted(_BYTE_TO_CHAR.values()))}
    counts: Counter[tuple[str, str]] = Counter()
    where: defaultdict[tuple[str, str], set[tuple[str, ...]]] = defaultdict(set)  # pair -> words holding it
    for word, n in words.items():
        for pair in pairwise(word):
            counts[pair] += n
            where[pair].add(word)
    merges: list[tuple[str, str]] = []
    while len(merges) < num_merges and counts:
        best = max(counts, key=lambda p: (counts[p], -ids[p[0]], -ids[p[1]]))
        merges.append(best)
        ids.setdefault(best[0] + best[1], len(ids))
        for word in list(where[best]):  # only the words holding the pair change
            n = words.pop(word)
            merged = _merge_word(word, best)
            words[merged] += n
            for pair in pairwise(word):
                counts[pair] -= n
                where[pair].discard(word)
                if counts[pair] == 0:
                    del counts[pair]
            for pair in pairwise(merged):
                counts[pair] += n
                where[pair].add(merged)
    return merges


def encode_bpe(text: str, merges: Sequence[tuple[str, str]]) -> list[str]:
    """Split `text` into BPE tokens: pre-tokenise, then in each piece merge the lowest-ranked pair until none.

    Args:
        text: the text to encode.
        merges: merges in rank order, as `train_bpe` returns them (or GPT-2's ``vocab.bpe``).

    Returns:
        The tokens, as strings of `byte_to_unicode` characters; joined, they give the pre-tokenised text.

    Raises:
        TypeError: `text` is not a string, or a merge is not a pair of strings.
    """
    rank = {}
    for r, pair in enumerate(merges):
        if not (isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
            raise TypeError(f"merges must hold pairs of strings, got {pair!r} at position {r}")
        rank.setdefault(pair, r)
    tokens: list[str] = []
    for piece in pre_tokenize(text):
        parts = tuple(piece)
        while len(parts) > 1:
            best = min(pairwise(parts), key=lambda p: rank.get(p, len(rank)))
            if best not in rank:
                break
            parts = _merge_word(parts, best)
        tokens += parts
    return tokens


def unigram_segment(word: str, log_probs: Mapping[str, float]) -> list[str]:
    """The most probable split of `word` into pieces of a Unigram model (Viterbi search).

    A Unigram model gives each piece $x$ a log-probability $\\log p(x)$ and scores a split by the sum over
    its pieces. ``best[i]``, the best score of the first ``i`` characters, is the maximum over pieces
    ``word[j:i]`` in the vocabulary of ``best[j] + log p(word[j:i])``; tracing back the chosen ``j`` gives the
    split. Cost: O(len(word) x longest piece).

    Args:
        word: the text to split (already pre-tokenised: SentencePiece writes a space as ``▁``).
        log_probs: piece -> log-probability (<= 0), e.g. a trained Unigram vocabulary.

    Returns:
        The pieces, in order; joined, they give `word`.

    Raises:
        TypeError: `word` is not a string.
        ValueError: `word` is empty, or some character of it is covered by no piece.
    """
    if not isinstance(word, str):
        raise TypeError(f"word must be a str, got {type(word).__name__}")
    if not word:
        raise ValueError("word must not be empty")
    longest = max(map(len, log_probs), default=0)
    best = [0.0] + [float("-inf")] * len(word)
    start = [0] * (len(word) + 1)
    for i in range(1, len(word) + 1):
        for j in range(max(0, i - longest), i):
            piece = word[j:i]
            if piece in log_probs and best[j] + log_probs[piece] > best[i]:
                best[i], start[i] = best[j] + log_probs[piece], j
    if best[-1] == float("-inf"):
        raise ValueError(f"no split of {word!r} into pieces of log_probs (a character is missing)")
    pieces, i = [], len(word)
    while i > 0:
        pieces.append(word[start[i] : i])
        i = start[i]
    return pieces[::-1]
