"""Training recipes as data, for ablations: switch one technique on or off and measure what it changes.

* `Recipe`: the optimizer, learning-rate schedule, warm-up, gradient clipping, label smoothing, shift
  augmentation, bfloat16 autocast and gradient accumulation of one training run, as a frozen dataclass;
* `train_recipe`: train a classifier with a `Recipe` and return its test accuracy and the CPU time the
  training took.

Phase 9's project trains phase 5's digit CNN with a series of recipes, each adding one technique::

    base = Recipe()
    result = train_recipe(SmallCNN((16, 32)), dataclasses.replace(base, optimizer="adamw"), train, test)
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import nn

from lessons.checks import check_choice, check_float, check_int
from lessons.metrics import accuracy
from lessons.train import TensorLoader
from lessons.transforms import channel_stats, normalize, random_crop_flip

__all__ = ["Recipe", "RecipeResult", "train_recipe"]


@dataclass(frozen=True)
class Recipe:
    """One training run's techniques. The defaults are a plain baseline: SGD with momentum 0.9 at a
    constant learning rate, nothing else.

    Attributes:
        optimizer: ``"sgd"`` (momentum 0.9), ``"adam"`` (`weight_decay` added to the gradient, L2) or
            ``"adamw"`` (decoupled weight decay).
        lr: the (peak) learning rate.
        weight_decay: weight decay (L2 for ``"sgd"``/``"adam"``, decoupled for ``"adamw"``).
        schedule: ``"constant"``, ``"cosine"`` (to 0 over the run) or ``"onecycle"`` (``OneCycleLR``: its
            own warm-up over the first 30% of the steps, then cosine annealing).
        warmup: fraction of the optimizer steps with a linear warm-up from 0, before the ``"constant"`` or
            ``"cosine"`` schedule (ignored by ``"onecycle"``), in ``[0, 1)``.
        clip_grad_norm: rescale gradients to this global L2 norm at most (``None``: no clipping).
        label_smoothing: cross-entropy's label smoothing, in ``[0, 1)``.
        shift: random-shift augmentation: pad by this many pixels and crop back at a random offset (0: off).
        bf16: run the forward pass and the loss under ``torch.autocast(dtype=torch.bfloat16)``.
        accumulation: accumulate gradients over this many micro-batches of ``batch_size // accumulation``
            examples before each optimizer step (the effective batch stays `batch_size`).
        batch_size: examples per optimizer step.
        epochs: passes over the training data.
    """

    optimizer: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: float = 0.05
    weight_decay: float = 0.0
    schedule: Literal["constant", "cosine", "onecycle"] = "constant"
    warmup: float = 0.0
    clip_grad_norm: float | None = None
    label_smoothing: float = 0.0
    shift: int = 0
    bf16: bool = False
    accumulation: int = 1
    batch_size: int = 64
    epochs: int = 3

    def __post_init__(self) -> None:
        check_choice("optimizer", self.optimizer, ("sgd", "adam", "adamw"))
        check_float("lr", self.lr, gt=0)
        check_float("weight_decay", self.weight_decay, ge=0)
        check_choice("schedule", self.schedule, ("constant", "cosine", "onecycle"))
        check_float("warmup", self.warmup, ge=0, lt=1)
        if self.clip_grad_norm is not None:
            check_float("clip_grad_norm", self.clip_grad_norm, gt=0)
        check_float("label_smoothing", self.label_smoothing, ge=0, lt=1)
        check_int("shift", self.shift, ge=0)
        check_int("accumulation", self.accumulation, ge=1)
        check_int("batch_size", self.batch_size, ge=1)
        check_int("epochs", self.epochs, ge=1)
        if self.batch_size % self.accumulation:
            raise ValueError(
                f"batch_size must be a multiple of accumulation, got batch_size={self.batch_size}, "
                f"accumulation={self.accumulation}"
            )


class RecipeResult(NamedTuple):
    """What `train_recipe` returns: accuracy on the test tensors, CPU seconds of the training loop
    (``time.process_time``, all threads), and the number of optimizer steps."""

    accuracy: float
    cpu_seconds: float
    steps: int


def _optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    params = model.parameters()
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=recipe.lr, momentum=0.9, weight_decay=recipe.weight_decay)
    if recipe.optimizer == "adam":
        return torch.optim.Adam(params, lr=recipe.lr, weight_decay=recipe.weight_decay)
    return torch.optim.AdamW(params, lr=recipe.lr, weight_decay=recipe.weight_decay)


def _scheduler(
    opt: torch.optim.Optimizer, recipe: Recipe, total: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """The schedule of phase 9's optimizers page (section 9.3), stepped after each optimizer step: a linear
    warm-up over ``round(warmup * total)`` steps (``LinearLR``, reaching the peak on the last one), then a
    constant or cosine-annealed (``CosineAnnealingLR``, to 0) learning rate, joined by ``SequentialLR``."""
    sched = torch.optim.lr_scheduler
    if recipe.schedule == "onecycle":
        return sched.OneCycleLR(opt, max_lr=recipe.lr, total_steps=total)
    warm = round(recipe.warmup * total)
    if recipe.schedule == "cosine":
        after: torch.optim.lr_scheduler.LRScheduler = sched.CosineAnnealingLR(opt, T_max=max(1, total - warm))
    else:
        after = sched.ConstantLR(opt, factor=1.0, total_iters=0)
    if warm == 0:
        return after
    ramp = sched.LinearLR(opt, start_factor=1 / warm, total_iters=warm - 1)
    return sched.SequentialLR(opt, [ramp, after], milestones=[warm])


def train_recipe(
    model: nn.Module,
    recipe: Recipe,
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    *,
    seed: int = 0,
) -> RecipeResult:
    """Train `model` on `train` with `recipe` on the CPU; evaluate it once on `test`.

    Images are normalised with the training set's mean and standard deviation; each optimizer step sees
    `recipe.batch_size` shuffled examples (in `recipe.accumulation` micro-batches, each loss divided by
    `accumulation`, so the summed gradient is the one of the whole batch, except for BatchNorm, whose
    statistics are those of each micro-batch).

    Args:
        model: a classifier taking ``(N, C, H, W)`` images and returning ``(N, classes)`` logits; it is
            trained in place.
        recipe: the techniques (see `Recipe`).
        train: ``(images, labels)``: float images in [0, 1], ``(N, C, H, W)``, and int64 labels ``(N,)``.
        test: the same, evaluated once after training (in eval mode, without autocast).
        seed: seeds the shuffling and the augmentation (the model's weights are the caller's).

    Returns:
        `RecipeResult` ``(accuracy, cpu_seconds, steps)``.

    Raises:
        TypeError: `model` is not an ``nn.Module`` or `recipe` not a `Recipe`.
        ValueError: `train` and `test` are not pairs of matching tensors, or `seed` < 0.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(recipe, Recipe):
        raise TypeError(f"recipe must be a Recipe, got {type(recipe).__name__}")
    check_int("seed", seed, ge=0)
    for name, pair in (("train", train), ("test", test)):
        if not (
            isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(t, torch.Tensor) for t in pair)
        ):
            raise ValueError(f"{name} must be a pair (images, labels) of tensors")
        if len(pair[0]) != len(pair[1]) or pair[0].ndim != 4:
            raise ValueError(f"{name} must hold (N, C, H, W) images and N labels")
    mean, std = channel_stats(train[0])
    generator = torch.Generator().manual_seed(seed)

    def prepare(x: torch.Tensor) -> torch.Tensor:
        if recipe.shift:
            x = random_crop_flip(x, recipe.shift, flip=False, generator=generator)
        return normalize(x, mean, std)

    micro = recipe.batch_size // recipe.accumulation
    loader = TensorLoader(*train, batch_size=micro, shuffle=True, transform=prepare, seed=seed)
    steps_per_epoch = math.ceil(len(loader) / recipe.accumulation)
    total = recipe.epochs * steps_per_epoch
    opt = _optimizer(model, recipe)
    sched = _scheduler(opt, recipe, total)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)
    autocast = (
        (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if recipe.bf16 else contextlib.nullcontext
    )
    steps = 0
    start = time.process_time()
    model.train()
    for _ in range(recipe.epochs):
        batches = list(loader)
        for i in range(0, len(batches), recipe.accumulation):
            group = batches[i : i + recipe.accumulation]
            opt.zero_grad(set_to_none=True)
            for x, y in group:
                with autocast():
                    loss = loss_fn(model(x), y)
                (loss.float() / len(group)).backward()
            if recipe.clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), recipe.clip_grad_norm)
            opt.step()
            sched.step()
            steps += 1
            if not math.isfinite(loss.item()):
                raise FloatingPointError(
                    f"loss is {loss.item()} after {steps} steps: lower the learning rate"
                )
    cpu = time.process_time() - start
    model.eval()
    with torch.no_grad():
        acc = accuracy(model(normalize(test[0], mean, std)), test[1])
    return RecipeResult(float(acc), cpu, steps)
