"""Reference model implementations, one module per family (import the submodule you need, e.g.
``from lessons.models.resnet import resnet18``), and what every family shares: the activation table
(`ACTIVATIONS`, `make_activation`) and `count_parameters`.

Examples:
    >>> from torch import nn
    >>> count_parameters(nn.Linear(3, 2))  # 3 * 2 weights + 2 biases
    8
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

__all__ = ["ACTIVATIONS", "count_parameters", "make_activation"]

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
