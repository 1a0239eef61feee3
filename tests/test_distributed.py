import pytest
import torch

from lessons.distributed import free_port, make_data, train_ddp, train_single


def test_free_port_is_a_port() -> None:
    assert 1024 <= free_port() <= 65535


def test_data_shapes() -> None:
    X, y = make_data(0)
    assert X.shape == (16, 4) and y.shape == (16, 1)


def test_ddp_on_two_processes_equals_full_batch_training() -> None:
    ddp = train_ddp(world_size=2, steps=3, seed=1, timeout=60)
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
