"""Semantic segmentation: generated scenes with per-pixel masks, the usual scores, and a small training loop.

* `make_scenes`: grey images of discs, squares and triangles on textured backgrounds (scikit-image's
  ``brick``, ``grass`` and ``gravel`` photographs, which ship with the package), with a class for every
  pixel: 0 background, 1 disc, 2 square, 3 triangle (`SCENE_CLASSES`). Deterministic given ``seed``.
* `segmentation_scores`: pixel accuracy, per-class IoU and Dice and their means, from a confusion matrix
  (`lessons.metrics.confusion_matrix` over all pixels). Phase 10 checks them against scikit-learn's
  ``jaccard_score`` and ``f1_score`` on the flattened pixels.
* `train_segmenter` and `predict_masks`: per-pixel cross-entropy with Adam, and the arg-max masks.

The models (FCN, U-Net, a U-Net on a ResNet encoder) are in `lessons.models.segmentation`.

Examples:
    >>> images, masks = make_scenes(2, size=32, seed=0)
    >>> images.shape, masks.shape
    (torch.Size([2, 1, 32, 32]), torch.Size([2, 32, 32]))
    >>> s = segmentation_scores(masks, masks, num_classes=4)
    >>> s.pixel_accuracy, s.mean_iou
    (1.0, 1.0)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lessons.checks import check_float, check_int, check_tensor
from lessons.metrics import confusion_matrix

__all__ = [
    "SCENE_CLASSES",
    "TEXTURES",
    "SegmentationScores",
    "make_scenes",
    "predict_masks",
    "segmentation_scores",
    "soft_dice_loss",
    "train_segmenter",
]

SCENE_CLASSES: tuple[str, ...] = ("background", "disc", "square", "triangle")
"""The classes of `make_scenes`' masks, by index."""
TEXTURES: tuple[str, ...] = ("brick", "grass", "gravel")
"""The scikit-image textures (512×512 grey photographs in ``skimage.data``) the scenes are cut from."""


@functools.lru_cache(maxsize=1)
def _textures() -> tuple[np.ndarray, ...]:
    from skimage import data

    out = []
    for name in TEXTURES:
        t = getattr(data, name)().astype(np.float32)
        out.append((t - t.mean()) / t.std())  # zero mean, unit spread: the textures differ in contrast
    return tuple(out)


def _crop(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random ``size × size`` patch of a random texture, taken from a patch twice as large (every other
    pixel), so that the texture's grain is fine at the scene's scale."""
    tex = _textures()[rng.integers(len(TEXTURES))]
    y, x = rng.integers(0, tex.shape[0] - 2 * size + 1, 2)
    return tex[y : y + 2 * size : 2, x : x + 2 * size : 2]


def _shape_mask(rng: np.random.Generator, kind: int, size: int) -> np.ndarray:
    """A boolean ``(size, size)`` mask of one disc (1), axis-aligned square (2) or upright triangle (3)."""
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    r = rng.uniform(0.18, 0.3) * size  # half the side, or the radius
    cy, cx = rng.uniform(r, size - r, 2)
    if kind == 1:
        return (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
    if kind == 2:
        return (np.abs(yy - cy) <= r) & (np.abs(xx - cx) <= r)
    # an equilateral triangle, apex up (y points down): the pixels inside all three half-planes
    corners = [
        (cy - 1.3 * r * np.cos(a), cx + 1.3 * r * np.sin(a)) for a in (0, 2 * np.pi / 3, 4 * np.pi / 3)
    ]
    inside = np.ones((size, size), dtype=bool)
    for (y0, x0), (y1, x1) in zip(corners, corners[1:] + corners[:1], strict=True):
        inside &= (x1 - x0) * (yy - y0) - (y1 - y0) * (xx - x0) >= 0
    return inside


def make_scenes(
    n: int, *, size: int = 32, max_shapes: int = 3, contrast: float = 2.0, seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Generate `n` grey scenes of flat shapes on a textured background, with a class per pixel.

    Each scene is a crop of one texture (brick, grass or gravel); on it, 1 to `max_shapes` shapes (a disc,
    a square or an upright triangle, chosen at random, 36–60% of the side across) are drawn one after the
    other, so a later shape hides part of an earlier one. A shape is one flat grey, ``contrast`` standard
    deviations of the texture brighter or darker than its mean (at random), so the brightness says
    "object" but not which one: telling a disc from a square takes its outline.

    Args:
        n: number of scenes.
        size: height and width in pixels (at least 16).
        max_shapes: most shapes per scene (at least 1).
        contrast: how far a shape's brightness is from the background's mean, in units of the texture's
            standard deviation.
        seed: the same seed gives the same scenes.

    Returns:
        ``(images, masks)``: images float32 ``(n, 1, size, size)`` in [0, 1] (the texture has a standard
        deviation of 0.14 around 0.5); masks int64 ``(n, size, size)`` with values in
        ``range(len(SCENE_CLASSES))``.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: `n` < 1, `size` < 16, `max_shapes` < 1 or `contrast` < 0.
    """
    check_int("n", n, ge=1)
    check_int("size", size, ge=16)
    check_int("max_shapes", max_shapes, ge=1)
    contrast = check_float("contrast", contrast, ge=0)
    check_int("seed", seed, ge=0)
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size), dtype=np.float32)
    masks = np.zeros((n, size, size), dtype=np.int64)
    for i in range(n):
        image, mask = 0.7 * _crop(rng, size), masks[i]
        for _ in range(rng.integers(1, max_shapes + 1)):
            kind = int(rng.integers(1, len(SCENE_CLASSES)))
            inside = _shape_mask(rng, kind, size)
            sign = rng.choice([-1.0, 1.0])
            image[inside] = sign * contrast  # flat: brighter or darker than the texture's mean
            mask[inside] = kind
        images[i] = np.clip(0.5 + 0.2 * image, 0, 1)
    return torch.from_numpy(images)[:, None], torch.from_numpy(masks)


@dataclass(frozen=True)
class SegmentationScores:
    """Scores of predicted masks against true ones, all computed from one confusion matrix.

    Attributes:
        confusion: ``(C, C)`` int64, ``confusion[i, j]`` = pixels of true class ``i`` predicted as ``j``.
        pixel_accuracy: the fraction of pixels whose class is right.
        iou: ``(C,)`` float64, per class ``TP / (TP + FP + FN)``; NaN for a class absent from both.
        dice: ``(C,)`` float64, per class ``2 TP / (2 TP + FP + FN)``; NaN for a class absent from both.
        mean_iou: the mean of `iou` over the classes where it is defined (mIoU).
        mean_dice: the mean of `dice` over the classes where it is defined.
    """

    confusion: Tensor
    pixel_accuracy: float
    iou: Tensor
    dice: Tensor
    mean_iou: float
    mean_dice: float


def segmentation_scores(preds: Tensor, targets: Tensor, num_classes: int) -> SegmentationScores:
    """Pixel accuracy, per-class IoU and Dice, and their means, over every pixel of every image.

    The counts are pooled over the whole set (as PASCAL VOC and Cityscapes do), not averaged per image.

    Args:
        preds: predicted classes ``(N, H, W)`` int, or scores ``(N, C, H, W)`` (the arg-max is taken).
        targets: true classes ``(N, H, W)`` int in ``[0, num_classes)``.
        num_classes: the number of classes ``C``.

    Returns:
        A `SegmentationScores`.

    Raises:
        TypeError: an input is not a tensor, `targets` holds floats, `num_classes` is not an int.
        ValueError: the shapes differ, a label is outside ``[0, num_classes)``, or there are no pixels.

    Examples:
        >>> t = torch.tensor([[[0, 0, 1, 1]]])
        >>> p = torch.tensor([[[0, 1, 1, 1]]])
        >>> s = segmentation_scores(p, t, num_classes=2)
        >>> s.iou.tolist(), s.dice.tolist()  # class 0: 1 / 2; class 1: 2 / 3
        ([0.5, 0.6666666666666666], [0.6666666666666666, 0.8])
    """
    targets = check_tensor("targets", targets)
    if targets.numel() == 0:
        raise ValueError("targets holds no pixels")
    cm = confusion_matrix(preds, targets, num_classes)
    tp = cm.diag().double()
    fp, fn = cm.sum(0).double() - tp, cm.sum(1).double() - tp
    present = (tp + fp + fn) > 0
    nan = torch.tensor(float("nan"), dtype=torch.float64)
    iou = torch.where(present, tp / (tp + fp + fn).clamp(min=1), nan)
    dice = torch.where(present, 2 * tp / (2 * tp + fp + fn).clamp(min=1), nan)
    return SegmentationScores(
        confusion=cm,
        pixel_accuracy=float(tp.sum() / cm.sum()),
        iou=iou,
        dice=dice,
        mean_iou=float(iou[present].mean()),
        mean_dice=float(dice[present].mean()),
    )


def soft_dice_loss(logits: Tensor, targets: Tensor, *, eps: float = 1.0) -> Tensor:
    """One minus the mean over classes of the soft Dice coefficient (Milletari et al., 2016, V-Net).

    With ``p = softmax(logits)`` and ``y`` the one-hot targets, class ``c`` scores
    ``(2 Σ p_c y_c + eps) / (Σ p_c + Σ y_c + eps)``, sums over every pixel of the batch; each class
    counts equally, however few pixels it has, which is why it helps rare classes.

    Args:
        logits: ``(N, C, H, W)`` class scores.
        targets: ``(N, H, W)`` int classes in ``[0, C)``.
        eps: smoothing added to numerator and denominator (a class absent from both scores 1).

    Returns:
        A scalar tensor in ``[0, 1]``.

    Raises:
        TypeError, ValueError: bad types or shapes.
    """
    check_tensor("logits", logits)
    check_tensor("targets", targets)
    if logits.ndim != 4 or targets.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(f"logits (N, C, H, W) and targets (N, H, W) do not match: {tuple(logits.shape)} and "
                         f"{tuple(targets.shape)}")  # fmt: skip
    if targets.is_floating_point():
        raise TypeError(f"targets must hold integer classes, got dtype {targets.dtype}")
    eps = check_float("eps", eps, ge=0)
    p = logits.softmax(1)
    y = F.one_hot(targets.long(), logits.shape[1]).permute(0, 3, 1, 2).to(p.dtype)
    inter, total = (p * y).sum((0, 2, 3)), (p + y).sum((0, 2, 3))
    return 1 - ((2 * inter + eps) / (total + eps)).mean()


def _check_data(images: Tensor, masks: Tensor) -> None:
    check_tensor("images", images)
    check_tensor("masks", masks)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    if masks.shape != (images.shape[0], *images.shape[2:]):
        raise ValueError(f"masks must have shape (N, H, W) = {(images.shape[0], *images.shape[2:])}, "
                         f"got {tuple(masks.shape)}")  # fmt: skip
    if masks.is_floating_point():
        raise TypeError(f"masks must hold integer classes, got dtype {masks.dtype}")


def train_segmenter(
    model: nn.Module,
    images: Tensor,
    masks: Tensor,
    *,
    epochs: int = 5,
    batch_size: int = 16,
    lr: float = 5e-3,
    dice: float = 0.0,
    seed: int = 0,
) -> list[float]:
    """Train `model` with per-pixel cross-entropy (plus, optionally, a soft Dice loss) and Adam, in shuffled
    mini-batches.

    The learning rate decays from `lr` to 0 along a cosine over all the steps (``CosineAnnealingLR``).

    Args:
        model: maps ``(B, C_in, H, W)`` images to ``(B, num_classes, H, W)`` logits.
        images: ``(N, C_in, H, W)`` float.
        masks: ``(N, H, W)`` int classes.
        epochs: passes over the data.
        batch_size: images per step.
        lr: Adam's learning rate.
        dice: weight of `soft_dice_loss` added to the cross-entropy (0: cross-entropy alone).
        seed: seeds the order of the batches (the model's initial weights are the caller's business).

    Returns:
        The mean training loss of each epoch, ``len == epochs``.

    Raises:
        TypeError, ValueError: bad shapes or sizes (the message names the argument).
    """
    _check_data(images, masks)
    check_int("epochs", epochs, ge=1)
    check_int("batch_size", batch_size, ge=1)
    lr = check_float("lr", lr, gt=0)
    dice = check_float("dice", dice, ge=0)
    generator = torch.Generator().manual_seed(check_int("seed", seed, ge=0))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * -(-len(images) // batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    model.train()
    history = []
    for _ in range(epochs):
        total = 0.0
        for idx in torch.randperm(len(images), generator=generator).split(batch_size):
            logits = model(images[idx])
            loss = F.cross_entropy(logits, masks[idx])
            if dice:
                loss = loss + dice * soft_dice_loss(logits, masks[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(idx)
        history.append(total / len(images))
    return history


@torch.no_grad()
def predict_masks(model: nn.Module, images: Tensor, *, batch_size: int = 256) -> Tensor:
    """The arg-max class of every pixel, in evaluation mode: ``(N, C_in, H, W)`` -> ``(N, H, W)`` int64.

    Raises:
        TypeError, ValueError: `images` is not a 4-D tensor, or `batch_size` < 1.
    """
    check_tensor("images", images)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    check_int("batch_size", batch_size, ge=1)
    model.eval()
    return torch.cat([model(batch).argmax(1) for batch in images.split(batch_size)])
