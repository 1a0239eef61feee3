"""CIFAR-10 from the official files on your disk, plus the GPU-friendly batching and augmentation its
training recipe uses.

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
`train_classifier` is the training recipe (augmentation, normalisation, SGD or AdamW, a cosine or one-cycle
schedule) shared by the chapter's digit project and the command line::

    python -m lessons.datasets.cifar --root ~/data/cifar-10-batches-py --model resnet18 --epochs 200
Pickles are read with a restricted unpickler that only rebuilds NumPy arrays and plain containers, so a
tampered file cannot run code.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "CIFAR10_CLASSES",
    "Cifar10",
    "TensorLoader",
    "channel_stats",
    "find_cifar10",
    "load_cifar10",
    "main",
    "normalize",
    "random_crop_flip",
    "train_classifier",
    "write_cifar10",
]

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
        ValueError: a bad `split` or `limit`, or a file that is not in the CIFAR-10 format (wrong keys, dtype,
            shape or size, labels outside the class range).

    Example:
        >>> train = load_cifar10("~/data", split="train")  # doctest: +SKIP
        >>> train.images.shape, train.labels.shape, train.classes[0]  # doctest: +SKIP
        (torch.Size([50000, 3, 32, 32]), torch.Size([50000]), 'airplane')
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive int or None, got {limit!r}")
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
    if fmt not in ("python", "binary"):
        raise ValueError(f"fmt must be 'python' or 'binary', got {fmt!r}")
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
        ValueError: `x` is not 4-D or `padding` is negative.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(
            f"x must be a batch of images (N, C, H, W), got {getattr(x, 'shape', type(x).__name__)}"
        )
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be an int >= 0, got {padding!r}")
    n, _, h, w = x.shape
    out = x
    if padding:
        padded = F.pad(x, (padding, padding, padding, padding))
        dy = torch.randint(0, 2 * padding + 1, (n, 1, 1), generator=generator).to(x.device)
        dx = torch.randint(0, 2 * padding + 1, (n, 1, 1), generator=generator).to(x.device)
        rows = (dy + torch.arange(h, device=x.device)[None, :, None]).expand(n, h, w)
        cols = (dx + torch.arange(w, device=x.device)[None, None, :]).expand(n, h, w)
        flat = rows * (w + 2 * padding) + cols  # index into each flattened padded image
        out = padded.flatten(2).gather(2, flat.flatten(1)[:, None, :].expand(-1, x.shape[1], -1)).view_as(x)
    if flip:
        mirror = (torch.rand(n, generator=generator) < 0.5).to(x.device)
        out = torch.where(mirror[:, None, None, None], out.flip(3), out)
    return out


def normalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``(x / 255 - mean) / std`` per channel for uint8 images (``x / 255`` is skipped for float input).

    Args:
        x: ``(N, C, H, W)`` uint8 or float images.
        mean: C numbers, the per-channel means (e.g. from `channel_stats` of the training images).
        std: C positive numbers, the per-channel standard deviations.

    Raises:
        ValueError: `mean`/`std` do not have one value per channel, or a std is not positive.
    """
    if x.ndim != 4:
        raise ValueError(f"x must have shape (N, C, H, W), got {tuple(x.shape)}")
    c = x.shape[1]
    if len(mean) != c or len(std) != c:
        raise ValueError(
            f"mean and std must have {c} values (one per channel), got {len(mean)} and {len(std)}"
        )
    if min(std) <= 0:
        raise ValueError(f"std must be positive, got {tuple(std)}")
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, c, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, c, 1, 1)
    return (x - m) / s


class TensorLoader:
    """Mini-batches from tensors held in memory (or on the GPU), with a batch-level transform.

    A light replacement for ``DataLoader`` when the whole data set fits in memory: no worker processes,
    each batch is one slice, and augmentation such as `random_crop_flip` runs on the whole batch on the
    device. Iterating yields ``(transform(images[idx]), labels[idx])`` pairs, the format `lessons.train.fit`
    expects.

    Args:
        images: ``(N, ...)`` tensor.
        labels: ``(N,)`` tensor.
        batch_size: images per batch (the last batch may be smaller unless `drop_last`).
        shuffle: a new random order every epoch.
        transform: optional ``transform(batch) -> batch`` applied after slicing (augmentation, `normalize`).
        device: move each batch there before the transform (``None``: leave it where it is).
        drop_last: drop the last incomplete batch.
        seed: seeds the shuffling, so two runs see the same order.

    Raises:
        TypeError: `images`/`labels` are not tensors, or `transform` is not callable.
        ValueError: lengths differ, or `batch_size` < 1.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        batch_size: int = 128,
        shuffle: bool = False,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        device: torch.device | str | None = None,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        for name, t in (("images", images), ("labels", labels)):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if len(images) != len(labels):
            raise ValueError(f"images has {len(images)} items but labels has {len(labels)}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable or None, got {type(transform).__name__}")
        self.images, self.labels = images, labels
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.transform = transform
        self.device = torch.device(device) if device is not None else None
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n, b = len(self.images), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.images)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            x, y = self.images[idx], self.labels[idx]
            if self.device is not None:
                x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            if self.transform is not None:
                x = self.transform(x)
            yield x, y


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of ``(N, C, H, W)`` images, on the [0, 1] scale
    (uint8 images are divided by 255 first). Compute them on the training images only.

    Raises:
        ValueError: `images` is not 4-D or is empty.
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.numel() == 0:
        raise ValueError(
            f"images must be a non-empty (N, C, H, W) tensor, got {getattr(images, 'shape', images)!r}"
        )
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    x = x.transpose(0, 1).reshape(x.shape[1], -1)
    return tuple(x.mean(1).tolist()), tuple(x.std(1).tolist())


def train_classifier(
    model: torch.nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    *,
    epochs: int,
    batch_size: int = 128,
    optimizer: Literal["sgd", "adamw"] = "sgd",
    lr: float = 0.1,
    weight_decay: float = 5e-4,
    schedule: Literal["cosine", "onecycle"] = "cosine",
    padding: int = 4,
    flip: bool = True,
    device: torch.device | str | None = None,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, list[float]]:
    """Train an image classifier with augmentation and a learning-rate schedule; report test accuracy.

    The recipe: per-channel normalisation with the training set's statistics, `random_crop_flip` on each
    training batch, cross-entropy, SGD (momentum 0.9) or AdamW with weight decay, and a cosine
    schedule (stepped per epoch) or a one-cycle schedule (stepped per batch), run by `lessons.train.fit`.
    With the defaults and ``resnet18(num_classes=10, stem="small")`` it is the recipe of
    kuangliu/pytorch-cifar (SGD 0.1, weight decay 5e-4, cosine over 200 epochs, crop 4 + flip).

    Args:
        model: a classifier taking normalised ``(N, C, H, W)`` images.
        train: ``(images, labels)``: images uint8 (0-255) or float in [0, 1], ``(N, C, H, W)``.
        test: the same for evaluation (never augmented), evaluated after every epoch.
        epochs: passes over the training data.
        batch_size: training batch size.
        optimizer: ``"sgd"`` or ``"adamw"``.
        lr: (peak) learning rate.
        weight_decay: L2 weight decay.
        schedule: ``"cosine"`` or ``"onecycle"``.
        padding: random-crop padding in pixels (0: no shifts).
        flip: random left-right mirroring.
        device: where to train (``None``: `lessons.get_device`).
        seed: seeds the shuffling and augmentation.
        progress: show a progress bar.

    Returns:
        The `lessons.train.History`: ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc`` per epoch
        (``val_*`` is measured on `test`).

    Raises:
        ValueError: an unknown `optimizer` or `schedule`, or mismatched images and labels.
    """
    from lessons.metrics import accuracy
    from lessons.runtime import get_device
    from lessons.train import fit

    if optimizer not in ("sgd", "adamw"):
        raise ValueError(f"optimizer must be 'sgd' or 'adamw', got {optimizer!r}")
    if schedule not in ("cosine", "onecycle"):
        raise ValueError(f"schedule must be 'cosine' or 'onecycle', got {schedule!r}")
    device = torch.device(device) if device is not None else get_device()
    mean, std = channel_stats(train[0])
    generator = torch.Generator().manual_seed(seed)

    def augment(x: torch.Tensor) -> torch.Tensor:
        return normalize(random_crop_flip(x, padding, flip=flip, generator=generator), mean, std)

    def prepare(x: torch.Tensor) -> torch.Tensor:
        return normalize(x, mean, std)

    train_loader = TensorLoader(
        *train, batch_size=batch_size, shuffle=True, transform=augment, device=device, seed=seed
    )
    test_loader = TensorLoader(*test, batch_size=max(batch_size, 500), transform=prepare, device=device)
    model.to(device)
    if optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay
        )
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    if schedule == "cosine":
        sched: torch.optim.lr_scheduler.LRScheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=epochs
        )
    else:
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * len(train_loader))
    return fit(
        model, train_loader, opt, torch.nn.CrossEntropyLoss(), epochs=epochs, val_loader=test_loader,
        scheduler=sched, metrics={"acc": accuracy}, device=device, progress=progress,
    )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> float:
    """Command line: train a ResNet (or `SmallCNN`) on CIFAR-10 files on your disk; print test accuracy.

    ``python -m lessons.datasets.cifar --root DIR [--model resnet18] [--epochs 200] [--device cuda]``;
    ``--help`` lists every option. Returns the final test accuracy.
    """
    import argparse

    from lessons.models.cnn import SmallCNN
    from lessons.models.resnet import resnet
    from lessons.runtime import seed_everything

    p = argparse.ArgumentParser(prog="python -m lessons.datasets.cifar", description=main.__doc__)
    p.add_argument("--root", help="folder with cifar-10-batches-py/ (or -bin/); default $CIFAR10_DIR")
    p.add_argument(
        "--model", default="resnet18", choices=["resnet18", "resnet34", "resnet50", "resnet101", "smallcnn"]
    )
    p.add_argument(
        "--width", type=int, default=64, help="channels of the first ResNet stage (64 in the paper)"
    )
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--limit", type=int, default=None, help="use only the first LIMIT training images")
    p.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", default=None, help="write the trained weights (state_dict) to this file")
    args = p.parse_args(argv)

    seed_everything(args.seed)
    train = load_cifar10(args.root, split="train", limit=args.limit)
    test = load_cifar10(args.root, split="test")
    if args.model == "smallcnn":
        model: torch.nn.Module = SmallCNN((64, 128, 256), in_channels=3, image_size=32, convs_per_block=2)
    else:
        model = resnet(int(args.model[6:]), num_classes=len(train.classes), stem="small", width=args.width)
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True
    history = train_classifier(
        model, train[:2], test[:2], epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, device=args.device, seed=args.seed, progress=True,
    )  # fmt: skip
    acc = history["val_acc"][-1]
    print(f"{args.model}: test accuracy {acc:.2%} after {args.epochs} epochs on {len(train.labels)} images")
    if args.save:
        torch.save(model.state_dict(), args.save)
    return acc


if __name__ == "__main__":
    main()
