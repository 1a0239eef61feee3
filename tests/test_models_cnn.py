"""Unit tests of lessons.models.cnn: size arithmetic, published parameter counts, shapes, errors."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from lessons.models import count_parameters
from lessons.models.cnn import (
    VGG,
    AlexNet,
    DepthwiseSeparableConv,
    LeNet5,
    MobileNetV1,
    SmallCNN,
    conv_output_size,
    receptive_field,
    vgg,
    vgg_block,
)


def test_conv_output_size_matches_torch_on_a_grid() -> None:
    for n, k, s, p, d in itertools.product([5, 8, 11], [1, 2, 3, 5], [1, 2, 3], [0, 1, 2], [1, 2]):
        if d * (k - 1) + 1 > n + 2 * p:
            with pytest.raises(ValueError, match="spans"):
                conv_output_size(n, k, s, p, d)
            continue
        conv = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d)
        assert conv(torch.zeros(1, 1, n, n)).shape[-1] == conv_output_size(n, k, s, p, d)


@pytest.mark.parametrize(
    "args, error",
    [((0, 3), ValueError), ((5, 0), ValueError), ((5, 3, 0), ValueError), ((5.0, 3), TypeError)],
)
def test_conv_output_size_errors(args: tuple, error: type[Exception]) -> None:
    with pytest.raises(error):
        conv_output_size(*args)


def test_receptive_field() -> None:
    assert receptive_field([]) == (1, 1)
    assert receptive_field([(3, 1)] * 3) == (7, 1)  # three 3x3 = one 7x7
    assert receptive_field([(3, 1), (2, 2), (3, 1), (2, 2)]) == (10, 4)
    with pytest.raises(TypeError, match="pair"):
        receptive_field([(3, 1, 1)])
    with pytest.raises(ValueError, match="stride"):
        receptive_field([(3, 0)])
    with pytest.raises(TypeError, match="sequence"):
        receptive_field("33")  # type: ignore[arg-type]


def test_lenet5() -> None:
    model = LeNet5()
    assert count_parameters(model) == 61_706
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert isinstance(LeNet5(activation="sigmoid", pool="avg").features[1], nn.Sigmoid)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        model(torch.randn(2, 1, 32, 32))
    assert isinstance(LeNet5(activation="gelu").classifier[2], nn.GELU)  # the table of lessons.models
    with pytest.raises(ValueError, match="activation"):
        LeNet5(activation="swish")
    with pytest.raises(ValueError, match="pool"):
        LeNet5(pool="min")  # type: ignore[arg-type]


def test_alexnet_counts_and_shapes() -> None:
    with torch.device("meta"):
        one, two = AlexNet(), AlexNet(groups=2)
        assert one.features(torch.empty(1, 3, 227, 227)).shape == (1, 256, 6, 6)
        assert two(torch.empty(1, 3, 227, 227)).shape == (1, 1000)
    assert count_parameters(one) == 62_378_344
    assert count_parameters(two) == 60_965_224
    with pytest.raises(ValueError, match="227"):
        AlexNet(num_classes=2)(torch.randn(1, 3, 224, 224))
    with pytest.raises(ValueError, match="groups"):
        AlexNet(groups=4)


def test_vgg_counts_and_small_variant() -> None:
    with torch.device("meta"):
        counts = {d: count_parameters(vgg(d)) for d in (11, 16, 19)}
    assert counts == {11: 132_863_336, 16: 138_357_544, 19: 143_667_240}
    small = VGG(((1, 8), (2, 16)), num_classes=10, in_channels=1, hidden=32, pool_size=1)
    assert small(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert vgg_block(2, 3, 8)(torch.randn(1, 3, 9, 9)).shape == (1, 8, 4, 4)
    with pytest.raises(ValueError, match="H, W >= 4"):
        small(torch.randn(1, 1, 3, 3))
    with pytest.raises(ValueError, match="depth"):
        vgg(12)
    with pytest.raises(ValueError, match="arch"):
        VGG([])
    with pytest.raises(ValueError, match="num_convs"):
        vgg_block(0, 3, 8)


def test_depthwise_separable_parameter_saving() -> None:
    c_in, c_out = 32, 64
    block = DepthwiseSeparableConv(c_in, c_out, stride=2)
    weights = block.depthwise.weight.numel() + block.pointwise.weight.numel()
    assert weights == 9 * c_in + c_in * c_out
    assert block(torch.randn(2, c_in, 15, 15)).shape == (2, c_out, 8, 8)
    with pytest.raises(ValueError, match="stride"):
        DepthwiseSeparableConv(4, 4, stride=3)


def test_mobilenet_v1() -> None:
    with torch.device("meta"):
        model = MobileNetV1()
        assert model(torch.empty(1, 3, 224, 224)).shape == (1, 1000)
    assert round(count_parameters(model) / 1e6, 1) == 4.2  # "4.2 million" in the paper's Table 8
    small = MobileNetV1(num_classes=10, in_channels=1, width_mult=0.25, stem_stride=1)
    assert small(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="width_mult"):
        MobileNetV1(width_mult=0)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        MobileNetV1(num_classes=2)(torch.randn(1, 1, 32, 32))


def test_small_cnn() -> None:
    model = SmallCNN((8, 16), convs_per_block=2, dropout=0.1)
    assert model(torch.randn(4, 1, 28, 28)).shape == (4, 10)
    assert isinstance(model.features[1][-2], nn.ReLU)
    assert model.head[-1].in_features == 16 * 7 * 7
    avg = SmallCNN((8, 16), head="avg", in_channels=3, num_classes=5)
    assert avg(torch.randn(2, 3, 32, 40)).shape == (2, 5)
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        model(torch.randn(4, 1, 32, 32))
    with pytest.raises(ValueError, match="channels"):
        SmallCNN(())
    with pytest.raises(ValueError, match="head"):
        SmallCNN(head="max")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="channels\\[0\\]"):
        SmallCNN((8.0, 16))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Tensor"):
        model([[0.0]])  # type: ignore[arg-type]
