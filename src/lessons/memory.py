"""Measure the memory that tensors take on a CPU, where PyTorch keeps no allocator statistics.

`torch.cuda.max_memory_allocated()` answers "how much memory did this step need at most" on a GPU; on a CPU
there is no such counter. `MemoryMeter` counts it from the operators themselves: while it is active, every
tensor storage that an operator creates is added to `live` (and `peak` is the largest `live` reached), and
subtracted again when Python or autograd frees it. Phase 9 uses it to see what gradient checkpointing saves::

    with MemoryMeter(exclude=model.parameters()) as meter:
        loss = model(x).sum()
        stored = meter.live           # bytes kept for the backward pass
        loss.backward()
    meter.peak                        # the most bytes alive at any moment, recomputation included

It counts tensor storages, not the allocator's blocks, so the numbers are exact and the same on every machine
(the small workspaces that BLAS or oneDNN allocate inside an operator are not tensors and are not counted).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from lessons.checks import check_tensor

__all__ = ["MemoryMeter"]


class MemoryMeter(TorchDispatchMode):
    """Bytes of tensor storage created while the meter is active and still alive (`live`), and the maximum.

    Every output of every operator run inside ``with MemoryMeter():`` (forward, backward, recomputation
    inside `torch.utils.checkpoint`) is looked at once: a new storage adds its size to `live`, and the
    storage's release subtracts it, whenever that happens (inside or after the block). Outputs that alias an
    input (views such as ``w.t()``, in-place ops) allocate nothing and are not counted.

    Args:
        exclude: tensors that exist before the measurement (parameters, the input batch): a storage shared
            with one of them is never counted, even if an operator returns it as a new tensor.

    Attributes:
        live: bytes of counted storages alive now.
        peak: the largest value `live` has had since the meter was created (or `reset_peak` called).

    Raises:
        TypeError: an item of `exclude` is not a tensor.

    Examples:
        >>> with MemoryMeter() as meter:
        ...     a = torch.zeros(1000)          # 4,000 bytes of float32
        ...     b = a.view(10, 100)            # a view: nothing new
        ...     del a, b
        >>> meter.live, meter.peak
        (0, 4000)
    """

    def __init__(self, exclude: Iterable[torch.Tensor] = ()) -> None:
        super().__init__()
        self._excluded = {check_tensor("exclude", t).untyped_storage().data_ptr() for t in exclude}
        self._alive: set[int] = set()  # data pointers of counted storages that are alive
        self.live = 0
        self.peak = 0

    def reset_peak(self) -> None:
        """Start a new maximum from the current `live` (e.g. to measure the backward pass alone)."""
        self.peak = self.live

    def _free(self, key: int, nbytes: int) -> None:
        self._alive.discard(key)
        self.live -= nbytes

    def _count(self, tensor: torch.Tensor) -> None:
        if tensor.device.type == "meta" or tensor.is_sparse:
            return
        storage = tensor.untyped_storage()
        key, nbytes = storage.data_ptr(), storage.nbytes()
        if nbytes == 0 or key in self._alive or key in self._excluded:
            return
        self._alive.add(key)
        self.live += nbytes
        self.peak = max(self.peak, self.live)
        weakref.finalize(storage, self._free, key, nbytes)  # runs when the storage itself is freed

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        returns = func._schema.returns
        outputs = out if isinstance(out, tuple | list) and len(returns) == len(out) else [out]
        for ret, value in zip(returns, outputs, strict=False):
            if ret.alias_info is not None:  # a view or an in-place result: no new memory
                continue
            for tensor in tree_flatten(value)[0]:
                if isinstance(tensor, torch.Tensor):
                    self._count(tensor)
        return out
