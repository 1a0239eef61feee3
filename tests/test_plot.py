"""lessons.plot: plot_history, plot_image_grid, plot_confusion_matrix (figures and bad input)."""

import pytest
import torch
from matplotlib.figure import Figure

from lessons.plot import plot_confusion_matrix, plot_history, plot_image_grid


def test_plot_history_one_panel_per_metric():
    h = {"train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "train_acc": [0.5, 0.8]}
    fig = plot_history(h, metrics=("loss", "acc"), title="run")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 1
    assert list(fig.axes[0].lines[1].get_ydata()) == [1.1, 0.7]


def test_plot_history_rejects_bad_input():
    with pytest.raises(TypeError, match="history"):
        plot_history([1.0, 0.5])
    with pytest.raises(ValueError, match="acc"):
        plot_history({"train_loss": [1.0]}, metrics=("acc",))
    with pytest.raises(ValueError, match="metrics"):
        plot_history({"train_loss": [1.0]}, metrics=())


def test_plot_image_grid_shapes_and_titles():
    fig = plot_image_grid(torch.rand(5, 1, 8, 8), titles=list("abcde"), ncols=3)
    assert len(fig.axes) == 6 and fig.axes[4].get_title() == "e"
    assert len(plot_image_grid(torch.rand(2, 3, 4, 4)).axes) == 2
    with pytest.raises(ValueError, match="images"):
        plot_image_grid(torch.rand(8, 8))
    with pytest.raises(ValueError, match="titles"):
        plot_image_grid(torch.rand(2, 8, 8), titles=["a"])
    with pytest.raises(ValueError, match="empty"):
        plot_image_grid(torch.rand(0, 8, 8))
    with pytest.raises(ValueError, match="ncols"):
        plot_image_grid(torch.rand(2, 8, 8), ncols=0)


def test_plot_confusion_matrix_writes_counts():
    cm = torch.tensor([[5, 1], [0, 4]])
    fig = plot_confusion_matrix(cm, class_names=["cat", "dog"])
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["1", "4", "5"]
    norm = plot_confusion_matrix(cm, normalize=True)
    assert "0.83" in [t.get_text() for t in norm.axes[0].texts]
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="class_names"):
        plot_confusion_matrix(cm, class_names=["a"])
