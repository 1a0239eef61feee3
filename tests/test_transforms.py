"""Unit tests of lessons.transforms: per-image and per-batch augmentation, normalisation."""

from __future__ import annotations

import pickle

import pytest
import torch

from lessons.transforms import (
    AddGaussianNoise,
    Compose,
    RandomAffine,
    channel_stats,
    normalize,
    random_crop_flip,
)


def test_random_affine_identity_and_shift():
    x = torch.zeros(1, 9, 9)
    x[0, 4, 4] = 1.0
    assert torch.allclose(RandomAffine(0, 0)(x), x, atol=1e-6)
    torch.manual_seed(0)
    shifted = RandomAffine(0, 0.3)(x)
    assert shifted.shape == x.shape and not torch.allclose(shifted, x)
    with pytest.raises(ValueError, match="image"):
        RandomAffine()(torch.zeros(2, 1, 9, 9))


def test_per_image_transforms_pickle_and_check_their_arguments():
    augment = pickle.loads(pickle.dumps(Compose([RandomAffine(15, 0.1), AddGaussianNoise(0.05)])))
    out = augment(torch.rand(1, 8, 8))
    assert out.shape == (1, 8, 8) and out.min() >= 0 and out.max() <= 1
    with pytest.raises(ValueError, match="degrees"):
        RandomAffine(degrees=-1)
    with pytest.raises(TypeError, match="degrees"):
        RandomAffine(degrees="10")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="translate"):
        RandomAffine(translate=1.0)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        RandomAffine()([[0.0]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="std"):
        AddGaussianNoise(-0.1)
    with pytest.raises(TypeError, match=r"transforms\[0\]"):
        Compose([1])  # type: ignore[list-item]


def test_random_crop_flip_moves_windows_of_the_padded_image() -> None:
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6) + 1
    assert torch.equal(random_crop_flip(x, 0, flip=False), x)
    assert torch.equal(
        random_crop_flip(x, 0, flip=True, generator=torch.Generator().manual_seed(1)).sum(), x.sum()
    )
    out = random_crop_flip(x, 2, flip=False, generator=torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for i in range(2):  # every output image is one 6x6 window of its padded input, same offset per channel
        windows = [padded[i, :, a : a + 6, b : b + 6] for a in range(5) for b in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)
    assert out.dtype == x.dtype and out.shape == x.shape
    u8 = random_crop_flip(torch.full((3, 1, 4, 4), 7, dtype=torch.uint8), 1)
    assert u8.dtype == torch.uint8 and set(u8.unique().tolist()) <= {0, 7}
    with pytest.raises(ValueError, match="padding"):
        random_crop_flip(x, -1)
    with pytest.raises(TypeError, match="padding"):
        random_crop_flip(x, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="N, C, H, W"):
        random_crop_flip(x[0], 1)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        random_crop_flip(x.numpy(), 1)  # type: ignore[arg-type]


def test_normalize_and_channel_stats() -> None:
    x = torch.randint(0, 256, (50, 3, 4, 4), dtype=torch.uint8)
    mean, std = channel_stats(x)
    z = normalize(x, mean, std)
    assert torch.allclose(z.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(z.std((0, 2, 3)), torch.ones(3), atol=1e-4)
    assert torch.allclose(normalize(x.float() / 255, mean, std), z, atol=1e-5)
    with pytest.raises(ValueError, match="one per channel"):
        normalize(x, (0.5,), (0.2,))
    with pytest.raises(ValueError, match="positive"):
        normalize(x, mean, (1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="N, C, H, W"):
        normalize(x[0], mean, std)
    with pytest.raises(ValueError, match="empty"):
        channel_stats(torch.zeros(0, 3, 2, 2))
    with pytest.raises(TypeError, match="images"):
        channel_stats([[0.0]])  # type: ignore[arg-type]
