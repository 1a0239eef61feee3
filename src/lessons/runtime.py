"""Reproducibility and device choice: the two calls every chapter starts with."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from lessons.checks import check_int

__all__ = ["seed_everything", "get_device"]


def seed_everything(seed: int = 0, *, deterministic: bool = False) -> torch.Generator:
    """Seed Python's `random`, NumPy's global RNG and torch (CPU and every CUDA device).

    Args:
        seed: a non-negative integer below 2**32 (NumPy's limit).
        deterministic: also ask torch for deterministic kernels (slower; only matters on GPUs).

    Returns:
        A `torch.Generator` seeded with `seed`, handy for a `DataLoader(generator=...)`.

    Raises:
        TypeError: `seed` is not an int (a float such as 1.5 would silently be truncated elsewhere).
        ValueError: `seed` is negative or not below 2**32.

    Examples:
        >>> import torch
        >>> _ = seed_everything(42); a = torch.rand(2)
        >>> _ = seed_everything(42); b = torch.rand(2)
        >>> bool(torch.equal(a, b))
        True
    """
    seed = check_int("seed", seed, ge=0, lt=2**32)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    os.environ["PYTHONHASHSEED"] = str(seed)  # inherited by worker processes started from here
    if deterministic:
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def get_device(prefer: str | None = None) -> torch.device:
    """Pick where tensors should live: CUDA if present, then Apple's MPS, else the CPU.

    Args:
        prefer: ``"cpu"``, ``"cuda"`` or ``"mps"`` to ask for one device; ``None`` picks the best available.
            The environment variable ``LESSONS_DEVICE`` overrides the automatic choice (not an explicit one).

    Returns:
        A `torch.device`.

    Raises:
        ValueError: `prefer` names an unknown device.
        RuntimeError: `prefer` names a device this machine does not have.

    Examples:
        >>> get_device("cpu")
        device(type='cpu')
    """
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
    }
    if prefer is None:
        prefer = os.environ.get("LESSONS_DEVICE") or next(d for d in ("cuda", "mps", "cpu") if available[d])
    if prefer not in available:
        raise ValueError(f"prefer must be one of {sorted(available)} or None, got {prefer!r}")
    if not available[prefer]:
        raise RuntimeError(f"prefer={prefer!r} but this machine has no {prefer} device")
    return torch.device(prefer)
