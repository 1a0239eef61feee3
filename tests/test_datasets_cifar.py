"""Unit tests of lessons.datasets.cifar on small synthetic files in the official CIFAR-10 formats."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from lessons.datasets.cifar import (
    CIFAR10_CLASSES,
    TensorLoader,
    channel_stats,
    find_cifar10,
    load_cifar10,
    main,
    normalize,
    random_crop_flip,
    train_classifier,
    write_cifar10,
)


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


def test_random_crop_flip_moves_windows_of_the_padded_image() -> None:
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6) + 1
    assert torch.equal(random_crop_flip(x, 0, flip=False), x)
    assert torch.equal(
        random_crop_flip(x, 0, flip=True, generator=torch.Generator().manual_seed(1)).sum(), x.sum()
    )
    out = random_crop_flip(x, 2, flip=False, generator=torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):  # every output image is one 6x6 window of its padded input, same offset per channel
        windows = [padded[i, :, a : a + 6, b : b + 6] for a in range(5) for b in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)
    assert out.dtype == x.dtype and out.shape == x.shape
    u8 = random_crop_flip(torch.full((3, 1, 4, 4), 7, dtype=torch.uint8), 1)
    assert u8.dtype == torch.uint8 and set(u8.unique().tolist()) <= {0, 7}
    with pytest.raises(ValueError, match="padding"):
        random_crop_flip(x, -1)
    with pytest.raises(ValueError, match="N, C, H, W"):
        random_crop_flip(x[0], 1)


def test_normalize_and_channel_stats() -> None:
    x = torch.randint(0, 256, (50, 3, 4, 4), dtype=torch.uint8)
    mean, std = channel_stats(x)
    z = normalize(x, mean, std)
    assert torch.allclose(z.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(z.std((0, 2, 3)), torch.ones(3), atol=1e-4)
    assert torch.allclose(normalize(x.float() / 255, mean, std), z, atol=1e-5)
    with pytest.raises(ValueError, match="one per channel"):
        normalize(x, (0.5,), (0.2,))
    with pytest.raises(ValueError, match="positive"):
        normalize(x, mean, (1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="non-empty"):
        channel_stats(torch.zeros(0, 3, 2, 2))


def test_tensor_loader() -> None:
    X, y = torch.arange(10.0).view(10, 1), torch.arange(10)
    loader = TensorLoader(X, y, batch_size=4, shuffle=True, transform=lambda b: b * 2, seed=0)
    assert len(loader) == 3
    batches = list(loader)
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    labels = torch.cat([b[1] for b in batches])
    assert sorted(labels.tolist()) == list(range(10))
    assert torch.equal(torch.cat([b[0] for b in batches]).view(-1), 2 * labels.float())
    assert not torch.equal(labels, torch.cat([b[1] for b in loader]))  # a new order each epoch
    assert len(TensorLoader(X, y, batch_size=4, drop_last=True)) == 2
    with pytest.raises(ValueError, match="batch_size"):
        TensorLoader(X, y, batch_size=0)
    with pytest.raises(ValueError, match="labels"):
        TensorLoader(X, y[:3])
    with pytest.raises(TypeError, match="images"):
        TensorLoader(X.numpy(), y)  # type: ignore[arg-type]


def test_train_classifier_learns_a_separable_task() -> None:
    torch.manual_seed(0)
    X = torch.zeros(200, 1, 8, 8)
    y = torch.arange(200) % 2
    X[y == 1, :, :4] = 1.0  # class 1: bright top half
    X += 0.1 * torch.rand_like(X)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    history = train_classifier(
        model, (X[:160], y[:160]), (X[160:], y[160:]), epochs=3, batch_size=32, lr=0.05, padding=0,
        flip=True, device="cpu",
    )  # fmt: skip
    assert history["val_acc"][-1] == 1.0
    with pytest.raises(ValueError, match="optimizer"):
        train_classifier(model, (X, y), (X, y), epochs=1, optimizer="adam")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="schedule"):
        train_classifier(model, (X, y), (X, y), epochs=1, schedule="step")  # type: ignore[arg-type]


def test_command_line_runs_on_synthetic_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_cifar10(tmp_path, fake(40, 0), fake(10, 1))
    weights = tmp_path / "w.pt"
    acc = main(["--root", str(tmp_path), "--epochs", "1", "--width", "4", "--batch-size", "16",
                "--device", "cpu", "--save", str(weights)])  # fmt: skip
    assert 0.0 <= acc <= 1.0 and weights.is_file()
    assert "resnet18: test accuracy" in capsys.readouterr().out
