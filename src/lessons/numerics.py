"""Numerical checks for hand-written derivatives: central differences and the relative error.

Phase 2 derives gradients by hand and checks them here; Phase 4 uses the same two calls to check a
hand-written backward pass before trusting it::

    num = numerical_gradient(loss, w)            # shape of w
    assert gradient_check(loss, w, grad_w) < 1e-6  # max relative error over the entries

Everything runs in float64 on NumPy arrays: with ``eps = 1e-6`` a central difference is accurate to about
``1e-10`` relative to the size of ``f``, far below what float32 could resolve.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from lessons.checks import check_float

__all__ = ["gradient_check", "numerical_gradient", "relative_error"]


def _as_float_array(x: Any, name: str) -> NDArray[np.float64]:
    """A float64 copy of the real-valued array-like `x`; TypeError naming `name` otherwise."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":  # bool, complex, object, strings are all refused
        raise TypeError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
    return np.array(arr, dtype=np.float64, copy=True)


def _scalar(value: Any) -> float:
    """The float that `f` returned; ValueError if `f` returned several numbers or a non-finite one."""
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "iuf":
        raise ValueError(
            f"f must return one real number (a loss), got {type(value).__name__} "
            f"with shape {arr.shape} and dtype {arr.dtype}"
        )
    out = float(arr.reshape(()))
    if not np.isfinite(out):
        raise ValueError(f"f returned a non-finite value ({out}); the gradient is undefined there")
    return out


def numerical_gradient(
    f: Callable[[NDArray[np.float64]], Any], x: ArrayLike, eps: float = 1e-6
) -> NDArray[np.float64]:
    """Gradient of a scalar function by central differences, one coordinate at a time.

    For each entry ``i``: ``(f(x + eps * e_i) - f(x - eps * e_i)) / (2 * eps)``, whose error is
    ``O(eps**2)`` (a forward difference would be ``O(eps)``). Costs ``2 * x.size`` calls of `f`.

    Args:
        f: maps an array shaped like `x` to one real number (a Python float, a NumPy scalar or a
            size-1 array). It must compute its result from the array it is given: it receives a
            perturbed float64 copy, never `x` itself.
        x: the point, any shape (a scalar, a vector, a weight matrix ...), real dtype.
        eps: the step, positive. ``1e-6`` suits float64 functions of size about 1.

    Returns:
        float64 array with the shape of `x`: the estimated ``df/dx``. `x` is not modified.

    Raises:
        TypeError: `f` is not callable, `x` is not real-valued (bool, complex, strings), or `eps` is
            not a number.
        ValueError: `eps` is not positive and finite, `x` is empty, or `f` does not return one finite
            real number.

    Examples:
        >>> import numpy as np
        >>> g = numerical_gradient(lambda v: float(np.sum(v**2)), np.array([1.0, -2.0]))
        >>> np.round(g, 6).tolist()
        [2.0, -4.0]
    """
    if not callable(f):
        raise TypeError(f"f must be callable (x -> float), got {type(f).__name__}")
    eps = check_float("eps", eps, gt=0)
    point = _as_float_array(x, "x")
    if point.size == 0:
        raise ValueError("x must have at least one entry, got an empty array")
    grad = np.zeros_like(point)
    flat_point, flat_grad = point.reshape(-1), grad.reshape(-1)  # views: writing them writes point/grad
    for i in range(flat_point.size):
        original = flat_point[i]
        flat_point[i] = original + eps
        f_plus = _scalar(f(point))
        flat_point[i] = original - eps
        f_minus = _scalar(f(point))
        flat_point[i] = original  # restore before the next coordinate
        flat_grad[i] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def relative_error(a: ArrayLike, b: ArrayLike, floor: float = 1e-8) -> float:
    """Largest entrywise relative difference ``|a - b| / max(|a| + |b|, floor)``.

    The `floor` keeps entries where both values are (nearly) zero from dividing by zero: there the
    result is an absolute difference scaled by ``1 / floor``.

    Args:
        a: array-like of real numbers.
        b: array-like of real numbers, the same shape as `a`.
        floor: positive lower bound for the denominator.

    Returns:
        A float in ``[0, 1]`` when no denominator hits `floor`: 0 means identical, about 1e-7 or less is
        what a correct gradient gives against a central difference in float64.

    Raises:
        TypeError: `a` or `b` is not real-valued, or `floor` is not a number.
        ValueError: the shapes differ, the arrays are empty, or `floor` is not positive.

    Examples:
        >>> relative_error([1.0, 2.0], [1.0, 2.0])
        0.0
    """
    floor = check_float("floor", floor, gt=0)
    a_arr, b_arr = _as_float_array(a, "a"), _as_float_array(b, "b")
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"a and b must have the same shape, got {a_arr.shape} and {b_arr.shape}")
    if a_arr.size == 0:
        raise ValueError("a and b must have at least one entry")
    denom = np.maximum(np.abs(a_arr) + np.abs(b_arr), floor)
    return float(np.max(np.abs(a_arr - b_arr) / denom))


def gradient_check(
    f: Callable[[NDArray[np.float64]], Any],
    x: ArrayLike,
    analytic_grad: ArrayLike,
    eps: float = 1e-6,
    floor: float = 1e-8,
) -> float:
    """Compare a gradient you derived with the central-difference estimate; return the max relative error.

    Rules of thumb in float64 with the defaults: below ``1e-7`` the gradient is right; around ``1e-4``
    look for a kink (ReLU, max, abs) near `x`; above ``1e-2`` the derivation is wrong.

    Args:
        f: scalar function of an array shaped like `x` (see `numerical_gradient`).
        x: the point where both gradients are evaluated.
        analytic_grad: your gradient of `f` at `x`, the same shape as `x`.
        eps: the finite-difference step.
        floor: denominator floor of `relative_error`.

    Returns:
        ``relative_error(analytic_grad, numerical_gradient(f, x, eps), floor)``.

    Raises:
        ValueError: `analytic_grad` does not have the shape of `x`; and every error of
            `numerical_gradient` and `relative_error`.
        TypeError: as in `numerical_gradient` and `relative_error`.

    Examples:
        >>> import numpy as np
        >>> x = np.array([0.5, -1.5, 2.0])
        >>> gradient_check(lambda v: float(np.sum(np.sin(v))), x, np.cos(x)) < 1e-8
        True
    """
    analytic = _as_float_array(analytic_grad, "analytic_grad")
    point_shape = np.shape(x)
    if analytic.shape != point_shape:
        raise ValueError(f"analytic_grad must have the shape of x {point_shape}, got {analytic.shape}")
    numeric = numerical_gradient(f, x, eps)
    return relative_error(analytic, numeric, floor)
