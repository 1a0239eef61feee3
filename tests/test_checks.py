"""Unit tests of lessons.checks: TypeError for a wrong type, ValueError for a wrong value, both naming it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lessons.checks import (
    check_callable,
    check_choice,
    check_float,
    check_int,
    check_sizes,
    check_tensor,
    check_token_ids,
)


def test_check_int_accepts_python_and_numpy_ints() -> None:
    assert check_int("n", 3, ge=1) == 3
    out = check_int("n", np.int64(5), ge=0, lt=10)
    assert out == 5 and type(out) is int
    assert check_int("n", -7) == -7  # no bounds


@pytest.mark.parametrize(
    ("value", "bounds", "error", "match"),
    [
        (True, {"ge": 0}, TypeError, "n must be an int >= 0, got bool"),
        (2.0, {}, TypeError, "n must be an int, got float"),
        ("3", {}, TypeError, "got str"),
        (0, {"ge": 1}, ValueError, "n must be an int >= 1, got 0"),
        (1, {"gt": 1}, ValueError, "> 1"),
        (10, {"ge": 0, "lt": 10}, ValueError, r"in \[0, 10\), got 10"),
        (11, {"le": 10}, ValueError, "<= 10"),
        (10, {"lt": 10}, ValueError, "< 10"),
    ],
)
def test_check_int_errors(value: object, bounds: dict, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        check_int("n", value, **bounds)


def test_check_float() -> None:
    assert check_float("p", 0, ge=0, lt=1) == 0.0
    assert check_float("p", np.float32(0.5), gt=0, le=1) == 0.5
    with pytest.raises(TypeError, match="p must be a number, got bool"):
        check_float("p", False)
    with pytest.raises(TypeError, match="got str"):
        check_float("p", "0.1")
    with pytest.raises(ValueError, match=r"p must be a finite number in \[0, 1\), got 1"):
        check_float("p", 1, ge=0, lt=1)
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        check_float("p", 0.0, gt=0, le=1)
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError, match="finite"):
            check_float("p", bad)


def test_contradictory_bounds_are_a_bug_of_the_caller() -> None:
    with pytest.raises(ValueError, match="at most one lower bound"):
        check_int("n", 1, ge=0, gt=0)
    with pytest.raises(ValueError, match="one upper bound"):
        check_float("p", 1.0, le=2, lt=2)


def test_check_choice() -> None:
    assert check_choice("pool", "max", ("max", "avg")) == "max"
    assert check_choice("depth", 18, {18: "a", 34: "b"}) == 18
    with pytest.raises(ValueError, match=r"pool must be one of \['max', 'avg'\], got 'sum'"):
        check_choice("pool", "sum", ("max", "avg"))
    with pytest.raises(ValueError, match="depth"):
        check_choice("depth", [18], {18: "a"})  # unhashable: not a choice, not a crash


def test_check_tensor_and_callable() -> None:
    t = torch.zeros(2)
    assert check_tensor("x", t) is t
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got ndarray"):
        check_tensor("x", np.zeros(2))
    assert check_callable("f", len) is len
    with pytest.raises(TypeError, match="f must be callable, got int"):
        check_callable("f", 3)


def test_check_sizes():
    assert check_sizes("channels", [16, 32]) == (16, 32)
    with pytest.raises(ValueError, match=r"channels must name at least one level, got \(\)"):
        check_sizes("channels", [], what="level")
    with pytest.raises(ValueError, match=r"channels\[1\] must be an int >= 1, got 0"):
        check_sizes("channels", (8, 0))
    with pytest.raises(TypeError, match=r"channels\[0\] must be an int"):
        check_sizes("channels", [2.5])


def test_check_token_ids():
    ids = torch.tensor([[0, 4, 9]])
    assert check_token_ids("idx", ids, 10, ndim=2) is ids
    assert check_token_ids("idx", torch.zeros(0, dtype=torch.long), 1).numel() == 0  # empty: nothing to range
    with pytest.raises(TypeError, match="idx must be a tensor of token ids, got list"):
        check_token_ids("idx", [[0, 4]], 10)
    with pytest.raises(TypeError, match="idx must hold token ids as torch.long, got torch.int32"):
        check_token_ids("idx", ids.int(), 10)
    with pytest.raises(ValueError, match=r"idx must have 2 dimensions \(batch, length\), got shape \(3,\)"):
        check_token_ids("idx", ids[0], 10, ndim=2)
    with pytest.raises(ValueError, match=r"idx must hold ids in \[0, 9\), got \[0, 9\]"):
        check_token_ids("idx", ids, 9)
    with pytest.raises(ValueError, match=r"got \[-1, 4\]"):
        check_token_ids("idx", torch.tensor([-1, 4]), 10)
