"""Unit tests of lessons.models.resnet: published parameter counts, shapes, errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lessons.models import count_parameters
from lessons.models.resnet import (
    BasicBlock,
    Bottleneck,
    ResNet,
    resnet,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
)

PUBLISHED = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}


@pytest.mark.parametrize("depth", sorted(PUBLISHED))
def test_parameter_counts_match_the_published_models(depth: int) -> None:
    with torch.device("meta"):  # no memory is allocated
        model = resnet(depth)
    assert count_parameters(model) == PUBLISHED[depth]


def test_named_constructors_are_the_parametrised_definition() -> None:
    with torch.device("meta"):
        pairs = [(resnet18(), 18), (resnet34(), 34), (resnet50(), 50), (resnet101(), 101)]
    for model, depth in pairs:
        assert isinstance(model, ResNet)
        assert count_parameters(model) == PUBLISHED[depth]
    assert isinstance(pairs[0][0].layer1[0], BasicBlock) and isinstance(pairs[2][0].layer1[0], Bottleneck)


def test_imagenet_stem_shapes() -> None:
    with torch.device("meta"):
        model = resnet50()
        x = torch.empty(2, 3, 224, 224)
        assert model.features(x).shape == (2, 2048, 7, 7)
        assert model(x).shape == (2, 1000)


def test_small_stem_keeps_resolution_for_small_images() -> None:
    model = resnet18(num_classes=10, in_channels=1, stem="small", width=8).eval()
    x = torch.randn(3, 1, 28, 28)
    assert model.features(x).shape == (3, 64, 4, 4)  # 28 -> 28, 14, 7, 4
    assert model(x).shape == (3, 10)


@pytest.mark.parametrize("block, expansion", [(BasicBlock, 1), (Bottleneck, 4)])
def test_blocks_downsample_and_project(block: type[nn.Module], expansion: int) -> None:
    b = block(16, 8, stride=2)
    out = b(torch.randn(2, 16, 9, 9))
    assert out.shape == (2, 8 * expansion, 5, 5)
    assert (out >= 0).all()  # a ReLU comes last
    assert isinstance(block(8 * expansion, 8).shortcut, nn.Identity)


def test_residual_block_is_identity_when_the_branch_is_zero() -> None:
    b = BasicBlock(4, 4).eval()
    nn.init.zeros_(b.bn2.weight)  # the residual branch now outputs 0
    x = torch.rand(1, 4, 6, 6)  # non-negative, so the final ReLU changes nothing
    assert torch.allclose(b(x), x)


def test_count_parameters_trainable_only() -> None:
    model = resnet18(num_classes=10, stem="small", width=4)
    total = count_parameters(model)
    model.fc.requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == total - (32 * 10 + 10)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"block": nn.Conv2d, "layers": (2, 2, 2, 2)}, TypeError, "block"),
        ({"block": BasicBlock, "layers": (2, 2, 2)}, ValueError, "layers"),
        ({"block": BasicBlock, "layers": (2, 0, 2, 2)}, ValueError, "layers"),
        ({"block": BasicBlock, "layers": (2, 2, 2, 2), "stem": "cifar"}, ValueError, "stem"),
        ({"block": BasicBlock, "layers": (2, 2, 2, 2), "num_classes": 0}, ValueError, "num_classes"),
        ({"block": BasicBlock, "layers": (2, 2, 2, 2), "width": 1.5}, TypeError, "width"),
    ],
)
def test_bad_arguments(kwargs: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        ResNet(**kwargs)


def test_bad_depth_and_input() -> None:
    with pytest.raises(ValueError, match="depth must be one of"):
        resnet(20)
    model = resnet18(num_classes=10, stem="small", width=4)
    with pytest.raises(ValueError, match=r"shape \(N, 3, H, W\)"):
        model(torch.randn(2, 1, 32, 32))
    with pytest.raises(TypeError, match="nn.Module"):
        count_parameters("resnet18")  # type: ignore[arg-type]
