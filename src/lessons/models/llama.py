r"""LLaMA: a decoder-only Transformer with the changes Touvron et al. (2023) made to GPT-2's recipe.

Each block is pre-norm with RMSNorm, $x \leftarrow x + \mathrm{attn}(\mathrm{RMS}_1(x))$ then
$x \leftarrow x + \mathrm{SwiGLU}(\mathrm{RMS}_2(x))$; positions enter only through rotary embeddings (RoPE)
applied to queries and keys; attention may share each key/value head between several query heads
(grouped-query attention); no linear layer has a bias. `Llama.from_huggingface` copies any
``transformers.LlamaForCausalLM`` (config and weights, GQA and tied embeddings included) into this model,
which then gives the same logits.

Examples:
    >>> import torch
    >>> cfg = LlamaConfig(vocab_size=20, dim=8, n_layer=1, n_head=2, n_kv_head=1, hidden_dim=16)
    >>> Llama(cfg).eval()(torch.zeros(1, 3, dtype=torch.long)).shape
    torch.Size([1, 3, 20])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lessons.checks import check_float, check_int, check_tensor, check_token_ids

__all__ = [
    "Attention",
    "Block",
    "Llama",
    "LlamaConfig",
    "RMSNorm",
    "SwiGLU",
    "apply_rope",
    "rope_cos_sin",
]


@dataclass(frozen=True)
class LlamaConfig:
    """Sizes of a LLaMA-style model.

    Attributes:
        vocab_size: number of token ids.
        dim: width of the residual stream.
        n_layer: number of decoder blocks.
        n_head: number of query heads.
        n_kv_head: number of key/value heads; must divide ``n_head`` (``n_head`` gives plain multi-head).
        hidden_dim: width of the SwiGLU hidden layer.
        head_dim: width of one head (``dim // n_head`` when ``None``).
        rope_theta: base of the rotary frequencies.
        eps: RMSNorm's epsilon.
        tie_embeddings: whether the output layer shares the token embedding's weight.
    """

    vocab_size: int
    dim: int
    n_layer: int
    n_head: int
    n_kv_head: int
    hidden_dim: int
    head_dim: int | None = None
    rope_theta: float = 10000.0
    eps: float = 1e-5
    tie_embeddings: bool = False

    def __post_init__(self) -> None:
        for name in ("vocab_size", "dim", "n_layer", "n_head", "n_kv_head", "hidden_dim"):
            check_int(name, getattr(self, name), ge=1)
        if self.n_head % self.n_kv_head:
            raise ValueError(
                f"n_kv_head must divide n_head, got n_head={self.n_head}, n_kv_head={self.n_kv_head}"
            )
        if self.head_dim is None:
            if self.dim % self.n_head:
                raise ValueError(f"n_head must divide dim when head_dim is None, got dim={self.dim}")
            object.__setattr__(self, "head_dim", self.dim // self.n_head)
        check_int("head_dim", self.head_dim, ge=2)
        if self.head_dim % 2:
            raise ValueError(f"head_dim must be even for RoPE, got {self.head_dim}")
        check_float("rope_theta", self.rope_theta, ge=1.0)
        check_float("eps", self.eps, ge=0.0)

    @property
    def hd(self) -> int:
        """``head_dim`` as an int (always set after construction)."""
        assert self.head_dim is not None
        return self.head_dim


class RMSNorm(nn.Module):
    r"""$y = g \odot x / \sqrt{\mathrm{mean}(x^2) + \epsilon}$ over the last axis, computed in float32."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        check_int("dim", dim, ge=1)
        check_float("eps", eps, ge=0.0)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        y = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * y.to(x.dtype)


def rope_cos_sin(
    positions: torch.Tensor, head_dim: int, theta: float = 10000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Cosines and sines of the angles $m\,\theta^{-2i/d}$, (T, head_dim), halves repeated."""
    check_int("head_dim", head_dim, ge=2)
    if head_dim % 2:
        raise ValueError(f"head_dim must be even, got {head_dim}")
    check_float("theta", theta, ge=1.0)
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim)
    angles = positions.float()[:, None] * inv_freq[None, :]
    emb = torch.cat([angles, angles], dim=-1)
    return emb.cos(), emb.sin()


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs ``(x[i], x[i + d/2])`` of ``x`` (…, T, d) by the angles whose cos/sin are given (T, d)."""
    check_tensor("x", x)
    if x.shape[-2:] != cos.shape or cos.shape != sin.shape:
        raise ValueError(f"cos and sin must have shape {tuple(x.shape[-2:])}, got {tuple(cos.shape)}")
    return x * cos.to(x.dtype) + _rotate_half(x) * sin.to(x.dtype)


class SwiGLU(nn.Module):
    r"""$\mathrm{down}(\mathrm{SiLU}(\mathrm{gate}(x)) \odot \mathrm{up}(x))$, no biases (Shazeer 2020)."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        check_int("dim", dim, ge=1)
        check_int("hidden_dim", hidden_dim, ge=1)
        self.gate_proj = nn.Linear(dim, hidden_dim, bias=False)
        self.up_proj = nn.Linear(dim, hidden_dim, bias=False)
        self.down_proj = nn.Linear(hidden_dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Attention(nn.Module):
    """Causal grouped-query attention with RoPE; ``n_head`` query heads share ``n_kv_head`` K/V heads."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = config.n_head, config.n_kv_head, config.hd
        self.q_proj = nn.Linear(config.dim, config.n_head * config.hd, bias=False)
        self.k_proj = nn.Linear(config.dim, config.n_kv_head * config.hd, bias=False)
        self.v_proj = nn.Linear(config.dim, config.n_kv_head * config.hd, bias=False)
        self.o_proj = nn.Linear(config.n_head * config.hd, config.dim, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.n_head, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.n_kv_head, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.n_kv_head, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        group = self.n_head // self.n_kv_head
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(y.transpose(1, 2).reshape(b, t, self.n_head * self.head_dim))


class Block(nn.Module):
    """Pre-norm decoder block: ``x + attn(norm(x))`` then ``x + mlp(norm(x))``."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(config.dim, config.eps)
        self.self_attn = Attention(config)
        self.post_attention_layernorm = RMSNorm(config.dim, config.eps)
        self.mlp = SwiGLU(config.dim, config.hidden_dim)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Llama(nn.Module):
    """Token embedding, ``n_layer`` blocks, a final RMSNorm and the output layer; ``model(idx)`` = logits."""

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__()
        if not isinstance(config, LlamaConfig):
            raise ValueError(f"config must be a LlamaConfig, got {type(config).__name__}")
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.dim)
        self.layers = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.norm = RMSNorm(config.dim, config.eps)
        self.lm_head = nn.Linear(config.dim, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.embed_tokens.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, vocab_size) for token ids ``idx`` (B, T)."""
        check_token_ids("idx", idx, self.config.vocab_size, ndim=2)
        positions = torch.arange(idx.shape[1], device=idx.device)
        cos, sin = rope_cos_sin(positions, self.config.hd, self.config.rope_theta)
        cos, sin = cos.to(idx.device), sin.to(idx.device)
        x = self.embed_tokens(idx)
        for block in self.layers:
            x = block(x, cos, sin)
        return self.lm_head(self.norm(x))

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int) -> torch.Tensor:
        """Greedy decoding: append the arg-max token ``max_new_tokens`` times (no cache)."""
        check_int("max_new_tokens", max_new_tokens, ge=0)
        for _ in range(max_new_tokens):
            nxt = self(idx)[:, -1].argmax(-1, keepdim=True)
            idx = torch.cat([idx, nxt], dim=1)
        return idx

    @classmethod
    def from_huggingface(cls, hf_model: Any) -> Llama:
        """Build a `Llama` with the config and weights of a ``transformers.LlamaForCausalLM``."""
        hf_config = getattr(hf_model, "config", None)
        if getattr(hf_config, "model_type", None) != "llama":
            raise ValueError(f"hf_model must be a LlamaForCausalLM, got {type(hf_model).__name__}")
        if getattr(hf_config, "attention_bias", False) or getattr(hf_config, "mlp_bias", False):
            raise ValueError("hf_model uses biases, which this model has not")
        rope = getattr(hf_config, "rope_parameters", None) or {}
        if rope.get("rope_type", "default") != "default":
            raise ValueError(
                f"hf_model uses rope_type {rope.get('rope_type')!r}; only 'default' is supported"
            )
        theta = rope.get("rope_theta", getattr(hf_config, "rope_theta", 10000.0))
        config = LlamaConfig(
            vocab_size=hf_config.vocab_size,
            dim=hf_config.hidden_size,
            n_layer=hf_config.num_hidden_layers,
            n_head=hf_config.num_attention_heads,
            n_kv_head=hf_config.num_key_value_heads or hf_config.num_attention_heads,
            hidden_dim=hf_config.intermediate_size,
            head_dim=getattr(hf_config, "head_dim", None),
            rope_theta=float(theta),
            eps=float(hf_config.rms_norm_eps),
            tie_embeddings=bool(getattr(hf_config, "tie_word_embeddings", False)),
        )
        model = cls(config)
        state = {k.removeprefix("model."): v for k, v in hf_model.state_dict().items()}
        if config.tie_embeddings:
            state.pop("lm_head.weight", None)
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [m for m in missing if not (config.tie_embeddings and m == "lm_head.weight")]
        if missing or unexpected:
            raise ValueError(f"hf_model's weights do not match: missing {missing}, unexpected {unexpected}")
        return model.to(next(hf_model.parameters()).dtype)
