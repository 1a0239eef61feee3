"""Convolutional networks for the CNN chapter and later vision lessons.

* size arithmetic: `conv_output_size`, `receptive_field`;
* classic architectures, layer for layer: `LeNet5` (LeCun et al., 1998), `AlexNet` (Krizhevsky et al., 2012),
  `VGG` with `vgg_block` (Simonyan & Zisserman, 2015), `MobileNetV1` with `DepthwiseSeparableConv`
  (Howard et al., 2017);
* `SmallCNN`: a few conv-BatchNorm-ReLU blocks, the workhorse for 28×28 digits on a CPU (a trained one:
  `lessons.recipes.trained_digit_cnn`).

Every class accepts ``num_classes`` and ``in_channels``, so the real architectures can be built on the
``meta`` device to count parameters (``with torch.device("meta"): m = vgg(16)``) and scaled-down twins can
be trained in seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from lessons.checks import check_choice, check_float, check_int, check_sizes, check_tensor
from lessons.models import make_activation

__all__ = [
    "AlexNet",
    "DepthwiseSeparableConv",
    "LeNet5",
    "MobileNetV1",
    "SmallCNN",
    "VGG",
    "VGG_ARCHS",
    "conv_output_size",
    "receptive_field",
    "vgg",
    "vgg_block",
]


def conv_output_size(
    size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """Output length along one axis of a convolution or pooling layer (``ceil_mode=False``).

    ``floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``

    Args:
        size: input length (height or width).
        kernel_size: kernel length ``k``.
        stride: step ``s`` between windows.
        padding: zeros added on each side ``p``.
        dilation: spacing between kernel taps ``d``.

    Returns:
        The output length, at least 1.

    Raises:
        TypeError: an argument is not an int.
        ValueError: an argument is out of range, or the (dilated) kernel does not fit the padded input.

    Examples:
        >>> conv_output_size(28, kernel_size=5, padding=2)
        28
        >>> conv_output_size(227, kernel_size=11, stride=4)
        55
    """
    check_int("size", size, ge=1)
    check_int("kernel_size", kernel_size, ge=1)
    check_int("stride", stride, ge=1)
    check_int("padding", padding, ge=0)
    check_int("dilation", dilation, ge=1)
    span = dilation * (kernel_size - 1) + 1
    if span > size + 2 * padding:
        raise ValueError(
            f"kernel_size={kernel_size} (dilation={dilation}) spans {span} pixels, more than the padded "
            f"input size + 2 * padding = {size + 2 * padding}"
        )
    return (size + 2 * padding - span) // stride + 1


def receptive_field(layers: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """Receptive field and jump of a stack of convolution/pooling layers.

    With ``r_0 = 1`` and ``j_0 = 1``, each layer with kernel ``k`` and stride ``s`` gives
    ``r_l = r_{l-1} + (k - 1) * j_{l-1}`` and ``j_l = j_{l-1} * s``.

    Args:
        layers: ``(kernel_size, stride)`` per layer, input side first (dilated kernels: pass the span
            ``d * (k - 1) + 1`` as the kernel size).

    Returns:
        ``(r, j)``: how many input pixels (per axis) one output unit sees, and how far apart (in input
        pixels) two neighbouring output units are.

    Raises:
        TypeError: `layers` is not a sequence of pairs of ints.
        ValueError: a kernel size or stride is not positive.

    Examples:
        >>> receptive_field([(3, 1), (3, 1)])  # two 3x3 convolutions see as far as one 5x5
        (5, 1)
    """
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence):
        raise TypeError(
            f"layers must be a sequence of (kernel_size, stride) pairs, got {type(layers).__name__}"
        )
    r, j = 1, 1
    for i, layer in enumerate(layers):
        if not (isinstance(layer, (tuple, list)) and len(layer) == 2):
            raise TypeError(f"layers[{i}] must be a (kernel_size, stride) pair, got {layer!r}")
        k = check_int(f"layers[{i}] kernel_size", layer[0], ge=1)
        s = check_int(f"layers[{i}] stride", layer[1], ge=1)
        r, j = r + (k - 1) * j, j * s
    return r, j


class LeNet5(nn.Module):
    """LeNet-5: two 5×5 convolutions (6 and 16 channels) with 2×2 pooling, then 120-84-classes.

    The first convolution pads by 2, so a 28×28 MNIST digit behaves like the 32×32 input of the paper.
    With 10 classes it has 61,706 parameters.

    Args:
        num_classes: outputs of the last layer.
        in_channels: input channels.
        activation: ``"relu"`` (modern), the saturating ``"tanh"`` / ``"sigmoid"`` of the 1990s, or any
            other name of `lessons.models.ACTIVATIONS`.
        pool: ``"max"`` or ``"avg"`` (LeNet's subsampling layers averaged).

    Shapes:
        ``(N, in_channels, 28, 28)`` -> ``(N, num_classes)``.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        activation: str = "relu",
        pool: Literal["max", "avg"] = "max",
    ) -> None:
        super().__init__()
        check_int("num_classes", num_classes, ge=1)
        check_int("in_channels", in_channels, ge=1)
        make_activation(activation)  # validates the name before any layer is built
        check_choice("pool", pool, ("max", "avg"))

        def act() -> nn.Module:
            return make_activation(activation)

        pooling = nn.MaxPool2d if pool == "max" else nn.AvgPool2d
        self.in_channels = in_channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), act(), pooling(2),  # 6x28x28 -> 6x14x14
            nn.Conv2d(6, 16, 5), act(), pooling(2),  # 16x10x10 -> 16x5x5
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),
            act(),
            nn.Linear(120, 84),
            act(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        _check_images(x, self.in_channels, "LeNet5", size=28)
        return self.classifier(self.features(x))


class AlexNet(nn.Module):
    """AlexNet as in the paper: five convolutions (96-256-384-384-256), three dense layers (4096-4096-C).

    The paper split the network over two GPUs; ``groups=2`` reproduces that (convolutions 2, 4 and 5 see
    only their own GPU's half of the channels: 60,965,224 parameters at 1000 classes, the paper's
    "60 million"); ``groups=1`` is the usual single-device version (62,378,344). Local response
    normalisation has no parameters and is kept; inputs are 227×227 (the paper's "224" does not give its
    55×55 first feature map with an 11×11/4 kernel and no padding).

    Args:
        num_classes: outputs of the last layer.
        in_channels: input channels.
        groups: 1 or 2, see above.
        dropout: dropout probability before each of the first two dense layers.

    Shapes:
        ``(N, in_channels, 227, 227)`` -> ``(N, num_classes)``.
    """

    def __init__(
        self, num_classes: int = 1000, in_channels: int = 3, groups: int = 1, dropout: float = 0.5
    ) -> None:
        super().__init__()
        check_int("num_classes", num_classes, ge=1)
        check_int("in_channels", in_channels, ge=1)
        check_choice("groups", groups, (1, 2))
        self.in_channels = in_channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 96, 11, stride=4), nn.ReLU(inplace=True),  # 96x55x55
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, 2),  # 96x27x27
            nn.Conv2d(96, 256, 5, padding=2, groups=groups), nn.ReLU(inplace=True),
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, 2),  # 256x13x13
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, 3, padding=1, groups=groups), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1, groups=groups), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),  # 256x6x6
        )  # fmt: skip
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        _check_images(x, self.in_channels, "AlexNet", size=227)
        return self.classifier(self.features(x))


def vgg_block(
    num_convs: int, in_channels: int, out_channels: int, *, batch_norm: bool = False
) -> nn.Sequential:
    """A VGG block: `num_convs` 3×3 convolutions (padding 1, ReLU) and a 2×2 max-pool.

    Shapes:
        ``(N, in_channels, H, W)`` -> ``(N, out_channels, H // 2, W // 2)``.

    Raises:
        TypeError, ValueError: a count is not a positive int.
    """
    check_int("num_convs", num_convs, ge=1)
    check_int("in_channels", in_channels, ge=1)
    check_int("out_channels", out_channels, ge=1)
    layers: list[nn.Module] = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(in_channels, out_channels, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU(inplace=True))
        in_channels = out_channels
    layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


VGG_ARCHS: dict[int, tuple[tuple[int, int], ...]] = {
    11: ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)),
    13: ((2, 64), (2, 128), (2, 256), (2, 512), (2, 512)),
    16: ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)),
    19: ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512)),
}
"""``(num_convs, channels)`` per block for VGG-11/13/16/19 (configurations A, B, D, E of the paper)."""


class VGG(nn.Module):
    """VGG: blocks of 3×3 convolutions (`vgg_block`), then a three-layer dense classifier.

    Args:
        arch: ``(num_convs, out_channels)`` per block, e.g. ``VGG_ARCHS[16]``; each block halves H and W.
        num_classes: outputs of the last layer.
        in_channels: input channels.
        hidden: width of the two hidden dense layers (4096 in the paper).
        pool_size: the last feature map is average-pooled to ``pool_size × pool_size`` (7 for 224×224 inputs,
            where this is the identity).
        dropout: dropout probability in the classifier.
        batch_norm: add BatchNorm after each convolution (a later, easier-to-train variant).

    Shapes:
        ``(N, in_channels, H, W)`` -> ``(N, num_classes)``, with H and W at least ``2 ** len(arch)``.
    """

    def __init__(
        self,
        arch: Sequence[tuple[int, int]],
        *,
        num_classes: int = 1000,
        in_channels: int = 3,
        hidden: int = 4096,
        pool_size: int = 7,
        dropout: float = 0.5,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        arch = tuple(tuple(block) for block in arch)
        if not arch or not all(len(block) == 2 for block in arch):
            raise ValueError(
                f"arch must be a non-empty sequence of (num_convs, out_channels) pairs, got {arch!r}"
            )
        check_int("num_classes", num_classes, ge=1)
        check_int("in_channels", in_channels, ge=1)
        check_int("hidden", hidden, ge=1)
        check_int("pool_size", pool_size, ge=1)
        self.in_channels = in_channels
        self.min_size = 2 ** len(arch)
        blocks = []
        channels = in_channels
        for num_convs, out_channels in arch:
            blocks.append(vgg_block(num_convs, channels, out_channels, batch_norm=batch_norm))
            channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.avgpool = nn.AdaptiveAvgPool2d(pool_size)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * pool_size * pool_size, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        _check_images(x, self.in_channels, "VGG", min_size=self.min_size)
        return self.classifier(self.avgpool(self.features(x)))


def vgg(depth: int, **kwargs: object) -> VGG:
    """VGG-11/13/16/19 from `VGG_ARCHS` (VGG-16: 138,357,544 parameters at 1000 classes).

    Raises:
        ValueError: `depth` is not 11, 13, 16 or 19.
    """
    check_choice("depth", depth, VGG_ARCHS)
    return VGG(VGG_ARCHS[depth], **kwargs)  # type: ignore[arg-type]


class DepthwiseSeparableConv(nn.Module):
    """MobileNet's building block: a 3×3 depthwise convolution (one filter per channel) then a 1×1
    pointwise convolution that mixes channels, each followed by BatchNorm and ReLU.

    Weights: ``9 * C_in + C_in * C_out`` instead of ``9 * C_in * C_out`` for a full 3×3 convolution.

    Shapes:
        ``(N, in_channels, H, W)`` -> ``(N, out_channels, ceil(H / stride), ceil(W / stride))``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        check_int("in_channels", in_channels, ge=1)
        check_int("out_channels", out_channels, ge=1)
        check_choice("stride", stride, (1, 2))
        self.depthwise = nn.Conv2d(
            in_channels, in_channels, 3, stride, padding=1, groups=in_channels, bias=False
        )
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu(self.bn2(self.pointwise(self.relu(self.bn1(self.depthwise(x))))))


# (out_channels, stride) of the 13 depthwise-separable layers of MobileNet v1 (Table 1 of the paper).
_MOBILENET_V1 = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)  # fmt: skip


class MobileNetV1(nn.Module):
    """MobileNet v1: a 3×3/2 convolution, 13 `DepthwiseSeparableConv` layers, global pooling, a dense layer.

    Args:
        num_classes: outputs of the last layer.
        in_channels: input channels.
        width_mult: the paper's width multiplier alpha (channels are scaled by it, at least 8).
        stem_stride: 2 for 224×224 inputs; 1 keeps small inputs (32×32) from shrinking too early.

    Shapes:
        ``(N, in_channels, H, W)`` -> ``(N, num_classes)``.
    """

    def __init__(
        self, num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0, stem_stride: int = 2
    ) -> None:
        super().__init__()
        check_int("num_classes", num_classes, ge=1)
        check_int("in_channels", in_channels, ge=1)
        check_float("width_mult", width_mult, gt=0)
        check_choice("stem_stride", stem_stride, (1, 2))

        def scaled(c: int) -> int:
            return max(8, int(c * width_mult))

        self.in_channels = in_channels
        channels = scaled(32)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, channels, 3, stem_stride, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        ]
        for out_channels, stride in _MOBILENET_V1:
            layers.append(DepthwiseSeparableConv(channels, scaled(out_channels), stride))
            channels = scaled(out_channels)
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        _check_images(x, self.in_channels, "MobileNetV1")
        return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


class SmallCNN(nn.Module):
    """A small CNN for 28×28 (or 32×32) images: blocks of [conv3×3-BatchNorm-ReLU] × `convs_per_block`
    followed by a 2×2 max-pool, then a linear classifier on the flattened (or globally averaged) maps.

    Args:
        channels: output channels of each block, e.g. ``(32, 64)``.
        num_classes: outputs of the last layer.
        in_channels: input channels.
        image_size: height and width of the (square) input images; each block halves them.
        convs_per_block: convolutions in each block.
        head: ``"flatten"`` (a linear layer sees every position of the last maps) or ``"avg"`` (global
            average pooling first: fewer weights, any input size).
        dropout: dropout probability before the classifier.

    Attributes:
        features: ``nn.Sequential`` of blocks; ``features[i][-2]`` is the last ReLU of block ``i`` (before its
            pooling), a good layer to hook for feature maps and Grad-CAM.

    Shapes:
        ``(N, in_channels, image_size, image_size)`` -> ``(N, num_classes)`` (with ``head="avg"``: any
        H, W >= ``2 ** len(channels)``).
    """

    def __init__(
        self,
        channels: Sequence[int] = (32, 64),
        *,
        num_classes: int = 10,
        in_channels: int = 1,
        image_size: int = 28,
        convs_per_block: int = 1,
        head: Literal["flatten", "avg"] = "flatten",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        channels = check_sizes("channels", channels, what="block")
        check_int("num_classes", num_classes, ge=1)
        check_int("in_channels", in_channels, ge=1)
        check_int("image_size", image_size, ge=2 ** len(channels))
        check_int("convs_per_block", convs_per_block, ge=1)
        check_choice("head", head, ("flatten", "avg"))
        self.in_channels = in_channels
        self.image_size = image_size if head == "flatten" else None
        self.min_size = 2 ** len(channels)
        blocks = []
        c_in, size = in_channels, image_size
        for c_out in channels:
            layers: list[nn.Module] = []
            for _ in range(convs_per_block):
                layers += [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
                c_in = c_out
            layers.append(nn.MaxPool2d(2))
            blocks.append(nn.Sequential(*layers))
            size //= 2
        self.features = nn.Sequential(*blocks)
        pool: list[nn.Module] = [nn.AdaptiveAvgPool2d(1)] if head == "avg" else []
        n_in = c_in if head == "avg" else c_in * size * size
        self.head = nn.Sequential(*pool, nn.Flatten(), nn.Dropout(dropout), nn.Linear(n_in, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        _check_images(x, self.in_channels, "SmallCNN", size=self.image_size, min_size=self.min_size)
        return self.head(self.features(x))


def _check_images(
    x: Tensor, in_channels: int, model: str, *, size: int | None = None, min_size: int = 1
) -> None:
    """Raise a ValueError naming the expected shape instead of a deep shape-mismatch trace."""
    check_tensor("x", x)
    ok = x.ndim == 4 and x.shape[1] == in_channels
    if ok and size is not None:
        ok = x.shape[2] == size and x.shape[3] == size
    if ok:
        ok = x.shape[2] >= min_size and x.shape[3] >= min_size
    if not ok:
        hw = f"{size}, {size}" if size is not None else "H, W"
        extra = f" with H, W >= {min_size}" if min_size > 1 else ""
        raise ValueError(f"{model} expects x of shape (N, {in_channels}, {hw}){extra}, got {tuple(x.shape)}")
