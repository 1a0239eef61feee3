"""Unit tests for lessons.models.seq2seq: attention scores by formula, masking, encoder packing, greedy
and beam decoding."""

from __future__ import annotations

import pytest
import torch

from lessons.models.seq2seq import (
    AdditiveAttention,
    Decoder,
    Encoder,
    MultiplicativeAttention,
    Seq2Seq,
    beam_search,
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
    with pytest.raises(TypeError, match="src must hold token ids as torch.long"):
        enc(torch.randn(1, 3))
    with pytest.raises(ValueError, match=r"src must hold ids in \[0, 10\)"):
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
    with pytest.raises(ValueError, match=r"tgt must hold ids in"):
        model(src, torch.tensor([[7]]))
    with pytest.raises(ValueError, match="max_len"):
        model.greedy_decode(src, 0)


def _small_model(attention: str | None, seed: int = 6) -> Seq2Seq:
    torch.manual_seed(seed)
    enc = Encoder(9, 4, 6)
    return Seq2Seq(enc, Decoder(5, 3, 6, enc.output_dim, attention), bos_id=1, pad_id=0)


# toy model of beam_search's docstring: row = last token (3 = BOS), column = p(next)
TABLE = torch.tensor([[0.4, 0.3, 0.3], [0.9, 0.05, 0.05], [1 / 3] * 3, [0.5, 0.4, 0.1]]).log()


def _total_log_prob(model: Seq2Seq, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """Summed log p of every target token, padding id included (an untrained model may emit it)."""
    with torch.no_grad():
        log_p = torch.log_softmax(model.eval()(src, tgt), dim=-1)
    return log_p.gather(-1, tgt[..., None]).squeeze(-1).sum(1)


def _table_step(prefix: torch.Tensor, state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, tuple]:
    return TABLE[prefix[:, -1]], state


@pytest.mark.parametrize("attention", [None, "bahdanau", "luong"])
def test_beam_width_one_is_greedy_and_scores_are_log_probs(attention: str | None) -> None:
    model = _small_model(attention)
    src = torch.tensor([[2, 3, 4, 0], [5, 6, 7, 8], [8, 2, 0, 0]])
    greedy, _ = model.greedy_decode(src, max_len=6)
    tokens, scores = model.beam_decode(src, max_len=6, width=1)
    assert torch.equal(tokens, greedy)
    assert torch.allclose(scores, _total_log_prob(model, src, tokens), atol=1e-5)
    wide, wide_scores = model.beam_decode(src, max_len=6, width=4)
    assert wide.shape == (3, 6) and torch.all(wide_scores >= scores - 1e-5)
    assert torch.allclose(wide_scores, _total_log_prob(model, src, wide), atol=1e-5)


def test_sequence_log_prob_by_hand_and_padding_ignored() -> None:
    model = _small_model("bahdanau")
    src, tgt = torch.tensor([[2, 3, 4]]), torch.tensor([[2, 4, 3]])
    log_p = torch.log_softmax(model(src, tgt), dim=-1)[0]
    assert torch.allclose(model.sequence_log_prob(src, tgt), log_p[[0, 1, 2], [2, 4, 3]].sum(), atol=1e-6)
    short = torch.tensor([[2, 4, 0]])
    assert torch.allclose(model.sequence_log_prob(src, short), log_p[[0, 1], [2, 4]].sum(), atol=1e-6)
    assert model.training  # the mode is restored


def test_wide_beam_finds_the_exact_best_sequence() -> None:
    model = _small_model("luong", seed=7).eval()
    src = torch.tensor([[2, 3, 4, 5], [6, 7, 0, 0]])
    # width 5**2 keeps every prefix of length 2 over the 5 target ids, so the search is exhaustive
    tokens, scores = model.beam_decode(src, max_len=3, width=25)
    every = torch.cartesian_prod(*[torch.arange(5)] * 3)  # (125, 3)
    for b in range(2):
        total = _total_log_prob(model, src[b].expand(len(every), -1), every)
        assert torch.equal(tokens[b], every[total.argmax()])
        assert torch.allclose(scores[b], total.max(), atol=1e-5)


def test_beam_search_on_a_table_beats_greedy() -> None:
    greedy, g_score = beam_search(_table_step, batch_size=2, bos_id=3, width=1, max_len=2)
    beam, b_score = beam_search(_table_step, batch_size=2, bos_id=3, width=2, max_len=2)
    assert greedy.tolist() == [[0, 0]] * 2 and beam.tolist() == [[1, 0]] * 2
    assert torch.allclose(g_score.exp(), torch.tensor(0.2))
    assert torch.allclose(b_score.exp(), torch.tensor(0.36))


def test_beam_search_stops_at_eos_and_length_penalty() -> None:
    # token 2 = EOS. From BOS: p(0) = 0.5, p(EOS) = 0.45; after 0: p(1) = 0.9; after 1: p(EOS) = 0.9
    table = torch.tensor([[0.05, 0.9, 0.05], [0.05, 0.05, 0.9], [1 / 3] * 3, [0.5, 0.05, 0.45]]).log()

    def step(prefix: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        return table[prefix[:, -1]], state

    short, s_score = beam_search(step, batch_size=1, bos_id=3, width=3, max_len=4, eos_id=2, pad_id=3)
    assert short.tolist() == [[2, 3, 3, 3]]  # EOS at once (0.45) beats 0 1 EOS (0.5 * 0.9 * 0.9 = 0.405)
    assert torch.allclose(s_score.exp(), torch.tensor(0.45))
    long, l_score = beam_search(
        step, batch_size=1, bos_id=3, width=3, max_len=4, eos_id=2, pad_id=3, length_penalty=1.0
    )
    assert long.tolist() == [[0, 1, 2, 3]]  # per token, 0.405 over 3 tokens beats 0.45 over 1
    assert torch.allclose(l_score.exp(), torch.tensor(0.405))


def test_beam_search_reorders_the_state() -> None:
    # like an RNN, the state digests the tokens fed so far: here it counts their 1s. After every reordering
    # of the beams it must still describe the prefix it travels with.
    def step(prefix: torch.Tensor, state: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, tuple]:
        (ones,) = state
        assert torch.equal(ones, (prefix[:, :-1] == 1).sum(1))
        ones = ones + (prefix[:, -1] == 1).long()
        logits = torch.stack([torch.zeros(len(ones)), 0.4 - 0.3 * ones, 0.1 * ones], dim=1)
        return torch.log_softmax(logits, dim=1), (ones,)

    start = (torch.zeros(2, dtype=torch.long),)
    tokens, scores = beam_search(step, start, bos_id=0, width=3, max_len=5)
    exhaustive, best = beam_search(step, start, bos_id=0, width=3**4, max_len=5)
    assert tokens.shape == (2, 5) and torch.all(scores <= best + 1e-6)
    assert torch.equal(exhaustive[0], exhaustive[1])


def test_beam_search_errors() -> None:
    model = _small_model(None)
    src = torch.tensor([[2, 3]])
    with pytest.raises(ValueError, match="width must be an int >= 1"):
        model.beam_decode(src, max_len=3, width=0)
    with pytest.raises(TypeError, match="width must be an int >= 1, got float"):
        model.beam_decode(src, max_len=3, width=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_len"):
        model.beam_decode(src, max_len=0, width=2)
    with pytest.raises(TypeError, match="eos_id"):
        model.beam_decode(src, max_len=3, width=2, eos_id="2")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="length_penalty"):
        model.beam_decode(src, max_len=3, width=2, length_penalty=-1.0)
    with pytest.raises(TypeError, match="length_penalty"):
        model.beam_decode(src, max_len=3, width=2, length_penalty="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="step must be callable"):
        beam_search(None, batch_size=1, bos_id=0, width=2, max_len=2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="state must be a tuple"):
        beam_search(_table_step, [torch.zeros(1)], bos_id=0, width=2, max_len=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size is needed"):
        beam_search(_table_step, bos_id=3, width=2, max_len=2)
    with pytest.raises(ValueError, match="batch_size=3 disagrees"):
        beam_search(_table_step, (torch.zeros(2),), batch_size=3, bos_id=3, width=2, max_len=2)
    with pytest.raises(ValueError, match="same batch axis"):
        beam_search(_table_step, (torch.zeros(2), torch.zeros(3)), bos_id=3, width=2, max_len=2)
    with pytest.raises(ValueError, match=r"log_probs of shape \(4, V\)"):
        beam_search(lambda p, s: (TABLE[:1], s), batch_size=2, bos_id=3, width=2, max_len=2)
