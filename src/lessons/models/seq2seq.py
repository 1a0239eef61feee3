"""Sequence-to-sequence models: a GRU encoder, a GRU decoder with no attention, Bahdanau (additive) or
Luong (multiplicative) attention, and the wrapper that trains with teacher forcing and decodes greedily.

Conventions: token ids are ``long`` tensors, batch first; ``pad_id`` marks padding in the source;
a target sequence is given *without* the begin-of-sequence token (the model prepends ``bos_id``).

Example:
    >>> import torch
    >>> model = Seq2Seq(Encoder(12, 8, 16), Decoder(12, 8, 16, memory_dim=32), bos_id=1, pad_id=0)
    >>> src = torch.tensor([[5, 6, 7], [8, 9, 0]])
    >>> model(src, torch.tensor([[3, 4], [4, 3]])).shape
    torch.Size([2, 2, 12])
    >>> tokens, weights = model.greedy_decode(src, max_len=5)
    >>> tokens.shape, weights.shape
    (torch.Size([2, 5]), torch.Size([2, 5, 3]))
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "AdditiveAttention",
    "Decoder",
    "Encoder",
    "MultiplicativeAttention",
    "Seq2Seq",
    "masked_softmax",
]


def _positive_int(name: str, v: object) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name} must be an int >= 1, got {v!r}")


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Softmax over the last axis that gives exactly zero weight where ``mask`` is False.

    Args:
        scores: ``(B, S)`` attention scores.
        mask: ``(B, S)`` bool, True at real (non-padding) positions, or ``None``.

    Returns:
        ``(B, S)`` weights that sum to 1 over the allowed positions.

    Raises:
        ValueError: `mask` has another shape, or a row of `mask` allows no position.
    """
    if mask is None:
        return torch.softmax(scores, dim=-1)
    if mask.shape != scores.shape:
        raise ValueError(f"mask must have the shape of scores {tuple(scores.shape)}, got {tuple(mask.shape)}")
    if not bool(mask.any(dim=-1).all()):
        raise ValueError("every row of mask must allow at least one position")
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


class AdditiveAttention(nn.Module):
    r"""Bahdanau (additive) attention: $e_j = v^\top \tanh(W_q q + W_k k_j)$, $\alpha = \mathrm{softmax}(e)$,
    context $c = \sum_j \alpha_j k_j$.

    Args:
        query_dim: size of the query (the decoder state).
        key_dim: size of each key = value (an encoder output).
        attn_dim: size of the hidden layer inside the score.

    Shapes: ``forward(query (B, Dq), keys (B, S, Dk), mask (B, S) | None)``
    ``-> (context (B, Dk), weights (B, S))``.
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int) -> None:
        super().__init__()
        for name, v in (("query_dim", query_dim), ("key_dim", key_dim), ("attn_dim", attn_dim)):
            _positive_int(name, v)
        self.W_q = nn.Linear(query_dim, attn_dim, bias=False)
        self.W_k = nn.Linear(key_dim, attn_dim, bias=True)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def score(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Unnormalised scores ``(B, S)``."""
        _check_qk(query, keys, self.W_q.in_features, self.W_k.in_features)
        return self.v(torch.tanh(self.W_q(query)[:, None, :] + self.W_k(keys))).squeeze(-1)

    def forward(
        self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        weights = masked_softmax(self.score(query, keys), mask)
        return torch.bmm(weights[:, None, :], keys).squeeze(1), weights


class MultiplicativeAttention(nn.Module):
    r"""Luong (multiplicative) attention: score ``"dot"`` $e_j = q^\top k_j$ or ``"general"``
    $e_j = q^\top W k_j$; then $\alpha = \mathrm{softmax}(e)$, $c = \sum_j \alpha_j k_j$.

    Args:
        query_dim: size of the query.
        key_dim: size of each key = value; must equal `query_dim` for ``"dot"``.
        score: ``"general"`` (default, a learned $W$) or ``"dot"`` (no parameters).

    Shapes: ``forward(query (B, Dq), keys (B, S, Dk), mask (B, S) | None)``
    ``-> (context (B, Dk), weights (B, S))``.
    """

    def __init__(self, query_dim: int, key_dim: int, score: Literal["dot", "general"] = "general") -> None:
        super().__init__()
        _positive_int("query_dim", query_dim)
        _positive_int("key_dim", key_dim)
        if score not in ("dot", "general"):
            raise ValueError(f"score must be 'dot' or 'general', got {score!r}")
        if score == "dot" and query_dim != key_dim:
            raise ValueError(f"score='dot' needs query_dim == key_dim, got {query_dim} and {key_dim}")
        self.query_dim, self.key_dim, self.kind = query_dim, key_dim, score
        self.W = nn.Linear(key_dim, query_dim, bias=False) if score == "general" else None

    def score(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Unnormalised scores ``(B, S)``."""
        _check_qk(query, keys, self.query_dim, self.key_dim)
        k = keys if self.W is None else self.W(keys)
        return torch.bmm(k, query[:, :, None]).squeeze(-1)

    def forward(
        self, query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        weights = masked_softmax(self.score(query, keys), mask)
        return torch.bmm(weights[:, None, :], keys).squeeze(1), weights


def _check_qk(query: torch.Tensor, keys: torch.Tensor, dq: int, dk: int) -> None:
    if query.dim() != 2 or query.shape[1] != dq:
        raise ValueError(f"query must have shape (batch, {dq}), got {tuple(query.shape)}")
    if keys.dim() != 3 or keys.shape[0] != query.shape[0] or keys.shape[2] != dk:
        raise ValueError(f"keys must have shape ({query.shape[0]}, S, {dk}), got {tuple(keys.shape)}")


class Encoder(nn.Module):
    """Embedding + GRU (bidirectional by default) that reads a padded batch of source ids.

    Args:
        vocab_size: source vocabulary size.
        embed_dim: embedding size.
        hidden_size: GRU state size per direction.
        bidirectional: read the source both ways (outputs concatenate the two directions).
        pad_id: the padding id (its embedding is kept at zero).

    Attributes:
        output_dim: size of each memory vector, ``hidden_size * (2 if bidirectional else 1)``.

    Shapes: ``forward(src (B, S), mask (B, S) bool) -> (memory (B, S, output_dim), summary (B, output_dim))``,
    where `summary` holds the final state of each direction (the backward one at position 0), computed on
    the real tokens only (padding is packed away).
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        *,
        bidirectional: bool = True,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        for name, v in (("vocab_size", vocab_size), ("embed_dim", embed_dim), ("hidden_size", hidden_size)):
            _positive_int(name, v)
        self.vocab_size, self.pad_id = vocab_size, pad_id
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.rnn = nn.GRU(embed_dim, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.output_dim = hidden_size * (2 if bidirectional else 1)

    def forward(
        self, src: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        _check_ids("src", src, self.vocab_size)
        mask = src != self.pad_id if mask is None else mask
        lengths = mask.sum(dim=1)
        if bool((lengths == 0).any()):
            raise ValueError("every source sequence needs at least one non-padding token")
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embed(src), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        out, h_n = self.rnn(packed)
        memory, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        summary = torch.cat(list(h_n), dim=-1)  # (directions, B, H) -> (B, directions*H)
        return memory, summary


def _check_ids(name: str, ids: torch.Tensor, vocab_size: int) -> None:
    if ids.dim() != 2 or ids.dtype != torch.long:
        raise ValueError(
            f"{name} must be a (batch, time) tensor of ids (long), got {ids.dtype} {tuple(ids.shape)}"
        )
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(f"{name} ids must be in [0, {vocab_size}), got [{int(ids.min())}, {int(ids.max())}]")


class Decoder(nn.Module):
    """GRU decoder, one step at a time, with no attention, Bahdanau attention or Luong attention.

    * ``attention=None`` (Sutskever et al. 2014 / Cho et al. 2014): the only view of the source is the
      initial state, made from the encoder's summary: a fixed-size bottleneck.
    * ``"bahdanau"`` (Bahdanau et al. 2015): the *previous* state $s_{t-1}$ queries the memory; the context
      $c_t$ is fed into the GRU with the input embedding; the output layer sees $[s_t; c_t; e(y_{t-1})]$.
    * ``"luong"`` (Luong et al. 2015): the GRU runs first; the *new* state $s_t$ queries the memory and
      $\\tilde s_t = \\tanh(W_c[c_t; s_t])$ feeds the output layer.

    Args:
        vocab_size: target vocabulary size ``V``.
        embed_dim: embedding size.
        hidden_size: GRU state size ``H``.
        memory_dim: size of each encoder output (``Encoder.output_dim``).
        attention: ``None``, ``"bahdanau"`` or ``"luong"``.
        attn_dim: hidden size of the additive score (default `hidden_size`).
        luong_score: ``"general"`` or ``"dot"`` (``"dot"`` needs ``memory_dim == hidden_size``).

    Shapes: ``step(y_prev (B,), s (B, H), memory (B, S, M), mask (B, S))
    -> (logits (B, V), s' (B, H), weights (B, S) or None)``.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        memory_dim: int,
        attention: Literal["bahdanau", "luong"] | None = None,
        *,
        attn_dim: int | None = None,
        luong_score: Literal["dot", "general"] = "general",
    ) -> None:
        super().__init__()
        for name, v in (
            ("vocab_size", vocab_size), ("embed_dim", embed_dim),
            ("hidden_size", hidden_size), ("memory_dim", memory_dim),
        ):  # fmt: skip
            _positive_int(name, v)
        if attention not in (None, "bahdanau", "luong"):
            raise ValueError(f"attention must be None, 'bahdanau' or 'luong', got {attention!r}")
        self.vocab_size, self.hidden_size, self.attention = vocab_size, hidden_size, attention
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.init = nn.Linear(memory_dim, hidden_size)
        if attention == "bahdanau":
            self.attn: nn.Module | None = AdditiveAttention(hidden_size, memory_dim, attn_dim or hidden_size)
            self.cell = nn.GRUCell(embed_dim + memory_dim, hidden_size)
            self.out = nn.Linear(hidden_size + memory_dim + embed_dim, vocab_size)
        elif attention == "luong":
            self.attn = MultiplicativeAttention(hidden_size, memory_dim, luong_score)
            self.cell = nn.GRUCell(embed_dim, hidden_size)
            self.combine = nn.Linear(memory_dim + hidden_size, hidden_size)
            self.out = nn.Linear(hidden_size, vocab_size)
        else:
            self.attn = None
            self.cell = nn.GRUCell(embed_dim, hidden_size)
            self.out = nn.Linear(hidden_size, vocab_size)

    def init_state(self, summary: torch.Tensor) -> torch.Tensor:
        """Initial decoder state ``(B, H)`` from the encoder summary ``(B, memory_dim)``."""
        return torch.tanh(self.init(summary))

    def step(
        self, y_prev: torch.Tensor, s: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        e = self.embed(y_prev)
        if self.attention == "bahdanau":
            c, w = self.attn(s, memory, mask)
            s = self.cell(torch.cat([e, c], dim=-1), s)
            return self.out(torch.cat([s, c, e], dim=-1)), s, w
        s = self.cell(e, s)
        if self.attention == "luong":
            c, w = self.attn(s, memory, mask)
            return self.out(torch.tanh(self.combine(torch.cat([c, s], dim=-1)))), s, w
        return self.out(s), s, None


class Seq2Seq(nn.Module):
    """Encoder + decoder: teacher-forced training (`forward`, `loss`) and greedy decoding.

    Args:
        encoder: an `Encoder`.
        decoder: a `Decoder` whose ``memory_dim`` equals ``encoder.output_dim``.
        bos_id: the begin-of-sequence id fed to the decoder first.
        pad_id: padding id of sources and targets (ignored by `loss`).

    Raises:
        ValueError: the decoder's memory size does not match the encoder's output size.
    """

    def __init__(self, encoder: Encoder, decoder: Decoder, *, bos_id: int, pad_id: int = 0) -> None:
        super().__init__()
        if decoder.init.in_features != encoder.output_dim:
            raise ValueError(
                f"decoder memory_dim ({decoder.init.in_features}) must equal "
                f"encoder.output_dim ({encoder.output_dim})"
            )
        self.encoder, self.decoder, self.bos_id, self.pad_id = encoder, decoder, bos_id, pad_id

    def _start(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mask = src != self.pad_id
        memory, summary = self.encoder(src, mask)
        return memory, mask, self.decoder.init_state(summary)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor, teacher_forcing: float = 1.0) -> torch.Tensor:
        """Logits ``(B, T, V)`` for targets ``tgt`` ``(B, T)`` (no BOS) given the source ``src`` ``(B, S)``.

        With ``teacher_forcing=1`` the decoder reads the true previous token at every step; below 1 it
        reads its own greedy guess with probability ``1 - teacher_forcing`` (drawn per step from torch's
        global RNG).
        """
        _check_ids("tgt", tgt, self.decoder.vocab_size)
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must be in [0, 1], got {teacher_forcing}")
        memory, mask, s = self._start(src)
        y_prev = torch.full((src.shape[0],), self.bos_id, dtype=torch.long, device=src.device)
        logits = []
        for t in range(tgt.shape[1]):
            out, s, _ = self.decoder.step(y_prev, s, memory, mask)
            logits.append(out)
            use_truth = teacher_forcing >= 1.0 or float(torch.rand(())) < teacher_forcing
            y_prev = tgt[:, t] if use_truth else out.argmax(-1)
        return torch.stack(logits, dim=1)

    def loss(self, src: torch.Tensor, tgt: torch.Tensor, teacher_forcing: float = 1.0) -> torch.Tensor:
        """Mean cross-entropy per target token, padding ignored."""
        logits = self(src, tgt, teacher_forcing)
        return F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=self.pad_id)

    @torch.no_grad()
    def greedy_decode(self, src: torch.Tensor, max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode by always taking the likeliest token.

        Returns:
            ``(tokens (B, max_len), weights (B, max_len, S))``; the weights are zeros for a decoder without
            attention. Cut the tokens at your end-of-sequence id if you use one.
        """
        _positive_int("max_len", max_len)
        was_training = self.training
        self.eval()
        memory, mask, s = self._start(src)
        y = torch.full((src.shape[0],), self.bos_id, dtype=torch.long, device=src.device)
        tokens, weights = [], []
        for _ in range(max_len):
            out, s, w = self.decoder.step(y, s, memory, mask)
            y = out.argmax(-1)
            tokens.append(y)
            weights.append(torch.zeros_like(src, dtype=memory.dtype) if w is None else w)
        self.train(was_training)
        return torch.stack(tokens, dim=1), torch.stack(weights, dim=1)
