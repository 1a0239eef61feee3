"""Training recipes: whole runs, from tensors to a trained model, that chapters call in one line.

* `train_classifier`: the image-classification recipe (normalisation with the training set's statistics,
  batch augmentation, SGD or AdamW, a cosine or one-cycle schedule), run by `lessons.train.fit`;
* `trained_digit_cnn`: a `SmallCNN` trained on the 5,000 MNIST digits in a few seconds and cached, for the
  lessons that inspect a trained network (feature maps, Grad-CAM);
* `main`: the command line that trains a ResNet on the CIFAR-10 files on your disk with the same recipe::

    python -m lessons.recipes --root ~/data/cifar-10-batches-py --model resnet18 --epochs 200
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Literal, NamedTuple

import torch

from lessons.checks import check_choice, check_int
from lessons.datasets.cifar import load_cifar10
from lessons.datasets.images import load_mnist, stratified_split
from lessons.metrics import accuracy
from lessons.models.cnn import SmallCNN
from lessons.models.resnet import resnet
from lessons.runtime import get_device, seed_everything
from lessons.train import TensorLoader, fit
from lessons.transforms import channel_stats, normalize, random_crop_flip

__all__ = ["TrainedCNN", "main", "train_classifier", "trained_digit_cnn"]


def train_classifier(
    model: torch.nn.Module,
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    *,
    epochs: int,
    batch_size: int = 128,
    optimizer: Literal["sgd", "adamw"] = "sgd",
    lr: float = 0.1,
    weight_decay: float = 5e-4,
    schedule: Literal["cosine", "onecycle"] = "cosine",
    padding: int = 4,
    flip: bool = True,
    device: torch.device | str | None = None,
    seed: int = 0,
    progress: bool = False,
) -> dict[str, list[float]]:
    """Train an image classifier with augmentation and a learning-rate schedule, validating every epoch.

    The recipe: per-channel normalisation with the training set's statistics, `random_crop_flip` on each
    training batch, cross-entropy, SGD (momentum 0.9) or AdamW with weight decay, and a cosine
    schedule (stepped per epoch) or a one-cycle schedule (stepped per batch), run by `lessons.train.fit`.
    With the defaults and ``resnet18(num_classes=10, stem="small")`` it is the recipe of
    kuangliu/pytorch-cifar (SGD 0.1, weight decay 5e-4, cosine over 200 epochs, crop 4 + flip).

    Args:
        model: a classifier taking normalised ``(N, C, H, W)`` images.
        train: ``(images, labels)``: images uint8 (0-255) or float in [0, 1], ``(N, C, H, W)``.
        val: the same for validation (never augmented), evaluated after every epoch. Keep the test set
            out of it unless, like the CIFAR-10 command line, you only report it.
        epochs: passes over the training data.
        batch_size: training batch size.
        optimizer: ``"sgd"`` or ``"adamw"``.
        lr: (peak) learning rate.
        weight_decay: L2 weight decay.
        schedule: ``"cosine"`` or ``"onecycle"``.
        padding: random-crop padding in pixels (0: no shifts).
        flip: random left-right mirroring.
        device: where to train (``None``: `lessons.get_device`).
        seed: seeds the shuffling and augmentation.
        progress: show a progress bar.

    Returns:
        The `lessons.train.History`: ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc`` per epoch.

    Raises:
        TypeError: `epochs` is not an int, or images or labels are not tensors.
        ValueError: an unknown `optimizer` or `schedule`, `epochs` < 1, or mismatched images and labels.
    """
    check_int("epochs", epochs, ge=1)
    check_choice("optimizer", optimizer, ("sgd", "adamw"))
    check_choice("schedule", schedule, ("cosine", "onecycle"))
    device = torch.device(device) if device is not None else get_device()
    mean, std = channel_stats(train[0])
    generator = torch.Generator().manual_seed(seed)

    def augment(x: torch.Tensor) -> torch.Tensor:
        return normalize(random_crop_flip(x, padding, flip=flip, generator=generator), mean, std)

    def prepare(x: torch.Tensor) -> torch.Tensor:
        return normalize(x, mean, std)

    train_loader = TensorLoader(
        *train, batch_size=batch_size, shuffle=True, transform=augment, device=device, seed=seed
    )
    val_loader = TensorLoader(*val, batch_size=max(batch_size, 500), transform=prepare, device=device)
    model.to(device)
    if optimizer == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(
            model.parameters(), lr=lr, momentum=0.9, weight_decay=weight_decay
        )
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    if schedule == "cosine":
        sched: torch.optim.lr_scheduler.LRScheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=epochs
        )
    else:
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * len(train_loader))
    return fit(
        model, train_loader, opt, torch.nn.CrossEntropyLoss(), epochs=epochs, val_loader=val_loader,
        scheduler=sched, metrics={"acc": accuracy}, device=device, progress=progress,
    )  # fmt: skip


class TrainedCNN(NamedTuple):
    """What `trained_digit_cnn` returns: the model (in eval mode), the normalisation it expects
    (``(x - mean) / std`` on images in [0, 1]) and its accuracy on the 1,000 test digits."""

    model: SmallCNN
    mean: float
    std: float
    test_accuracy: float


@functools.lru_cache(maxsize=4)
def _train_digit_cnn(channels: tuple[int, ...], epochs: int, seed: int) -> tuple[dict, float, float, float]:
    X_rest, X_test, y_rest, y_test = load_mnist(test_size=1000, seed=0)
    X_train, X_val, y_train, y_val = stratified_split(X_rest, y_rest, test_size=500, seed=0)
    with torch.random.fork_rng():  # leave the caller's random state alone
        torch.manual_seed(seed)
        model = SmallCNN(channels)
        train_classifier(
            model, (X_train, y_train), (X_val, y_val), epochs=epochs, batch_size=64, optimizer="adamw",
            lr=5e-3, weight_decay=1e-4, schedule="onecycle", padding=0, flip=False, device="cpu", seed=seed,
        )  # fmt: skip
    (mean,), (std,) = channel_stats(X_train)
    model.eval()
    with torch.no_grad():  # the test digits, once, after training
        test_accuracy = accuracy(model((X_test - mean) / std), y_test)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return state, mean, std, test_accuracy


def trained_digit_cnn(channels: Sequence[int] = (16, 32), *, epochs: int = 4, seed: int = 0) -> TrainedCNN:
    """A `SmallCNN` trained on the 5,000 MNIST digits of `lessons.datasets.images.load_mnist`.

    The split: the stratified 1,000 test digits of ``load_mnist(test_size=1000, seed=0)`` are held out and
    used once, for the reported accuracy; of the other 4,000, ``stratified_split(..., test_size=500,
    seed=0)`` keeps 500 for the per-epoch validation and trains on 3,500 (the split of the CNN chapter's
    project). Training (AdamW, one-cycle schedule, CPU) takes a few seconds and happens once per Python
    process for each argument combination; later calls return a fresh copy of the cached weights, so
    callers may modify or hook the model freely. With the defaults the test accuracy is about 97%.

    Args:
        channels: channels of the blocks of the `SmallCNN`.
        epochs: training epochs.
        seed: seeds the weights, the shuffling and the augmentation draws.

    Returns:
        `TrainedCNN` ``(model, mean, std, test_accuracy)``; feed the model ``(x - mean) / std`` with
        ``x`` of shape ``(N, 1, 28, 28)`` in [0, 1].

    Raises:
        TypeError, ValueError: bad `channels`, `epochs` or `seed`.
    """
    channels = tuple(channels)
    check_int("epochs", epochs, ge=1)
    check_int("seed", seed, ge=0)
    model = SmallCNN(channels)  # validates `channels`
    state, mean, std, acc = _train_digit_cnn(channels, epochs, seed)
    model.load_state_dict(state)
    return TrainedCNN(model.eval(), mean, std, acc)


def main(argv: Sequence[str] | None = None) -> float:
    """Command line: train a ResNet (or `SmallCNN`) on CIFAR-10 files on your disk; print test accuracy.

    ``python -m lessons.recipes --root DIR [--model resnet18] [--epochs 200] [--device cuda]``;
    ``--help`` lists every option. The test set is evaluated after every epoch, for the record only: no
    setting is chosen by it. Returns the final test accuracy.
    """
    import argparse

    p = argparse.ArgumentParser(prog="python -m lessons.recipes", description=main.__doc__)
    p.add_argument("--root", help="folder with cifar-10-batches-py/ (or -bin/); default $CIFAR10_DIR")
    p.add_argument(
        "--model", default="resnet18", choices=["resnet18", "resnet34", "resnet50", "resnet101", "smallcnn"]
    )
    p.add_argument(
        "--width", type=int, default=64, help="channels of the first ResNet stage (64 in the paper)"
    )
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--limit", type=int, default=None, help="use only the first LIMIT training images")
    p.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save", default=None, help="write the trained weights (state_dict) to this file")
    args = p.parse_args(argv)

    seed_everything(args.seed)
    train = load_cifar10(args.root, split="train", limit=args.limit)
    test = load_cifar10(args.root, split="test")
    if args.model == "smallcnn":
        model: torch.nn.Module = SmallCNN((64, 128, 256), in_channels=3, image_size=32, convs_per_block=2)
    else:
        model = resnet(int(args.model[6:]), num_classes=len(train.classes), stem="small", width=args.width)
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True
    history = train_classifier(
        model, train[:2], test[:2], epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, device=args.device, seed=args.seed, progress=True,
    )  # fmt: skip
    acc = history["val_acc"][-1]
    print(f"{args.model}: test accuracy {acc:.2%} after {args.epochs} epochs on {len(train.labels)} images")
    if args.save:
        torch.save(model.state_dict(), args.save)
    return acc


if __name__ == "__main__":
    main()
