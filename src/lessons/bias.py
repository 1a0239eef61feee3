"""The Word Embedding Association Test (WEAT) of Caliskan, Bryson and Narayanan (2017).

Chapter 12.12 writes each piece out; these are the same functions for later use.

Examples:
    >>> import torch
    >>> A, B = torch.eye(3)[:1], torch.eye(3)[1:2]  # one attribute word each, on two axes
    >>> X = torch.tensor([[1.0, 0.0, 0.0], [0.8, 0.6, 0.0]])  # targets nearer A
    >>> Y = torch.tensor([[0.0, 1.0, 0.0], [0.6, 0.8, 0.0]])  # targets nearer B
    >>> association(X, A, B)
    tensor([1.0000, 0.2000])
    >>> round(effect_size(association(X, A, B), association(Y, A, B)), 3)
    1.441
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["association", "effect_size", "weat_p_value"]


def _check_rows(name: str, t: object, width: int | None = None) -> None:
    if not isinstance(t, torch.Tensor) or t.ndim != 2 or len(t) == 0:
        got = getattr(t, "shape", t)
        raise ValueError(f"{name} must be a non-empty 2-D tensor (words, dim), got {got!r}")
    if width is not None and t.shape[1] != width:
        raise ValueError(f"{name} has vectors of size {t.shape[1]}, the targets have {width}")


def association(W: torch.Tensor, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """s(w, A, B) for each row w of `W`: mean cosine similarity to the rows of `A` minus that to `B`.

    Args:
        W: (n, dim) word vectors, of any length (they are normalised here).
        A: (a, dim) vectors of the first attribute words.
        B: (b, dim) vectors of the second attribute words.

    Returns:
        (n,) associations.

    Raises:
        ValueError: an argument is not a non-empty 2-D tensor, or the vector sizes differ.
    """
    _check_rows("W", W)
    _check_rows("A", A, W.shape[1])
    _check_rows("B", B, W.shape[1])
    W, A, B = (torch.nn.functional.normalize(t.float(), dim=1) for t in (W, A, B))
    return (W @ A.T).mean(1) - (W @ B.T).mean(1)


def effect_size(sx: torch.Tensor, sy: torch.Tensor) -> float:
    """WEAT's d: (mean of `sx` - mean of `sy`) over the sample standard deviation of both together.

    Args:
        sx: (n,) associations of the targets X (`association`).
        sy: (m,) associations of the targets Y; at least two values in `sx` and `sy` together.

    Raises:
        ValueError: `sx` or `sy` is not a non-empty 1-D tensor.
    """
    for name, s in (("sx", sx), ("sy", sy)):
        if not isinstance(s, torch.Tensor) or s.ndim != 1 or len(s) == 0:
            raise ValueError(f"{name} must be a non-empty 1-D tensor of associations")
    return ((sx.mean() - sy.mean()) / torch.cat([sx, sy]).std()).item()


def weat_p_value(sx: torch.Tensor, sy: torch.Tensor, *, resamples: int = 20_000, seed: int = 0) -> float:
    """One-sided permutation p-value of ``sum(sx) - sum(sy)`` over splits of X ∪ Y into groups of their sizes.

    Computed by `scipy.stats.permutation_test`: exact (every split) when there are at most `resamples`
    splits, else `resamples` random splits drawn with `seed`.

    Raises:
        ValueError: `sx` or `sy` is not a non-empty 1-D tensor, or `resamples` < 1.
    """
    from scipy import stats

    effect_size(sx, sy)  # the same checks
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    result = stats.permutation_test(
        (sx.double().numpy(), sy.double().numpy()),
        lambda a, b, axis: np.sum(a, axis) - np.sum(b, axis),
        permutation_type="independent",
        alternative="greater",
        vectorized=True,
        n_resamples=resamples,
        random_state=seed,
    )
    return float(result.pvalue)
