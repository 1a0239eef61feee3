r"""The Vision Transformer of Dosovitskiy et al. (2021, arXiv:2010.11929), written out in plain torch: patch
embedding, a class token, learned or 2-D sine-cosine position embeddings, a stack of pre-norm encoder layers
(phase 7's `lessons.models.transformer.EncoderLayer`) and a linear head on the class token; and the hybrid
model of the same paper, where a convolutional stem makes the tokens.

The parameters follow Hugging Face's ``ViTForImageClassification`` one for one, so `ViT.from_huggingface`
copies a ``transformers`` model into this one (and the outputs agree to float rounding).

Examples:
    >>> import torch
    >>> model = ViT(image_size=28, patch_size=7, num_classes=10, dim=32, depth=2, heads=4, mlp_dim=64)
    >>> model(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> model.num_patches
    16
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from lessons.checks import check_choice, check_float, check_int, check_tensor
from lessons.models.transformer import EncoderLayer, sinusoidal_encoding

__all__ = [
    "HybridViT",
    "PatchEmbedding",
    "ViT",
    "patchify",
    "similarity_by_distance",
    "sincos_position_embedding_2d",
]


def _check_images(x: torch.Tensor, channels: int, size: int, model: str) -> None:
    check_tensor("x", x)
    if x.ndim != 4 or x.shape[1] != channels or x.shape[2] != size or x.shape[3] != size:
        raise ValueError(f"{model} expects x of shape (B, {channels}, {size}, {size}), got {tuple(x.shape)}")


def patchify(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into non-overlapping ``P×P`` patches and flatten each one, row by row of patches.

    Each patch is flattened channel first, then row, then column: the order of a ``Conv2d`` weight
    ``(D, C, P, P)`` reshaped to ``(D, C·P·P)``, so ``patchify(x, P) @ W.reshape(D, -1).T`` equals
    ``Conv2d(C, D, P, stride=P)`` without its bias.

    Args:
        x: ``(B, C, H, W)`` images; `H` and `W` divisible by `patch_size`.
        patch_size: ``P``.

    Returns:
        ``(B, N, C·P·P)`` with ``N = (H/P)·(W/P)`` patches.

    Raises:
        ValueError: `x` is not 4-D, or `H` or `W` is not divisible by `patch_size`.
    """
    check_tensor("x", x)
    P = check_int("patch_size", patch_size, ge=1)
    if x.ndim != 4:
        raise ValueError(f"x must have shape (B, C, H, W), got {tuple(x.shape)}")
    H, W = x.shape[-2:]
    if H % P or W % P:
        raise ValueError(f"image size {H}x{W} is not divisible by patch_size={P}")
    return F.unfold(x, kernel_size=P, stride=P).transpose(1, 2)  # (B, C*P*P, N) -> (B, N, C*P*P)


def sincos_position_embedding_2d(grid_size: int, dim: int) -> torch.Tensor:
    r"""Fixed 2-D sine-cosine position embeddings for a ``grid_size × grid_size`` grid of patches (as in MAE
    and "How to train your ViT"): the first ``dim/2`` features are phase 7's 1-D sinusoidal encoding of the
    patch's row, the last ``dim/2`` that of its column.

    Args:
        grid_size: patches per side, ``G``.
        dim: embedding width; divisible by 4 (sine-cosine pairs for each of the two axes).

    Returns:
        ``(G·G, dim)`` float32, one row per patch in row-major order (the order of `patchify`).

    Raises:
        ValueError: `grid_size` < 1 or `dim` not divisible by 4.
    """
    G = check_int("grid_size", grid_size, ge=1)
    check_int("dim", dim, ge=4)
    if dim % 4:
        raise ValueError(f"dim must be divisible by 4 for 2-D sine-cosine embeddings, got {dim}")
    pe = sinusoidal_encoding(G, dim // 2)  # (G, dim/2)
    rows = pe[:, None, :].expand(G, G, dim // 2)  # patch (i, j) gets the code of row i ...
    cols = pe[None, :, :].expand(G, G, dim // 2)  # ... and of column j
    return torch.cat([rows, cols], dim=-1).reshape(G * G, dim)


def similarity_by_distance(table: torch.Tensor) -> torch.Tensor:
    """Mean cosine similarity between the position embeddings of two patches, by their distance on the grid.

    A measured check of what position embeddings encode: if they encode the 2-D layout, patches that are
    close (in rows plus columns, ``|Δr| + |Δc|``) get more similar embeddings than patches far apart.

    Args:
        table: ``(G·G, D)`` embeddings of a ``G × G`` grid in row-major order (no class token).

    Returns:
        ``(2G - 2,)`` float: entry ``k - 1`` is the mean similarity over all pairs at distance ``k``.

    Raises:
        ValueError: `table` is not 2-D with a square number of rows (at least 4).
    """
    check_tensor("table", table)
    G = int(round(len(table) ** 0.5)) if table.ndim == 2 else 0
    if table.ndim != 2 or G < 2 or len(table) != G * G:
        raise ValueError(f"table must have shape (G*G, D) with G >= 2, got {tuple(table.shape)}")
    unit = F.normalize(table.detach().float(), dim=-1)
    sim = unit @ unit.T
    r, c = torch.arange(G).repeat_interleave(G), torch.arange(G).repeat(G)
    dist = (r[:, None] - r).abs() + (c[:, None] - c).abs()
    return torch.stack([sim[dist == k].mean() for k in range(1, 2 * G - 1)])


class PatchEmbedding(nn.Module):
    """Split an image into ``P×P`` patches and project each to a ``dim``-vector: a ``Conv2d`` whose kernel and
    stride are both ``P`` (the same as `patchify` followed by a linear layer with the same weights).

    Args:
        image_size: height and width of the (square) input; divisible by `patch_size`.
        patch_size: ``P``.
        in_channels: ``C``.
        dim: ``D``, the width of a token.

    Shapes: ``forward(x (B, C, image_size, image_size)) -> (B, N, D)`` with ``N = (image_size / P)²``.
    """

    def __init__(self, image_size: int, patch_size: int, in_channels: int, dim: int) -> None:
        super().__init__()
        check_int("image_size", image_size, ge=1)
        check_int("patch_size", patch_size, ge=1)
        check_int("in_channels", in_channels, ge=1)
        check_int("dim", dim, ge=1)
        if image_size % patch_size:
            raise ValueError(
                f"image_size must be divisible by patch_size, got image_size={image_size}, "
                f"patch_size={patch_size}"
            )
        self.image_size, self.patch_size, self.in_channels = image_size, patch_size, in_channels
        self.grid_size = image_size // patch_size
        self.num_patches = self.grid_size**2
        self.projection = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.in_channels, self.image_size, "PatchEmbedding")
        return self.projection(x).flatten(2).transpose(1, 2)  # (B, D, G, G) -> (B, G*G, D)


class ViT(nn.Module):
    r"""A Vision Transformer: patches → tokens, a learned class token in front, position embeddings added,
    `depth` pre-norm encoder layers, a final LayerNorm, and a linear head on the class token's output.

    $$z_0 = [x_\text{class};\ x_p^1 E;\ \dots;\ x_p^N E] + E_\text{pos},\quad
    z_\ell = \text{EncoderLayer}(z_{\ell-1}),\quad y = \text{head}(\mathrm{LN}(z_L)_0)$$

    Args:
        image_size: height and width of the (square) input; divisible by `patch_size`.
        patch_size: ``P``.
        num_classes: outputs of the head.
        dim: ``D``, token width; divisible by `heads`.
        depth: number of encoder layers ``L``.
        heads: attention heads per layer.
        mlp_dim: hidden width of each layer's MLP.
        in_channels: ``C``.
        pos_embedding: ``"learned"`` (a trained table, as in the paper) or ``"sincos"`` (fixed 2-D sine-cosine
            for the patches, zeros for the class token; needs ``dim % 4 == 0``).
        dropout: dropout inside the layers and after adding the position embeddings.
        layer_norm_eps: the LayerNorms' epsilon (``1e-12`` as in Hugging Face's ``ViTConfig``).

    Attributes:
        patch_embed: the `PatchEmbedding`.
        cls_token: ``(1, 1, D)``.
        pos_embed: ``(1, N + 1, D)``, a parameter (learned) or a buffer (sincos).
        layers: ``nn.ModuleList`` of `EncoderLayer` (``norm_first=True``, GELU).

    Shapes: ``forward(x (B, C, H, W)) -> (B, num_classes)``; ``features(x) -> (B, N + 1, D)``;
    ``attention_maps(x) -> list of depth tensors (B, heads, N + 1, N + 1)``.
    """

    def __init__(
        self,
        image_size: int,
        patch_size: int,
        num_classes: int,
        dim: int,
        depth: int,
        heads: int,
        mlp_dim: int,
        *,
        in_channels: int = 1,
        pos_embedding: Literal["learned", "sincos"] = "learned",
        dropout: float = 0.0,
        layer_norm_eps: float = 1e-12,
    ) -> None:
        super().__init__()
        check_int("num_classes", num_classes, ge=1)
        check_int("dim", dim, ge=1)
        check_int("depth", depth, ge=1)
        check_int("heads", heads, ge=1)
        check_int("mlp_dim", mlp_dim, ge=1)
        check_choice("pos_embedding", pos_embedding, ("learned", "sincos"))
        check_float("dropout", dropout, ge=0, lt=1)
        if dim % heads:
            raise ValueError(f"dim must be divisible by heads, got dim={dim}, heads={heads}")
        self.patch_embed = PatchEmbedding(image_size, patch_size, in_channels, dim)
        self.num_patches = self.patch_embed.num_patches
        self.dim, self.heads = dim, heads
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        n = self.num_patches + 1
        if pos_embedding == "learned":
            self.pos_embed = nn.Parameter(torch.empty(1, n, dim))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        else:
            table = torch.cat(
                [torch.zeros(1, dim), sincos_position_embedding_2d(self.patch_embed.grid_size, dim)]
            )
            self.register_buffer("pos_embed", table[None])
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(
            EncoderLayer(
                dim,
                heads,
                mlp_dim,
                dropout,
                norm_first=True,
                activation="gelu",
                layer_norm_eps=layer_norm_eps,
            )
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim, eps=layer_norm_eps)
        self.head = nn.Linear(dim, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` images -> ``(B, N + 1, D)`` tokens: class token first, positions added."""
        tokens = self.patch_embed(x)
        cls = self.cls_token.expand(len(tokens), -1, -1)
        return self.drop(torch.cat([cls, tokens], dim=1) + self.pos_embed)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, N + 1, D)``: every token after the last layer and the final LayerNorm."""
        z = self.embed(x)
        for layer in self.layers:
            z = layer(z)
        return self.norm(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)[:, 0])

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The attention weights of every layer, ``depth`` tensors ``(B, heads, N + 1, N + 1)``; row 0 is the
        class token's attention over ``[class, patch 1, …, patch N]``."""
        z, maps = self.embed(x), []
        for layer in self.layers:
            maps.append(layer.self_attn(*(layer.norm1(z),) * 3)[1])
            z = layer(z)
        return maps

    @classmethod
    def from_huggingface(cls, hf_model: Any) -> ViT:
        """Build a `ViT` from a ``transformers.ViTForImageClassification`` and copy its weights.

        Args:
            hf_model: a ``ViTForImageClassification`` (square images, GELU, query/key/value with biases).

        Returns:
            A `ViT` in eval mode whose ``forward`` equals ``hf_model(x).logits`` and whose ``features``
            equals ``hf_model.vit(x).last_hidden_state``, up to float rounding.

        Raises:
            TypeError: `hf_model` has no ``config`` / ``vit`` / ``classifier``.
            ValueError: a configuration this class does not cover (non-square image, another activation).
        """
        if not all(hasattr(hf_model, a) for a in ("config", "vit", "classifier")):
            raise TypeError(
                f"hf_model must be a transformers ViTForImageClassification, got {type(hf_model).__name__}"
            )
        c = hf_model.config
        size = c.image_size if isinstance(c.image_size, int) else c.image_size[0]
        if not isinstance(c.image_size, int) and c.image_size[0] != c.image_size[1]:
            raise ValueError(f"only square images are supported, got image_size={c.image_size}")
        if c.hidden_act != "gelu" or not c.qkv_bias:
            raise ValueError(f"needs hidden_act='gelu' and qkv_bias=True, got {c.hidden_act!r}, {c.qkv_bias}")
        model = cls(
            size, c.patch_size, c.num_labels, c.hidden_size, c.num_hidden_layers, c.num_attention_heads,
            c.intermediate_size, in_channels=c.num_channels, layer_norm_eps=c.layer_norm_eps,
        )  # fmt: skip
        sd = {k.removeprefix("vit."): v for k, v in hf_model.state_dict().items()}
        ours: dict[str, torch.Tensor] = {
            "cls_token": sd["embeddings.cls_token"],
            "pos_embed": sd["embeddings.position_embeddings"],
            "patch_embed.projection.weight": sd["embeddings.patch_embeddings.projection.weight"],
            "patch_embed.projection.bias": sd["embeddings.patch_embeddings.projection.bias"],
            "norm.weight": sd["layernorm.weight"],
            "norm.bias": sd["layernorm.bias"],
            "head.weight": sd["classifier.weight"],
            "head.bias": sd["classifier.bias"],
        }
        for i in range(c.num_hidden_layers):
            p, q = f"layers.{i}.", f"layers.{i}."
            ours[q + "self_attn.in_proj_weight"] = torch.cat(
                [sd[f"{p}attention.{n}_proj.weight"] for n in "qkv"]
            )
            ours[q + "self_attn.in_proj_bias"] = torch.cat([sd[f"{p}attention.{n}_proj.bias"] for n in "qkv"])
            pairs = {"self_attn.out_proj": "attention.o_proj", "norm1": "layernorm_before",
                     "norm2": "layernorm_after", "linear1": "mlp.fc1", "linear2": "mlp.fc2"}  # fmt: skip
            for mine, theirs in pairs.items():
                for t in ("weight", "bias"):
                    ours[f"{q}{mine}.{t}"] = sd[f"{p}{theirs}.{t}"]
        model.load_state_dict(ours)
        return model.eval()


class HybridViT(nn.Module):
    """The hybrid of the ViT paper: a convolutional `stem` turns the image into a feature map, and each
    ``P×P`` cell of that map (``P = 1`` in the paper) becomes a token of a `ViT`.

    Args:
        stem: any module mapping ``(B, in_channels, image_size, image_size)`` to ``(B, C', S, S)``.
        image_size: side of the input images.
        num_classes: as for `ViT`.
        dim: as for `ViT`.
        depth: as for `ViT`.
        heads: as for `ViT`.
        mlp_dim: as for `ViT`.
        in_channels: channels of the input images.
        patch_size: patch size on the feature map (divides ``S``).
        pos_embedding: as for `ViT`.
        dropout: as for `ViT`.
        layer_norm_eps: as for `ViT`.

    Attributes:
        stem: the convolutional stem.
        vit: the `ViT` over the stem's ``(C', S, S)`` maps.

    Shapes: ``forward(x (B, in_channels, image_size, image_size)) -> (B, num_classes)``.

    Raises:
        ValueError: the stem's output is not ``(B, C', S, S)``, or `patch_size` does not divide ``S``.
    """

    def __init__(
        self,
        stem: nn.Module,
        image_size: int,
        num_classes: int,
        dim: int,
        depth: int,
        heads: int,
        mlp_dim: int,
        *,
        in_channels: int = 1,
        patch_size: int = 1,
        pos_embedding: Literal["learned", "sincos"] = "learned",
        dropout: float = 0.0,
        layer_norm_eps: float = 1e-12,
    ) -> None:
        super().__init__()
        if not isinstance(stem, nn.Module):
            raise TypeError(f"stem must be an nn.Module, got {type(stem).__name__}")
        self.image_size = check_int("image_size", image_size, ge=1)
        self.in_channels = check_int("in_channels", in_channels, ge=1)
        was_training = stem.training
        with torch.no_grad():
            out = stem.eval()(torch.zeros(1, in_channels, image_size, image_size))
        stem.train(was_training)
        if out.ndim != 4 or out.shape[2] != out.shape[3]:
            raise ValueError(f"stem must return square maps (B, C, S, S), got {tuple(out.shape)}")
        self.stem = stem
        self.vit = ViT(
            out.shape[2], patch_size, num_classes, dim, depth, heads, mlp_dim, in_channels=out.shape[1],
            pos_embedding=pos_embedding, dropout=dropout, layer_norm_eps=layer_norm_eps,
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x, self.in_channels, self.image_size, "HybridViT")
        return self.vit(self.stem(x))
