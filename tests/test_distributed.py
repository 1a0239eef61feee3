import pytest
import torch

from lessons.distributed import free_port, make_data, train_ddp, train_single


def test_free_port_is_a_port() -> None:
    assert 1024 <= free_port() <= 65535


def test_data_shapes() -> None:
    X, y = make_data(0)
    assert X.shape == (16, 4) and y.shape == (16, 1)


def test_ddp_on_two_processes_equals_full_batch_training() -> None:
    ddp = train_ddp(world_size=2, steps=3, seed=1, timeout=120)
    single = train_single(steps=3, seed=1)
    assert ddp.keys() == single.keys()
    for k in ddp:
        torch.testing.assert_close(ddp[k], single[k], atol=1e-6, rtol=0)
    assert not torch.equal(single["weight"], train_single(steps=1, seed=1)["weight"])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"world_size": 3}, "world_size"), ({"steps": 0}, "steps"), ({"timeout": 0}, "timeout")],
)
def test_bad_arguments_raise(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        train_ddp(**kwargs)


def test_tensor_parallel_shards_rebuild_the_mlp() -> None:
    from torch import nn

    from lessons.distributed import column_shard, row_shard

    torch.manual_seed(0)
    fc1, fc2 = nn.Linear(8, 16), nn.Linear(16, 8)
    x = torch.randn(5, 8)
    full = fc2(torch.nn.functional.gelu(fc1(x)))
    partial = []
    for r in range(2):  # column-parallel fc1, row-parallel fc2: one sum (all-reduce) at the end
        w1, b1 = column_shard(fc1, r, 2)
        partial.append(torch.nn.functional.gelu(x @ w1.T + b1) @ row_shard(fc2, r, 2).T)
    torch.testing.assert_close(partial[0] + partial[1] + fc2.bias, full)
    assert column_shard(fc1, 1, 2)[0].shape == (8, 8) and row_shard(fc2, 1, 2).shape == (8, 8)


def test_shard_errors_name_the_argument() -> None:
    from torch import nn

    from lessons.distributed import column_shard, row_shard

    with pytest.raises(ValueError, match="out_features"):
        column_shard(nn.Linear(4, 6), 0, 4)
    with pytest.raises(ValueError, match="in_features"):
        row_shard(nn.Linear(6, 4), 0, 4)
    with pytest.raises(ValueError, match="rank"):
        column_shard(nn.Linear(4, 4), 2, 2)


@pytest.mark.parametrize("schedule", ["gpipe", "1f1b"])
@pytest.mark.parametrize(("p", "m"), [(1, 1), (2, 4), (4, 4), (4, 8), (3, 1)])
def test_simulated_bubble_equals_the_formula(schedule: str, p: int, m: int) -> None:
    from lessons.distributed import bubble_fraction, pipeline_schedule

    grid = pipeline_schedule(p, m, schedule)
    assert len(grid) == p and all(len(row) == 2 * (m + p - 1) for row in grid)
    idle = sum(cell == "" for row in grid for cell in row)
    assert idle / (p * len(grid[0])) == pytest.approx(bubble_fraction(p, m))
    for row in grid:  # every stage runs each forward and backward exactly once
        assert sorted(c for c in row if c) == sorted(
            [f"F{j}" for j in range(1, m + 1)] + [f"B{j}" for j in range(1, m + 1)]
        )


def test_pipeline_errors() -> None:
    from lessons.distributed import bubble_fraction, pipeline_schedule

    with pytest.raises(ValueError, match="micro_batches"):
        bubble_fraction(4, 0)
    with pytest.raises(ValueError, match="schedule"):
        pipeline_schedule(2, 2, "zigzag")


def test_zero_memory_matches_the_paper() -> None:
    from lessons.distributed import zero_memory_per_gpu

    gb = [zero_memory_per_gpu(7.5e9, 64, s) / 1e9 for s in range(4)]
    assert [round(v, 1) for v in gb] == [120.0, 31.4, 16.6, 1.9]  # Rajbhandari et al. (2020), Figure 1
    with pytest.raises(ValueError, match="stage"):
        zero_memory_per_gpu(1e9, 8, 4)
    with pytest.raises(ValueError, match="n_gpus"):
        zero_memory_per_gpu(1e9, 0, 1)


def test_1f1b_keeps_fewer_activations_than_gpipe() -> None:
    from lessons.distributed import pipeline_schedule

    def peak(row: list[str]) -> int:  # most micro-batches forwarded but not yet backwarded
        live = top = 0
        for cell in row:
            live += cell.startswith("F") - cell.startswith("B")
            top = max(top, live)
        return top

    p, m = 4, 8
    assert [peak(r) for r in pipeline_schedule(p, m, "gpipe")] == [m] * p
    assert [peak(r) for r in pipeline_schedule(p, m, "1f1b")] == [p - s for s in range(p)]


def test_tensor_parallel_on_two_processes_equals_the_unsplit_mlp() -> None:
    from lessons.distributed import column_shard, make_mlp, row_shard, run_tensor_parallel

    tp = run_tensor_parallel(world_size=2, seed=0, timeout=120)
    mlp = make_mlp(0)
    x = torch.randn(4, 8, generator=torch.Generator().manual_seed(123), requires_grad=True)
    y = mlp(x)
    y.pow(2).sum().backward()
    torch.testing.assert_close(tp["h"], torch.nn.functional.gelu(mlp[0](x)).detach())  # all-gathered
    torch.testing.assert_close(tp["y"], y.detach())
    torch.testing.assert_close(tp["x_grad"], x.grad)
    torch.testing.assert_close(tp["w1_grad"], mlp[0].weight.grad)
    torch.testing.assert_close(tp["w2_grad"], mlp[2].weight.grad)
    assert tp["numel"].tolist() == [128, 128]  # half of 16x8 + 8x16 each
    with pytest.raises(RuntimeError, match=r"ranks 0, 1 failed; rank 0: .*rank 1 is out of sync"):
        run_tensor_parallel(world_size=2, seed=0, desync_rank=1, timeout=120)
    silent = run_tensor_parallel(world_size=2, seed=0, desync_rank=1, check=False, timeout=120)
    assert (silent["y"] - y.detach()).abs().max() > 0.05  # without the check the bug goes unnoticed
    replicas = [make_mlp(0), make_mlp(1)]  # what the page simulates in one process: the same wrong output
    with torch.no_grad():
        parts = [
            torch.nn.functional.gelu(x @ column_shard(m[0], r, 2)[0].T + column_shard(m[0], r, 2)[1])
            @ row_shard(m[2], r, 2).T
            for r, m in enumerate(replicas)
        ]
    torch.testing.assert_close(silent["y"], parts[0] + parts[1] + replicas[0][2].bias)
    with pytest.raises(ValueError, match="world_size"):
        run_tensor_parallel(world_size=3)
    with pytest.raises(ValueError, match="desync_rank"):
        run_tensor_parallel(world_size=2, desync_rank=2)
    with pytest.raises(TypeError, match="check"):
        run_tensor_parallel(world_size=2, check=1)  # type: ignore[arg-type]


def test_deepspeed_zero_matches_single_process_adam_and_shards_the_state() -> None:
    from lessons.distributed import train_adam_single, train_deepspeed

    ranks = train_deepspeed(stages=(0, 1, 2), world_size=2, steps=3, seed=0, timeout=240)
    ref = train_adam_single(steps=3, seed=0)
    full_state = 2 * sum(v.numel() for v in ref.values())  # Adam's m and v, unsharded: 2 x 97
    for r in ranks:  # stage 0 is plain data parallelism: every rank holds all of Adam's state
        for k in ref:
            torch.testing.assert_close(r[0]["weights"][k], ref[k], atol=1e-5, rtol=0)
        assert r[0]["adam_state_numel"] == full_state and not r[0]["partitions_gradients"]
    for stage in (1, 2):
        for r in ranks:
            for k in ref:
                torch.testing.assert_close(r[stage]["weights"][k], ref[k], atol=1e-5, rtol=0)
            assert r[stage]["adam_state_numel"] < 0.6 * full_state
        assert sum(r[stage]["adam_state_numel"] for r in ranks) >= full_state
        assert all(r[stage]["partitions_gradients"] == (stage == 2) for r in ranks)
    with pytest.raises(ValueError, match="stages"):
        train_deepspeed(stages=(3,))


def test_ds_config_splits_the_batch_over_the_ranks() -> None:
    from lessons.distributed import ds_config

    cfg = ds_config(2, world_size=4)
    assert cfg["zero_optimization"] == {"stage": 2}
    assert cfg["train_batch_size"] == cfg["train_micro_batch_size_per_gpu"] * 4 == 16
    with pytest.raises(ValueError, match="stage"):
        ds_config(4)
    with pytest.raises(ValueError, match="world_size"):
        ds_config(1, world_size=3)


def test_ddp_checks_the_seed_before_spawning() -> None:
    with pytest.raises(TypeError, match="seed"):
        train_ddp(world_size=2, steps=1, seed=1.5, timeout=120)  # type: ignore[arg-type]
