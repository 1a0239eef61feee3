"""Unit tests of lessons.recipes: the classification recipe, the cached digit CNN, the CIFAR-10 CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lessons.datasets.cifar import write_cifar10
from lessons.datasets.images import load_mnist
from lessons.models.cnn import SmallCNN
from lessons.recipes import main, train_classifier, trained_digit_cnn


def fake(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, n)


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
    with pytest.raises(TypeError, match="epochs"):
        train_classifier(model, (X, y), (X, y), epochs=1.0)  # type: ignore[arg-type]


def test_trained_digit_cnn_is_cached_and_copied() -> None:
    first = trained_digit_cnn((4,), epochs=1, seed=0)
    assert isinstance(first.model, SmallCNN) and not first.model.training
    assert 0.5 < first.test_accuracy <= 1.0 and first.std > 0
    _, X_test, _, y_test = load_mnist(test_size=1000, seed=0)
    with torch.no_grad():  # the reported accuracy is that of the 1,000 test digits (not the validation ones)
        predictions = first.model((X_test - first.mean) / first.std).argmax(1)
    assert (predictions == y_test).float().mean().item() == pytest.approx(first.test_accuracy)
    with torch.no_grad():
        first.model.head[-1].weight.zero_()  # callers may modify their copy ...
    second = trained_digit_cnn((4,), epochs=1, seed=0)
    assert second.test_accuracy == first.test_accuracy  # ... the cache (no retraining) is untouched
    assert second.model.head[-1].weight.abs().sum() > 0
    with pytest.raises(ValueError, match="epochs"):
        trained_digit_cnn(epochs=0)
    with pytest.raises(TypeError, match="seed"):
        trained_digit_cnn(seed=1.0)  # type: ignore[arg-type]


def test_command_line_runs_on_synthetic_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_cifar10(tmp_path, fake(40, 0), fake(10, 1))
    weights = tmp_path / "w.pt"
    acc = main(["--root", str(tmp_path), "--epochs", "1", "--width", "4", "--batch-size", "16",
                "--device", "cpu", "--save", str(weights)])  # fmt: skip
    assert 0.0 <= acc <= 1.0 and weights.is_file()
    assert "resnet18: test accuracy" in capsys.readouterr().out
