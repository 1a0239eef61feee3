"""Pose estimation: generated stick figures with known keypoints, Gaussian heat maps, decoding and PCK.

* `make_figures`: grey images of an articulated stick figure (9 keypoints, `KEYPOINT_NAMES`, joined as in
  `SKELETON`) with random joint angles, size and position, drawn on a crop of scikit-image's texture
  photographs (the backgrounds of `lessons.segmentation.make_scenes`), with the true keypoint coordinates.
  The left limbs are drawn light and the right ones dark, so that left and right can be told apart.
* `encode_heatmaps`: one Gaussian heat map per keypoint, the target of a heat-map regression network
  (SimpleBaseline, Xiao et al. 2018).
* `decode_heatmaps`: keypoints back from heat maps, by arg-max, arg-max shifted a quarter cell towards the
  higher neighbour (Stacked Hourglass, SimpleBaseline), or a local soft-argmax (the weighted centroid around
  the arg-max).
* `pck`: the percentage of correct keypoints, those within ``alpha`` times a reference length of the truth.

Coordinates are ``(x, y)`` in pixels, with the image's top-left corner at ``(0, 0)``: pixel ``(row i,
column j)`` covers ``[j, j + 1) × [i, i + 1)`` and its centre is ``(j + 0.5, i + 0.5)``. A heat map of stride
``s`` has cell ``(u, v)`` centred on the image point ``((u + 0.5) s, (v + 0.5) s)``.

Examples:
    >>> images, keypoints = make_figures(2, size=32, seed=0)
    >>> images.shape, keypoints.shape
    (torch.Size([2, 1, 32, 32]), torch.Size([2, 9, 2]))
    >>> heat = encode_heatmaps(keypoints, size=16, stride=2, sigma=1.0)
    >>> heat.shape
    torch.Size([2, 9, 16, 16])
    >>> pck(decode_heatmaps(heat, stride=2, method="quarter"), keypoints, torso_length(keypoints), alpha=0.2)
    1.0
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from lessons.checks import check_choice, check_float, check_int, check_tensor
from lessons.segmentation import _crop

__all__ = [
    "KEYPOINT_NAMES",
    "SKELETON",
    "decode_heatmaps",
    "encode_heatmaps",
    "make_figures",
    "pck",
    "torso_length",
]

KEYPOINT_NAMES: tuple[str, ...] = (
    "head",
    "neck",
    "hip",
    "left elbow",
    "left hand",
    "right elbow",
    "right hand",
    "left foot",
    "right foot",
)
"""The keypoints of `make_figures`, by index ("left" is the figure's own left, drawn light)."""
SKELETON: tuple[tuple[int, int], ...] = ((0, 1), (1, 2), (1, 3), (3, 4), (1, 5), (5, 6), (2, 7), (2, 8))
"""The limbs of the figure, as pairs of keypoint indices."""
_LEFT = {(1, 3), (3, 4), (2, 7)}  # limbs drawn light
_RIGHT = {(1, 5), (5, 6), (2, 8)}  # limbs drawn dark


def _pose(rng: np.random.Generator) -> np.ndarray:
    """Keypoints ``(9, 2)`` of one figure: a torso of length 1, the neck at the origin, y pointing down."""
    up = rng.uniform(-0.35, 0.35)  # the torso's tilt from vertical (radians)
    d = np.array([np.sin(up), -np.cos(up)])  # unit vector from hip to neck
    p = np.zeros((9, 2))
    p[2] = -d  # hip
    head_tilt = up + rng.uniform(-0.3, 0.3)
    p[0] = 0.4 * np.array([np.sin(head_tilt), -np.cos(head_tilt)])  # head
    base = np.arctan2(-d[1], -d[0])  # the angle of "down the torso"
    for elbow, hand, side in ((3, 4, 1.0), (5, 6, -1.0)):
        a1 = base + side * rng.uniform(0.3, 2.6)  # the upper arm, from hanging down to raised
        p[elbow] = 0.55 * np.array([np.cos(a1), np.sin(a1)])
        a2 = a1 + side * rng.uniform(-1.6, 1.6)  # the elbow bends either way
        p[hand] = p[elbow] + 0.5 * np.array([np.cos(a2), np.sin(a2)])
    for foot, side in ((7, 1.0), (8, -1.0)):
        a = base + side * rng.uniform(0.05, 0.7)
        p[foot] = p[2] + 0.95 * np.array([np.cos(a), np.sin(a)])
    return p


def _segment_distance(yy: np.ndarray, xx: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of every pixel centre to the segment from ``a`` to ``b`` (points ``(x, y)``)."""
    ab = b - a
    t = np.clip(((xx - a[0]) * ab[0] + (yy - a[1]) * ab[1]) / max(float(ab @ ab), 1e-12), 0, 1)
    return np.hypot(xx - (a[0] + t * ab[0]), yy - (a[1] + t * ab[1]))


def make_figures(
    n: int, *, size: int = 32, scale: tuple[float, float] = (0.22, 0.32), seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Generate `n` grey images of one stick figure each, and its 9 keypoints.

    The pose is random: the torso tilts up to 20° from vertical, the head nods, each upper arm points
    anywhere from hanging down to raised and each elbow bends either way, the legs spread. The torso's
    length is ``scale`` (a range, drawn uniformly) times the image side, and the figure is placed at random
    with every keypoint at least one pixel inside the image. Limbs are anti-aliased lines 1.6 pixels wide and
    the head a disc: the torso, the head and the left limbs light, the right limbs dark, on a texture crop.

    Args:
        n: number of images.
        size: height and width in pixels (at least 16).
        scale: ``(low, high)`` range of the torso's length as a fraction of `size`, with
            ``0.1 <= low <= high <= 0.35`` (a larger figure does not fit in every pose).
        seed: the same seed gives the same figures.

    Returns:
        ``(images, keypoints)``: images float32 ``(n, 1, size, size)`` in [0, 1]; keypoints float32
        ``(n, 9, 2)``, ``(x, y)`` in pixels, in the order of `KEYPOINT_NAMES`.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: `n` < 1, `size` < 16, or `scale` is not an ordered pair within ``[0.1, 0.35]``.
    """
    check_int("n", n, ge=1)
    check_int("size", size, ge=16)
    check_int("seed", seed, ge=0)
    if not isinstance(scale, tuple | list) or len(scale) != 2:
        raise ValueError(f"scale must be a (low, high) pair, got {scale!r}")
    low = check_float("scale[0]", scale[0], ge=0.1, le=0.35)
    high = check_float("scale[1]", scale[1], ge=0.1, le=0.35)
    if low > high:
        raise ValueError(f"scale must be ordered (low <= high), got {scale!r}")
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    images = np.empty((n, size, size), dtype=np.float32)
    keypoints = np.empty((n, len(KEYPOINT_NAMES), 2), dtype=np.float32)
    for i in range(n):
        pose, margin = _pose(rng), 1.5
        extent = (pose.max(0) - pose.min(0)).max()
        torso = min(rng.uniform(low, high) * size, (size - 2 * margin) / extent)  # shrink what won't fit
        pose = pose * torso
        lo, hi = pose.min(0), pose.max(0)
        room = np.maximum(size - 2 * margin - (hi - lo), 0)
        offset = margin - lo + rng.uniform(0, 1, 2) * room  # every keypoint inside the image
        pose = pose + offset
        image = 0.5 + 0.14 * _crop(rng, size)  # the texture of make_scenes, at 0.14 spread around 0.5
        length = float(np.hypot(*(pose[1] - pose[2])))
        for a, b in SKELETON:  # right limbs last, so they lie on top
            d = _segment_distance(yy, xx, pose[a], pose[b])
            cover = np.clip(0.8 - d + 0.5, 0, 1)  # a line 1.6 px wide, anti-aliased
            value = 0.05 if (a, b) in _RIGHT else 0.95
            image = (1 - cover) * image + cover * value
        cover = np.clip(0.22 * length - np.hypot(xx - pose[0, 0], yy - pose[0, 1]) + 0.5, 0, 1)
        image = (1 - cover) * image + cover * 0.95
        images[i] = np.clip(image, 0, 1)
        keypoints[i] = pose
    return torch.from_numpy(images)[:, None], torch.from_numpy(keypoints)


def _check_keypoints(name: str, keypoints: object) -> Tensor:
    keypoints = check_tensor(name, keypoints)
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2 or not keypoints.is_floating_point():
        raise ValueError(f"{name} must be a float tensor of shape (N, K, 2), got {tuple(keypoints.shape)}")
    return keypoints


def torso_length(keypoints: Tensor) -> Tensor:
    """The distance from neck to hip of each figure: the reference length of `pck` on `make_figures`.

    Args:
        keypoints: ``(N, 9, 2)`` float, in the order of `KEYPOINT_NAMES`.

    Returns:
        ``(N,)`` float tensor.

    Raises:
        TypeError, ValueError: `keypoints` is not a float tensor of shape ``(N, K, 2)`` with ``K >= 3``.
    """
    keypoints = _check_keypoints("keypoints", keypoints)
    if keypoints.shape[1] < 3:
        raise ValueError(f"keypoints must hold at least neck and hip (K >= 3), got K={keypoints.shape[1]}")
    return (keypoints[:, 1] - keypoints[:, 2]).norm(dim=-1)


def encode_heatmaps(keypoints: Tensor, *, size: int, stride: int, sigma: float) -> Tensor:
    """Gaussian heat maps: map ``k`` of image ``n`` is ``exp(-|c - p_nk|² / (2 σ²))`` at each cell centre.

    Distances are measured in heat-map cells: the keypoint ``(x, y)`` in pixels sits at
    ``(x / stride - 0.5, y / stride - 0.5)`` in cell coordinates (cell ``(u, v)`` being centred on
    ``(u, v)``), so the peak of value 1 is reached only when the keypoint falls on a cell's centre.

    Args:
        keypoints: ``(N, K, 2)`` float, ``(x, y)`` in pixels.
        size: the heat maps' height and width in cells (at least 1).
        stride: pixels per cell (at least 1); ``size * stride`` is usually the image's side.
        sigma: the Gaussian's standard deviation in cells (> 0).

    Returns:
        ``(N, K, size, size)`` float tensor in ``(0, 1]``.

    Raises:
        TypeError, ValueError: bad shapes or values, naming the argument.
    """
    keypoints = _check_keypoints("keypoints", keypoints)
    check_int("size", size, ge=1)
    check_int("stride", stride, ge=1)
    sigma = check_float("sigma", sigma, gt=0)
    p = keypoints / stride - 0.5  # (N, K, 2) in cell coordinates
    grid = torch.arange(size, dtype=keypoints.dtype, device=keypoints.device)
    gx = torch.exp(-((grid - p[..., 0:1]) ** 2) / (2 * sigma**2))  # (N, K, size): separable in x and y
    gy = torch.exp(-((grid - p[..., 1:2]) ** 2) / (2 * sigma**2))
    return gy[..., :, None] * gx[..., None, :]


def decode_heatmaps(heatmaps: Tensor, *, stride: int, method: str = "argmax", window: int = 2) -> Tensor:
    """Keypoints ``(x, y)`` in pixels from heat maps, one per map.

    Methods:

    * ``"argmax"``: the centre of the cell with the highest value; its error is up to half a cell in each
      direction even on a perfect heat map.
    * ``"quarter"``: the arg-max moved a quarter cell towards the higher of its two neighbours, in x and in y
      separately (the refinement of Stacked Hourglass and SimpleBaseline); not on the maps' border.
    * ``"soft"``: a local soft-argmax, the centroid of the heat map (clamped at 0) over the
      ``(2 window + 1)²`` cells around the arg-max.

    Args:
        heatmaps: ``(N, K, H, W)`` float.
        stride: pixels per cell (at least 1).
        method: ``"argmax"``, ``"quarter"`` or ``"soft"``.
        window: half-width of the soft-argmax's window, in cells (at least 1; used by ``"soft"``).

    Returns:
        ``(N, K, 2)`` float tensor, ``(x, y)`` in pixels.

    Raises:
        TypeError, ValueError: bad shapes or values, naming the argument.
    """
    heatmaps = check_tensor("heatmaps", heatmaps)
    if heatmaps.ndim != 4 or not heatmaps.is_floating_point():
        raise ValueError(
            f"heatmaps must be a float tensor of shape (N, K, H, W), got {tuple(heatmaps.shape)}"
        )
    check_int("stride", stride, ge=1)
    check_choice("method", method, ("argmax", "quarter", "soft"))
    check_int("window", window, ge=1)
    N, K, H, W = heatmaps.shape
    flat = heatmaps.reshape(N, K, H * W)
    idx = flat.argmax(-1)
    v, u = (idx // W).to(heatmaps.dtype), (idx % W).to(heatmaps.dtype)  # row, column of the maximum
    if method == "quarter":
        padded = F.pad(heatmaps, (1, 1, 1, 1), mode="replicate").reshape(N, K, (H + 2) * (W + 2))
        at = (v.long() + 1) * (W + 2) + (u.long() + 1)  # the maximum's index in the padded maps

        def value(offset: int) -> Tensor:
            return padded.gather(-1, (at + offset)[..., None])[..., 0]

        inner_u = (u > 0) & (u < W - 1)  # a maximum on the border has one neighbour only: left as it is
        inner_v = (v > 0) & (v < H - 1)
        u = u + 0.25 * torch.sign(value(1) - value(-1)) * inner_u
        v = v + 0.25 * torch.sign(value(W + 2) - value(-(W + 2))) * inner_v
    elif method == "soft":
        r = torch.arange(-window, window + 1, device=heatmaps.device)
        n = len(r)
        rows = (v.long()[..., None] + r)[..., :, None].expand(N, K, n, n).flatten(-2)  # (N, K, n²)
        cols = (u.long()[..., None] + r)[..., None, :].expand(N, K, n, n).flatten(-2)
        inside = (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W)
        patch = flat.gather(-1, rows.clamp(0, H - 1) * W + cols.clamp(0, W - 1))
        weight = patch.clamp(min=0) * inside  # cells outside the map weigh nothing
        total = weight.sum(-1).clamp(min=1e-12)
        u = (weight * cols.to(weight.dtype)).sum(-1) / total
        v = (weight * rows.to(weight.dtype)).sum(-1) / total
    return torch.stack([(u + 0.5) * stride, (v + 0.5) * stride], dim=-1)


def pck(
    pred: Tensor, true: Tensor, ref_length: Tensor | float, *, alpha: float = 0.2, per_keypoint: bool = False
) -> float | Tensor:
    """Percentage of correct keypoints: the share of predictions within ``alpha × ref_length`` of the truth.

    PCK@α of MPII (PCKh) takes the head's size as the reference length; here it is usually the torso
    (`torso_length`). A prediction exactly at the threshold counts as correct.

    Args:
        pred: ``(N, K, 2)`` float, predicted ``(x, y)``.
        true: ``(N, K, 2)`` float, true ``(x, y)``.
        ref_length: the reference length of each image, ``(N,)`` float, or one number for all (> 0).
        alpha: the threshold as a fraction of the reference length (> 0).
        per_keypoint: return the share for each keypoint, ``(K,)``, instead of one number.

    Returns:
        a float in [0, 1], or a ``(K,)`` float tensor.

    Raises:
        TypeError, ValueError: bad shapes or values, naming the argument.
    """
    pred = _check_keypoints("pred", pred)
    true = _check_keypoints("true", true)
    if pred.shape != true.shape:
        raise ValueError(
            f"pred and true must have the same shape, got {tuple(pred.shape)} and {tuple(true.shape)}"
        )
    alpha = check_float("alpha", alpha, gt=0)
    if isinstance(ref_length, Tensor):
        if ref_length.shape != (pred.shape[0],):
            raise ValueError(f"ref_length must have shape ({pred.shape[0]},), got {tuple(ref_length.shape)}")
        if not (ref_length > 0).all():
            raise ValueError("ref_length must be positive")
        ref = ref_length.to(pred.dtype)[:, None]
    else:
        ref = torch.tensor(check_float("ref_length", ref_length, gt=0), dtype=pred.dtype)
    correct = (pred - true).norm(dim=-1) <= alpha * ref  # (N, K)
    if per_keypoint:
        return correct.double().mean(0)
    return correct.double().mean().item()
