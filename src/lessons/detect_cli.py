"""A command-line detector: load an image, run a trained `YOLODetector`, draw and print its detections.

Run as ``python -m lessons.detect_cli IMAGE --weights W.pt --out OUT.png [--score 0.5]``. The weights file
is what `save_detector` writes: the model's constructor arguments, its input size, its class names and
its ``state_dict``, so that the tool can rebuild the network without knowing how it was trained.

Examples:
    >>> import io, contextlib, tempfile, os
    >>> from lessons.models.yolo import YOLODetector
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_detector(YOLODetector(3, width=8, strides=(8,)), os.path.join(tmp, "w.pt"))
    ...     err = io.StringIO()
    ...     with contextlib.redirect_stderr(err):
    ...         code = main([os.path.join(tmp, "nope.png"), "--weights", os.path.join(tmp, "w.pt")])
    >>> code, "image not found" in err.getvalue()
    (2, True)
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, UnidentifiedImageError

from lessons.detection import DETECTION_CLASSES
from lessons.models.yolo import YOLODetector, make_points, postprocess

__all__ = ["detect_image", "load_detector", "main", "save_detector"]

_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


def save_detector(
    model: YOLODetector,
    path: str | os.PathLike[str],
    *,
    image_size: int = 64,
    class_names: Sequence[str] = DETECTION_CLASSES,
) -> None:
    """Save `model` with what it takes to rebuild it: its arguments, input size and class names.

    Args:
        model: a `YOLODetector`.
        path: the file to write (``torch.save``).
        image_size: the square input side the model was trained on (images are resized to it).
        class_names: one name per class.

    Raises:
        ValueError: ``len(class_names) != model.num_classes``.
    """
    if len(class_names) != model.num_classes:
        raise ValueError(f"class_names has {len(class_names)} names for {model.num_classes} classes")
    width = model.stages[0][0][0].out_channels  # the first stage's convolution
    config = {
        "num_classes": model.num_classes,
        "in_channels": model.in_channels,
        "width": width,
        "reg_max": model.reg_max,
        "strides": list(model.strides),
    }
    torch.save(
        {
            "config": config,
            "image_size": int(image_size),
            "class_names": list(class_names),
            "state_dict": model.state_dict(),
        },
        path,
    )


def load_detector(path: str | os.PathLike[str]) -> tuple[YOLODetector, int, list[str]]:
    """Load what `save_detector` wrote: ``(model in eval mode, image_size, class_names)``.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: the file is not a checkpoint written by `save_detector`.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights not found: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        model = YOLODetector(**checkpoint["config"])
        model.load_state_dict(checkpoint["state_dict"])
        image_size, names = int(checkpoint["image_size"]), list(checkpoint["class_names"])
    except Exception as error:  # a pickle error, a missing key, a shape mismatch: all say "not a detector"
        raise ValueError(f"cannot load weights {path}: {error}") from error
    return model.eval(), image_size, names


def detect_image(
    model: YOLODetector, image: Image.Image, *, image_size: int, score_threshold: float = 0.5
) -> dict[str, torch.Tensor]:
    """Detections on one PIL image, boxes in the image's own pixels.

    The image is converted to grey (or kept RGB for a 3-channel model), resized to
    ``image_size × image_size``, scaled to [0, 1] and run through the model and `postprocess`.

    Returns:
        ``boxes`` ``(N, 4)`` xyxy in the original image's pixels (clipped to it), ``scores`` ``(N,)``,
        ``labels`` ``(N,)``.
    """
    mode = "L" if model.in_channels == 1 else "RGB"
    resized = image.convert(mode).resize((image_size, image_size), Image.Resampling.BILINEAR)
    x = torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255.0)
    x = x[None, None] if x.ndim == 2 else x.permute(2, 0, 1)[None]
    with torch.no_grad():
        cls_logits, box_logits = model(x)
    points, strides = make_points((image_size, image_size), model.strides)
    detections = postprocess(cls_logits, box_logits, points, strides, score_threshold=score_threshold)[0]
    size = torch.tensor([image.width, image.height] * 2, dtype=torch.float32)
    boxes = (detections["boxes"] * size / image_size).clamp(min=torch.zeros(4), max=size)  # inside the image
    return {**detections, "boxes": boxes}


def _rows(detections: dict[str, torch.Tensor]) -> list[tuple[list[float], float, int]]:
    d = detections
    return list(zip(d["boxes"].tolist(), d["scores"].tolist(), d["labels"].tolist(), strict=True))


def _draw(image: Image.Image, detections: dict[str, torch.Tensor], names: Sequence[str]) -> Image.Image:
    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    for (x1, y1, x2, y2), s, c in _rows(detections):
        colour = _COLOURS[c % len(_COLOURS)]
        draw.rectangle((x1, y1, x2 - 1, y2 - 1), outline=colour, width=max(1, round(out.width / 128)))
        draw.text((x1 + 1, max(y1 - 11, 0)), f"{names[c]} {s:.2f}", fill=colour)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the tool on `argv` (``sys.argv[1:]`` if None) and return its exit code.

    Returns:
        0 on success; 2, with a message naming the path on stderr, for a missing image, a file that is not
        an image, or missing or unreadable weights (and for bad arguments, as argparse does).
    """
    try:
        return _run(argv)
    except SystemExit as exit_:  # argparse's parser.error and --help
        return exit_.code if isinstance(exit_.code, int) else 1


def _run(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lessons.detect_cli", description="Detect objects in an image with a trained detector."
    )
    parser.add_argument("image", help="image file (any format PIL reads; grey or colour)")
    parser.add_argument(
        "--weights", required=True, help="checkpoint written by lessons.detect_cli.save_detector"
    )
    parser.add_argument("--out", default=None, help="where to write the image with the boxes drawn")
    parser.add_argument("--score", type=float, default=0.5, help="keep detections scoring above this")
    args = parser.parse_args(argv)
    if not 0 <= args.score < 1:
        parser.error(f"--score must be in [0, 1), got {args.score}")
    if not os.path.isfile(args.image):
        parser.error(f"image not found: {args.image}")
    try:
        with Image.open(args.image) as opened:
            image = opened.copy()
    except (UnidentifiedImageError, OSError) as error:
        parser.error(f"cannot read image {args.image}: {error}")
    try:
        model, image_size, names = load_detector(args.weights)
    except (FileNotFoundError, ValueError) as error:
        parser.error(str(error))
    detections = detect_image(model, image, image_size=image_size, score_threshold=args.score)
    for (x1, y1, x2, y2), s, c in _rows(detections):
        print(f"{names[c]} {s:.2f} [{x1:.1f}, {y1:.1f}, {x2:.1f}, {y2:.1f}]")
    if args.out is not None:
        _draw(image, detections, names).save(args.out)
        print(f"{len(detections['scores'])} detections drawn on {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
