"""Tests of lessons.models.vit: shapes, patch embedding = unfold + linear, position embeddings, the
Hugging Face reference, the hybrid, and the error paths."""

from __future__ import annotations

import pytest
import torch
import transformers
from torch import nn

from lessons.models.vit import (
    HybridViT,
    PatchEmbedding,
    ViT,
    patchify,
    similarity_by_distance,
    sincos_position_embedding_2d,
)


def small_vit(**kwargs: object) -> ViT:
    return ViT(28, 7, 10, 32, 2, 4, 64, **kwargs)  # type: ignore[arg-type]


def test_shapes() -> None:
    model = small_vit().eval()
    x = torch.rand(3, 1, 28, 28)
    assert model(x).shape == (3, 10)
    assert model.features(x).shape == (3, 17, 32)
    maps = model.attention_maps(x)
    assert len(maps) == 2 and maps[0].shape == (3, 4, 17, 17)
    assert torch.allclose(maps[0].sum(-1), torch.ones(3, 4, 17))


def test_patchify_matches_conv() -> None:
    torch.manual_seed(0)
    embed = PatchEmbedding(12, 4, 3, 8)
    x = torch.rand(2, 3, 12, 12)
    patches = patchify(x, 4)
    assert patches.shape == (2, 9, 48)
    W, b = embed.projection.weight, embed.projection.bias
    assert torch.allclose(embed(x), patches @ W.reshape(8, -1).T + b, atol=1e-6)
    # Patch 1 is the top row, second column: pixels [0:4, 4:8] of every channel.
    assert torch.equal(patches[0, 1], x[0, :, 0:4, 4:8].reshape(-1))


def test_sincos_embedding() -> None:
    pe = sincos_position_embedding_2d(4, 16)
    assert pe.shape == (16, 16)
    # Patches in the same row share the row half; in the same column the column half.
    assert torch.equal(pe[0, :8], pe[3, :8]) and torch.equal(pe[0, 8:], pe[12, 8:])
    assert not torch.equal(pe[0], pe[1])
    model = small_vit(pos_embedding="sincos")
    assert "pos_embed" not in dict(model.named_parameters())
    assert torch.equal(model.pos_embed[0, 1:], sincos_position_embedding_2d(4, 32))


def test_matches_huggingface() -> None:
    torch.manual_seed(0)
    config = transformers.ViTConfig(
        image_size=16, patch_size=4, num_channels=3, hidden_size=24, num_hidden_layers=2,
        num_attention_heads=3, intermediate_size=40, num_labels=5,
    )  # fmt: skip
    hf = transformers.ViTForImageClassification(config).eval()
    with torch.no_grad():  # make the zero-initialised tokens non-trivial
        hf.vit.embeddings.cls_token.normal_()
        hf.vit.embeddings.position_embeddings.normal_()
    ours = ViT.from_huggingface(hf)
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(ours(x), hf(x).logits, atol=1e-5)
        assert torch.allclose(ours.features(x), hf.vit(x).last_hidden_state, atol=1e-5)


def test_from_huggingface_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match="ViTForImageClassification"):
        ViT.from_huggingface(nn.Linear(2, 2))


def test_hybrid() -> None:
    stem = nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1)
    )
    model = HybridViT(stem, 28, 10, 32, 1, 4, 64)
    assert model.vit.num_patches == 49 and model.vit.patch_embed.in_channels == 16
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="HybridViT expects"):
        model(torch.rand(2, 1, 32, 32))
    with pytest.raises(TypeError, match="stem"):
        HybridViT("conv", 28, 10, 32, 1, 4, 64)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="square maps"):
        HybridViT(nn.Flatten(), 28, 10, 32, 1, 4, 64)


def test_errors() -> None:
    with pytest.raises(ValueError, match="image_size must be divisible by patch_size"):
        ViT(28, 5, 10, 32, 2, 4, 64)
    with pytest.raises(ValueError, match="dim must be divisible by heads"):
        ViT(28, 7, 10, 30, 2, 4, 64)
    with pytest.raises(ValueError, match="divisible by 4"):
        ViT(28, 7, 10, 34, 2, 2, 64, pos_embedding="sincos")
    with pytest.raises(ValueError, match="pos_embedding"):
        ViT(28, 7, 10, 32, 2, 4, 64, pos_embedding="rope")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="depth"):
        ViT(28, 7, 10, 32, 0, 4, 64)
    with pytest.raises(ValueError, match=r"expects x of shape \(B, 1, 28, 28\)"):
        small_vit()(torch.rand(2, 3, 28, 28))
    with pytest.raises(ValueError, match="not divisible by patch_size"):
        patchify(torch.rand(1, 1, 10, 10), 3)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        patchify(torch.rand(10, 10), 2)
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_position_embedding_2d(4, 10)


def test_similarity_by_distance() -> None:
    sims = similarity_by_distance(sincos_position_embedding_2d(5, 32))
    assert sims.shape == (8,) and bool((sims[:6] > sims[1:7]).all()) and sims[0] > sims[-1] + 0.2
    same = similarity_by_distance(torch.ones(9, 4))
    assert torch.allclose(same, torch.ones(4))
    with pytest.raises(ValueError, match=r"\(G\*G, D\)"):
        similarity_by_distance(torch.ones(10, 4))
