"""Tests of the command-line detector `lessons.detect_cli`."""

import numpy as np
import pytest
import torch
from PIL import Image

from lessons.detect_cli import detect_image, load_detector, main, save_detector
from lessons.detection import make_detection_scenes
from lessons.models.yolo import YOLODetector


@pytest.fixture
def files(tmp_path):
    torch.manual_seed(0)
    model = YOLODetector(num_classes=3, width=8, strides=(8,)).eval()
    with torch.no_grad():  # a random detector whose every point scores about 0.5: many detections
        for head in model.cls_heads:
            head[-1].bias.zero_()
    weights = tmp_path / "w.pt"
    save_detector(model, weights, image_size=64)
    images, _ = make_detection_scenes(1, seed=0)
    scene = tmp_path / "scene.png"
    Image.fromarray((images[0, 0].numpy() * 255).round().astype(np.uint8)).resize((128, 96)).save(scene)
    return model, weights, scene


def test_save_and_load_round_trip(files):
    model, weights, _ = files
    loaded, image_size, names = load_detector(weights)
    assert image_size == 64 and names == ["disc", "square", "triangle"] and not loaded.training
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b)


def test_happy_path_writes_image_and_prints_one_line_per_detection(files, tmp_path, capsys):
    model, weights, scene = files
    out = tmp_path / "out.png"
    assert main([str(scene), "--weights", str(weights), "--out", str(out), "--score", "0.3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = detect_image(model, Image.open(scene), image_size=64, score_threshold=0.3)
    assert len(lines) == len(expected["labels"]) > 0
    assert all(line.split()[0] in {"disc", "square", "triangle"} for line in lines)
    drawn = Image.open(out)
    assert drawn.size == (128, 96) and drawn.mode == "RGB"
    assert not np.array_equal(np.asarray(drawn.convert("L")), np.asarray(Image.open(scene)))  # boxes drawn
    boxes = expected["boxes"]
    assert (boxes >= 0).all() and (boxes[:, [0, 2]] <= 128).all() and (boxes[:, [1, 3]] <= 96).all()


def test_rgb_image_and_no_output_file(files, tmp_path, capsys):
    _, weights, scene = files
    rgb = tmp_path / "rgb.jpg"
    Image.open(scene).convert("RGB").save(rgb)
    assert main([str(rgb), "--weights", str(weights), "--score", "0.99"]) == 0
    assert capsys.readouterr().out == ""  # nothing scores above 0.99


@pytest.mark.parametrize("case", ["missing image", "not an image", "missing weights", "bad weights"])
def test_errors_exit_2_naming_the_path(files, tmp_path, capsys, case):
    _, weights, scene = files
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    image, w = {
        "missing image": (tmp_path / "nope.png", weights),
        "not an image": (text, weights),
        "missing weights": (scene, tmp_path / "nope.pt"),
        "bad weights": (scene, text),
    }[case]
    assert main([str(image), "--weights", str(w), "--out", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    bad = w if "weights" in case else image
    assert str(bad) in err and "error" in err
    assert not (tmp_path / "o.png").exists()


def test_bad_score_and_class_names(files, capsys):
    model, weights, scene = files
    assert main([str(scene), "--weights", str(weights), "--score", "1.5"]) == 2
    assert "--score" in capsys.readouterr().err
    with pytest.raises(ValueError, match="class_names"):
        save_detector(model, "unused.pt", class_names=["a"])
