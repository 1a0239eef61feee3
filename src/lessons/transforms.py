"""Image transforms: augmentation and normalisation, for one image or for a whole batch.

* per image ``(C, H, W)``, applied by a ``Dataset`` as each example is fetched: `RandomAffine`,
  `AddGaussianNoise`, chained with `Compose`. They are classes defined here, not in a chapter's code block,
  so that ``DataLoader(num_workers=2)`` can pickle them into its worker processes;
* per batch ``(N, C, H, W)``, applied on the device after slicing (see `lessons.train.TensorLoader`):
  `random_crop_flip`, `random_crop` (a smaller window, shifted at random), `random_brightness`, and
  `normalize` with the statistics of `channel_stats`.

Examples:
    >>> import torch
    >>> images = torch.rand(8, 3, 32, 32)
    >>> mean, std = channel_stats(images)
    >>> x = normalize(random_crop_flip(images, padding=4), mean, std)
    >>> x.shape
    torch.Size([8, 3, 32, 32])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from lessons.checks import check_callable, check_float, check_int, check_tensor

__all__ = [
    "AddGaussianNoise",
    "Compose",
    "RandomAffine",
    "channel_stats",
    "normalize",
    "random_brightness",
    "random_crop",
    "random_crop_flip",
]


def _check_batch(name: str, x: object) -> torch.Tensor:
    x = check_tensor(name, x)
    if x.ndim != 4:
        raise ValueError(f"{name} must be a batch of images (N, C, H, W), got shape {tuple(x.shape)}")
    return x


class Compose:
    """Apply transforms one after the other: ``Compose([RandomAffine(10), AddGaussianNoise(0.05)])``.

    Raises:
        TypeError: an entry of `transforms` is not callable.
    """

    def __init__(self, transforms: Sequence[Callable[[torch.Tensor], torch.Tensor]]) -> None:
        self.transforms = [check_callable(f"transforms[{i}]", t) for i, t in enumerate(transforms)]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


class RandomAffine:
    """Randomly rotate (±`degrees`) and shift (±`translate` × size) one ``(C, H, W)`` image.

    Uses ``torch.rand`` (so the global seed, or each DataLoader worker's seed, makes it reproducible),
    ``F.affine_grid`` and ``F.grid_sample`` with zero padding (black background, as in MNIST).

    Args:
        degrees: maximum rotation angle in degrees (>= 0).
        translate: maximum shift as a fraction of width/height, in [0, 1).

    Raises:
        TypeError: an argument is not a number.
        ValueError: `degrees` < 0 or `translate` outside [0, 1).
    """

    def __init__(self, degrees: float = 10.0, translate: float = 0.1) -> None:
        self.degrees = check_float("degrees", degrees, ge=0)
        self.translate = check_float("translate", translate, ge=0, lt=1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if check_tensor("x", x).ndim != 3:
            raise ValueError(f"RandomAffine expects one (C, H, W) image, got shape {tuple(x.shape)}")
        angle = math.radians(self.degrees) * (2 * torch.rand(()).item() - 1)
        tx, ty = (self.translate * 2 * (2 * torch.rand(2) - 1)).tolist()  # grid coordinates span [-1, 1]
        cos, sin = math.cos(angle), math.sin(angle)
        theta = torch.tensor([[cos, -sin, tx], [sin, cos, ty]], dtype=x.dtype).unsqueeze(0)
        grid = F.affine_grid(theta, [1, *x.shape], align_corners=False)
        return F.grid_sample(x.unsqueeze(0), grid, align_corners=False, padding_mode="zeros").squeeze(0)

    def __repr__(self) -> str:
        return f"RandomAffine(degrees={self.degrees}, translate={self.translate})"


class AddGaussianNoise:
    """Add ``N(0, std²)`` noise and clip to [0, 1] (an image of any shape, or a batch).

    Raises:
        TypeError: `std` is not a number.
        ValueError: `std` < 0.
    """

    def __init__(self, std: float = 0.05) -> None:
        self.std = check_float("std", std, ge=0)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x + self.std * torch.randn_like(x)).clamp(0.0, 1.0)

    def __repr__(self) -> str:
        return f"AddGaussianNoise(std={self.std})"


def random_crop_flip(
    x: torch.Tensor, padding: int = 4, *, flip: bool = True, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Augment a whole batch at once: pad by `padding` (with the border value 0), crop back to the original
    size at a random offset per image, and mirror half of the images left-right.

    Runs on whatever device `x` lives on (one gather, no Python loop), so on a GPU it costs next to nothing.

    Args:
        x: images ``(N, C, H, W)``.
        padding: largest shift in pixels (4 for CIFAR-10, 2 for 28×28 digits); 0 disables the crop.
        flip: mirror a random half of the batch (not for digits: a mirrored 2 is no 2).
        generator: optional RNG on the CPU for reproducible draws.

    Returns:
        A new tensor of the same shape and dtype.

    Raises:
        TypeError: `x` is not a tensor or `padding` is not an int.
        ValueError: `x` is not 4-D or `padding` is negative.
    """
    x = _check_batch("x", x)
    padding = check_int("padding", padding, ge=0)
    out = x
    if padding:
        out = _random_windows(F.pad(x, (padding,) * 4), x.shape[2], x.shape[3], generator)
    return _random_flip(out, generator) if flip else out


def _random_windows(x: torch.Tensor, h: int, w: int, generator: torch.Generator | None) -> torch.Tensor:
    """An ``h × w`` window of each image of `x` at a random offset, all in one gather (no Python loop)."""
    n, c, height, width = x.shape
    dy = torch.randint(0, height - h + 1, (n, 1, 1), generator=generator).to(x.device)
    dx = torch.randint(0, width - w + 1, (n, 1, 1), generator=generator).to(x.device)
    rows = (dy + torch.arange(h, device=x.device)[None, :, None]).expand(n, h, w)
    cols = (dx + torch.arange(w, device=x.device)[None, None, :]).expand(n, h, w)
    flat = (rows * width + cols).flatten(1)  # index into each flattened image
    return x.flatten(2).gather(2, flat[:, None, :].expand(-1, c, -1)).view(n, c, h, w)


def _random_flip(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Mirror a random half of the batch left-right."""
    mirror = (torch.rand(x.shape[0], generator=generator) < 0.5).to(x.device)
    return torch.where(mirror[:, None, None, None], x.flip(3), x)


def random_crop(
    x: torch.Tensor,
    size: int,
    *,
    padding: int = 0,
    flip: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Cut a ``size × size`` window out of each image at a random offset (and mirror half of them).

    Unlike `random_crop_flip`, the output is smaller than the input and the border is padded by repeating
    the edge pixels, not with zeros, so a shifted image shows no black band. With ``padding=0`` a 25×25
    image gives 24×24 windows shifted by 0 or 1 pixel; ``padding=p`` allows ``p`` more pixels each way.

    Args:
        x: images ``(N, C, H, W)`` with ``H, W >= size``.
        size: height and width of the windows.
        padding: pixels of edge replication added on every side first.
        flip: mirror a random half of the batch left-right.
        generator: optional RNG on the CPU for reproducible draws.

    Returns:
        ``(N, C, size, size)``, same dtype.

    Raises:
        TypeError: `x` is not a tensor, or `size`/`padding` not ints.
        ValueError: `x` is not 4-D, `size` < 1 or larger than the padded image, or `padding` < 0.

    Examples:
        >>> import torch
        >>> random_crop(torch.rand(4, 1, 25, 25), 24).shape
        torch.Size([4, 1, 24, 24])
    """
    x = _check_batch("x", x)
    check_int("size", size, ge=1)
    padding = check_int("padding", padding, ge=0)
    side = min(x.shape[2:]) + 2 * padding
    if size > side:
        raise ValueError(f"size must be at most the padded image side {side}, got {size}")
    if padding:
        x = F.pad(x, (padding,) * 4, mode="replicate")
    out = _random_windows(x, size, size, generator)
    return _random_flip(out, generator) if flip else out


def random_brightness(
    x: torch.Tensor, delta: float, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Add one random offset from ``U(-delta, delta)`` to every pixel of each image, then clip to [0, 1].

    Args:
        x: images ``(N, C, H, W)`` in [0, 1].
        delta: the largest change of brightness (0.1 = a tenth of the range).
        generator: optional RNG on the CPU for reproducible draws.

    Returns:
        A new tensor of the same shape, in [0, 1].

    Raises:
        TypeError: `x` is not a tensor.
        ValueError: `x` is not 4-D or `delta` is not in [0, 1].

    Examples:
        >>> import torch
        >>> random_brightness(torch.full((2, 1, 3, 3), 0.5), 0.0).unique()
        tensor([0.5000])
    """
    x = _check_batch("x", x)
    check_float("delta", delta, ge=0, le=1)
    shift = (torch.rand(x.shape[0], 1, 1, 1, generator=generator) * 2 - 1) * delta
    return (x + shift.to(device=x.device, dtype=x.dtype)).clamp(0, 1)


def _unit_scale(x: torch.Tensor) -> torch.Tensor:
    """Float images on the [0, 1] scale: uint8 images are divided by 255, float images kept as they are."""
    return x.float() / 255.0 if x.dtype == torch.uint8 else x.float()


def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``(x / 255 - mean) / std`` per channel for uint8 images (``x / 255`` is skipped for float input).

    Args:
        x: ``(N, C, H, W)`` uint8 or float images.
        mean: C numbers, the per-channel means (e.g. from `channel_stats` of the training images).
        std: C positive numbers, the per-channel standard deviations.

    Returns:
        float32 ``(N, C, H, W)``.

    Raises:
        TypeError: `x` is not a tensor.
        ValueError: `x` is not 4-D, `mean`/`std` do not have one value per channel, or a std is not positive.
    """
    x = _check_batch("x", x)
    c = x.shape[1]
    if len(mean) != c or len(std) != c:
        raise ValueError(
            f"mean and std must have {c} values (one per channel), got {len(mean)} and {len(std)}"
        )
    if min(std) <= 0:
        raise ValueError(f"std must be positive, got {tuple(std)}")
    x = _unit_scale(x)
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, c, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, c, 1, 1)
    return (x - m) / s


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of ``(N, C, H, W)`` images, on the [0, 1] scale
    (uint8 images are divided by 255 first). Compute them on the training images only.

    Returns:
        ``(mean, std)``, each a tuple of C floats.

    Raises:
        TypeError: `images` is not a tensor.
        ValueError: `images` is not 4-D or is empty.
    """
    images = _check_batch("images", images)
    if images.numel() == 0:
        raise ValueError(f"images must not be empty, got shape {tuple(images.shape)}")
    x = _unit_scale(images)
    x = x.transpose(0, 1).reshape(x.shape[1], -1)
    return tuple(x.mean(1).tolist()), tuple(x.std(1).tolist())
