"""Model compression: knowledge distillation and magnitude pruning (section 12.9).

- `distillation_loss`: Hinton et al.'s temperature-softened KL divergence between a teacher's and a
  student's logits, scaled by ``T**2``.
- `magnitude_mask` / `global_magnitude_masks`: unstructured pruning masks that zero the weights of smallest
  magnitude, one tensor at a time or across several at once (the same masks as
  ``torch.nn.utils.prune.l1_unstructured`` and ``global_unstructured``).
- `row_mask` and `wanda_scores`: per-row pruning of large models by any score, such as Wanda's
  ``|W| * ||x||`` (Sun et al., 2023), which weighs each weight by the size of the input it multiplies.
- `apply_masks` and `sparsity`: zero the pruned weights in place, and measure the fraction of zeros.
- `prune_neurons`: structured pruning, which removes whole hidden neurons from a pair of linear layers and
  returns smaller layers (fewer rows and columns, hence a faster dense matmul).

Examples:
    >>> import torch
    >>> w = torch.tensor([[0.1, -2.0], [0.5, -0.05]])
    >>> magnitude_mask(w, 0.5)
    tensor([[False,  True],
            [ True, False]])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lessons.checks import check_float, check_int, check_tensor

__all__ = [
    "apply_masks",
    "distillation_loss",
    "global_magnitude_masks",
    "magnitude_mask",
    "prune_neurons",
    "row_mask",
    "sparsity",
    "wanda_scores",
]


def distillation_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    r"""The soft-target loss of knowledge distillation (Hinton et al., 2015).

    .. math:: T^2\,\mathrm{KL}\big(\mathrm{softmax}(t/T)\,\|\,\mathrm{softmax}(s/T)\big)

    averaged over every row (every position but the last, the classes). The factor ``T**2`` keeps the
    gradient's size roughly independent of the temperature, so the loss can be mixed with a cross-entropy
    on hard labels without retuning the weights when `temperature` changes.

    Args:
        student_logits: ``(..., classes)``, the student's raw scores (gradients flow through them).
        teacher_logits: ``(..., classes)``, the same shape; treated as a fixed target (detached).
        temperature: ``T > 0``; larger values soften both distributions.

    Returns:
        A scalar tensor.

    Raises:
        TypeError: a logits argument is not a tensor.
        ValueError: the shapes differ, there is no class dimension, or `temperature` is not positive.

    Examples:
        >>> s = torch.tensor([[1.0, 2.0, 3.0]])
        >>> round(distillation_loss(s, s, temperature=2.0).item(), 6)
        0.0
    """
    check_tensor("student_logits", student_logits)
    check_tensor("teacher_logits", teacher_logits)
    t = check_float("temperature", temperature, gt=0)
    if student_logits.dim() < 1 or student_logits.shape != teacher_logits.shape:
        raise ValueError(
            "student_logits and teacher_logits must have the same shape (..., classes), got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}"
        )
    classes = student_logits.shape[-1]
    log_q = F.log_softmax(student_logits.reshape(-1, classes) / t, dim=-1)
    log_p = F.log_softmax(teacher_logits.detach().reshape(-1, classes) / t, dim=-1)
    kl = (log_p.exp() * (log_p - log_q)).sum(-1).mean()
    return kl * t * t


def _to_prune(sparsity_: float, n: int) -> int:
    """How many of `n` weights a fraction `sparsity_` removes, rounded as torch.nn.utils.prune rounds."""
    return round(sparsity_ * n)


def magnitude_mask(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
    """The mask of unstructured magnitude pruning: keep all but the ``round(sparsity * n)`` smallest ``|w|``.

    Args:
        weight: a tensor of any shape (e.g. ``(out_features, in_features)``).
        sparsity: the fraction of weights to remove, in ``[0, 1)``.

    Returns:
        A bool tensor of `weight`'s shape, ``True`` where the weight is kept.

    Raises:
        TypeError: `weight` is not a tensor.
        ValueError: `sparsity` is outside ``[0, 1)``, or `weight` is empty.

    Examples:
        >>> magnitude_mask(torch.tensor([3.0, -1.0, 0.5, 2.0]), 0.5)
        tensor([ True, False, False,  True])
    """
    return global_magnitude_masks([check_tensor("weight", weight)], sparsity)[0]


def global_magnitude_masks(weights: Sequence[torch.Tensor], sparsity: float) -> list[torch.Tensor]:
    """Masks of global magnitude pruning: rank the weights of all tensors together and remove the smallest.

    A layer whose weights are small as a whole loses more of them than a layer of large weights, which is
    what ``torch.nn.utils.prune.global_unstructured`` with ``L1Unstructured`` does.

    Args:
        weights: one or more tensors of any shapes.
        sparsity: the fraction of all their weights to remove, in ``[0, 1)``.

    Returns:
        One bool mask per tensor, of its shape, ``True`` where the weight is kept.

    Raises:
        TypeError: an entry of `weights` is not a tensor.
        ValueError: `weights` is empty or holds no element, or `sparsity` is outside ``[0, 1)``.
    """
    tensors = [check_tensor(f"weights[{i}]", w) for i, w in enumerate(weights)]
    s = check_float("sparsity", sparsity, ge=0, lt=1)
    scores = torch.cat([w.detach().abs().reshape(-1) for w in tensors]) if tensors else torch.empty(0)
    if scores.numel() == 0:
        raise ValueError("weights must hold at least one element, got none")
    keep = torch.ones(scores.numel(), dtype=torch.bool, device=scores.device)
    k = _to_prune(s, scores.numel())
    if k:
        keep[torch.topk(scores, k, largest=False).indices] = False
    pieces = keep.split([w.numel() for w in tensors])
    return [m.reshape(w.shape) for m, w in zip(pieces, tensors, strict=True)]


def row_mask(scores: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Per-row pruning: in each row of `scores`, remove the ``round(sparsity * columns)`` lowest entries.

    A threshold per row (``torch.kthvalue``) is much faster than sorting on large matrices. Entries that tie
    with the threshold are removed too, so on weights with repeated values (e.g. de-quantized ones) the
    sparsity can come out a little above `sparsity`; measure it with `sparsity`.

    Args:
        scores: ``(rows, columns)``, the importance of each weight (``weight.abs()`` for magnitude pruning,
            `wanda_scores` for Wanda).
        sparsity: the fraction of each row to remove, in ``[0, 1)``.

    Returns:
        A bool tensor of `scores`' shape, ``True`` where the weight is kept.

    Raises:
        TypeError: `scores` is not a tensor.
        ValueError: `scores` is not 2-D or has no column, or `sparsity` is outside ``[0, 1)``.

    Examples:
        >>> row_mask(torch.tensor([[4.0, 1.0, 3.0, 2.0]]), 0.5)
        tensor([[ True, False,  True, False]])
    """
    check_tensor("scores", scores)
    s = check_float("sparsity", sparsity, ge=0, lt=1)
    if scores.dim() != 2 or scores.shape[1] == 0:
        raise ValueError(f"scores must be a 2-D tensor (rows, columns), got shape {tuple(scores.shape)}")
    k = _to_prune(s, scores.shape[1])
    if k == 0:
        return torch.ones_like(scores, dtype=torch.bool)
    return scores > scores.kthvalue(k, dim=1, keepdim=True).values


def wanda_scores(weight: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """Wanda's importance of each weight (Sun et al., 2023): ``|W_ij| * ||X_j||_2``.

    A weight that multiplies an input feature which is always small matters little even if the weight is
    large, and the reverse; the L2 norm of input feature ``j`` over calibration tokens measures its size.

    Args:
        weight: ``(out_features, in_features)``, a linear layer's weight.
        inputs: ``(..., in_features)``, the inputs that layer saw on calibration data.

    Returns:
        ``(out_features, in_features)`` scores, to be compared within each row (`row_mask`).

    Raises:
        TypeError: an argument is not a tensor.
        ValueError: `weight` is not 2-D, or `inputs`' last dimension is not ``in_features``.
    """
    check_tensor("weight", weight)
    check_tensor("inputs", inputs)
    if weight.dim() != 2:
        raise ValueError(f"weight must be 2-D (out_features, in_features), got shape {tuple(weight.shape)}")
    if inputs.dim() < 1 or inputs.shape[-1] != weight.shape[1]:
        raise ValueError(f"inputs must have shape (..., {weight.shape[1]}), got {tuple(inputs.shape)}")
    norms = inputs.detach().reshape(-1, weight.shape[1]).float().norm(dim=0)
    return weight.detach().abs() * norms.to(weight.dtype)


@torch.no_grad()
def apply_masks(weights: Sequence[torch.Tensor], masks: Sequence[torch.Tensor]) -> None:
    """Zero, in place, every weight whose mask entry is ``False`` (call it again after each optimizer step
    while fine-tuning a pruned model, so that pruned weights stay at zero).

    Args:
        weights: tensors or parameters, modified in place.
        masks: bool tensors of the same shapes.

    Raises:
        ValueError: the two sequences differ in length, or a mask's shape differs from its weight's.
    """
    if len(weights) != len(masks):
        raise ValueError(
            f"masks must have one entry per weight: got {len(masks)} masks for {len(weights)} weights"
        )
    for i, (w, m) in enumerate(zip(weights, masks, strict=True)):
        if check_tensor(f"masks[{i}]", m).shape != check_tensor(f"weights[{i}]", w).shape:
            raise ValueError(f"masks[{i}] must have shape {tuple(w.shape)}, got {tuple(m.shape)}")
        w.mul_(m.to(w.dtype))


def sparsity(weights: Sequence[torch.Tensor]) -> float:
    """The fraction of exact zeros among all elements of `weights`.

    Raises:
        ValueError: `weights` holds no element.

    Examples:
        >>> sparsity([torch.tensor([0.0, 1.0]), torch.zeros(2)])
        0.75
    """
    total = sum(check_tensor(f"weights[{i}]", w).numel() for i, w in enumerate(weights))
    if total == 0:
        raise ValueError("weights must hold at least one element, got none")
    return sum(int((w == 0).sum()) for w in weights) / total


@torch.no_grad()
def prune_neurons(layer: nn.Linear, next_layer: nn.Linear, keep: int) -> tuple[nn.Linear, nn.Linear]:
    """Structured pruning: keep the `keep` hidden neurons of largest L2 norm between two linear layers.

    A hidden neuron ``j`` is row ``j`` of ``layer.weight`` (with its bias) and column ``j`` of
    ``next_layer.weight``; it is ranked by the L2 norm of its incoming row. Removing it shrinks both
    matrices, so the network really computes less, unlike zeros scattered inside a dense matrix. An
    element-wise activation between the layers (ReLU, GELU) is unaffected.

    Args:
        layer: ``Linear(d_in, hidden)``.
        next_layer: ``Linear(hidden, d_out)``.
        keep: how many hidden neurons to keep, in ``[1, hidden]``.

    Returns:
        New layers ``Linear(d_in, keep)`` and ``Linear(keep, d_out)``; the kept neurons stay in their order.

    Raises:
        TypeError: a layer is not an ``nn.Linear``, or `keep` is not an int.
        ValueError: the layers do not meet (``layer.out_features != next_layer.in_features``) or `keep` is
            outside ``[1, hidden]``.
    """
    for name, module in (("layer", layer), ("next_layer", next_layer)):
        if not isinstance(module, nn.Linear):
            raise TypeError(f"{name} must be an nn.Linear, got {type(module).__name__}")
    hidden = layer.out_features
    if next_layer.in_features != hidden:
        raise ValueError(
            f"next_layer.in_features must equal layer.out_features ({hidden}), got {next_layer.in_features}"
        )
    k = check_int("keep", keep, ge=1, le=hidden)
    index = layer.weight.norm(dim=1).topk(k).indices.sort().values
    first = nn.Linear(layer.in_features, k, bias=layer.bias is not None).to(layer.weight)
    second = nn.Linear(k, next_layer.out_features, bias=next_layer.bias is not None).to(next_layer.weight)
    first.weight.copy_(layer.weight[index])
    if layer.bias is not None:
        first.bias.copy_(layer.bias[index])
    second.weight.copy_(next_layer.weight[:, index])
    if next_layer.bias is not None:
        second.bias.copy_(next_layer.bias)
    return first, second
