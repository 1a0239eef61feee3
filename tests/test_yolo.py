"""lessons.models.yolo and lessons.detection.make_detection_scenes: shapes, decoding, DFL, task-aligned
assignment, the loss, post-processing, ONNX export, and bad input."""

import io

import onnx
import pytest
import torch

from lessons.detection import DETECTION_CLASSES, box_iou, make_detection_scenes
from lessons.models.yolo import (
    YOLODetector,
    decode_boxes,
    dfl_loss,
    make_points,
    postprocess,
    task_aligned_assign,
    train_yolo,
    yolo_loss,
)


def test_scenes_are_deterministic_and_consistent():
    images, targets = make_detection_scenes(20, size=48, max_objects=4, seed=3)
    again, targets2 = make_detection_scenes(20, size=48, max_objects=4, seed=3)
    assert images.shape == (20, 1, 48, 48) and images.dtype == torch.float32
    assert torch.equal(images, again) and images.min() >= 0 and images.max() <= 1
    assert len(targets) == 20
    for t, t2 in zip(targets, targets2, strict=True):
        m = len(t["boxes"])
        assert 1 <= m <= 4 and t["labels"].shape == (m,) and t["masks"].shape == (m, 48, 48)
        assert t["masks"].dtype == torch.bool and t["labels"].dtype == torch.int64
        assert set(t["labels"].tolist()) <= set(range(len(DETECTION_CLASSES)))
        assert torch.equal(t["boxes"], t2["boxes"])
        assert (t["masks"].sum(0) <= 1).all()  # visible masks never overlap
        for box, mask in zip(t["boxes"], t["masks"], strict=True):
            ys, xs = mask.nonzero().unbind(1)
            assert box.tolist() == [
                xs.min().item(),
                ys.min().item(),
                xs.max().item() + 1,
                ys.max().item() + 1,
            ]
    assert not torch.equal(images, make_detection_scenes(20, size=48, seed=4)[0])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n": 0}, "n"), ({"size": 16}, "size"), ({"max_objects": 0}, "max_objects"), ({"seed": -1}, "seed")],
)
def test_scenes_bad_input(kwargs, match):
    args = {"n": 2, **kwargs}
    n = args.pop("n")
    with pytest.raises(ValueError, match=match):
        make_detection_scenes(n, **args)


def test_forward_shapes_and_points():
    model = YOLODetector(num_classes=3, width=8, reg_max=6, strides=(4, 8, 16))
    cls_logits, box_logits = model(torch.zeros(2, 1, 32, 32))
    a = 8 * 8 + 4 * 4 + 2 * 2
    assert cls_logits.shape == (2, a, 3) and box_logits.shape == (2, a, 4, 6)
    points, strides = make_points((32, 32), model.strides)
    assert points.shape == (a, 2) and strides.tolist() == [4.0] * 64 + [8.0] * 16 + [16.0] * 4
    assert (
        points[0].tolist() == [2.0, 2.0]
        and points[1].tolist() == [6.0, 2.0]
        and points[64].tolist() == [4.0, 4.0]
    )


def test_decode_boxes_is_the_expected_distance():
    points, strides = torch.tensor([[20.0, 12.0]]), torch.tensor([8.0])
    logits = torch.full((1, 1, 4, 5), -1e4)
    for side, bin_ in enumerate([1, 0, 2, 4]):
        logits[0, 0, side, bin_] = 0.0  # one-hot distributions: distances 1, 0, 2, 4 cells
    assert decode_boxes(logits, points, strides).tolist() == [[[12.0, 12.0, 36.0, 44.0]]]
    uniform = decode_boxes(torch.zeros(1, 1, 4, 5), points, strides)  # mean distance 2 cells
    assert torch.allclose(uniform, torch.tensor([[[4.0, -4.0, 36.0, 28.0]]]))


def test_dfl_is_smallest_at_the_two_bin_mix():
    target = torch.tensor([2.3])
    best = torch.log(torch.tensor([[1e-9, 1e-9, 0.7, 0.3, 1e-9]]))
    worse = torch.log(torch.tensor([[1e-9, 0.2, 0.5, 0.3, 1e-9]]))
    assert dfl_loss(best, target) < dfl_loss(worse, target)
    logits = torch.zeros(1, 6, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=0.1)
    for _ in range(500):
        opt.zero_grad()
        dfl_loss(logits, torch.tensor([3.4])).sum().backward()
        opt.step()
    p = logits.softmax(-1)[0]
    assert abs(p[3].item() - 0.6) < 0.02 and abs(p[4].item() - 0.4) < 0.02
    with pytest.raises(ValueError, match="target_distance"):
        dfl_loss(torch.zeros(2, 5), torch.zeros(3))


def test_task_aligned_assign_picks_points_inside_the_object():
    points, strides = make_points((32, 32), (8,))
    box_logits = torch.zeros(1, 16, 4, 4)
    pred = decode_boxes(box_logits, points, strides)  # every prediction: a 24 x 24 box around its point
    cls_logits = torch.zeros(1, 16, 2)
    targets = [{"boxes": torch.tensor([[0.0, 0.0, 17.0, 17.0]]), "labels": torch.tensor([1])}]
    t = task_aligned_assign(cls_logits, pred, points, targets, topk=3)
    inside = ((points > 0) & (points < 17)).all(1)
    assert t.foreground[0].sum() == 3 and (inside[t.foreground[0]]).all()
    assert (t.labels[0][t.foreground[0]] == 1).all() and (t.object_index[0][~t.foreground[0]] == -1).all()
    iou = box_iou(pred[0], targets[0]["boxes"])[:, 0]
    assert torch.isclose(t.scores[0, :, 1].max(), iou[t.foreground[0]].max())  # the best point's target
    assert (t.scores[0, :, 0] == 0).all()
    empty = task_aligned_assign(
        cls_logits, pred, points, [{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}]
    )
    assert not empty.foreground.any() and (empty.scores == 0).all()


def test_a_point_shared_by_two_objects_keeps_the_better_overlap():
    points, strides = make_points((16, 16), (8,))
    pred = decode_boxes(torch.zeros(1, 4, 4, 3), points, strides)  # 16 x 16 boxes around each point
    targets = [
        {
            "boxes": torch.tensor([[0.0, 0.0, 16.0, 16.0], [2.0, 2.0, 6.0, 6.0]]),
            "labels": torch.tensor([0, 1]),
        }
    ]
    t = task_aligned_assign(torch.zeros(1, 4, 2), pred, points, targets, topk=4, beta=1.0)
    assert t.foreground[0, 0] and t.object_index[0, 0] == 0  # point (4, 4): the big box overlaps it more
    assert t.foreground.sum() == 4 and (t.object_index[0] == 0).all()


def test_loss_falls_when_training_and_postprocess_returns_dicts():
    torch.manual_seed(0)
    images, targets = make_detection_scenes(32, size=32, max_objects=2, seed=0)
    model = YOLODetector(num_classes=3, width=8, reg_max=6, strides=(8,))
    history = train_yolo(model, images, targets, epochs=12, batch_size=8, lr=5e-3, seed=0)
    # the loss first rises (the class targets grow with the IoU of the boxes), then falls
    assert len(history) == 12 and history[-1] < 0.8 * max(history)
    model.eval()
    points, strides = make_points((32, 32), model.strides)
    with torch.no_grad():
        out = model(images[:3])
    loss, parts = yolo_loss(*out, points, strides, targets[:3])
    assert loss.ndim == 0 and set(parts) == {"cls", "box", "dfl"}
    dets = postprocess(*out, points, strides, score_threshold=0.0, max_detections=5)
    assert len(dets) == 3
    for d in dets:
        assert d["boxes"].shape[1:] == (4,) and len(d["boxes"]) <= 5 and (d["scores"].diff() <= 0).all()


def test_forward_exports_to_onnx():
    model = YOLODetector(num_classes=3, width=8).eval()
    buffer = io.BytesIO()
    torch.onnx.export(model, (torch.zeros(1, 1, 64, 64),), buffer, dynamo=False, input_names=["images"])
    graph = onnx.load_from_string(buffer.getvalue()).graph
    assert [o.name for o in graph.output] and not any(n.op_type in {"If", "Loop"} for n in graph.node)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_classes": 0}, "num_classes"),
        ({"reg_max": 1}, "reg_max"),
        ({"width": 2}, "width"),
        ({"strides": (16, 8)}, "strides"),
        ({"strides": (6,)}, "strides"),
    ],
)
def test_model_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        YOLODetector(**kwargs)


def test_bad_shapes_name_the_argument():
    points, strides = make_points((16, 16), (8,))
    with pytest.raises(ValueError, match="points"):
        decode_boxes(torch.zeros(1, 5, 4, 3), points, strides)
    with pytest.raises(ValueError, match="image_size"):
        make_points((20, 16), (8,))
    with pytest.raises(ValueError, match="pred_boxes"):
        task_aligned_assign(torch.zeros(1, 4, 2), torch.zeros(1, 3, 4), points, [])
    with pytest.raises(ValueError, match="targets"):
        task_aligned_assign(torch.zeros(1, 4, 2), torch.zeros(1, 4, 4), points, [])
    with pytest.raises(ValueError, match="score_threshold"):
        postprocess(torch.zeros(1, 4, 2), torch.zeros(1, 4, 4, 3), points, strides, score_threshold=1.0)
