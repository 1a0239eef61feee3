"""A training loop short enough to read in one screen: `fit`, `evaluate`, `predict`, and `TensorLoader`,
mini-batches of tensors held in memory.

Phase 3 writes this loop inline first; from then on chapters call `fit`. The rules it follows:

* a batch is ``(inputs, targets)``; ``inputs`` may be a tuple/list (then ``model(*inputs)``) and anything
  may be a tensor, tuple, list or dict of tensors (moved to `device` recursively);
* ``loss_fn(outputs, targets)`` returns the batch *mean* (PyTorch's default ``reduction="mean"``);
* every number in the history is an average over examples: each batch counts by its size, so the last,
  smaller batch does not get too much weight. Training numbers are measured on the fly while the
  weights change (and with dropout on), as Keras does; validation numbers use `evaluate` (eval mode);
* the learning-rate scheduler is stepped once per batch for `OneCycleLR`/`CyclicLR` (their docs define
  them per iteration), once per epoch for every other scheduler, and `ReduceLROnPlateau` gets the
  validation loss (the training loss when there is no `val_loader`). ``scheduler_step`` overrides this.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Literal

import torch
from torch import nn
from torch.optim.lr_scheduler import CyclicLR, OneCycleLR, ReduceLROnPlateau
from tqdm.auto import tqdm

from lessons.checks import check_callable, check_choice, check_float, check_int, check_tensor

__all__ = ["History", "Metric", "TensorLoader", "evaluate", "fit", "predict", "transformer_lr"]

Metric = Callable[[torch.Tensor, torch.Tensor], float]
"""``metric(outputs, targets) -> float``, averaged over the batch (see `lessons.metrics`)."""


class History(dict[str, list[float]]):
    """Per-epoch numbers recorded by `fit`: a plain ``dict`` of lists with a few conveniences.

    Keys: ``"train_loss"``, ``"train_<metric>"`` for every metric and, with a validation loader,
    ``"val_loss"``, ``"val_<metric>"``. ``history["val_acc"][-1]`` is the last epoch's validation accuracy.
    Save it with a checkpoint as ``dict(history)`` (``torch.load(weights_only=True)`` accepts plain dicts).
    """

    @property
    def epochs(self) -> int:
        """How many epochs were recorded."""
        return len(self.get("train_loss", []))

    def last(self) -> dict[str, float]:
        """The last epoch's numbers, e.g. ``{"train_loss": 0.12, "val_loss": 0.2}``."""
        return {k: v[-1] for k, v in self.items() if v}


def _to(x: Any, device: torch.device) -> Any:
    """Move a tensor, or a tuple/list/dict of them, to `device`."""
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    if isinstance(x, (list, tuple)):
        return type(x)(_to(v, device) for v in x)
    if isinstance(x, Mapping):
        return {k: _to(v, device) for k, v in x.items()}
    return x


def _split(batch: Any) -> tuple[Any, Any]:
    if not isinstance(batch, (list, tuple)) or len(batch) != 2:
        raise ValueError(f"each batch must be a pair (inputs, targets), got {type(batch).__name__}")
    return batch[0], batch[1]


def _call(model: nn.Module, inputs: Any) -> torch.Tensor:
    return model(*inputs) if isinstance(inputs, (list, tuple)) else model(inputs)


def _size(targets: Any) -> int:
    return len(targets) if not isinstance(targets, torch.Tensor) or targets.ndim else 1


def _model_device(model: nn.Module) -> torch.device:
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def _check_common(model: object, loss_fn: object, metrics: object) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if loss_fn is not None:
        check_callable("loss_fn", loss_fn)
    if metrics is not None:
        if not isinstance(metrics, Mapping):
            raise TypeError(f"metrics must be a dict name -> callable, got {type(metrics).__name__}")
        for name, m in metrics.items():
            if not isinstance(name, str):
                raise TypeError(f"metrics must be keyed by names (str), got {name!r}")
            if name == "loss":
                raise ValueError("metrics must not use the name 'loss' (the loss is always recorded)")
            check_callable(f"metrics[{name!r}]", m)


def evaluate(
    model: nn.Module,
    loader: Iterable[Any],
    loss_fn: Callable[[torch.Tensor, Any], torch.Tensor] | None = None,
    *,
    metrics: Mapping[str, Metric] | None = None,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Average loss and metrics over `loader`, in eval mode and without gradients.

    Args:
        model: the network; its train/eval mode is restored afterwards.
        loader: yields ``(inputs, targets)`` batches.
        loss_fn: ``loss_fn(outputs, targets)`` returning the batch mean; ``None`` leaves ``"loss"`` out.
        metrics: name -> ``metric(outputs, targets) -> float`` (batch mean), e.g. ``{"acc": accuracy}``.
        device: where to run; ``None`` uses the device of the model's parameters.

    Returns:
        ``{"loss": ..., "<metric>": ...}``, each averaged over examples.

    Raises:
        TypeError: `model` is not an ``nn.Module``, or `loss_fn`/`metrics` are not callables.
        ValueError: `loader` yields no batch, or a batch is not a pair.
    """
    _check_common(model, loss_fn, metrics)
    metrics = dict(metrics or {})
    device = torch.device(device) if device is not None else _model_device(model)
    was_training = model.training
    model.eval()
    sums = dict.fromkeys((["loss"] if loss_fn is not None else []) + list(metrics), 0.0)
    n = 0
    with torch.no_grad():
        for batch in loader:
            inputs, targets = _to(_split(batch), device)
            outputs = _call(model, inputs)
            size = _size(targets)
            if loss_fn is not None:
                sums["loss"] += loss_fn(outputs, targets).item() * size
            for name, metric in metrics.items():
                sums[name] += float(metric(outputs, targets)) * size
            n += size
    model.train(was_training)
    if n == 0:
        raise ValueError("loader yielded no examples")
    return {k: v / n for k, v in sums.items()}


def fit(
    model: nn.Module,
    train_loader: Iterable[Any],
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, Any], torch.Tensor],
    *,
    epochs: int,
    val_loader: Iterable[Any] | None = None,
    scheduler: Any = None,
    scheduler_step: Literal["auto", "batch", "epoch"] = "auto",
    metrics: Mapping[str, Metric] | None = None,
    device: torch.device | str | None = None,
    progress: bool = False,
    clip_grad_norm: float | None = None,
    on_epoch_end: Callable[[int, History], bool | None] | None = None,
) -> History:
    """Train `model` for `epochs` passes over `train_loader`; return the per-epoch `History`.

    Args:
        model: the network (moved to `device` when one is given).
        train_loader: yields ``(inputs, targets)`` batches, e.g. a ``DataLoader``.
        optimizer: any ``torch.optim`` optimizer over the model's parameters.
        loss_fn: ``loss_fn(outputs, targets)`` returning the batch mean, e.g. ``nn.CrossEntropyLoss()``.
        epochs: number of passes over the training data (>= 1).
        val_loader: optional held-out batches, evaluated after every epoch (``val_*`` keys).
        scheduler: optional learning-rate scheduler (see `scheduler_step`).
        scheduler_step: ``"batch"`` (after every optimizer step), ``"epoch"`` (after every epoch) or
            ``"auto"``: per batch for ``OneCycleLR``/``CyclicLR``, per epoch for the rest.
        metrics: name -> ``metric(outputs, targets) -> float``, e.g. ``{"acc": lessons.metrics.accuracy}``;
            ``None`` records the loss only.
        device: where to train; ``None`` keeps the model where it is.
        progress: show a tqdm bar over epochs with the latest numbers.
        clip_grad_norm: if set, rescale gradients so their global L2 norm is at most this value.
        on_epoch_end: optional ``callback(epoch, history)`` after each epoch (``epoch`` counts from 0);
            returning ``True`` stops training (early stopping).

    Returns:
        `History` with ``train_loss`` (+ ``train_<metric>``) and, with `val_loader`, ``val_loss``
        (+ ``val_<metric>``).

    Raises:
        TypeError: a wrong type for `model`, `optimizer`, `loss_fn`, `metrics` or `epochs`.
        ValueError: `epochs` < 1, an unknown `scheduler_step`, `clip_grad_norm` <= 0, an empty `train_loader`.
        FloatingPointError: the loss became NaN or infinite (lower the learning rate).
    """
    _check_common(model, loss_fn, metrics)
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    check_int("epochs", epochs, ge=1)
    check_choice("scheduler_step", scheduler_step, ("auto", "batch", "epoch"))
    if clip_grad_norm is not None:
        check_float("clip_grad_norm", clip_grad_norm, gt=0)
    if scheduler_step == "auto":
        scheduler_step = "batch" if isinstance(scheduler, (OneCycleLR, CyclicLR)) else "epoch"
    metrics = dict(metrics or {})
    if device is not None:
        model.to(device)
    device = _model_device(model) if device is None else torch.device(device)

    history = History()
    bar = tqdm(range(epochs), desc="epochs", disable=not progress)
    for epoch in bar:
        model.train()
        sums, n = dict.fromkeys(["loss", *metrics], 0.0), 0
        for batch in train_loader:
            inputs, targets = _to(_split(batch), device)
            outputs = _call(model, inputs)  # 1. forward
            loss = loss_fn(outputs, targets)  # 2. loss (batch mean)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # 3. gradients
            if clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
            optimizer.step()  # 4. update
            if scheduler is not None and scheduler_step == "batch":
                scheduler.step()
            size, value = _size(targets), loss.item()
            if value != value or abs(value) == float("inf"):
                raise FloatingPointError(f"loss is {value} at epoch {epoch}: try a smaller learning rate")
            sums["loss"] += value * size
            with torch.no_grad():
                for name, metric in metrics.items():
                    sums[name] += float(metric(outputs, targets)) * size
            n += size
        if n == 0:
            raise ValueError("train_loader yielded no examples")
        for name, total in sums.items():
            history.setdefault(f"train_{name}", []).append(total / n)
        if val_loader is not None:
            for name, value in evaluate(model, val_loader, loss_fn, metrics=metrics, device=device).items():
                history.setdefault(f"val_{name}", []).append(value)
        if scheduler is not None and scheduler_step == "epoch":
            if isinstance(scheduler, ReduceLROnPlateau):
                scheduler.step(history["val_loss" if val_loader is not None else "train_loss"][-1])
            else:
                scheduler.step()
        bar.set_postfix({k: f"{v:.4g}" for k, v in history.last().items()})
        if on_epoch_end is not None and on_epoch_end(epoch, history):
            break
    return history


def predict(
    model: nn.Module, loader: Iterable[Any], *, device: torch.device | str | None = None
) -> torch.Tensor:
    """Run `model` over `loader` in eval mode without gradients; concatenate the outputs on the CPU.

    Args:
        model: the network; its train/eval mode is restored afterwards.
        loader: yields batches that are either an input tensor or a tuple/list whose first item is
            the inputs (targets, if present, are ignored), so ``DataLoader(TensorDataset(X))`` and
            ``DataLoader(TensorDataset(X, y))`` both work.
        device: where to run; ``None`` uses the device of the model's parameters.

    Returns:
        The outputs of all batches concatenated along axis 0, e.g. ``(N, C)`` logits.

    Raises:
        TypeError: `model` is not an ``nn.Module``.
        ValueError: `loader` yields no batch.
    """
    _check_common(model, None, None)
    device = torch.device(device) if device is not None else _model_device(model)
    was_training = model.training
    model.eval()
    outs = []
    with torch.no_grad():
        for batch in loader:
            inputs = batch[0] if isinstance(batch, (list, tuple)) else batch
            outs.append(_call(model, _to(inputs, device)).cpu())
    model.train(was_training)
    if not outs:
        raise ValueError("loader yielded no batches")
    return torch.cat(outs)


def transformer_lr(step: int, *, d_model: int = 512, warmup_steps: int = 4000) -> float:
    r"""The learning rate of Vaswani et al. (2017, Section 5.3) at optimizer step `step`:
    $d_\text{model}^{-0.5}\cdot\min(\text{step}^{-0.5},\ \text{step}\cdot\text{warmup}^{-1.5})$.

    It rises linearly for `warmup_steps` steps, peaks there at $(d_\text{model}\cdot\text{warmup})^{-0.5}$,
    then decays as $1/\sqrt{\text{step}}$. The paper counts steps from 1; ``LambdaLR`` counts from 0, so
    with an optimizer whose ``lr`` is 1.0 use ``LambdaLR(optimizer, lambda s: transformer_lr(s + 1))``
    and step the scheduler after every batch (``fit(..., scheduler_step="batch")``).

    Args:
        step: the optimizer step, counted from 1.
        d_model: the model width (512 in the base model, 1024 in the big one).
        warmup_steps: the length of the linear warm-up (4000 in the paper).

    Returns:
        The learning rate, a positive float.

    Raises:
        TypeError: an argument is not an int.
        ValueError: an argument is below 1.

    Examples:
        >>> round(transformer_lr(4000), 7)  # the peak of the base model: 1 / sqrt(512 * 4000)
        0.0006988
        >>> abs(transformer_lr(2000) - transformer_lr(4000) / 2) < 1e-12  # linear warm-up
        True
    """
    step = check_int("step", step, ge=1)
    d_model = check_int("d_model", d_model, ge=1)
    warmup_steps = check_int("warmup_steps", warmup_steps, ge=1)
    return d_model**-0.5 * min(step**-0.5, step * warmup_steps**-1.5)


class TensorLoader:
    """Mini-batches from tensors held in memory (or on the GPU), with a batch-level transform.

    A light replacement for ``DataLoader`` when the whole data set fits in memory: no worker processes,
    each batch is one slice, and augmentation such as `lessons.transforms.random_crop_flip` runs on the
    whole batch on the device. Iterating yields ``(transform(images[idx]), labels[idx])`` pairs, the format
    `fit` expects.

    Args:
        images: ``(N, ...)`` tensor.
        labels: ``(N,)`` tensor.
        batch_size: images per batch (the last batch may be smaller unless `drop_last`).
        shuffle: a new random order every epoch.
        transform: optional ``transform(batch) -> batch`` applied after slicing (augmentation,
            `lessons.transforms.normalize`).
        device: move each batch there before the transform (``None``: leave it where it is).
        drop_last: drop the last incomplete batch.
        seed: seeds the shuffling, so two runs see the same order.

    Raises:
        TypeError: `images`/`labels` are not tensors, `batch_size` is not an int, or `transform` is not
            callable.
        ValueError: lengths differ, or `batch_size` < 1.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        batch_size: int = 128,
        shuffle: bool = False,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        device: torch.device | str | None = None,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        check_tensor("images", images)
        check_tensor("labels", labels)
        if len(images) != len(labels):
            raise ValueError(f"images has {len(images)} items but labels has {len(labels)}")
        self.batch_size = check_int("batch_size", batch_size, ge=1)
        if transform is not None:
            check_callable("transform", transform)
        self.images, self.labels = images, labels
        self.shuffle, self.drop_last = shuffle, drop_last
        self.transform = transform
        self.device = torch.device(device) if device is not None else None
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n, b = len(self.images), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.images)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            x, y = self.images[idx], self.labels[idx]
            if self.device is not None:
                x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            if self.transform is not None:
                x = self.transform(x)
            yield x, y
