"""Unit tests of lessons.ablation: recipes as data, and the training loop that applies them."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from lessons.ablation import Recipe, train_recipe


def task(n: int = 256) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 2
    X = 0.1 * torch.rand(n, 1, 8, 8, generator=g)
    X[y == 1, :, :4] += 0.8  # class 1: bright top half
    return (X[: n * 3 // 4], y[: n * 3 // 4]), (X[n * 3 // 4 :], y[n * 3 // 4 :])


def linear() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"optimizer": "adam", "lr": 1e-2},
        {"optimizer": "adamw", "lr": 1e-2, "weight_decay": 1e-2, "schedule": "onecycle"},
        {"schedule": "cosine", "warmup": 0.2, "clip_grad_norm": 1.0, "label_smoothing": 0.1},
        {"shift": 1, "bf16": True, "accumulation": 4},
    ],
)
def test_every_technique_trains_a_separable_task(change: dict) -> None:
    train, test = task()
    recipe = dataclasses.replace(Recipe(epochs=3, batch_size=32), **change)
    result = train_recipe(linear(), recipe, train, test)
    assert result.accuracy > 0.95
    assert result.steps == 3 * 6 and result.cpu_seconds >= 0


def test_accumulation_gives_the_weights_of_the_large_batch() -> None:
    train, test = task()
    weights = []
    for accumulation in (1, 4):
        model = linear()
        train_recipe(model, Recipe(epochs=2, batch_size=32, accumulation=accumulation), train, test)
        weights.append(model[1].weight.detach())
    assert torch.allclose(weights[0], weights[1], atol=1e-6)


def test_warmup_and_cosine_follow_the_formula() -> None:
    train, test = task()
    model = linear()
    seen = []
    recipe = Recipe(epochs=1, batch_size=16, lr=0.1, schedule="cosine", warmup=0.25)  # 12 steps, 3 warm
    hook = model.register_forward_pre_hook(lambda m, x: seen.append(m.training))
    train_recipe(model, recipe, train, test)
    hook.remove()
    assert seen.count(True) == 12  # one forward per step, plus one in eval mode for the test set
    from lessons.ablation import _scheduler

    opt = torch.optim.SGD(linear().parameters(), lr=0.1)
    sched = _scheduler(opt, recipe, 12)
    lrs = []
    for _ in range(12):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:4] == pytest.approx([0.1 / 3, 0.2 / 3, 0.1, 0.1])  # linear warm-up, then the peak
    assert lrs[-1] < 0.01 and lrs == sorted(lrs[:3]) + sorted(lrs[3:], reverse=True)
    # the torch schedulers of the optimizers page (9.3), equal to its formula
    assert isinstance(sched, torch.optim.lr_scheduler.SequentialLR)
    formula = [
        0.1 * (t + 1) / 3 if t < 3 else 0.05 * (1 + math.cos(math.pi * (t - 3) / 9)) for t in range(12)
    ]
    assert lrs == pytest.approx(formula, rel=1e-12)


@pytest.mark.parametrize(("schedule", "warmup"), [("constant", 0.0), ("constant", 0.25), ("cosine", 0.0)])
def test_the_other_schedules_follow_the_formula(schedule: str, warmup: float) -> None:
    from lessons.ablation import _scheduler

    opt = torch.optim.SGD(linear().parameters(), lr=0.1)
    sched = _scheduler(opt, Recipe(schedule=schedule, warmup=warmup), 12)
    lrs = []
    for _ in range(12):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    warm = round(warmup * 12)
    after = (
        [1.0] * 12
        if schedule == "constant"
        else [0.5 * (1 + math.cos(math.pi * t / (12 - warm))) for t in range(12)]
    )
    formula = [0.1 * ((t + 1) / warm if t < warm else after[t - warm]) for t in range(12)]
    assert lrs == pytest.approx(formula, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"optimizer": "lion"}, "optimizer"),
        ({"lr": 0.0}, "lr"),
        ({"schedule": "step"}, "schedule"),
        ({"warmup": 1.0}, "warmup"),
        ({"clip_grad_norm": -1.0}, "clip_grad_norm"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"accumulation": 0}, "accumulation"),
        ({"batch_size": 30, "accumulation": 4}, "batch_size must be a multiple"),
        ({"epochs": 0}, "epochs"),
    ],
)
def test_bad_recipes_name_the_field(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Recipe(**kwargs)


def test_bad_arguments_are_named() -> None:
    train, test = task()
    with pytest.raises(TypeError, match="model"):
        train_recipe("model", Recipe(), train, test)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="recipe"):
        train_recipe(linear(), {"lr": 0.1}, train, test)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="test"):
        train_recipe(linear(), Recipe(), train, (test[0], test[1][:3]))
    with pytest.raises(ValueError, match="seed"):
        train_recipe(linear(), Recipe(), train, test, seed=-1)
