"""Distributed training on CPU processes (gloo), for the Phase 9 pages.

Code that runs in a spawned process must be importable by that process, so it lives here and not on
a page. Each ``train_*``/``run_*`` function below has a single-process reference it must equal:

- data parallelism: :func:`train_ddp` (``DistributedDataParallel`` + ``DistributedSampler``) against
  :func:`train_single` on the full batch;
- tensor parallelism (Megatron-LM): :func:`run_tensor_parallel` splits an MLP with
  :func:`column_shard` and :func:`row_shard`; :func:`assert_in_sync` catches replicas built apart;
- pipeline parallelism: :func:`pipeline_schedule` simulates GPipe and 1F1B, :func:`bubble_fraction`;
- ZeRO: :func:`zero_memory_per_gpu` (the paper's arithmetic) and :func:`train_deepspeed` (DeepSpeed
  stages 1-2 with :func:`ds_config`) against :func:`train_adam_single`.

Every process gets a timeout (a hang cannot block the caller) and a free port (never a fixed one);
an exception on a rank is raised in the caller with the rank's number.
"""

from __future__ import annotations

import datetime
import multiprocessing as mp
import os
import socket
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from lessons.checks import check_float, check_int

__all__ = [
    "assert_in_sync",
    "bubble_fraction",
    "column_shard",
    "ds_config",
    "free_port",
    "make_data",
    "make_ds_model",
    "make_mlp",
    "make_model",
    "pipeline_schedule",
    "row_shard",
    "run_tensor_parallel",
    "train_adam_single",
    "train_ddp",
    "train_deepspeed",
    "train_single",
    "zero_memory_per_gpu",
]

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


def _ddp_worker(rank: int, world_size: int, steps: int, seed: int) -> dict[str, torch.Tensor]:
    """One rank (its gloo group already joined): train with DDP on its share of the batch."""
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

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
    return {k: v.detach().clone() for k, v in model.module.state_dict().items()}


def train_ddp(
    world_size: int = 2, steps: int = 5, seed: int = 0, timeout: float = 120.0
) -> dict[str, torch.Tensor]:
    """Train with DDP on ``world_size`` gloo processes; return rank 0's state dict.

    Each process is joined with ``timeout`` seconds (and gloo's collectives time out after the same);
    a process still alive then is killed and :class:`TimeoutError` is raised.

    Raises:
        ValueError: ``world_size`` does not divide the 16 rows, or ``steps``/``timeout`` below range.
        RuntimeError: a rank failed (the message names it).
        TimeoutError: a process still ran after ``timeout`` seconds.
    """
    _check(world_size, steps, timeout)
    check_int("seed", seed)
    return _run_on_ranks("_ddp_worker", world_size, (steps, seed), timeout)[0]


# --- Tensor parallelism (Megatron-LM, 2019): how one rank's shard of a linear layer is cut -------------


def _check_shard(layer: nn.Linear, rank: int, world_size: int, dim_name: str, size: int) -> int:
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"layer must be an nn.Linear, got {type(layer).__name__}")
    check_int("world_size", world_size, ge=1)
    check_int("rank", rank, ge=0, lt=world_size)
    if size % world_size:
        raise ValueError(f"{dim_name} ({size}) must be divisible by world_size ({world_size})")
    return size // world_size


def column_shard(layer: nn.Linear, rank: int, world_size: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Rank ``rank``'s slice of a column-parallel linear layer: a block of its output features.

    ``nn.Linear`` stores ``weight`` as (out_features, in_features), so splitting the output features
    (the columns of ``A`` in ``Y = X A``) takes rows of ``weight`` and the matching slice of ``bias``.
    Each rank computes its own block of ``Y``, shape (batch, out_features / world_size), with no
    communication.

    Returns:
        ``(weight, bias)``: (out_features / world_size, in_features) and (out_features / world_size,)
        or None, both views of the layer's parameters.

    Raises:
        ValueError: ``out_features`` is not divisible by ``world_size``, or ``rank`` is out of range.
    """
    k = _check_shard(layer, rank, world_size, "out_features", layer.out_features)
    bias = None if layer.bias is None else layer.bias[rank * k : (rank + 1) * k]
    return layer.weight[rank * k : (rank + 1) * k], bias


def row_shard(layer: nn.Linear, rank: int, world_size: int) -> torch.Tensor:
    """Rank ``rank``'s slice of a row-parallel linear layer: a block of its input features.

    Splitting the input features (the rows of ``B`` in ``Z = Y B``) takes columns of ``weight``, shape
    (out_features, in_features / world_size). Each rank's partial product ``Y_i B_i`` has the full
    output shape; their sum (one all-reduce) is ``Z``. The bias is not sharded: add it once, after the
    all-reduce.

    Raises:
        ValueError: ``in_features`` is not divisible by ``world_size``, or ``rank`` is out of range.
    """
    k = _check_shard(layer, rank, world_size, "in_features", layer.in_features)
    return layer.weight[:, rank * k : (rank + 1) * k]


# --- Pipeline parallelism: GPipe (2019) and 1F1B schedules, simulated -----------------------------------


def bubble_fraction(stages: int, micro_batches: int) -> float:
    """GPipe's idle fraction of a pipeline step: ``(p - 1) / (m + p - 1)`` for p stages, m micro-batches."""
    p = check_int("stages", stages, ge=1)
    m = check_int("micro_batches", micro_batches, ge=1)
    return (p - 1) / (m + p - 1)


def pipeline_schedule(stages: int, micro_batches: int, schedule: str = "gpipe") -> list[list[str]]:
    """Simulate one training step of a pipeline and return who does what in each time slot.

    Each of the ``stages`` ranks holds consecutive layers. A forward (``F``) or backward (``B``) pass of
    one micro-batch on one stage takes one slot. ``F j`` on stage s needs ``F j`` of stage s-1; ``B j``
    on stage s needs ``B j`` of stage s+1 (and its own ``F j``). Every stage runs its ops in a fixed
    order and starts the next one as soon as its inputs are ready:

    - ``"gpipe"``: all m forwards, then all m backwards (Huang et al., 2019);
    - ``"1f1b"``: ``p - s - 1`` warm-up forwards, then one forward, one backward in turn, then the
      remaining backwards (PipeDream-Flush, Narayanan et al., 2021): the same bubble, but a stage keeps
      at most ``p - s`` micro-batches' activations instead of m.

    Returns:
        A grid of ``stages`` rows and ``2 (m + p - 1)`` columns; a cell is ``"F3"``, ``"B1"`` (1-based
        micro-batch numbers) or ``""`` for an idle slot.

    Raises:
        ValueError: a count below 1, or an unknown ``schedule``.
    """
    p = check_int("stages", stages, ge=1)
    m = check_int("micro_batches", micro_batches, ge=1)
    if schedule not in ("gpipe", "1f1b"):
        raise ValueError(f"schedule must be 'gpipe' or '1f1b', got {schedule!r}")
    orders: list[list[tuple[str, int]]] = []
    for s in range(p):
        if schedule == "gpipe":
            order = [("F", j) for j in range(m)] + [("B", j) for j in range(m)]
        else:
            warm = min(p - s - 1, m)
            order = [("F", j) for j in range(warm)]
            f, b = warm, 0
            while f < m:
                order += [("F", f), ("B", b)]
                f, b = f + 1, b + 1
            order += [("B", j) for j in range(b, m)]
        orders.append(order)
    done: dict[tuple[str, int, int], int] = {}  # (kind, stage, micro-batch) -> slot it finished in
    nxt = [0] * p
    grid: list[list[str]] = [[] for _ in range(p)]
    t = 0
    while any(nxt[s] < len(orders[s]) for s in range(p)):
        started = []
        for s in range(p):
            if nxt[s] == len(orders[s]):
                grid[s].append("")
                continue
            kind, j = orders[s][nxt[s]]
            if kind == "F":
                ready = s == 0 or done.get(("F", s - 1, j), t) < t
            else:
                ready = done.get(("F", s, j), t) < t and (s == p - 1 or done.get(("B", s + 1, j), t) < t)
            grid[s].append(f"{kind}{j + 1}" if ready else "")
            if ready:
                started.append((kind, s, j))
        for kind, s, j in started:
            done[(kind, s, j)] = t
            nxt[s] += 1
        t += 1
    return grid


# --- ZeRO (Rajbhandari et al., 2020): model-state memory per GPU ----------------------------------------


def zero_memory_per_gpu(n_params: float, n_gpus: int, stage: int, k: int = 12) -> float:
    """Bytes of model state per GPU for mixed-precision Adam under ZeRO stage 0 (plain DP) to 3.

    Per parameter: 2 bytes of fp16 weights, 2 of fp16 gradients and ``k`` = 12 of optimizer state
    (fp32 master weights, Adam's m and v). Stage 1 divides the optimizer state by ``n_gpus`` (N_d),
    stage 2 also the gradients, stage 3 also the weights:
    ``(2 + 2 + k) Psi``, ``4 Psi + k Psi / N``, ``2 Psi + (2 + k) Psi / N``, ``(4 + k) Psi / N``.

    Raises:
        ValueError: ``n_params`` not positive, ``n_gpus`` below 1, ``stage`` not 0-3, ``k`` negative.
    """
    psi = check_float("n_params", n_params, gt=0)
    n = check_int("n_gpus", n_gpus, ge=1)
    check_int("stage", stage, ge=0, le=3)
    check_int("k", k, ge=0)
    weights, grads, states = 2 * psi, 2 * psi, k * psi
    if stage >= 1:
        states /= n
    if stage >= 2:
        grads /= n
    if stage >= 3:
        weights /= n
    return weights + grads + states


# --- Running a function on every rank; the tensor-parallel MLP and the replica check -------------------

D_MODEL, D_HIDDEN = 8, 16


def assert_in_sync(module: nn.Module) -> None:
    """Raise if this rank's parameters differ from rank 0's (a collective: call it on every rank).

    Each rank all-gathers one float64 checksum per parameter; a rank whose checksums differ from rank
    0's is named in a :class:`RuntimeError`, with the first parameter that differs. A typical cause is
    a seed set per rank (``manual_seed(seed + rank)``) before building a model every rank must share.
    """
    import torch.distributed as dist

    names = [n for n, _ in module.named_parameters()]
    mine = torch.stack([p.detach().double().sum() for p in module.parameters()])
    sums = [torch.empty_like(mine) for _ in range(dist.get_world_size())]
    dist.all_gather(sums, mine)
    for r, other in enumerate(sums):
        bad = (other - sums[0]).abs() > 1e-9 * (1 + sums[0].abs())
        if bad.any():
            i = int(bad.nonzero()[0])
            raise RuntimeError(
                f"rank {r} is out of sync with rank 0: parameter {names[i]!r} has checksum "
                f"{other[i].item():.6f} on rank {r} and {sums[0][i].item():.6f} on rank 0 (seeded per rank?)"
            )


def make_mlp(seed: int = 0) -> nn.Sequential:
    """The MLP block every tensor-parallel rank builds in full: Linear(8, 16), GELU, Linear(16, 8)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(D_MODEL, D_HIDDEN), nn.GELU(), nn.Linear(D_HIDDEN, D_MODEL))


class _AllReduce(torch.autograd.Function):
    """Megatron's g: sum over ranks in the forward pass, identity in the backward pass."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        import torch.distributed as dist

        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        return grad


class _CopyToRanks(torch.autograd.Function):
    """Megatron's f: identity in the forward pass, sum of the input gradients over ranks in the backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        import torch.distributed as dist

        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


def _tp_worker(rank: int, world_size: int, seeds: list[int], check: bool) -> dict[str, torch.Tensor]:
    """One rank of the tensor-parallel MLP: build it in full, check replicas, keep its shards, run it."""
    import torch.distributed as dist

    mlp = make_mlp(seeds[rank])
    if check:
        assert_in_sync(mlp)
    fc1, fc2 = mlp[0], mlp[2]
    w1, b1 = (t.detach().clone().requires_grad_() for t in column_shard(fc1, rank, world_size))
    w2 = row_shard(fc2, rank, world_size).detach().clone().requires_grad_()
    b2 = fc2.bias.detach().clone().requires_grad_()
    x = torch.randn(4, D_MODEL, generator=torch.Generator().manual_seed(123), requires_grad=True)
    h = nn.functional.gelu(_CopyToRanks.apply(x) @ w1.T + b1)  # (4, 16 / world_size): no communication
    y = _AllReduce.apply(h @ w2.T) + b2  # (4, 8): the one all-reduce
    y.pow(2).sum().backward()
    blocks = [torch.empty_like(h) for _ in range(world_size)]
    dist.all_gather(blocks, h.detach())  # only to show it: column-parallel alone ends with an all-gather
    return {
        "h": torch.cat(blocks, dim=1),
        "y": y.detach(),
        "x_grad": x.grad,
        "w1_grad": w1.grad,
        "w2_grad": w2.grad,
        "numel": torch.tensor(w1.numel() + w2.numel()),
    }


def _spawned(
    fn_name: str, rank: int, world_size: int, port: int, out: str, timeout: float, args: tuple
) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=timeout),
    )
    try:
        result: object = globals()[fn_name](rank, world_size, *args)
    except Exception as e:  # noqa: BLE001  (reported to the parent, which raises it)
        result = {"error": f"{type(e).__name__}: {e}"}
    finally:
        dist.destroy_process_group()
    torch.save(result, os.path.join(out, f"rank{rank}.pt"))


def _run_on_ranks(fn_name: str, world_size: int, args: tuple, timeout: float) -> list:
    """Run ``fn_name(rank, world_size, *args)`` of this module on ``world_size`` gloo processes."""
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        procs = [
            ctx.Process(target=_spawned, args=(fn_name, r, world_size, port, tmp, timeout, args))
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
        files = [Path(tmp) / f"rank{r}.pt" for r in range(world_size)]
        if not all(f.exists() for f in files):
            raise RuntimeError(f"a process failed; exit codes {[p.exitcode for p in procs]}")
        results = [torch.load(f) for f in files]
    failed = [r for r, res in enumerate(results) if isinstance(res, dict) and "error" in res]
    if failed:
        who = f"rank {failed[0]}" if len(failed) == 1 else "ranks " + ", ".join(map(str, failed))
        raise RuntimeError(f"{who} failed; rank {failed[0]}: {results[failed[0]]['error']}")
    return results


def run_tensor_parallel(
    world_size: int = 2,
    seed: int = 0,
    desync_rank: int | None = None,
    check: bool = True,
    timeout: float = 120.0,
) -> dict[str, torch.Tensor]:
    """Run the MLP of :func:`make_mlp` tensor-parallel on ``world_size`` gloo processes.

    The first layer is column-parallel, the second row-parallel, so one all-reduce per forward pass
    (and one per backward pass, for the input's gradient) suffices. Every rank builds the full MLP from
    ``seed``, checks with :func:`assert_in_sync` that all ranks built the same one, and keeps its shards.
    ``desync_rank`` seeds that rank with ``seed + 1`` instead: the bug the check exists to catch;
    ``check=False`` leaves the check out, to show that the bug then goes unnoticed.

    Returns:
        ``h`` (4, 16): the first layer's output, its column blocks all-gathered from the ranks;
        ``y`` (4, 8) and ``x_grad`` (4, 8) from rank 0; ``w1_grad`` (16, 8) and ``w2_grad`` (8, 16)
        gathered from the shards; ``numel``: the weight elements each rank holds, shape (world_size,).

    Raises:
        ValueError: a bad argument (``world_size`` must divide 16 and 8).
        RuntimeError: a rank failed, e.g. ranks out of sync (the message names the rank).
        TimeoutError: a process still ran after ``timeout`` seconds.
    """
    check_int("world_size", world_size, ge=1)
    if D_HIDDEN % world_size or D_MODEL % world_size:
        raise ValueError(f"world_size must divide {D_HIDDEN} and {D_MODEL}, got {world_size!r}")
    check_int("seed", seed)
    if desync_rank is not None:
        check_int("desync_rank", desync_rank, ge=0, lt=world_size)
    if not isinstance(check, bool):
        raise TypeError(f"check must be a bool, got {type(check).__name__}")
    check_float("timeout", timeout, gt=0)
    seeds = [seed + (r == desync_rank) for r in range(world_size)]
    res = _run_on_ranks("_tp_worker", world_size, (seeds, check), timeout)
    return {
        "h": res[0]["h"],
        "y": res[0]["y"],
        "x_grad": res[0]["x_grad"],
        "w1_grad": torch.cat([r["w1_grad"] for r in res], dim=0),
        "w2_grad": torch.cat([r["w2_grad"] for r in res], dim=1),
        "numel": torch.stack([r["numel"] for r in res]),
    }


# --- DeepSpeed ZeRO stages 1 and 2 on CPU processes -----------------------------------------------------

ADAM_LR = 0.05


def ds_config(stage: int, world_size: int = 2) -> dict:
    """The DeepSpeed config :func:`train_deepspeed` passes to ``deepspeed.initialize``.

    It is what a ``ds_config.json`` file would hold (``json.dumps`` of it is that file). The whole
    batch, ``N_SAMPLES`` rows, is split evenly over ``world_size`` ranks, with no accumulation, so one
    DeepSpeed step sees the same 16 rows as one step of :func:`train_adam_single`.

    Raises:
        ValueError: ``stage`` outside 0-3, or ``world_size`` not a divisor of ``N_SAMPLES``.
    """
    check_int("stage", stage, ge=0, le=3)
    check_int("world_size", world_size, ge=1)
    if N_SAMPLES % world_size:
        raise ValueError(f"world_size must be a positive divisor of {N_SAMPLES}, got {world_size!r}")
    return {
        "train_batch_size": N_SAMPLES,  # = micro batch x accumulation steps x world size
        "train_micro_batch_size_per_gpu": N_SAMPLES // world_size,
        "gradient_accumulation_steps": 1,
        "gradient_clipping": 0.0,  # DeepSpeed clips at 1.0 unless told: the reference does not clip
        "zero_optimization": {"stage": stage},
        "zero_allow_untested_optimizer": True,
        "steps_per_print": 1_000_000,
    }


def make_ds_model(seed: int = 0) -> nn.Sequential:
    """The model of the DeepSpeed run: Linear(4, 16), Tanh, Linear(16, 1) (97 parameters), from ``seed``."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(N_FEATURES, 16), nn.Tanh(), nn.Linear(16, 1))


def train_adam_single(steps: int = 5, seed: int = 0) -> dict[str, torch.Tensor]:
    """The reference for :func:`train_deepspeed`: the same MLP and Adam, one process, all 16 rows."""
    check_int("steps", steps, ge=1)
    X, y = make_data(seed)
    model = make_ds_model(seed)
    opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(X), y).backward()
        opt.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _ds_worker(rank: int, world_size: int, stages: list[int], steps: int, seed: int) -> dict:
    """One rank: for each ZeRO stage, wrap the MLP in deepspeed.initialize, train, measure the shards."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size))
    os.environ.setdefault("DS_ACCELERATOR", "cpu")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # DeepSpeed logs to stdout; the parent reports errors itself
    warnings.filterwarnings("ignore", category=FutureWarning)  # its all_gather_into_tensor is deprecated
    import deepspeed
    import deepspeed.ops

    # DeepSpeed's CPU backend compiles a shared-memory all-reduce kernel with gcc in every process
    # (measured: 50+ s of CPU each); gloo's all-reduce is enough for a model this small.
    deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False
    X, y = make_data(seed)
    half = N_SAMPLES // world_size
    xb, yb = X[rank * half : (rank + 1) * half], y[rank * half : (rank + 1) * half]
    out: dict = {}
    for stage in stages:
        model = make_ds_model(seed)
        opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR)
        engine, zero_opt, _, _ = deepspeed.initialize(
            model=model, optimizer=opt, config=ds_config(stage, world_size)
        )
        for _ in range(steps):
            loss = nn.functional.mse_loss(engine(xb), yb)
            engine.backward(loss)
            engine.step()
        # ZeRO wraps the torch Adam, which then only sees this rank's shard (stage 0: Adam itself)
        base = getattr(zero_opt, "optimizer", zero_opt)
        state = sum(
            v.numel() for st in base.state.values() for v in st.values() if torch.is_tensor(v) and v.dim()
        )
        out[stage] = {
            "weights": {k: v.detach().clone() for k, v in engine.module.state_dict().items()},
            "adam_state_numel": state,
            "optimizer": type(zero_opt).__name__,
            "partitions_gradients": bool(getattr(zero_opt, "partition_gradients", False)),
        }
    return out


def train_deepspeed(
    stages: tuple[int, ...] = (1, 2),
    world_size: int = 2,
    steps: int = 5,
    seed: int = 0,
    timeout: float = 180.0,
) -> list[dict]:
    """Train a small MLP with DeepSpeed ZeRO on ``world_size`` gloo processes, once per stage.

    Returns:
        One dict per rank: ``{stage: {"weights": state dict, "adam_state_numel": int, "optimizer": str,
        "partitions_gradients": bool}}``; ``adam_state_numel`` counts the elements of Adam's m and v
        this rank holds, ``partitions_gradients`` is DeepSpeed's own flag (True from stage 2 on).

    Raises:
        ValueError: a stage outside 0-2 (stage 3 is not run here), or a bad count.
    """
    if not stages:
        raise ValueError("stages must name at least one ZeRO stage")
    for s_ in stages:
        check_int("stages", s_, ge=0, le=2)
    _check(world_size, steps, timeout)
    check_int("seed", seed)
    return _run_on_ranks("_ds_worker", world_size, (list(stages), steps, seed), timeout)
