"""Tests for lessons.models.llama: components and the whole model equal transformers' Llama."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig as HFConfig
from transformers import LlamaForCausalLM
from transformers.models.llama import modeling_llama as ml

from lessons.models.llama import Llama, LlamaConfig, RMSNorm, SwiGLU, apply_rope, rope_cos_sin


def _hf(seed: int, *, kv: int, tie: bool, head_dim: int | None = None) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    cfg = HFConfig(
        vocab_size=50,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=kv,
        max_position_embeddings=64,
        tie_word_embeddings=tie,
        rms_norm_eps=1e-5,
        head_dim=head_dim or 8,
        rope_parameters={"rope_type": "default", "rope_theta": 500.0},
    )
    model = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


@pytest.mark.parametrize(
    ("seed", "kv", "tie", "head_dim"), [(0, 4, False, None), (1, 2, True, None), (2, 1, False, 16)]
)
def test_logits_equal_huggingface(seed: int, kv: int, tie: bool, head_dim: int | None) -> None:
    hf = _hf(seed, kv=kv, tie=tie, head_dim=head_dim)
    ours = Llama.from_huggingface(hf).eval()
    idx = torch.randint(0, 50, (2, 11), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        torch.testing.assert_close(ours(idx), hf(idx).logits, atol=1e-5, rtol=1e-5)
        assert torch.equal(
            ours.generate(idx[:1, :3], 6), hf.generate(idx[:1, :3], max_new_tokens=6, do_sample=False)
        )
    assert ours.config.tie_embeddings is tie
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in hf.parameters())


def test_rmsnorm_and_mlp_equal_huggingface() -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 5, 16)
    ref = ml.LlamaRMSNorm(16, eps=1e-6)
    ref.weight.data.normal_()
    ours = RMSNorm(16, eps=1e-6)
    ours.load_state_dict(ref.state_dict())
    torch.testing.assert_close(ours(x), ref(x))
    cfg = HFConfig(hidden_size=16, intermediate_size=24, num_attention_heads=2, num_key_value_heads=2)
    ref_mlp = ml.LlamaMLP(cfg)
    mlp = SwiGLU(16, 24)
    mlp.load_state_dict(ref_mlp.state_dict())
    torch.testing.assert_close(mlp(x), ref_mlp(x))


def test_rope_equals_huggingface_and_is_relative() -> None:
    q, k = torch.randn(2, 1, 1, 8).unbind(0)
    pos = torch.arange(20)
    cos, sin = rope_cos_sin(pos, 8, 10000.0)
    hf_q, _ = ml.apply_rotary_pos_emb(
        q.expand(1, 20, 8)[:, None], q.expand(1, 20, 8)[:, None], cos[None], sin[None]
    )
    torch.testing.assert_close(apply_rope(q.expand(1, 20, 8), cos, sin), hf_q[:, 0])
    rq, rk = apply_rope(q.expand(1, 20, 8), cos, sin)[0], apply_rope(k.expand(1, 20, 8), cos, sin)[0]
    dots = rq @ rk.T
    for m, n in [(5, 2), (9, 6), (19, 16)]:
        torch.testing.assert_close(dots[m, n], dots[3, 0], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(dots[5, 2], dots[5, 1], atol=1e-3)


def test_bad_arguments_name_themselves() -> None:
    with pytest.raises(ValueError, match="n_kv_head"):
        LlamaConfig(vocab_size=10, dim=8, n_layer=1, n_head=4, n_kv_head=3, hidden_dim=8)
    with pytest.raises(ValueError, match="head_dim"):
        rope_cos_sin(torch.arange(3), 7)
    with pytest.raises(ValueError, match="hf_model"):
        Llama.from_huggingface(torch.nn.Linear(2, 2))
    model = Llama(LlamaConfig(vocab_size=10, dim=8, n_layer=1, n_head=2, n_kv_head=1, hidden_dim=8))
    with pytest.raises(ValueError, match="idx"):
        model(torch.full((1, 3), 10))
