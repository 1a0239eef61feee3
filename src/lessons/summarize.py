"""Extractive summarisation, ROUGE written out, and a retrieval chatbot over a small FAQ (section 11.10).

ROUGE (Lin, 2004) compares a candidate summary with a reference by counting what they share: ROUGE-N counts
n-grams, ROUGE-L the longest common subsequence. `rouge_scores` gives the same numbers as Google's
`rouge_score.rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"])` (no stemming) with the same tokenizer;
`rouge_tokenize` is that package's default tokenizer, which keeps only ``[a-z0-9]`` and so drops every Chinese
character, and `char_tokenize` is the fix for Chinese (one token per Han character, Latin words whole).

Extractive methods score the sentences of one document and keep the best k, in document order:
`lead` (the first k), `centroid_scores` (closeness to the document's mean vector), `textrank_scores`
(PageRank on the sentence-similarity graph) and `mmr_select` (maximal marginal relevance: relevance minus
redundancy). They take any sentence vectors: MiniLM embeddings, TF-IDF rows.

`FAQBot` answers a question with the answer of the most similar FAQ question, or with a fallback when even
the best match is below a similarity threshold.

Examples:
    >>> s = rouge_scores("the cat sat on the mat", "the cat lay on the mat")
    >>> round(s["rouge1"].fmeasure, 3), round(s["rouge2"].fmeasure, 3), round(s["rougeL"].fmeasure, 3)
    (0.833, 0.6, 0.833)
    >>> rouge_tokenize("注意力 is all you need"), char_tokenize("注意力 is all")
    (['is', 'all', 'you', 'need'], ['注', '意', '力', 'is', 'all'])
    >>> top_k(np.array([0.1, 0.9, 0.5, 0.7]), 2)
    [1, 3]
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import NamedTuple

import numpy as np
import torch

from lessons.checks import check_choice, check_float, check_int

__all__ = [
    "Score",
    "rouge_tokenize",
    "char_tokenize",
    "CharTokenizer",
    "ngram_counts",
    "rouge_n",
    "lcs_length",
    "rouge_l",
    "rouge_scores",
    "split_sentences",
    "lead",
    "top_k",
    "centroid_scores",
    "textrank_scores",
    "mmr_select",
    "Document",
    "load_course_documents",
    "FAQEntry",
    "load_faq",
    "Reply",
    "FAQBot",
]


class Score(NamedTuple):
    """Precision, recall and F1 of one ROUGE measure (the fields of `rouge_score.scoring.Score`)."""

    precision: float
    recall: float
    fmeasure: float


_NON_ALPHANUM = re.compile(r"[^a-z0-9]+")
_CHAR_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[a-z0-9]+")


def rouge_tokenize(text: str) -> list[str]:
    """rouge-score's default tokenizer (without stemming): lower-case, keep runs of ``[a-z0-9]``.

    Every other character separates tokens and is dropped, Chinese characters included.

    Args:
        text: any string.

    Returns:
        The tokens, in order.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return [t for t in _NON_ALPHANUM.split(text.lower()) if t]


def char_tokenize(text: str) -> list[str]:
    """A ROUGE tokenizer for Chinese: every Han character is a token; Latin words and numbers stay whole.

    Args:
        text: any string (lower-cased first, as `rouge_tokenize` does).

    Returns:
        The tokens, in order; punctuation and spaces are dropped.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _CHAR_TOKEN.findall(text.lower())


class CharTokenizer:
    """`char_tokenize` as the object `rouge_score.rouge_scorer.RougeScorer(tokenizer=...)` expects."""

    def tokenize(self, text: str) -> list[str]:
        """The tokens of `text` (see `char_tokenize`)."""
        return char_tokenize(text)


def _check_tokens(name: str, tokens: Sequence[str]) -> list[str]:
    if isinstance(tokens, str):
        raise TypeError(f"{name} must be a sequence of tokens, not one string: tokenize it first")
    return list(tokens)


def ngram_counts(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    """How often each n-gram (a tuple of n consecutive tokens) occurs.

    Args:
        tokens: a token sequence of length T.
        n: the n-gram length, >= 1.

    Returns:
        A `Counter` with max(T - n + 1, 0) n-grams in all.
    """
    tokens = _check_tokens("tokens", tokens)
    check_int("n", n, ge=1)
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _score(overlap: int, n_candidate: int, n_reference: int) -> Score:
    precision = overlap / n_candidate if n_candidate else 0.0
    recall = overlap / n_reference if n_reference else 0.0
    f = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return Score(precision, recall, f)


def rouge_n(candidate: Sequence[str], reference: Sequence[str], n: int) -> Score:
    """ROUGE-N: shared n-grams (clipped counts) over the candidate's (precision) and the reference's (recall).

    Args:
        candidate: the candidate's tokens.
        reference: the reference's tokens.
        n: the n-gram length, >= 1.

    Returns:
        `Score`; 0 where a side has no n-gram.
    """
    c = ngram_counts(_check_tokens("candidate", candidate), n)
    r = ngram_counts(_check_tokens("reference", reference), n)
    overlap = sum((c & r).values())  # an n-gram counts at most as often as it occurs on either side
    return _score(overlap, sum(c.values()), sum(r.values()))


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token sequences (dynamic programming, O(|a| |b|)).

    Args:
        a: a token sequence.
        b: another token sequence.

    Returns:
        The LCS length, between 0 and min(len(a), len(b)).
    """
    a, b = _check_tokens("a", a), _check_tokens("b", b)
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(candidate: Sequence[str], reference: Sequence[str]) -> Score:
    """ROUGE-L: the LCS length over the candidate's length (precision) and over the reference's (recall).

    Args:
        candidate: the candidate's tokens.
        reference: the reference's tokens.

    Returns:
        `Score`.
    """
    candidate = _check_tokens("candidate", candidate)
    reference = _check_tokens("reference", reference)
    return _score(lcs_length(candidate, reference), len(candidate), len(reference))


def rouge_scores(
    candidate: str, reference: str, *, tokenize: Callable[[str], list[str]] = rouge_tokenize
) -> dict[str, Score]:
    """ROUGE-1, ROUGE-2 and ROUGE-L of a candidate summary against one reference.

    Args:
        candidate: the summary to score.
        reference: the summary written by a person.
        tokenize: text -> tokens; `rouge_tokenize` (English, as rouge-score) or `char_tokenize` (Chinese).

    Returns:
        ``{"rouge1": Score, "rouge2": Score, "rougeL": Score}``.

    Raises:
        TypeError: a text is not a string.
    """
    for name, text in (("candidate", candidate), ("reference", reference)):
        if not isinstance(text, str):
            raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    c, r = tokenize(candidate), tokenize(reference)
    return {"rouge1": rouge_n(c, r, 1), "rouge2": rouge_n(c, r, 2), "rougeL": rouge_l(c, r)}


_SPLIT = {"en": re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“(])"), "zh": re.compile(r"(?<=[。！？])(?![”’）」])")}


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Split a paragraph into sentences at end punctuation (a rule, not a model: "e.g. The" splits too).

    Args:
        text: the text.
        language: ``"en"`` (split after . ! ? followed by a space and a capital or a quote) or ``"zh"``
            (after 。！？ unless a closing quote or bracket follows).

    Returns:
        The non-empty sentences, stripped.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    check_choice("language", language, ("en", "zh"))
    return [s.strip() for s in _SPLIT[language].split(text) if s.strip()]


def lead(n_sentences: int, k: int) -> list[int]:
    """The lead-k baseline: the indices of the first k sentences (all of them if there are fewer).

    Args:
        n_sentences: sentences in the document, >= 1.
        k: sentences to keep, >= 1.
    """
    check_int("n_sentences", n_sentences, ge=1)
    check_int("k", k, ge=1)
    return list(range(min(k, n_sentences)))


def top_k(scores: np.ndarray, k: int) -> list[int]:
    """The indices of the k highest scores, returned in document order (ties: the earlier sentence first).

    Args:
        scores: (N,) one score per sentence.
        k: sentences to keep, >= 1 (all N if k > N).
    """
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(f"scores must be a non-empty 1-D array, got shape {scores.shape}")
    check_int("k", k, ge=1)
    order = np.argsort(-scores, kind="stable")[:k]
    return sorted(int(i) for i in order)


def _unit(name: str, vectors: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(vectors, torch.Tensor):
        vectors = vectors.detach().cpu().numpy()
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] == 0:
        raise ValueError(f"{name} must be a (N, d) array with N >= 1, got shape {v.shape}")
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms > 0, norms, 1.0)


def centroid_scores(vectors: np.ndarray | torch.Tensor) -> np.ndarray:
    """Cosine similarity of each sentence to the centroid (mean) of the document's unit sentence vectors.

    Args:
        vectors: (N, d) sentence vectors (any scale: rows are normalised first).

    Returns:
        (N,) float64 scores in [-1, 1].
    """
    v = _unit("vectors", vectors)
    centre = v.mean(0)
    norm = np.linalg.norm(centre)
    return v @ (centre / norm) if norm > 0 else np.zeros(len(v))


def _similarity_graph(v: np.ndarray) -> np.ndarray:
    w = np.clip(v @ v.T, 0.0, None)  # negative similarities carry no vote
    np.fill_diagonal(w, 0.0)
    return w


def textrank_scores(
    vectors: np.ndarray | torch.Tensor, *, damping: float = 0.85, tol: float = 1e-10, max_iter: int = 1000
) -> np.ndarray:
    """TextRank (Mihalcea and Tarau, 2004): PageRank on the graph whose edge weights are cosine similarities.

    The edges are ``max(cos, 0)`` between distinct sentences; each sentence spreads its score over its edges
    in proportion to their weights (a sentence with no edge spreads it evenly), and
    ``r = (1 - damping) / N + damping * P^T r`` is iterated to convergence, as `networkx.pagerank` does.

    Args:
        vectors: (N, d) sentence vectors.
        damping: the probability of following an edge, in (0, 1).
        tol: stop when the L1 change of r is below N * tol.
        max_iter: iteration limit, >= 1.

    Returns:
        (N,) float64 scores, positive, summing to 1.
    """
    v = _unit("vectors", vectors)
    check_float("damping", damping, gt=0, lt=1)
    check_float("tol", tol, gt=0)
    check_int("max_iter", max_iter, ge=1)
    n = len(v)
    w = _similarity_graph(v)
    out = w.sum(1, keepdims=True)
    p = np.where(out > 0, w / np.where(out > 0, out, 1.0), 1.0 / n)  # row-stochastic transitions
    r = np.full(n, 1.0 / n)
    for _ in range(max_iter):
        new = (1 - damping) / n + damping * (p.T @ r)
        done = np.abs(new - r).sum() < n * tol
        r = new
        if done:
            break
    return r / r.sum()


def mmr_select(
    vectors: np.ndarray | torch.Tensor, k: int, *, lam: float = 0.7, relevance: np.ndarray | None = None
) -> list[int]:
    """Maximal marginal relevance (Carbonell and Goldstein, 1998): pick k sentences greedily, each time the
    one maximising ``lam * relevance - (1 - lam) * (its highest cosine to a sentence already picked)``.

    Args:
        vectors: (N, d) sentence vectors.
        k: sentences to pick, >= 1 (all N if k > N).
        lam: the weight of relevance against redundancy, in [0, 1]; 1 gives plain top-k by relevance.
        relevance: (N,) relevance scores; default `centroid_scores(vectors)`.

    Returns:
        The picked indices, in document order.
    """
    v = _unit("vectors", vectors)
    check_int("k", k, ge=1)
    check_float("lam", lam, ge=0, le=1)
    rel = centroid_scores(v) if relevance is None else np.asarray(relevance, dtype=np.float64)
    if rel.shape != (len(v),):
        raise ValueError(f"relevance must have shape ({len(v)},), got {rel.shape}")
    sim = v @ v.T
    picked: list[int] = []
    redundancy = np.full(len(v), -np.inf)  # the highest similarity to a picked sentence (none yet)
    for _ in range(min(k, len(v))):
        score = lam * rel - (1 - lam) * np.where(np.isfinite(redundancy), redundancy, 0.0)
        score[picked] = -np.inf
        best = int(np.argmax(score))
        picked.append(best)
        redundancy = np.maximum(redundancy, sim[best])
    return sorted(picked)


@dataclass(frozen=True)
class Document:
    """One page of the course as a summarisation example.

    Attributes:
        page: the Chinese file name relative to ``docs/``, e.g. ``"phases/12-llm/quantization.md"``.
        language: ``"en"`` or ``"zh"``.
        reference: the page's opening paragraph, used as the reference summary.
        sentences: the prose of the page's sections, one sentence per item.
    """

    page: str
    language: str
    reference: str
    sentences: tuple[str, ...]


def load_course_documents(language: str = "en") -> list[Document]:
    """15 pages of phases 7-12 as documents, each with its opening paragraph as the reference summary.

    A snapshot (``src/lessons/data/course_summaries.json``, built by ``scripts/build_summary_data.py``), so
    that later edits of the pages do not move the numbers of section 11.10.

    Args:
        language: ``"en"`` (23-57 sentences a page, 704 in all) or ``"zh"`` (the same pages' twins, 700).

    Returns:
        The documents, sorted by page.
    """
    import json

    check_choice("language", language, ("en", "zh"))
    text = resources.files("lessons").joinpath("data/course_summaries.json").read_text(encoding="utf-8")
    return [
        Document(d["page"], d["language"], d["reference"], tuple(d["sentences"]))
        for d in json.loads(text)
        if d["language"] == language
    ]


@dataclass(frozen=True)
class FAQEntry:
    """One FAQ item: the question the bot knows, its answer, and two held-out paraphrases for testing."""

    question: str
    answer: str
    paraphrases: tuple[str, ...]


def load_faq() -> tuple[list[FAQEntry], list[str]]:
    """The course FAQ (``src/lessons/data/course_faq.yml``): 24 entries and 16 questions it cannot answer.

    Returns:
        ``(entries, out_of_scope)``.
    """
    import yaml

    data = yaml.safe_load(
        resources.files("lessons").joinpath("data/course_faq.yml").read_text(encoding="utf-8")
    )
    entries = [FAQEntry(e["question"], e["answer"], tuple(e["paraphrases"])) for e in data["entries"]]
    return entries, list(data["out_of_scope"])


class Reply(NamedTuple):
    """What `FAQBot.reply` returns: the answer text, the matched entry (None: the fallback) and its cosine."""

    text: str
    index: int | None
    score: float


class FAQBot:
    """A retrieval chatbot: the answer of the nearest FAQ question by cosine similarity, or a fallback.

    Args:
        questions: the FAQ's M questions.
        answers: their M answers.
        embed: texts -> (n, d) tensor of sentence vectors (e.g. `lessons.pretrained.embed_sentences`).
        threshold: the lowest cosine that still counts as a match, in [-1, 1].
        fallback: what to say below the threshold.

    Examples:
        >>> def embed(texts):  # a toy embedding: counts of a few letters
        ...     return torch.tensor([[t.count(c) + 0.0 for c in "aeiou"] for t in texts])
        >>> bot = FAQBot(["aaa", "ooo"], ["A!", "O!"], embed, threshold=0.9)
        >>> bot.reply("a a").text, bot.reply("e").text
        ('A!', "Sorry, I don't know that one.")
    """

    def __init__(
        self,
        questions: Sequence[str],
        answers: Sequence[str],
        embed: Callable[[Sequence[str]], torch.Tensor],
        *,
        threshold: float = 0.5,
        fallback: str = "Sorry, I don't know that one.",
    ) -> None:
        if isinstance(questions, str) or isinstance(answers, str):
            raise TypeError("questions and answers must be sequences of strings, not one string")
        if not questions or len(questions) != len(answers):
            raise ValueError(
                "questions and answers must be non-empty and of the same length, "
                f"got {len(questions)} and {len(answers)}"
            )
        if not callable(embed):
            raise TypeError(f"embed must be callable, got {type(embed).__name__}")
        self.threshold = check_float("threshold", threshold, ge=-1, le=1)
        self.answers = list(answers)
        self.fallback = fallback
        self.embed = embed
        self.keys = torch.nn.functional.normalize(embed(list(questions)).float(), dim=1)  # (M, d)

    def scores(self, texts: Sequence[str]) -> torch.Tensor:
        """(n, M) cosine similarities of n user texts to the M FAQ questions."""
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, not one string: wrap it in a list")
        return torch.nn.functional.normalize(self.embed(list(texts)).float(), dim=1) @ self.keys.T

    def reply(self, text: str) -> Reply:
        """The answer to one user text: the best match if its cosine >= threshold, else the fallback."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"text must be a non-empty string, got {text!r}")
        best, index = self.scores([text])[0].max(0)
        if float(best) >= self.threshold:
            return Reply(self.answers[int(index)], int(index), float(best))
        return Reply(self.fallback, None, float(best))
