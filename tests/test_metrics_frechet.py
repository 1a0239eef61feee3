"""lessons.metrics: frechet_distance and the digit-CNN features it is used with, including bad input."""

import numpy as np
import pytest
import scipy.linalg
import torch

from lessons.datasets.images import load_mnist
from lessons.metrics import digit_class_agreement, digit_features, digit_frechet_distance, frechet_distance


def _scipy_frechet(a: torch.Tensor, b: torch.Tensor) -> float:
    """The textbook formula with scipy's general matrix square root (as pytorch-fid computes it)."""
    a, b = a.double().numpy(), b.double().numpy()
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def test_frechet_distance_equals_scipy_sqrtm():
    g = torch.Generator().manual_seed(0)
    for d in (1, 3, 16):
        a = torch.randn(400, d, generator=g, dtype=torch.float64)
        mix = torch.randn(d, d, generator=g, dtype=torch.float64)
        b = torch.randn(250, d, generator=g, dtype=torch.float64) @ mix
        assert frechet_distance(a, b) == pytest.approx(_scipy_frechet(a, b), rel=1e-9, abs=1e-9)


def test_frechet_distance_is_zero_for_identical_and_symmetric():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(300, 5, generator=g), torch.randn(200, 5, generator=g) * 2
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-9)


def test_frechet_distance_of_isotropic_gaussians_has_a_closed_form():
    # N(0, I) against N(m, s^2 I) in D dimensions: |m|^2 + D (1 - s)^2, here 4 + 8 * 0.25 = 6
    g = torch.Generator().manual_seed(2)
    d, s = 8, 1.5
    m = torch.zeros(d)
    m[0] = 2.0
    a = torch.randn(200_000, d, generator=g)
    b = m + s * torch.randn(200_000, d, generator=g)
    assert frechet_distance(a, b) == pytest.approx(4 + d * (1 - s) ** 2, rel=0.01)


def test_frechet_distance_rejects_bad_input():
    a = torch.randn(10, 3)
    with pytest.raises(TypeError, match="feats_a"):
        frechet_distance(a.numpy(), a)
    with pytest.raises(TypeError, match="feats_b"):
        frechet_distance(a, torch.ones(10, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="feats_a"):
        frechet_distance(torch.randn(10), a)
    with pytest.raises(ValueError, match="at least 2 rows"):
        frechet_distance(a, torch.randn(1, 3))
    with pytest.raises(ValueError, match="3 features per row but feats_b has 4"):
        frechet_distance(a, torch.randn(10, 4))


def test_digit_features_separate_real_digits_from_noise():
    X, y = load_mnist()
    g = torch.Generator().manual_seed(0)
    order = torch.randperm(len(X), generator=g)
    half_a, half_b = X[order[:1000]], X[order[1000:2000]]
    feats = digit_features(half_a, batch_size=300)
    assert feats.shape == (1000, 32) and feats.dtype == torch.float32
    real = digit_frechet_distance(half_a, half_b)
    noise = digit_frechet_distance(half_a, torch.rand(1000, 1, 28, 28, generator=g))
    ones = digit_frechet_distance(half_a, X[y == 1][:500])  # one class only: a collapsed generator
    assert real < 0.05 * ones and ones < noise
    assert digit_class_agreement(half_a, y[order[:1000]]) > 0.9
    assert digit_class_agreement(half_a, (y[order[:1000]] + 1) % 10) < 0.1


def test_digit_helpers_reject_bad_input():
    with pytest.raises(TypeError, match="images"):
        digit_features(np.zeros((2, 1, 28, 28), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        digit_features(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        digit_features(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match="batch_size"):
        digit_features(torch.zeros(2, 1, 28, 28), batch_size=0)
    with pytest.raises(TypeError, match="labels"):
        digit_class_agreement(torch.zeros(2, 1, 28, 28), [0, 1])
    with pytest.raises(ValueError, match="labels must have shape"):
        digit_class_agreement(torch.zeros(2, 1, 28, 28), torch.zeros(3, dtype=torch.int64))
