"""The pieces of the GAN-faces project: `load_lfw_faces`, `random_crop`, `random_brightness`, and the
DCGAN networks at 24×24."""

import numpy as np
import pytest
import torch

import lessons.datasets.images as images_module
from lessons.datasets.images import LFWFaces, load_lfw_faces
from lessons.models.gan import DCGANDiscriminator, DCGANGenerator
from lessons.transforms import random_brightness, random_crop


def test_lfw_faces_split_is_disjoint_and_reproducible():
    lfw = load_lfw_faces(test_size=20, seed=0)
    assert isinstance(lfw, LFWFaces)
    assert [tuple(t.shape) for t in lfw] == [
        (80, 1, 25, 25),
        (20, 1, 25, 25),
        (80, 1, 25, 25),
        (20, 1, 25, 25),
    ]
    assert all(t.dtype == torch.float32 and t.min() >= 0 and t.max() <= 1 for t in lfw)
    from skimage.data import lfw_subset

    raw = torch.from_numpy(lfw_subset()).float().flatten(1)
    faces = torch.cat([lfw.faces, lfw.test_faces]).flatten(1)
    non_faces = torch.cat([lfw.non_faces, lfw.test_non_faces]).flatten(1)
    exact = "donot_use_mm_for_euclid_dist"  # exact distances: a copy is at 0
    # every face comes from the first 100 images, every non-face from the last 100, each exactly once
    for part, block in ((faces, raw[:100]), (non_faces, raw[100:])):
        d = torch.cdist(part, block, compute_mode=exact)
        assert d.min(1).values.max() < 1e-6
        assert d.argmin(1).unique().numel() == 100
    again = load_lfw_faces(test_size=20, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(lfw, again, strict=True))
    other = load_lfw_faces(test_size=20, seed=1)
    assert not torch.equal(lfw.test_faces, other.test_faces)
    assert load_lfw_faces(test_size=0).test_faces.shape == (0, 1, 25, 25)


def test_lfw_faces_errors(monkeypatch):
    with pytest.raises(ValueError, match="test_size"):
        load_lfw_faces(test_size=100)
    with pytest.raises(TypeError, match="test_size"):
        load_lfw_faces(test_size=0.2)
    with pytest.raises(ValueError, match="seed"):
        load_lfw_faces(seed=-1)
    monkeypatch.setattr(images_module, "_lfw_array", lambda: np.zeros((100, 25, 25)))
    with pytest.raises(RuntimeError, match="200 images of 25x25"):
        load_lfw_faces()
    monkeypatch.setattr(images_module, "_lfw_array", lambda: np.full((200, 25, 25), 2.0))
    with pytest.raises(RuntimeError, match=r"\[0, 1\]"):
        load_lfw_faces()
    monkeypatch.setattr(images_module, "_lfw_array", lambda: np.full((200, 25, 25), 255, dtype=np.uint8))
    assert load_lfw_faces().faces.max().item() == 1.0  # uint8 releases are scaled


def test_random_crop_takes_windows_of_the_image():
    x = torch.arange(3 * 2 * 25 * 25, dtype=torch.float32).view(3, 2, 25, 25)
    g = torch.Generator().manual_seed(0)
    out = random_crop(x, 24, generator=g)
    assert out.shape == (3, 2, 24, 24)
    for i in range(3):
        windows = [x[i, :, r : r + 24, c : c + 24] for r in (0, 1) for c in (0, 1)]
        assert any(torch.equal(out[i], w) for w in windows)
    offsets = set()
    for s in range(20):
        y = random_crop(x[:1], 24, generator=torch.Generator().manual_seed(s))
        offsets.add(int(y[0, 0, 0, 0].item()))
    assert offsets == {0, 1, 25, 26}  # all four shifts of one pixel appear
    # padding replicates the edge: no zeros appear in an image without zeros
    padded = random_crop(x + 1, 25, padding=3, flip=True, generator=g)
    assert padded.shape == (3, 2, 25, 25) and padded.min() >= 1
    flipped = {
        torch.equal(
            random_crop(x, 25, flip=True, generator=torch.Generator().manual_seed(s))[0], x[0].flip(2)
        )
        for s in range(10)
    }
    assert flipped == {True, False}


def test_random_crop_and_brightness_errors():
    x = torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError, match="size"):
        random_crop(x, 9)
    assert random_crop(x, 10, padding=1).shape == (2, 1, 10, 10)
    with pytest.raises(ValueError, match="padding"):
        random_crop(x, 4, padding=-1)
    with pytest.raises(ValueError, match="batch of images"):
        random_crop(x[0], 4)
    with pytest.raises(ValueError, match="delta"):
        random_brightness(x, 1.5)
    with pytest.raises(TypeError, match="x"):
        random_brightness(x.numpy(), 0.1)


def test_random_brightness_shifts_each_image_by_one_offset():
    x = torch.full((500, 1, 4, 4), 0.5)
    out = random_brightness(x, 0.1, generator=torch.Generator().manual_seed(0))
    per_image = out.flatten(1)
    assert torch.all(per_image.max(1).values == per_image.min(1).values)  # one offset per image
    shift = per_image[:, 0] - 0.5
    assert shift.abs().max() <= 0.1 + 1e-6 and shift.min() < -0.08 and shift.max() > 0.08
    assert random_brightness(torch.ones(3, 1, 2, 2), 0.5).max() <= 1  # clipped to [0, 1]


def test_dcgan_at_24_pixels():
    G = DCGANGenerator(z_dim=8, width=4, image_size=24)
    D = DCGANDiscriminator(width=4, image_size=24)
    x = G(torch.randn(5, 8))
    assert x.shape == (5, 1, 24, 24) and x.abs().max() <= 1
    assert D(x).shape == (5,)
    with pytest.raises(ValueError, match=r"\(N, 1, 24, 24\)"):
        D(torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match="multiple of 4"):
        DCGANGenerator(image_size=26)
    with pytest.raises(ValueError, match="image_size"):
        DCGANDiscriminator(image_size=4)
    # the default is still the 28×28 DCGAN, with the same parameters
    assert DCGANGenerator().net[0].kernel_size == (7, 7) and DCGANDiscriminator().net[-1].kernel_size == (
        7,
        7,
    )
