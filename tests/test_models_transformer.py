"""Unit tests for lessons.models.transformer: equal to PyTorch's layers; masks, encodings, errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lessons.models.transformer import (
    DecoderLayer,
    EncoderLayer,
    MultiHeadAttention,
    PositionalEncoding,
    Transformer,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
    sinusoidal_encoding,
)


def test_attention_equals_torch_with_causal_and_padding_masks() -> None:
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 5, 8), torch.randn(2, 3, 5, 4)
    out, w = scaled_dot_product_attention(q, k, v)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v), atol=1e-6)
    assert torch.allclose(w.sum(-1), torch.ones(2, 3, 5))
    out, w = scaled_dot_product_attention(q, k, v, causal=True)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-6)
    assert torch.all(w.triu(1) == 0)
    keep = padding_mask(torch.tensor([3, 5]), 5)[:, None]  # (B, 1, 1, S)
    out, w = scaled_dot_product_attention(q, k, v, keep)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v, attn_mask=keep), atol=1e-6)
    assert torch.all(w[0, :, :, 3:] == 0)


def test_masks() -> None:
    assert torch.equal(causal_mask(3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool))
    m = padding_mask(torch.tensor([1, 3]), 4)
    assert m.shape == (2, 1, 4) and m.sum().item() == 4
    with pytest.raises(ValueError, match="length"):
        causal_mask(0)
    with pytest.raises(ValueError, match=r"lengths must be in \[1, 4\]"):
        padding_mask(torch.tensor([0, 2]), 4)
    with pytest.raises(ValueError, match="lengths must be a 1-D integer"):
        padding_mask(torch.tensor([1.0]), 4)


def test_attention_errors() -> None:
    q = torch.randn(1, 4, 8)
    with pytest.raises(ValueError, match="same last dimension d_k"):
        scaled_dot_product_attention(q, torch.randn(1, 4, 6), torch.randn(1, 4, 6))
    with pytest.raises(ValueError, match="k and v must have the same length"):
        scaled_dot_product_attention(q, q, torch.randn(1, 3, 8))
    with pytest.raises(ValueError, match="mask of shape"):
        scaled_dot_product_attention(q, q, q, torch.ones(1, 3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask must be a bool"):
        scaled_dot_product_attention(q, q, q, torch.ones(4, 4))
    with pytest.raises(ValueError, match="at least one key"):
        scaled_dot_product_attention(q, q, q, torch.zeros(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="causal=True needs L == S"):
        scaled_dot_product_attention(q, torch.randn(1, 5, 8), torch.randn(1, 5, 8), causal=True)


def test_multi_head_attention_equals_torch_with_copied_weights() -> None:
    torch.manual_seed(1)
    mine, ref = MultiHeadAttention(16, 4), nn.MultiheadAttention(16, 4, batch_first=True)
    mine.load_state_dict(ref.state_dict())
    x, mem = torch.randn(2, 6, 16), torch.randn(2, 7, 16)
    keep = torch.ones(2, 7, dtype=torch.bool)
    keep[1, 5:] = False
    out, w = mine(x, mem, mem, keep[:, None, :])
    ref_out, ref_w = ref(x, mem, mem, key_padding_mask=~keep)
    assert torch.allclose(out, ref_out, atol=1e-6)
    assert torch.allclose(w.mean(1), ref_w, atol=1e-6)  # torch averages the heads' weights
    out, _ = mine(x, x, x, causal=True)
    ref_out, _ = ref(x, x, x, attn_mask=~causal_mask(6))
    assert torch.allclose(out, ref_out, atol=1e-6)
    assert sum(p.numel() for p in mine.parameters()) == 4 * (16 * 16 + 16)


def test_multi_head_attention_errors() -> None:
    with pytest.raises(ValueError, match="d_model must be divisible by n_heads, got d_model=10, n_heads=3"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="n_heads must be an int"):
        MultiHeadAttention(8, 0)
    mha = MultiHeadAttention(8, 2)
    x = torch.randn(2, 5, 8)
    with pytest.raises(ValueError, match=r"query must have shape \(batch, length, 8\)"):
        mha(torch.randn(2, 5, 6), x, x)
    with pytest.raises(ValueError, match="key and value must have shape"):
        mha(x, x, torch.randn(2, 4, 8))
    with pytest.raises(ValueError, match="mask of shape"):
        mha(x, x, x, torch.ones(2, 1, 4, dtype=torch.bool))


def test_sinusoidal_encoding_formula_and_relative_offsets() -> None:
    pe = sinusoidal_encoding(50, 8)
    assert pe.shape == (50, 8)
    assert math.isclose(pe[3, 2].item(), math.sin(3 / 10000 ** (2 / 8)), abs_tol=1e-6)
    assert math.isclose(pe[3, 3].item(), math.cos(3 / 10000 ** (2 / 8)), abs_tol=1e-6)
    dots = pe[:-5] @ pe[5:].T  # PE(p) . PE(p + 5) is the same for every p
    assert torch.allclose(dots.diagonal(), dots.diagonal()[0].expand(45), atol=1e-5)
    with pytest.raises(ValueError, match="d_model must be even"):
        sinusoidal_encoding(10, 7)


@pytest.mark.parametrize("kind", ["sinusoidal", "learned"])
def test_positional_encoding_module(kind: str) -> None:
    enc = PositionalEncoding(8, max_len=6, kind=kind)  # type: ignore[arg-type]
    x = torch.zeros(2, 4, 8)
    out = enc(x)
    assert out.shape == (2, 4, 8) and torch.allclose(out[0], out[1])
    assert sum(p.numel() for p in enc.parameters()) == (0 if kind == "sinusoidal" else 6 * 8)
    with pytest.raises(ValueError, match="sequence length 7 exceeds the context max_len=6"):
        enc(torch.zeros(1, 7, 8))
    with pytest.raises(ValueError, match=r"x must have shape \(batch, length, 8\)"):
        enc(torch.zeros(1, 3, 4))


def test_positional_encoding_kind_error() -> None:
    with pytest.raises(ValueError, match="kind must be"):
        PositionalEncoding(8, 6, kind="rotary")  # type: ignore[arg-type]


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_equals_torch(norm_first: bool) -> None:
    torch.manual_seed(2)
    mine = EncoderLayer(16, 4, 32, norm_first=norm_first).eval()
    ref = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True, norm_first=norm_first).eval()
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(2, 5, 16)
    keep = padding_mask(torch.tensor([5, 3]), 5)
    assert torch.allclose(mine(x, keep), ref(x, src_key_padding_mask=~keep[:, 0]), atol=1e-5)
    assert torch.allclose(mine(x), ref(x), atol=1e-5)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_equals_torch_and_is_causal(norm_first: bool) -> None:
    torch.manual_seed(3)
    mine = DecoderLayer(16, 4, 32, norm_first=norm_first).eval()
    ref = nn.TransformerDecoderLayer(16, 4, 32, batch_first=True, norm_first=norm_first).eval()
    mine.load_state_dict(ref.state_dict())
    y, mem = torch.randn(2, 4, 16), torch.randn(2, 6, 16)
    keep = padding_mask(torch.tensor([6, 2]), 6)
    out = mine(y, mem, memory_mask=keep)
    ref_out = ref(y, mem, tgt_mask=~causal_mask(4), memory_key_padding_mask=~keep[:, 0])
    assert torch.allclose(out, ref_out, atol=1e-5)
    y2 = y.clone()
    y2[:, 3] += 1.0  # change the last target: earlier positions do not move
    assert torch.allclose(mine(y2, mem, memory_mask=keep)[:, :3], out[:, :3], atol=1e-6)


def test_layer_errors() -> None:
    dec = DecoderLayer(8, 2, 16)
    with pytest.raises(ValueError, match=r"memory must have shape \(batch, length, 8\)"):
        dec(torch.randn(1, 3, 8), torch.randn(1, 3, 4))
    with pytest.raises(ValueError, match="memory must have batch size 2"):
        dec(torch.randn(2, 3, 8), torch.randn(1, 3, 8))
    with pytest.raises(ValueError, match=r"x must have shape \(batch, length, 8\)"):
        EncoderLayer(8, 2, 16)(torch.randn(3, 8))
    with pytest.raises(ValueError, match="d_ff"):
        EncoderLayer(8, 2, 0)


def test_transformer_shapes_sharing_and_parameter_count() -> None:
    torch.manual_seed(4)
    model = Transformer(30, 30, d_model=16, n_heads=2, n_layers=2, d_ff=32, max_len=12).eval()
    src = torch.tensor([[5, 6, 7, 0], [8, 9, 10, 11]])
    tgt = torch.randint(1, 30, (2, 5))
    logits = model(src, tgt)
    assert logits.shape == (2, 5, 30)
    assert model.generator.weight is model.src_embed.weight is model.tgt_embed.weight
    attn, ffn, ln = 4 * (16 * 16 + 16), 16 * 32 + 32 + 32 * 16 + 16, 2 * 16
    expected = 30 * 16 + 2 * (attn + ffn + 2 * ln) + 2 * (2 * attn + ffn + 3 * ln)
    assert sum(p.numel() for p in model.parameters()) == expected
    # a padded source token changes nothing
    src2 = src.clone()
    src2[0, 3] = 0
    assert torch.allclose(model(src2, tgt), logits)
    # the output at position i does not depend on targets after i
    tgt2 = tgt.clone()
    tgt2[:, -1] = 3
    assert torch.allclose(model(src, tgt2)[:, :-1], logits[:, :-1], atol=1e-5)
    untied = Transformer(
        30, 20, d_model=16, n_heads=2, n_layers=1, d_ff=32, share_embeddings=False, norm_first=True
    )
    assert untied(src, torch.randint(0, 20, (2, 3))).shape == (2, 3, 20)


def test_transformer_errors() -> None:
    model = Transformer(10, 10, d_model=8, n_heads=2, n_layers=1, d_ff=16, max_len=5)
    ok = torch.tensor([[1, 2, 3]])
    with pytest.raises(ValueError, match="src has length 6, longer than the context max_len=5"):
        model(torch.ones(1, 6, dtype=torch.long), ok)
    with pytest.raises(ValueError, match="tgt has length 6, longer than the context max_len=5"):
        model(ok, torch.ones(1, 6, dtype=torch.long))
    with pytest.raises(ValueError, match=r"tgt must hold ids in \[0, 10\)"):
        model(ok, torch.tensor([[12]]))
    with pytest.raises(TypeError, match="src must hold token ids as torch.long"):
        model(torch.randn(1, 3), ok)
    with pytest.raises(ValueError, match="at least one non-padding"):
        model(torch.zeros(1, 3, dtype=torch.long), ok)
    with pytest.raises(ValueError, match="src_vocab == tgt_vocab"):
        Transformer(10, 12)
    with pytest.raises(ValueError, match="d_model must be divisible by n_heads"):
        Transformer(10, 10, d_model=10, n_heads=4)
