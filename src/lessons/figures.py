"""Figures for the site: saved byte-for-byte reproducibly, so re-running a chapter changes no file
unless the picture itself changed.

Chapters call `save_figure(fig, "05-cnn/grad-cam.svg")`; the file lands in ``docs/figures/`` of this
repository (or in ``$LESSONS_FIGURES`` when set) and the page embeds it as
``![...](../figures/05-cnn/grad-cam.svg)``.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

# No screen needed: Agg, before pyplot's first import. Unless a backend was chosen: a Jupyter kernel sets
# MPLBACKEND to its inline backend, which is what shows a notebook's figures under their cells.
if not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = ["figures_dir", "save_figure"]

_FORMATS = {".svg", ".png"}
# Metadata that would otherwise change on every run (dates, the software version) is dropped.
_METADATA = {".svg": {"Date": None, "Creator": None}, ".png": {"Software": None}}


def figures_dir() -> Path:
    """Where `save_figure` writes: ``$LESSONS_FIGURES``, else ``docs/figures`` of the source checkout,
    else ``./figures`` (an installed package outside the repository)."""
    if env := os.environ.get("LESSONS_FIGURES"):
        return Path(env)
    repo_docs = Path(__file__).resolve().parents[2] / "docs"
    return repo_docs / "figures" if repo_docs.is_dir() else Path.cwd() / "figures"


def save_figure(fig: Figure, name: str | os.PathLike[str], *, dpi: int = 110, close: bool = True) -> Path:
    """Save `fig` reproducibly as SVG or PNG (chosen by the suffix of `name`) under `figures_dir()`.

    Args:
        fig: a matplotlib `Figure`.
        name: a relative path such as ``"02-math/gradient-descent.svg"``; sub-folders are created.
        dpi: resolution for PNG (SVG is vector and ignores it).
        close: close the figure afterwards so long scripts do not pile up open figures.

    Returns:
        The absolute path written.

    Raises:
        TypeError: `fig` is not a matplotlib `Figure` (e.g. an `Axes` was passed).
        ValueError: `name` is absolute, leaves the figures folder, or does not end in ``.svg``/``.png``.
    """
    if not isinstance(fig, Figure):
        hint = " (pass ax.figure, not the Axes)" if hasattr(fig, "figure") else ""
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}{hint}")
    rel = Path(name)
    if rel.is_absolute() or ".." in rel.parts:
        raise ValueError(f"name must be a relative path inside the figures folder, got {str(name)!r}")
    suffix = rel.suffix.lower()
    if suffix not in _FORMATS:
        raise ValueError(f"name must end in .svg or .png, got {str(name)!r}")
    path = figures_dir() / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fixed hash salt makes SVG element ids stable from run to run.
    with matplotlib.rc_context({"svg.hashsalt": "dl-roadmap", "svg.fonttype": "path"}):
        fig.savefig(path, dpi=dpi, metadata=_METADATA[suffix], bbox_inches="tight")
    if close:
        plt.close(fig)
    return path.resolve()
