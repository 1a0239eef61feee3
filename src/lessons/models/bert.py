r"""BERT (Devlin et al., 2019): a Transformer encoder pre-trained as a masked language model.

Two pieces. `mask_tokens` prepares a masked-language-model batch: it selects 15% of the ordinary tokens
and replaces 80% of those by ``[MASK]``, 10% by a random token and leaves 10% unchanged, with the labels
set to ``-100`` (ignored by ``F.cross_entropy``) everywhere else, as Hugging Face's
``DataCollatorForLanguageModeling`` does. `Bert` is the encoder itself, built from
`lessons.models.transformer.EncoderLayer` (post-norm, GELU, LayerNorm $\epsilon = 10^{-12}$), with learned
position and segment embeddings and the ``[CLS]`` pooler; `Bert.from_huggingface` copies the weights of
any ``transformers.BertModel`` into it and gives the same hidden states.

Examples:
    >>> import torch
    >>> model = Bert(vocab_size=50, d_model=16, n_heads=2, n_layers=1, d_ff=32, max_len=8).eval()
    >>> ids = torch.tensor([[2, 7, 9, 3, 0], [2, 5, 3, 0, 0]])
    >>> model(ids, attention_mask=(ids != 0).long()).shape
    torch.Size([2, 5, 16])
    >>> inputs, labels = mask_tokens(ids, 50, mask_id=4, special_ids=[0, 2, 3], p=0.5)
    >>> bool((labels[ids == 0] == -100).all())
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from lessons.checks import check_float, check_int, check_token_ids
from lessons.models.transformer import EncoderLayer

__all__ = ["Bert", "mask_tokens"]

#: The label of a position the MLM loss ignores (``F.cross_entropy``'s default ``ignore_index``).
IGNORE_INDEX = -100


def mask_tokens(
    ids: torch.Tensor,
    vocab_size: int,
    mask_id: int,
    special_ids: Sequence[int],
    generator: torch.Generator | None = None,
    p: float = 0.15,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt a batch for masked language modelling with BERT's 80/10/10 rule.

    Each token whose id is not in `special_ids` is *selected* with probability `p`. A selected token is
    replaced by `mask_id` with probability 0.8, by a random ordinary token (drawn uniformly from the ids
    that are neither special nor `mask_id`) with probability 0.1, and kept with probability 0.1. Special
    tokens (``[CLS]``, ``[SEP]``, ``[PAD]`` ...) are never selected.

    Args:
        ids: ``(...)`` integer token ids, e.g. ``(batch, length)``, each in ``[0, vocab_size)``.
        vocab_size: the size of the vocabulary.
        mask_id: the id of ``[MASK]``.
        special_ids: ids that are never selected (padding included).
        generator: the random generator (for reproducible masks); default torch's global one.
        p: the selection probability, in ``(0, 1)``.

    Returns:
        ``(inputs, labels)``, both shaped like `ids` (long): `inputs` is the corrupted copy the model reads;
        `labels` holds the original id at the selected positions and ``-100`` everywhere else.

    Raises:
        TypeError: `ids` is not an integer tensor, `generator` not a ``torch.Generator``, or an id not an int.
        ValueError: an id is outside ``[0, vocab_size)`` or `p` outside ``(0, 1)``.
    """
    vocab_size = check_int("vocab_size", vocab_size, ge=2)
    ids = check_token_ids("ids", ids, vocab_size)
    mask_id = check_int("mask_id", mask_id, ge=0, lt=vocab_size)
    if isinstance(special_ids, str | bytes) or not isinstance(special_ids, Sequence | set | frozenset):
        raise TypeError(f"special_ids must be a sequence of ints, got {type(special_ids).__name__}")
    special = sorted({check_int("special_ids", s, ge=0) for s in special_ids})
    if special and special[-1] >= vocab_size:
        raise ValueError(f"special_ids must be in [0, {vocab_size}), got {special[-1]}")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    p = check_float("p", p, gt=0, lt=1)
    ordinary = torch.ones(vocab_size, dtype=torch.bool)
    ordinary[special + [mask_id]] = False
    pool = ordinary.nonzero().squeeze(1)  # the ids a random replacement may take
    if pool.numel() == 0:
        raise ValueError("special_ids and mask_id cover the whole vocabulary: no token can be drawn")

    ids = ids.long()
    is_special = torch.isin(ids, torch.tensor(special, dtype=torch.long, device=ids.device))
    selected = (torch.rand(ids.shape, generator=generator) < p).to(ids.device) & ~is_special
    u = torch.rand(ids.shape, generator=generator).to(ids.device)  # one draw decides mask / random / keep
    random_ids = pool[torch.randint(pool.numel(), ids.shape, generator=generator)].to(ids.device)
    inputs = torch.where(selected & (u < 0.8), mask_id, ids)
    inputs = torch.where(selected & (u >= 0.8) & (u < 0.9), random_ids, inputs)
    labels = torch.where(selected, ids, IGNORE_INDEX)
    return inputs, labels


class Bert(nn.Module):
    r"""The BERT encoder: token + learned position + segment embeddings, a LayerNorm and dropout, then
    `n_layers` post-norm `EncoderLayer`\ s with GELU, and a pooler $\tanh(W h_\text{[CLS]} + b)$.

    Defaults are BERT-base's (``transformers.BertConfig()``). Parameter names are the course's
    (``layers.0.self_attn.in_proj_weight`` ...); `from_huggingface` maps Hugging Face's names onto them.

    Args:
        vocab_size: the vocabulary size (30,522 for the uncased WordPiece vocabulary).
        d_model: width, ``hidden_size`` (768).
        n_heads: attention heads (12); must divide `d_model`.
        n_layers: encoder layers (12).
        d_ff: feed-forward width, ``intermediate_size`` (3072).
        max_len: the context, ``max_position_embeddings`` (512).
        type_vocab_size: number of segments (2: sentence A and sentence B).
        dropout: dropout on the embeddings and in every layer (0.1).
        layer_norm_eps: $\epsilon$ of every LayerNorm (1e-12).
        pooler: build the ``[CLS]`` pooler (a ``BertModel(add_pooling_layer=False)`` has none).

    Shapes: ``forward(input_ids (B, L) long, attention_mask (B, L) 0/1 or bool | None,
    token_type_ids (B, L) long | None) -> hidden states (B, L, d_model)`` with ``L <= max_len``;
    ``pool(hidden (B, L, d_model)) -> (B, d_model)``.
    """

    def __init__(
        self,
        vocab_size: int = 30522,
        d_model: int = 768,
        n_heads: int = 12,
        n_layers: int = 12,
        d_ff: int = 3072,
        max_len: int = 512,
        type_vocab_size: int = 2,
        dropout: float = 0.1,
        layer_norm_eps: float = 1e-12,
        *,
        pooler: bool = True,
    ) -> None:
        super().__init__()
        for name, v in (
            ("vocab_size", vocab_size),
            ("d_model", d_model),
            ("n_heads", n_heads),
            ("n_layers", n_layers),
            ("d_ff", d_ff),
            ("max_len", max_len),
            ("type_vocab_size", type_vocab_size),
        ):
            check_int(name, v, ge=1)
        if d_model % n_heads:
            raise ValueError(
                f"d_model must be divisible by n_heads, got d_model={d_model}, n_heads={n_heads}"
            )
        self.vocab_size, self.d_model, self.max_len = vocab_size, d_model, max_len
        self.type_vocab_size = type_vocab_size
        self.word_embeddings = nn.Embedding(vocab_size, d_model)
        self.position_embeddings = nn.Embedding(max_len, d_model)
        self.token_type_embeddings = nn.Embedding(type_vocab_size, d_model)
        self.embed_norm = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.embed_dropout = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, n_heads, d_ff, dropout, activation="gelu", layer_norm_eps=layer_norm_eps)
            for _ in range(n_layers)
        )
        self.pooler = nn.Linear(d_model, d_model) if pooler else None

    def key_mask(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor | None:
        """Turn Hugging Face's ``(B, L)`` attention mask (1 = real token) into the layers' ``(B, 1, L)``
        bool key mask (True = may attend); None stays None."""
        if attention_mask is None:
            return None
        if not isinstance(attention_mask, torch.Tensor):
            raise TypeError(f"attention_mask must be a torch.Tensor, got {type(attention_mask).__name__}")
        if attention_mask.shape != input_ids.shape:
            raise ValueError(
                f"attention_mask must have the shape of input_ids {tuple(input_ids.shape)}, "
                f"got {tuple(attention_mask.shape)}"
            )
        keep = attention_mask.bool()
        if not bool(keep.any(dim=-1).all()):
            raise ValueError("attention_mask must keep at least one token of every sequence")
        return keep[:, None, :]

    def embed(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """``input_ids (B, L), token_type_ids (B, L) | None -> (B, L, d_model)``: the sum of the three
        embeddings, normalised (and dropped out in training). Segment 0 when `token_type_ids` is None."""
        check_token_ids("input_ids", input_ids, self.vocab_size)
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must have shape (batch, length), got {tuple(input_ids.shape)}")
        L = input_ids.shape[1]
        if self.max_len < L:
            raise ValueError(
                f"input_ids has length {L}, longer than the context max_len={self.max_len} "
                "(max_position_embeddings)"
            )
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        check_token_ids("token_type_ids", token_type_ids, self.type_vocab_size)
        if token_type_ids.shape != input_ids.shape:
            raise ValueError(
                f"token_type_ids must have the shape of input_ids {tuple(input_ids.shape)}, "
                f"got {tuple(token_type_ids.shape)}"
            )
        positions = torch.arange(L, device=input_ids.device)
        x = (
            self.word_embeddings(input_ids)
            + self.position_embeddings(positions)
            + self.token_type_embeddings(token_type_ids)
        )
        return self.embed_dropout(self.embed_norm(x))

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = self.embed(input_ids, token_type_ids)
        mask = self.key_mask(input_ids, attention_mask)
        for layer in self.layers:
            x = layer(x, mask)
        return x

    def pool(self, hidden: torch.Tensor) -> torch.Tensor:
        """``hidden (B, L, d_model) -> (B, d_model)``: $\\tanh(W h_0 + b)$ at the ``[CLS]`` position, the
        input of BERT's next-sentence classifier."""
        if self.pooler is None:
            raise ValueError("this model was built with pooler=False")
        if hidden.dim() != 3 or hidden.shape[-1] != self.d_model:
            raise ValueError(
                f"hidden must have shape (batch, length, {self.d_model}), got {tuple(hidden.shape)}"
            )
        return torch.tanh(self.pooler(hidden[:, 0]))

    @classmethod
    def from_huggingface(cls, hf_model: Any) -> Bert:
        """Build a `Bert` from a ``transformers.BertModel``: its config gives the sizes, its weights are
        copied name by name (query, key and value stacked into one ``in_proj_weight``).

        Args:
            hf_model: a ``transformers.BertModel`` (with or without its pooler), in any mode.

        Returns:
            A `Bert` in eval mode whose ``forward`` equals ``hf_model(...).last_hidden_state`` and whose
            ``pool`` equals its ``pooler_output``.

        Raises:
            TypeError: `hf_model` is not a ``BertModel``.
            ValueError: its config uses what this class does not implement (another activation, relative
                position embeddings, a decoder).
        """
        from transformers import BertModel

        if not isinstance(hf_model, BertModel):
            raise TypeError(f"hf_model must be a transformers.BertModel, got {type(hf_model).__name__}")
        c = hf_model.config
        if c.hidden_act != "gelu":
            raise ValueError(f"hf_model.config.hidden_act must be 'gelu', got {c.hidden_act!r}")
        position_type = getattr(c, "position_embedding_type", "absolute")
        if position_type != "absolute":
            raise ValueError(
                f"hf_model.config.position_embedding_type must be 'absolute', got {position_type!r}"
            )
        if c.is_decoder:
            raise ValueError("hf_model.config.is_decoder must be False: this is an encoder")
        model = cls(
            c.vocab_size,
            c.hidden_size,
            c.num_attention_heads,
            c.num_hidden_layers,
            c.intermediate_size,
            c.max_position_embeddings,
            c.type_vocab_size,
            c.hidden_dropout_prob,
            c.layer_norm_eps,
            pooler=hf_model.pooler is not None,
        )
        hf = hf_model.state_dict()
        ours = {
            "word_embeddings.weight": hf["embeddings.word_embeddings.weight"],
            "position_embeddings.weight": hf["embeddings.position_embeddings.weight"],
            "token_type_embeddings.weight": hf["embeddings.token_type_embeddings.weight"],
            "embed_norm.weight": hf["embeddings.LayerNorm.weight"],
            "embed_norm.bias": hf["embeddings.LayerNorm.bias"],
        }
        renames = {  # ours <- Hugging Face's, inside one layer
            "self_attn.out_proj": "attention.output.dense",
            "norm1": "attention.output.LayerNorm",
            "linear1": "intermediate.dense",
            "linear2": "output.dense",
            "norm2": "output.LayerNorm",
        }
        for i in range(c.num_hidden_layers):
            src = f"encoder.layer.{i}."
            for kind in ("weight", "bias"):
                qkv = [hf[f"{src}attention.self.{n}.{kind}"] for n in ("query", "key", "value")]
                ours[f"layers.{i}.self_attn.in_proj_{kind}"] = torch.cat(qkv)
                for mine, theirs in renames.items():
                    ours[f"layers.{i}.{mine}.{kind}"] = hf[f"{src}{theirs}.{kind}"]
        if model.pooler is not None:
            ours["pooler.weight"], ours["pooler.bias"] = hf["pooler.dense.weight"], hf["pooler.dense.bias"]
        model.load_state_dict(ours)  # strict: every parameter of ours is filled, nothing is left over
        return model.eval()
