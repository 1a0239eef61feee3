"""Plots of training runs and of data: learning curves, image grids, confusion matrices.

Each function returns a matplotlib `Figure`; pass it to `lessons.save_figure` to put it on the site::

    save_figure(plot_history(history, metrics=("loss", "acc")), "05-cnn/project-history.svg")
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt  # the backend is chosen first, by lessons.figures (see lessons/__init__)
import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from lessons.checks import check_int

__all__ = ["plot_confusion_matrix", "plot_history", "plot_image_grid"]


def plot_history(
    history: dict[str, list[float]],
    *,
    metrics: tuple[str, ...] | list[str] = ("loss",),
    title: str | None = None,
) -> Figure:
    """Curves of a training run: one panel per metric, training vs validation over epochs.

    Args:
        history: per-epoch lists keyed ``"train_<metric>"`` / ``"val_<metric>"``, as returned by
            `lessons.train.fit` (any dict of that shape works).
        metrics: which metrics to draw, e.g. ``("loss", "acc")``.
        title: optional title over the panels.

    Returns:
        The matplotlib `Figure` (pass it to `save_figure`).

    Raises:
        TypeError: `history` is not a mapping.
        ValueError: `metrics` is empty or names a metric with neither a train nor a val curve.
    """
    if not isinstance(history, Mapping):
        raise TypeError(f"history must be a dict of per-epoch lists, got {type(history).__name__}")
    if isinstance(metrics, str):
        metrics = (metrics,)
    if not metrics:
        raise ValueError("metrics must name at least one metric, e.g. ('loss',)")
    for m in metrics:
        if f"train_{m}" not in history and f"val_{m}" not in history:
            raise ValueError(
                f"metrics names {m!r} but history has neither 'train_{m}' nor 'val_{m}' "
                f"(keys: {sorted(history)})"
            )
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.2), squeeze=False)
    for ax, m in zip(axes[0], metrics, strict=True):
        for split, style in (("train", "-o"), ("val", "-s")):
            values = history.get(f"{split}_{m}")
            if values:
                ax.plot(range(1, len(values) + 1), values, style, markersize=3, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(m)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_image_grid(
    images: ArrayLike,
    *,
    titles: list[str] | None = None,
    ncols: int = 8,
    cmap: str = "gray",
    size: float = 1.2,
) -> Figure:
    """Show images in a grid (e.g. misclassified digits with ``"true 4 / pred 9"`` titles).

    Args:
        images: a tensor or array of shape ``(N, H, W)``, ``(N, 1, H, W)`` or ``(N, 3, H, W)`` (values
            in [0, 1] or any range for grey images, which are scaled per image).
        titles: optional list of ``N`` short titles.
        ncols: images per row.
        cmap: colour map for grey images.
        size: inches per image.

    Returns:
        The matplotlib `Figure`.

    Raises:
        TypeError: `ncols` is not an int.
        ValueError: no images, a shape that is not an image batch, `ncols` < 1, or `titles` of the
            wrong length.
    """
    arr = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images, dtype=np.float32)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim == 4 and arr.shape[1] == 3:
        arr = arr.transpose(0, 2, 3, 1)
    elif arr.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W), (N, 1, H, W) or (N, 3, H, W), got {arr.shape}")
    n = len(arr)
    if n == 0:
        raise ValueError("images is empty: nothing to show")
    ncols = check_int("ncols", ncols, ge=1)
    if titles is not None and len(titles) != n:
        raise ValueError(f"titles has {len(titles)} entries for {n} images")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows + 0.25 * (titles is not None)), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(arr[i], cmap=None if arr.ndim == 4 else cmap)
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(
    cm: ArrayLike, *, class_names: list[str] | None = None, normalize: bool = False, title: str | None = None
) -> Figure:
    """Heat map of a confusion matrix (rows: true class, columns: predicted class), counts written in.

    Args:
        cm: a ``(C, C)`` tensor or array, e.g. from `lessons.metrics.confusion_matrix`.
        class_names: optional ``C`` labels for the axes (default ``0 .. C-1``).
        normalize: show each row as fractions of that true class (recall on the diagonal).
        title: optional title.

    Returns:
        The matplotlib `Figure`.

    Raises:
        ValueError: `cm` is not square, or `class_names` has the wrong length.
    """
    arr = np.asarray(cm.detach().cpu() if hasattr(cm, "detach") else cm, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"cm must be a square (C, C) matrix, got shape {arr.shape}")
    c = arr.shape[0]
    names = [str(i) for i in range(c)] if class_names is None else [str(n) for n in class_names]
    if len(names) != c:
        raise ValueError(f"class_names has {len(names)} entries for a {c}x{c} matrix")
    if normalize:
        arr = arr / np.maximum(arr.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(0.45 * c + 2.2, 0.45 * c + 1.8))
    im = ax.imshow(arr, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set(
        xticks=range(c),
        yticks=range(c),
        xticklabels=names,
        yticklabels=names,
        xlabel="predicted",
        ylabel="true",
    )
    ax.tick_params(axis="x", labelrotation=45 if max(map(len, names)) > 2 else 0)
    threshold = arr.max() / 2 if arr.size else 0
    for i in range(c):
        for j in range(c):
            if arr[i, j]:
                text = f"{arr[i, j]:.2f}" if normalize else f"{int(arr[i, j])}"
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if arr[i, j] > threshold else "black",
                )
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
