"""hooks/search_zh.py: a Chinese search index without padding, and queries that keep their last word."""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "hooks"))
import search_zh  # noqa: E402

SEPARATOR = "[\\s\\u200b\\u3000\\-、。，．？！；]+"  # Material's separator for Chinese (mkdocs.yml)


def tokens(text: str, separator: str = SEPARATOR) -> list[str]:
    return [t for t in re.split(separator, text) if t]


def test_dropping_breaks_keeps_every_token():
    rng = random.Random(0)
    alphabet = ["批", "量", "归", "一", "化", "a", "B", " ", "\u200b", "\u200b", "。", "、", "-", "（", "："]
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        compact = search_zh.drop_redundant_breaks(text, SEPARATOR)
        assert tokens(compact) == tokens(text), repr(text)
        assert len(compact) <= len(text)


def test_dropping_breaks_keeps_the_ones_that_split_words():
    assert search_zh.drop_redundant_breaks("批量\u200b归一化\u200b。", SEPARATOR) == "批量\u200b归一化。"
    assert search_zh.drop_redundant_breaks("\u200b\u200b注意力\u200b \u200bQ", SEPARATOR) == "注意力 Q"
    # The full-width colon is not in the separator: the break after it splits 靠 off.
    assert search_zh.drop_redundant_breaks("BERT：\u200b靠", SEPARATOR) == "BERT：\u200b靠"


def test_the_query_loop_is_fixed_once_or_not_at_all():
    code = "x;" + search_zh.QUERY_LOOP + "&&(n[s]=o-s);y"
    assert search_zh.fix_query_segmentation(code) == "x;" + search_zh.FIXED_LOOP + "&&(n[s]=o-s);y"
    assert search_zh.fix_query_segmentation("no loop here") is None
    assert search_zh.fix_query_segmentation(code + code) is None  # ambiguous: leave it, and warn


@pytest.mark.xdist_group("site")
def test_the_built_site_has_the_compact_index_and_the_fixed_worker(site_dir: Path):
    index = json.loads((site_dir / "search" / "search_index.json").read_text(encoding="utf-8"))
    separator = index["config"]["separator"]
    text = "\n".join(doc["text"] for doc in index["docs"])
    assert "\u200b" in text  # the breaks between Chinese words stay
    assert search_zh.drop_redundant_breaks(text, separator) == text  # and only those
    workers = list((site_dir / "assets" / "javascripts" / "workers").glob("search.*.min.js"))
    assert len(workers) == 1
    code = workers[0].read_text(encoding="utf-8")
    assert search_zh.FIXED_LOOP in code and search_zh.QUERY_LOOP not in code
