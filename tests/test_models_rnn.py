"""Unit tests for lessons.models.rnn: hand-written cells equal PyTorch's, the char LM, sampling, regressor."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lessons.models.rnn import (
    CharRNN,
    GRUCell,
    LSTMCell,
    RNNCell,
    RNNRegressor,
    cell_from_torch,
    sample,
    unroll,
)

TORCH_CLASSES = [nn.RNN, nn.LSTM, nn.GRU]


@pytest.mark.parametrize("cls", TORCH_CLASSES)
@pytest.mark.parametrize("bias", [True, False])
def test_hand_cells_equal_torch_layers(cls: type[nn.Module], bias: bool) -> None:
    torch.manual_seed(0)
    rnn = cls(3, 5, num_layers=2, batch_first=True, bias=bias, bidirectional=True)
    x = torch.randn(4, 7, 3)
    out, _ = rnn(x)
    # layer 0 both directions by hand, then layer 1 on their concatenation
    fwd, _ = unroll(cell_from_torch(rnn, 0), x)
    bwd, _ = unroll(cell_from_torch(rnn, 0, reverse=True), x.flip(1))
    l0 = torch.cat([fwd, bwd.flip(1)], dim=-1)
    fwd, _ = unroll(cell_from_torch(rnn, 1), l0)
    bwd, _ = unroll(cell_from_torch(rnn, 1, reverse=True), l0.flip(1))
    assert torch.allclose(torch.cat([fwd, bwd.flip(1)], dim=-1), out, atol=1e-5)


@pytest.mark.parametrize(
    ("torch_cell", "hand"), [(nn.RNNCell, RNNCell), (nn.LSTMCell, LSTMCell), (nn.GRUCell, GRUCell)]
)
def test_hand_cells_equal_torch_cells_with_state(torch_cell: type[nn.Module], hand: type[nn.Module]) -> None:
    torch.manual_seed(1)
    ref = torch_cell(4, 6)
    cell = cell_from_torch(ref)
    assert isinstance(cell, hand)
    assert {n for n, _ in cell.named_parameters()} == {n for n, _ in ref.named_parameters()}
    x = torch.randn(3, 4)
    state = (torch.randn(3, 6), torch.randn(3, 6)) if hand is LSTMCell else torch.randn(3, 6)
    got, want = cell(x, state), ref(x, state)
    if hand is LSTMCell:
        assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(got, want, strict=True))
    else:
        assert torch.allclose(got, want, atol=1e-6)
    # the copy is independent of the original
    with torch.no_grad():
        cell.weight_hh.zero_()
    assert ref.weight_hh.abs().sum() > 0


def test_relu_rnn_and_unroll_with_torch_cells() -> None:
    torch.manual_seed(2)
    rnn = nn.RNN(2, 3, nonlinearity="relu", batch_first=True)
    cell = cell_from_torch(rnn)
    assert cell.nonlinearity == "relu"
    x = torch.randn(2, 5, 2)
    assert torch.allclose(unroll(cell, x)[0], rnn(x)[0], atol=1e-6)
    lstm_cell = nn.LSTMCell(2, 3)
    out, (h, c) = unroll(lstm_cell, x)
    assert out.shape == (2, 5, 3) and torch.equal(out[:, -1], h)


def test_hand_cell_gradients_match_torch() -> None:
    torch.manual_seed(3)
    ref = nn.GRU(3, 4, batch_first=True)
    cell = cell_from_torch(ref)
    x = torch.randn(2, 6, 3)
    ref(x)[0].sum().backward()
    unroll(cell, x)[0].sum().backward()
    assert torch.allclose(cell.weight_hh.grad, ref.weight_hh_l0.grad, atol=1e-5)


def test_cell_errors() -> None:
    with pytest.raises(ValueError, match="hidden_size"):
        LSTMCell(3, 0)
    with pytest.raises(TypeError, match="input_size must be an int"):
        LSTMCell(3.0, 4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNCell(3, 4, nonlinearity="sigmoid")
    cell = GRUCell(3, 4)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 3\)"):
        cell(torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"hidden state must have shape \(2, 4\)"):
        cell(torch.randn(2, 3), torch.randn(2, 5))
    with pytest.raises(ValueError, match="x must have shape"):
        unroll(cell, torch.randn(2, 3))
    with pytest.raises(TypeError, match="nn.RNN/LSTM/GRU"):
        cell_from_torch(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="layer must be"):
        cell_from_torch(nn.GRU(2, 3), layer=1)
    with pytest.raises(ValueError, match="bidirectional"):
        cell_from_torch(nn.GRU(2, 3), reverse=True)
    with pytest.raises(ValueError, match="one layer"):
        cell_from_torch(nn.GRUCell(2, 3), layer=1)
    with pytest.raises(ValueError, match="proj_size"):
        cell_from_torch(nn.LSTM(2, 4, proj_size=2))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_char_rnn_shapes_and_state(kind: str) -> None:
    torch.manual_seed(4)
    model = CharRNN(10, embed_dim=8, hidden_size=16, num_layers=2, cell=kind, dropout=0.1).eval()
    x = torch.randint(0, 10, (3, 7))
    logits = model(x)
    assert logits.shape == (3, 7, 10)
    # running in two chunks with the carried state gives the same logits
    a, state = model.forward_state(x[:, :4])
    b, _ = model.forward_state(x[:, 4:], state)
    assert torch.allclose(torch.cat([a, b], dim=1), logits, atol=1e-5)


def test_char_rnn_errors() -> None:
    with pytest.raises(ValueError, match="vocab_size"):
        CharRNN(0)
    with pytest.raises(ValueError, match="cell must be one of"):
        CharRNN(5, cell="transformer")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dropout"):
        CharRNN(5, dropout=1.0)
    with pytest.raises(TypeError, match="num_layers must be an int"):
        CharRNN(5, num_layers="2")  # type: ignore[arg-type]
    model = CharRNN(5, embed_dim=4, hidden_size=4)
    with pytest.raises(TypeError, match="x must hold token ids as torch.long"):
        model(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"in \[0, 5\)"):
        model(torch.tensor([[0, 5]]))


def test_sample_is_reproducible_and_respects_top_k() -> None:
    torch.manual_seed(5)
    model = CharRNN(6, embed_dim=4, hidden_size=8).train()
    a = sample(model, [1, 2], 20, generator=torch.Generator().manual_seed(0))
    b = sample(model, torch.tensor([1, 2]), 20, generator=torch.Generator().manual_seed(0))
    assert a == b and len(a) == 20 and all(0 <= i < 6 for i in a)
    assert model.training  # mode restored
    greedy = sample(model, [1], 10, top_k=1)
    with torch.no_grad():
        first = int(model(torch.tensor([[1]]))[0, -1].argmax())
    assert greedy[0] == first
    assert sample(model, [1], 0) == []
    for kwargs, match in [
        ({"prompt_ids": [], "length": 3}, "at least one"),
        ({"prompt_ids": [1], "length": -1}, "length"),
        ({"prompt_ids": [1], "length": 3, "temperature": 0.0}, "temperature"),
        ({"prompt_ids": [1], "length": 3, "top_k": 0}, "top_k"),
    ]:
        with pytest.raises(ValueError, match=match):
            sample(model, **kwargs)


def test_regressor_shapes_and_errors() -> None:
    model = RNNRegressor(hidden_size=8)
    assert model(torch.randn(5, 12)).shape == (5,)
    assert model(torch.randn(5, 12, 1)).shape == (5,)
    multi = RNNRegressor(input_size=3, hidden_size=8, cell="gru", horizon=4)
    assert multi(torch.randn(2, 6, 3)).shape == (2, 4)
    with pytest.raises(ValueError, match=r"\(batch, time, 3\)"):
        multi(torch.randn(2, 6))
    with pytest.raises(ValueError, match="horizon"):
        RNNRegressor(horizon=0)
