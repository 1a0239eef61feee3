"""CIFAR-10 from the official files on your disk: a reader and a writer for both official layouts.

Nothing here downloads. Get the data once from https://www.cs.toronto.edu/~kriz/cifar.html
(``cifar-10-python.tar.gz`` or ``cifar-10-binary.tar.gz``), unpack it, and pass the folder to `load_cifar10`.

Both official layouts are read:

* **python** (``cifar-10-batches-py/``): ``data_batch_1`` … ``data_batch_5`` and ``test_batch`` are
  pickled dicts with ``b"data"``, a ``uint8`` array of shape ``(10000, 3072)`` (each row: the 1024 red,
  then 1024 green, then 1024 blue values of a 32×32 image, row-major) and ``b"labels"``, a list of 10000
  ints in 0–9; ``batches.meta`` holds ``b"label_names"``.
* **binary** (``cifar-10-batches-bin/``): ``data_batch_1.bin`` … ``data_batch_5.bin`` and ``test_batch.bin``
  are records of 1 label byte followed by the same 3072 pixel bytes; ``batches.meta.txt`` lists the class
  names.

`write_cifar10` writes either layout (used by the tests and the chapter, which run on small synthetic files).
The training recipe and the command line that trains a ResNet on these files are in `lessons.recipes`.

Pickles are read with a restricted unpickler that only rebuilds NumPy arrays and plain containers, so a
tampered file cannot run code.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import torch

from lessons.checks import check_choice, check_int

__all__ = ["CIFAR10_CLASSES", "Cifar10", "find_cifar10", "load_cifar10", "write_cifar10"]

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
"""The label names in ``batches.meta`` of the official files, in label order."""

_PY_DIR, _BIN_DIR = "cifar-10-batches-py", "cifar-10-batches-bin"
_TRAIN, _TEST = [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"]
_PIXELS = 3 * 32 * 32
Format = Literal["python", "binary"]


class Cifar10(NamedTuple):
    """One split of CIFAR-10: ``images`` uint8 ``(N, 3, 32, 32)``, ``labels`` int64 ``(N,)``, ``classes``."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]


def _missing(root: Path) -> FileNotFoundError:
    return FileNotFoundError(
        f"CIFAR-10 not found in {str(root)!r}: expected the folder {_PY_DIR}/ (python version) or "
        f"{_BIN_DIR}/ (binary version), or a folder holding data_batch_1..5 and test_batch. Download "
        "cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html, unpack it with "
        "`tar xzf cifar-10-python.tar.gz`, and pass root= the folder it made (or set CIFAR10_DIR)."
    )


def find_cifar10(root: str | os.PathLike[str] | None = None) -> tuple[Path, Format]:
    """Locate the CIFAR-10 batch files under `root` and tell which layout they use.

    Args:
        root: the ``cifar-10-batches-py`` / ``cifar-10-batches-bin`` folder itself, or a folder containing
            one of them; ``None`` reads the environment variable ``CIFAR10_DIR``.

    Returns:
        ``(folder, fmt)`` with ``fmt`` ``"python"`` or ``"binary"`` (python preferred when both exist).

    Raises:
        TypeError: `root` is not a path.
        FileNotFoundError: nothing usable is there (the message says how to get the data).
    """
    if root is None:
        env = os.environ.get("CIFAR10_DIR")
        if not env:
            raise FileNotFoundError(
                "no CIFAR-10 folder given: pass root= (the folder holding cifar-10-batches-py/) or set the "
                "environment variable CIFAR10_DIR"
            )
        root = env
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a path (str or os.PathLike), got {type(root).__name__}")
    root = Path(root).expanduser()
    for folder in (root, root / _PY_DIR, root / _BIN_DIR):
        if all((folder / name).is_file() for name in _TRAIN + _TEST):
            return folder, "python"
        if all((folder / f"{name}.bin").is_file() for name in _TRAIN + _TEST):
            return folder, "binary"
    raise _missing(root)


class _ArrayUnpickler(pickle.Unpickler):
    """Rebuilds only what the CIFAR pickles contain: dicts, lists, bytes/str, ints and NumPy arrays."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): ("numpy", "ndarray"),
        ("numpy._core.multiarray", "_reconstruct"): ("numpy", "ndarray"),
        ("numpy", "ndarray"): ("numpy", "ndarray"),
        ("numpy", "dtype"): ("numpy", "dtype"),
        ("_codecs", "encode"): ("_codecs", "encode"),
        ("copy_reg", "_reconstructor"): ("copyreg", "_reconstructor"),
        ("copyreg", "_reconstructor"): ("copyreg", "_reconstructor"),
        ("__builtin__", "object"): ("builtins", "object"),
        ("builtins", "object"): ("builtins", "object"),
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR-10 pickle")
        if name == "_reconstruct":  # numpy's own function, wherever this numpy version keeps it
            return np.empty(0).__reduce__()[0]
        return super().find_class(*self._ALLOWED[(module, name)])


def _unpickle(path: Path) -> dict[str, object]:
    with open(path, "rb") as f:
        try:
            obj = _ArrayUnpickler(io.BytesIO(f.read()), encoding="latin1").load()
        except (pickle.UnpicklingError, EOFError, ValueError) as err:
            raise ValueError(f"{path} is not a CIFAR-10 python batch file: {err}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path} must hold a dict, got {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _as_name(x: object) -> str:
    return x.decode("utf-8") if isinstance(x, bytes) else str(x)


def _read_python(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(path)
    if "data" not in batch or "labels" not in batch:
        raise ValueError(f"{path} must have the keys b'data' and b'labels', got {sorted(batch)}")
    data, labels = np.asarray(batch["data"]), np.asarray(batch["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != _PIXELS:
        raise ValueError(
            f"{path}: b'data' must be uint8 of shape (N, {_PIXELS}), got {data.dtype} {data.shape}"
        )
    if labels.shape != (len(data),):
        raise ValueError(f"{path}: {len(data)} images but {labels.size} labels")
    return data, labels


def _read_binary(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % (_PIXELS + 1):
        raise ValueError(
            f"{path} has {raw.size} bytes, not a multiple of {_PIXELS + 1} "
            f"(1 label byte + {_PIXELS} pixel bytes per image)"
        )
    records = raw.reshape(-1, _PIXELS + 1)
    return records[:, 1:], records[:, 0]


def _read_classes(folder: Path, fmt: Format) -> tuple[str, ...]:
    if fmt == "python":
        path = folder / "batches.meta"
        if not path.is_file():
            return CIFAR10_CLASSES
        names = _unpickle(path).get("label_names")
        if not isinstance(names, (list, tuple)):
            raise ValueError(f"{path} must have b'label_names', a list of class names")
        return tuple(_as_name(n) for n in names)
    path = folder / "batches.meta.txt"
    if not path.is_file():
        return CIFAR10_CLASSES
    return tuple(line.strip() for line in path.read_text().splitlines() if line.strip())


def load_cifar10(
    root: str | os.PathLike[str] | None = None,
    *,
    split: Literal["train", "test"] = "train",
    limit: int | None = None,
) -> Cifar10:
    """Read one split of CIFAR-10 from the official python or binary files.

    Args:
        root: see `find_cifar10` (``None`` reads ``$CIFAR10_DIR``).
        split: ``"train"`` (data_batch_1..5, 50,000 images) or ``"test"`` (test_batch, 10,000).
        limit: keep only the first `limit` images (quick experiments).

    Returns:
        `Cifar10` ``(images, labels, classes)``: uint8 ``(N, 3, 32, 32)`` in RGB order, int64 ``(N,)``, and
        the class names from ``batches.meta`` (``batches.meta.txt``), or `CIFAR10_CLASSES` without that file.

    Raises:
        FileNotFoundError: the folder or a batch file is missing (the message says how to get them).
        TypeError: `limit` is not an int.
        ValueError: a bad `split` or `limit`, or a file that is not in the CIFAR-10 format (wrong keys, dtype,
            shape or size, labels outside the class range).

    Examples:
        ``load_cifar10("~/data")`` gives the 50,000 training images of the real files; here, ten images
        written in their format:

        >>> import tempfile
        >>> images, labels = np.zeros((10, 3, 32, 32), dtype=np.uint8), np.arange(10)
        >>> with tempfile.TemporaryDirectory() as root:
        ...     _ = write_cifar10(root, (images, labels), (images[:2], labels[:2]))
        ...     train = load_cifar10(root, split="train")
        >>> train.images.shape, train.labels.shape, train.classes[0]
        (torch.Size([10, 3, 32, 32]), torch.Size([10]), 'airplane')
    """
    check_choice("split", split, ("train", "test"))
    if limit is not None:
        check_int("limit", limit, ge=1)
    folder, fmt = find_cifar10(root)
    classes = _read_classes(folder, fmt)
    data, labels = [], []
    for name in _TRAIN if split == "train" else _TEST:
        if fmt == "python":
            x, y = _read_python(folder / name)
        else:
            x, y = _read_binary(folder / f"{name}.bin")
        data.append(x)
        labels.append(y.astype(np.int64))
        if limit is not None and sum(map(len, data)) >= limit:
            break
    X, y = np.concatenate(data)[:limit], np.concatenate(labels)[:limit]
    if y.size and (y.min() < 0 or y.max() >= len(classes)):
        raise ValueError(f"labels must lie in [0, {len(classes)}), found {int(y.min())}..{int(y.max())}")
    images = torch.from_numpy(np.ascontiguousarray(X.reshape(-1, 3, 32, 32)))
    return Cifar10(images, torch.from_numpy(y), classes)


def write_cifar10(
    root: str | os.PathLike[str],
    train: tuple[np.ndarray | torch.Tensor, Sequence[int] | np.ndarray | torch.Tensor],
    test: tuple[np.ndarray | torch.Tensor, Sequence[int] | np.ndarray | torch.Tensor],
    *,
    fmt: Format = "python",
    classes: Sequence[str] = CIFAR10_CLASSES,
) -> Path:
    """Write images in the official CIFAR-10 layout (for tests, or to package your own 32×32 data).

    The training images are split into five nearly equal batches ``data_batch_1..5``; the test images go
    into ``test_batch``.

    Args:
        root: the folder to create ``cifar-10-batches-py/`` (or ``-bin/``) in.
        train: ``(images, labels)`` with images uint8 ``(N, 3, 32, 32)`` or ``(N, 3072)``, N >= 5.
        test: the same for the test split, N >= 1.
        fmt: ``"python"`` (pickled dicts with bytes keys, protocol 2 as the originals) or ``"binary"``.
        classes: the label names written to ``batches.meta`` / ``batches.meta.txt``.

    Returns:
        The batch folder written.

    Raises:
        ValueError: a bad `fmt`, images that are not uint8 with 3072 values each, or labels that do not
            match the images or fall outside ``range(len(classes))``.
    """
    check_choice("fmt", fmt, ("python", "binary"))
    classes = tuple(classes)
    splits = {}
    for split, (images, labels) in (("train", train), ("test", test)):
        X = np.asarray(images.numpy() if isinstance(images, torch.Tensor) else images)
        y = np.asarray(labels.numpy() if isinstance(labels, torch.Tensor) else labels)
        if X.dtype != np.uint8 or X.reshape(len(X), -1).shape[1] != _PIXELS:
            raise ValueError(
                f"{split} images must be uint8 of shape (N, 3, 32, 32) or (N, 3072), got {X.dtype} {X.shape}"
            )
        if y.shape != (len(X),) or (y.size and (y.min() < 0 or y.max() >= len(classes))):
            raise ValueError(f"{split} labels must be {len(X)} ints in [0, {len(classes)})")
        splits[split] = (X.reshape(len(X), _PIXELS), y.astype(np.int64))
    if len(splits["train"][0]) < 5 or len(splits["test"][0]) < 1:
        raise ValueError("need at least 5 training images (one per batch file) and 1 test image")
    folder = Path(root).expanduser() / (_PY_DIR if fmt == "python" else _BIN_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    chunks = zip(*(np.array_split(a, 5) for a in splits["train"]), strict=True)
    batches = [(f"data_batch_{i}", f"training batch {i} of 5", x, y) for i, (x, y) in enumerate(chunks, 1)]
    batches.append(("test_batch", "testing batch 1 of 1", *splits["test"]))
    for name, batch_label, x, y in batches:
        if fmt == "python":
            content = {
                b"batch_label": batch_label.encode(),
                b"labels": [int(v) for v in y],
                b"data": np.ascontiguousarray(x, dtype=np.uint8),
                b"filenames": [f"image_{name}_{i:05d}.png".encode() for i in range(len(y))],
            }
            with open(folder / name, "wb") as f:
                pickle.dump(content, f, protocol=2)
        else:
            records = np.concatenate([y.astype(np.uint8)[:, None], x], axis=1)
            records.tofile(folder / f"{name}.bin")
    if fmt == "python":
        meta = {
            b"num_cases_per_batch": len(batches[0][3]),
            b"label_names": [c.encode() for c in classes],
            b"num_vis": _PIXELS,
        }
        with open(folder / "batches.meta", "wb") as f:
            pickle.dump(meta, f, protocol=2)
    else:
        (folder / "batches.meta.txt").write_text("\n".join(classes) + "\n")
    return folder
