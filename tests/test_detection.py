"""lessons.detection: box formats, IoU, anchors, NMS and COCO-style AP, including bad input.

torchvision cannot be installed beside the CPU torch here, so NMS is checked against a brute-force
definition and its properties; the COCO evaluation against pycocotools' COCOeval itself.
"""

import contextlib
import io
import itertools
import math

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from lessons.detection import (
    COCO_IOU_THRESHOLDS,
    COCO_RECALL_POINTS,
    average_precision,
    batched_nms,
    box_area,
    box_convert,
    box_iou,
    evaluate_detections,
    make_anchors,
    match_detections,
    nms,
    precision_recall,
)


def random_boxes(n: int, seed: int = 0, size: float = 100.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(n, 2, generator=g) * size
    wh = torch.rand(n, 2, generator=g) * size / 3 + 1
    return torch.cat([xy, xy + wh], 1)


def iou_pair(a: list[float], b: list[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


# ------------------------------------------------------------------------------------------------ boxes


def test_box_convert_round_trips_and_known_values():
    xyxy = torch.tensor([[10.0, 20.0, 30.0, 60.0]])
    assert box_convert(xyxy, "xyxy", "xywh").tolist() == [[10.0, 20.0, 20.0, 40.0]]
    assert box_convert(xyxy, "xyxy", "cxcywh").tolist() == [[20.0, 40.0, 20.0, 40.0]]
    boxes = random_boxes(50)
    for a, b in itertools.permutations(["xyxy", "xywh", "cxcywh"], 2):
        there = box_convert(box_convert(boxes, "xyxy", a), a, b)
        assert torch.allclose(box_convert(there, b, "xyxy"), boxes, atol=1e-4)
    same = box_convert(boxes, "xywh", "xywh")
    assert torch.equal(same, boxes) and same is not boxes


def test_box_convert_keeps_leading_axes():
    boxes = random_boxes(6).view(2, 3, 4)
    assert box_convert(boxes, "xyxy", "cxcywh").shape == (2, 3, 4)


def test_box_convert_rejects_bad_input():
    with pytest.raises(ValueError, match="in_fmt"):
        box_convert(random_boxes(2), "xxyy", "xyxy")
    with pytest.raises(ValueError, match="out_fmt"):
        box_convert(random_boxes(2), "xyxy", "yolo")
    with pytest.raises(ValueError, match=r"boxes must have shape \(\.\.\., 4\)"):
        box_convert(torch.zeros(3, 5), "xyxy", "xywh")
    with pytest.raises(TypeError, match="floats"):
        box_convert(torch.zeros(3, 4, dtype=torch.long), "xyxy", "xywh")
    with pytest.raises(TypeError, match="boxes"):
        box_convert([[0, 0, 1, 1]], "xyxy", "xywh")


def test_box_area():
    assert box_area(torch.tensor([[0.0, 0, 2, 3], [1, 1, 1, 5]])).tolist() == [6.0, 0.0]


def test_box_iou_equals_a_brute_force_loop():
    a, b = random_boxes(17, seed=1), random_boxes(11, seed=2)
    iou = box_iou(a, b)
    assert iou.shape == (17, 11)
    loop = torch.tensor([[iou_pair(x, y) for y in b.tolist()] for x in a.tolist()])
    assert torch.allclose(iou, loop, atol=1e-6)
    assert torch.allclose(iou, box_iou(b, a).T)


def test_box_iou_edge_cases():
    box = torch.tensor([[0.0, 0.0, 4.0, 4.0]])
    others = torch.tensor(
        [
            [0.0, 0.0, 4.0, 4.0],  # the same box
            [4.0, 0.0, 8.0, 4.0],  # touching along an edge
            [10.0, 10.0, 12.0, 12.0],  # disjoint
            [1.0, 1.0, 3.0, 3.0],  # inside: 4 / 16
            [2.0, 2.0, 2.0, 2.0],  # a point inside
        ]
    )
    assert box_iou(box, others).tolist() == [[1.0, 0.0, 0.0, 0.25, 0.0]]
    point = torch.tensor([[1.0, 1.0, 1.0, 1.0]])
    assert box_iou(point, point).tolist() == [[0.0]]  # empty union: 0, not NaN
    assert box_iou(torch.zeros(0, 4), box).shape == (0, 1)


def test_box_iou_rejects_boxes_that_are_not_xyxy():
    with pytest.raises(ValueError, match=r"boxes2 must be xyxy .* row 1 .*box_convert"):
        box_iou(random_boxes(2), torch.tensor([[0.0, 0, 1, 1], [5, 5, 2, 8]]))
    with pytest.raises(ValueError, match=r"boxes1 must have shape \(N, 4\)"):
        box_iou(torch.zeros(4), random_boxes(2))


# ---------------------------------------------------------------------------------------------- anchors


def test_make_anchors_shapes_centres_and_areas():
    sizes, ratios = (16.0, 32.0), (0.5, 1.0, 2.0)
    anchors = make_anchors((3, 5), stride=8, sizes=sizes, ratios=ratios)
    assert anchors.shape == (3 * 5 * 6, 4)
    grid = anchors.view(3, 5, 2, 3, 4)
    centres = box_convert(grid, "xyxy", "cxcywh")
    assert torch.allclose(centres[1, 4, :, :, 0], torch.tensor(4.5 * 8))  # column 4
    assert torch.allclose(centres[1, 4, :, :, 1], torch.tensor(1.5 * 8))  # row 1
    w, h = centres[0, 0, ..., 2], centres[0, 0, ..., 3]
    assert torch.allclose(w * h, torch.tensor(sizes)[:, None] ** 2)  # one area per size
    assert torch.allclose(h / w, torch.tensor(ratios).expand(2, 3))  # ratio = height / width


def test_make_anchors_rejects_bad_input():
    with pytest.raises(TypeError, match="grid_size"):
        make_anchors(4, 8, [16])
    with pytest.raises(ValueError, match=r"grid_size\[1\]"):
        make_anchors((4, 0), 8, [16])
    with pytest.raises(ValueError, match="stride"):
        make_anchors((4, 4), 0, [16])
    with pytest.raises(ValueError, match=r"ratios\[0\]"):
        make_anchors((4, 4), 8, [16], ratios=[-1.0])
    with pytest.raises(ValueError, match="at least one"):
        make_anchors((4, 4), 8, [])


# ------------------------------------------------------------------------------------------------- NMS


def nms_brute_force(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> list[int]:
    """The definition: in score order, a box is kept unless a box kept before it overlaps it too much."""
    kept: list[int] = []
    for i in sorted(range(len(boxes)), key=lambda i: -float(scores[i])):
        if all(iou_pair(boxes[i].tolist(), boxes[j].tolist()) <= threshold for j in kept):
            kept.append(i)
    return kept


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7, 1.0])
def test_nms_equals_the_brute_force_definition(threshold):
    boxes = random_boxes(60, seed=3, size=60)
    scores = torch.rand(60, generator=torch.Generator().manual_seed(4))
    keep = nms(boxes, scores, threshold)
    assert keep.dtype == torch.long
    assert keep.tolist() == nms_brute_force(boxes, scores, threshold)


def test_nms_properties():
    boxes = random_boxes(80, seed=5, size=60)
    scores = torch.rand(80, generator=torch.Generator().manual_seed(6))
    keep = nms(boxes, scores, 0.5)
    assert (scores[keep].diff() <= 0).all()  # best first
    iou = box_iou(boxes[keep], boxes[keep])
    assert (iou.triu(1) <= 0.5).all()  # kept boxes do not overlap too much
    dropped = torch.tensor([i for i in range(80) if i not in set(keep.tolist())])
    cover = box_iou(boxes[dropped], boxes[keep]) > 0.5
    higher = scores[keep][None, :] > scores[dropped][:, None]
    assert (cover & higher).any(1).all()  # every dropped box has a better kept box overlapping it
    assert torch.equal(keep[nms(boxes[keep], scores[keep], 0.5)], keep)  # NMS of the result changes nothing
    assert len(nms(boxes, scores, 1.0)) == 80 and nms(boxes[:0], scores[:0], 0.5).tolist() == []


def test_nms_keeps_the_order_of_equal_scores():
    boxes = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]])
    assert nms(boxes, torch.tensor([0.5, 0.5, 0.5]), 0.5).tolist() == [0, 2]


def test_batched_nms_is_nms_per_class():
    boxes = random_boxes(90, seed=7, size=60)
    g = torch.Generator().manual_seed(8)
    scores, labels = torch.rand(90, generator=g), torch.randint(0, 3, (90,), generator=g)
    keep = batched_nms(boxes, scores, labels, 0.5)
    assert (scores[keep].diff() <= 0).all()
    for c in range(3):
        idx = (labels == c).nonzero().flatten()
        assert sorted(keep[labels[keep] == c].tolist()) == sorted(
            idx[nms(boxes[idx], scores[idx], 0.5)].tolist()
        )
    same = batched_nms(boxes, scores, torch.zeros(90, dtype=torch.long), 0.5)
    assert torch.equal(same, nms(boxes, scores, 0.5))
    two = torch.tensor([[0.0, 0, 10, 10], [0, 0, 10, 10]])
    assert batched_nms(two, torch.tensor([0.9, 0.8]), torch.tensor([0, 1]), 0.5).tolist() == [0, 1]


def test_nms_rejects_bad_input():
    boxes, scores = random_boxes(4), torch.rand(4)
    with pytest.raises(ValueError, match="scores must have shape"):
        nms(boxes, scores[:3], 0.5)
    with pytest.raises(ValueError, match="iou_threshold"):
        nms(boxes, scores, 1.5)
    with pytest.raises(TypeError, match="iou_threshold"):
        nms(boxes, scores, "0.5")
    with pytest.raises(TypeError, match="labels must hold integer"):
        batched_nms(boxes, scores, torch.zeros(4), 0.5)
    with pytest.raises(ValueError, match="labels must have shape"):
        batched_nms(boxes, scores, torch.zeros(3, dtype=torch.long), 0.5)


# ------------------------------------------------------------------------------------------ evaluation


def test_match_detections_greedy_and_one_to_one():
    gt = torch.tensor([[0.0, 0, 10, 10], [20, 0, 30, 10]])
    dets = torch.tensor([[0.0, 0, 10, 10], [1, 0, 11, 10], [20, 0, 31, 10], [50, 50, 60, 60]])
    assert match_detections(dets, gt, 0.5).tolist() == [0, -1, 1, -1]  # the duplicate is a false positive
    assert match_detections(dets, gt, 0.95).tolist() == [0, -1, -1, -1]
    assert match_detections(dets, gt[:0], 0.5).tolist() == [-1, -1, -1, -1]
    # the best free match, not the first: det 0 overlaps both, gt 1 more
    gt2 = torch.tensor([[0.0, 0, 10, 10], [2, 0, 12, 10]])
    assert match_detections(torch.tensor([[2.0, 0, 12, 10], [0, 0, 10, 10]]), gt2, 0.5).tolist() == [1, 0]


def test_precision_recall_and_average_precision_by_hand():
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    is_tp = torch.tensor([True, False, True, False])
    precision, recall = precision_recall(scores, is_tp, num_gt=4)
    assert precision.tolist() == [1.0, 0.5, 2 / 3, 0.5] and recall.tolist() == [0.25, 0.25, 0.5, 0.5]
    assert average_precision(precision, recall, None) == pytest.approx(0.25 * 1 + 0.25 * 2 / 3)
    # 101 points: r = 0..0.25 (26 levels) at 1, 0.26..0.5 (25 levels) at 2/3, the rest 0
    assert average_precision(precision, recall) == pytest.approx((26 + 25 * 2 / 3) / 101)
    shuffled = torch.tensor([2, 0, 3, 1])
    p2, r2 = precision_recall(scores[shuffled], is_tp[shuffled], 4)
    assert torch.equal(p2, precision) and torch.equal(r2, recall)  # sorted by score inside
    assert average_precision(torch.zeros(0), torch.zeros(0)) == 0.0
    perfect = precision_recall(scores, torch.ones(4, dtype=torch.bool), 4)
    assert average_precision(*perfect) == 1.0 and average_precision(*perfect, None) == 1.0


def test_precision_recall_rejects_bad_input():
    with pytest.raises(TypeError, match="is_tp must be a bool"):
        precision_recall(torch.rand(3), torch.ones(3), 2)
    with pytest.raises(ValueError, match="num_gt"):
        precision_recall(torch.rand(3), torch.ones(3, dtype=torch.bool), 0)
    with pytest.raises(ValueError, match=r"shape \(D,\)"):
        precision_recall(torch.rand(3), torch.ones(2, dtype=torch.bool), 2)
    with pytest.raises(ValueError, match="precision and recall"):
        average_precision(torch.rand(3), torch.rand(2))


def make_data(seed: int, n_images: int = 40, n_classes: int = 3):
    """Ground truth and noisy detections of it: some found (jittered), some missed, some false alarms."""
    rng = np.random.default_rng(seed)
    targets, predictions = [], []
    for _ in range(n_images):
        m = int(rng.integers(0, 6))
        xy, wh = rng.uniform(0, 200, (m, 2)), rng.uniform(8, 60, (m, 2))
        gt, gt_labels = np.concatenate([xy, xy + wh], 1), rng.integers(0, n_classes, m)
        found = rng.uniform(size=m) < 0.8
        jitter = gt[found] + rng.normal(0, 0.1, (int(found.sum()), 4)) * np.tile(wh[found], 2)
        jitter = np.concatenate(
            [np.minimum(jitter[:, :2], jitter[:, 2:]), np.maximum(jitter[:, :2], jitter[:, 2:])], 1
        )
        k = int(rng.integers(0, 3))
        fxy = rng.uniform(0, 200, (k, 2))
        false = np.concatenate([fxy, fxy + rng.uniform(8, 60, (k, 2))], 1)
        targets.append({"boxes": torch.tensor(gt).float(), "labels": torch.tensor(gt_labels)})
        predictions.append(
            {
                "boxes": torch.tensor(np.concatenate([jitter, false])).float().reshape(-1, 4),
                "scores": torch.tensor(
                    np.concatenate([rng.uniform(0.3, 1, found.sum()), rng.uniform(0, 0.7, k)])
                ).float(),
                "labels": torch.tensor(
                    np.concatenate([gt_labels[found], rng.integers(0, n_classes, k)])
                ).long(),
            }
        )
    return predictions, targets


def cocoeval_map(predictions, targets, n_classes: int = 3, max_dets: int = 100) -> tuple[float, float, float]:
    """COCOeval's mAP@[.5:.95], mAP@0.5 and mAP@0.75 with at most `max_dets` detections per image."""
    anns, dets = [], []
    for i, (p, t) in enumerate(zip(predictions, targets, strict=True)):
        for box, label in zip(
            box_convert(t["boxes"], "xyxy", "xywh").tolist(), t["labels"].tolist(), strict=True
        ):
            # ids from 1: COCOeval takes a match with annotation id 0 for no match
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i,
                    "category_id": label,
                    "bbox": box,
                    "area": box[2] * box[3],
                    "iscrowd": 0,
                }
            )
        for box, s, label in zip(
            box_convert(p["boxes"], "xyxy", "xywh").tolist(),
            p["scores"].tolist(),
            p["labels"].tolist(),
            strict=True,
        ):
            dets.append({"image_id": i, "category_id": label, "bbox": box, "score": s})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {
            "images": [{"id": i} for i in range(len(targets))],
            "annotations": anns,
            "categories": [{"id": c} for c in range(n_classes)],
        }
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(dets), "bbox")
        ev.params.maxDets = [max_dets]
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][:, :, :, 0, 0]  # (T, R, K) at area "all"; -1 for no ground truth
    return tuple(float(p[p > -1].mean()) for p in (precision, precision[:1], precision[5:6]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_evaluate_detections_equals_cocoeval(seed):
    predictions, targets = make_data(seed)
    result = evaluate_detections(predictions, targets)
    expected = cocoeval_map(predictions, targets)
    assert result.ap.shape == (10, 3) and result.classes.tolist() == [0, 1, 2]
    got = (result.map, result.map_at(0.5), result.map_at(0.75))
    assert got == pytest.approx(expected, abs=1e-9)


def test_evaluate_detections_max_detections_equals_cocoeval():
    predictions, targets = make_data(3)
    expected = cocoeval_map(predictions, targets, max_dets=1)[0]
    assert evaluate_detections(predictions, targets, max_detections=1).map == pytest.approx(
        expected, abs=1e-9
    )


def test_evaluate_detections_simple_cases():
    box = torch.tensor([[0.0, 0, 10, 10]])
    target = [{"boxes": box, "labels": torch.tensor([0])}]
    exact = [{"boxes": box, "scores": torch.tensor([0.9]), "labels": torch.tensor([0])}]
    assert evaluate_detections(exact, target).map == 1.0
    nothing = [
        {"boxes": torch.zeros(0, 4), "scores": torch.zeros(0), "labels": torch.zeros(0, dtype=torch.long)}
    ]
    assert evaluate_detections(nothing, target).map == 0.0
    other = [{"boxes": box, "scores": torch.tensor([0.9]), "labels": torch.tensor([1])}]
    result = evaluate_detections(other, target)  # class 1 has no ground truth: NaN, left out of the mean
    assert result.classes.tolist() == [0, 1] and math.isnan(result.ap[0, 1]) and result.map == 0.0
    voc = evaluate_detections(exact, target, iou_thresholds=torch.tensor([0.5]), recall_points=None)
    assert voc.map == voc.map_at(0.5) == 1.0
    assert torch.equal(COCO_IOU_THRESHOLDS, torch.from_numpy(np.linspace(0.5, 0.95, 10)))
    assert len(COCO_RECALL_POINTS) == 101


def test_evaluate_detections_rejects_bad_input():
    box = torch.tensor([[0.0, 0, 10, 10]])
    target = [{"boxes": box, "labels": torch.tensor([0])}]
    pred = [{"boxes": box, "scores": torch.tensor([0.9]), "labels": torch.tensor([0])}]
    with pytest.raises(ValueError, match="same images"):
        evaluate_detections(pred, target * 2)
    with pytest.raises(ValueError, match=r"predictions\[0\] lacks the keys \['scores'\]"):
        evaluate_detections([{"boxes": box, "labels": torch.tensor([0])}], target)
    with pytest.raises(TypeError, match=r"targets\[0\] must be a dict"):
        evaluate_detections(pred, [box])
    with pytest.raises(ValueError, match=r"predictions\[0\]\['scores'\] must have shape \(1,\)"):
        evaluate_detections([{**pred[0], "scores": torch.tensor([0.9, 0.1])}], target)
    with pytest.raises(ValueError, match=r"targets\[0\]\['boxes'\] must be xyxy"):
        evaluate_detections(pred, [{"boxes": torch.tensor([[5.0, 5, 1, 1]]), "labels": torch.tensor([0])}])
    with pytest.raises(ValueError, match="no ground-truth box"):
        evaluate_detections(pred, [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}])
    with pytest.raises(ValueError, match="max_detections"):
        evaluate_detections(pred, target, max_detections=0)
    with pytest.raises(TypeError, match="lists of dicts"):
        evaluate_detections(pred[0], target)
    with pytest.raises(ValueError, match="evaluated thresholds"):
        evaluate_detections(pred, target).map_at(0.62)
