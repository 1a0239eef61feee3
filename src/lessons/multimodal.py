"""A CLIP-style two-tower model, its contrastive loss, captioned digit scenes and retrieval metrics.

The pieces of section 12.11 (``docs/phases/12-llm/multimodal.md``):

- `digit_scenes` places real MNIST digits on a wider canvas with four attributes (digit, size, brightness,
  side) and `caption` describes each scene in one of several phrasings, so every image has a true text;
- `CaptionVocab` turns captions into padded word ids;
- `ImageTower` (a small CNN) and `TextTower` (a mean of word embeddings) map each modality to a shared space,
  and `TwoTower` holds both, L2-normalises their outputs and learns the temperature;
- `info_nce` is CLIP's symmetric cross-entropy over the image–text similarity matrix;
- `recall_at_k` measures retrieval when several items share the same true caption.

Examples:
    >>> import torch
    >>> same = torch.nn.functional.normalize(torch.ones(4, 8), dim=-1)  # a model that tells nothing apart
    >>> round(info_nce(same, same, logit_scale=torch.tensor(2.0)).item(), 4)  # log 4
    1.3863
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lessons.checks import check_float, check_int, check_tensor

__all__ = [
    "ATTRIBUTES",
    "DIGIT_WORDS",
    "TEMPLATES",
    "CaptionVocab",
    "ImageTower",
    "TextTower",
    "TwoTower",
    "caption",
    "digit_scenes",
    "info_nce",
    "random_captions",
    "recall_at_k",
]

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
"""The English word of each digit; captions write a digit either as a numeral or as its word."""

ATTRIBUTES = {"size": ("small", "large"), "brightness": ("dim", "bright"), "side": ("left", "right")}
"""The words of the three visual attributes of a scene besides its digit, indexed by the attribute's value."""

TEMPLATES = (
    "a {size} {brightness} {digit} on the {side}",
    "the digit {digit} , {size} and {brightness} , at the {side}",
    "{side} side : a {brightness} {digit} , {size}",
    "there is a {size} {digit} on the {side} and it is {brightness}",
)
"""The phrasings of a caption; `{digit}` is filled with a numeral or a word."""


def digit_scenes(
    images: torch.Tensor, labels: torch.Tensor, *, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Place each digit on a 16×32 canvas with a random size, brightness and side.

    The 28×28 digit is shrunk to 16×16 (large: it fills its half of the canvas) or 8×8 (small: centred in its
    half), by area averaging. A bright digit keeps its grey levels; a dim one is multiplied by 0.35. The other
    half stays black.

    Args:
        images: ``(N, 1, 28, 28)`` float digits in [0, 1] (as `lessons.datasets.images.load_mnist` gives).
        labels: ``(N,)`` int64 digit classes 0–9.
        generator: the random generator that draws the attributes.

    Returns:
        ``(scenes, attributes)``: scenes ``(N, 1, 16, 32)`` float32 and attributes ``(N, 4)`` int64, whose
        columns are digit (0–9), size (0 small, 1 large), brightness (0 dim, 1 bright), side (0 left,
        1 right).

    Raises:
        TypeError: `images` or `labels` is not a tensor.
        ValueError: `images` is not ``(N, 1, 28, 28)`` or `labels` is not ``(N,)`` with values 0–9.

    Examples:
        >>> scenes, attributes = digit_scenes(torch.ones(2, 1, 28, 28), torch.tensor([3, 7]))
        >>> tuple(scenes.shape), tuple(attributes.shape)
        ((2, 1, 16, 32), (2, 4))
    """
    images = check_tensor("images", images)
    labels = check_tensor("labels", labels)
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"images must have shape (N, 1, 28, 28), got {tuple(images.shape)}")
    if labels.shape != (len(images),) or labels.dtype != torch.int64:
        raise ValueError(
            f"labels must be int64 of shape ({len(images)},), got {labels.dtype} {tuple(labels.shape)}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise ValueError("labels must be digits 0-9")
    n = len(images)
    size, brightness, side = torch.randint(0, 2, (3, n), generator=generator)
    large = F.interpolate(images.float(), size=(16, 16), mode="area")
    small = F.pad(F.interpolate(images.float(), size=(8, 8), mode="area"), (4, 4, 4, 4))
    digit = torch.where(size.view(n, 1, 1, 1).bool(), large, small)
    digit = digit * torch.where(brightness.bool(), 1.0, 0.35).view(n, 1, 1, 1)
    blank = torch.zeros_like(digit)
    right = side.view(n, 1, 1, 1).bool()
    scenes = torch.cat([torch.where(right, blank, digit), torch.where(right, digit, blank)], dim=3)
    return scenes, torch.stack([labels, size, brightness, side], dim=1)


def caption(attributes: Sequence[int], template: int = 0, *, numeral: bool = True) -> str:
    """The caption of one scene.

    Args:
        attributes: ``(digit, size, brightness, side)``, one row of `digit_scenes`' attributes.
        template: which phrasing of `TEMPLATES` to use.
        numeral: write the digit as ``"7"`` (True) or as ``"seven"`` (False).

    Returns:
        A lower-case caption, words separated by single spaces, e.g. ``"a large bright 7 on the left"``.

    Raises:
        ValueError: `attributes` is not four values in range, or `template` is not an index of `TEMPLATES`.

    Examples:
        >>> caption((7, 1, 1, 0))
        'a large bright 7 on the left'
        >>> caption((3, 0, 0, 1), template=2, numeral=False)
        'right side : a dim three , small'
    """
    values = [int(a) for a in attributes]
    if len(values) != 4 or not 0 <= values[0] <= 9 or any(v not in (0, 1) for v in values[1:]):
        raise ValueError(
            f"attributes must be (digit 0-9, size 0/1, brightness 0/1, side 0/1), got {attributes}"
        )
    check_int("template", template, ge=0, lt=len(TEMPLATES))
    d, size, brightness, side = values
    return TEMPLATES[template].format(
        digit=str(d) if numeral else DIGIT_WORDS[d],
        size=ATTRIBUTES["size"][size],
        brightness=ATTRIBUTES["brightness"][brightness],
        side=ATTRIBUTES["side"][side],
    )


class CaptionVocab:
    """Whitespace word ids for captions: 0 is padding, 1 an unknown word, then every word of the texts given.

    Args:
        texts: the captions whose words make the vocabulary (in order of first appearance).

    Examples:
        >>> vocab = CaptionVocab(["a large 7", "a small 3"])
        >>> vocab.encode(["a large 3", "a red 7"]).tolist()
        [[2, 3, 6], [2, 1, 4]]
    """

    PAD, UNK = 0, 1

    def __init__(self, texts: Sequence[str]) -> None:
        if isinstance(texts, str) or not texts:
            raise ValueError("texts must be a non-empty sequence of strings")
        self.words: list[str] = ["<pad>", "<unk>"]
        self.index: dict[str, int] = {}
        for text in texts:
            for word in text.split():
                if word not in self.index:
                    self.index[word] = len(self.words)
                    self.words.append(word)

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Word ids of each text, right-padded with 0 to the longest: ``(len(texts), max_words)`` int64.

        Raises:
            ValueError: `texts` is a single string or empty.
        """
        if isinstance(texts, str) or not texts:
            raise ValueError("texts must be a non-empty sequence of strings (a list, not one string)")
        ids = [[self.index.get(w, self.UNK) for w in t.split()] for t in texts]
        width = max(1, max(len(row) for row in ids))
        return torch.tensor([row + [self.PAD] * (width - len(row)) for row in ids], dtype=torch.int64)


class ImageTower(nn.Module):
    """A small CNN: ``(B, 1, 16, 32)`` scenes → ``(B, embed_dim)`` (not normalised).

    Two 3×3 convolutions of stride 2, each followed by a ReLU, halve the resolution twice (16×32 → 4×8); the
    map is flattened, so it keeps where in the canvas something was, and projected linearly to the shared
    space.
    `features` gives the ``(B, 2·width, 4, 8)`` map alone: 32 "patch" vectors, one per cell.

    Args:
        embed_dim: size of the shared space.
        width: channels of the first block (the second has twice as many).
    """

    def __init__(self, embed_dim: int = 64, width: int = 16) -> None:
        super().__init__()
        check_int("embed_dim", embed_dim, ge=1)
        check_int("width", width, ge=1)
        c = (width, 2 * width)

        self.features = nn.Sequential(  # 16x32 -> 8x16 -> 4x8
            nn.Conv2d(1, c[0], 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(c[0], c[1], 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.proj = nn.Linear(c[1] * 4 * 8, embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, 16, 32):
            raise ValueError(f"x must have shape (B, 1, 16, 32), got {tuple(x.shape)}")
        return self.proj(self.features(x).flatten(1))


class TextTower(nn.Module):
    """The mean of a caption's word embeddings, then a two-layer MLP: ``(B, T)`` ids → ``(B, embed_dim)``.

    Padding (id 0) is left out of the mean. A mean of words ignores their order: "a 3 left of a 7" and
    "a 7 left of a 3" get the same vector, which is enough for captions of one digit.

    Args:
        vocab_size: number of word ids (`len(CaptionVocab)`).
        embed_dim: size of the shared space.
        width: size of the word embeddings and of the hidden layer.
    """

    def __init__(self, vocab_size: int, embed_dim: int = 64, width: int = 64) -> None:
        super().__init__()
        check_int("vocab_size", vocab_size, ge=2)
        check_int("embed_dim", embed_dim, ge=1)
        check_int("width", width, ge=1)
        self.embed = nn.Embedding(vocab_size, width, padding_idx=0)
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, embed_dim))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.ndim != 2 or ids.dtype != torch.int64:
            raise ValueError(f"ids must be a (B, T) int64 tensor, got {ids.dtype} {tuple(ids.shape)}")
        if len(ids) and (ids.min() < 0 or ids.max() >= self.embed.num_embeddings):
            raise ValueError(f"ids must lie in [0, {self.embed.num_embeddings}), the vocab_size")
        mask = (ids != 0).unsqueeze(-1).float()  # (B, T, 1)
        mean = (self.embed(ids) * mask).sum(1) / mask.sum(1).clamp(min=1)
        return self.mlp(mean)


class TwoTower(nn.Module):
    """CLIP's design: two encoders, L2-normalised outputs and a learnable temperature.

    ``forward(images, ids)`` returns ``(image_embeds, text_embeds, logit_scale)``: two ``(B, embed_dim)``
    unit vectors and the log of the inverse temperature, a scalar (its ``exp()`` multiplies the cosine
    similarities, as in CLIP). The scale starts at $1/0.07$, CLIP's initial value, and is clamped to at most
    100.

    Args:
        image_encoder: maps images to ``(B, embed_dim)``.
        text_encoder: maps word ids to ``(B, embed_dim)``.
        init_temperature: the temperature $\\tau$ at the start (the logits are ``cos / τ``).
    """

    def __init__(
        self, image_encoder: nn.Module, text_encoder: nn.Module, init_temperature: float = 0.07
    ) -> None:
        super().__init__()
        check_float("init_temperature", init_temperature, gt=0)
        self.image_encoder = image_encoder
        self.text_encoder = text_encoder
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / init_temperature)))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Unit image embeddings ``(B, embed_dim)``."""
        return F.normalize(self.image_encoder(images), dim=-1)

    def encode_text(self, ids: torch.Tensor) -> torch.Tensor:
        """Unit text embeddings ``(B, embed_dim)``."""
        return F.normalize(self.text_encoder(ids), dim=-1)

    def forward(
        self, images: torch.Tensor, ids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scale = self.logit_scale.clamp(max=math.log(100.0))
        return self.encode_image(images), self.encode_text(ids), scale


def info_nce(
    image_embeds: torch.Tensor, text_embeds: torch.Tensor, logit_scale: torch.Tensor
) -> torch.Tensor:
    """CLIP's symmetric InfoNCE loss over a batch of matching pairs.

    Row $i$ of both inputs is the $i$-th image–text pair. The logits are
    $s_{ij} = e^{\\text{logit\\_scale}}\\, u_i \\cdot v_j$; the loss is the mean of the cross-entropy of each
    image over the texts (target: its own text) and of each text over the images.

    Args:
        image_embeds: ``(B, D)`` L2-normalised image embeddings.
        text_embeds: ``(B, D)`` L2-normalised text embeddings.
        logit_scale: a scalar tensor, the log of the inverse temperature.

    Returns:
        A scalar tensor.

    Raises:
        ValueError: the embeddings are not two ``(B, D)`` tensors of the same shape with ``B >= 1``, or
            `logit_scale` is not a scalar.
    """
    image_embeds = check_tensor("image_embeds", image_embeds)
    text_embeds = check_tensor("text_embeds", text_embeds)
    logit_scale = check_tensor("logit_scale", logit_scale)
    if image_embeds.ndim != 2 or len(image_embeds) < 1:
        raise ValueError(f"image_embeds must be (B, D) with B >= 1, got {tuple(image_embeds.shape)}")
    if text_embeds.shape != image_embeds.shape:
        raise ValueError(
            f"text_embeds must have the shape of image_embeds {tuple(image_embeds.shape)}, "
            f"got {tuple(text_embeds.shape)}"
        )
    if logit_scale.numel() != 1:
        raise ValueError(f"logit_scale must be a scalar, got shape {tuple(logit_scale.shape)}")
    logits = logit_scale.exp() * image_embeds @ text_embeds.T  # (B, B): images x texts
    target = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def recall_at_k(similarity: torch.Tensor, query_keys: torch.Tensor, item_keys: torch.Tensor, k: int) -> float:
    """The fraction of queries with at least one correct item among their `k` most similar ones.

    An item is correct for a query when their keys are equal (rows of attributes, or ids): retrieving any
    image whose true caption is the query's counts, since several images share a caption.

    Args:
        similarity: ``(Q, N)`` scores, higher is more similar.
        query_keys: ``(Q,)`` or ``(Q, A)`` the true key of each query.
        item_keys: ``(N,)`` or ``(N, A)`` the true key of each item.
        k: how many of the top items to look at, ``1 <= k <= N``.

    Returns:
        Recall@k in [0, 1].

    Raises:
        ValueError: the shapes do not agree or `k` is out of range.

    Examples:
        >>> sim = torch.tensor([[0.9, 0.1, 0.5], [0.2, 0.3, 0.1]])
        >>> recall_at_k(sim, torch.tensor([0, 2]), torch.tensor([0, 1, 2]), k=1)
        0.5
    """
    similarity = check_tensor("similarity", similarity)
    if similarity.ndim != 2:
        raise ValueError(f"similarity must be (Q, N), got {tuple(similarity.shape)}")
    q, n = similarity.shape
    query_keys, item_keys = check_tensor("query_keys", query_keys), check_tensor("item_keys", item_keys)
    if query_keys.ndim == 0 or item_keys.ndim == 0 or len(query_keys) != q or len(item_keys) != n:
        raise ValueError(
            f"query_keys and item_keys must have one key per row ({q}) and per column ({n}) of similarity, "
            f"got {tuple(query_keys.shape)} and {tuple(item_keys.shape)}"
        )
    query_keys, item_keys = query_keys.reshape(q, -1), item_keys.reshape(n, -1)
    if query_keys.shape[1] != item_keys.shape[1]:
        raise ValueError("query_keys and item_keys must have keys of the same length")
    check_int("k", k, ge=1, le=n)
    top = similarity.topk(k, dim=1).indices  # (Q, k)
    hit = (item_keys[top] == query_keys[:, None]).all(-1).any(-1)
    return hit.float().mean().item()


def random_captions(attributes: torch.Tensor, *, seed: int = 0) -> list[str]:
    """One caption per scene, each in a random phrasing of `TEMPLATES`, the digit a numeral or a word.

    Args:
        attributes: ``(N, 4)`` int64 rows of `digit_scenes`.
        seed: seed of the choices (a private `random.Random`, so the global RNGs are left alone).

    Returns:
        ``N`` captions.

    Raises:
        ValueError: `attributes` is not ``(N, 4)``.
    """
    attributes = check_tensor("attributes", attributes)
    if attributes.ndim != 2 or attributes.shape[1] != 4:
        raise ValueError(f"attributes must be (N, 4), got {tuple(attributes.shape)}")
    rng = random.Random(seed)
    return [
        caption(a, rng.randrange(len(TEMPLATES)), numeral=rng.random() < 0.5) for a in attributes.tolist()
    ]
