"""Argument checks shared by every module, so that bad input fails early with the same kind of message.

The rule everywhere in `lessons`: a wrong *type* raises `TypeError`, a wrong *value* raises `ValueError`,
and the message names the argument and shows what was passed::

    check_int("epochs", 0, ge=1)        # ValueError: epochs must be an int >= 1, got 0
    check_int("epochs", 2.5, ge=1)      # TypeError: epochs must be an int, got float

Examples:
    >>> check_float("dropout", 0.1, ge=0, lt=1)
    0.1
    >>> check_choice("pool", "max", ("max", "avg"))
    'max'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Iterable
from typing import Any, TypeVar

import torch

__all__ = [
    "check_callable",
    "check_choice",
    "check_float",
    "check_int",
    "check_sizes",
    "check_tensor",
    "check_token_ids",
]

T = TypeVar("T")
Bound = float | None  # an optional bound of check_int / check_float (an int is a float here)


def _bounds(ge: Bound, gt: Bound, le: Bound, lt: Bound) -> str:
    """Describe the bounds for a message: ``"in [0, 1)"``, ``">= 1"``, ``"> 0"`` or ``""``."""
    if ge is not None and gt is not None or le is not None and lt is not None:
        raise ValueError("give at most one lower bound (ge or gt) and one upper bound (le or lt)")
    low = f"[{ge}" if ge is not None else f"({gt}" if gt is not None else None
    high = f"{le}]" if le is not None else f"{lt})" if lt is not None else None
    if low and high:
        return f" in {low}, {high}"
    if low:
        return f" >= {ge}" if ge is not None else f" > {gt}"
    if high:
        return f" <= {le}" if le is not None else f" < {lt}"
    return ""


def _in_bounds(x: float, ge: Bound, gt: Bound, le: Bound, lt: Bound) -> bool:
    return (
        (ge is None or x >= ge)
        and (gt is None or x > gt)
        and (le is None or x <= le)
        and (lt is None or x < lt)
    )


def check_int(
    name: str, value: object, *, ge: Bound = None, gt: Bound = None, le: Bound = None, lt: Bound = None
) -> int:
    """Check that `value` is an integer (a Python or NumPy int, never a bool) within the given bounds.

    Args:
        name: the argument's name, for the message.
        value: what the caller passed.
        ge: optional lower bound, inclusive (``value >= ge``).
        gt: optional lower bound, exclusive (``value > gt``); give `ge` or `gt`, not both.
        le: optional upper bound, inclusive (``value <= le``).
        lt: optional upper bound, exclusive (``value < lt``); give `le` or `lt`, not both.

    Returns:
        `value` as a Python ``int``.

    Raises:
        TypeError: `value` is not an integer (``True``, ``2.0`` and ``"3"`` are refused).
        ValueError: `value` is outside the bounds.

    Examples:
        >>> check_int("batch_size", 64, ge=1)
        64
    """
    description = _bounds(ge, gt, le, lt)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int{description}, got {type(value).__name__}")
    if not _in_bounds(int(value), ge, gt, le, lt):
        raise ValueError(f"{name} must be an int{description}, got {value!r}")
    return int(value)


def check_float(
    name: str, value: object, *, ge: Bound = None, gt: Bound = None, le: Bound = None, lt: Bound = None
) -> float:
    """Check that `value` is a finite real number (an int or a float, never a bool) within the bounds
    `ge`, `gt`, `le`, `lt` (as for `check_int`).

    Returns:
        `value` as a Python ``float``.

    Raises:
        TypeError: `value` is not a real number.
        ValueError: `value` is NaN or infinite, or outside the bounds.

    Examples:
        >>> check_float("lr", 3e-4, gt=0)
        0.0003
    """
    description = _bounds(ge, gt, le, lt)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number{description}, got {type(value).__name__}")
    x = float(value)
    if not math.isfinite(x) or not _in_bounds(x, ge, gt, le, lt):
        raise ValueError(f"{name} must be a finite number{description}, got {value!r}")
    return x


def check_choice(name: str, value: T, choices: Collection[Any]) -> T:
    """Check that `value` is one of `choices` (a string option such as ``"max"`` or ``"avg"``).

    Returns:
        `value` unchanged.

    Raises:
        ValueError: `value` is not among `choices` (the message lists them).
    """
    try:
        ok = value in choices
    except TypeError:  # an unhashable value looked up in a set or dict
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_tensor(name: str, value: object) -> torch.Tensor:
    """Check that `value` is a `torch.Tensor`.

    Returns:
        `value` unchanged.

    Raises:
        TypeError: it is not (a NumPy array or a list must be converted first, e.g. ``torch.as_tensor``).
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def check_token_ids(name: str, value: object, vocab_size: int, *, ndim: int | None = None) -> torch.Tensor:
    """Check a tensor of token ids: ``torch.long``, every id in ``[0, vocab_size)``.

    An embedding layer would fail on such input too, but deep inside, with an index error that names
    neither the argument nor the vocabulary.

    Args:
        name: the argument's name, for the messages.
        value: what the caller passed.
        vocab_size: the number of ids; the largest allowed id is ``vocab_size - 1``.
        ndim: the number of dimensions required (``2`` for ``(batch, length)``), or ``None`` for any.

    Returns:
        `value` unchanged.

    Raises:
        TypeError: it is not a tensor, or not ``torch.long``.
        ValueError: it has the wrong number of dimensions, or an id outside ``[0, vocab_size)``.

    Examples:
        >>> check_token_ids("idx", torch.tensor([[3, 0, 9]]), 10, ndim=2).shape
        torch.Size([1, 3])
        >>> check_token_ids("idx", torch.tensor([4, 10]), 10)
        Traceback (most recent call last):
        ...
        ValueError: idx must hold ids in [0, 10), got [4, 10]
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a tensor of token ids, got {type(value).__name__}")
    if value.dtype != torch.long:
        raise TypeError(f"{name} must hold token ids as torch.long, got {value.dtype}")
    if ndim is not None and value.dim() != ndim:
        shape = " (batch, length)" if ndim == 2 else ""
        raise ValueError(f"{name} must have {ndim} dimensions{shape}, got shape {tuple(value.shape)}")
    low, high = (int(value.min()), int(value.max())) if value.numel() else (0, 0)
    if low < 0 or high >= vocab_size:
        raise ValueError(f"{name} must hold ids in [0, {vocab_size}), got [{low}, {high}]")
    return value


def check_callable(name: str, value: T) -> T:
    """Check that `value` can be called (a function, a module, a transform object).

    Returns:
        `value` unchanged.

    Raises:
        TypeError: it cannot.
    """
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__}")
    return value


def check_sizes(name: str, values: Iterable[object], *, what: str = "size") -> tuple[int, ...]:
    """Check a non-empty sequence of positive ints, such as the channels of a network's levels.

    Args:
        name: the argument's name, for the messages.
        values: the sizes.
        what: what one size stands for ("block", "level"), for the message of an empty sequence.

    Returns:
        The sizes as a tuple.

    Raises:
        TypeError: a size is not an int.
        ValueError: there is none, or a size is below 1.

    Examples:
        >>> check_sizes("channels", [16, 32])
        (16, 32)
    """
    sizes = tuple(values)
    if not sizes:
        raise ValueError(f"{name} must name at least one {what}, got ()")
    return tuple(check_int(f"{name}[{i}]", v, ge=1) for i, v in enumerate(sizes))
