from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from lessons import save_figure


def make_figure():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot(np.linspace(0, 1, 20) ** 2, label="x²")
    ax.imshow(np.arange(16).reshape(4, 4), extent=(0, 5, 0, 1), alpha=0.3)
    ax.legend()
    return fig


@pytest.mark.parametrize("suffix", ["svg", "png"])
def test_saving_twice_gives_identical_bytes(tmp_path, monkeypatch, suffix):
    monkeypatch.setenv("LESSONS_FIGURES", str(tmp_path))
    first = save_figure(make_figure(), f"a/fig.{suffix}").read_bytes()
    second = save_figure(make_figure(), f"b/fig.{suffix}").read_bytes()
    assert first == second and len(first) > 1000
    assert (tmp_path / "a" / f"fig.{suffix}").is_file()


def test_svg_carries_no_date(tmp_path, monkeypatch):
    monkeypatch.setenv("LESSONS_FIGURES", str(tmp_path))
    text = save_figure(make_figure(), "f.svg").read_text()
    assert "<dc:date>" not in text


def test_figure_is_closed_unless_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("LESSONS_FIGURES", str(tmp_path))
    fig = make_figure()
    save_figure(fig, "kept.svg", close=False)
    assert plt.fignum_exists(fig.number)
    save_figure(fig, "closed.svg")
    assert not plt.fignum_exists(fig.number)


def test_an_axes_is_refused_with_a_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("LESSONS_FIGURES", str(tmp_path))
    _, ax = plt.subplots()
    with pytest.raises(TypeError, match=r"pass ax.figure"):
        save_figure(ax, "x.svg")


@pytest.mark.parametrize("name", ["x.pdf", "x", "/tmp/x.svg", "../x.svg"])
def test_bad_names_are_refused(tmp_path, monkeypatch, name):
    monkeypatch.setenv("LESSONS_FIGURES", str(tmp_path))
    with pytest.raises(ValueError, match="name must"):
        save_figure(make_figure(), name)


def test_the_tests_draw_into_a_scratch_folder_not_into_docs(request):
    # conftest.py points LESSONS_FIGURES into the fresh home; only `make refresh` writes docs/figures.
    if request.config.getoption("refresh"):
        pytest.skip("make refresh writes the committed figures on purpose")
    from lessons.figures import figures_dir

    docs = Path(__file__).resolve().parents[1] / "docs"
    assert not figures_dir().resolve().is_relative_to(docs)
