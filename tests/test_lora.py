"""Tests of lessons.lora: the hand-written LoRA layer, its equality with peft, merging, and bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lessons.lora import LoRALinear, add_lora, merge_lora


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.query = nn.Linear(8, 8)
        self.value = nn.Linear(8, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.query(x)) * self.value(x))


def test_starts_as_the_base_layer_and_counts_r_in_plus_out() -> None:
    torch.manual_seed(0)
    base = nn.Linear(10, 6)
    layer = LoRALinear(base, r=3, alpha=6, dropout=0.0)
    x = torch.randn(4, 5, 10)
    assert torch.equal(layer(x), base(x))
    assert layer.lora_A.shape == (3, 10) and layer.lora_B.shape == (6, 3)
    assert layer.lora_A.abs().sum() > 0 and layer.scaling == 2.0
    trainable = [p for p in layer.parameters() if p.requires_grad]
    assert sum(p.numel() for p in trainable) == 3 * (10 + 6)
    assert not base.weight.requires_grad and not base.bias.requires_grad


def test_forward_is_base_plus_scaled_update_and_merge_matches() -> None:
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(7, 5), r=2, alpha=8)
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(3, 7)
    expected = layer.base(x) + 4.0 * x @ (layer.lora_B @ layer.lora_A).T
    assert torch.allclose(layer(x), expected, atol=1e-6)
    assert torch.linalg.matrix_rank(layer.delta_weight()) <= 2
    merged = layer.merge()
    assert isinstance(merged, nn.Linear)
    assert torch.allclose(merged(x), layer(x), atol=1e-6)
    assert not torch.equal(merged.weight, layer.base.weight)  # the base is left alone


def test_equals_peft_given_the_same_a_and_b() -> None:
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    model = Tiny()
    mine = Tiny()
    mine.load_state_dict(model.state_dict())
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"]))
    names = add_lora(mine, ["query", "value"], r=4, alpha=8)
    assert names == ["query", "value"]
    for name in names:
        theirs = peft_model.base_model.model.get_submodule(name)
        with torch.no_grad():
            theirs.lora_B["default"].weight.normal_()
            ours = mine.get_submodule(name)
            ours.lora_A.copy_(theirs.lora_A["default"].weight)
            ours.lora_B.copy_(theirs.lora_B["default"].weight)
    x = torch.randn(6, 8)
    assert torch.allclose(mine(x), peft_model(x), atol=1e-6)
    n_trainable = sum(p.numel() for p in mine.parameters() if p.requires_grad)
    assert n_trainable == sum(p.numel() for p in peft_model.parameters() if p.requires_grad) == 2 * 4 * 16


def test_merge_lora_restores_the_parameter_count() -> None:
    torch.manual_seed(0)
    model = Tiny()
    before = sum(p.numel() for p in model.parameters())
    add_lora(model, ["query"], r=2, dropout=0.1)
    with torch.no_grad():
        model.query.lora_B.normal_()
    model.eval()  # no dropout: merging is exact only then
    x = torch.randn(5, 8)
    adapted = model(x)
    merge_lora(model)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert sum(p.numel() for p in model.parameters()) == before
    assert torch.allclose(model(x), adapted, atol=1e-6)


def test_dropout_touches_only_the_update() -> None:
    torch.manual_seed(0)
    layer = LoRALinear(nn.Linear(4, 4), r=2, dropout=0.5).train()
    x = torch.randn(8, 4)
    assert torch.equal(layer(x), layer.base(x))  # B = 0: dropout has nothing to drop yet


@pytest.mark.parametrize(
    ("kwargs", "error", "word"),
    [
        (dict(base=nn.Conv1d(2, 2, 1)), TypeError, "base"),
        (dict(r=0), ValueError, "r"),
        (dict(r=5), ValueError, "r"),
        (dict(r=2.0), TypeError, "r"),
        (dict(alpha=0), ValueError, "alpha"),
        (dict(alpha="8"), TypeError, "alpha"),
        (dict(dropout=1.0), ValueError, "dropout"),
        (dict(dropout=-0.1), ValueError, "dropout"),
    ],
)
def test_bad_arguments_name_themselves(kwargs: dict, error: type[Exception], word: str) -> None:
    args = dict(base=nn.Linear(4, 6), r=2, alpha=4.0, dropout=0.0) | kwargs
    with pytest.raises(error, match=rf"^{word} "):
        LoRALinear(**args)


def test_add_lora_and_merge_lora_errors() -> None:
    with pytest.raises(TypeError, match="model"):
        add_lora("not a model", ["query"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="target_modules"):
        add_lora(Tiny(), "query")
    with pytest.raises(ValueError, match="target_modules"):
        add_lora(Tiny(), [])
    with pytest.raises(ValueError, match=r"target_modules=\['key'\].*'query'"):
        add_lora(Tiny(), ["key"])
    with pytest.raises(ValueError, match="nothing to merge"):
        merge_lora(Tiny())
    with pytest.raises(ValueError, match="merge"):
        merge_lora(LoRALinear(nn.Linear(3, 3), r=1))
    with pytest.raises(TypeError, match="model"):
        merge_lora(3)  # type: ignore[arg-type]
