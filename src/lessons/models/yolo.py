"""A small anchor-free, single-stage detector in the style of YOLOv8, in plain torch: the network, its
target assignment, its loss, decoding and post-processing.

* `YOLODetector`: a plain CNN backbone (3×3 convolutions, BatchNorm, SiLU; each stage halves the
  resolution) and, at every stride of `strides`, a *decoupled* head: one branch scores the classes, the
  other predicts, for each of the four sides of the box, a distribution over ``reg_max`` distances (in
  cells) from the cell's centre (DFL, Li et al., 2020, GFL). There are no anchor boxes: every cell of
  every level is one anchor *point*. ``forward`` is free of data-dependent control flow (it exports to
  ONNX); decoding and NMS are separate functions.
* `make_points`: the centre and stride of every anchor point, in the order of the head's outputs.
* `decode_boxes`: distributions to xyxy boxes (the expected distance of each side times the stride).
* `task_aligned_assign`: TOOD's task-aligned assignment (Feng et al., 2021), as YOLOv8 uses it: each
  object takes the ``topk`` points inside it with the best alignment ``score**alpha * IoU**beta``.
* `dfl_loss`, `yolo_loss`: BCE on soft (alignment-weighted) class targets, 1 - GIoU and DFL on the boxes.
* `postprocess`: scores, threshold, class-aware NMS (`lessons.detection.batched_nms`): one dict per image,
  as `lessons.detection.evaluate_detections` takes them.
* `train_yolo`: AdamW with a cosine learning rate over shuffled mini-batches.

Examples:
    >>> import torch
    >>> model = YOLODetector(num_classes=3, width=8)
    >>> cls_logits, box_logits = model(torch.zeros(2, 1, 64, 64))
    >>> cls_logits.shape, box_logits.shape  # 8*8 + 4*4 = 80 points at strides 8 and 16
    (torch.Size([2, 80, 3]), torch.Size([2, 80, 4, 8]))
    >>> points, strides = make_points((64, 64), model.strides)
    >>> points.shape, strides.shape
    (torch.Size([80, 2]), torch.Size([80]))
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lessons.checks import check_float, check_int, check_tensor
from lessons.detection import batched_nms, box_iou

__all__ = [
    "Assignment",
    "YOLODetector",
    "decode_boxes",
    "dfl_loss",
    "make_points",
    "postprocess",
    "task_aligned_assign",
    "train_yolo",
    "yolo_loss",
]


def conv_bn_silu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """3×3 convolution (padding 1), BatchNorm, SiLU: ``(N, c_in, H, W) -> (N, c_out, H/stride, W/stride)``."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.SiLU())


def _check_strides(strides: object) -> tuple[int, ...]:
    if not isinstance(strides, Sequence) or not strides:
        raise TypeError(f"strides must be a non-empty sequence of ints such as (8, 16), got {strides!r}")
    out = tuple(check_int(f"strides[{k}]", s, ge=2) for k, s in enumerate(strides))
    if any(s & (s - 1) for s in out) or any(b <= a for a, b in zip(out, out[1:], strict=False)):
        raise ValueError(f"strides must be increasing powers of two, got {list(strides)}")
    return out


class YOLODetector(nn.Module):
    """An anchor-free detector with a decoupled head, YOLOv8's design scaled down.

    The backbone's stage ``k`` (``k = 1, 2, …``) halves the resolution (a stride-2 then a stride-1
    `conv_bn_silu`) and has ``width * 2**(k - 1)`` channels (at most ``8 * width``); the features at the
    strides in `strides` feed one head each. A head has two branches of two `conv_bn_silu` each: the
    classification branch ends in a 1×1 convolution to ``num_classes`` logits, the box branch in one to
    ``4 * reg_max`` logits, a distribution over the distances ``0, 1, …, reg_max - 1`` cells from the
    cell's centre to each side (left, top, right, bottom).

    Args:
        num_classes: number of object classes (>= 1).
        in_channels: image channels (1 for grey).
        width: channels of the first stage (>= 4).
        reg_max: bins of each side's distance distribution (>= 2); the farthest side a point at stride
            ``s`` can reach is ``(reg_max - 1) * s`` pixels away.
        strides: increasing powers of two, the strides of the levels that get a head.

    Shapes:
        ``forward``: images ``(B, in_channels, H, W)``, H and W divisible by ``max(strides)`` ->
        ``(cls_logits (B, A, num_classes), box_logits (B, A, 4, reg_max))`` with
        ``A = sum(H/s * W/s for s in strides)``, points ordered by level, then row, then column (as
        `make_points` lists them).

    Raises:
        TypeError, ValueError: an argument has the wrong type or is out of range.
    """

    def __init__(
        self,
        num_classes: int = 3,
        *,
        in_channels: int = 1,
        width: int = 16,
        reg_max: int = 8,
        strides: Sequence[int] = (8, 16),
    ) -> None:
        super().__init__()
        self.num_classes = check_int("num_classes", num_classes, ge=1)
        self.in_channels = check_int("in_channels", in_channels, ge=1)
        self.reg_max = check_int("reg_max", reg_max, ge=2)
        self.strides = _check_strides(strides)
        width = check_int("width", width, ge=4)
        stages, channels, c = [], [], self.in_channels
        for k in range(1, int(math.log2(self.strides[-1])) + 1):
            c_out = width * 2 ** min(k - 1, 3)
            stages.append(nn.Sequential(conv_bn_silu(c, c_out, 2), conv_bn_silu(c_out, c_out)))
            channels.append(c_out)
            c = c_out
        self.stages = nn.ModuleList(stages)
        self.levels = [int(math.log2(s)) - 1 for s in self.strides]  # index of the stage of each stride
        self.cls_heads, self.box_heads = nn.ModuleList(), nn.ModuleList()
        for level in self.levels:
            c, hidden = channels[level], max(channels[level], 16)
            cls = nn.Sequential(conv_bn_silu(c, hidden), conv_bn_silu(hidden, hidden))
            cls.append(nn.Conv2d(hidden, num_classes, 1))
            box = nn.Sequential(conv_bn_silu(c, hidden), conv_bn_silu(hidden, hidden))
            box.append(nn.Conv2d(hidden, 4 * reg_max, 1))
            nn.init.constant_(cls[-1].bias, -4.6)  # a prior of 1%: most points see background
            nn.init.constant_(box[-1].bias, 1.0)  # as YOLOv8 starts its box logits
            self.cls_heads.append(cls)
            self.box_heads.append(box)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Class logits and box-distance logits of every anchor point (see the class docstring)."""
        features, cls_out, box_out = [], [], []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        for level, cls_head, box_head in zip(self.levels, self.cls_heads, self.box_heads, strict=True):
            f = features[level]
            cls_out.append(cls_head(f).flatten(2).transpose(1, 2))  # (B, H*W, C)
            box_out.append(box_head(f).flatten(2).transpose(1, 2))  # (B, H*W, 4 * reg_max)
        cls_logits = torch.cat(cls_out, 1)
        box_logits = torch.cat(box_out, 1)
        return cls_logits, box_logits.reshape(box_logits.shape[0], box_logits.shape[1], 4, self.reg_max)


def make_points(image_size: tuple[int, int], strides: Sequence[int]) -> tuple[Tensor, Tensor]:
    """The centre (in pixels) and stride of every anchor point of a `YOLODetector`, in its output order.

    Args:
        image_size: ``(H, W)`` of the images, divisible by every stride.
        strides: the model's strides.

    Returns:
        ``(points (A, 2), strides (A,))`` float32: point ``(x, y)`` of cell ``(i, j)`` at stride ``s`` is
        ``((j + 0.5) * s, (i + 0.5) * s)``.

    Raises:
        TypeError, ValueError: a size is not an int, or is not divisible by a stride.
    """
    if not isinstance(image_size, Sequence) or len(image_size) != 2:
        raise TypeError(f"image_size must be a pair (H, W), got {image_size!r}")
    height, width = (check_int(f"image_size[{k}]", v, ge=1) for k, v in enumerate(image_size))
    strides = _check_strides(strides)
    points, out_strides = [], []
    for s in strides:
        if height % s or width % s:
            raise ValueError(f"image_size must be divisible by every stride, got {image_size} and stride {s}")
        ys, xs = torch.meshgrid(
            torch.arange(height // s) + 0.5, torch.arange(width // s) + 0.5, indexing="ij"
        )
        points.append(torch.stack([xs, ys], -1).reshape(-1, 2) * s)
        out_strides.append(torch.full((len(points[-1]),), float(s)))
    return torch.cat(points), torch.cat(out_strides)


def _check_head(box_logits: object, points: object, strides: object) -> tuple[Tensor, Tensor, Tensor]:
    box_logits = check_tensor("box_logits", box_logits)
    points, strides = check_tensor("points", points), check_tensor("strides", strides)
    if box_logits.ndim != 4 or box_logits.shape[2] != 4:
        raise ValueError(f"box_logits must have shape (B, A, 4, reg_max), got {tuple(box_logits.shape)}")
    a = box_logits.shape[1]
    if points.shape != (a, 2) or strides.shape != (a,):
        raise ValueError(
            f"points and strides must have shapes ({a}, 2) and ({a},), one per anchor point, "
            f"got {tuple(points.shape)} and {tuple(strides.shape)}"
        )
    return box_logits, points, strides


def decode_boxes(box_logits: Tensor, points: Tensor, strides: Tensor) -> Tensor:
    """Turn each side's distance distribution into its expected distance, and the four distances into a box.

    Side ``k`` of point ``p`` is ``E[d_k] * stride`` pixels from ``p``, where ``E[d_k] = sum_i i *
    softmax(box_logits[..., k, :])_i`` (DFL's integral): ``x1 = p_x - E[d_left] * s``, ``y1 = p_y -
    E[d_top] * s``, ``x2 = p_x + E[d_right] * s``, ``y2 = p_y + E[d_bottom] * s``.

    Args:
        box_logits: ``(B, A, 4, reg_max)`` from `YOLODetector`.
        points: ``(A, 2)`` anchor points in pixels (`make_points`).
        strides: ``(A,)`` their strides.

    Returns:
        ``(B, A, 4)`` xyxy boxes in pixels.

    Raises:
        TypeError, ValueError: bad types or shapes.
    """
    box_logits, points, strides = _check_head(box_logits, points, strides)
    bins = torch.arange(box_logits.shape[-1], dtype=box_logits.dtype)
    distance = (box_logits.softmax(-1) * bins).sum(-1) * strides[:, None]  # (B, A, 4): l, t, r, b
    return torch.cat([points - distance[..., :2], points + distance[..., 2:]], -1)


def _giou(a: Tensor, b: Tensor) -> Tensor:
    """Generalised IoU of matching boxes ``(..., 4)`` xyxy -> ``(...)``: IoU minus the share of the smallest
    enclosing box that neither covers (Rezatofighi et al., 2019)."""
    wh = (torch.minimum(a[..., 2:], b[..., 2:]) - torch.maximum(a[..., :2], b[..., :2])).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[..., 2] - a[..., 0]).clamp(min=0) * (a[..., 3] - a[..., 1]).clamp(min=0)
    area_b = (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)
    union = area_a + area_b - inter + 1e-7
    hull = torch.maximum(a[..., 2:], b[..., 2:]) - torch.minimum(a[..., :2], b[..., :2])
    hull_area = hull[..., 0] * hull[..., 1] + 1e-7
    return inter / union - (hull_area - union) / hull_area


@dataclass(frozen=True)
class Assignment:
    """What `task_aligned_assign` gives each anchor point.

    Attributes:
        foreground: ``(B, A)`` bool, whether the point is assigned an object.
        boxes: ``(B, A, 4)`` xyxy box of its object (zeros for background).
        labels: ``(B, A)`` int64 class of its object (0 for background: read `foreground`).
        scores: ``(B, A, C)`` soft class targets: the normalised alignment at the object's class, 0
            elsewhere and for background.
        object_index: ``(B, A)`` int64 index of its object in the image's targets (-1 for background).
    """

    foreground: Tensor
    boxes: Tensor
    labels: Tensor
    scores: Tensor
    object_index: Tensor


def _pad_targets(targets: Sequence[Mapping[str, Tensor]], batch: int) -> tuple[Tensor, Tensor, Tensor]:
    if not isinstance(targets, Sequence) or len(targets) != batch:
        raise ValueError(f"targets must be a list of {batch} dicts (one per image) with 'boxes' and 'labels'")
    m = max([len(t["boxes"]) for t in targets] + [1])
    boxes = torch.zeros(batch, m, 4)
    labels = torch.zeros(batch, m, dtype=torch.long)
    valid = torch.zeros(batch, m, dtype=torch.bool)
    for i, t in enumerate(targets):
        k = len(t["boxes"])
        boxes[i, :k], labels[i, :k], valid[i, :k] = t["boxes"], t["labels"], True
    return boxes, labels, valid


@torch.no_grad()
def task_aligned_assign(
    cls_logits: Tensor,
    pred_boxes: Tensor,
    points: Tensor,
    targets: Sequence[Mapping[str, Tensor]],
    *,
    topk: int = 10,
    alpha: float = 1.0,
    beta: float = 6.0,
) -> Assignment:
    """TOOD's task-aligned assignment (Feng et al., 2021), as YOLOv8's ``TaskAlignedAssigner`` does it.

    For object ``g`` of class ``c`` and point ``a`` whose centre lies inside the object's box, the
    alignment is ``t = s**alpha * u**beta``, with ``s = sigmoid(cls_logits[a, c])`` the predicted score of
    the object's class and ``u`` the IoU of the point's predicted box with the object's box. Each object
    takes the ``topk`` points of highest ``t``; a point taken by several objects keeps the one its box
    overlaps most. The soft class target of a point is ``t / max t * max u`` over the points of its object,
    so the best-aligned point of an object learns to score the IoU that its object's best box reaches.

    Args:
        cls_logits: ``(B, A, C)`` class logits.
        pred_boxes: ``(B, A, 4)`` decoded xyxy boxes (`decode_boxes`).
        points: ``(A, 2)`` anchor points in pixels.
        targets: one dict per image with ``boxes`` ``(M, 4)`` xyxy and ``labels`` ``(M,)`` int.
        topk: points per object (>= 1).
        alpha: exponent of the score in the alignment (>= 0).
        beta: exponent of the IoU (>= 0).

    Returns:
        An `Assignment`.

    Raises:
        TypeError, ValueError: bad types, shapes or ranges.
    """
    cls_logits, pred_boxes = check_tensor("cls_logits", cls_logits), check_tensor("pred_boxes", pred_boxes)
    points = check_tensor("points", points)
    b, a, c = cls_logits.shape
    if pred_boxes.shape != (b, a, 4) or points.shape != (a, 2):
        raise ValueError(
            f"pred_boxes and points must have shapes ({b}, {a}, 4) and ({a}, 2), "
            f"got {tuple(pred_boxes.shape)} and {tuple(points.shape)}"
        )
    topk = check_int("topk", topk, ge=1)
    alpha, beta = check_float("alpha", alpha, ge=0), check_float("beta", beta, ge=0)
    gt_boxes, gt_labels, valid = _pad_targets(targets, b)  # (B, M, 4), (B, M), (B, M)
    inside = (
        (points[None, None] > gt_boxes[:, :, None, :2]) & (points[None, None] < gt_boxes[:, :, None, 2:])
    ).all(-1) & valid[:, :, None]  # (B, M, A)
    scores = cls_logits.detach().sigmoid().gather(2, gt_labels[:, None, :].expand(b, a, -1)).transpose(1, 2)
    iou = torch.stack([box_iou(gt_boxes[i], pred_boxes[i].detach().float()) for i in range(b)])  # (B, M, A)
    align = torch.where(inside, scores.pow(alpha) * iou.pow(beta), 0.0)
    top = align.topk(min(topk, a), dim=-1).indices
    chosen = torch.zeros_like(inside).scatter_(-1, top, True) & inside & (align > 0)
    # a point chosen by several objects keeps the one whose box its prediction overlaps most
    several = chosen.sum(1, keepdim=True) > 1
    best = F.one_hot(torch.where(chosen, iou, -1.0).argmax(1), chosen.shape[1]).transpose(1, 2).bool()
    chosen = torch.where(several, best & chosen, chosen)
    foreground = chosen.any(1)  # (B, A)
    index = chosen.float().argmax(1)  # (B, A): the object of each point
    boxes = gt_boxes.gather(1, index[..., None].expand(b, a, 4)) * foreground[..., None]
    labels = gt_labels.gather(1, index) * foreground
    align = align * chosen
    norm = align / align.amax(-1, keepdim=True).clamp(min=torch.finfo(align.dtype).tiny)
    norm = norm * (iou * chosen).amax(-1, keepdim=True)
    soft = norm.amax(1)  # (B, A)
    target_scores = F.one_hot(labels, c).float() * (soft * foreground)[..., None]
    return Assignment(foreground, boxes, labels, target_scores, torch.where(foreground, index, -1))


def dfl_loss(box_logits: Tensor, target_distance: Tensor) -> Tensor:
    """Distribution focal loss (Li et al., 2020): cross-entropy toward the two bins around each target.

    A distance of ``d = i + f`` cells (``0 <= f < 1``) is the mix ``(1 - f)`` of bin ``i`` and ``f`` of bin
    ``i + 1``, the only distribution on two neighbouring bins whose mean is ``d``; the loss is
    ``(1 - f) * CE(logits, i) + f * CE(logits, i + 1)``, lowest when the softmax equals that mix.

    Args:
        box_logits: ``(..., reg_max)`` logits of one side's distribution.
        target_distance: ``(...)`` target distances in cells (clamped to ``[0, reg_max - 1.01]``).

    Returns:
        ``(...)`` the loss of each side.

    Raises:
        TypeError, ValueError: bad types or shapes.
    """
    box_logits = check_tensor("box_logits", box_logits)
    target_distance = check_tensor("target_distance", target_distance)
    if box_logits.shape[:-1] != target_distance.shape:
        raise ValueError(
            f"box_logits (..., reg_max) and target_distance (...) must match, got {tuple(box_logits.shape)} "
            f"and {tuple(target_distance.shape)}"
        )
    d = target_distance.clamp(0, box_logits.shape[-1] - 1.01)
    left = d.floor().long()
    w_right = d - left
    log_p = box_logits.log_softmax(-1)
    log_left = log_p.gather(-1, left[..., None])[..., 0]
    log_right = log_p.gather(-1, left[..., None] + 1)[..., 0]
    return -(log_left * (1 - w_right) + log_right * w_right)


def yolo_loss(
    cls_logits: Tensor,
    box_logits: Tensor,
    points: Tensor,
    strides: Tensor,
    targets: Sequence[Mapping[str, Tensor]],
    *,
    gains: tuple[float, float, float] = (0.5, 7.5, 1.5),
    topk: int = 10,
) -> tuple[Tensor, dict[str, float]]:
    """YOLOv8's loss: BCE on the soft class targets of `task_aligned_assign`, and on the foreground points
    1 - GIoU and DFL, each weighted by the point's target score; all divided by the sum of target scores.

    Args:
        cls_logits: ``(B, A, C)``.
        box_logits: ``(B, A, 4, reg_max)``.
        points: ``(A, 2)``; strides: ``(A,)`` (`make_points`).
        targets: one dict per image with ``boxes`` ``(M, 4)`` xyxy pixels and ``labels`` ``(M,)``.
        gains: weights of the class, box (GIoU) and DFL terms (YOLOv8's defaults).
        topk: points per object for the assignment.

    Returns:
        ``(loss, parts)``: the weighted sum, a scalar tensor; and ``{"cls", "box", "dfl"}`` floats.

    Raises:
        TypeError, ValueError: bad types or shapes.
    """
    box_logits, points, strides = _check_head(box_logits, points, strides)
    pred_boxes = decode_boxes(box_logits, points, strides)
    t = task_aligned_assign(cls_logits, pred_boxes, points, targets, topk=topk)
    norm = t.scores.sum().clamp(min=1.0)
    loss_cls = F.binary_cross_entropy_with_logits(cls_logits, t.scores, reduction="sum") / norm
    fg = t.foreground
    weight = t.scores.sum(-1)[fg]  # (F,)
    loss_box = ((1 - _giou(pred_boxes[fg], t.boxes[fg])) * weight).sum() / norm
    s, p = strides[None].expand_as(fg)[fg], points[None].expand(*fg.shape, 2)[fg]
    distance = torch.cat([p - t.boxes[fg][:, :2], t.boxes[fg][:, 2:] - p], -1) / s[:, None]  # (F, 4) cells
    loss_dfl = (dfl_loss(box_logits[fg], distance).mean(-1) * weight).sum() / norm
    g_cls, g_box, g_dfl = gains
    loss = g_cls * loss_cls + g_box * loss_box + g_dfl * loss_dfl
    return loss, {"cls": loss_cls.item(), "box": loss_box.item(), "dfl": loss_dfl.item()}


@torch.no_grad()
def postprocess(
    cls_logits: Tensor,
    box_logits: Tensor,
    points: Tensor,
    strides: Tensor,
    *,
    score_threshold: float = 0.01,
    iou_threshold: float = 0.6,
    max_detections: int = 100,
) -> list[dict[str, Tensor]]:
    """Detections of each image: the best class of every point, a score threshold, class-aware NMS.

    Args:
        cls_logits: ``(B, A, C)``; box_logits: ``(B, A, 4, reg_max)``; points ``(A, 2)``; strides ``(A,)``.
        score_threshold: points whose best class scores (sigmoid) at most this are dropped, in [0, 1).
        iou_threshold: NMS threshold, in [0, 1].
        max_detections: most detections kept per image, best first.

    Returns:
        One dict per image: ``boxes`` ``(N, 4)`` xyxy pixels, ``scores`` ``(N,)``, ``labels`` ``(N,)`` int64,
        best first.

    Raises:
        TypeError, ValueError: bad types, shapes or ranges.
    """
    check_tensor("cls_logits", cls_logits)
    score_threshold = check_float("score_threshold", score_threshold, ge=0, lt=1)
    iou_threshold = check_float("iou_threshold", iou_threshold, ge=0, le=1)
    max_detections = check_int("max_detections", max_detections, ge=1)
    boxes = decode_boxes(box_logits, points, strides)
    if cls_logits.shape != (*boxes.shape[:2], cls_logits.shape[-1]):
        raise ValueError(
            f"cls_logits must have shape (B, A, C) with (B, A) = {tuple(boxes.shape[:2])}, "
            f"got {tuple(cls_logits.shape)}"
        )
    scores, labels = cls_logits.sigmoid().max(-1)
    out = []
    for b, s, c in zip(boxes, scores, labels, strict=True):
        keep = s > score_threshold
        b, s, c = b[keep], s[keep], c[keep]
        kept = batched_nms(b, s, c, iou_threshold)[:max_detections]
        out.append({"boxes": b[kept], "scores": s[kept], "labels": c[kept]})
    return out


def train_yolo(
    model: YOLODetector,
    images: Tensor,
    targets: Sequence[Mapping[str, Tensor]],
    *,
    epochs: int = 10,
    batch_size: int = 32,
    lr: float = 4e-3,
    weight_decay: float = 5e-4,
    flip: bool = True,
    seed: int = 0,
) -> list[float]:
    """Train `model` with `yolo_loss`, AdamW and a cosine learning rate (after a short linear warm-up).

    Args:
        model: a `YOLODetector`.
        images: ``(N, C, H, W)`` float.
        targets: ``N`` dicts with ``boxes`` ``(M, 4)`` xyxy pixels and ``labels`` ``(M,)``.
        epochs: passes over the data (>= 1).
        batch_size: images per step (>= 1).
        lr: peak learning rate (> 0).
        weight_decay: AdamW's decoupled weight decay (>= 0).
        flip: mirror a random half of each batch left to right (the boxes with it).
        seed: seeds the batch order and the flips (the initial weights are the caller's business).

    Returns:
        The mean loss of each epoch, ``len == epochs``.

    Raises:
        TypeError, ValueError: bad types, shapes or ranges.
    """
    images = check_tensor("images", images)
    if images.ndim != 4 or len(targets) != len(images):
        raise ValueError(
            "images must be (N, C, H, W) with one target dict each, "
            f"got {tuple(images.shape)} and {len(targets)} targets"
        )
    check_int("epochs", epochs, ge=1)
    check_int("batch_size", batch_size, ge=1)
    lr, weight_decay = check_float("lr", lr, gt=0), check_float("weight_decay", weight_decay, ge=0)
    g = torch.Generator().manual_seed(check_int("seed", seed, ge=0))
    points, strides = make_points(tuple(images.shape[2:]), model.strides)
    width = images.shape[3]
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * -(-len(images) // batch_size)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda k: min(1.0, (k + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(k, steps) / steps)),
    )
    model.train()
    history = []
    for _ in range(epochs):
        total = 0.0
        for idx in torch.randperm(len(images), generator=g).split(batch_size):
            x, batch = images[idx].clone(), [dict(targets[i]) for i in idx.tolist()]
            if flip:
                mirror = torch.rand(len(idx), generator=g) < 0.5
                x[mirror] = x[mirror].flip(-1)
                for k in mirror.nonzero().flatten().tolist():
                    bx = batch[k]["boxes"]
                    batch[k]["boxes"] = torch.stack(
                        [width - bx[:, 2], bx[:, 1], width - bx[:, 0], bx[:, 3]], 1
                    )
            cls_logits, box_logits = model(x)
            loss, _ = yolo_loss(cls_logits, box_logits, points, strides, batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(idx)
        history.append(total / len(images))
    return history
