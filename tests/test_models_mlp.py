"""Unit tests for lessons.models.mlp."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lessons.models import ACTIVATIONS, count_multiply_adds, make_activation
from lessons.models.mlp import MLP


def _layer_types(model: MLP) -> list[type]:
    return [type(m) for m in model.net]


def test_output_shape_and_layers() -> None:
    model = MLP(64, [32, 16], 10)
    assert model(torch.randn(5, 64)).shape == (5, 10)
    assert _layer_types(model) == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]


def test_int_hidden_means_one_layer_and_empty_means_linear() -> None:
    assert MLP(3, 7, 2).hidden == [7]
    linear = MLP(3, [], 2)
    assert _layer_types(linear) == [nn.Linear]
    assert sum(p.numel() for p in linear.parameters()) == 3 * 2 + 2


def test_parameter_count() -> None:
    model = MLP(64, [128, 64], 10)
    assert sum(p.numel() for p in model.parameters()) == 64 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10


def test_images_are_flattened() -> None:
    model = MLP(64, [8], 10)
    x = torch.randn(4, 1, 8, 8)
    assert torch.equal(model(x), model(x.flatten(1)))


def test_batch_norm_and_dropout_layers() -> None:
    model = MLP(4, [8], 2, activation="gelu", dropout=0.5, batch_norm=True)
    assert _layer_types(model) == [nn.Linear, nn.BatchNorm1d, nn.GELU, nn.Dropout, nn.Linear]
    assert model.net[0].bias is None  # BatchNorm's beta replaces the bias
    assert model.net[3].p == 0.5


def test_dropout_is_off_in_eval_mode() -> None:
    model = MLP(16, [64], 4, dropout=0.5).eval()
    x = torch.randn(8, 16)
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_builds(name: str) -> None:
    model = MLP(3, [4], 2, activation=name)
    assert isinstance(model.net[1], type(make_activation(name)))
    assert model(torch.randn(2, 3)).shape == (2, 2)


def test_activation_name_is_case_insensitive() -> None:
    assert isinstance(make_activation("ReLU"), nn.ReLU)
    assert MLP(2, [2], 1, activation="TANH").activation == "tanh"


def test_he_and_xavier_init() -> None:
    torch.manual_seed(0)
    he = MLP(1000, [1000], 10, init="he")
    std = he.net[0].weight.std().item()
    assert math.isclose(std, math.sqrt(2 / 1000), rel_tol=0.02)
    assert torch.count_nonzero(he.net[0].bias) == 0
    xavier = MLP(1000, [1000], 10, init="xavier")
    assert math.isclose(xavier.net[0].weight.std().item(), math.sqrt(2 / 2000), rel_tol=0.02)


def test_reset_parameters_default_changes_weights() -> None:
    model = MLP(4, [4], 2, init="he")
    before = model.net[0].weight.clone()
    model.reset_parameters("default")
    assert not torch.equal(before, model.net[0].weight)


def test_gradients_reach_every_parameter() -> None:
    model = MLP(5, [6, 6], 3, batch_norm=True, dropout=0.1)
    model(torch.randn(8, 5)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_repr_mentions_config() -> None:
    text = repr(MLP(2, [3], 1, activation="gelu", dropout=0.2))
    assert "hidden=[3]" in text and "'gelu'" in text and "dropout=0.2" in text


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"in_features": 0}, ValueError, "in_features"),
        ({"in_features": 2.5}, TypeError, "in_features"),
        ({"out_features": -1}, ValueError, "out_features"),
        ({"out_features": True}, TypeError, "out_features"),
        ({"hidden": [4, 0]}, ValueError, r"hidden\[1\]"),
        ({"hidden": [4, 2.0]}, TypeError, r"hidden\[1\]"),
        ({"hidden": "64"}, TypeError, "hidden"),
        ({"hidden": None}, TypeError, "hidden"),
        ({"activation": "swish2"}, ValueError, "activation"),
        ({"activation": nn.ReLU}, TypeError, "activation"),
        ({"dropout": 1.0}, ValueError, "dropout"),
        ({"dropout": -0.1}, ValueError, "dropout"),
        ({"dropout": "0.5"}, TypeError, "dropout"),
        ({"init": "kaiming"}, ValueError, "init"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type[Exception], match: str) -> None:
    args = {"in_features": 4, "hidden": [8], "out_features": 2, **kwargs}
    with pytest.raises(error, match=match):
        MLP(**args)


def test_bad_reset_parameters() -> None:
    with pytest.raises(ValueError, match="init"):
        MLP(2, [2], 1).reset_parameters("orthogonal")


def test_bad_inputs() -> None:
    model = MLP(4, [8], 2)
    with pytest.raises(TypeError, match="torch.Tensor"):
        model([[0.0] * 4])
    with pytest.raises(ValueError, match="batch dimension"):
        model(torch.zeros(4))
    with pytest.raises(ValueError, match="in_features"):
        model(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="in_features"):
        model(torch.zeros(3, 2, 3))


def test_count_multiply_adds():
    x = torch.randn(5, 8)
    assert count_multiply_adds(lambda: nn.Linear(8, 3)(x)) == 5 * 8 * 3
    conv, img = nn.Conv1d(4, 6, kernel_size=3), torch.randn(1, 4, 10)
    assert count_multiply_adds(lambda: conv(img)) == 6 * 4 * 3 * 8  # 8 output positions
    assert count_multiply_adds(lambda: torch.tanh(x)) == 0  # element-wise work is not counted
    with pytest.raises(TypeError, match="fn"):
        count_multiply_adds(x)
