r"""Fast generation with the course's `Llama`: a KV cache, left-padded batches, speculative decoding.

The model of `lessons.models.llama` recomputes the whole sequence for every new token. Here the same weights
run with a **KV cache** (`KVCache`): each layer keeps the keys (after RoPE) and values of every position seen
so far, $(B, G, S, d)$ for $G$ key/value heads, so a step feeds only the new tokens. `forward` runs the model
on new tokens against a cache, with an optional attention mask for left-padded batches and an optional
number of layers (the early exit that `LayerDraft` uses as a draft model). `greedy_decode` and
`batched_greedy` decode with or without the cache; `speculative_decode` lets a cheap draft (`LayerDraft` or
`PromptLookupDraft`) propose tokens that the full model verifies in one pass, and returns exactly the
model's own greedy tokens. `speculative_sample` is the accept/resample rule of sampled speculative decoding
(Leviathan et al. 2023; Chen et al. 2023), under which the output is distributed exactly as the target's.

Examples:
    >>> import torch
    >>> from lessons.models.llama import Llama, LlamaConfig
    >>> _ = torch.manual_seed(0)
    >>> model = Llama(LlamaConfig(vocab_size=20, dim=16, n_layer=2, n_head=4, n_kv_head=2, hidden_dim=32))
    >>> idx = torch.tensor([[1, 2, 3]])
    >>> torch.equal(greedy_decode(model, idx, 5), greedy_decode(model, idx, 5, use_cache=False))
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

from lessons.checks import check_int, check_tensor, check_token_ids
from lessons.models.llama import Llama, _rotate_half, rope_cos_sin

__all__ = [
    "Draft",
    "KVCache",
    "LayerDraft",
    "PromptLookupDraft",
    "SpeculativeStats",
    "batched_greedy",
    "forward",
    "greedy_decode",
    "left_pad",
    "speculative_decode",
    "speculative_sample",
]


class KVCache:
    """The keys and values of every position seen so far, per layer: two lists of (B, G, S, head_dim).

    Keys are stored after the rotary embedding, so a cached key never needs its position again.

    Args:
        n_layer: the number of layers whose keys and values are kept.
    """

    def __init__(self, n_layer: int) -> None:
        check_int("n_layer", n_layer, ge=1)
        self.keys: list[torch.Tensor | None] = [None] * n_layer
        self.values: list[torch.Tensor | None] = [None] * n_layer

    @property
    def length(self) -> int:
        """The number of cached positions S (0 when empty)."""
        k = self.keys[0]
        return 0 if k is None else k.shape[2]

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append the new keys and values (B, G, T, d) of `layer`; return all of them, (B, G, S + T, d)."""
        check_int("layer", layer, ge=0, lt=len(self.keys))
        old_k, old_v = self.keys[layer], self.values[layer]
        if old_k is not None and old_v is not None:
            k, v = torch.cat([old_k, k], dim=2), torch.cat([old_v, v], dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v

    def crop(self, length: int) -> None:
        """Keep the first `length` positions (drop rejected draft tokens, for instance)."""
        check_int("length", length, ge=0, le=self.length)
        for i, (k, v) in enumerate(zip(self.keys, self.values, strict=True)):
            if k is not None and v is not None:
                self.keys[i], self.values[i] = k[:, :, :length], v[:, :, :length]

    @property
    def nbytes(self) -> int:
        """Bytes held by all cached keys and values."""
        return sum(t.numel() * t.element_size() for t in self.keys + self.values if t is not None)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """RoPE on x (B, H, T, d) with per-row cos/sin (B, 1, T, d), which `apply_rope`'s (T, d) check refuses."""
    return x * cos + _rotate_half(x) * sin


@torch.no_grad()
def forward(
    model: Llama,
    idx: torch.Tensor,
    cache: KVCache | None = None,
    *,
    attention_mask: torch.Tensor | None = None,
    n_layer: int | None = None,
) -> torch.Tensor:
    """Logits for new tokens `idx` (B, T) that follow the positions already in `cache`.

    With an empty cache (or none) this is `model(idx)`; with a cache holding S positions the new tokens take
    positions S..S+T-1, attend to the cached keys and values and to each other causally, and are appended.

    Args:
        model: the course's LLaMA.
        idx: new token ids (B, T), ``torch.long``.
        cache: a `KVCache` with at least `n_layer` layers, updated in place; ``None`` for no cache.
        attention_mask: (B, S + T), 1 for real tokens and 0 for padding (left padding); ``None`` when every
            position is real. A row's positions count its real tokens only, as if it had no padding.
        n_layer: run only the first `n_layer` blocks, then the final norm and the output layer (an early
            exit); ``None`` for all of them.

    Returns:
        Logits (B, T, vocab_size).

    Raises:
        ValueError: `model` is not a `Llama`, `n_layer` is out of range, the cache has too few layers or
            another batch size, or `attention_mask` has the wrong shape.
    """
    if not isinstance(model, Llama):
        raise ValueError(f"model must be a lessons.models.llama.Llama, got {type(model).__name__}")
    cfg = model.config
    check_token_ids("idx", idx, cfg.vocab_size, ndim=2)
    n = cfg.n_layer if n_layer is None else check_int("n_layer", n_layer, ge=1, le=cfg.n_layer)
    b, t = idx.shape
    past = 0
    if cache is not None:
        if not isinstance(cache, KVCache):
            raise ValueError(f"cache must be a KVCache or None, got {type(cache).__name__}")
        if len(cache.keys) < n:
            raise ValueError(f"cache must hold at least {n} layers, got {len(cache.keys)}")
        past = cache.length
        k0 = cache.keys[0]
        if k0 is not None and k0.shape[0] != b:
            raise ValueError(f"idx must have the cache's batch size {k0.shape[0]}, got {b}")
    device = idx.device
    if attention_mask is None:
        positions = torch.arange(past, past + t, device=device).expand(b, t)
        real = None
    else:
        check_tensor("attention_mask", attention_mask)
        if attention_mask.shape != (b, past + t):
            raise ValueError(
                f"attention_mask must have shape {(b, past + t)} (batch, cached + new), "
                f"got {tuple(attention_mask.shape)}"
            )
        real = attention_mask.to(torch.bool)
        positions = (real.long().cumsum(-1) - 1).clamp(min=0)[:, past:]
    cos, sin = rope_cos_sin(positions.reshape(-1), cfg.hd, cfg.rope_theta)
    cos = cos.view(b, 1, t, cfg.hd).to(device)
    sin = sin.view(b, 1, t, cfg.hd).to(device)
    # Which keys each new query may read: causal in the cache's order, real tokens only, and always itself
    # (so that a padding query has something to read and its softmax stays finite; nobody reads it back).
    mask: torch.Tensor | None = None
    causal = past == 0 and t > 1
    if real is not None or (past > 0 and t > 1):
        q_at = torch.arange(past, past + t, device=device)[:, None]
        k_at = torch.arange(past + t, device=device)[None, :]
        mask = (k_at <= q_at)[None, None]  # (1, 1, T, S + T)
        if real is not None:
            mask = (mask & real[:, None, None, :]) | (k_at == q_at)[None, None]
        causal = False
    x = model.embed_tokens(idx)
    for i, block in enumerate(model.layers[:n]):
        attn = block.self_attn
        h = block.input_layernorm(x)
        q = attn.q_proj(h).view(b, t, attn.n_head, attn.head_dim).transpose(1, 2)
        k = attn.k_proj(h).view(b, t, attn.n_kv_head, attn.head_dim).transpose(1, 2)
        v = attn.v_proj(h).view(b, t, attn.n_kv_head, attn.head_dim).transpose(1, 2)
        q, k = _rotate(q, cos.to(q.dtype), sin.to(q.dtype)), _rotate(k, cos.to(k.dtype), sin.to(k.dtype))
        if cache is not None:
            k, v = cache.update(i, k, v)  # only the G key/value heads are stored
        group = attn.n_head // attn.n_kv_head
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
        x = x + attn.o_proj(y.transpose(1, 2).reshape(b, t, attn.n_head * attn.head_dim))
        x = x + block.mlp(block.post_attention_layernorm(x))
    return model.lm_head(model.norm(x))


@torch.no_grad()
def greedy_decode(
    model: Llama,
    idx: torch.Tensor,
    max_new_tokens: int,
    *,
    use_cache: bool = True,
    attention_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Greedy decoding: append the arg-max token `max_new_tokens` times (no stop token).

    Args:
        model: the course's LLaMA.
        idx: prompt ids (B, T); left-padded when `attention_mask` is given.
        max_new_tokens: how many tokens to add.
        use_cache: keep a `KVCache` (one prefill pass, then one position per step), or recompute the whole
            sequence at every step, as `Llama.generate` does.
        attention_mask: (B, T), 0 marks left padding; ``None`` when there is none.

    Returns:
        (B, T + max_new_tokens): the prompt followed by the new tokens.
    """
    check_token_ids("idx", idx, model.config.vocab_size, ndim=2)
    check_int("max_new_tokens", max_new_tokens, ge=0)
    mask = attention_mask
    cache = KVCache(model.config.n_layer) if use_cache else None
    out, new = idx, idx
    for _ in range(max_new_tokens):
        logits = forward(model, new if use_cache else out, cache, attention_mask=mask)
        nxt = logits[:, -1].argmax(-1, keepdim=True)
        out = torch.cat([out, nxt], dim=1)
        new = nxt
        if mask is not None:
            mask = torch.cat([mask, torch.ones_like(nxt)], dim=1)
    return out


def left_pad(sequences: Sequence[torch.Tensor], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack 1-D id sequences of different lengths into a batch, padded on the left.

    Left padding puts every prompt's last token in the last column, where the next token is read.

    Args:
        sequences: N tensors of token ids (T_i,).
        pad_id: the id written into the padding (it is masked, so any valid id will do).

    Returns:
        ``(ids, attention_mask)``, both (N, max T_i); the mask is 1 on real tokens, 0 on padding.
    """
    if not sequences:
        raise ValueError("sequences must hold at least one sequence")
    for i, s in enumerate(sequences):
        check_tensor(f"sequences[{i}]", s)
        if s.dim() != 1 or s.numel() == 0:
            raise ValueError(f"sequences[{i}] must be a non-empty 1-D tensor, got shape {tuple(s.shape)}")
    check_int("pad_id", pad_id, ge=0)
    width = max(s.numel() for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, s in enumerate(sequences):
        ids[i, width - s.numel() :] = s
        mask[i, width - s.numel() :] = 1
    return ids, mask


def batched_greedy(
    model: Llama, prompts: Sequence[torch.Tensor], max_new_tokens: int, *, pad_id: int = 0
) -> list[torch.Tensor]:
    """Greedy-decode several prompts of different lengths in one left-padded batch, with a KV cache.

    Args:
        model: the course's LLaMA.
        prompts: N 1-D tensors of token ids.
        max_new_tokens: how many tokens to add to each.
        pad_id: the id used for padding.

    Returns:
        N tensors (max_new_tokens,): each prompt's new tokens, the same as decoding it alone.
    """
    ids, mask = left_pad(prompts, pad_id)
    out = greedy_decode(model, ids, max_new_tokens, attention_mask=mask)
    return list(out[:, ids.shape[1] :].unbind(0))


class Draft(Protocol):
    """A proposer for speculative decoding: up to `n` guesses of the tokens that follow `seq`."""

    def propose(self, seq: torch.Tensor, n: int) -> torch.Tensor:
        """Guesses (m,), 0 <= m <= n, for the 1-D sequence `seq` (T,)."""
        ...


class LayerDraft:
    """Self-speculative draft: the target's own first `n_layer` blocks, final norm and output layer.

    It keeps a `KVCache` of its own and reuses the part of it that still matches the sequence it is asked
    to continue, so each round costs one draft step per guess.

    Args:
        model: the course's LLaMA (the target); no weights are copied.
        n_layer: how many of its blocks the draft runs (1..model.config.n_layer).
    """

    def __init__(self, model: Llama, n_layer: int) -> None:
        if not isinstance(model, Llama):
            raise ValueError(f"model must be a lessons.models.llama.Llama, got {type(model).__name__}")
        self.model = model
        self.n_layer = check_int("n_layer", n_layer, ge=1, le=model.config.n_layer)
        self.cache = KVCache(self.n_layer)
        self.cached: list[int] = []  # the tokens whose keys and values are in the cache

    def propose(self, seq: torch.Tensor, n: int) -> torch.Tensor:
        """Greedy guesses of this early-exit model, (n,), for the sequence `seq` (T,)."""
        check_int("n", n, ge=0)
        tokens = seq.tolist()
        keep = 0
        while keep < min(len(self.cached), len(tokens) - 1) and self.cached[keep] == tokens[keep]:
            keep += 1
        self.cache.crop(keep)
        self.cached = tokens[:keep]
        new, guesses = seq[keep:], []
        for step in range(n):
            logits = forward(self.model, new[None], self.cache, n_layer=self.n_layer)
            self.cached += new.tolist()
            guess = logits[0, -1].argmax()
            guesses.append(int(guess))
            if step < n - 1:
                new = guess[None]
        return torch.tensor(guesses, dtype=torch.long)


class PromptLookupDraft:
    """Prompt-lookup draft (Saxena 2023): copy what followed the last n-gram where it occurred before.

    It looks for the sequence's last `max_ngram` tokens earlier in the sequence (then shorter n-grams down to
    1), at the most recent earlier occurrence, and proposes the tokens that came next. No model is run: this
    pays off when the answer repeats its input (editing, summarising, extracting, code).

    Args:
        max_ngram: the longest n-gram to match.
    """

    def __init__(self, max_ngram: int = 3) -> None:
        self.max_ngram = check_int("max_ngram", max_ngram, ge=1)

    def propose(self, seq: torch.Tensor, n: int) -> torch.Tensor:
        """Up to `n` tokens copied from after the latest earlier match, (m,); empty when nothing matches."""
        check_int("n", n, ge=0)
        tokens = seq.tolist()
        for g in range(min(self.max_ngram, len(tokens) - 1), 0, -1):
            tail = tokens[-g:]
            for start in range(len(tokens) - g - 1, -1, -1):  # latest occurrence first, not the tail itself
                if tokens[start : start + g] == tail:
                    follow = tokens[start + g : start + g + n]
                    return torch.tensor(follow, dtype=torch.long)
        return torch.zeros(0, dtype=torch.long)


@dataclass
class SpeculativeStats:
    """What a speculative run cost.

    Attributes:
        target_calls: forward passes of the target after the prompt's prefill (one per round).
        drafted: guesses proposed.
        accepted: guesses the target agreed with.
        new_tokens: tokens generated.
    """

    target_calls: int = 0
    drafted: int = 0
    accepted: int = 0
    new_tokens: int = 0

    @property
    def acceptance_rate(self) -> float:
        """accepted / drafted (0 when nothing was drafted)."""
        return self.accepted / self.drafted if self.drafted else 0.0

    @property
    def tokens_per_call(self) -> float:
        """New tokens per target forward pass (1 for plain decoding)."""
        return self.new_tokens / self.target_calls if self.target_calls else 0.0


@torch.no_grad()
def speculative_decode(
    model: Llama, idx: torch.Tensor, max_new_tokens: int, draft: Draft, *, n_draft: int = 4
) -> tuple[torch.Tensor, SpeculativeStats]:
    """Greedy speculative decoding: the draft guesses, the target checks all guesses in one pass.

    Each round feeds the target its last token and the draft's guesses $d_1..d_m$; its arg-maxes
    $g_0..g_m$ are the tokens it would have produced itself. The guesses are kept while $d_{i+1} = g_i$, then
    $g_a$ is appended (the correction, or a bonus token when every guess was right) and the target's cache
    is cut back to the accepted tokens. So the output is exactly the target's greedy output.

    Args:
        model: the target, the course's LLaMA.
        idx: the prompt (1, T), one sequence.
        max_new_tokens: how many tokens to generate.
        draft: anything with ``propose(seq, n)`` (a `LayerDraft`, a `PromptLookupDraft`).
        n_draft: the most guesses per round.

    Returns:
        ``(tokens, stats)``: (1, T + max_new_tokens) and a `SpeculativeStats`.
    """
    check_token_ids("idx", idx, model.config.vocab_size, ndim=2)
    if idx.shape[0] != 1:
        raise ValueError(f"idx must hold one sequence (1, T), got shape {tuple(idx.shape)}")
    check_int("max_new_tokens", max_new_tokens, ge=0)
    check_int("n_draft", n_draft, ge=1)
    if not callable(getattr(draft, "propose", None)):
        raise ValueError(f"draft must have a propose(seq, n) method, got {type(draft).__name__}")
    stats = SpeculativeStats()
    cache = KVCache(model.config.n_layer)
    seq = idx[0]
    if seq.numel() > 1:
        forward(model, idx[:, :-1], cache)  # prefill: the cache holds all but the last token
    while stats.new_tokens < max_new_tokens:
        room = max_new_tokens - stats.new_tokens - 1  # the round adds a corrected or bonus token anyway
        guesses = draft.propose(seq, min(n_draft, room)) if room > 0 else torch.zeros(0, dtype=torch.long)
        guesses = guesses[: min(n_draft, room)].to(seq.device)
        logits = forward(model, torch.cat([seq[-1:], guesses])[None], cache)
        best = logits[0].argmax(-1)  # g_0..g_m
        stats.target_calls += 1
        a = 0
        while a < guesses.numel() and int(guesses[a]) == int(best[a]):
            a += 1
        stats.drafted += guesses.numel()
        stats.accepted += a
        cache.crop(seq.numel() + a)  # the last token and the accepted guesses stay
        seq = torch.cat([seq, guesses[:a], best[a : a + 1]])
        stats.new_tokens += a + 1
    return seq[None, : idx.shape[1] + max_new_tokens], stats


def speculative_sample(
    p: torch.Tensor, q: torch.Tensor, token: int, generator: torch.Generator | None = None
) -> tuple[int, bool]:
    r"""Accept or replace one token that the draft sampled from `q`, so that the result follows `p`.

    The draft's token $x \sim q$ is kept with probability $\min(1, p(x)/q(x))$; otherwise a token is drawn
    from the residual $\max(0, p - q)$, renormalised. Over both steps the output is distributed exactly as
    $p$ (Leviathan et al. 2023, appendix A.1).

    Args:
        p: the target's probabilities (V,).
        q: the draft's probabilities (V,), which sampled `token`.
        token: the draft's token, an index into `p` and `q` with ``q[token] > 0``.
        generator: the random source, for reproducible runs.

    Returns:
        ``(token, accepted)``: the token to emit and whether it was the draft's.
    """
    check_tensor("p", p)
    check_tensor("q", q)
    if p.dim() != 1 or p.shape != q.shape:
        raise ValueError(f"p and q must be 1-D of the same length, got {tuple(p.shape)} and {tuple(q.shape)}")
    check_int("token", token, ge=0, lt=p.numel())
    if q[token] <= 0:
        raise ValueError(
            f"token must have q[token] > 0 (the draft sampled it), got q[{token}] = {float(q[token])}"
        )
    u = torch.rand((), generator=generator, dtype=p.dtype)
    if u < torch.clamp(p[token] / q[token], max=1.0):
        return token, True
    residual = torch.clamp(p - q, min=0)
    return int(torch.multinomial(residual / residual.sum(), 1, generator=generator)), False
