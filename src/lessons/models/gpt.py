r"""GPT: a decoder-only Transformer trained to predict the next token (Radford et al. 2018, 2019), written
the way GPT-2 lays out its weights, so that `GPT.from_huggingface` copies any
``transformers.GPT2LMHeadModel`` into it and gives the same logits.

The model is pre-norm: each block computes $x \leftarrow x + \mathrm{attn}(\mathrm{LN}_1(x))$, then
$x \leftarrow x + \mathrm{MLP}(\mathrm{LN}_2(x))$, with causal self-attention; a final LayerNorm and a linear
layer (tied to the token embedding by default) give the logits. Parameter names follow GPT-2's
(``transformer.h.0.attn.c_attn.weight`` ...), as nanoGPT's do.

Decoding helpers (`apply_temperature`, `top_k_filter`, `top_p_filter`) act on a batch of logits and equal
the logits processors of ``transformers``; `GPT.generate` decodes greedily or by sampling, with or without
a `KVCache`, and `GPT.beam_search` keeps the best ``num_beams`` sequences.

Examples:
    >>> import torch
    >>> model = GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=1, n_head=2, n_embd=8)).eval()
    >>> idx = torch.zeros(1, 3, dtype=torch.long)
    >>> model(idx).shape
    torch.Size([1, 3, 20])
    >>> model.generate(idx, 5).shape
    torch.Size([1, 8])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from lessons.checks import check_choice, check_float, check_int, check_tensor, check_token_ids
from lessons.models.transformer import scaled_dot_product_attention

__all__ = [
    "GPT",
    "GPTConfig",
    "KVCache",
    "apply_temperature",
    "top_k_filter",
    "top_p_filter",
]

Activation = Literal["gelu_new", "gelu_pytorch_tanh", "gelu", "relu"]
_ACTIVATIONS = ("gelu_new", "gelu_pytorch_tanh", "gelu", "relu")


@dataclass(frozen=True)
class GPTConfig:
    """The sizes of a GPT. The defaults are GPT-2 small's (``transformers.GPT2Config()``).

    Args:
        vocab_size: number of token ids ``V``.
        block_size: the context: the longest sequence the model accepts (GPT-2's ``n_positions``).
        n_layer: number of blocks.
        n_head: attention heads per block; must divide `n_embd`.
        n_embd: width ``d`` of the residual stream.
        n_inner: hidden width of the MLP; ``None`` means ``4 * n_embd``.
        dropout: dropout on the embeddings, the attention weights and each block's two outputs.
        layer_norm_eps: epsilon of the LayerNorms.
        activation: the MLP's nonlinearity; GPT-2's ``"gelu_new"`` is GELU with the tanh approximation.
        tie_embeddings: use the token embedding as the output layer's weight.

    Raises:
        TypeError: a size is not an int.
        ValueError: a size is below 1, `n_embd` is not divisible by `n_head`, `dropout` is outside
            ``[0, 1)`` or `activation` is unknown.
    """

    vocab_size: int = 50257
    block_size: int = 1024
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    n_inner: int | None = None
    dropout: float = 0.0
    layer_norm_eps: float = 1e-5
    activation: Activation = "gelu_new"
    tie_embeddings: bool = True

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            check_int(name, getattr(self, name), ge=1)
        if self.n_inner is not None:
            check_int("n_inner", self.n_inner, ge=1)
        if self.n_embd % self.n_head:
            raise ValueError(
                f"n_embd must be divisible by n_head, got n_embd={self.n_embd}, n_head={self.n_head}"
            )
        check_float("dropout", self.dropout, ge=0, lt=1)
        check_choice("activation", self.activation, _ACTIVATIONS)

    @property
    def d_ff(self) -> int:
        """The MLP's hidden width: `n_inner`, or ``4 * n_embd``."""
        return self.n_inner if self.n_inner is not None else 4 * self.n_embd

    @classmethod
    def from_huggingface(cls, hf_config: Any) -> GPTConfig:
        """The same sizes as a ``transformers.GPT2Config``.

        Raises:
            TypeError: `hf_config` is not a ``GPT2Config``.
            ValueError: it asks for something this model does not do (attention scaled by the layer
                index, no ``1/sqrt(d_k)`` scale, an unknown activation).
        """
        from transformers import GPT2Config

        if not isinstance(hf_config, GPT2Config):
            raise TypeError(f"hf_config must be a transformers.GPT2Config, got {type(hf_config).__name__}")
        if not hf_config.scale_attn_weights or hf_config.scale_attn_by_inverse_layer_idx:
            raise ValueError("hf_config must scale attention by 1/sqrt(d_k) only, as GPT-2 does")
        return cls(
            vocab_size=hf_config.vocab_size,
            block_size=hf_config.n_positions,
            n_layer=hf_config.n_layer,
            n_head=hf_config.n_head,
            n_embd=hf_config.n_embd,
            n_inner=hf_config.n_inner,
            dropout=hf_config.resid_pdrop,
            layer_norm_eps=hf_config.layer_norm_epsilon,
            activation=hf_config.activation_function,
            tie_embeddings=hf_config.tie_word_embeddings,
        )


class KVCache:
    """The keys and values of the tokens seen so far, one pair per layer, so that a new token attends to
    them without recomputing them.

    Each entry of `keys` and `values` is ``(B, n_head, T, d_k)`` once the first forward pass has filled it;
    `GPT.forward` appends to them. `length` is ``T``.

    Args:
        n_layer: number of layers of the model that will fill it.
    """

    def __init__(self, n_layer: int) -> None:
        check_int("n_layer", n_layer, ge=1)
        self.keys: list[torch.Tensor | None] = [None] * n_layer
        self.values: list[torch.Tensor | None] = [None] * n_layer

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def length(self) -> int:
        """The number of cached positions ``T`` (0 before the first forward pass)."""
        k = self.keys[0]
        return 0 if k is None else k.shape[2]

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append ``k, v (B, h, T_new, d_k)`` to layer `layer`'s cache; return all its keys and values,
        ``(B, h, T + T_new, d_k)`` each."""
        old_k, old_v = self.keys[layer], self.values[layer]
        if old_k is not None and old_v is not None:
            k, v = torch.cat([old_k, k], dim=2), torch.cat([old_v, v], dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v

    def reorder(self, index: torch.Tensor) -> None:
        """Keep the rows `index` ``(B',)`` of every cached tensor (beam search follows its beams this way)."""
        for i, (k, v) in enumerate(zip(self.keys, self.values, strict=True)):
            if k is not None and v is not None:
                self.keys[i], self.values[i] = k.index_select(0, index), v.index_select(0, index)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with GPT-2's names: ``c_attn`` projects ``x`` to the stacked
    queries, keys and values, ``c_proj`` mixes the heads.

    Shapes: ``forward(x (B, T, d), cache, layer) -> (B, T, d)``. With a `KVCache` holding ``S`` earlier
    positions, the ``T`` new queries attend to all ``S + T`` keys up to their own position.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        d = config.n_embd
        self.n_head, self.d_k = config.n_head, d // config.n_head
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.attn_dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        B, T, d = x.shape
        q, k, v = (
            t.view(B, T, self.n_head, self.d_k).transpose(1, 2) for t in self.c_attn(x).split(d, dim=2)
        )
        if cache is None:
            out, weights = scaled_dot_product_attention(q, k, v, causal=True)
        else:
            k, v = cache.update(layer, k, v)
            S = k.shape[2]  # new query i sits at position S - T + i and sees keys 0 .. S - T + i
            mask = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=S - T)
            out, weights = scaled_dot_product_attention(q, k, v, mask)
        if self.training and self.attn_dropout > 0:
            out = F.dropout(weights, self.attn_dropout) @ v
        out = out.transpose(1, 2).reshape(B, T, d)  # concatenate the heads
        return self.resid_dropout(self.c_proj(out))


class MLP(nn.Module):
    """The position-wise feed-forward network: ``c_fc`` (d → d_ff), the activation, ``c_proj`` (d_ff → d).

    Shapes: ``(B, T, d) -> (B, T, d)``.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, config.d_ff)
        self.c_proj = nn.Linear(config.d_ff, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)
        self.activation = config.activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.c_fc(x)
        if self.activation == "relu":
            h = F.relu(h)
        else:  # gelu_new and gelu_pytorch_tanh are both the tanh approximation
            h = F.gelu(h, approximate="none" if self.activation == "gelu" else "tanh")
        return self.dropout(self.c_proj(h))


class Block(nn.Module):
    """One pre-norm decoder block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``.

    Shapes: ``(B, T, d) -> (B, T, d)``.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


# GPT-2 stores these weights as Conv1D, (in_features, out_features): the transpose of nn.Linear's.
_CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def _check_logits(logits: object) -> torch.Tensor:
    check_tensor("logits", logits)
    if logits.dim() != 2 or not logits.is_floating_point():
        raise ValueError(
            f"logits must be a (batch, vocab_size) float tensor, got {logits.dtype} {tuple(logits.shape)}"
        )
    return logits


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide `logits` ``(B, V)`` by `temperature` (> 0): below 1 sharpens the softmax, above 1 flattens it.

    Returns:
        ``(B, V)``, equal to ``transformers.TemperatureLogitsWarper(temperature)``.
    """
    _check_logits(logits)
    check_float("temperature", temperature, gt=0)
    return logits / temperature


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the `k` largest logits of each row of `logits` ``(B, V)`` and set the others to ``-inf``.

    Ties with the k-th largest value are kept, as ``transformers.TopKLogitsWarper`` does (it is equal to
    it); a `k` above ``V`` keeps everything.
    """
    _check_logits(logits)
    check_int("k", k, ge=1)
    k = min(k, logits.shape[-1])
    kth = logits.topk(k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Nucleus filtering (Holtzman et al. 2020): keep, in each row of `logits` ``(B, V)``, the smallest set
    of most probable tokens whose probabilities add up to at least `p`; set the others to ``-inf``.

    Equal to ``transformers.TopPLogitsWarper(p)``; the most probable token is always kept.
    """
    _check_logits(logits)
    check_float("p", p, gt=0, le=1)
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    drop_sorted = (cum - sorted_logits.softmax(dim=-1)) >= p  # the mass before this token already reaches p
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


class GPT(nn.Module):
    r"""The GPT language model: token and position embeddings, `n_layer` pre-norm blocks, a final LayerNorm
    and the output layer.

    Weights start as GPT-2's do: normal with std 0.02, and the two projections back into the residual
    stream (``c_proj``) scaled by $1/\sqrt{2 n_\text{layer}}$.

    Args:
        config: the sizes.

    Shapes: ``forward(idx (B, T) long, cache=None) -> logits (B, T, vocab_size)``, with
    ``cache.length + T <= block_size``; position ``t`` of the logits predicts token ``t + 1``.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}")
        self.config = config
        self.transformer = nn.ModuleDict(
            {
                "wte": nn.Embedding(config.vocab_size, config.n_embd),
                "wpe": nn.Embedding(config.block_size, config.n_embd),
                "drop": nn.Dropout(config.dropout),
                "h": nn.ModuleList(Block(config) for _ in range(config.n_layer)),
                "ln_f": nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps),
            }
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.transformer["wte"].weight
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def _check_idx(self, idx: object, past: int = 0) -> torch.Tensor:
        idx = check_token_ids("idx", idx, self.config.vocab_size)
        if idx.dim() != 2 or idx.shape[1] == 0:
            raise ValueError(f"idx must have shape (batch, length) with length >= 1, got {tuple(idx.shape)}")
        T = idx.shape[1]
        if past + T > self.config.block_size:
            where = f" after {past} cached positions" if past else ""
            raise ValueError(
                f"idx has length {T}{where}, longer than the context block_size={self.config.block_size}"
            )
        return idx

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """``idx (B, T) -> logits (B, T, vocab_size)``. With a `cache`, `idx` continues the cached positions
        and the cache grows by ``T``.

        Raises:
            TypeError: `idx` is not a long tensor, or `cache` is not a `KVCache`.
            ValueError: `idx` is not 2-D, holds an id outside the vocabulary, or is longer than the context.
        """
        if cache is not None and not isinstance(cache, KVCache):
            raise TypeError(f"cache must be a KVCache, got {type(cache).__name__}")
        if cache is not None and len(cache) != self.config.n_layer:
            raise ValueError(f"cache has {len(cache)} layers, the model {self.config.n_layer}")
        past = 0 if cache is None else cache.length
        self._check_idx(idx, past)
        pos = torch.arange(past, past + idx.shape[1], device=idx.device)
        x = self.transformer["drop"](self.transformer["wte"](idx) + self.transformer["wpe"](pos))
        for layer, block in enumerate(self.transformer["h"]):
            x = block(x, cache, layer)
        return self.lm_head(self.transformer["ln_f"](x))

    @classmethod
    def from_huggingface(cls, hf_model: Any) -> GPT:
        """Build a `GPT` with the config and the weights of a ``transformers.GPT2LMHeadModel``.

        As nanoGPT's ``from_pretrained`` does: the parameter names are the same, and the four matrices
        that GPT-2 keeps as ``Conv1D`` (in, out) are transposed into ``nn.Linear`` (out, in). The new model
        is in the training mode of `hf_model` and on its device.

        Raises:
            TypeError: `hf_model` is not a ``GPT2LMHeadModel``.
            ValueError: its config is one this model does not implement, or a weight is missing or has
                another shape.
        """
        from transformers import GPT2LMHeadModel

        if not isinstance(hf_model, GPT2LMHeadModel):
            raise TypeError(f"hf_model must be a transformers.GPT2LMHeadModel, got {type(hf_model).__name__}")
        source = hf_model.state_dict()
        device = next(hf_model.parameters()).device
        model = cls(GPTConfig.from_huggingface(hf_model.config)).to(device)
        with torch.no_grad():
            for name, p in model.state_dict().items():
                if name not in source:
                    raise ValueError(f"hf_model has no weight {name!r}")
                w = source[name].t() if name.endswith(_CONV1D) else source[name]
                if w.shape != p.shape:
                    raise ValueError(
                        f"hf_model's {name} has shape {tuple(w.shape)}, expected {tuple(p.shape)}"
                    )
                p.copy_(w)
        return model.train(hf_model.training)

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        *,
        do_sample: bool = False,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
        return_logits: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Continue each row of `idx` ``(B, T)`` by `max_new_tokens` tokens.

        Each step takes the logits of the last position; greedy decoding (``do_sample=False``) picks their
        argmax, sampling applies `temperature`, then `top_k`, then `top_p` and draws from the softmax.
        With `use_cache` the keys and values of earlier positions are kept in a `KVCache`, so each step
        feeds one new token; without it each step runs the whole sequence again. Both give the same result.

        Returns:
            ``(B, T + max_new_tokens)`` ids; with `return_logits`, also the ``(B, max_new_tokens, V)`` logits
            each new token was chosen from (before temperature and filtering).

        Raises:
            ValueError: ``T + max_new_tokens`` is longer than the context, or a setting is out of range.
        """
        check_int("max_new_tokens", max_new_tokens, ge=1)
        self._check_idx(idx)
        if idx.shape[1] + max_new_tokens > self.config.block_size:
            raise ValueError(
                f"max_new_tokens={max_new_tokens} after {idx.shape[1]} prompt tokens is longer than the "
                f"context block_size={self.config.block_size}"
            )
        cache = KVCache(self.config.n_layer) if use_cache else None
        steps, new_input = [], idx
        for _ in range(max_new_tokens):
            logits = self(new_input if use_cache else idx, cache)[:, -1, :]  # (B, V)
            steps.append(logits)
            if do_sample:
                scores = apply_temperature(logits, temperature)
                if top_k is not None:
                    scores = top_k_filter(scores, top_k)
                if top_p is not None:
                    scores = top_p_filter(scores, top_p)
                nxt = torch.multinomial(scores.softmax(dim=-1), 1, generator=generator)
            else:
                nxt = logits.argmax(dim=-1, keepdim=True)
            idx, new_input = torch.cat([idx, nxt], dim=1), nxt
        return (idx, torch.stack(steps, dim=1)) if return_logits else idx

    @torch.no_grad()
    def beam_search(
        self, idx: torch.Tensor, max_new_tokens: int, num_beams: int, *, length_penalty: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Beam search with no end-of-sequence token: keep the `num_beams` continuations of the prompt
        `idx` ``(1, T)`` with the highest total log-probability, extend each by every token, keep the best
        `num_beams` again, `max_new_tokens` times. Uses a `KVCache`, reordered to follow the surviving beams.

        Returns:
            ``(sequences (num_beams, T + max_new_tokens), scores (num_beams,))``, best first; a score is the
            sum of the log-probabilities of the new tokens divided by ``max_new_tokens ** length_penalty``
            (all beams have that length, so the penalty changes the scores, not their order).

        Raises:
            ValueError: `idx` is not one sequence, a setting is out of range, or the result would be longer
                than the context.
        """
        check_int("num_beams", num_beams, ge=1)
        check_int("max_new_tokens", max_new_tokens, ge=1)
        self._check_idx(idx)
        if idx.shape[0] != 1:
            raise ValueError(f"idx must be one sequence, shape (1, length), got {tuple(idx.shape)}")
        if idx.shape[1] + max_new_tokens > self.config.block_size:
            raise ValueError(
                f"max_new_tokens={max_new_tokens} after {idx.shape[1]} prompt tokens is longer than the "
                f"context block_size={self.config.block_size}"
            )
        cache = KVCache(self.config.n_layer)
        seqs, scores = idx, torch.zeros(1, device=idx.device)  # (beams, T), (beams,)
        new_input = idx
        V = self.config.vocab_size
        for _ in range(max_new_tokens):
            logp = self(new_input, cache)[:, -1, :].log_softmax(dim=-1)  # (beams, V)
            total = (scores[:, None] + logp).flatten()  # every beam times every token
            scores, flat = total.topk(min(num_beams, total.numel()))
            beam, token = flat // V, flat % V
            cache.reorder(beam)
            seqs = torch.cat([seqs[beam], token[:, None]], dim=1)
            new_input = token[:, None]
        return seqs, scores / max_new_tokens**length_penalty
