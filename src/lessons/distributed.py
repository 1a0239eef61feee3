"""Distributed data parallelism on CPU processes (gloo), for the Phase 9 pages.

Code that runs in a spawned process must be importable by that process, so it lives here and not on
a page. :func:`train_ddp` starts ``world_size`` processes that train one small linear model with
``DistributedDataParallel`` and a ``DistributedSampler``; :func:`train_single` trains the same model
in one process on the full batch. With a mean loss the two agree: DDP all-reduces and averages the
gradients, and the sampler gives each rank an equal share of the batch.

Every process gets a timeout (a hang cannot block the caller) and a free port (never a fixed one).
"""

from __future__ import annotations

import datetime
import multiprocessing as mp
import os
import socket
import tempfile
from pathlib import Path

import torch
from torch import nn

from lessons.checks import check_float, check_int

__all__ = ["free_port", "make_data", "make_model", "train_ddp", "train_single"]

N_SAMPLES = 16
N_FEATURES = 4
LR = 0.1


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed regression batch: ``N_SAMPLES`` rows of ``N_FEATURES`` features and one target."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(N_SAMPLES, N_FEATURES, generator=g)
    y = X @ torch.arange(1.0, N_FEATURES + 1).unsqueeze(1) + 0.1 * torch.randn(N_SAMPLES, 1, generator=g)
    return X, y


def make_model(seed: int = 0) -> nn.Linear:
    """The model every rank builds: ``nn.Linear(N_FEATURES, 1)`` initialised from ``seed``."""
    torch.manual_seed(seed)
    return nn.Linear(N_FEATURES, 1)


def _check(world_size: int, steps: int, timeout: float) -> None:
    check_int("world_size", world_size, ge=1)
    if N_SAMPLES % world_size:
        raise ValueError(f"world_size must be a positive divisor of {N_SAMPLES}, got {world_size!r}")
    check_int("steps", steps, ge=1)
    check_float("timeout", timeout, gt=0)


def train_single(steps: int = 5, seed: int = 0) -> dict[str, torch.Tensor]:
    """Train the model in this process with SGD on the full batch; return its state dict."""
    check_int("steps", steps, ge=1)
    X, y = make_data(seed)
    model = make_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(X), y).backward()
        opt.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _worker(rank: int, world_size: int, port: int, steps: int, seed: int, out: str, timeout: float) -> None:
    """One rank: join the gloo group, train with DDP on its share of the batch, rank 0 saves the weights."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=timeout),
    )
    try:
        dataset = TensorDataset(*make_data(seed))
        sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=False)
        loader = DataLoader(dataset, batch_size=N_SAMPLES // world_size, sampler=sampler)
        model = DistributedDataParallel(make_model(seed))
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        for _ in range(steps):
            for xb, yb in loader:  # one batch per rank: its half (for 2 ranks) of the 16 rows
                opt.zero_grad()
                nn.functional.mse_loss(model(xb), yb).backward()  # backward all-reduces the gradients
                opt.step()
        if rank == 0:
            torch.save(model.module.state_dict(), out)
    finally:
        dist.destroy_process_group()


def train_ddp(
    world_size: int = 2, steps: int = 5, seed: int = 0, timeout: float = 60.0
) -> dict[str, torch.Tensor]:
    """Train with DDP on ``world_size`` gloo processes; return rank 0's state dict.

    Each process is joined with ``timeout`` seconds (and gloo's collectives time out after the same);
    a process still alive then is killed and :class:`TimeoutError` is raised.
    """
    _check(world_size, steps, timeout)
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rank0.pt")
        port = free_port()
        procs = [
            ctx.Process(target=_worker, args=(r, world_size, port, steps, seed, out, timeout))
            for r in range(world_size)
        ]
        for p in procs:
            p.start()
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=timeout)
        for p in procs:
            p.join(max(0.0, (deadline - datetime.datetime.now()).total_seconds()))
        alive = [p for p in procs if p.is_alive()]
        for p in alive:
            p.kill()
            p.join()
        if alive:
            raise TimeoutError(f"{len(alive)} of {world_size} processes still running after {timeout} s")
        codes = [p.exitcode for p in procs]
        if any(codes) or not Path(out).exists():
            raise RuntimeError(f"a DDP process failed; exit codes {codes}")
        return torch.load(out)
