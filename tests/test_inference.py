"""Tests for lessons.inference: the cached, batched and speculative decoders give the model's own tokens."""

from __future__ import annotations

import pytest
import torch
from transformers import LlamaConfig as HFConfig
from transformers import LlamaForCausalLM

from lessons.inference import (
    KVCache,
    LayerDraft,
    PromptLookupDraft,
    SpeculativeStats,
    batched_greedy,
    forward,
    greedy_decode,
    left_pad,
    speculative_decode,
    speculative_sample,
)
from lessons.models.llama import Llama


def _models(seed: int = 0, *, kv: int = 2, layers: int = 3) -> tuple[LlamaForCausalLM, Llama]:
    torch.manual_seed(seed)
    cfg = HFConfig(
        vocab_size=40,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=kv,
        max_position_embeddings=128,
        tie_word_embeddings=True,
        rope_parameters={"rope_type": "default", "rope_theta": 500.0},
    )
    hf = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.add_(0.3 * torch.randn_like(p))  # sharper logits: fewer near-ties between tokens
    return hf, Llama.from_huggingface(hf).eval()


@pytest.mark.parametrize(("seed", "kv"), [(0, 2), (1, 4), (2, 1)])
def test_cached_forward_equals_full_forward(seed: int, kv: int) -> None:
    _, model = _models(seed, kv=kv)
    idx = torch.randint(0, 40, (2, 12), generator=torch.Generator().manual_seed(seed))
    full = model(idx)
    cache = KVCache(model.config.n_layer)
    parts = [
        forward(model, idx[:, :5], cache),
        forward(model, idx[:, 5:6], cache),
        forward(model, idx[:, 6:], cache),
    ]
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-5)
    assert cache.length == 12 and cache.keys[0] is not None and cache.keys[0].shape == (2, kv, 12, 8)
    assert cache.nbytes == 2 * 3 * 2 * kv * 12 * 8 * 4
    cache.crop(4)
    assert cache.length == 4
    torch.testing.assert_close(forward(model, idx[:, 4:], cache), full[:, 4:], atol=1e-5, rtol=1e-5)


def test_greedy_equals_huggingface_and_no_cache() -> None:
    hf, model = _models(3)
    idx = torch.tensor([[1, 5, 7, 2]])
    ours = greedy_decode(model, idx, 10)
    assert torch.equal(ours, greedy_decode(model, idx, 10, use_cache=False))
    assert torch.equal(ours, model.generate(idx, 10))
    assert torch.equal(ours, hf.generate(idx, max_new_tokens=10, do_sample=False, eos_token_id=None))
    assert greedy_decode(model, idx, 0).shape == (1, 4)


def test_left_padded_batch_equals_one_at_a_time() -> None:
    hf, model = _models(4)
    prompts = [torch.tensor([3, 9, 4, 1, 8, 2]), torch.tensor([7]), torch.tensor([5, 5, 6])]
    ids, mask = left_pad(prompts, pad_id=0)
    assert ids.shape == (3, 6) and mask.tolist()[1] == [0, 0, 0, 0, 0, 1] and ids[1, -1] == 7
    batched = batched_greedy(model, prompts, 8)
    no_cache = greedy_decode(model, ids, 8, use_cache=False, attention_mask=mask)[:, 6:]
    for i, p in enumerate(prompts):
        alone = greedy_decode(model, p[None], 8)[0, p.numel() :]
        assert torch.equal(batched[i], alone) and torch.equal(no_cache[i], alone)
    hf_out = hf.generate(ids, attention_mask=mask, max_new_tokens=8, do_sample=False, eos_token_id=None)
    assert torch.equal(torch.stack(batched), hf_out[:, 6:])


@pytest.mark.parametrize("n_draft", [1, 3, 5])
def test_speculative_equals_greedy(n_draft: int) -> None:
    _, model = _models(5, layers=4)
    idx = torch.tensor([[4, 8, 15, 16, 23, 4, 8, 15]])
    target = greedy_decode(model, idx, 20)
    for draft in (LayerDraft(model, 2), LayerDraft(model, 4), PromptLookupDraft(2)):
        tokens, stats = speculative_decode(model, idx, 20, draft, n_draft=n_draft)
        assert torch.equal(tokens, target)
        assert stats.new_tokens >= 20 and stats.accepted <= stats.drafted
        assert stats.target_calls == stats.new_tokens - stats.accepted
    _, stats = speculative_decode(model, idx, 20, LayerDraft(model, 4), n_draft=n_draft)
    assert stats.acceptance_rate == 1.0  # the whole model as its own draft is always right
    assert stats.tokens_per_call == pytest.approx(20 / stats.target_calls)
    one = speculative_decode(model, idx[:, :1], 5, PromptLookupDraft())[0]
    assert torch.equal(one, greedy_decode(model, idx[:, :1], 5))


def test_prompt_lookup_copies_after_the_latest_match() -> None:
    draft = PromptLookupDraft(max_ngram=2)
    seq = torch.tensor([1, 2, 3, 4, 9, 1, 2, 7, 7, 1, 2])
    assert draft.propose(seq, 3).tolist() == [7, 7, 1]  # "1 2" last occurred before "7 7 1"
    assert draft.propose(torch.tensor([5, 6, 8]), 3).tolist() == []
    assert draft.propose(torch.tensor([5, 6, 5]), 2).tolist() == [6, 5]  # a 1-gram match
    assert SpeculativeStats().acceptance_rate == 0.0 and SpeculativeStats().tokens_per_call == 0.0


def test_speculative_sample_follows_the_target() -> None:
    p = torch.tensor([0.5, 0.3, 0.15, 0.05], dtype=torch.float64)
    q = torch.tensor([0.1, 0.6, 0.1, 0.2], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    counts = torch.zeros(4)
    for _ in range(20_000):
        x = int(torch.multinomial(q, 1, generator=g))
        token, accepted = speculative_sample(p, q, x, g)
        assert accepted or token != x or p[x] < q[x]
        counts[token] += 1
    assert (counts / counts.sum() - p.float()).abs().max() < 0.015  # 4 standard errors at n = 20,000
    assert speculative_sample(p, p, 2, g) == (2, True)  # p == q: always accepted


def test_errors_name_the_argument() -> None:
    hf, model = _models(6)
    idx = torch.tensor([[1, 2]])
    with pytest.raises(ValueError, match="model must be"):
        forward(hf, idx)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_layer"):
        forward(model, idx, n_layer=4)
    with pytest.raises(ValueError, match="cache must hold at least 3"):
        forward(model, idx, KVCache(2))
    with pytest.raises(ValueError, match="cache must be a KVCache"):
        forward(model, idx, {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="attention_mask must have shape"):
        forward(model, idx, attention_mask=torch.ones(1, 3))
    cache = KVCache(3)
    forward(model, idx, cache)
    with pytest.raises(ValueError, match="batch size"):
        forward(model, torch.zeros(2, 1, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="length"):
        cache.crop(3)
    with pytest.raises(ValueError, match="idx must hold ids"):
        greedy_decode(model, torch.tensor([[40]]), 2)
    with pytest.raises(ValueError, match="max_new_tokens"):
        greedy_decode(model, idx, -1)
    with pytest.raises(ValueError, match="sequences must hold"):
        left_pad([])
    with pytest.raises(ValueError, match=r"sequences\[1\]"):
        left_pad([torch.tensor([1]), torch.tensor([[1]])])
    with pytest.raises(ValueError, match="one sequence"):
        speculative_decode(model, torch.zeros(2, 3, dtype=torch.long), 4, PromptLookupDraft())
    with pytest.raises(ValueError, match="draft must have"):
        speculative_decode(model, idx, 4, object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_draft"):
        speculative_decode(model, idx, 4, PromptLookupDraft(), n_draft=0)
    with pytest.raises(ValueError, match="n_layer"):
        LayerDraft(model, 0)
    with pytest.raises(ValueError, match="max_ngram"):
        PromptLookupDraft(0)
    p = torch.tensor([0.5, 0.5])
    with pytest.raises(ValueError, match="p and q"):
        speculative_sample(p, torch.ones(3) / 3, 0)
    with pytest.raises(ValueError, match=r"q\[token\] > 0"):
        speculative_sample(p, torch.tensor([1.0, 0.0]), 1)
    with pytest.raises(ValueError, match="token"):
        speculative_sample(p, p, 2)
