r"""The Transformer of Vaswani et al. (2017), written out: scaled dot-product attention, multi-head attention,
sinusoidal and learned positional encodings, encoder and decoder layers (post-norm and pre-norm) and a small
encoder–decoder model.

Conventions: batch first, ``(B, L, d_model)``. A boolean **mask is True where attention is allowed** (as in
``torch.nn.functional.scaled_dot_product_attention``); PyTorch's ``nn.Transformer*`` layers use the opposite
(True = blocked), so pass ``~mask`` to them. Modules keep PyTorch's parameter names
(``self_attn.in_proj_weight``, ``linear1``, ``norm1`` ...), so ``load_state_dict`` copies the weights
of ``nn.MultiheadAttention``, ``nn.TransformerEncoderLayer`` and ``nn.TransformerDecoderLayer``
(``batch_first=True``) one for one.

Examples:
    >>> import torch
    >>> model = Transformer(20, 20, d_model=16, n_heads=2, n_layers=1, d_ff=32, max_len=10)
    >>> src, tgt = torch.randint(1, 20, (2, 7)), torch.randint(1, 20, (2, 5))
    >>> model(src, tgt).shape
    torch.Size([2, 5, 20])
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from lessons.checks import check_choice, check_float, check_int, check_token_ids

__all__ = [
    "DecoderLayer",
    "EncoderLayer",
    "MultiHeadAttention",
    "PositionalEncoding",
    "Transformer",
    "causal_mask",
    "padding_mask",
    "scaled_dot_product_attention",
    "sinusoidal_encoding",
]


def causal_mask(length: int, device: torch.device | str | None = None) -> torch.Tensor:
    """The ``(length, length)`` bool mask that lets position ``i`` attend to positions ``j <= i`` only.

    Args:
        length: the sequence length ``L``.
        device: where to create it.

    Returns:
        ``(L, L)`` bool, lower triangular (True on and below the diagonal).
    """
    check_int("length", length, ge=1)
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


def padding_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """The key mask of a padded batch: True at the real tokens of each sequence.

    Args:
        lengths: ``(B,)`` integer lengths, each in ``[1, max_len]``.
        max_len: the padded length ``S``.

    Returns:
        ``(B, 1, S)`` bool, which broadcasts over the query positions of an ``(B, L, S)`` attention.
    """
    check_int("max_len", max_len, ge=1)
    if lengths.dim() != 1 or lengths.dtype in (torch.float16, torch.float32, torch.float64, torch.bool):
        raise ValueError(f"lengths must be a 1-D integer tensor, got {lengths.dtype} {tuple(lengths.shape)}")
    if lengths.numel() and (int(lengths.min()) < 1 or int(lengths.max()) > max_len):
        raise ValueError(
            f"lengths must be in [1, {max_len}], got [{int(lengths.min())}, {int(lengths.max())}]"
        )
    return (torch.arange(max_len, device=lengths.device) < lengths[:, None])[:, None, :]


def _check_mask(mask: torch.Tensor, target: tuple[int, ...], name: str = "mask") -> torch.Tensor:
    """A bool mask that broadcasts to `target` (the scores' shape), or a ValueError naming `name`."""
    if mask.dtype != torch.bool:
        raise ValueError(f"{name} must be a bool tensor (True = may attend), got {mask.dtype}")
    try:
        full = torch.broadcast_shapes(mask.shape, target)
    except RuntimeError:
        full = None
    if full != torch.Size(target):
        raise ValueError(
            f"{name} of shape {tuple(mask.shape)} does not broadcast to the attention scores {tuple(target)}"
        )
    if not bool(mask.expand(target).any(dim=-1).all()):
        raise ValueError(f"every query row of {name} must allow at least one key")
    return mask


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    causal: bool = False,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""$\mathrm{softmax}(QK^\top/\sqrt{d_k})\,V$, returning the weights too.

    Args:
        q: ``(..., L, d_k)`` queries.
        k: ``(..., S, d_k)`` keys.
        v: ``(..., S, d_v)`` values.
        mask: bool, broadcastable to ``(..., L, S)``; True where query ``i`` may attend to key ``j``.
        causal: also hide keys ``j > i`` (needs ``L == S``).
        scale: the factor applied to the scores; default ``1 / sqrt(d_k)``.

    Returns:
        ``(out (..., L, d_v), weights (..., L, S))``; each row of `weights` sums to 1.

    Raises:
        ValueError: the last dimensions of `q` and `k` differ, `k` and `v` have different lengths,
            `mask` is not bool or does not broadcast, a row allows no key, or `causal` with ``L != S``.
    """
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise ValueError(f"q, k, v must be at least 2-D, got {q.dim()}, {k.dim()}, {v.dim()} dimensions")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must have the same last dimension d_k, got {q.shape[-1]} and {k.shape[-1]}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"k and v must have the same length S, got {k.shape[-2]} and {v.shape[-2]}")
    scores = q @ k.transpose(-2, -1) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    if causal:
        if q.shape[-2] != k.shape[-2]:
            raise ValueError(f"causal=True needs L == S, got L={q.shape[-2]}, S={k.shape[-2]}")
        c = causal_mask(q.shape[-2], device=q.device)
        mask = c if mask is None else mask & c
    if mask is not None:
        mask = _check_mask(mask, tuple(scores.shape))
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


class MultiHeadAttention(nn.Module):
    r"""$\mathrm{MultiHead}(Q,K,V) = \mathrm{Concat}(\mathrm{head}_1,\dots,\mathrm{head}_h)W^O$ with
    $\mathrm{head}_i = \mathrm{Attention}(QW_i^Q, KW_i^K, VW_i^V)$ and $d_k = d_v = d_\text{model}/h$.

    The three input projections are stacked in one ``in_proj_weight`` of shape ``(3 d_model, d_model)``
    (rows: $W^Q$, $W^K$, $W^V$) as in ``nn.MultiheadAttention``, so its ``state_dict`` loads as is.

    Args:
        d_model: width of the inputs and the output.
        n_heads: number of heads ``h``; must divide `d_model`.
        dropout: dropout on the attention weights (training only).
        bias: learn biases in the projections.

    Shapes: ``forward(query (B, L, d_model), key (B, S, d_model), value (B, S, d_model),
    mask (bool, broadcastable to (B, L, S) or (B, h, L, S)) | None, causal=False)``
    ``-> (out (B, L, d_model), weights (B, h, L, S))``.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        check_int("d_model", d_model, ge=1)
        check_int("n_heads", n_heads, ge=1)
        if d_model % n_heads:
            raise ValueError(
                f"d_model must be divisible by n_heads, got d_model={d_model}, n_heads={n_heads}"
            )
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * d_model, d_model))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * d_model)) if bias else None
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = dropout
        nn.init.xavier_uniform_(self.in_proj_weight)

    def _split(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, d_model) -> (B, h, L, d_k)
        B, L, _ = x.shape
        return x.view(B, L, self.n_heads, self.d_k).transpose(1, 2)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
        *,
        causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        for name, x in (("query", query), ("key", key), ("value", value)):
            if x.dim() != 3 or x.shape[-1] != self.d_model:
                raise ValueError(
                    f"{name} must have shape (batch, length, {self.d_model}), got {tuple(x.shape)}"
                )
        if key.shape != value.shape or key.shape[0] != query.shape[0]:
            raise ValueError(
                f"key and value must have shape ({query.shape[0]}, S, {self.d_model}), "
                f"got {tuple(key.shape)} and {tuple(value.shape)}"
            )
        W_q, W_k, W_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3) if self.in_proj_bias is not None else (None,) * 3
        q, k, v = (
            self._split(F.linear(x, W, b))
            for x, W, b in ((query, W_q, b_q), (key, W_k, b_k), (value, W_v, b_v))
        )
        B, h, L, S = q.shape[0], self.n_heads, q.shape[2], k.shape[2]
        if mask is not None:
            if mask.dim() == 3:  # (B|1, L|1, S): the same mask for every head
                mask = mask[:, None]
            _check_mask(mask, (B, h, L, S))
        out, weights = scaled_dot_product_attention(q, k, v, mask, causal=causal)
        if self.training and self.dropout > 0:  # dropout on the weights, as nn.MultiheadAttention does
            weights = F.dropout(weights, self.dropout)
            out = weights @ v
        out = out.transpose(1, 2).reshape(B, L, self.d_model)  # concatenate the heads
        return self.out_proj(out), weights


def sinusoidal_encoding(max_len: int, d_model: int) -> torch.Tensor:
    r"""The sinusoidal positional encoding: $PE_{pos,2i} = \sin(pos\,\omega_i)$,
    $PE_{pos,2i+1} = \cos(pos\,\omega_i)$ with $\omega_i = 10000^{-2i/d_\text{model}}$.

    Args:
        max_len: number of positions ``0 .. max_len - 1``.
        d_model: width; must be even (sines and cosines come in pairs).

    Returns:
        ``(max_len, d_model)`` float32.
    """
    check_int("max_len", max_len, ge=1)
    check_int("d_model", d_model, ge=1)
    if d_model % 2:
        raise ValueError(f"d_model must be even for sine/cosine pairs, got {d_model}")
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]
    omega = 10000.0 ** (-torch.arange(0, d_model, 2, dtype=torch.float64) / d_model)
    pe = torch.empty(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * omega), torch.cos(pos * omega)
    return pe.float()


class PositionalEncoding(nn.Module):
    """Add position information to a batch of embeddings: fixed sinusoids or a learned table.

    Args:
        d_model: width of the embeddings.
        max_len: the context: the longest sequence accepted.
        kind: ``"sinusoidal"`` (no parameters) or ``"learned"`` (an ``nn.Embedding(max_len, d_model)``).
        dropout: dropout applied after the addition (training only).

    Shapes: ``forward(x (B, L, d_model)) -> (B, L, d_model)`` with ``L <= max_len``.
    """

    def __init__(
        self,
        d_model: int,
        max_len: int,
        kind: Literal["sinusoidal", "learned"] = "sinusoidal",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_int("d_model", d_model, ge=1)
        check_int("max_len", max_len, ge=1)
        if kind not in ("sinusoidal", "learned"):
            raise ValueError(f"kind must be 'sinusoidal' or 'learned', got {kind!r}")
        self.d_model, self.max_len, self.kind = d_model, max_len, kind
        if kind == "learned":
            self.table = nn.Embedding(max_len, d_model)
        else:
            self.register_buffer("pe", sinusoidal_encoding(max_len, d_model), persistent=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.d_model:
            raise ValueError(f"x must have shape (batch, length, {self.d_model}), got {tuple(x.shape)}")
        L = x.shape[1]
        if self.max_len < L:
            raise ValueError(f"sequence length {L} exceeds the context max_len={self.max_len}")
        pos = self.table.weight[:L] if self.kind == "learned" else self.pe[:L]
        return self.drop(x + pos)


_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class _FeedForwardMixin:
    linear1: nn.Linear
    linear2: nn.Linear
    dropout: nn.Dropout
    activation: str

    def _ff(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(_ACTIVATIONS[self.activation](self.linear1(x))))


def _check_x(name: str, x: torch.Tensor, d_model: int) -> None:
    if x.dim() != 3 or x.shape[-1] != d_model:
        raise ValueError(f"{name} must have shape (batch, length, {d_model}), got {tuple(x.shape)}")


class EncoderLayer(nn.Module, _FeedForwardMixin):
    r"""Self-attention then a position-wise feed-forward network, each wrapped in a residual connection and
    a LayerNorm: post-norm $x \leftarrow \mathrm{LN}(x + f(x))$ (the paper) or pre-norm
    $x \leftarrow x + f(\mathrm{LN}(x))$ (``norm_first=True``). Equal to
    ``nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, activation, layer_norm_eps,
    batch_first=True, norm_first=...)``. BERT's layer is the post-norm one with ``activation="gelu"`` and
    ``layer_norm_eps=1e-12``.

    Args:
        d_model: width.
        n_heads: heads of the self-attention; must divide `d_model`.
        d_ff: hidden width of the feed-forward network.
        dropout: dropout on attention weights, inside the FFN and on each sublayer's output.
        norm_first: pre-norm instead of post-norm.
        activation: the FFN's nonlinearity, ``"relu"`` (the paper) or ``"gelu"`` (BERT, exact erf form).
        layer_norm_eps: the $\epsilon$ of both LayerNorms.

    Shapes: ``forward(x (B, L, d_model), mask (bool, True = may attend, broadcastable to (B, L, L)) | None)``
    ``-> (B, L, d_model)``.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        *,
        activation: Literal["relu", "gelu"] = "relu",
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        check_int("d_ff", d_ff, ge=1)
        check_choice("activation", activation, _ACTIVATIONS)
        check_float("layer_norm_eps", layer_norm_eps, gt=0)
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.linear1, self.linear2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.norm1, self.norm2 = (nn.LayerNorm(d_model, eps=layer_norm_eps) for _ in range(2))
        self.dropout, self.dropout1, self.dropout2 = (nn.Dropout(dropout) for _ in range(3))
        self.d_model, self.norm_first, self.activation = d_model, norm_first, activation

    def _sa(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return self.dropout1(self.self_attn(x, x, x, mask)[0])

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        _check_x("x", x, self.d_model)
        if self.norm_first:
            x = x + self._sa(self.norm1(x), mask)
            return x + self.dropout2(self._ff(self.norm2(x)))
        x = self.norm1(x + self._sa(x, mask))
        return self.norm2(x + self.dropout2(self._ff(x)))


class DecoderLayer(nn.Module, _FeedForwardMixin):
    r"""Masked self-attention, cross-attention to the encoder's output (the *memory*), then a feed-forward
    network; each with a residual connection and LayerNorm (post-norm, or pre-norm with ``norm_first``).
    Equal to ``nn.TransformerDecoderLayer(d_model, n_heads, d_ff, dropout, batch_first=True,
    norm_first=...)``.

    Args:
        d_model: width.
        n_heads: heads of both attentions; must divide `d_model`.
        d_ff: hidden width of the feed-forward network.
        dropout: as in `EncoderLayer`.
        norm_first: pre-norm instead of post-norm.
        activation: the FFN's nonlinearity, ``"relu"`` or ``"gelu"``.
        layer_norm_eps: the $\epsilon$ of the three LayerNorms.

    Shapes: ``forward(x (B, L, d_model), memory (B, S, d_model),
    tgt_mask (bool, broadcastable to (B, L, L)) | None, memory_mask (bool, broadcastable to (B, L, S)) | None,
    causal=True) -> (B, L, d_model)``. With ``causal=True`` (the default) position ``i`` sees the targets
    ``<= i`` only.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        *,
        activation: Literal["relu", "gelu"] = "relu",
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        check_int("d_ff", d_ff, ge=1)
        check_choice("activation", activation, _ACTIVATIONS)
        check_float("layer_norm_eps", layer_norm_eps, gt=0)
        self.self_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.multihead_attn = MultiHeadAttention(d_model, n_heads, dropout)
        self.linear1, self.linear2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model, eps=layer_norm_eps) for _ in range(3))
        self.dropout = nn.Dropout(dropout)
        self.dropout1, self.dropout2, self.dropout3 = (nn.Dropout(dropout) for _ in range(3))
        self.d_model, self.norm_first, self.activation = d_model, norm_first, activation

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        tgt_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        *,
        causal: bool = True,
    ) -> torch.Tensor:
        _check_x("x", x, self.d_model)
        _check_x("memory", memory, self.d_model)
        if memory.shape[0] != x.shape[0]:
            raise ValueError(f"memory must have batch size {x.shape[0]}, got {memory.shape[0]}")

        def sa(h: torch.Tensor) -> torch.Tensor:
            return self.dropout1(self.self_attn(h, h, h, tgt_mask, causal=causal)[0])

        def ca(h: torch.Tensor) -> torch.Tensor:
            return self.dropout2(self.multihead_attn(h, memory, memory, memory_mask)[0])

        if self.norm_first:
            x = x + sa(self.norm1(x))
            x = x + ca(self.norm2(x))
            return x + self.dropout3(self._ff(self.norm3(x)))
        x = self.norm1(x + sa(x))
        x = self.norm2(x + ca(x))
        return self.norm3(x + self.dropout3(self._ff(x)))


class Transformer(nn.Module):
    r"""The encoder–decoder Transformer: token embeddings scaled by $\sqrt{d_\text{model}}$, positional
    encodings, ``n_layers`` encoder layers and ``n_layers`` decoder layers, and a linear layer to the target
    vocabulary.

    With ``share_embeddings=True`` (the paper's setting for a shared source/target vocabulary) one matrix
    serves as the source embedding, the target embedding and the output layer's weight, so
    `src_vocab` must equal `tgt_vocab`. Pre-norm models (``norm_first=True``) get a final LayerNorm after
    each stack, as pre-norm needs; post-norm models (the paper) have none.

    Args:
        src_vocab: source vocabulary size.
        tgt_vocab: target vocabulary size.
        d_model: width (512 in the base model).
        n_heads: heads per attention (8).
        n_layers: layers in the encoder and in the decoder (6).
        d_ff: feed-forward hidden width (2048).
        dropout: dropout everywhere (0.1).
        max_len: the context: longest source or target sequence.
        positions: ``"sinusoidal"`` or ``"learned"``.
        share_embeddings: tie the three embedding matrices.
        norm_first: pre-norm layers.
        pad_id: the padding id of the source (its keys are masked out).

    Shapes: ``forward(src (B, S) long, tgt (B, L) long) -> logits (B, L, tgt_vocab)``; position ``i`` of
    the output predicts target ``i + 1`` from targets ``<= i`` and the whole source.
    """

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        d_model: int = 512,
        n_heads: int = 8,
        n_layers: int = 6,
        d_ff: int = 2048,
        dropout: float = 0.1,
        max_len: int = 512,
        *,
        positions: Literal["sinusoidal", "learned"] = "sinusoidal",
        share_embeddings: bool = True,
        norm_first: bool = False,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        for name, v in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab), ("n_layers", n_layers)):
            check_int(name, v, ge=1)
        if share_embeddings and src_vocab != tgt_vocab:
            raise ValueError(
                f"share_embeddings=True needs src_vocab == tgt_vocab, got {src_vocab} and {tgt_vocab}"
            )
        self.src_vocab, self.tgt_vocab, self.d_model, self.pad_id = src_vocab, tgt_vocab, d_model, pad_id
        self.max_len = max_len
        self.src_embed = nn.Embedding(src_vocab, d_model)
        self.tgt_embed = self.src_embed if share_embeddings else nn.Embedding(tgt_vocab, d_model)
        self.pos = PositionalEncoding(d_model, max_len, positions, dropout)
        self.encoder = nn.ModuleList(
            EncoderLayer(d_model, n_heads, d_ff, dropout, norm_first) for _ in range(n_layers)
        )
        self.decoder = nn.ModuleList(
            DecoderLayer(d_model, n_heads, d_ff, dropout, norm_first) for _ in range(n_layers)
        )
        self.enc_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.dec_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.generator = nn.Linear(d_model, tgt_vocab, bias=False)
        if share_embeddings:
            self.generator.weight = self.tgt_embed.weight

    def _ids(self, name: str, ids: torch.Tensor, vocab: int) -> None:
        check_token_ids(name, ids, vocab, ndim=2)
        if ids.shape[1] > self.max_len:
            raise ValueError(
                f"{name} has length {ids.shape[1]}, longer than the context max_len={self.max_len}"
            )

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``src (B, S) -> (memory (B, S, d_model), src_mask (B, 1, S) bool)``."""
        self._ids("src", src, self.src_vocab)
        mask = (src != self.pad_id)[:, None, :]
        if not bool(mask.any(dim=-1).all()):
            raise ValueError("every source sequence needs at least one non-padding token")
        x = self.pos(self.src_embed(src) * math.sqrt(self.d_model))
        for layer in self.encoder:
            x = layer(x, mask)
        return self.enc_norm(x), mask

    def decode(self, tgt: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        """``tgt (B, L), memory (B, S, d_model), src_mask (B, 1, S) -> logits (B, L, tgt_vocab)``."""
        self._ids("tgt", tgt, self.tgt_vocab)
        y = self.pos(self.tgt_embed(tgt) * math.sqrt(self.d_model))
        for layer in self.decoder:
            y = layer(y, memory, memory_mask=src_mask)
        return self.generator(self.dec_norm(y))

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        memory, src_mask = self.encode(src)
        return self.decode(tgt, memory, src_mask)
