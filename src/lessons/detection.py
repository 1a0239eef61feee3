"""Object detection: boxes, IoU, anchors, non-maximum suppression and COCO-style mean average precision.

Boxes are float tensors whose last axis holds four numbers. Every function here takes them as ``xyxy``
(corners ``x1, y1, x2, y2`` with ``x1 <= x2`` and ``y1 <= y2``) unless it says otherwise; `box_convert`
turns ``xywh`` (COCO's ``x, y, width, height``) and ``cxcywh`` (YOLO's centre, width, height) into it and
back. Detections and ground truth of one image are dicts, as torchvision's detection models use them:
``{"boxes": (N, 4), "scores": (N,), "labels": (N,)}`` for predictions and ``{"boxes": (M, 4),
"labels": (M,)}`` for targets.

`evaluate_detections` is COCO's evaluation (``pycocotools.cocoeval.COCOeval`` for boxes, area range "all",
at most 100 detections per image and class) written out in torch: phase 10 checks that it gives the same AP
to 1e-6.

Examples:
    >>> import torch
    >>> a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    >>> b = torch.tensor([[1.0, 0.0, 3.0, 2.0], [5.0, 5.0, 6.0, 6.0]])
    >>> box_iou(a, b)  # half of each box overlaps: 2 / (4 + 4 - 2)
    tensor([[0.3333, 0.0000]])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from lessons.checks import check_choice, check_float, check_int, check_tensor

__all__ = [
    "BOX_FORMATS",
    "COCO_IOU_THRESHOLDS",
    "COCO_RECALL_POINTS",
    "DETECTION_CLASSES",
    "DetectionEvaluation",
    "average_precision",
    "batched_nms",
    "box_area",
    "box_convert",
    "box_iou",
    "evaluate_detections",
    "make_anchors",
    "make_detection_scenes",
    "match_detections",
    "nms",
    "precision_recall",
]

BoxFormat = Literal["xyxy", "xywh", "cxcywh"]
BOX_FORMATS: tuple[str, ...] = ("xyxy", "xywh", "cxcywh")

# The very floats pycocotools uses (np.linspace: 0.35000000000000003, not 0.35), so that a recall of exactly
# 7/20 falls on the same side of a threshold as it does in COCOeval.
COCO_IOU_THRESHOLDS = torch.from_numpy(np.linspace(0.5, 0.95, 10))
"""The ten IoU thresholds 0.50, 0.55, …, 0.95 of COCO's mAP@[.5:.95], float64."""
COCO_RECALL_POINTS = torch.from_numpy(np.linspace(0.0, 1.0, 101))
"""The 101 recall levels 0, 0.01, …, 1 at which COCO reads the interpolated precision, float64."""


# ------------------------------------------------------------------------------------------------ boxes


def _check_boxes(name: str, boxes: object, *, ndim: int | None = 2) -> torch.Tensor:
    """A float tensor of boxes: shape ``(N, 4)`` (or ``(..., 4)`` when `ndim` is None)."""
    boxes = check_tensor(name, boxes)
    if not boxes.is_floating_point():
        raise TypeError(f"{name} must hold floats, got dtype {boxes.dtype}")
    if boxes.shape[-1:] != (4,) or (ndim is not None and boxes.dim() != ndim):
        want = "(N, 4)" if ndim == 2 else "(..., 4)"
        raise ValueError(f"{name} must have shape {want}, got {tuple(boxes.shape)}")
    return boxes


def _check_xyxy(name: str, boxes: object) -> torch.Tensor:
    """`_check_boxes`, and every box has ``x1 <= x2`` and ``y1 <= y2`` (else it is not ``xyxy``)."""
    boxes = _check_boxes(name, boxes)
    bad = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if bad.any():
        i = int(bad.nonzero()[0])
        raise ValueError(
            f"{name} must be xyxy boxes with x1 <= x2 and y1 <= y2, got {boxes[i].tolist()} at row {i} "
            "(xywh or cxcywh boxes? convert them with box_convert)"
        )
    return boxes


def box_convert(boxes: torch.Tensor, in_fmt: BoxFormat, out_fmt: BoxFormat) -> torch.Tensor:
    """Convert boxes between ``xyxy`` (corners), ``xywh`` (top-left corner and size, COCO) and ``cxcywh``
    (centre and size, YOLO).

    Args:
        boxes: ``(..., 4)`` float tensor in `in_fmt`.
        in_fmt: the format of `boxes`: ``"xyxy"``, ``"xywh"`` or ``"cxcywh"``.
        out_fmt: the format wanted.

    Returns:
        ``(..., 4)`` tensor in `out_fmt` (a new tensor, even when the formats are the same).

    Raises:
        TypeError: `boxes` is not a float tensor.
        ValueError: its last axis is not 4, or a format is unknown.

    Examples:
        >>> box_convert(torch.tensor([[10.0, 20.0, 30.0, 60.0]]), "xyxy", "cxcywh")
        tensor([[20., 40., 20., 40.]])
    """
    boxes = _check_boxes("boxes", boxes, ndim=None)
    check_choice("in_fmt", in_fmt, BOX_FORMATS)
    check_choice("out_fmt", out_fmt, BOX_FORMATS)
    if in_fmt == out_fmt:
        return boxes.clone()
    a, b, c, d = boxes.unbind(-1)
    if in_fmt == "xywh":
        a, b, c, d = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        a, b, c, d = a - c / 2, b - d / 2, a + c / 2, b + d / 2
    # (a, b, c, d) is now x1, y1, x2, y2
    if out_fmt == "xywh":
        a, b, c, d = a, b, c - a, d - b
    elif out_fmt == "cxcywh":
        a, b, c, d = (a + c) / 2, (b + d) / 2, c - a, d - b
    return torch.stack([a, b, c, d], dim=-1)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Area of each box.

    Args:
        boxes: ``(N, 4)`` xyxy boxes.

    Returns:
        ``(N,)`` areas ``(x2 - x1) * (y2 - y1)``.

    Raises:
        TypeError: `boxes` is not a float tensor.
        ValueError: it is not ``(N, 4)``, or a box has ``x2 < x1`` or ``y2 < y1``.
    """
    boxes = _check_xyxy("boxes", boxes)
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """Intersection over union of every box of `boxes1` with every box of `boxes2`.

    Args:
        boxes1: ``(N, 4)`` xyxy boxes.
        boxes2: ``(M, 4)`` xyxy boxes.

    Returns:
        ``(N, M)`` IoUs in ``[0, 1]``. Boxes that only touch have IoU 0; so do two boxes of area zero
        (their union is empty, and 0 is what a detection metric needs there, not NaN).

    Raises:
        TypeError: an argument is not a float tensor.
        ValueError: an argument is not ``(N, 4)`` xyxy boxes.
    """
    boxes1, boxes2 = _check_xyxy("boxes1", boxes1), _check_xyxy("boxes2", boxes2)
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    top_left = torch.maximum(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    bottom_right = torch.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (bottom_right - top_left).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = area1[:, None] + area2[None, :] - inter
    return inter / union.clamp(min=torch.finfo(union.dtype).tiny)  # an empty union has inter = 0: IoU 0


# ---------------------------------------------------------------------------------------------- anchors


def make_anchors(
    grid_size: tuple[int, int],
    stride: float,
    sizes: Sequence[float],
    ratios: Sequence[float] = (0.5, 1.0, 2.0),
) -> torch.Tensor:
    """Anchor boxes centred on every cell of a feature map, one per (size, ratio) pair.

    A feature map of ``H x W`` cells, each `stride` pixels wide, covers an image of ``H*stride x
    W*stride`` pixels. Cell ``(i, j)`` has centre ``((j + 0.5) * stride, (i + 0.5) * stride)``. An anchor of
    size ``s`` and ratio ``r = height / width`` is ``s / sqrt(r)`` wide and ``s * sqrt(r)`` high, so every
    ratio of one size has the same area ``s**2``.

    Args:
        grid_size: ``(H, W)``, the feature map's height and width in cells.
        stride: pixels per cell (> 0).
        sizes: anchor sizes ``s`` in pixels (> 0), at least one.
        ratios: height / width ratios (> 0), at least one.

    Returns:
        ``(H * W * A, 4)`` xyxy anchors in pixels, ``A = len(sizes) * len(ratios)``, ordered by row ``i``,
        then column ``j``, then size, then ratio: ``anchors.view(H, W, len(sizes), len(ratios), 4)``
        indexes them by cell.

    Raises:
        TypeError: a number has the wrong type.
        ValueError: a value is out of range, or `sizes` or `ratios` is empty.

    Examples:
        >>> make_anchors((2, 3), stride=16, sizes=[32], ratios=[1.0]).shape
        torch.Size([6, 4])
    """
    if not isinstance(grid_size, Sequence) or len(grid_size) != 2:
        raise TypeError(f"grid_size must be a pair (H, W), got {grid_size!r}")
    height, width = (check_int(f"grid_size[{k}]", v, ge=1) for k, v in enumerate(grid_size))
    stride = check_float("stride", stride, gt=0)
    sizes_t, ratios_t = (
        torch.tensor([check_float(f"{name}[{k}]", v, gt=0) for k, v in enumerate(values)])
        for name, values in (("sizes", sizes), ("ratios", ratios))
    )
    if not len(sizes_t) or not len(ratios_t):
        raise ValueError(f"sizes and ratios must name at least one value, got {list(sizes)}, {list(ratios)}")
    w = (sizes_t[:, None] / ratios_t.sqrt()).flatten()  # (A,): sizes outer, ratios inner
    h = (sizes_t[:, None] * ratios_t.sqrt()).flatten()
    half = torch.stack([w, h], dim=1) / 2  # (A, 2)
    cy, cx = torch.meshgrid(
        (torch.arange(height) + 0.5) * stride, (torch.arange(width) + 0.5) * stride, indexing="ij"
    )
    centres = torch.stack([cx, cy], dim=-1).reshape(-1, 1, 2)  # (H*W, 1, 2)
    return torch.cat([centres - half, centres + half], dim=-1).reshape(-1, 4)


# ------------------------------------------------------------------------------------------------- NMS


def _check_scores(boxes: torch.Tensor, scores: object) -> torch.Tensor:
    scores = check_tensor("scores", scores)
    if scores.shape != boxes.shape[:1]:
        raise ValueError(f"scores must have shape ({len(boxes)},), one per box, got {tuple(scores.shape)}")
    return scores


def _check_labels(name: str, labels: object, n: int) -> torch.Tensor:
    labels = check_tensor(name, labels)
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer class labels, got dtype {labels.dtype}")
    if labels.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), one per box, got {tuple(labels.shape)}")
    return labels


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression: keep the highest-scoring box, drop every box whose IoU with it is
    above `iou_threshold`, repeat with the highest of those left.

    Args:
        boxes: ``(N, 4)`` xyxy boxes.
        scores: ``(N,)`` scores; equal scores keep the order of `boxes`.
        iou_threshold: a box is suppressed by a kept one when their IoU is strictly greater, in ``[0, 1]``.

    Returns:
        int64 indices of the kept boxes, in decreasing order of score.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: shapes do not match, boxes are not xyxy, or `iou_threshold` is outside ``[0, 1]``.

    Examples:
        >>> boxes = torch.tensor([[0.0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30]])
        >>> nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)  # box 1 overlaps box 0: IoU 0.82
        tensor([0, 2])
    """
    boxes = _check_xyxy("boxes", boxes)
    scores = _check_scores(boxes, scores)
    iou_threshold = check_float("iou_threshold", iou_threshold, ge=0, le=1)
    order = scores.argsort(descending=True, stable=True)
    iou = box_iou(boxes[order], boxes[order])
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if not suppressed[i]:
            keep.append(i)
            suppressed |= iou[i] > iou_threshold
    return order[torch.tensor(keep, dtype=torch.long)]


def batched_nms(
    boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """Class-aware NMS: `nms` within each class, so that boxes of different classes never suppress each
    other (a person and the bicycle under them).

    Args:
        boxes: ``(N, 4)`` xyxy boxes.
        scores: ``(N,)`` scores.
        labels: ``(N,)`` integer class labels.
        iou_threshold: as for `nms`.

    Returns:
        int64 indices of the kept boxes, in decreasing order of score.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: shapes do not match, boxes are not xyxy, or `iou_threshold` is outside ``[0, 1]``.
    """
    boxes = _check_xyxy("boxes", boxes)
    scores = _check_scores(boxes, scores)
    labels = _check_labels("labels", labels, len(boxes))
    iou_threshold = check_float("iou_threshold", iou_threshold, ge=0, le=1)
    kept = [torch.empty(0, dtype=torch.long)]
    for c in labels.unique():
        idx = (labels == c).nonzero().flatten()
        kept.append(idx[nms(boxes[idx], scores[idx], iou_threshold)])
    keep = torch.cat(kept)
    return keep[scores[keep].argsort(descending=True, stable=True)]


# ------------------------------------------------------------------------------------------ evaluation


def match_detections(det_boxes: torch.Tensor, gt_boxes: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Match detections of one image and class to ground truth, as COCO does.

    The detections are taken in the order given (sort them by decreasing score first). Each one is matched
    to the ground-truth box it overlaps most among those still unmatched, if that IoU is at least
    `iou_threshold`; a ground-truth box is matched at most once, so a second detection of the same object
    is a false positive.

    Args:
        det_boxes: ``(D, 4)`` xyxy detections, best first.
        gt_boxes: ``(G, 4)`` xyxy ground-truth boxes.
        iou_threshold: the IoU a match needs, in ``[0, 1]``.

    Returns:
        ``(D,)`` int64: the index of the matched ground-truth box, or -1 for a false positive.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: an argument is not ``(N, 4)`` xyxy boxes, or the threshold is outside ``[0, 1]``.
    """
    iou_threshold = check_float("iou_threshold", iou_threshold, ge=0, le=1)
    return _match(box_iou(det_boxes, gt_boxes), iou_threshold)


def _match(iou: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """`match_detections` on a ``(D, G)`` IoU matrix (plain Python: a few boxes per image and class)."""
    free = [True] * iou.shape[1]
    matched = []
    for row in iou.tolist():
        best, g_best = iou_threshold, -1
        for g, value in enumerate(row):
            if free[g] and value >= best:  # ties go to the later box, as in COCOeval
                best, g_best = value, g
        if g_best >= 0:
            free[g_best] = False
        matched.append(g_best)
    return torch.tensor(matched, dtype=torch.long)


def precision_recall(
    scores: torch.Tensor, is_tp: torch.Tensor, num_gt: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Precision and recall after each detection, the detections sorted by decreasing score.

    Args:
        scores: ``(D,)`` scores of all detections of one class (over every image).
        is_tp: ``(D,)`` bool, whether each detection is a true positive (see `match_detections`).
        num_gt: the number of ground-truth boxes of the class (>= 1).

    Returns:
        ``(precision, recall)``, two ``(D,)`` float64 tensors: after the ``k`` best detections,
        precision = TP / k and recall = TP / num_gt. Equal scores keep the given order.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: shapes do not match, or `num_gt` < 1.
    """
    scores = check_tensor("scores", scores)
    is_tp = check_tensor("is_tp", is_tp)
    num_gt = check_int("num_gt", num_gt, ge=1)
    if is_tp.dtype != torch.bool:
        raise TypeError(f"is_tp must be a bool tensor, got dtype {is_tp.dtype}")
    if scores.dim() != 1 or is_tp.shape != scores.shape:
        raise ValueError(
            f"scores and is_tp must both have shape (D,), got {tuple(scores.shape)} and {tuple(is_tp.shape)}"
        )
    tp = is_tp[scores.argsort(descending=True, stable=True)].double().cumsum(0)
    k = torch.arange(1, len(tp) + 1, dtype=torch.float64)
    return tp / k, tp / num_gt


def average_precision(
    precision: torch.Tensor, recall: torch.Tensor, recall_points: torch.Tensor | None = COCO_RECALL_POINTS
) -> float:
    """The area under a precision–recall curve, with precision made non-increasing first.

    The interpolated precision at recall ``r`` is the best precision at any recall ``>= r`` (0 beyond the
    largest recall reached). With `recall_points` (COCO: 101 levels 0, 0.01, …, 1) AP is its mean at those
    levels; with ``None`` it is the exact area under the interpolated curve (PASCAL VOC from 2010).

    Args:
        precision: ``(D,)`` precision after each detection, best first (see `precision_recall`).
        recall: ``(D,)`` recall after each detection (non-decreasing).
        recall_points: ``(R,)`` recall levels in ``[0, 1]``, or ``None`` for the area.

    Returns:
        AP in ``[0, 1]``; 0 when there is no detection.

    Raises:
        TypeError: an argument is not a tensor.
        ValueError: the shapes differ or are not ``(D,)``.
    """
    precision, recall = check_tensor("precision", precision), check_tensor("recall", recall)
    if precision.dim() != 1 or recall.shape != precision.shape:
        raise ValueError(
            "precision and recall must both have shape (D,), "
            f"got {tuple(precision.shape)} and {tuple(recall.shape)}"
        )
    if not len(precision):
        return 0.0
    precision, recall = precision.double(), recall.double()
    envelope = precision.flip(0).cummax(0).values.flip(0)  # the best precision at this recall or beyond
    if recall_points is None:
        steps = torch.diff(recall, prepend=recall.new_zeros(1))
        return float((steps * envelope).sum())
    points = check_tensor("recall_points", recall_points).to(recall)
    i = torch.searchsorted(recall, points, side="left")  # the first detection whose recall reaches r
    at = torch.where(i < len(recall), envelope[i.clamp(max=len(recall) - 1)], 0.0)
    return float(at.mean())


@dataclass(frozen=True)
class DetectionEvaluation:
    """The result of `evaluate_detections`.

    Attributes:
        ap: ``(T, K)`` float64 AP per IoU threshold and class; NaN for a class without ground truth.
        iou_thresholds: ``(T,)`` the thresholds of the rows.
        classes: ``(K,)`` the class labels of the columns (every label of targets and predictions).
    """

    ap: torch.Tensor
    iou_thresholds: torch.Tensor
    classes: torch.Tensor

    @property
    def map(self) -> float:
        """Mean AP over every threshold and class with ground truth (COCO's mAP@[.5:.95] by default)."""
        return float(self.ap.nanmean())

    def map_at(self, iou_threshold: float) -> float:
        """Mean AP over the classes at one of the thresholds (``map_at(0.5)``: PASCAL VOC's mAP@0.5)."""
        row = torch.isclose(self.iou_thresholds, torch.tensor(float(iou_threshold), dtype=torch.float64))
        if not row.any():
            raise ValueError(
                f"iou_threshold must be one of the evaluated thresholds {self.iou_thresholds.tolist()}, "
                f"got {iou_threshold}"
            )
        return float(self.ap[row.nonzero()[0, 0]].nanmean())


def _check_image(name: str, item: object, keys: tuple[str, ...]) -> dict[str, torch.Tensor]:
    if not isinstance(item, Mapping):
        raise TypeError(f"{name} must be a dict with keys {list(keys)}, got {type(item).__name__}")
    missing = [k for k in keys if k not in item]
    if missing:
        raise ValueError(f"{name} lacks the keys {missing} (it has {sorted(item)})")
    boxes = _check_xyxy(f"{name}['boxes']", item["boxes"])
    out = {"boxes": boxes, "labels": _check_labels(f"{name}['labels']", item["labels"], len(boxes))}
    if "scores" in keys:
        scores = check_tensor(f"{name}['scores']", item["scores"])
        if scores.shape != (len(boxes),):
            raise ValueError(f"{name}['scores'] must have shape ({len(boxes)},), got {tuple(scores.shape)}")
        out["scores"] = scores
    return out


def evaluate_detections(
    predictions: Sequence[Mapping[str, torch.Tensor]],
    targets: Sequence[Mapping[str, torch.Tensor]],
    *,
    iou_thresholds: torch.Tensor = COCO_IOU_THRESHOLDS,
    recall_points: torch.Tensor | None = COCO_RECALL_POINTS,
    max_detections: int = 100,
) -> DetectionEvaluation:
    """Average precision per IoU threshold and class over a data set, computed as COCO does.

    For each image and class the `max_detections` best detections are matched to the ground truth
    (`match_detections`); then, per class, the detections of all images are sorted by score into one
    precision–recall curve (`precision_recall`) and reduced to AP (`average_precision`).

    Args:
        predictions: one dict per image: ``boxes`` ``(N, 4)`` xyxy, ``scores`` ``(N,)``, ``labels`` ``(N,)``.
        targets: one dict per image, the same images in the same order: ``boxes`` ``(M, 4)`` xyxy,
            ``labels`` ``(M,)``.
        iou_thresholds: ``(T,)`` thresholds (COCO's ten by default; ``torch.tensor([0.5])`` for VOC).
        recall_points: as for `average_precision` (COCO's 101 levels; ``None`` for the area).
        max_detections: detections kept per image and class, best first (COCO: 100).

    Returns:
        A `DetectionEvaluation`: ``.map`` is COCO's mAP@[.5:.95], ``.map_at(0.5)`` its mAP@0.5.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: the lists differ in length, a dict lacks a key or has bad shapes, or the targets hold no
            box at all.
    """
    if not isinstance(predictions, Sequence) or not isinstance(targets, Sequence):
        raise TypeError("predictions and targets must be lists of dicts, one per image")
    if len(predictions) != len(targets):
        raise ValueError(
            "predictions and targets must describe the same images, "
            f"got {len(predictions)} and {len(targets)} of them"
        )
    preds = [
        _check_image(f"predictions[{i}]", p, ("boxes", "scores", "labels")) for i, p in enumerate(predictions)
    ]
    gts = [_check_image(f"targets[{i}]", t, ("boxes", "labels")) for i, t in enumerate(targets)]
    thresholds = check_tensor("iou_thresholds", iou_thresholds).double().flatten()
    max_detections = check_int("max_detections", max_detections, ge=1)
    if not sum(len(t["boxes"]) for t in gts):
        raise ValueError("targets hold no ground-truth box: AP is undefined")
    classes = torch.cat([x["labels"].long() for x in preds + gts]).unique()

    ap = torch.full((len(thresholds), len(classes)), float("nan"), dtype=torch.float64)
    for k, c in enumerate(classes):
        num_gt, scores, hits = 0, [], []  # hits: (D_image, T) bool per image
        for p, t in zip(preds, gts, strict=True):
            gt_boxes = t["boxes"][t["labels"] == c]
            mine = p["labels"] == c
            order = p["scores"][mine].argsort(descending=True, stable=True)[:max_detections]
            det_boxes, det_scores = p["boxes"][mine][order], p["scores"][mine][order]
            num_gt += len(gt_boxes)
            scores.append(det_scores.double())
            iou = box_iou(det_boxes.double(), gt_boxes.double())  # float64, as COCOeval computes it
            hits.append(torch.stack([_match(iou, float(u)) >= 0 for u in thresholds], dim=1))
        if num_gt == 0:
            continue  # no ground truth: AP undefined, left NaN
        all_scores, all_hits = torch.cat(scores), torch.cat(hits)
        for u in range(len(thresholds)):
            precision, recall = precision_recall(all_scores, all_hits[:, u], num_gt)
            ap[u, k] = average_precision(precision, recall, recall_points)
    return DetectionEvaluation(ap=ap, iou_thresholds=thresholds, classes=classes)


# ------------------------------------------------------------------------------------------------ scenes

DETECTION_CLASSES: tuple[str, ...] = ("disc", "square", "triangle")
"""The classes of `make_detection_scenes`' objects, by label (0, 1, 2)."""


def make_detection_scenes(
    n: int, *, size: int = 64, max_objects: int = 4, seed: int = 0
) -> tuple[torch.Tensor, list[dict[str, torch.Tensor]]]:
    """Generate `n` grey scenes of several flat shapes on a textured background, with a box, a label and a
    visible mask for every object: a detection (and instance-segmentation) data set whose truth is known.

    The scenes are those of `lessons.segmentation.make_scenes`, made for detection: each is a crop of one
    scikit-image texture (brick, grass or gravel); on it, 1 to `max_objects` shapes (a disc, a square or
    an upright triangle, each about 13–45% of the side across) are drawn one after the other, each one flat
    grey, two texture standard deviations brighter or darker than the mean. A later shape may hide part of
    an earlier one, but a shape is only placed where every earlier object keeps at least 60% of its pixels
    visible (it is dropped after 20 tries), so every object stays recognisable. An object's mask is what
    remains visible of it; its box is the tightest box around that mask, in pixel-edge coordinates (a
    mask whose pixels span columns ``3..7`` has ``x1 = 3, x2 = 8``).

    Args:
        n: number of scenes (>= 1).
        size: height and width in pixels (>= 32).
        max_objects: most objects per scene (>= 1).
        seed: the same seed gives the same scenes.

    Returns:
        ``(images, targets)``: images float32 ``(n, 1, size, size)`` in [0, 1]; targets, one dict per image,
        as `evaluate_detections` takes them: ``boxes`` float32 ``(M, 4)`` xyxy in pixels, ``labels`` int64
        ``(M,)`` in ``range(len(DETECTION_CLASSES))``, ``masks`` bool ``(M, size, size)``, the visible
        pixels of each object (they never overlap), in the order they were drawn.

    Raises:
        TypeError: an argument is not an int.
        ValueError: `n` < 1, `size` < 32, `max_objects` < 1 or `seed` < 0.

    Examples:
        >>> images, targets = make_detection_scenes(2, size=32, seed=0)
        >>> images.shape, sorted(targets[0])
        (torch.Size([2, 1, 32, 32]), ['boxes', 'labels', 'masks'])
    """
    from lessons.segmentation import _crop, _shape_mask  # the segmentation scenes' texture and shapes

    check_int("n", n, ge=1)
    check_int("size", size, ge=32)
    check_int("max_objects", max_objects, ge=1)
    rng = np.random.default_rng(check_int("seed", seed, ge=0))
    images = np.empty((n, size, size), dtype=np.float32)
    targets = []
    for i in range(n):
        image = 0.7 * _crop(rng, size)
        full: list[np.ndarray] = []  # each object's whole shape
        visible: list[np.ndarray] = []  # what is left of it
        kinds: list[int] = []
        for _ in range(rng.integers(1, max_objects + 1)):
            kind = int(rng.integers(len(DETECTION_CLASSES)))
            for _try in range(20):
                canvas = int(rng.integers(size * 3 // 8, size * 11 // 16 + 1))  # the shape is 36-60% of it
                shape = np.zeros((size, size), dtype=bool)
                y, x = rng.integers(0, size - canvas + 1, 2)
                shape[y : y + canvas, x : x + canvas] = _shape_mask(rng, kind + 1, canvas)
                if all((v & ~shape).sum() >= 0.6 * f.sum() for v, f in zip(visible, full, strict=True)):
                    break
            else:
                continue  # no room for it
            visible = [v & ~shape for v in visible]
            full.append(shape)
            visible.append(shape.copy())
            kinds.append(kind)
            image[shape] = rng.choice([-1.0, 1.0]) * 2.0  # flat: brighter or darker than the texture
        images[i] = np.clip(0.5 + 0.2 * image, 0, 1)
        boxes = []
        for v in visible:
            rows, cols = np.flatnonzero(v.any(1)), np.flatnonzero(v.any(0))
            boxes.append([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1])
        targets.append(
            {
                "boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                "labels": torch.tensor(kinds, dtype=torch.int64),
                "masks": torch.from_numpy(np.stack(visible)),  # at least one object per scene
            }
        )
    return torch.from_numpy(images)[:, None], targets
