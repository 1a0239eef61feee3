"""Unit tests for lessons.models.seq2seq: attention scores by formula, masking, encoder packing, decoding."""

from __future__ import annotations

import pytest
import torch

from lessons.models.seq2seq import (
    AdditiveAttention,
    Decoder,
    Encoder,
    MultiplicativeAttention,
    Seq2Seq,
    masked_softmax,
)


def test_additive_attention_matches_its_formula() -> None:
    torch.manual_seed(0)
    attn = AdditiveAttention(query_dim=4, key_dim=6, attn_dim=5)
    q, K = torch.randn(2, 4), torch.randn(2, 3, 6)
    ctx, w = attn(q, K)
    e = torch.stack(
        [
            torch.stack(
                [attn.v.weight[0] @ torch.tanh(attn.W_q.weight @ q[b] + attn.W_k(K[b, j])) for j in range(3)]
            )
            for b in range(2)
        ]
    )
    assert torch.allclose(w, torch.softmax(e, dim=-1), atol=1e-6)
    assert torch.allclose(ctx, (w[:, :, None] * K).sum(1), atol=1e-6)


@pytest.mark.parametrize("score", ["dot", "general"])
def test_multiplicative_attention_matches_its_formula(score: str) -> None:
    torch.manual_seed(1)
    attn = MultiplicativeAttention(4, 4, score=score)
    q, K = torch.randn(2, 4), torch.randn(2, 5, 4)
    _, w = attn(q, K)
    W = torch.eye(4) if score == "dot" else attn.W.weight
    e = torch.einsum("bd,de,bse->bs", q, W, K)
    assert torch.allclose(w, torch.softmax(e, dim=-1), atol=1e-6)
    assert sum(p.numel() for p in attn.parameters()) == (0 if score == "dot" else 16)


def test_masking_gives_zero_weight_to_padding() -> None:
    torch.manual_seed(2)
    attn = AdditiveAttention(3, 3, 4)
    q, K = torch.randn(2, 3), torch.randn(2, 4, 3)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    ctx, w = attn(q, K, mask)
    assert torch.all(w[0, 2:] == 0) and torch.allclose(w.sum(-1), torch.ones(2))
    # changing a padded key changes nothing
    K2 = K.clone()
    K2[0, 3] += 100
    assert torch.allclose(attn(q, K2, mask)[0], ctx)


def test_attention_errors() -> None:
    with pytest.raises(ValueError, match="query_dim == key_dim"):
        MultiplicativeAttention(3, 4, score="dot")
    with pytest.raises(ValueError, match="score must be"):
        MultiplicativeAttention(3, 3, score="cosine")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="attn_dim"):
        AdditiveAttention(3, 3, 0)
    attn = AdditiveAttention(3, 4, 5)
    with pytest.raises(ValueError, match=r"query must have shape \(batch, 3\)"):
        attn(torch.randn(2, 4), torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match=r"keys must have shape \(2, S, 4\)"):
        attn(torch.randn(2, 3), torch.randn(2, 5, 3))
    with pytest.raises(ValueError, match="mask must have the shape"):
        masked_softmax(torch.randn(2, 3), torch.ones(2, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="at least one position"):
        masked_softmax(torch.randn(1, 3), torch.zeros(1, 3, dtype=torch.bool))


def test_encoder_ignores_padding() -> None:
    torch.manual_seed(3)
    enc = Encoder(10, 4, 5, pad_id=0)
    assert enc.output_dim == 10
    short = torch.tensor([[3, 4, 5]])
    padded = torch.tensor([[3, 4, 5, 0, 0]])
    m1, s1 = enc(short)
    m2, s2 = enc(padded)
    assert torch.allclose(m1, m2[:, :3], atol=1e-6) and torch.all(m2[:, 3:] == 0)
    assert torch.allclose(s1, s2, atol=1e-6)
    # the summary holds the last forward state and the backward state at position 0
    assert torch.allclose(s1[:, :5], m1[:, -1, :5], atol=1e-6)
    assert torch.allclose(s1[:, 5:], m1[:, 0, 5:], atol=1e-6)
    with pytest.raises(ValueError, match="at least one non-padding"):
        enc(torch.tensor([[0, 0]]))
    with pytest.raises(ValueError, match="src must be"):
        enc(torch.randn(1, 3))
    with pytest.raises(ValueError, match=r"src ids must be in \[0, 10\)"):
        enc(torch.tensor([[11]]))


@pytest.mark.parametrize("attention", [None, "bahdanau", "luong"])
def test_seq2seq_forward_loss_and_decode(attention: str | None) -> None:
    torch.manual_seed(4)
    enc = Encoder(9, 4, 6, bidirectional=attention != "luong")
    dec = Decoder(
        7, 3, 6, enc.output_dim, attention, luong_score="dot" if attention == "luong" else "general"
    )
    model = Seq2Seq(enc, dec, bos_id=1, pad_id=0)
    src = torch.tensor([[2, 3, 4, 0], [5, 6, 7, 8]])
    tgt = torch.tensor([[2, 3, 0], [4, 5, 6]])
    logits = model(src, tgt)
    assert logits.shape == (2, 3, 7)
    loss = model.loss(src, tgt)
    loss.backward()
    assert loss.item() > 0 and all(p.grad is not None for p in model.parameters() if p.requires_grad)
    tokens, weights = model.greedy_decode(src, max_len=4)
    assert tokens.shape == (2, 4) and weights.shape == (2, 4, 4)
    if attention is None:
        assert torch.all(weights == 0)
    else:
        assert torch.allclose(weights.sum(-1), torch.ones(2, 4), atol=1e-6)
        assert torch.all(weights[0, :, 3] == 0)  # padding never attended
    # greedy decoding equals teacher forcing on its own output
    assert torch.equal(model(src, tokens).argmax(-1), tokens)


def test_teacher_forcing_zero_feeds_own_predictions() -> None:
    torch.manual_seed(5)
    enc = Encoder(6, 3, 4)
    model = Seq2Seq(enc, Decoder(6, 3, 4, enc.output_dim, "bahdanau"), bos_id=1)
    src = torch.tensor([[2, 3, 4]])
    tokens, _ = model.greedy_decode(src, 5)
    free = model(src, torch.full((1, 5), 2), teacher_forcing=0.0)
    assert torch.equal(free.argmax(-1), tokens)


def test_seq2seq_errors() -> None:
    enc = Encoder(5, 2, 3)
    with pytest.raises(ValueError, match="memory_dim"):
        Seq2Seq(enc, Decoder(5, 2, 3, memory_dim=3), bos_id=1)
    with pytest.raises(ValueError, match="attention must be"):
        Decoder(5, 2, 3, 6, attention="dot")  # type: ignore[arg-type]
    model = Seq2Seq(enc, Decoder(5, 2, 3, 6), bos_id=1)
    src = torch.tensor([[2, 3]])
    with pytest.raises(ValueError, match="teacher_forcing"):
        model(src, src, teacher_forcing=1.5)
    with pytest.raises(ValueError, match="tgt ids"):
        model(src, torch.tensor([[7]]))
    with pytest.raises(ValueError, match="max_len"):
        model.greedy_decode(src, 0)
