"""Unit tests of lessons.numerics: central differences, relative error, gradient check."""

from __future__ import annotations

import numpy as np
import pytest

from lessons.numerics import gradient_check, numerical_gradient, relative_error


def quadratic(A: np.ndarray, b: np.ndarray):
    return lambda x: float(0.5 * x @ A @ x - b @ x)


def test_gradient_of_quadratic_matches_closed_form():
    rng = np.random.default_rng(0)
    M = rng.normal(size=(4, 4))
    A, b, x = M @ M.T + np.eye(4), rng.normal(size=4), rng.normal(size=4)
    np.testing.assert_allclose(numerical_gradient(quadratic(A, b), x), A @ x - b, rtol=1e-7, atol=1e-8)


def test_matrix_argument_keeps_shape_and_is_not_modified():
    W = np.arange(6, dtype=np.float64).reshape(2, 3)
    before = W.copy()
    grad = numerical_gradient(lambda w: float(np.sum(w**3)), W)
    assert grad.shape == (2, 3) and grad.dtype == np.float64
    np.testing.assert_allclose(grad, 3 * W**2, rtol=1e-7, atol=1e-6)
    np.testing.assert_array_equal(W, before)


def test_scalar_integer_and_float32_inputs_are_promoted_to_float64():
    assert numerical_gradient(lambda v: float(v**2), 3) == pytest.approx(6.0, rel=1e-8)
    g32 = numerical_gradient(lambda v: float(np.sum(np.exp(v))), np.array([0.0, 1.0], dtype=np.float32))
    assert g32.dtype == np.float64
    np.testing.assert_allclose(g32, np.exp([0.0, 1.0]), rtol=1e-8)


def test_f_may_return_numpy_scalar_or_size_one_array():
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v**2), x), 2 * x, rtol=1e-8)
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v**2).reshape(1, 1), x), 2 * x, rtol=1e-8)


def test_central_difference_beats_forward_difference():
    # The error of a central difference is O(eps^2): with eps=1e-3 it is about 1e-7, not 1e-3.
    g = numerical_gradient(lambda v: float(np.sin(v[0])), np.array([1.0]), eps=1e-3)
    assert abs(g[0] - np.cos(1.0)) < 1e-7


def test_relative_error_values():
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert relative_error([1.0], [3.0]) == pytest.approx(0.5)
    assert relative_error([0.0], [0.0]) == 0.0
    assert relative_error([0.0], [1e-10], floor=1e-8) == pytest.approx(1e-2)
    assert relative_error(np.ones((2, 2)), np.ones((2, 2)) * 1.1) == pytest.approx(0.1 / 2.1)


def test_gradient_check_accepts_right_gradient_and_flags_wrong_one():
    x = np.array([0.3, -1.2, 2.5])
    f = lambda v: float(np.sum(np.tanh(v)))  # noqa: E731
    assert gradient_check(f, x, 1 - np.tanh(x) ** 2) < 1e-8
    assert gradient_check(f, x, 1 - np.tanh(x)) > 1e-2  # a classic slip: forgot the square


def test_gradient_check_flags_a_kink():
    # |x| at 1e-7 with eps=1e-6: the difference straddles the kink and averages the two slopes.
    assert gradient_check(lambda v: float(np.abs(v).sum()), np.array([1e-7]), np.array([1.0])) > 0.5


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"f": 3.0}, TypeError, "f must be callable"),
        ({"x": np.array([True, False])}, TypeError, "x must be an array of real numbers"),
        ({"x": np.array([1 + 2j])}, TypeError, "x must be an array of real numbers"),
        ({"x": ["a", "b"]}, TypeError, "x must be an array of real numbers"),
        ({"x": np.zeros(0)}, ValueError, "x must have at least one entry"),
        ({"eps": 0.0}, ValueError, "eps must be a finite number > 0"),
        ({"eps": -1e-6}, ValueError, "eps must be a finite number > 0"),
        ({"eps": float("nan")}, ValueError, "eps must be a finite number > 0"),
        ({"eps": "1e-6"}, TypeError, "eps must be a number > 0"),
        ({"eps": True}, TypeError, "eps must be a number > 0"),
        ({"f": lambda v: v * 2}, ValueError, "f must return one real number"),
        ({"f": lambda v: "loss"}, ValueError, "f must return one real number"),
        ({"f": lambda v: float("inf")}, ValueError, "non-finite"),
    ],
)
def test_numerical_gradient_errors(kwargs, error, match):
    args = {"f": lambda v: float(np.sum(v)), "x": np.ones(2), "eps": 1e-6} | kwargs
    with pytest.raises(error, match=match):
        numerical_gradient(**args)


def test_relative_error_errors():
    with pytest.raises(ValueError, match="same shape"):
        relative_error(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="at least one entry"):
        relative_error([], [])
    with pytest.raises(TypeError, match="b must be an array of real numbers"):
        relative_error([1.0], ["x"])
    with pytest.raises(ValueError, match="floor must be a finite number > 0"):
        relative_error([1.0], [1.0], floor=0)


def test_gradient_check_errors():
    f = lambda v: float(np.sum(v))  # noqa: E731
    with pytest.raises(ValueError, match=r"analytic_grad must have the shape of x \(3,\)"):
        gradient_check(f, np.ones(3), np.ones(2))
    with pytest.raises(TypeError, match="analytic_grad must be an array of real numbers"):
        gradient_check(f, np.ones(1), np.array([None]))
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        gradient_check(f, np.ones(1), np.ones(1), eps=-1.0)
