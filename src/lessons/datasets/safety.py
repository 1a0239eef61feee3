"""Small labelled sets for measuring a model's behaviour rather than training it: the word lists of the
Word Embedding Association Test (WEAT), and a moderation set of requests written for this course.

Examples:
    >>> tests = load_weat_tests()
    >>> tests["flowers-insects"].X[:3], tests["flowers-insects"].glove_d
    (('aster', 'clover', 'hyacinth'), 1.5)
    >>> frame = load_moderation_set()
    >>> frame["label"].value_counts().to_dict()
    {'unsafe': 50, 'safe': 50}
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from importlib import resources

import pandas as pd

__all__ = ["WeatTest", "load_weat_tests", "load_moderation_set"]


@dataclass(frozen=True)
class WeatTest:
    """One WEAT: are targets `X` (against `Y`) closer to attributes `A` than to `B`?

    Attributes:
        X, Y: the two target word lists (equal length), e.g. flowers and insects.
        A, B: the two attribute word lists, e.g. pleasant and unpleasant words.
        names: display names of X, Y, A and B, in that order.
        glove_d: the effect size Caliskan et al. (2017, Table 1) report for GloVe vectors.
    """

    X: tuple[str, ...]
    Y: tuple[str, ...]
    A: tuple[str, ...]
    B: tuple[str, ...]
    names: tuple[str, str, str, str]
    glove_d: float


def load_weat_tests() -> dict[str, WeatTest]:
    """Six tests of Caliskan, Bryson and Narayanan (2017), with the paper's word lists.

    WEAT 1 ``flowers-insects`` and 2 ``instruments-weapons`` (against pleasant/unpleasant, 25 words each),
    3 ``names-pleasant`` (European- against African-American names, 32 each, as the paper used them),
    6 ``career-family`` (male/female names), 7 ``math-arts`` and 8 ``science-arts`` (male/female terms),
    8 words each. Source and licence: ``lessons/data/README.md``.

    Returns:
        The tests by key, in the paper's order.
    """
    raw = json.loads(resources.files("lessons").joinpath("data/weat.json").read_text(encoding="utf-8"))
    return {
        key: WeatTest(
            *(tuple(test[part]["words"]) for part in "XYAB"),
            names=tuple(test[part]["name"] for part in "XYAB"),
            glove_d=float(test["glove_d"]),
        )
        for key, test in raw["tests"].items()
    }


def load_moderation_set() -> pd.DataFrame:
    """100 short messages, half of which a content filter should stop, written for this course.

    The 50 ``unsafe`` ones ask for or threaten harm in six categories (violence, weapons, cyber, fraud,
    harassment, self-harm) without giving any harmful detail. Of the 50 ``safe`` ones, 25 are ordinary
    requests and 25 are *look-alikes*: harmless messages that use the words of the unsafe ones ("kill a
    zombie process", "the album is the bomb", "how do I recognise a phishing email"). The set is small and
    written by one author, so figures measured on it illustrate a method; they do not rate a product.

    Returns:
        A DataFrame of 100 rows with columns ``label`` (``"unsafe"`` or ``"safe"``), ``category`` (one of
        the six above, ``"lookalike"`` or ``"ordinary"``) and ``text``.
    """
    text = resources.files("lessons").joinpath("data/moderation.tsv").read_text(encoding="utf-8")
    return pd.read_csv(io.StringIO(text), sep="\t")
