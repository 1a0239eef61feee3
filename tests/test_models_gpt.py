"""Unit tests for lessons.models.gpt: equal to Hugging Face's GPT-2, decoding equal to transformers'
logits processors and generate, the KV cache equal to no cache, and clear errors on bad input."""

from __future__ import annotations

import pytest
import torch
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from lessons.models.gpt import GPT, GPTConfig, KVCache, apply_temperature, top_k_filter, top_p_filter

TINY = dict(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=8)


def hf_twin(seed: int = 0, **kwargs: object) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    config = dict(
        vocab_size=97, n_positions=32, n_embd=24, n_layer=2, n_head=3, bos_token_id=0, eos_token_id=0
    )
    return GPT2LMHeadModel(GPT2Config(**(config | kwargs))).eval()


@pytest.mark.parametrize("activation", ["gelu_new", "relu"])
def test_from_huggingface_gives_the_same_logits(activation: str) -> None:
    hf = hf_twin(activation_function=activation, n_inner=40)
    model = GPT.from_huggingface(hf)
    assert not model.training and model.config.d_ff == 40
    idx = torch.randint(0, 97, (3, 32))
    with torch.no_grad():
        assert torch.allclose(model(idx), hf(idx).logits, atol=1e-5)
    assert model.lm_head.weight is model.transformer["wte"].weight  # tied, as in GPT-2


def test_untied_embeddings_are_copied() -> None:
    hf = hf_twin(tie_word_embeddings=False)
    model = GPT.from_huggingface(hf)
    assert model.lm_head.weight is not model.transformer["wte"].weight
    assert torch.equal(model.lm_head.weight, hf.lm_head.weight)


def test_gpt2_small_parameter_count() -> None:
    with torch.device("meta"):
        model = GPT(GPTConfig.from_huggingface(GPT2Config()))
    assert sum(p.numel() for p in model.parameters()) == 124_439_808


def test_kv_cache_equals_no_cache_and_huggingface_greedy() -> None:
    hf = hf_twin()
    model = GPT.from_huggingface(hf)
    prompt = torch.randint(0, 97, (2, 4))
    ids, logits = model.generate(prompt, 20, return_logits=True)
    ids2, logits2 = model.generate(prompt, 20, use_cache=False, return_logits=True)
    assert torch.equal(ids, ids2) and torch.allclose(logits, logits2, atol=1e-5)
    assert logits.shape == (2, 20, 97)
    assert torch.equal(ids, hf.generate(prompt, max_new_tokens=20, do_sample=False, pad_token_id=0))


def test_cache_grows_and_reorders() -> None:
    model = GPT(GPTConfig(**TINY)).eval()
    cache = KVCache(2)
    assert len(cache) == 2 and cache.length == 0
    model(torch.zeros(3, 5, dtype=torch.long), cache)
    model(torch.ones(3, 1, dtype=torch.long), cache)
    assert cache.length == 6 and cache.keys[0].shape == (3, 2, 6, 4)
    cache.reorder(torch.tensor([2, 2]))
    assert cache.values[1].shape[0] == 2
    with pytest.raises(ValueError, match="after 6 cached positions.*block_size=16"):
        model(torch.zeros(2, 11, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="cache has 3 layers"):
        model(torch.zeros(1, 1, dtype=torch.long), KVCache(3))
    with pytest.raises(TypeError, match="cache must be a KVCache"):
        model(torch.zeros(1, 1, dtype=torch.long), [])


def test_sampling_is_reproducible_with_a_generator() -> None:
    model = GPT(GPTConfig(**TINY)).eval()
    prompt = torch.zeros(2, 1, dtype=torch.long)
    runs = [
        model.generate(prompt, 10, do_sample=True, top_k=5, top_p=0.9, temperature=0.8,
                       generator=torch.Generator().manual_seed(1))
        for _ in range(2)
    ]  # fmt: skip
    assert torch.equal(*runs)


def test_beam_search_equals_huggingface() -> None:
    hf = hf_twin()
    model = GPT.from_huggingface(hf)
    prompt = torch.randint(0, 97, (1, 3))
    seqs, scores = model.beam_search(prompt, 8, num_beams=3, length_penalty=0.0)
    out = hf.generate(
        prompt, max_new_tokens=8, min_new_tokens=8, num_beams=3, num_return_sequences=3,
        do_sample=False, length_penalty=0.0, eos_token_id=None, pad_token_id=0,
        return_dict_in_generate=True, output_scores=True,
    )  # fmt: skip
    assert torch.equal(seqs, out.sequences)
    assert torch.allclose(scores, out.sequences_scores, atol=1e-4)
    greedy = model.generate(prompt, 8, return_logits=True)[1].log_softmax(-1)
    greedy_logp = greedy.max(-1).values.sum()
    assert scores[0] >= greedy_logp - 1e-5
    _, normalised = model.beam_search(prompt, 8, num_beams=3, length_penalty=1.0)
    assert torch.allclose(normalised, scores / 8)


def test_filters_equal_transformers_warpers() -> None:
    torch.manual_seed(0)
    x = torch.randn(5, 200) * 2
    assert torch.equal(apply_temperature(x, 0.7), TemperatureLogitsWarper(0.7)(None, x))
    for k in (1, 7, 200, 500):
        assert torch.equal(top_k_filter(x, k), TopKLogitsWarper(k)(None, x))
    for p in (0.05, 0.3, 0.8, 1.0):
        assert torch.equal(top_p_filter(x, p), TopPLogitsWarper(p)(None, x))
    kept = torch.isfinite(top_p_filter(x, 0.8))
    assert torch.all(x.softmax(-1).where(kept, 0).sum(-1) >= 0.8)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(n_embd=10, n_head=3), ValueError, "n_embd must be divisible by n_head.*n_embd=10, n_head=3"),
        (dict(n_layer=0), ValueError, "n_layer must be an int >= 1"),
        (dict(block_size=2.0), TypeError, "block_size must be an int"),
        (dict(n_inner=0), ValueError, "n_inner"),
        (dict(dropout=1.0), ValueError, "dropout"),
        (dict(activation="swish"), ValueError, "activation"),
    ],
)
def test_config_errors_name_the_argument(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        GPTConfig(**(TINY | kwargs))


def test_bad_idx_gets_a_clear_error() -> None:
    model = GPT(GPTConfig(**TINY))
    with pytest.raises(ValueError, match="idx has length 17, longer than the context block_size=16"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(TypeError, match="idx must hold token ids as torch.long, got torch.float32"):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r"idx must have shape \(batch, length\)"):
        model(torch.zeros(4, dtype=torch.long))
    with pytest.raises(TypeError, match="idx must be a tensor"):
        model([[1, 2]])
    with pytest.raises(ValueError, match=r"idx must hold ids in \[0, 50\), got \[0, 50\]"):
        model(torch.tensor([[0, 50]]))
    with pytest.raises(ValueError, match="max_new_tokens=10 after 8 prompt tokens"):
        model.generate(torch.zeros(1, 8, dtype=torch.long), 10)
    with pytest.raises(ValueError, match="max_new_tokens must be an int >= 1"):
        model.generate(torch.zeros(1, 8, dtype=torch.long), 0)
    with pytest.raises(ValueError, match=r"idx must be one sequence"):
        model.beam_search(torch.zeros(2, 3, dtype=torch.long), 4, 2)
    with pytest.raises(ValueError, match="max_new_tokens=20 after 3"):
        model.beam_search(torch.zeros(1, 3, dtype=torch.long), 20, 2)
    with pytest.raises(TypeError, match="config must be a GPTConfig"):
        GPT(TINY)  # type: ignore[arg-type]


def test_filter_errors_name_the_argument() -> None:
    x = torch.randn(2, 10)
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        apply_temperature(x, 0.0)
    with pytest.raises(TypeError, match="temperature must be a number > 0, got str"):
        apply_temperature(x, "hot")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        top_k_filter(x, 0)
    with pytest.raises(ValueError, match=r"p must be a finite number in \(0, 1\]"):
        top_p_filter(x, 1.5)
    with pytest.raises(TypeError, match=r"p must be a number in \(0, 1\], got NoneType"):
        top_p_filter(x, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"logits must be a \(batch, vocab_size\) float tensor"):
        top_k_filter(torch.randn(10), 3)
    with pytest.raises(TypeError, match="logits must be a torch.Tensor"):
        top_p_filter([1.0, 2.0], 0.5)  # type: ignore[arg-type]


def test_from_huggingface_refuses_what_it_cannot_copy() -> None:
    with pytest.raises(TypeError, match="hf_model must be a transformers.GPT2LMHeadModel"):
        GPT.from_huggingface(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="hf_config must scale attention"):
        GPT.from_huggingface(hf_twin(scale_attn_by_inverse_layer_idx=True))
    with pytest.raises(TypeError, match="hf_config must be a transformers.GPT2Config"):
        GPTConfig.from_huggingface({"n_embd": 8})
