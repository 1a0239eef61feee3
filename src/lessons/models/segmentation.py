"""Segmentation networks in plain torch: an FCN, a U-Net (with or without its skip connections), and a
U-Net whose encoder is phase 5's `lessons.models.resnet.ResNet`.

Each maps images ``(N, in_channels, H, W)`` to per-pixel class logits ``(N, num_classes, H, W)``.

* `FCN` (Long, Shelhamer & Darrell, 2015, the "FCN-32s" idea scaled down): a stack of convolutions that
  halves the resolution ``depth`` times, a 1×1 convolution that scores each class on the coarse grid, and
  one upsampling back to ``H × W``, by a learned transposed convolution or by bilinear interpolation.
* `UNet` (Ronneberger, Fischer & Brox, 2015): two 3×3 convolutions per level, max-pooling on the way down,
  upsampling on the way up, and at every level of the decoder the encoder's map of the same size
  concatenated to it (the skip connections). ``skip=False`` drops them, for the ablation. Unlike
  `lessons.models.unet.UNet` (the noise predictor of DDPM, conditioned on a step and a label), it has no
  conditioning and outputs class logits.
* `ResNetUNet`: a U-Net decoder on the stages of a `ResNet`, whose outputs at each scale are the skips,
  as in the U-Nets of segmentation-models-pytorch.

Examples:
    >>> import torch
    >>> x = torch.zeros(2, 1, 32, 32)
    >>> UNet(num_classes=4, channels=(8, 16))(x).shape
    torch.Size([2, 4, 32, 32])
    >>> ResNetUNet(num_classes=4, width=8)(x).shape
    torch.Size([2, 4, 32, 32])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lessons.checks import check_choice, check_int, check_sizes, check_tensor
from lessons.models.resnet import BasicBlock, ResNet

__all__ = ["FCN", "ResNetUNet", "UNet", "conv_block"]

Upsample = Literal["transposed", "bilinear"]


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """Two 3×3 convolutions (padding 1), each followed by BatchNorm and ReLU: U-Net's unit.

    Shapes: ``(N, c_in, H, W) -> (N, c_out, H, W)``.
    """
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    )  # fmt: skip


def _check_input(x: object, in_channels: int, factor: int) -> Tensor:
    x = check_tensor("x", x)
    if x.ndim != 4 or x.shape[1] != in_channels or x.shape[2] % factor or x.shape[3] % factor:
        raise ValueError(
            f"x must have shape (N, {in_channels}, H, W) with H and W divisible by {factor}, "
            f"got {tuple(x.shape)}"
        )
    return x


class FCN(nn.Module):
    """A fully convolutional network: downsample `depth` times, score classes, upsample once.

    Args:
        num_classes: classes to score per pixel.
        in_channels: image channels.
        width: channels of the first level; they double at every level.
        depth: how many times the resolution halves (the output grid is ``2**depth`` times coarser).
        upsample: ``"transposed"`` (a learned ``ConvTranspose2d`` with kernel ``2 * 2**depth`` and stride
            ``2**depth``, initialised to bilinear interpolation as the FCN paper does) or ``"bilinear"``
            (fixed interpolation).

    Shapes:
        ``(N, in_channels, H, W) -> (N, num_classes, H, W)``, H and W divisible by ``2**depth``.

    Raises:
        TypeError, ValueError: a size is not a positive int, or `upsample` is unknown.
    """

    def __init__(
        self, num_classes: int, *, in_channels: int = 1, width: int = 16, depth: int = 3,
        upsample: Upsample = "transposed",
    ) -> None:  # fmt: skip
        super().__init__()
        self.num_classes = check_int("num_classes", num_classes, ge=2)
        self.in_channels = check_int("in_channels", in_channels, ge=1)
        check_int("width", width, ge=1)
        self.factor = 2 ** check_int("depth", depth, ge=1)
        self.upsample = check_choice("upsample", upsample, ("transposed", "bilinear"))
        layers: list[nn.Module] = []
        c = in_channels
        for i in range(depth):
            layers += [conv_block(c, width * 2**i), nn.MaxPool2d(2)]
            c = width * 2**i
        self.encoder = nn.Sequential(*layers)
        self.classifier = nn.Conv2d(c, num_classes, 1)
        if upsample == "transposed":
            s = self.factor
            self.up = nn.ConvTranspose2d(
                num_classes, num_classes, 2 * s, stride=s, padding=s // 2, bias=False
            )
            with torch.no_grad():  # start from bilinear interpolation, one channel at a time
                self.up.weight.zero_()
                k = 1 - (torch.arange(2 * s, dtype=torch.float32) + 0.5 - s).abs() / s
                for j in range(num_classes):
                    self.up.weight[j, j] = k[:, None] * k[None, :]

    def forward(self, x: Tensor) -> Tensor:
        x = _check_input(x, self.in_channels, self.factor)
        scores = self.classifier(self.encoder(x))  # (N, num_classes, H / 2**depth, W / 2**depth)
        if self.upsample == "transposed":
            return self.up(scores)
        return F.interpolate(scores, size=x.shape[2:], mode="bilinear", align_corners=False)


class UNet(nn.Module):
    """A U-Net for semantic segmentation: encoder, decoder and (optionally) skip connections.

    Args:
        num_classes: classes to score per pixel.
        in_channels: image channels.
        channels: channels of each level, e.g. ``(16, 32, 64)``; the resolution halves between levels, so
            the bottleneck (the last level) sees ``1 / 2**(len(channels) - 1)`` of the side.
        skip: concatenate the encoder's map of each level to the decoder's (the U-Net); ``False`` gives
            the same encoder and decoder without them.
        upsample: how the decoder doubles the resolution: ``"transposed"`` (a 2×2 transposed convolution
            with stride 2, the paper's "up-convolution") or ``"bilinear"`` (interpolation, then the level's
            convolutions).

    Shapes:
        ``(N, in_channels, H, W) -> (N, num_classes, H, W)``, H and W divisible by
        ``2**(len(channels) - 1)``.

    Raises:
        TypeError, ValueError: a size is not a positive int, `channels` has fewer than two levels, or
            `upsample` is unknown.
    """

    def __init__(
        self, num_classes: int, *, in_channels: int = 1, channels: Sequence[int] = (16, 32, 64),
        skip: bool = True, upsample: Upsample = "transposed",
    ) -> None:  # fmt: skip
        super().__init__()
        self.num_classes = check_int("num_classes", num_classes, ge=2)
        self.in_channels = check_int("in_channels", in_channels, ge=1)
        channels = check_sizes("channels", channels, what="level")
        if len(channels) < 2:
            raise ValueError(f"channels must name at least two levels, got {channels!r}")
        if not isinstance(skip, bool):
            raise TypeError(f"skip must be a bool, got {type(skip).__name__}")
        self.skip = skip
        check_choice("upsample", upsample, ("transposed", "bilinear"))
        self.factor = 2 ** (len(channels) - 1)
        self.down = nn.ModuleList()
        c = in_channels
        for c_out in channels:
            self.down.append(conv_block(c, c_out))
            c = c_out
        self.pool = nn.MaxPool2d(2)
        self.ups, self.blocks = nn.ModuleList(), nn.ModuleList()
        for c_out in reversed(channels[:-1]):
            if upsample == "transposed":
                self.ups.append(nn.ConvTranspose2d(c, c_out, 2, stride=2))
            else:
                self.ups.append(
                    nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear"), nn.Conv2d(c, c_out, 1))
                )
            self.blocks.append(conv_block(2 * c_out if skip else c_out, c_out))
            c = c_out
        self.head = nn.Conv2d(c, num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = _check_input(x, self.in_channels, self.factor)
        skips = []
        for i, block in enumerate(self.down):
            h = block(self.pool(h) if i else h)
            skips.append(h)
        skips.pop()  # the bottleneck is not a skip
        for up, block in zip(self.ups, self.blocks, strict=True):
            h = up(h)
            skip = skips.pop()
            h = block(torch.cat([skip, h], dim=1) if self.skip else h)
        return self.head(h)


class ResNetUNet(nn.Module):
    """A U-Net whose encoder is a `ResNet` (phase 5).

    The skips are the encoder's maps at each scale, the decoder's input is ``layer4``'s output, and the
    decoder doubles the resolution (bilinear), concatenates the encoder's map of that size and applies a
    `conv_block`, once per skip:

    * ``stem="small"`` (3×3/1 convolution, the choice for 32×32 inputs): ``layer1`` (full size),
      ``layer2`` (1/2), ``layer3`` (1/4) are the skips, ``layer4`` (1/8) the bottleneck;
    * ``stem="imagenet"`` (7×7/2 convolution and a max-pool), as in the U-Nets of
      segmentation-models-pytorch: the stem's convolution (1/2), ``layer1`` (1/4), ``layer2`` (1/8),
      ``layer3`` (1/16) are the skips, ``layer4`` (1/32) the bottleneck, and a last upsampling and
      `conv_block` bring the result to full size.

    Args:
        num_classes: classes to score per pixel.
        in_channels: image channels.
        layers: blocks per stage of the `ResNet` (``(2, 2, 2, 2)`` is ResNet-18).
        width: the ResNet's `width` (channels of its stem and first stage; 64 in the paper).
        stem: the ResNet's stem, ``"small"`` or ``"imagenet"``.
        encoder: an existing `ResNet` to use instead of a new one (e.g. one trained beforehand);
            `in_channels`, `layers`, `width` and `stem` are then read from it.

    Shapes:
        ``(N, in_channels, H, W) -> (N, num_classes, H, W)``, H and W divisible by 8 (``"small"``) or
        32 (``"imagenet"``).

    Raises:
        TypeError: `encoder` is not a `ResNet`.
        ValueError: a size is not positive, or `stem` is unknown.
    """

    def __init__(
        self, num_classes: int, *, in_channels: int = 1, layers: Sequence[int] = (2, 2, 2, 2),
        width: int = 16, stem: Literal["small", "imagenet"] = "small", encoder: ResNet | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.num_classes = check_int("num_classes", num_classes, ge=2)
        if encoder is None:
            encoder = ResNet(BasicBlock, layers, num_classes=2, in_channels=in_channels, stem=stem,
                             width=width)  # fmt: skip
        elif not isinstance(encoder, ResNet):
            raise TypeError(f"encoder must be a lessons.models.resnet.ResNet, got {type(encoder).__name__}")
        self.encoder, self.in_channels = encoder, encoder.in_channels
        self.imagenet_stem = isinstance(encoder.stem[-1], nn.MaxPool2d)
        self.factor = 32 if self.imagenet_stem else 8
        # output channels of each stage: its last block's last convolution (conv3 in a Bottleneck)
        stage_c = [getattr(stage[-1], "conv3", stage[-1].conv2).out_channels for stage in self._stages()]
        skip_c = ([encoder.stem[0].out_channels] if self.imagenet_stem else []) + stage_c[:-1]
        self.blocks = nn.ModuleList()
        c = stage_c[-1]
        for s in reversed(skip_c):
            self.blocks.append(conv_block(c + s, s))
            c = s
        self.final = conv_block(c, c) if self.imagenet_stem else nn.Identity()
        self.head = nn.Conv2d(c, num_classes, 1)

    def _stages(self) -> list[nn.Module]:
        e = self.encoder
        return [e.layer1, e.layer2, e.layer3, e.layer4]

    def forward(self, x: Tensor) -> Tensor:
        h = _check_input(x, self.in_channels, self.factor)
        skips = []
        if self.imagenet_stem:
            h = self.encoder.stem[:3](h)  # conv 7×7/2, BN, ReLU: 1/2 of the side
            skips.append(h)
            h = self.encoder.stem[3](h)  # max-pool: 1/4
        else:
            h = self.encoder.stem(h)  # conv 3×3/1, BN, ReLU: full size
        for stage in self._stages():
            h = stage(h)
            skips.append(h)
        skips.pop()  # layer4 is the bottleneck
        for block in self.blocks:
            h = F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)
            h = block(torch.cat([skips.pop(), h], dim=1))
        if self.imagenet_stem:
            h = self.final(F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False))
        return self.head(h)
