"""lessons.bias: WEAT's association, effect size and permutation test."""

import itertools

import numpy as np
import pytest
import torch

from lessons.bias import association, effect_size, weat_p_value


def test_association_is_scale_free_and_signed():
    A, B = torch.eye(4)[:2], torch.eye(4)[2:]
    W = torch.tensor([[3.0, 0, 0, 0], [0, 0, 0, 0.5], [1.0, 1.0, 1.0, 1.0]])
    torch.testing.assert_close(association(W, A, B), torch.tensor([0.5, -0.5, 0.0]))


def test_p_value_is_the_exact_share_of_splits():
    torch.manual_seed(0)
    sx, sy = torch.randn(5) + 0.8, torch.randn(5)
    s = torch.cat([sx, sy]).double()
    observed = 2 * s[:5].sum() - s.sum()  # sum(sx) - sum(sy), in float64 like every split below
    splits = [torch.tensor(c) for c in itertools.combinations(range(10), 5)]
    count = sum(bool(2 * s[c].sum() - s.sum() >= observed - 1e-12) for c in splits)
    assert weat_p_value(sx, sy) == pytest.approx(count / len(splits), abs=1e-12)  # 252 splits: exact


def test_no_difference_gives_no_effect():
    s = torch.linspace(-1, 1, 20)
    assert effect_size(s[::2], s[1::2]) == pytest.approx(-0.1, abs=0.1)
    assert 0.3 < weat_p_value(s[::2], s[1::2], resamples=2_000) < 0.9


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="W must be a non-empty 2-D tensor"):
        association(torch.ones(3), torch.ones(1, 3), torch.ones(1, 3))
    with pytest.raises(ValueError, match="B has vectors of size 2, the targets have 3"):
        association(torch.ones(2, 3), torch.ones(1, 3), torch.ones(1, 2))
    with pytest.raises(ValueError, match="sy must be"):
        effect_size(torch.ones(3), torch.ones(0))
    with pytest.raises(ValueError, match="resamples"):
        weat_p_value(torch.ones(3), torch.zeros(3), resamples=0)
    assert np.isfinite(effect_size(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 1.0])))
