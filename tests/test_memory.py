import pytest
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from lessons.memory import MemoryMeter


def test_counts_new_storages_and_their_release() -> None:
    with MemoryMeter() as meter:
        a = torch.zeros(1000)  # 4,000 bytes
        b = torch.ones(500, dtype=torch.float64)  # 4,000 bytes
        assert meter.live == 8000
        del a
        assert meter.live == 4000
    assert meter.peak == 8000
    del b
    assert meter.live == 0  # freed after the block: still counted


def test_views_and_in_place_ops_allocate_nothing() -> None:
    with MemoryMeter() as meter:
        a = torch.zeros(10, 10)
        a.t()
        a.view(100)
        a.add_(1)
        a[0]
    assert meter.live == meter.peak == 400


def test_excluded_tensors_are_never_counted() -> None:
    w = torch.randn(8, 8)
    with MemoryMeter(exclude=[w]) as meter:
        w.t().contiguous()  # a copy: counted, then freed
        w.detach()  # a new tensor on w's storage: not counted
    assert meter.live == 0 and meter.peak == 256


def test_reset_peak() -> None:
    with MemoryMeter() as meter:
        a = torch.zeros(100)
        b = torch.zeros(100)
        del b
        meter.reset_peak()
        assert meter.peak == meter.live == 400
    del a


def test_checkpointing_stores_less_and_recomputes_in_the_backward_pass() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(*[nn.Sequential(nn.Linear(16, 16), nn.Tanh()) for _ in range(4)])
    x = torch.randn(32, 16)
    act = 32 * 16 * 4
    stored = {}
    for ckpt in (False, True):
        with MemoryMeter(exclude=[x, *model.parameters()]) as meter:
            h = checkpoint(model, x, use_reentrant=False) if ckpt else model(x)
            stored[ckpt] = meter.live
            h.sum().backward()
        assert meter.peak >= 4 * act  # the recomputed activations are seen too
    assert stored[False] == 4 * act and stored[True] == act


def test_exclude_must_hold_tensors() -> None:
    with pytest.raises(TypeError, match="exclude"):
        MemoryMeter(exclude=[[1.0, 2.0]])
