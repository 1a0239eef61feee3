"""Text to integers and back: a character vocabulary, and padding for batches of sequences.

Phase 6 builds its character-level language model and its seq2seq models on `CharVocab`; later phases
(Transformers, NLP) reuse it for character-level baselines and compare it with subword tokenizers.

Examples:
    >>> vocab = CharVocab.from_text("hello", specials=("<pad>", "<unk>"), unk="<unk>")
    >>> vocab.encode("hole")
    [3, 5, 4, 2]
    >>> vocab.decode(vocab.encode("hex"))
    'he<unk>'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import torch

from lessons.checks import check_int

__all__ = ["CharVocab", "pad_sequences"]


class CharVocab:
    """A fixed mapping between single characters (plus optional special tokens) and integer ids.

    Ids are assigned in order: the `specials` first (ids ``0 .. len(specials)-1``, e.g. ``"<pad>"`` at 0),
    then the characters. A special token is a whole string such as ``"<bos>"``; it is never produced by
    `encode` from raw text, only looked up by name with `id_of`.

    Args:
        chars: the characters of the vocabulary, each a string of length 1, no duplicates.
        specials: names of special tokens (e.g. ``("<pad>", "<bos>", "<eos>", "<unk>")``), no duplicates.
        unk: which special stands for characters outside the vocabulary; ``None`` means such characters
            raise a `KeyError` in `encode`.

    Raises:
        TypeError: `chars` or `specials` is a bare string where a sequence of tokens was meant, or
            holds a non-string.
        ValueError: an entry of `chars` is not a single character, a token is repeated, or `unk` is not
            one of `specials`.
    """

    def __init__(self, chars: Iterable[str], *, specials: Sequence[str] = (), unk: str | None = None) -> None:
        if isinstance(specials, str):
            raise TypeError(f"specials must be a sequence of token names, not the string {specials!r}")
        chars = list(chars)
        for c in chars:
            if not isinstance(c, str):
                raise TypeError(f"chars must hold strings, got {type(c).__name__}")
            if len(c) != 1:
                raise ValueError(f"chars must hold single characters, got {c!r}")
        for s in specials:
            if not isinstance(s, str) or not s:
                raise TypeError(f"specials must hold non-empty strings, got {s!r}")
        tokens = [*specials, *chars]
        if len(set(tokens)) != len(tokens):
            dup = sorted(t for t, n in Counter(tokens).items() if n > 1)
            raise ValueError(f"chars and specials must not repeat a token, repeated: {dup}")
        if unk is not None and unk not in specials:
            raise ValueError(f"unk must be one of specials {list(specials)}, got {unk!r}")
        self.itos: list[str] = tokens
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(tokens)}
        self.specials: tuple[str, ...] = tuple(specials)
        self.unk: str | None = unk

    @classmethod
    def from_text(
        cls,
        text: str,
        *,
        specials: Sequence[str] = (),
        unk: str | None = None,
        min_freq: int = 1,
    ) -> CharVocab:
        """Build a vocabulary from the characters of `text`, sorted by code point (so it is reproducible).

        Args:
            text: the training text.
            specials: special tokens placed first (see the class docstring).
            unk: the special that replaces characters outside the vocabulary.
            min_freq: keep only characters seen at least this many times (rarer ones map to `unk`).

        Raises:
            TypeError: `text` is not a `str`, or `min_freq` is not an int.
            ValueError: `text` is empty or `min_freq` < 1.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError("text must not be empty")
        check_int("min_freq", min_freq, ge=1)
        counts = Counter(text)
        return cls(sorted(c for c, n in counts.items() if n >= min_freq), specials=specials, unk=unk)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        return f"CharVocab(size={len(self)}, specials={list(self.specials)}, unk={self.unk!r})"

    def id_of(self, token: str) -> int:
        """The id of one token (a character or a special's name).

        Raises:
            KeyError: `token` is not in the vocabulary.
        """
        try:
            return self.stoi[token]
        except KeyError:
            raise KeyError(f"token {token!r} is not in the vocabulary") from None

    @property
    def unk_id(self) -> int | None:
        """The id of the `unk` special, or ``None`` when there is none."""
        return None if self.unk is None else self.stoi[self.unk]

    def encode(self, text: str) -> list[int]:
        """Turn `text` into ids, one per character.

        Args:
            text: any string; characters outside the vocabulary become `unk`'s id.

        Returns:
            A list of ``len(text)`` ints.

        Raises:
            TypeError: `text` is not a `str` (e.g. a list of ids was passed by mistake).
            KeyError: a character is outside the vocabulary and there is no `unk`.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        stoi, unk_id = self.stoi, self.unk_id
        if unk_id is None:
            missing = sorted(set(text) - stoi.keys())
            if missing:
                raise KeyError(f"characters {missing} are not in the vocabulary and unk is None")
            return [stoi[c] for c in text]
        return [stoi.get(c, unk_id) for c in text]

    def decode(self, ids: Iterable[int] | torch.Tensor, *, skip: Iterable[str] = ()) -> str:
        """Turn ids back into a string (specials appear by name, e.g. ``"<unk>"``).

        Args:
            ids: ints or a 1-D integer tensor.
            skip: special tokens to leave out (e.g. ``("<pad>", "<eos>")``).

        Raises:
            ValueError: `ids` is a tensor that is not 1-D, or an id is outside ``[0, len(self))``.
        """
        if isinstance(ids, torch.Tensor):
            if ids.dim() != 1:
                raise ValueError(f"ids must be a 1-D tensor, got shape {tuple(ids.shape)}")
            ids = ids.tolist()
        skip_set = set(skip)
        out = []
        n = len(self.itos)
        for i in ids:
            i = int(i)
            if not 0 <= i < n:
                raise ValueError(f"id {i} is outside the vocabulary [0, {n})")
            tok = self.itos[i]
            if tok not in skip_set:
                out.append(tok)
        return "".join(out)


def pad_sequences(seqs: Sequence[Sequence[int]], pad_id: int, *, length: int | None = None) -> torch.Tensor:
    """Stack sequences of ids of different lengths into one tensor, padding on the right.

    Args:
        seqs: ``B`` sequences of ints (lists or 1-D tensors), at least one.
        pad_id: the id written after each sequence.
        length: the padded length ``T``; default: the longest sequence. Longer sequences raise.

    Returns:
        A ``(B, T)`` ``torch.long`` tensor.

    Raises:
        ValueError: `seqs` is empty, or a sequence is longer than `length`.

    Examples:
        >>> pad_sequences([[1, 2, 3], [4]], pad_id=0)
        tensor([[1, 2, 3],
                [4, 0, 0]])
    """
    if len(seqs) == 0:
        raise ValueError("seqs must hold at least one sequence")
    lengths = [len(s) for s in seqs]
    T = max(lengths) if length is None else length
    if max(lengths) > T:
        raise ValueError(f"a sequence has length {max(lengths)} > length={T}")
    out = torch.full((len(seqs), T), int(pad_id), dtype=torch.long)
    for b, s in enumerate(seqs):
        if len(s):
            out[b, : len(s)] = torch.as_tensor(s, dtype=torch.long)
    return out
