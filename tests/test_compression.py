"""Tests of lessons.compression: distillation loss, magnitude and Wanda masks, structured pruning."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

from lessons.compression import (
    apply_masks,
    distillation_loss,
    global_magnitude_masks,
    magnitude_mask,
    prune_neurons,
    row_mask,
    sparsity,
    wanda_scores,
)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0])
def test_distillation_loss_equals_kl_div_times_t_squared(temperature):
    torch.manual_seed(0)
    s, t = torch.randn(2, 5, 7), torch.randn(2, 5, 7)
    expected = F.kl_div(
        F.log_softmax(s.reshape(-1, 7) / temperature, -1),
        F.log_softmax(t.reshape(-1, 7) / temperature, -1),
        log_target=True,
        reduction="batchmean",
    )
    torch.testing.assert_close(distillation_loss(s, t, temperature), expected * temperature**2)


def test_distillation_loss_is_zero_on_equal_logits_and_detaches_the_teacher():
    s = torch.randn(4, 3, requires_grad=True)
    t = torch.randn(4, 3, requires_grad=True)
    assert distillation_loss(t.detach(), t.detach(), 2.0).item() == pytest.approx(0.0, abs=1e-6)
    distillation_loss(s, t, 2.0).backward()
    assert s.grad is not None and t.grad is None


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan")])
def test_distillation_loss_refuses_a_bad_temperature(temperature):
    with pytest.raises(ValueError, match="temperature"):
        distillation_loss(torch.zeros(2, 3), torch.zeros(2, 3), temperature)


def test_distillation_loss_refuses_shapes_that_differ():
    with pytest.raises(ValueError, match="same shape"):
        distillation_loss(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(TypeError, match="student_logits"):
        distillation_loss([[0.0]], torch.zeros(1, 1))


@pytest.mark.parametrize("amount", [0.0, 0.3, 0.5, 0.9])
def test_magnitude_mask_equals_torch_l1_unstructured(amount):
    torch.manual_seed(0)
    layer = nn.Linear(13, 7)
    mask = magnitude_mask(layer.weight, amount)
    prune.l1_unstructured(layer, "weight", amount=amount)
    assert torch.equal(mask, layer.weight_mask.bool())


def test_global_masks_equal_torch_global_unstructured():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    with torch.no_grad():
        net[2].weight.mul_(5)  # a layer of larger weights loses fewer of them
    masks = global_magnitude_masks([net[0].weight, net[2].weight], 0.6)
    prune.global_unstructured([(net[0], "weight"), (net[2], "weight")], prune.L1Unstructured, amount=0.6)
    assert torch.equal(masks[0], net[0].weight_mask.bool()) and torch.equal(
        masks[1], net[2].weight_mask.bool()
    )
    assert masks[0].float().mean() < masks[1].float().mean()


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5])
def test_masks_refuse_a_sparsity_outside_0_1(bad):
    with pytest.raises(ValueError, match="sparsity"):
        magnitude_mask(torch.ones(4), bad)
    with pytest.raises(ValueError, match="sparsity"):
        row_mask(torch.ones(2, 4), bad)


def test_masks_refuse_empty_or_wrong_input():
    with pytest.raises(ValueError, match="weights"):
        global_magnitude_masks([], 0.5)
    with pytest.raises(TypeError, match="weight"):
        magnitude_mask([1.0, 2.0], 0.5)
    with pytest.raises(ValueError, match="scores"):
        row_mask(torch.ones(4), 0.5)


def test_apply_masks_and_sparsity():
    w = torch.arange(1.0, 7.0).reshape(2, 3)
    masks = [magnitude_mask(w, 0.5)]
    apply_masks([w], masks)
    assert torch.equal(w, torch.tensor([[0.0, 0.0, 0.0], [4.0, 5.0, 6.0]]))
    assert sparsity([w]) == 0.5
    with pytest.raises(ValueError, match="masks"):
        apply_masks([w], [])
    with pytest.raises(ValueError, match=r"masks\[0\]"):
        apply_masks([w], [torch.ones(3, 2, dtype=torch.bool)])
    with pytest.raises(ValueError, match="weights"):
        sparsity([torch.empty(0)])


def test_row_mask_prunes_each_row_alike():
    torch.manual_seed(0)
    scores = torch.rand(5, 10)
    mask = row_mask(scores, 0.3)
    assert mask.sum(1).tolist() == [7] * 5
    assert torch.equal(row_mask(scores, 0.0), torch.ones(5, 10, dtype=torch.bool))


def test_wanda_scores_weigh_by_input_norm():
    w = torch.tensor([[1.0, -1.0], [2.0, 0.5]])
    x = torch.tensor([[3.0, 0.0], [4.0, 1.0]])  # column norms 5 and 1
    torch.testing.assert_close(wanda_scores(w, x), torch.tensor([[5.0, 1.0], [10.0, 0.5]]))
    with pytest.raises(ValueError, match="inputs"):
        wanda_scores(w, torch.ones(3, 5))
    with pytest.raises(ValueError, match="weight"):
        wanda_scores(torch.ones(3), x)


def test_prune_neurons_keeps_the_strongest_neurons_exactly():
    torch.manual_seed(0)
    a, b = nn.Linear(6, 8), nn.Linear(8, 3)
    with torch.no_grad():
        a.weight[[1, 4, 6]] *= 0.01  # three weak neurons
    small_a, small_b = prune_neurons(a, b, keep=5)
    assert (small_a.in_features, small_a.out_features, small_b.out_features) == (6, 5, 3)
    x = torch.randn(10, 6)
    keep = [0, 2, 3, 5, 7]
    expected = torch.relu(x @ a.weight[keep].T + a.bias[keep]) @ b.weight[:, keep].T + b.bias
    torch.testing.assert_close(small_b(torch.relu(small_a(x))), expected)


def test_prune_neurons_refuses_bad_arguments():
    a, b = nn.Linear(6, 8), nn.Linear(8, 3)
    with pytest.raises(ValueError, match="keep"):
        prune_neurons(a, b, keep=0)
    with pytest.raises(ValueError, match="keep"):
        prune_neurons(a, b, keep=9)
    with pytest.raises(ValueError, match="next_layer.in_features"):
        prune_neurons(a, nn.Linear(7, 3), keep=4)
    with pytest.raises(TypeError, match="layer"):
        prune_neurons(nn.Conv1d(6, 8, 1), b, keep=4)
