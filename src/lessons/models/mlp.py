"""A configurable multilayer perceptron (Phase 4).

``MLP(64, [128, 64], 10, activation="gelu", dropout=0.1, batch_norm=True)`` builds::

    Linear(64, 128) -> BatchNorm1d(128) -> GELU -> Dropout(0.1)
    Linear(128, 64) -> BatchNorm1d(64)  -> GELU -> Dropout(0.1)
    Linear(64, 10)                                   # logits: no activation on the output

The chapter (docs/phases/04-mlp/mlp.md) builds the same network by hand first; this class is what later
chapters import.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from lessons.checks import check_choice, check_float, check_int
from lessons.models import make_activation

__all__ = ["INITS", "MLP"]

#: Weight initialisations accepted by `MLP(init=...)`; ``"default"`` keeps PyTorch's own.
INITS = ("default", "he", "xavier")


class MLP(nn.Module):
    """Fully connected layers: ``[Linear -> (BatchNorm1d) -> activation -> (Dropout)] * k -> Linear``.

    Args:
        in_features: size of each input vector.
        hidden: width of each hidden layer, e.g. ``[128, 64]``; an int means one hidden layer; an empty
            sequence gives a linear model ``Linear(in_features, out_features)``.
        out_features: size of each output vector (e.g. the number of classes: the output is logits).
        activation: name of the hidden activation (see `lessons.models.ACTIVATIONS`).
        dropout: probability of zeroing a hidden unit during training, in ``[0, 1)``; 0 adds no layer.
        batch_norm: put a `BatchNorm1d` between each hidden `Linear` and its activation (the hidden
            `Linear` then has no bias: BatchNorm's shift replaces it).
        init: ``"default"`` (PyTorch's), ``"he"`` (Kaiming normal, for ReLU-like activations) or
            ``"xavier"`` (Glorot normal, for tanh/sigmoid); biases start at zero for the last two.

    Shapes:
        input ``(N, in_features)``, or ``(N, d1, d2, ...)`` with ``d1 * d2 * ... == in_features``
        (flattened from dim 1, handy for images); output ``(N, out_features)``.

    Raises:
        TypeError: a size is not an int, `hidden` is not an int or a sequence of ints, or `dropout` is
            not a number.
        ValueError: a size is < 1, `dropout` is outside ``[0, 1)``, or `activation`/`init` is unknown.

    Examples:
        >>> model = MLP(4, [8, 8], 3, activation="tanh", dropout=0.1)
        >>> model(torch.zeros(5, 4)).shape
        torch.Size([5, 3])
    """

    def __init__(
        self,
        in_features: int,
        hidden: int | Sequence[int],
        out_features: int,
        *,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        init: str = "default",
    ) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features, ge=1)
        self.out_features = check_int("out_features", out_features, ge=1)
        if isinstance(hidden, int) and not isinstance(hidden, bool):
            hidden = [hidden]
        if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
            raise TypeError(f"hidden must be an int or a sequence of ints, got {type(hidden).__name__}")
        self.hidden = [check_int(f"hidden[{i}]", h, ge=1) for i, h in enumerate(hidden)]
        make_activation(activation)  # validates the name before any layer is built
        self.activation = activation.lower()
        self.dropout = check_float("dropout", dropout, ge=0, lt=1)
        self.batch_norm = bool(batch_norm)
        self.init = check_choice("init", init, INITS)

        layers: list[nn.Module] = []
        width = self.in_features
        for h in self.hidden:
            layers.append(nn.Linear(width, h, bias=not self.batch_norm))
            if self.batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(make_activation(self.activation))
            if self.dropout > 0:
                layers.append(nn.Dropout(self.dropout))
            width = h
        layers.append(nn.Linear(width, self.out_features))
        self.net = nn.Sequential(*layers)
        if init != "default":
            self.reset_parameters(init)

    def reset_parameters(self, init: str = "he") -> None:
        """Re-initialise every `Linear`: ``"he"`` = Kaiming normal (std ``sqrt(2 / fan_in)``), ``"xavier"``
        = Glorot normal (std ``sqrt(2 / (fan_in + fan_out))``), ``"default"`` = PyTorch's; biases -> 0 for
        the first two.

        Raises:
            ValueError: `init` is not one of `INITS`.
        """
        check_choice("init", init, INITS)
        for module in self.net:
            if not isinstance(module, nn.Linear):
                continue
            if init == "default":
                module.reset_parameters()
                continue
            if init == "he":
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            else:
                nn.init.xavier_normal_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, in_features)`` (or ``(N, d1, d2, ...)``, flattened) to logits ``(N, out_features)``.

        Raises:
            TypeError: `x` is not a tensor.
            ValueError: `x` has no batch dimension or its features do not number `in_features`.
        """
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.ndim < 2:
            raise ValueError(
                f"x must have shape (N, {self.in_features}) with a batch dimension, got {tuple(x.shape)}"
                " (use x.unsqueeze(0) for a single example)"
            )
        if x.ndim > 2:
            x = x.flatten(1)
        if x.shape[1] != self.in_features:
            raise ValueError(
                f"x must have {self.in_features} features per example (in_features), "
                f"got shape {tuple(x.shape)}"
            )
        return self.net(x)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, hidden={self.hidden}, out_features={self.out_features}, "
            f"activation={self.activation!r}, dropout={self.dropout}, batch_norm={self.batch_norm}"
        )
