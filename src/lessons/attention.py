"""Attention in tiles, as FlashAttention computes it: an online softmax that never holds the n x n matrix.

`tiled_attention` walks over blocks of queries and, for each, over blocks of keys, keeping per query row the
running maximum ``m``, the running sum of exponentials ``l`` and the running weighted sum of values; each new
block rescales what came before by ``exp(m_old - m_new)``. The result equals softmax(Q K^T / sqrt(d)) V
(``F.scaled_dot_product_attention``) up to rounding, with or without a causal mask or a sliding window, while
the largest score tensor it holds is ``block_size x block_size`` per head. Blocks that the mask hides
completely are skipped, which is where causal and sliding-window attention save work.

Examples:
    >>> import torch
    >>> q = k = v = torch.randn(2, 4, 100, 16)
    >>> out = tiled_attention(q, k, v, causal=True, block_size=32)
    >>> ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    >>> bool(torch.allclose(out, ref, atol=1e-5))
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from lessons.checks import check_int, check_tensor

__all__ = ["sliding_window_mask", "sliding_window_mask_mod", "tiled_attention"]


def sliding_window_mask(n: int, window: int) -> torch.Tensor:
    """The ``(n, n)`` boolean mask of causal sliding-window attention: query i sees keys i-window+1 .. i.

    ``True`` marks a pair that takes part, as ``attn_mask`` of ``F.scaled_dot_product_attention`` expects.
    ``window >= n`` gives the plain causal mask.

    Raises:
        TypeError: `n` or `window` is not an int.
        ValueError: `n` or `window` is < 1.
    """
    n = check_int("n", n, ge=1)
    window = check_int("window", window, ge=1)
    i = torch.arange(n).unsqueeze(1)
    j = torch.arange(n).unsqueeze(0)
    return (j <= i) & (j > i - window)


def sliding_window_mask_mod(window: int) -> Callable[..., torch.Tensor]:
    """The rule of `sliding_window_mask` as a ``mask_mod`` for `torch.nn.attention.flex_attention`.

    ``create_block_mask(sliding_window_mask_mod(w), B=None, H=None, Q_LEN=n, KV_LEN=n, device="cpu")`` gives
    the block mask of the same attention. (It lives in a module because `flex_attention` traces it with
    TorchDynamo, which reads the function's source file.)

    Raises:
        TypeError: `window` is not an int.
        ValueError: `window` is < 1.
    """
    window = check_int("window", window, ge=1)

    def mask_mod(b: torch.Tensor, h: torch.Tensor, q_idx: torch.Tensor, kv_idx: torch.Tensor) -> torch.Tensor:
        return (kv_idx <= q_idx) & (q_idx - kv_idx < window)

    return mask_mod


def tiled_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    window: int | None = None,
    block_size: int = 64,
) -> torch.Tensor:
    """Exact attention computed block by block with the online softmax (FlashAttention's forward pass).

    Args:
        q: queries, ``(..., n_q, d)``.
        k: keys, ``(..., n_k, d)``, the same leading dimensions as `q` (no broadcasting).
        v: values, ``(..., n_k, d_v)``.
        causal: query i sees keys 0..i only (needs ``n_q == n_k``).
        window: with `causal`, query i sees only keys i-window+1 .. i (sliding-window attention).
        block_size: rows of queries and of keys per tile, >= 1.

    Returns:
        ``(..., n_q, d_v)``: softmax(q k^T / sqrt(d)) v, masked as asked; equal to
        ``F.scaled_dot_product_attention(q, k, v, is_causal=causal)`` (or with `sliding_window_mask`).

    Raises:
        TypeError: an input is not a tensor, `block_size` or `window` is not an int, `causal` not a bool.
        ValueError: shapes that do not fit together, `window` without `causal`, `causal` with
            ``n_q != n_k``, or `block_size` / `window` < 1.
    """
    q, k, v = check_tensor("q", q), check_tensor("k", k), check_tensor("v", v)
    if not isinstance(causal, bool):
        raise TypeError(f"causal must be a bool, got {type(causal).__name__}")
    block_size = check_int("block_size", block_size, ge=1)
    if q.ndim < 2 or k.ndim != q.ndim or v.ndim != q.ndim:
        raise ValueError(
            f"q, k, v must have the same number of dims (>= 2), got {q.ndim}, {k.ndim}, {v.ndim}"
        )
    if q.shape[:-2] != k.shape[:-2] or q.shape[:-2] != v.shape[:-2]:
        raise ValueError(
            f"q, k, v must share their leading dims, got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"q and k must have the same last dim d, got {q.shape[-1]} and {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same length, got {k.shape[-2]} and {v.shape[-2]}")
    n_q, n_k = q.shape[-2], k.shape[-2]
    if window is not None:
        window = check_int("window", window, ge=1)
        if not causal:
            raise ValueError("window needs causal=True (a sliding window looks back only)")
    if causal and n_q != n_k:
        raise ValueError(f"causal needs as many queries as keys, got {n_q} and {n_k}")

    out = q.new_empty(*q.shape[:-1], v.shape[-1])
    scale = 1 / math.sqrt(q.shape[-1])
    for i0 in range(0, n_q, block_size):
        i1 = min(i0 + block_size, n_q)
        qi = q[..., i0:i1, :] * scale
        m = q.new_full((*qi.shape[:-1], 1), -math.inf)  # running row maximum
        denom = q.new_zeros((*qi.shape[:-1], 1))  # running sum of exp(score - m)
        acc = q.new_zeros((*qi.shape[:-1], v.shape[-1]))  # running sum of exp(score - m) * v
        for j0 in range(0, n_k, block_size):
            j1 = min(j0 + block_size, n_k)
            if causal and j0 > i1 - 1:
                break  # every key of this tile (and of the next ones) is in the future
            if window is not None and j1 - 1 <= i0 - window:
                continue  # every key of this tile is out of every query's window
            s = qi @ k[..., j0:j1, :].transpose(-2, -1)  # (..., bq, bk)
            if causal:
                i = torch.arange(i0, i1).unsqueeze(1)
                j = torch.arange(j0, j1).unsqueeze(0)
                allowed = j <= i if window is None else (j <= i) & (j > i - window)
                s = s.masked_fill(~allowed, -math.inf)
            m_new = torch.maximum(m, s.amax(-1, keepdim=True))
            m_safe = m_new.masked_fill(m_new == -math.inf, 0.0)  # a row with nothing visible yet
            p = torch.exp(s - m_safe)
            correction = torch.exp(m - m_safe)  # rescale what was summed under the old maximum
            denom = denom * correction + p.sum(-1, keepdim=True)
            acc = acc * correction + p @ v[..., j0:j1, :]
            m = m_new
        out[..., i0:i1, :] = acc / denom
    return out
