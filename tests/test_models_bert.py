"""Unit tests for lessons.models.bert: MLM masking (rates, specials, labels) and the BERT encoder, equal to
a small random ``transformers.BertModel``; errors name their argument."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import BertConfig, BertModel

from lessons.models.bert import Bert, mask_tokens
from lessons.models.transformer import EncoderLayer

SPECIAL = [0, 1, 2, 3]  # pad, cls, sep, mask in these tests
MASK = 3


def _ids(n: int = 400, length: int = 60, vocab: int = 50, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, vocab, (n, length), generator=g)
    ids[:, 0], ids[:, -1] = 1, 2
    ids[: n // 2, -10:] = 0  # some padding
    return ids


def test_mask_tokens_rates_labels_and_specials() -> None:
    ids = _ids()
    inputs, labels = mask_tokens(ids, 50, MASK, SPECIAL, torch.Generator().manual_seed(1))
    assert inputs.shape == labels.shape == ids.shape and inputs.dtype == labels.dtype == torch.long
    special = torch.isin(ids, torch.tensor(SPECIAL))
    assert torch.all(labels[special] == -100) and torch.equal(inputs[special], ids[special])
    selected = labels != -100
    assert torch.equal(labels[selected], ids[selected])  # the label is the original token
    assert torch.equal(inputs[~selected], ids[~selected])  # nothing else changes
    n = int((~special).sum())
    share = selected.sum().item() / n
    assert abs(share - 0.15) < 5.5 * (0.15 * 0.85 / n) ** 0.5
    s = int(selected.sum())
    masked = int((inputs[selected] == MASK).sum())
    kept = int((inputs[selected] == ids[selected]).sum())
    pool = 50 - len(SPECIAL)
    for count, prob in ((masked, 0.8), (kept, 0.1 + 0.1 / pool), (s - masked - kept, 0.1 * (1 - 1 / pool))):
        assert abs(count - s * prob) < 5.5 * (s * prob * (1 - prob)) ** 0.5
    random_ids = inputs[selected & (inputs != MASK) & (inputs != ids)]
    assert not torch.isin(random_ids, torch.tensor(SPECIAL)).any()  # random replacements are ordinary tokens


def test_mask_tokens_is_reproducible_with_a_generator() -> None:
    ids = _ids(20)
    a = mask_tokens(ids, 50, MASK, SPECIAL, torch.Generator().manual_seed(3))
    b = mask_tokens(ids, 50, MASK, SPECIAL, torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_mask_tokens_errors() -> None:
    ids = _ids(4)
    with pytest.raises(TypeError, match="ids must be a tensor of token ids"):
        mask_tokens(ids.tolist(), 50, MASK, SPECIAL)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ids must hold token ids as torch.long"):
        mask_tokens(ids.float(), 50, MASK, SPECIAL)
    with pytest.raises(ValueError, match=r"ids must hold ids in \[0, 40\)"):
        mask_tokens(ids, 40, MASK, SPECIAL)
    with pytest.raises(ValueError, match=r"mask_id must be an int in \[0, 50\)"):
        mask_tokens(ids, 50, 50, SPECIAL)
    with pytest.raises(TypeError, match="special_ids must be a sequence"):
        mask_tokens(ids, 50, MASK, 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="special_ids must be in"):
        mask_tokens(ids, 50, MASK, [0, 99])
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        mask_tokens(ids, 50, MASK, SPECIAL, generator=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"p must be a finite number in \(0, 1\)"):
        mask_tokens(ids, 50, MASK, SPECIAL, p=1.5)
    with pytest.raises(TypeError, match=r"p must be a number in \(0, 1\), got str"):
        mask_tokens(ids, 50, MASK, SPECIAL, p="0.15")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="whole vocabulary"):
        mask_tokens(torch.zeros(2, 3, dtype=torch.long), 4, MASK, [0, 1, 2])


def test_encoder_layer_gelu_and_eps_equal_torch() -> None:
    torch.manual_seed(0)
    ref = nn.TransformerEncoderLayer(16, 4, 32, activation="gelu", layer_norm_eps=1e-12, batch_first=True)
    mine = EncoderLayer(16, 4, 32, activation="gelu", layer_norm_eps=1e-12)
    mine.load_state_dict(ref.state_dict())
    x = torch.randn(2, 5, 16)
    assert torch.allclose(mine.eval()(x), ref.eval()(x), atol=1e-5)
    assert mine.norm1.eps == 1e-12
    with pytest.raises(ValueError, match=r"activation must be one of \['relu', 'gelu'\]"):
        EncoderLayer(16, 4, 32, activation="tanh")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="activation must be one of"):
        EncoderLayer(16, 4, 32, activation=None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="layer_norm_eps must be a finite number > 0"):
        EncoderLayer(16, 4, 32, layer_norm_eps=0.0)
    with pytest.raises(TypeError, match="layer_norm_eps must be a number > 0, got str"):
        EncoderLayer(16, 4, 32, layer_norm_eps="1e-5")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def hf_bert() -> BertModel:
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=24,
    )
    return BertModel(config).eval()


def test_from_huggingface_gives_the_same_hidden_states(hf_bert: BertModel) -> None:
    bert = Bert.from_huggingface(hf_bert)
    assert not bert.training
    assert sum(p.numel() for p in bert.parameters()) == sum(p.numel() for p in hf_bert.parameters())
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 99, (3, 12), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 7:], mask[2, 3:] = 0, 0
    types = torch.zeros_like(ids)
    types[:, 6:] = 1
    with torch.no_grad():
        ref = hf_bert(input_ids=ids, attention_mask=mask, token_type_ids=types)
        h = bert(ids, mask, types)
    real = mask.bool()
    assert torch.allclose(h[real], ref.last_hidden_state[real], atol=1e-5)
    assert torch.allclose(bert.pool(h), ref.pooler_output, atol=1e-5)
    with torch.no_grad():  # no mask and no segments: HF's defaults (all kept, segment 0)
        assert torch.allclose(bert(ids), hf_bert(input_ids=ids).last_hidden_state, atol=1e-5)
    no_pool = BertModel(hf_bert.config, add_pooling_layer=False)
    assert Bert.from_huggingface(no_pool).pooler is None


def test_bert_errors(hf_bert: BertModel) -> None:
    bert = Bert.from_huggingface(hf_bert)
    ids = torch.randint(1, 99, (2, 5))
    with pytest.raises(ValueError, match="d_model must be divisible by n_heads"):
        Bert(vocab_size=10, d_model=30, n_heads=4)
    with pytest.raises(TypeError, match="n_layers must be an int"):
        Bert(n_layers=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="attention_mask must have the shape of input_ids"):
        bert(ids, torch.ones(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="at least one token"):
        bert(ids, torch.zeros(2, 5, dtype=torch.long))
    with pytest.raises(TypeError, match="attention_mask must be a torch.Tensor"):
        bert(ids, [[1] * 5] * 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"input_ids has length 25, longer than the context max_len=24"):
        bert(torch.ones(1, 25, dtype=torch.long))
    with pytest.raises(ValueError, match=r"input_ids must hold ids in \[0, 99\)"):
        bert(torch.full((1, 3), 99))
    with pytest.raises(ValueError, match=r"input_ids must have shape \(batch, length\)"):
        bert(torch.ones(5, dtype=torch.long))
    with pytest.raises(ValueError, match="token_type_ids must have the shape"):
        bert(ids, token_type_ids=torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token_type_ids must hold ids in \[0, 2\)"):
        bert(ids, token_type_ids=torch.full((2, 5), 2))
    with pytest.raises(ValueError, match="hidden must have shape"):
        bert.pool(torch.zeros(2, 5, 8))
    with pytest.raises(ValueError, match="pooler=False"):
        no_pooler = Bert(vocab_size=10, d_model=8, n_heads=2, n_layers=1, d_ff=16, pooler=False)
        no_pooler.pool(torch.zeros(1, 2, 8))
    with pytest.raises(TypeError, match="hf_model must be a transformers.BertModel"):
        Bert.from_huggingface(nn.Linear(2, 2))
    for key, value, match in (
        ("hidden_act", "relu", "hidden_act must be 'gelu'"),
        ("position_embedding_type", "relative_key", "position_embedding_type must be 'absolute'"),
    ):
        config = BertConfig(**{**hf_bert.config.to_dict(), key: value})
        with pytest.raises(ValueError, match=match):
            Bert.from_huggingface(BertModel(config))
