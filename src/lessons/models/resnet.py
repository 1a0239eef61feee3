"""Residual networks (He et al., 2016, "Deep Residual Learning for Image Recognition", arXiv:1512.03385).

One parametrised definition, `ResNet`, builds every depth of the paper's Table 1 from a block type and a
list of how many blocks each of the four stages holds:

=========  ============  ==============  =====================================
depth      block         blocks/stage    parameters at 1000 classes (ImageNet)
=========  ============  ==============  =====================================
18         `BasicBlock`  2, 2, 2, 2      11,689,512
34         `BasicBlock`  3, 4, 6, 3      21,797,672
50         `Bottleneck`  3, 4, 6, 3      25,557,032
101        `Bottleneck`  3, 4, 23, 3     44,549,160
=========  ============  ==============  =====================================

The layer layout follows the common PyTorch one (stride of a bottleneck on its 3×3 convolution, the
"ResNet v1.5" variant; a 1×1 convolution + BatchNorm projection shortcut wherever the shape changes), so
the counts above are exactly those published for the torchvision models.

``stem="imagenet"`` is the paper's 7×7/2 convolution followed by a 3×3/2 max-pool (224×224 inputs become 56×56
before the first stage). ``stem="small"`` is a 3×3/1 convolution and no pooling, the usual choice for 28×28 or
32×32 inputs (MNIST, CIFAR-10), which would otherwise shrink to 1×1 far too early.

Examples:
    >>> import torch
    >>> model = resnet18(num_classes=10, stem="small")
    >>> model(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from lessons.checks import check_choice, check_int

__all__ = [
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "resnet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
]

Stem = Literal["imagenet", "small"]
_STEMS = ("imagenet", "small")


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def _shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """Identity when shapes agree, else a 1×1 convolution (stride `stride`) + BatchNorm projection."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels)
    )


class BasicBlock(nn.Module):
    """Two 3×3 convolutions and a shortcut: ``relu(bn(conv(relu(bn(conv(x))))) + shortcut(x))``.

    Args:
        in_channels: channels of the input.
        channels: channels of both convolutions (the output has ``channels * expansion`` = `channels`).
        stride: stride of the first convolution (2 halves height and width).

    Shapes:
        ``(N, in_channels, H, W)`` -> ``(N, channels, ceil(H / stride), ceil(W / stride))``.
    """

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv3x3(in_channels, channels, stride)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = _conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = _shortcut(in_channels, channels, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1×1 (reduce) -> 3×3 -> 1×1 (expand ×4) convolutions and a shortcut, as in ResNet-50/101/152.

    Args:
        in_channels: channels of the input.
        channels: channels of the two inner convolutions; the output has ``4 * channels``.
        stride: stride of the 3×3 convolution ("v1.5": the paper put it on the first 1×1).

    Shapes:
        ``(N, in_channels, H, W)`` -> ``(N, 4 * channels, ceil(H / stride), ceil(W / stride))``.
    """

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        out_channels = channels * self.expansion
        self.conv1 = nn.Conv2d(in_channels, channels, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = _conv3x3(channels, channels, stride)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = nn.Conv2d(channels, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = _shortcut(in_channels, out_channels, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """A residual network: stem, four stages of residual blocks, global average pooling, linear classifier.

    Stage ``i`` (0-based) has ``layers[i]`` blocks with ``width * 2**i`` inner channels; every stage after
    the first halves height and width with a stride-2 first block.

    Args:
        block: `BasicBlock` or `Bottleneck` (or any block class with the same constructor and an
            ``expansion`` attribute).
        layers: number of blocks in each of the four stages, e.g. ``(2, 2, 2, 2)`` for ResNet-18.
        num_classes: size of the output layer.
        in_channels: channels of the input images (3 for RGB, 1 for grey).
        stem: ``"imagenet"`` (7×7/2 conv + 3×3/2 max-pool) or ``"small"`` (3×3/1 conv, no pooling).
        width: channels of the stem and of the first stage (64 in the paper); smaller values give cheap
            models for CPU lessons.

    Shapes:
        ``(N, in_channels, H, W)`` -> logits ``(N, num_classes)``; any H, W large enough for the strides.

    Raises:
        TypeError: `block` is not a block class, or an integer argument is not an int.
        ValueError: `layers` does not hold four positive ints, `stem` is unknown, or a size is not positive.
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: Sequence[int],
        *,
        num_classes: int = 1000,
        in_channels: int = 3,
        stem: Stem = "imagenet",
        width: int = 64,
    ) -> None:
        super().__init__()
        if not (isinstance(block, type) and issubclass(block, nn.Module) and hasattr(block, "expansion")):
            raise TypeError(f"block must be a block class such as BasicBlock or Bottleneck, got {block!r}")
        layers = tuple(layers)
        if len(layers) != 4:
            raise ValueError(f"layers must be four positive ints (blocks per stage), got {layers!r}")
        for i, n in enumerate(layers):
            check_int(f"layers[{i}]", n, ge=1)
        check_int("num_classes", num_classes, ge=1)
        check_int("in_channels", in_channels, ge=1)
        check_int("width", width, ge=1)
        check_choice("stem", stem, _STEMS)
        self.in_channels = in_channels
        if stem == "imagenet":
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, stride=2, padding=1),
            )
        else:
            self.stem = nn.Sequential(
                _conv3x3(in_channels, width), nn.BatchNorm2d(width), nn.ReLU(inplace=True)
            )
        stages: list[nn.Module] = []
        channels_in = width
        for i, n_blocks in enumerate(layers):
            channels = width * 2**i
            blocks: list[nn.Module] = []
            for j in range(n_blocks):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(block(channels_in, channels, stride))
                channels_in = channels * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels_in, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def features(self, x: Tensor) -> Tensor:
        """Stem and the four stages: ``(N, C, H, W)`` -> feature maps ``(N, C_out, H', W')``."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"x must have shape (N, {self.in_channels}, H, W), got {tuple(x.shape)}")
        x = self.stem(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


_DEPTHS: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


def resnet(depth: int, **kwargs: object) -> ResNet:
    """The ResNet of the given depth (18, 34, 50, 101 or 152) from the paper's Table 1.

    Args:
        depth: number of weighted layers.
        **kwargs: passed to `ResNet` (``num_classes``, ``in_channels``, ``stem``, ``width``).

    Raises:
        ValueError: `depth` is not one of the paper's depths.
    """
    check_choice("depth", depth, _DEPTHS)
    block, layers = _DEPTHS[depth]
    return ResNet(block, layers, **kwargs)  # type: ignore[arg-type]


def resnet18(**kwargs: object) -> ResNet:
    """ResNet-18: `BasicBlock` × (2, 2, 2, 2); 11,689,512 parameters at 1000 classes."""
    return resnet(18, **kwargs)


def resnet34(**kwargs: object) -> ResNet:
    """ResNet-34: `BasicBlock` × (3, 4, 6, 3); 21,797,672 parameters at 1000 classes."""
    return resnet(34, **kwargs)


def resnet50(**kwargs: object) -> ResNet:
    """ResNet-50: `Bottleneck` × (3, 4, 6, 3); 25,557,032 parameters at 1000 classes."""
    return resnet(50, **kwargs)


def resnet101(**kwargs: object) -> ResNet:
    """ResNet-101: `Bottleneck` × (3, 4, 23, 3); 44,549,160 parameters at 1000 classes."""
    return resnet(101, **kwargs)
