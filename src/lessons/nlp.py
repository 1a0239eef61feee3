"""Word vectors: a corpus and benchmarks that ship with gensim, skip-gram with negative sampling, GloVe's
co-occurrences, and the measurements of phase 11 (category AUC, WordSim-353, 3CosAdd analogies).

Chapter 11.2 writes each piece out in the page; these are the same functions for the later sections.

Examples:
    >>> vocab = WordVocab.build([["a", "b", "a"], ["b", "a", "c"]], min_count=2)
    >>> vocab.words, vocab.counts.tolist()
    (['a', 'b'], [3, 2])
    >>> vocab.encode(["a", "c", "b"]).tolist()
    [0, 1]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lessons.checks import check_float, check_int

__all__ = [
    "SkipGramNS",
    "WordVocab",
    "analogy_3cosadd",
    "category_auc",
    "cooccurrence",
    "gensim_test_file",
    "load_analogies",
    "load_lee_corpus",
    "load_wordsim353",
    "noise_distribution",
    "skipgram_pairs",
    "subsample_keep",
    "wordsim_spearman",
]


def gensim_test_file(name: str) -> Path:
    """The path of a file that gensim ships in ``gensim/test/test_data`` (read there, never copied).

    Raises:
        ModuleNotFoundError: gensim is not installed.
        FileNotFoundError: the installed gensim lacks the file.
    """
    try:
        from gensim.test.utils import datapath
    except ModuleNotFoundError as err:  # pragma: no cover - gensim is a dependency
        raise ModuleNotFoundError("this needs gensim, which ships the corpus: pip install gensim") from err
    path = Path(datapath(name))
    if not path.is_file():
        raise FileNotFoundError(f"the installed gensim has no {name} (looked at {path})")
    return path


def load_lee_corpus() -> list[list[str]]:
    """The Lee background corpus: 300 news articles of the Australian Broadcasting Corporation (2001-2002,
    bushfires, the Middle East, Afghanistan, cricket ...), one article per line, as gensim ships it.

    Returns:
        300 lists of lowercase tokens (58,152 in all), cut by ``gensim.utils.simple_preprocess``: words of
        2-15 letters, accents removed, numbers and punctuation dropped.
    """
    from gensim.utils import simple_preprocess

    with open(gensim_test_file("lee_background.cor"), encoding="utf-8") as f:
        return [simple_preprocess(line) for line in f]


def load_wordsim353() -> list[tuple[str, str, float]]:
    """WordSim-353 (Finkelstein et al., 2002): 353 word pairs with the mean of human ratings of relatedness
    from 0 to 10, as gensim ships it (``wordsim353.tsv``).

    Returns:
        ``(word1, word2, rating)`` triples, lowercased, in the file's order.
    """
    pairs = []
    with open(gensim_test_file("wordsim353.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            a, b, rating = line.rstrip("\n").split("\t")[:3]
            pairs.append((a.lower(), b.lower(), float(rating)))
    return pairs


def load_analogies() -> dict[str, list[tuple[str, str, str, str]]]:
    """Mikolov et al.'s analogy questions (``questions-words.txt``, 19,544 of them): "a is to b as c is to d".

    Returns:
        ``{section: [(a, b, c, d), ...]}`` in the file's order, lowercased; the 14 sections are named as in
        the file (``capital-common-countries``, ..., ``gram9-plural-verbs``).
    """
    sections: dict[str, list[tuple[str, str, str, str]]] = {}
    current: list[tuple[str, str, str, str]] = []
    with open(gensim_test_file("questions-words.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith(":"):
                current = sections.setdefault(line[1:].strip(), [])
            elif line.strip():
                a, b, c, d = line.lower().split()
                current.append((a, b, c, d))
    return sections


@dataclass
class WordVocab:
    """The words kept for training (those seen at least ``min_count`` times), most frequent first.

    Attributes:
        words: the kept words; a word's id is its position here.
        counts: (V,) int64 numpy array, how often each kept word occurs.
        index: ``{word: id}``.
    """

    words: list[str]
    counts: np.ndarray
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.words) != len(self.counts):
            raise ValueError(f"words and counts differ in length: {len(self.words)} and {len(self.counts)}")
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, docs: Sequence[Sequence[str]], min_count: int = 5) -> WordVocab:
        """Count the tokens of `docs` and keep the words seen at least `min_count` times (ties in
        alphabetical order, so the ids do not depend on the order of the documents).

        Raises:
            TypeError: `docs` is a string, or a document is a string instead of a list of tokens.
            ValueError: `min_count` < 1, or no word is frequent enough.
        """
        check_int("min_count", min_count, ge=1)
        if isinstance(docs, str) or any(isinstance(d, str) for d in docs):
            raise TypeError("docs must be a sequence of token lists, not strings: tokenize them first")
        counts = Counter(w for d in docs for w in d)
        kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        if not kept:
            raise ValueError(f"no word occurs min_count={min_count} times in docs")
        return cls(kept, np.array([counts[w] for w in kept], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, doc: Sequence[str]) -> np.ndarray:
        """The ids of the tokens of `doc` that are in the vocabulary (the others are dropped), int64."""
        return np.array([self.index[w] for w in doc if w in self.index], dtype=np.int64)


def subsample_keep(counts: np.ndarray, sample: float = 1e-3) -> np.ndarray:
    """The probability of keeping each occurrence of a word, as word2vec and gensim subsample frequent words:
    with $z$ the word's share of the corpus and $t$ = `sample`, keep $= \\min(1, (\\sqrt{z/t} + 1)\\, t/z)$.

    Args:
        counts: (V,) positive counts.
        sample: the threshold $t$ (> 0); words rarer than about $t$ are always kept.

    Returns:
        (V,) float64 in (0, 1].
    """
    check_float("sample", sample, gt=0)
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or len(counts) == 0 or (counts <= 0).any():
        raise ValueError(f"counts must be a non-empty 1-D array of positive counts, got shape {counts.shape}")
    z = counts / counts.sum()
    return np.minimum(1.0, (np.sqrt(z / sample) + 1) * sample / z)


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> torch.Tensor:
    """Negative sampling's noise distribution: counts raised to `power` (word2vec's 3/4), normalised.

    Returns:
        (V,) float64 tensor summing to 1.
    """
    check_float("power", power, ge=0)
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or len(counts) == 0 or (counts <= 0).any():
        raise ValueError(f"counts must be a non-empty 1-D array of positive counts, got shape {counts.shape}")
    p = torch.from_numpy(counts**power)
    return p / p.sum()


def skipgram_pairs(
    docs_ids: Sequence[np.ndarray],
    window: int,
    rng: np.random.Generator,
    keep: np.ndarray | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """All (centre, context) pairs of one pass over the corpus, with word2vec's dynamic window: each centre
    draws a window $b$ uniformly from 1 to `window` and pairs with the words up to $b$ positions away.

    Args:
        docs_ids: one int array of word ids per document (pairs never cross documents).
        window: the largest distance between centre and context (>= 1).
        rng: the generator for the windows and the subsampling.
        keep: optional (V,) keep probabilities (`subsample_keep`), applied before the pairs are formed.

    Returns:
        ``(centres, contexts)``: two int64 tensors of the same length, in corpus order.
    """
    check_int("window", window, ge=1)
    centres, contexts = [], []
    for ids in docs_ids:
        ids = np.asarray(ids, dtype=np.int64)
        if keep is not None:
            ids = ids[rng.random(len(ids)) < keep[ids]]
        n = len(ids)
        b = rng.integers(1, window + 1, n)  # each position's own window
        for offset in range(1, window + 1):
            left = np.nonzero(b[offset:] >= offset)[0] + offset  # centres whose window reaches back
            right = np.nonzero(b[: n - offset] >= offset)[0]  # centres whose window reaches forward
            centres += [ids[left], ids[right]]
            contexts += [ids[left - offset], ids[right + offset]]
    if not centres:
        empty = torch.zeros(0, dtype=torch.int64)
        return empty, empty.clone()
    return torch.from_numpy(np.concatenate(centres)), torch.from_numpy(np.concatenate(contexts))


class SkipGramNS(nn.Module):
    """Skip-gram with negative sampling (Mikolov et al., 2013): a centre vector $v_c$ per word and a
    separate context vector $u_o$, trained so that $\\sigma(u_o^\\top v_c)$ is high for pairs seen in the
    corpus and low for $k$ noise words.

    Args:
        vocab_size: V.
        dim: the vector size d.

    The centre vectors start uniform in $\\pm 0.5/d$ and the context vectors at zero, as in word2vec;
    `vectors` are the centre vectors, the usual word vectors.
    """

    def __init__(self, vocab_size: int, dim: int) -> None:
        super().__init__()
        check_int("vocab_size", vocab_size, ge=1)
        check_int("dim", dim, ge=1)
        self.centre = nn.Embedding(vocab_size, dim)
        self.context = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(self.centre.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.context.weight)

    def forward(self, centres: torch.Tensor, contexts: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
        """The loss of each pair: $-\\log\\sigma(u_o^\\top v_c) - \\sum_k \\log\\sigma(-u_k^\\top v_c)$.

        Args:
            centres: (B,) word ids.
            contexts: (B,) word ids.
            negatives: (B, k) word ids drawn from the noise distribution.

        Returns:
            (B,) losses.
        """
        if centres.shape != contexts.shape or centres.ndim != 1:
            raise ValueError(
                f"centres and contexts must be 1-D of one shape, got {centres.shape}, {contexts.shape}"
            )
        if negatives.ndim != 2 or len(negatives) != len(centres):
            raise ValueError(
                f"negatives must be (B, k) with B = {len(centres)}, got {tuple(negatives.shape)}"
            )
        v = self.centre(centres)  # (B, d)
        positive = (self.context(contexts) * v).sum(-1)  # (B,)
        negative = torch.bmm(self.context(negatives), v.unsqueeze(-1)).squeeze(-1)  # (B, k)
        return -(F.logsigmoid(positive) + F.logsigmoid(-negative).sum(-1))

    @property
    def vectors(self) -> torch.Tensor:
        """(V, d) the trained word vectors (the centre embeddings), detached."""
        return self.centre.weight.detach()


def cooccurrence(docs_ids: Sequence[np.ndarray], vocab_size: int, window: int) -> torch.Tensor:
    """GloVe's co-occurrence matrix: $X_{ij}$ sums $1/d$ over every occurrence of word $j$ at distance
    $d \\le$ `window` from word $i$ (both directions, so $X$ is symmetric), never across documents.

    Returns:
        (V, V) float64 dense tensor.
    """
    check_int("vocab_size", vocab_size, ge=1)
    check_int("window", window, ge=1)
    X = np.zeros((vocab_size, vocab_size))
    for ids in docs_ids:
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) and (ids.min() < 0 or ids.max() >= vocab_size):
            raise ValueError(f"docs_ids hold ids outside [0, {vocab_size})")
        for offset in range(1, window + 1):
            np.add.at(X, (ids[:-offset], ids[offset:]), 1.0 / offset)
    return torch.from_numpy(X + X.T)


def _unit_rows(vectors: torch.Tensor | np.ndarray) -> torch.Tensor:
    E = torch.as_tensor(np.asarray(vectors) if not isinstance(vectors, torch.Tensor) else vectors)
    if E.ndim != 2 or len(E) == 0:
        raise ValueError(f"vectors must be a non-empty (V, d) matrix, got shape {tuple(E.shape)}")
    return F.normalize(E.double(), dim=1)


def category_auc(
    vectors: torch.Tensor | np.ndarray, index: Mapping[str, int], groups: Sequence[Sequence[str]]
) -> float:
    """How well cosine similarity tells words of one category from words of different categories: the
    probability that a random same-category pair is more similar than a random cross-category pair (the
    area under the ROC curve; 0.5 is chance, 1 is perfect; ties count half).

    Args:
        vectors: (V, d) word vectors.
        index: ``{word: row of vectors}``.
        groups: at least two lists of words, every word in `index`.

    Raises:
        ValueError: fewer than two groups, a group of fewer than two words, or a word missing from `index`.
    """
    if len(groups) < 2 or any(len(g) < 2 for g in groups):
        raise ValueError("groups must be at least two lists of at least two words each")
    missing = [w for g in groups for w in g if w not in index]
    if missing:
        raise ValueError(f"words missing from the vocabulary: {missing}")
    E = _unit_rows(vectors)
    words = [w for g in groups for w in g]
    label = torch.tensor([k for k, g in enumerate(groups) for _ in g])
    S = E[[index[w] for w in words]] @ E[[index[w] for w in words]].T
    i, j = torch.triu_indices(len(words), len(words), 1)
    same = label[i] == label[j]
    pos, neg = S[i, j][same], S[i, j][~same]
    greater = (pos[:, None] > neg[None, :]).double().mean()
    ties = (pos[:, None] == neg[None, :]).double().mean()
    return float(greater + 0.5 * ties)


def wordsim_spearman(
    vectors: torch.Tensor | np.ndarray, index: Mapping[str, int], pairs: Sequence[tuple[str, str, float]]
) -> tuple[float, int]:
    """Spearman's rank correlation between cosine similarities and human ratings, over the pairs whose two
    words are both in `index` (the others are skipped, and counted).

    Returns:
        ``(rho, n)``: the correlation and the number of pairs it was computed on.

    Raises:
        ValueError: fewer than 3 pairs are covered.
    """
    from scipy.stats import spearmanr

    E = _unit_rows(vectors)
    covered = [(a, b, s) for a, b, s in pairs if a in index and b in index]
    if len(covered) < 3:
        raise ValueError(f"only {len(covered)} of {len(pairs)} pairs have both words in the vocabulary")
    sims = [float(E[index[a]] @ E[index[b]]) for a, b, _ in covered]
    return float(spearmanr(sims, [s for *_, s in covered]).statistic), len(covered)


def analogy_3cosadd(
    vectors: torch.Tensor | np.ndarray, index: Mapping[str, int], a: str, b: str, c: str, *, topn: int = 1
) -> list[str]:
    """Answer "a is to b as c is to ?" with 3CosAdd: the words $d$ that maximise
    $\\cos(d, b) - \\cos(d, a) + \\cos(d, c)$, leaving out a, b and c themselves (as gensim does).

    Args:
        vectors: (V, d) word vectors.
        index: ``{word: row of vectors}``; the answers are taken from its words.
        a: the first word of the question (in `index`, as are `b` and `c`).
        b: the word that `a` is to.
        c: the word whose counterpart is asked for.
        topn: how many answers, best first (>= 1).

    Returns:
        The `topn` best words.
    """
    check_int("topn", topn, ge=1)
    missing = [w for w in (a, b, c) if w not in index]
    if missing:
        raise ValueError(f"words missing from the vocabulary: {missing}")
    E = _unit_rows(vectors)
    if sorted(index.values()) != list(range(len(E))):
        raise ValueError(f"index must map {len(E)} words to the rows 0..{len(E) - 1} of vectors")
    words = sorted(index, key=index.__getitem__)
    scores = E @ (E[index[b]] - E[index[a]] + E[index[c]])  # unit rows: a sum of three cosines
    scores[[index[a], index[b], index[c]]] = -torch.inf
    return [words[i] for i in scores.topk(min(topn, len(words) - 3)).indices.tolist()]
