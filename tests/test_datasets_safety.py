"""lessons.datasets.safety: the WEAT word lists and the moderation set are whole and consistent."""

from lessons.datasets.safety import load_moderation_set, load_weat_tests


def test_weat_lists_are_the_papers():
    tests = load_weat_tests()
    assert list(tests) == [
        "flowers-insects", "instruments-weapons", "names-pleasant",
        "career-family", "math-arts", "science-arts",
    ]  # fmt: skip
    sizes = {key: tuple(len(getattr(t, part)) for part in "XYAB") for key, t in tests.items()}
    assert sizes["flowers-insects"] == sizes["instruments-weapons"] == (25, 25, 25, 25)
    assert sizes["names-pleasant"] == (32, 32, 25, 25)  # 50 names per side less the 18 the paper removed
    assert all(sizes[k] == (8, 8, 8, 8) for k in ("career-family", "math-arts", "science-arts"))
    for t in tests.values():
        words = t.X + t.Y + t.A + t.B
        assert len(set(t.X) | set(t.Y)) == len(t.X) + len(t.Y)  # no target word on both sides
        assert all(w.strip() == w and w for w in words)
        assert 1.0 <= t.glove_d <= 2.0


def test_moderation_set_is_balanced_and_clean():
    frame = load_moderation_set()
    assert list(frame.columns) == ["label", "category", "text"] and len(frame) == 100
    assert frame["text"].is_unique and frame["text"].str.len().between(10, 120).all()
    unsafe = frame[frame["label"] == "unsafe"]["category"].value_counts().to_dict()
    assert set(unsafe) == {"violence", "weapons", "cyber", "fraud", "harassment", "self-harm"}
    assert sum(unsafe.values()) == 50
    safe = frame[frame["label"] == "safe"]["category"].value_counts().to_dict()
    assert safe == {"lookalike": 25, "ordinary": 25}
