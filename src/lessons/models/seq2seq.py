"""Sequence-to-sequence models: a GRU encoder, a GRU decoder with no attention, Bahdanau (additive) or
Luong (multiplicative) attention, and the wrapper that trains with teacher forcing and decodes greedily.

Conventions: token ids are ``long`` tensors, batch first; ``pad_id`` marks padding in the source;
a target sequence is given *without* the begin-of-sequence token (the model prepends ``bos_id``).

Examples:
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

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from lessons.checks import check_callable, check_float, check_int, check_token_ids

__all__ = [
    "AdditiveAttention",
    "Decoder",
    "Encoder",
    "MultiplicativeAttention",
    "Seq2Seq",
    "beam_search",
    "masked_softmax",
]


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
            check_int(name, v, ge=1)
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
        check_int("query_dim", query_dim, ge=1)
        check_int("key_dim", key_dim, ge=1)
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
            check_int(name, v, ge=1)
        self.vocab_size, self.pad_id = vocab_size, pad_id
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.rnn = nn.GRU(embed_dim, hidden_size, batch_first=True, bidirectional=bidirectional)
        self.output_dim = hidden_size * (2 if bidirectional else 1)

    def forward(
        self, src: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        check_token_ids("src", src, self.vocab_size, ndim=2)
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
            check_int(name, v, ge=1)
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
        check_token_ids("tgt", tgt, self.decoder.vocab_size, ndim=2)
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
        check_int("max_len", max_len, ge=1)
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

    @torch.no_grad()
    def sequence_log_prob(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """Log-probability the model gives each target sequence: $\\sum_t \\log p(y_t \\mid y_{<t}, x)$.

        Args:
            src: ``(B, S)`` source ids.
            tgt: ``(B, T)`` target ids without BOS; positions holding ``pad_id`` are not counted.

        Returns:
            ``(B,)`` float tensor of summed log-probabilities (teacher-forced, in eval mode).
        """
        was_training = self.training
        self.eval()
        log_probs = torch.log_softmax(self(src, tgt), dim=-1).gather(-1, tgt[..., None]).squeeze(-1)
        self.train(was_training)
        return log_probs.masked_fill(tgt == self.pad_id, 0.0).sum(dim=1)

    @torch.no_grad()
    def beam_decode(
        self,
        src: torch.Tensor,
        max_len: int,
        width: int,
        *,
        eos_id: int | None = None,
        length_penalty: float = 0.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode with `beam_search`: keep the `width` likeliest prefixes at every step.

        ``width=1`` gives exactly the tokens of `greedy_decode`.

        Args:
            src: ``(B, S)`` source ids.
            max_len: number of decoding steps.
            width: beam width (>= 1).
            eos_id: end-of-sequence id, or ``None`` to always decode `max_len` tokens.
            length_penalty: $\\alpha$ of the final ranking by ``log p / length**alpha`` (0: plain log p).

        Returns:
            ``(tokens (B, max_len), log_probs (B,))``: the best sequence per source (``pad_id`` after its
            EOS) and its summed log-probability.
        """
        was_training = self.training
        self.eval()
        width = check_int("width", width, ge=1)
        memory, mask, s = self._start(src)
        # beams only move within their own example, so the memory of each row never changes: repeat it
        # once here instead of carrying it in the state that beam_search reorders at every step
        memory, mask = memory.repeat_interleave(width, dim=0), mask.repeat_interleave(width, dim=0)

        def step(
            prefix: torch.Tensor, state: tuple[torch.Tensor, ...]
        ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
            logits, s, _ = self.decoder.step(prefix[:, -1], state[0], memory, mask)
            return torch.log_softmax(logits, dim=-1), (s,)

        result = beam_search(
            step, (s,), bos_id=self.bos_id, width=width, max_len=max_len,
            eos_id=eos_id, pad_id=self.pad_id, length_penalty=length_penalty,
        )  # fmt: skip
        self.train(was_training)
        return result


StepFn = Callable[[torch.Tensor, tuple[torch.Tensor, ...]], tuple[torch.Tensor, tuple[torch.Tensor, ...]]]


def beam_search(
    step: StepFn,
    state: tuple[torch.Tensor, ...] = (),
    *,
    bos_id: int,
    width: int,
    max_len: int,
    batch_size: int | None = None,
    eos_id: int | None = None,
    pad_id: int = 0,
    length_penalty: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Beam search over any autoregressive model given as a `step` function.

    Every hypothesis is scored by its summed log-probability $\sum_t \log p(y_t \mid y_{<t})$. At each step
    every one of the `width` kept prefixes is extended by every token, and the `width` best of these
    ``width * V`` candidates are kept. A hypothesis that has produced `eos_id` is finished: it is carried
    along, followed by `pad_id` at no cost, and still competes with the open ones. At the end the best
    hypothesis is the one with the largest ``score / length**length_penalty`` (length counts the tokens up
    to and including EOS).

    Args:
        step: ``step(prefix (N, t) long, state) -> (log_probs (N, V), new_state)``. `prefix` holds the
            tokens so far, starting with `bos_id`; `log_probs` are the next token's log-probabilities
            (``log_softmax`` of the logits); `new_state` has the same structure as `state`.
        state: tuple of tensors whose first axis is the batch ``B`` (e.g. a decoder state and the encoder
            memory); each is repeated `width` times and reordered along with the beams. May be empty.
        bos_id: the first token of every prefix.
        width: beam width, >= 1 (1 is greedy decoding).
        max_len: number of tokens to generate, >= 1.
        batch_size: ``B``; needed only when `state` is empty.
        eos_id: end-of-sequence id, or ``None`` (every hypothesis runs for `max_len` tokens).
        pad_id: filler after EOS.
        length_penalty: $\alpha \ge 0$ of the final ranking (0 compares plain log-probabilities).

    Returns:
        ``(tokens (B, max_len) long, log_probs (B,) float)``: the best hypothesis per example, without BOS,
        and its summed log-probability.

    Raises:
        TypeError: `step` is not callable, `state` is not a tuple of tensors, or an id, `width`, `max_len`
            or `batch_size` is not an int.
        ValueError: `width` or `max_len` < 1, the state tensors disagree on ``B``, `batch_size` is missing
            or disagrees with the state, `length_penalty` < 0, or `step` returns log-probabilities of
            the wrong shape.

    Examples:
        >>> import torch
        >>> # row = the last token (0, 1, 2, or 3 = BOS), column = p(next token)
        >>> table = torch.tensor([[0.4, 0.3, 0.3], [0.9, 0.05, 0.05], [1 / 3] * 3, [0.5, 0.4, 0.1]]).log()
        >>> step = lambda prefix, state: (table[prefix[:, -1]], state)
        >>> beam_search(step, batch_size=1, bos_id=3, width=1, max_len=2)[0]  # greedy: p = 0.5 * 0.4
        tensor([[0, 0]])
        >>> beam_search(step, batch_size=1, bos_id=3, width=2, max_len=2)[0]  # p = 0.4 * 0.9
        tensor([[1, 0]])
    """
    check_callable("step", step)
    if not isinstance(state, tuple) or not all(isinstance(t, torch.Tensor) for t in state):
        raise TypeError(f"state must be a tuple of tensors, got {type(state).__name__}")
    width, max_len = check_int("width", width, ge=1), check_int("max_len", max_len, ge=1)
    bos_id, pad_id = check_int("bos_id", bos_id), check_int("pad_id", pad_id)
    if eos_id is not None:
        eos_id = check_int("eos_id", eos_id)
    length_penalty = check_float("length_penalty", length_penalty, ge=0)
    sizes = {t.shape[0] if t.dim() > 0 else -1 for t in state}
    if len(sizes) > 1 or -1 in sizes:
        raise ValueError(f"every tensor of state needs the same batch axis 0, got sizes {sorted(sizes)}")
    if batch_size is not None:
        batch_size = check_int("batch_size", batch_size, ge=1)
        if sizes and batch_size not in sizes:
            raise ValueError(f"batch_size={batch_size} disagrees with the state's batch axis {sizes.pop()}")
    elif not sizes:
        raise ValueError("batch_size is needed when state is empty")
    B = batch_size if batch_size is not None else sizes.pop()
    device = state[0].device if state else torch.device("cpu")

    state = tuple(t.repeat_interleave(width, dim=0) for t in state)
    N = B * width
    prefix = torch.full((N, 1), bos_id, dtype=torch.long, device=device)
    scores = torch.full((B, width), float("-inf"), device=device)
    scores[:, 0] = 0.0  # the beams start as copies of one empty prefix: keep one, or all would tie
    finished = torch.zeros(N, dtype=torch.bool, device=device)
    lengths = torch.zeros(N, dtype=torch.long, device=device)
    base = torch.arange(B, device=device)[:, None] * width  # row of beam 0 of each example
    for _ in range(max_len):
        log_probs, state = step(prefix, state)
        if log_probs.dim() != 2 or log_probs.shape[0] != N:
            raise ValueError(f"step must return log_probs of shape ({N}, V), got {tuple(log_probs.shape)}")
        V = log_probs.shape[1]
        if eos_id is not None:  # a finished hypothesis has one extension (written as pad_id), at no cost
            frozen = torch.full_like(log_probs, float("-inf"))
            frozen[:, 0] = 0.0
            log_probs = torch.where(finished[:, None], frozen, log_probs)
        candidates = (scores.reshape(N, 1) + log_probs).reshape(B, width * V)
        scores, index = candidates.topk(width, dim=1)  # (B, width), best first
        rows = (base + torch.div(index, V, rounding_mode="floor")).reshape(N)  # which prefix each extends
        finished, lengths = finished[rows], lengths[rows]
        token = torch.where(finished, pad_id, index.reshape(N) % V)
        prefix = torch.cat([prefix[rows], token[:, None]], dim=1)
        state = tuple(t[rows] for t in state)
        lengths = lengths + (~finished).long()
        if eos_id is not None:
            finished = finished | (token == eos_id)
    ranking = scores / lengths.reshape(B, width).clamp(min=1).float() ** length_penalty
    best = (base[:, 0] + ranking.argmax(dim=1)).reshape(B)
    return prefix[best, 1:], scores.reshape(N)[best]
