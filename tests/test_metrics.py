"""lessons.metrics: accuracy, confusion_matrix, mae, mse, including bad input."""

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from lessons.metrics import accuracy, confusion_matrix, mae, mse, to_labels


def test_accuracy_from_logits_and_from_labels():
    logits = torch.tensor([[2.0, 0.1, 0.0], [0.3, 0.9, 0.0], [0.8, 0.1, 0.0], [0.0, 0.0, 5.0]])
    targets = torch.tensor([0, 1, 1, 2])
    assert accuracy(logits, targets) == pytest.approx(0.75)
    assert accuracy(logits.argmax(1), targets) == pytest.approx(0.75)


def test_accuracy_with_class_axis_1_for_dense_outputs():
    logits = torch.randn(4, 3, 5, 5)  # (N, C, H, W), as for segmentation
    targets = logits.argmax(1)
    assert accuracy(logits, targets) == 1.0


def test_accuracy_rejects_bad_input():
    with pytest.raises(TypeError, match="targets"):
        accuracy(torch.zeros(3, 2), [0, 1, 1])
    with pytest.raises(TypeError, match="targets"):
        accuracy(torch.zeros(3, 2), torch.zeros(3))
    with pytest.raises(ValueError, match="outputs"):
        accuracy(torch.zeros(3, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="binary logits"):
        accuracy(torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(TypeError, match="outputs"):
        accuracy(np.zeros((3, 2)), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="empty"):
        accuracy(torch.zeros(0, 2), torch.zeros(0, dtype=torch.long))


def test_to_labels_without_targets():
    assert torch.equal(to_labels(torch.tensor([[0.0, 1.0], [3.0, 1.0]])), torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="class axis"):
        to_labels(torch.tensor([0.2, 0.7]))


def test_confusion_matrix_matches_sklearn():
    g = torch.Generator().manual_seed(0)
    preds = torch.randint(0, 4, (200,), generator=g)
    targets = torch.randint(0, 4, (200,), generator=g)
    cm = confusion_matrix(preds, targets, num_classes=4)
    assert cm.dtype == torch.int64 and cm.shape == (4, 4)
    np.testing.assert_array_equal(cm.numpy(), sk_confusion_matrix(targets, preds, labels=range(4)))
    assert cm.sum() == 200 and cm.trace() == (preds == targets).sum()


def test_confusion_matrix_takes_logits():
    logits = torch.tensor([[3.0, 0.0], [0.0, 1.0], [2.0, 1.0]])
    cm = confusion_matrix(logits, torch.tensor([0, 1, 1]), 2)
    assert cm.tolist() == [[1, 0], [1, 1]]


def test_confusion_matrix_rejects_bad_input():
    with pytest.raises(TypeError, match="num_classes"):
        confusion_matrix(torch.tensor([0]), torch.tensor([0]), 2.0)
    with pytest.raises(ValueError, match="num_classes"):
        confusion_matrix(torch.tensor([0]), torch.tensor([0]), 0)
    with pytest.raises(ValueError, match="targets holds labels outside"):
        confusion_matrix(torch.tensor([0]), torch.tensor([3]), 2)
    with pytest.raises(ValueError, match="preds holds labels outside"):
        confusion_matrix(torch.tensor([-1]), torch.tensor([0]), 2)
    with pytest.raises(ValueError, match="preds"):
        confusion_matrix(torch.tensor([0, 1]), torch.tensor([0]), 2)


def test_regression_metrics():
    out = torch.tensor([[1.0], [2.0], [4.0]])  # (N, 1) predictions against (N,) targets is allowed
    y = torch.tensor([1.0, 3.0, 2.0])
    assert mae(out, y) == pytest.approx(1.0)
    assert mse(out, y) == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="outputs of shape"):
        mse(torch.zeros(3, 2), y)
    with pytest.raises(TypeError, match="targets"):
        mae(out, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="empty"):
        mse(torch.zeros(0), torch.zeros(0))
