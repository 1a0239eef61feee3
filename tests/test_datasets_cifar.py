"""Unit tests of lessons.datasets.cifar on small synthetic files in the official CIFAR-10 formats."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from lessons.datasets.cifar import CIFAR10_CLASSES, find_cifar10, load_cifar10, write_cifar10


def fake(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, n)


@pytest.mark.parametrize("fmt", ["python", "binary"])
def test_round_trip(tmp_path: Path, fmt: str) -> None:
    (X, y), (Xt, yt) = fake(23, 0), fake(4, 1)
    folder = write_cifar10(tmp_path, (X, y), (Xt, yt), fmt=fmt)
    assert folder.name == ("cifar-10-batches-py" if fmt == "python" else "cifar-10-batches-bin")
    for root in (tmp_path, folder):  # the parent or the batch folder itself
        train = load_cifar10(root, split="train")
        assert train.images.dtype == torch.uint8 and train.images.shape == (23, 3, 32, 32)
        assert np.array_equal(train.images.numpy(), X) and np.array_equal(train.labels.numpy(), y)
        assert train.classes == CIFAR10_CLASSES
    test = load_cifar10(tmp_path, split="test")
    assert np.array_equal(test.images.numpy(), Xt) and test.labels.dtype == torch.int64
    assert len(load_cifar10(tmp_path, limit=7).labels) == 7


def test_python_files_are_the_official_layout(tmp_path: Path) -> None:
    X, y = fake(10, 0)
    folder = write_cifar10(tmp_path, (X, y), fake(3, 1), classes=[f"c{i}" for i in range(10)])
    with open(folder / "data_batch_1", "rb") as f:
        batch = pickle.load(f, encoding="bytes")  # how the CIFAR page says to read the originals
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (2, 3072)
    # row-major RGB planes: the first 1024 values are the red channel of the first image
    assert np.array_equal(batch[b"data"][0, :1024], X[0, 0].ravel())
    assert batch[b"labels"] == [int(v) for v in y[:2]]
    with open(folder / "batches.meta", "rb") as f:
        assert pickle.load(f, encoding="bytes")[b"label_names"][3] == b"c3"
    assert load_cifar10(tmp_path).classes[3] == "c3"


def test_binary_files_are_the_official_layout(tmp_path: Path) -> None:
    X, y = fake(10, 0)
    folder = write_cifar10(tmp_path, (X, y), fake(3, 1), fmt="binary")
    raw = (folder / "data_batch_1.bin").read_bytes()
    assert len(raw) == 2 * 3073
    assert raw[0] == y[0] and raw[1:1025] == X[0, 0].tobytes() and raw[3073] == y[1]
    assert (folder / "batches.meta.txt").read_text().split() == list(CIFAR10_CLASSES)


def test_missing_folder_says_how_to_get_the_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FileNotFoundError, match="cifar-10-python.tar.gz"):
        load_cifar10(tmp_path / "nowhere")
    monkeypatch.delenv("CIFAR10_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="CIFAR10_DIR"):
        find_cifar10(None)
    write_cifar10(tmp_path, fake(5, 0), fake(1, 1))
    monkeypatch.setenv("CIFAR10_DIR", str(tmp_path))
    assert find_cifar10()[1] == "python"
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(FileNotFoundError):
        find_cifar10(tmp_path)
    with pytest.raises(TypeError, match="root"):
        find_cifar10(3)  # type: ignore[arg-type]


def test_corrupt_files_are_rejected(tmp_path: Path) -> None:
    folder = write_cifar10(tmp_path / "bin", fake(5, 0), fake(1, 1), fmt="binary")
    with open(folder / "data_batch_2.bin", "ab") as f:
        f.write(b"\x00")
    with pytest.raises(ValueError, match="not a multiple of 3073"):
        load_cifar10(tmp_path / "bin")
    folder = write_cifar10(tmp_path / "py", fake(5, 0), fake(1, 1))
    with open(folder / "data_batch_3", "wb") as f:
        pickle.dump({b"data": np.zeros((1, 3072), np.float32), b"labels": [0]}, f, protocol=2)
    with pytest.raises(ValueError, match="uint8"):
        load_cifar10(tmp_path / "py")


class Evil:
    def __reduce__(self) -> tuple:
        return (print, ("pwned",))


def test_pickles_cannot_run_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_cifar10(tmp_path, fake(5, 0), fake(1, 1))
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"data": Evil(), b"labels": [0]}, f, protocol=2)
    with pytest.raises(ValueError, match="refusing to load .*print"):
        load_cifar10(tmp_path, split="test")
    assert "pwned" not in capsys.readouterr().out


def test_bad_arguments(tmp_path: Path) -> None:
    write_cifar10(tmp_path, fake(5, 0), fake(1, 1))
    with pytest.raises(ValueError, match="split"):
        load_cifar10(tmp_path, split="val")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit"):
        load_cifar10(tmp_path, limit=0)
    with pytest.raises(ValueError, match="fmt"):
        write_cifar10(tmp_path, fake(5, 0), fake(1, 1), fmt="png")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="uint8"):
        write_cifar10(tmp_path, (np.zeros((5, 3, 32, 32)), np.zeros(5, int)), fake(1, 1))
    with pytest.raises(ValueError, match="labels"):
        write_cifar10(tmp_path, (fake(5, 0)[0], np.full(5, 10)), fake(1, 1))
    with pytest.raises(ValueError, match="at least 5"):
        write_cifar10(tmp_path, fake(4, 0), fake(1, 1))
