"""Reference model implementations, one module per family (import the submodule you need, e.g.
``from lessons.models.resnet import resnet18``), and what every family shares: the activation table
(`ACTIVATIONS`, `make_activation`), `count_parameters` and `count_multiply_adds`.

Examples:
    >>> from torch import nn
    >>> count_parameters(nn.Linear(3, 2))  # 3 * 2 weights + 2 biases
    8
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from lessons.checks import check_callable

__all__ = ["ACTIVATIONS", "count_multiply_adds", "count_parameters", "make_activation"]

#: Activation names accepted by `make_activation` (and the models' ``activation=`` arguments), mapped to
#: their `torch.nn` classes.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "identity": nn.Identity,
}


def make_activation(name: str) -> nn.Module:
    """Return a fresh activation module from its name.

    Args:
        name: one of the keys of `ACTIVATIONS` (``"relu"``, ``"gelu"``, ``"tanh"``, ``"sigmoid"`` ...),
            case-insensitive.

    Returns:
        A new `nn.Module` (element-wise: output shape = input shape).

    Raises:
        TypeError: `name` is not a string.
        ValueError: `name` is not a known activation.

    Examples:
        >>> make_activation("ReLU")
        ReLU()
    """
    if not isinstance(name, str):
        raise TypeError(f"activation must be a string such as 'relu', got {type(name).__name__}")
    key = name.lower()
    if key not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[key]()


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters of `model` (works on the ``meta`` device too, where no memory is allocated).

    Args:
        model: any module.
        trainable_only: count only parameters with ``requires_grad``.

    Raises:
        TypeError: `model` is not an `nn.Module`.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_multiply_adds(fn: Callable[[], object]) -> int:
    """Multiply–adds of the matrix products and convolutions that ``fn()`` runs, as counted by PyTorch's
    ``FlopCounterMode`` (which reports FLOPs, two per multiply–add; element-wise operations such as softmax,
    ``tanh`` or additions are not counted). Runs `fn` once, without gradients.

    Args:
        fn: a function of no arguments, e.g. ``lambda: layer(x)``.

    Returns:
        The number of multiply–adds, an ``int``.

    Raises:
        TypeError: `fn` is not callable.

    Examples:
        >>> import torch
        >>> count_multiply_adds(lambda: torch.randn(2, 3) @ torch.randn(3, 4))  # 2 * 3 * 4
        24
    """
    check_callable("fn", fn)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() // 2
