"""lessons.train: fit / evaluate / predict on tiny problems, scheduler rules and bad input."""

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from lessons.metrics import accuracy, mse
from lessons.train import History, TensorLoader, evaluate, fit, predict, transformer_lr


def blobs(n: int = 120, seed: int = 0) -> TensorDataset:
    """Two well separated Gaussian blobs in 2-D."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    X = torch.randn(n, 2, generator=g) * 0.5 + (y[:, None] * 2 - 1) * 2.0
    return TensorDataset(X, y)


def loaders(batch_size: int = 32):
    return DataLoader(blobs(), batch_size=batch_size, shuffle=True), DataLoader(
        blobs(60, seed=1), batch_size=25
    )


def test_fit_learns_and_records_history():
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    train, val = loaders()
    h = fit(
        model,
        train,
        torch.optim.SGD(model.parameters(), lr=0.5),
        nn.CrossEntropyLoss(),
        epochs=5,
        val_loader=val,
        metrics={"acc": accuracy},
    )
    assert isinstance(h, History) and h.epochs == 5
    assert set(h) == {"train_loss", "train_acc", "val_loss", "val_acc"}
    assert all(len(v) == 5 for v in h.values())
    assert h["train_loss"][-1] < h["train_loss"][0]
    assert h["val_acc"][-1] == 1.0
    assert h.last()["val_acc"] == 1.0


def test_default_records_loss_only():
    model = nn.Linear(2, 2)
    train, _ = loaders()
    h = fit(model, train, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), epochs=1)
    assert list(h) == ["train_loss"]


def test_evaluate_weights_batches_by_size():
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    data = blobs(50)
    full = evaluate(model, DataLoader(data, batch_size=50), nn.CrossEntropyLoss(), metrics={"acc": accuracy})
    uneven = evaluate(
        model, DataLoader(data, batch_size=16), nn.CrossEntropyLoss(), metrics={"acc": accuracy}
    )
    assert uneven["loss"] == pytest.approx(full["loss"], rel=1e-6)
    assert uneven["acc"] == pytest.approx(full["acc"])
    assert set(evaluate(model, DataLoader(data, batch_size=16))) == set()  # no loss_fn, no metrics


def test_evaluate_and_predict_restore_mode_and_use_eval():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.9))
    model.train()
    loader = DataLoader(blobs(40), batch_size=7)
    p1, p2 = predict(model, loader), predict(model, loader)
    assert torch.equal(p1, p2) and p1.shape == (40, 2)  # dropout is off in eval mode
    assert model.training
    X = blobs(40).tensors[0]
    assert torch.allclose(predict(model, DataLoader(TensorDataset(X), batch_size=9)), p1)
    assert torch.allclose(predict(model, DataLoader(X, batch_size=9)), p1)  # plain tensor batches


def test_regression_with_mse_metric_gives_exact_rmse():
    torch.manual_seed(0)
    X = torch.randn(70, 3)
    y = X @ torch.tensor([1.0, -2.0, 0.5]) + 0.1
    model = nn.Linear(3, 1)
    loader = DataLoader(TensorDataset(X, y), batch_size=16)
    out = evaluate(model, loader, metrics={"mse": mse})
    with torch.no_grad():
        exact = ((model(X).squeeze(1) - y) ** 2).mean().sqrt().item()
    assert math.sqrt(out["mse"]) == pytest.approx(exact, rel=1e-5)


def test_one_cycle_is_stepped_per_batch_and_step_lr_per_epoch():
    train, _ = loaders(batch_size=30)  # 4 batches per epoch
    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3 * len(train))
    fit(model, train, opt, nn.CrossEntropyLoss(), epochs=3, scheduler=sched)
    assert sched.last_epoch == 3 * len(train)  # one step per batch, and no "stepped too often" error

    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    fit(model, train, opt, nn.CrossEntropyLoss(), epochs=3, scheduler=sched)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**3)

    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    fit(model, train, opt, nn.CrossEntropyLoss(), epochs=1, scheduler=sched, scheduler_step="batch")
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** len(train))


def test_reduce_on_plateau_gets_a_loss():
    train, val = loaders()
    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # nothing improves
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    fit(model, train, opt, nn.CrossEntropyLoss(), epochs=2, val_loader=val, scheduler=sched)
    assert sched.best == pytest.approx(evaluate(model, val, nn.CrossEntropyLoss())["loss"])


def test_clip_grad_norm_and_early_stop():
    train, _ = loaders()
    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    seen = []
    h = fit(
        model,
        train,
        opt,
        nn.CrossEntropyLoss(),
        epochs=10,
        clip_grad_norm=1e-3,
        on_epoch_end=lambda epoch, hist: seen.append(epoch) or epoch == 1,
    )
    assert h.epochs == 2 and seen == [0, 1]
    total = torch.cat([p.grad.flatten() for p in model.parameters()]).norm()
    assert total <= 1e-3 + 1e-6  # gradients of the last step were clipped before the update


def test_multi_input_batches_and_device():
    class Add(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)

        def forward(self, a, b):
            return self.lin(a + b)

    X = torch.randn(20, 2)
    y = torch.randint(0, 2, (20,))
    loader = [((X[:10], X[:10]), y[:10]), ((X[10:], X[10:]), y[10:])]  # any iterable of batches
    model = Add()
    h = fit(
        model,
        loader,
        torch.optim.SGD(model.parameters(), lr=0.1),
        nn.CrossEntropyLoss(),
        epochs=1,
        device="cpu",
        progress=False,
    )
    assert h.epochs == 1


def test_nan_loss_raises():
    model = nn.Linear(2, 2)
    X = torch.full((4, 2), float("nan"))
    loader = DataLoader(TensorDataset(X, torch.zeros(4, dtype=torch.long)), batch_size=2)
    with pytest.raises(FloatingPointError, match="learning rate"):
        fit(model, loader, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), epochs=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": "net"}, TypeError, "model"),
        ({"optimizer": "adam"}, TypeError, "optimizer"),
        ({"loss_fn": "ce"}, TypeError, "loss_fn"),
        ({"epochs": 2.0}, TypeError, "epochs"),
        ({"epochs": 0}, ValueError, "epochs"),
        ({"scheduler_step": "step"}, ValueError, "scheduler_step"),
        ({"clip_grad_norm": 0.0}, ValueError, "clip_grad_norm"),
        ({"metrics": [accuracy]}, TypeError, "metrics"),
        ({"metrics": {"loss": accuracy}}, ValueError, "metrics"),
        ({"train_loader": []}, ValueError, "train_loader"),
        ({"train_loader": [torch.zeros(2, 2)]}, ValueError, "pair"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs, error, match):
    model = nn.Linear(2, 2)
    args = {
        "model": model,
        "train_loader": loaders()[0],
        "optimizer": torch.optim.SGD(model.parameters(), lr=0.1),
        "loss_fn": nn.CrossEntropyLoss(),
        "epochs": 1,
    }
    args.update(kwargs)
    with pytest.raises(error, match=match):
        fit(args.pop("model"), args.pop("train_loader"), args.pop("optimizer"), args.pop("loss_fn"), **args)


def test_evaluate_and_predict_reject_bad_arguments():
    with pytest.raises(TypeError, match="model"):
        evaluate(lambda x: x, [])
    with pytest.raises(ValueError, match="loader"):
        evaluate(nn.Linear(2, 2), [], nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match="loader"):
        predict(nn.Linear(2, 2), [])
    with pytest.raises(TypeError, match="model"):
        predict("net", [])


def test_progress_bar_runs(capsys):
    train, val = loaders()
    model = nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    h = fit(model, train, opt, nn.CrossEntropyLoss(), epochs=2, val_loader=val, progress=True)
    assert h.epochs == 2
    assert "epochs" in capsys.readouterr().err  # tqdm writes to stderr


def test_tensor_loader() -> None:
    X, y = torch.arange(10.0).view(10, 1), torch.arange(10)
    loader = TensorLoader(X, y, batch_size=4, shuffle=True, transform=lambda b: b * 2, seed=0)
    assert len(loader) == 3
    batches = list(loader)
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    labels = torch.cat([b[1] for b in batches])
    assert sorted(labels.tolist()) == list(range(10))
    assert torch.equal(torch.cat([b[0] for b in batches]).view(-1), 2 * labels.float())
    assert not torch.equal(labels, torch.cat([b[1] for b in loader]))  # a new order each epoch
    assert len(TensorLoader(X, y, batch_size=4, drop_last=True)) == 2
    with pytest.raises(ValueError, match="batch_size"):
        TensorLoader(X, y, batch_size=0)
    with pytest.raises(TypeError, match="batch_size"):
        TensorLoader(X, y, batch_size=2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="transform"):
        TensorLoader(X, y, transform="flip")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="labels"):
        TensorLoader(X, y[:3])
    with pytest.raises(TypeError, match="images"):
        TensorLoader(X.numpy(), y)  # type: ignore[arg-type]


def test_transformer_lr_follows_the_paper():
    d, w = 512, 4000
    for step in (1, 100, 3999, 4000, 4001, 20_000, 100_000):
        assert transformer_lr(step) == pytest.approx(d**-0.5 * min(step**-0.5, step * w**-1.5), rel=1e-12)
    peak = transformer_lr(w)
    assert peak == pytest.approx((d * w) ** -0.5, rel=1e-12)
    assert all(transformer_lr(s) < peak for s in (w - 1, w + 1, 1, 100_000))
    assert transformer_lr(4 * w) == pytest.approx(peak / 2, rel=1e-12)  # 1/sqrt decay after the peak
    assert transformer_lr(w, d_model=1024) == pytest.approx(peak / math.sqrt(2), rel=1e-12)


def test_transformer_lr_with_lambdalr_and_transformers():
    from transformers import get_inverse_sqrt_schedule

    d, w, steps = 64, 10, 40
    opt = torch.optim.Adam([nn.Parameter(torch.zeros(1))], lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: transformer_lr(s + 1, d_model=d, warmup_steps=w))
    # transformers' inverse-square-root schedule is the same curve divided by its peak (d * w) ** -0.5
    ref = get_inverse_sqrt_schedule(torch.optim.Adam([nn.Parameter(torch.zeros(1))]), num_warmup_steps=w)
    for step in range(1, steps + 1):
        lr = opt.param_groups[0]["lr"]
        assert lr == pytest.approx(d**-0.5 * min(step**-0.5, step * w**-1.5), rel=1e-12)
        assert lr == pytest.approx((d * w) ** -0.5 * ref.lr_lambdas[0](step), rel=1e-12)
        opt.step()
        sched.step()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"step": 0}, ValueError, "step"),
        ({"step": 1.5}, TypeError, "step"),
        ({"step": 1, "d_model": 0}, ValueError, "d_model"),
        ({"step": 1, "warmup_steps": 0}, ValueError, "warmup_steps"),
        ({"step": 1, "warmup_steps": "4000"}, TypeError, "warmup_steps"),
    ],
)
def test_transformer_lr_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        transformer_lr(**kwargs)
