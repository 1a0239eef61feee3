"""Metrics on torch tensors: classification accuracy, confusion matrix, regression errors.

Every metric takes ``(outputs, targets)`` in that order, the signature `lessons.train.fit` expects in its
``metrics={"acc": accuracy}`` argument, and returns a Python float averaged over the batch (so ``fit`` can
weight each batch by its size and get the exact average over the data set).
"""

from __future__ import annotations

import torch

from lessons.checks import check_int, check_tensor

__all__ = ["accuracy", "confusion_matrix", "mae", "mse", "to_labels"]


def to_labels(
    outputs: torch.Tensor, targets: torch.Tensor | None = None, *, name: str = "outputs"
) -> torch.Tensor:
    """Turn class scores into predicted labels; pass labels through unchanged.

    Args:
        outputs: logits or probabilities of shape ``(N, C, *)`` (the class axis is 1, as for
            `torch.nn.CrossEntropyLoss`), or integer labels of shape ``(N, *)``.
        targets: optional integer labels ``(N, *)``; when given, the result's shape is checked against them.
        name: the argument name used in error messages.

    Returns:
        int64 labels of shape ``(N, *)``.

    Raises:
        TypeError: `outputs` is not a tensor.
        ValueError: `outputs` holds floats of the same shape as `targets` (ambiguous: binary logits must be
            thresholded first, e.g. ``(logits > 0).long()``), or the shapes do not match.
    """
    outputs = check_tensor(name, outputs)
    if targets is not None and outputs.ndim == targets.ndim + 1:
        labels = outputs.argmax(dim=1)
    elif targets is None and outputs.is_floating_point():
        if outputs.ndim < 2:
            raise ValueError(
                f"{name} of floats must have a class axis (N, C, ...), got shape {tuple(outputs.shape)}"
            )
        labels = outputs.argmax(dim=1)
    else:
        if outputs.is_floating_point():
            raise ValueError(
                f"{name} has the same shape as targets {tuple(outputs.shape)} but holds floats: pass class "
                "scores of shape (N, C) or integer labels; for binary logits use (logits > 0).long()"
            )
        labels = outputs.long()
    if targets is not None and labels.shape != targets.shape:
        raise ValueError(
            f"{name} of shape {tuple(outputs.shape)} does not match targets of shape {tuple(targets.shape)}: "
            "expected (N, C, *) scores or (N, *) labels"
        )
    return labels


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of correct predictions.

    Args:
        outputs: class scores ``(N, C, *)`` (the argmax over axis 1 is the prediction) or integer
            labels ``(N, *)``.
        targets: integer labels ``(N, *)``.

    Returns:
        A float in [0, 1].

    Raises:
        TypeError: an argument is not a tensor, or `targets` is not integer.
        ValueError: shapes do not match, or the batch is empty.

    Example:
        >>> import torch
        >>> scores = torch.tensor([[2.0, 0.1], [0.3, 0.9], [0.8, 0.1], [0.2, 0.7]])
        >>> accuracy(scores, torch.tensor([0, 1, 1, 1]))  # the third is wrong
        0.75
    """
    targets = check_tensor("targets", targets)
    if targets.is_floating_point():
        raise TypeError(f"targets must hold integer class labels, got dtype {targets.dtype}")
    labels = to_labels(outputs, targets)
    if targets.numel() == 0:
        raise ValueError("targets is empty: accuracy of zero examples is undefined")
    return (labels == targets).float().mean().item()


def confusion_matrix(preds: torch.Tensor, targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Count how often class ``i`` (row, the truth) was predicted as class ``j`` (column).

    Same convention as scikit-learn: ``cm[i, j]`` = number of examples with target ``i`` and prediction ``j``;
    the diagonal holds the correct ones, ``cm.sum()`` is the number of examples.

    Args:
        preds: predicted labels ``(N, *)`` or class scores ``(N, C, *)``.
        targets: integer labels ``(N, *)`` in ``[0, num_classes)``.
        num_classes: the number of classes ``C``.

    Returns:
        An int64 tensor of shape ``(num_classes, num_classes)`` on the CPU.

    Raises:
        TypeError: `num_classes` is not an int or an input is not a tensor.
        ValueError: `num_classes` < 1, shapes do not match, or a label lies outside ``[0, num_classes)``.

    Example:
        >>> import torch
        >>> confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]), num_classes=2)
        tensor([[1, 1],
                [0, 1]])
    """
    check_int("num_classes", num_classes, ge=1)
    targets = check_tensor("targets", targets)
    if targets.is_floating_point():
        raise TypeError(f"targets must hold integer class labels, got dtype {targets.dtype}")
    labels = to_labels(preds, targets, name="preds").reshape(-1).cpu()
    truth = targets.reshape(-1).cpu().long()
    for name, t in (("preds", labels), ("targets", truth)):
        if t.numel() and (t.min() < 0 or t.max() >= num_classes):
            raise ValueError(f"{name} holds labels outside [0, {num_classes}): min {t.min()}, max {t.max()}")
    flat = truth * num_classes + labels
    return torch.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)


def _regression_pair(outputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    outputs, targets = check_tensor("outputs", outputs), check_tensor("targets", targets)
    if outputs.shape != targets.shape:
        if outputs.numel() == targets.numel() and outputs.squeeze().shape == targets.squeeze().shape:
            outputs = outputs.reshape(targets.shape)  # (N, 1) predictions against (N,) targets
        else:
            raise ValueError(
                f"outputs of shape {tuple(outputs.shape)} does not match targets of shape "
                f"{tuple(targets.shape)}"
            )
    if targets.numel() == 0:
        raise ValueError("targets is empty")
    return outputs.float(), targets.float()


def mae(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean absolute error ``mean(|outputs - targets|)``; ``(N, 1)`` outputs may meet ``(N,)`` targets.

    Raises:
        TypeError: an argument is not a tensor.
        ValueError: the shapes differ (beyond a trailing axis of size 1) or the batch is empty.
    """
    outputs, targets = _regression_pair(outputs, targets)
    return (outputs - targets).abs().mean().item()


def mse(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean squared error ``mean((outputs - targets)**2)``; ``(N, 1)`` outputs may meet ``(N,)`` targets.

    Averaged over batches weighted by their size (as `lessons.train.fit` does) this is the exact MSE over
    the data set, so the RMSE is simply ``math.sqrt`` of it.

    Raises:
        TypeError: an argument is not a tensor.
        ValueError: the shapes differ (beyond a trailing axis of size 1) or the batch is empty.
    """
    outputs, targets = _regression_pair(outputs, targets)
    return ((outputs - targets) ** 2).mean().item()
