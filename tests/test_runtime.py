import random

import numpy as np
import pytest
import torch

from lessons import get_device, seed_everything


def draw() -> tuple[float, float, torch.Tensor]:
    return random.random(), float(np.random.rand()), torch.rand(3)


def test_same_seed_same_numbers_from_every_rng():
    seed_everything(7)
    a = draw()
    seed_everything(7)
    b = draw()
    assert a[:2] == b[:2] and torch.equal(a[2], b[2])
    seed_everything(8)
    assert draw()[0] != a[0]


def test_returns_a_seeded_generator():
    g1, g2 = seed_everything(3), seed_everything(3)
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))


@pytest.mark.parametrize("bad", [1.5, "1", None, True])
def test_seed_must_be_an_int(bad):
    with pytest.raises(TypeError, match="seed must be an int"):
        seed_everything(bad)


@pytest.mark.parametrize("bad", [-1, 2**32])
def test_seed_must_fit_numpy(bad):
    with pytest.raises(ValueError, match=r"seed must be an int in \[0, 4294967296\)"):
        seed_everything(bad)


def test_cpu_is_always_there():
    assert get_device("cpu") == torch.device("cpu")


def test_automatic_choice_and_override(monkeypatch):
    monkeypatch.delenv("LESSONS_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert get_device().type == expected
    monkeypatch.setenv("LESSONS_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_unknown_device_is_a_value_error():
    with pytest.raises(ValueError, match="prefer must be one of"):
        get_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_missing_device_is_a_runtime_error():
    with pytest.raises(RuntimeError, match="has no cuda device"):
        get_device("cuda")
