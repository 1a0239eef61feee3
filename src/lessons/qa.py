"""Extractive question answering: a templated data set, SQuAD's exact match and F1, and span decoding.

Section 11.6 writes each piece out in the page first; these are the same functions, kept for later use.

- `make_qa_examples` builds passages about invented people from templates, so every answer's character
  span is known by construction. The pools of first names, surnames, cities and jobs are split in two:
  ``split="train"`` and ``split="test"`` never share a name, a city or a job, so a model cannot pass the
  test by remembering entities.
- `normalize_answer`, `exact_match`, `f1_score` and `squad_scores` follow the official SQuAD v1.1
  evaluation script (lower-case, drop punctuation, drop "a"/"an"/"the", squeeze whitespace; token-level
  F1; the maximum over the gold answers; averages in percent).
- `best_span` picks the span that maximises ``start_logit + end_logit`` with ``start <= end`` and a
  maximum length, among the allowed (context) tokens.

Examples:
    >>> normalize_answer("The  Eiffel Tower!")
    'eiffel tower'
    >>> exact_match("the Tower", ["tower"]), round(f1_score("Eiffel Tower", ["the tower"]), 3)
    (1.0, 0.667)
    >>> best_span(torch.tensor([0.0, 3.0, 1.0]), torch.tensor([0.0, 0.0, 2.0]))
    (1, 2)
"""

from __future__ import annotations

import random
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from lessons.checks import check_choice, check_int

__all__ = [
    "CITIES",
    "FIRST_NAMES",
    "JOBS",
    "KINDS",
    "SURNAMES",
    "QAExample",
    "best_span",
    "exact_match",
    "f1_score",
    "make_qa_examples",
    "normalize_answer",
    "squad_scores",
]

FIRST_NAMES = [
    "Ada",
    "Boris",
    "Clara",
    "Dmitri",
    "Elena",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Luca",
    "Mara",
    "Nils",
    "Olga",
    "Pavel",
    "Rosa",
    "Sven",
    "Tara",
    "Viktor",
    "Wanda",
    "Yusuf",
    "Zora",
    "Anton",
    "Bianca",
    "Cyril",
    "Dora",
    "Emil",
    "Flora",
    "Gustav",
    "Hanna",
    "Igor",
    "Jana",
    "Karl",
    "Lena",
    "Milan",
]
SURNAMES = [
    "Novak",
    "Berg",
    "Costa",
    "Dahl",
    "Eriksen",
    "Fischer",
    "Gallo",
    "Horvat",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Nagy",
    "Olsen",
    "Petrov",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Urban",
    "Varga",
    "Weber",
    "Young",
    "Zeller",
    "Almeida",
    "Brandt",
    "Coelho",
    "Duval",
    "Engel",
]
CITIES = [
    "Lisbon",
    "Oslo",
    "Vienna",
    "Porto",
    "Krakow",
    "Lyon",
    "Turin",
    "Ghent",
    "Bergen",
    "Seville",
    "Leipzig",
    "Utrecht",
    "Malmo",
    "Bilbao",
    "Graz",
    "Tartu",
    "Cork",
    "Basel",
    "Split",
    "Riga",
    "Nantes",
    "Bremen",
    "Aarhus",
    "Verona",
    "Brno",
    "Gdansk",
    "Salzburg",
    "Tampere",
    "Cluj",
    "Ljubljana",
    "New Haven",
    "San Diego",
    "Buenos Aires",
    "Cape Town",
    "Hong Kong",
    "Santa Fe",
]
JOBS = [
    "pilot",
    "baker",
    "nurse",
    "carpenter",
    "chemist",
    "dentist",
    "lawyer",
    "tailor",
    "plumber",
    "librarian",
    "painter",
    "farmer",
    "pharmacist",
    "architect",
    "electrician",
    "journalist",
    "surgeon",
    "translator",
    "photographer",
    "veterinarian",
    "firefighter",
    "geologist",
    "sculptor",
    "locksmith",
]
# Two sentences per passage, in random order: where and when the person was born, and where and when they
# moved (with their job). {n} is the person's full name.
_BIRTH = (
    "{n} was born in {born_city} in {born_year}.",
    "In {born_year}, {n} was born in {born_city}.",
    "{n} was born in {born_year} in the city of {born_city}.",
)
_MOVE = (
    "In {moved_year}, {n} moved to {moved_city} to work as a {job}.",
    "{n} moved to {moved_city} in {moved_year} and works there as a {job}.",
    "{n}, a {job}, moved to {moved_city} in {moved_year}.",
)
_QUESTIONS = {
    "born_city": ("Where was {n} born?", "In which city was {n} born?"),
    "born_year": ("When was {n} born?", "In what year was {n} born?"),
    "moved_city": ("Where did {n} move to?", "Which city did {n} move to?"),
    "moved_year": ("When did {n} move?", "In what year did {n} move?"),
    "job": ("What is the job of {n}?", "What does {n} do for a living?"),
}
KINDS = tuple(_QUESTIONS)


@dataclass(frozen=True)
class QAExample:
    """One question about one passage, with the gold answer located by construction.

    Attributes:
        question: the question, e.g. ``"Where was Ada Novak born?"``.
        context: the passage that holds the answer.
        answer: the answer text; ``context[answer_start:answer_start + len(answer)] == answer``.
        answer_start: the answer's first character in `context`.
        kind: what is asked, one of `KINDS`: ``"born_city"``, ``"born_year"``, ``"moved_city"``,
            ``"moved_year"`` or ``"job"``.
        passage_id: the index of the passage in the list it was made with (several questions share one).
    """

    question: str
    context: str
    answer: str
    answer_start: int
    kind: str
    passage_id: int

    @property
    def answer_end(self) -> int:
        """One past the answer's last character in `context`."""
        return self.answer_start + len(self.answer)


def _pool(items: Sequence[str], split: str) -> list[str]:
    return list(items[0::2] if split == "train" else items[1::2])


def make_qa_examples(
    n_passages: int, *, split: str = "train", questions_per_passage: int = 2, seed: int = 0
) -> list[QAExample]:
    """Questions about templated passages on invented people, with answer spans known by construction.

    Each passage is two sentences about one invented person, in random order: where and when they were
    born, and where and when they moved (and their job). Two cities and two years stand in every passage,
    so an answer must be found by what is asked (born or moved), not by its type alone. Train and test
    draw first names, surnames, cities and jobs from disjoint halves of the pools.

    Args:
        n_passages: how many passages (>= 1).
        split: ``"train"`` or ``"test"``: which half of the entity pools to draw from.
        questions_per_passage: questions per passage, 1 to 5, each about a different fact.
        seed: the random seed; the same arguments give the same examples.

    Returns:
        ``n_passages * questions_per_passage`` examples, grouped by passage (`passage_id` 0, 0, 1, 1, ...).

    Raises:
        ValueError: `n_passages` < 1, `questions_per_passage` not in 1..5, or an unknown `split`.
        TypeError: a count or the seed is not an int.

    Examples:
        >>> ex = make_qa_examples(1, questions_per_passage=1)[0]
        >>> ex.context[ex.answer_start:ex.answer_end] == ex.answer
        True
    """
    check_int("n_passages", n_passages, ge=1)
    check_int("questions_per_passage", questions_per_passage, ge=1, le=5)
    check_choice("split", split, ("train", "test"))
    check_int("seed", seed)
    rng = random.Random(f"{split}-{seed}")
    firsts, lasts, cities, jobs = (_pool(p, split) for p in (FIRST_NAMES, SURNAMES, CITIES, JOBS))
    examples: list[QAExample] = []
    for pid in range(n_passages):
        born_city, moved_city = rng.sample(cities, 2)
        born_year = rng.randrange(1930, 1990)
        person = {
            "n": f"{rng.choice(firsts)} {rng.choice(lasts)}",
            "born_city": born_city,
            "born_year": str(born_year),
            "moved_city": moved_city,
            "moved_year": str(born_year + rng.randrange(18, 30)),
            "job": rng.choice(jobs),
        }
        sentences = [rng.choice(_BIRTH), rng.choice(_MOVE)]
        rng.shuffle(sentences)  # the birth comes first in about half of the passages
        context, where = "", {}
        for template in sentences:
            offset = len(context) + (1 if context else 0)
            for kind in KINDS:  # locate each slot while the text is built
                if "{" + kind + "}" in template:
                    where[kind] = offset + len(template[: template.index("{" + kind + "}")].format(**person))
            context += (" " if context else "") + template.format(**person)
        for kind in rng.sample(KINDS, questions_per_passage):
            question = rng.choice(_QUESTIONS[kind]).format(**person)
            answer, start = person[kind], where[kind]
            assert context[start : start + len(answer)] == answer  # the span is right by construction
            examples.append(QAExample(question, context, answer, start, kind, pid))
    return examples


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower-case, drop punctuation, drop the articles a/an/the, squeeze whitespace.

    The steps run in the official script's order (lower, punctuation, articles, whitespace).

    Raises:
        TypeError: `text` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _golds(gold_answers: Sequence[str] | str) -> list[str]:
    if isinstance(gold_answers, str):
        gold_answers = [gold_answers]
    gold_answers = list(gold_answers)
    if not gold_answers:
        raise ValueError("gold_answers must hold at least one answer")
    for i, gold in enumerate(gold_answers):
        if not isinstance(gold, str):
            raise TypeError(f"gold_answers[{i}] must be a str, got {type(gold).__name__}")
    return gold_answers


def _token_f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold_answers: Sequence[str] | str) -> float:
    """1.0 if the normalised prediction equals any normalised gold answer, else 0.0 (SQuAD v1.1).

    Args:
        prediction: the predicted answer text.
        gold_answers: one gold answer or several (the maximum over them is taken).

    Raises:
        TypeError: `prediction` or a gold answer is not a string.
        ValueError: `gold_answers` is empty.
    """
    pred = normalize_answer(prediction)
    return max(float(pred == normalize_answer(g)) for g in _golds(gold_answers))


def f1_score(prediction: str, gold_answers: Sequence[str] | str) -> float:
    """Token-level F1 between the normalised prediction and the best-matching gold answer (SQuAD v1.1).

    Tokens are the whitespace-separated words after `normalize_answer`; overlap counts repeated words as a
    multiset. As in the v1.1 script, no overlap (also when both sides normalise to nothing) gives 0.0.

    Args:
        prediction: the predicted answer text.
        gold_answers: one gold answer or several (the maximum over them is taken).

    Raises:
        TypeError: `prediction` or a gold answer is not a string.
        ValueError: `gold_answers` is empty.
    """
    pred_tokens = normalize_answer(prediction).split()
    return max(_token_f1(pred_tokens, normalize_answer(g).split()) for g in _golds(gold_answers))


def squad_scores(predictions: Sequence[str], gold_answers: Sequence[Sequence[str] | str]) -> dict[str, float]:
    """Corpus-level SQuAD scores: the mean exact match and mean F1 over the questions, in percent.

    Args:
        predictions: N predicted answers.
        gold_answers: N entries, each one gold answer or a list of them.

    Returns:
        ``{"exact_match": ..., "f1": ...}``, each in [0, 100].

    Raises:
        ValueError: the two lengths differ, or there are no predictions.
    """
    if isinstance(predictions, str):
        raise TypeError("predictions must be a sequence of strings, not one string")
    if len(predictions) != len(gold_answers):
        raise ValueError(
            "predictions and gold_answers must have the same length, "
            f"got {len(predictions)} and {len(gold_answers)}"
        )
    if not predictions:
        raise ValueError("predictions must hold at least one answer")
    em = sum(exact_match(p, g) for p, g in zip(predictions, gold_answers, strict=True))
    f1 = sum(f1_score(p, g) for p, g in zip(predictions, gold_answers, strict=True))
    return {"exact_match": 100 * em / len(predictions), "f1": 100 * f1 / len(predictions)}


def best_span(
    start_logits: torch.Tensor,
    end_logits: torch.Tensor,
    allowed: torch.Tensor | None = None,
    *,
    max_answer_len: int = 30,
) -> tuple[int, int]:
    """The token span ``(start, end)``, both inclusive, that maximises ``start_logits[i] + end_logits[j]``.

    Only spans with ``start <= end < start + max_answer_len`` whose two ends are both allowed are considered
    (the context tokens, not the question or the special tokens). Ties go to the first span in row-major
    order of ``(start, end)``.

    Args:
        start_logits: (T,) float tensor, one score per token for "the answer starts here".
        end_logits: (T,) float tensor, one score per token for "the answer ends here".
        allowed: optional (T,) bool tensor; ``None`` allows every token.
        max_answer_len: the longest span, in tokens (>= 1).

    Returns:
        ``(start, end)`` token indices.

    Raises:
        ValueError: the shapes differ or are not 1-D, `max_answer_len` < 1, or no token is allowed.
    """
    check_int("max_answer_len", max_answer_len, ge=1)
    if start_logits.ndim != 1 or start_logits.shape != end_logits.shape:
        raise ValueError(
            "start_logits and end_logits must be 1-D of the same length, "
            f"got {tuple(start_logits.shape)} and {tuple(end_logits.shape)}"
        )
    n = start_logits.shape[0]
    if allowed is None:
        allowed = torch.ones(n, dtype=torch.bool)
    if allowed.shape != (n,) or allowed.dtype != torch.bool:
        raise ValueError(
            f"allowed must be a bool tensor of shape ({n},), got {allowed.dtype} {tuple(allowed.shape)}"
        )
    if not allowed.any():
        raise ValueError("allowed must allow at least one token")
    scores = start_logits.detach().double()[:, None] + end_logits.detach().double()[None, :]
    i, j = torch.arange(n)[:, None], torch.arange(n)[None, :]
    valid = (j >= i) & (j - i < max_answer_len) & allowed[:, None] & allowed[None, :]
    best = int(scores.masked_fill(~valid, float("-inf")).flatten().argmax())
    return best // n, best % n
