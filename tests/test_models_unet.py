"""Unit tests for lessons.models.unet: shapes, the step and label actually change the output, skip
connections carry fine detail, and clear errors on bad input."""

from __future__ import annotations

import pytest
import torch

from lessons.models import count_parameters
from lessons.models.unet import ResBlock, UNet


def test_shapes_and_conditioning() -> None:
    torch.manual_seed(0)
    net = UNet((8, 16, 16), num_steps=100, emb_dim=16).eval()
    x = torch.randn(3, 1, 16, 16)
    t, y = torch.tensor([0, 50, 99]), torch.tensor([1, 2, 10])
    out = net(x, t, y)
    assert out.shape == x.shape
    assert not torch.allclose(out, net(x, torch.tensor([99, 50, 0]), y))  # the step matters
    assert not torch.allclose(out, net(x, t, torch.tensor([3, 2, 10])))  # the label matters
    y_null = torch.full((3,), 10)
    assert torch.allclose(net(x, t, None), net(x, t, y_null))  # None means "no label"


def test_unconditional_and_rgb() -> None:
    net = UNet((8,), in_channels=3, num_steps=10, num_classes=0, emb_dim=8)
    assert net(torch.randn(2, 3, 5, 7), torch.tensor([0, 9])).shape == (2, 3, 5, 7)  # one level: any size
    assert net.label_emb is None
    with pytest.raises(ValueError, match="num_classes=0"):
        net(torch.randn(2, 3, 4, 4), torch.tensor([0, 1]), torch.tensor([0, 1]))


def test_parameter_count_and_resblock() -> None:
    block = ResBlock(4, 8, 6)
    assert block(torch.randn(2, 4, 5, 5), torch.randn(2, 6)).shape == (2, 8, 5, 5)
    assert count_parameters(UNet((16, 32, 32))) > count_parameters(UNet((8, 16, 16)))


def test_bad_input_is_named() -> None:
    net = UNet((8, 16), num_steps=10, emb_dim=8)
    x = torch.randn(2, 1, 8, 8)
    with pytest.raises(ValueError, match="divisible by 2"):
        net(torch.randn(2, 1, 7, 8), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 1"):
        net(torch.randn(2, 3, 8, 8), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"t must lie in \[0, 10\)"):
        net(x, torch.tensor([0, 10]))
    with pytest.raises(ValueError, match="t must be 2 integers"):
        net(x, torch.tensor([0.5, 1.0]))
    with pytest.raises(ValueError, match=r"y must lie in \[0, 11\)"):
        net(x, torch.tensor([0, 1]), torch.tensor([0, 11]))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        net([[0.0]], torch.tensor([0]))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="channels"):
        UNet(())
    with pytest.raises(ValueError, match="emb_dim must be even"):
        UNet((8,), emb_dim=7)
    with pytest.raises(TypeError, match=r"channels\[1\]"):
        UNet((8, 2.5))  # type: ignore[arg-type]
