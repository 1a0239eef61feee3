"""Unit tests of lessons.pretraining: MinHash/LSH against datasketch, packing and its mask, the training
helper, the power-law fit against numpy.polyfit, and greedy answer matching against generate()."""

import datasketch
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import LlamaConfig as HFConfig
from transformers import LlamaForCausalLM

from lessons.models.llama import Llama, LlamaConfig
from lessons.pretraining import (
    chinchilla_optimal,
    document_causal_mask,
    fit_power_law,
    greedy_answer_matches,
    jaccard,
    lsh_candidate_pairs,
    minhash_permutations,
    minhash_signature,
    non_embedding_params,
    pack_documents,
    train_char_llama,
    training_flops,
    word_shingles,
)

TEXTS = [
    "the quick brown fox jumps over the lazy dog again and again",
    "the quick brown fox jumps over the lazy cat again and again",
    "a completely different sentence about pre-training language models",
    "the quick brown fox jumps over the lazy dog again and again",
]


def test_word_shingles():
    assert word_shingles("A b C d", k=2) == {"a b", "b c", "c d"}
    assert word_shingles("short", k=5) == {"short"}
    with pytest.raises(ValueError, match="k"):
        word_shingles("x", k=0)
    with pytest.raises(TypeError, match="text"):
        word_shingles(3)  # type: ignore[arg-type]


def test_jaccard():
    assert jaccard({1, 2}, {2, 3}) == pytest.approx(1 / 3)
    assert jaccard(set(), set()) == 1.0
    with pytest.raises(TypeError, match="sets"):
        jaccard([1], {1})  # type: ignore[arg-type]


@pytest.mark.parametrize("num_perm,seed", [(16, 1), (128, 7)])
def test_minhash_equals_datasketch(num_perm, seed):
    a, b = minhash_permutations(num_perm, seed)
    ref = datasketch.MinHash(num_perm=num_perm, seed=seed)
    np.testing.assert_array_equal(a, ref.permutations[0])
    np.testing.assert_array_equal(b, ref.permutations[1])
    for text in TEXTS:
        s = word_shingles(text, k=3)
        m = datasketch.MinHash(num_perm=num_perm, seed=seed)
        m.update_batch([x.encode("utf-8") for x in s])
        np.testing.assert_array_equal(minhash_signature(s, num_perm, seed), m.hashvalues)


def test_minhash_empty_and_errors():
    assert (minhash_signature([], 8) == 0xFFFFFFFF).all()
    with pytest.raises(ValueError, match="num_perm"):
        minhash_signature({"a"}, num_perm=0)
    with pytest.raises(ValueError, match="seed"):
        minhash_permutations(8, seed=-1)
    with pytest.raises(TypeError, match="shingles"):
        minhash_signature([b"bytes"])  # type: ignore[list-item]


def test_minhash_estimates_jaccard():
    a, b = set(range(0, 600)), set(range(200, 800))  # Jaccard 400 / 800 = 0.5
    sa, sb = (minhash_signature([str(x) for x in s], 512) for s in (a, b))
    assert abs((sa == sb).mean() - 0.5) < 0.08


def test_lsh_equals_datasketch():
    sigs, lsh = [], datasketch.MinHashLSH(num_perm=32, params=(8, 4))
    for i, text in enumerate(TEXTS):
        m = datasketch.MinHash(num_perm=32)
        m.update_batch([x.encode("utf-8") for x in word_shingles(text, k=2)])
        lsh.insert(i, m)
        sigs.append(m.hashvalues)
    expected = {
        tuple(sorted((i, j))) for i in range(len(TEXTS)) for j in lsh.query(_minhash(sigs[i])) if j != i
    }
    pairs = lsh_candidate_pairs(np.stack(sigs), 8, 4)
    assert pairs == expected and (0, 3) in pairs and (0, 2) not in pairs


def _minhash(values):
    return datasketch.MinHash(num_perm=len(values), hashvalues=values, scheme="affine32")


def test_lsh_errors():
    with pytest.raises(ValueError, match="signatures"):
        lsh_candidate_pairs(np.zeros(4), 2, 2)
    with pytest.raises(ValueError, match="bands \\* rows"):
        lsh_candidate_pairs(np.zeros((3, 8)), 4, 4)
    with pytest.raises(ValueError, match="rows"):
        lsh_candidate_pairs(np.zeros((3, 8)), 2, 0)


def test_pack_documents_and_mask():
    docs = [[1, 2, 3], [4], [5, 6, 7, 8, 9]]
    tokens, doc_ids = pack_documents(docs, seq_len=4, eos_id=0, pad_id=99)
    assert tokens.tolist() == [[1, 2, 3, 0], [4, 0, 5, 6], [7, 8, 9, 0]]
    assert doc_ids.tolist() == [[0, 0, 0, 0], [1, 1, 2, 2], [2, 2, 2, 2]]
    tokens, doc_ids = pack_documents([[1, 2]], seq_len=4, eos_id=0, pad_id=99)
    assert tokens.tolist() == [[1, 2, 0, 99]] and doc_ids.tolist() == [[0, 0, 0, -1]]
    mask = document_causal_mask(doc_ids)
    assert mask.shape == (1, 4, 4) and mask[0, 3].tolist() == [False, False, False, True]
    with pytest.raises(ValueError, match="seq_len"):
        pack_documents(docs, seq_len=0, eos_id=0)
    with pytest.raises(ValueError, match="docs"):
        pack_documents([], seq_len=4, eos_id=0)
    with pytest.raises(TypeError, match="doc_ids"):
        document_causal_mask([0, 1])  # type: ignore[arg-type]


def test_document_mask_equals_separate_attention():
    torch.manual_seed(0)
    _, doc_ids = pack_documents([[1] * 3, [1] * 5], seq_len=10, eos_id=0)  # lengths 4 and 6 with EOS
    q, k, v = torch.randn(3, 1, 10, 8).unbind(0)
    packed = F.scaled_dot_product_attention(q, k, v, attn_mask=document_causal_mask(doc_ids[0]))
    for lo, hi in [(0, 4), (4, 10)]:
        alone = F.scaled_dot_product_attention(q[:, lo:hi], k[:, lo:hi], v[:, lo:hi], is_causal=True)
        torch.testing.assert_close(packed[:, lo:hi], alone)


def test_train_char_llama_learns_and_validates():
    ids = torch.arange(400) % 5  # a periodic stream: perfectly predictable
    cfg = LlamaConfig(
        vocab_size=5, dim=16, n_layer=1, n_head=2, n_kv_head=2, hidden_dim=32, tie_embeddings=True
    )
    run = train_char_llama(cfg, ids, ids[:100], steps=60, batch_size=8, seq_len=16, lr=1e-2, seed=0)
    assert run.val_loss < 0.2 < run.losses[0]
    assert run.n_tokens == 60 * 8 * 16 and run.n_non_embedding == run.n_params - 5 * 16
    again = train_char_llama(cfg, ids, ids[:100], steps=3, batch_size=4, seq_len=16, seed=1)
    assert (
        again.losses
        == train_char_llama(cfg, ids, ids[:100], steps=3, batch_size=4, seq_len=16, seed=1).losses
    )
    with pytest.raises(ValueError, match="steps"):
        train_char_llama(cfg, ids, ids, steps=0, batch_size=4)
    with pytest.raises(ValueError, match="val_ids"):
        train_char_llama(cfg, ids, ids[:10], steps=1, batch_size=4, seq_len=16)
    with pytest.raises(ValueError, match="train_ids"):
        train_char_llama(cfg, ids + 5, ids, steps=1, batch_size=4)
    with pytest.raises(ValueError, match="config"):
        train_char_llama("cfg", ids, ids, steps=1, batch_size=4)  # type: ignore[arg-type]


def test_non_embedding_params():
    untied = Llama(LlamaConfig(vocab_size=10, dim=8, n_layer=1, n_head=2, n_kv_head=1, hidden_dim=16))
    total = sum(p.numel() for p in untied.parameters())
    assert non_embedding_params(untied) == total - 2 * 10 * 8
    with pytest.raises(ValueError, match="model"):
        non_embedding_params(torch.nn.Linear(2, 2))  # type: ignore[arg-type]


def test_flops_and_chinchilla():
    assert training_flops(175e9, 300e9) == pytest.approx(3.15e23)
    n, d = chinchilla_optimal(training_flops(1e9, 20e9))
    assert n == pytest.approx(1e9) and d == pytest.approx(20e9)
    with pytest.raises(ValueError, match="n_tokens"):
        training_flops(1.0, 0.0)
    with pytest.raises(ValueError, match="tokens_per_param"):
        chinchilla_optimal(1e20, tokens_per_param=-1)


def test_fit_power_law_matches_polyfit():
    rng = np.random.default_rng(0)
    x = np.geomspace(1e3, 1e6, 7)
    y = 5.0 * x**-0.3 * np.exp(rng.normal(0, 0.05, x.shape))
    c, e = fit_power_law(x, y)
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    assert e == pytest.approx(slope) and np.log(c) == pytest.approx(intercept)
    with pytest.raises(ValueError, match="positive"):
        fit_power_law([1, 2], [1, -1])
    with pytest.raises(ValueError, match="equal length"):
        fit_power_law([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="two points"):
        fit_power_law([1], [1])
    with pytest.raises(ValueError, match="distinct"):
        fit_power_law([2, 2], [1, 3])


def test_greedy_answer_matches_equals_generate():
    torch.manual_seed(0)
    cfg = HFConfig(vocab_size=30, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                   num_attention_heads=4, num_key_value_heads=2)  # fmt: skip
    model = LlamaForCausalLM(cfg).eval()
    prefix = [3, 4, 5, 6]
    questions = [[7], [8, 9], [10, 11, 12], [13]]
    expected, answers = [], []
    for i, q in enumerate(questions):
        with torch.no_grad():
            out = model.generate(
                torch.tensor([prefix + q]), max_new_tokens=2, do_sample=False, pad_token_id=0
            )
        greedy = out[0, len(prefix) + len(q) :].tolist()
        # odd rows: a wrong second token
        answers.append(greedy if i % 2 == 0 else [greedy[0], (greedy[1] + 1) % 30])
        expected.append(i % 2 == 0)
    for batch_size in (1, 3):
        got = greedy_answer_matches(model, prefix, questions, answers, batch_size=batch_size)
        assert got.tolist() == expected
    no_prefix = greedy_answer_matches(model, [], [prefix + q for q in questions], answers)
    assert no_prefix.tolist() == expected
    with pytest.raises(ValueError, match="as many"):
        greedy_answer_matches(model, prefix, questions, answers[:2])
    with pytest.raises(ValueError, match="answer"):
        greedy_answer_matches(model, prefix, questions, [[]] * 4)
    with pytest.raises(ValueError, match="question"):
        greedy_answer_matches(model, [], [[]], [[1]])
