"""The course as data: the frozen term list of the LoRA project."""

from __future__ import annotations

from importlib import resources

import pytest

from lessons.datasets import course


def test_lora_project_terms_are_the_frozen_329_in_glossary_order() -> None:
    terms = course.load_lora_project_terms()
    assert len(terms) == 329
    ids = [t.id for t in course.load_glossary()]
    positions = [ids.index(t.id) for t in terms]
    assert positions == sorted(positions)
    assert {"gradient-descent", "dropout"} <= {t.id for t in terms}


def test_a_listed_id_missing_from_the_glossary_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    text = resources.files("lessons").joinpath("data/lora_project_terms.txt").read_text(encoding="utf-8")
    glossary = course.load_glossary()
    monkeypatch.setattr(course, "load_glossary", lambda: [t for t in glossary if t.id != "dropout"])
    assert "\ndropout\n" in text
    with pytest.raises(ValueError, match="dropout"):
        course.load_lora_project_terms()
