"""Recurrent networks written out: RNN, LSTM and GRU cells by hand (numerically equal to PyTorch's),
a character-level language model, text sampling, and a small forecaster for time series.

The hand-written cells use PyTorch's parameter names and layouts (``weight_ih``, ``weight_hh``,
``bias_ih``, ``bias_hh``; LSTM gates stacked ``i, f, g, o``; GRU gates ``r, z, n``), so weights copy
across with `cell_from_torch` and the outputs can be compared exactly.

Examples:
    >>> import torch
    >>> torch_rnn = torch.nn.RNN(3, 5, batch_first=True)
    >>> cell = cell_from_torch(torch_rnn)
    >>> x = torch.randn(2, 4, 3)
    >>> out, h = unroll(cell, x)
    >>> torch.allclose(out, torch_rnn(x)[0], atol=1e-6)
    True
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from lessons.checks import check_choice, check_float, check_int, check_token_ids

__all__ = [
    "CharRNN",
    "GRUCell",
    "LSTMCell",
    "RNNCell",
    "RNNRegressor",
    "cell_from_torch",
    "sample",
    "unroll",
]

CellKind = Literal["rnn", "lstm", "gru"]
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]
_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


class _CellBase(nn.Module):
    """Parameters shared by the three cells: ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), biases (G*H,)."""

    kind: CellKind = "rnn"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True) -> None:
        super().__init__()
        self.input_size = check_int("input_size", input_size, ge=1)
        self.hidden_size = check_int("hidden_size", hidden_size, ge=1)
        g = _GATES[self.kind] * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(g, input_size))
        self.weight_hh = nn.Parameter(torch.empty(g, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(g))
            self.bias_hh = nn.Parameter(torch.empty(g))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's initialisation: every parameter uniform in ``±1/sqrt(hidden_size)``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def _affine(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.dim() != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"x must have shape (batch, {self.input_size}), got {tuple(x.shape)}")
        if h.shape != (x.shape[0], self.hidden_size):
            raise ValueError(
                f"hidden state must have shape ({x.shape[0]}, {self.hidden_size}), got {tuple(h.shape)}"
            )
        gi = F.linear(x, self.weight_ih, self.bias_ih)
        gh = F.linear(h, self.weight_hh, self.bias_hh)
        return gi, gh

    def init_state(self, batch: int, *, like: torch.Tensor | None = None) -> State:
        """Zero initial state for `batch` sequences (a tensor, or ``(h, c)`` for the LSTM)."""
        kw = {} if like is None else {"dtype": like.dtype, "device": like.device}
        h = torch.zeros(batch, self.hidden_size, **kw)
        return (h, h.clone()) if self.kind == "lstm" else h


class RNNCell(_CellBase):
    r"""Elman RNN cell: $h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})$, equal to `nn.RNNCell`.

    Args:
        input_size: features ``I`` per time step.
        hidden_size: state size ``H``.
        bias: learn the two bias vectors.
        nonlinearity: ``"tanh"`` (default) or ``"relu"``.

    Shapes: ``forward(x (B, I), h (B, H)) -> h' (B, H)``.
    """

    kind: CellKind = "rnn"

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"
    ) -> None:
        check_choice("nonlinearity", nonlinearity, ("tanh", "relu"))
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        h = self.init_state(x.shape[0], like=x) if h is None else h
        gi, gh = self._affine(x, h)
        return torch.tanh(gi + gh) if self.nonlinearity == "tanh" else torch.relu(gi + gh)


class LSTMCell(_CellBase):
    r"""LSTM cell, equal to `nn.LSTMCell` (gates stacked in PyTorch's order ``i, f, g, o``).

    $$i, f, o = \sigma(\cdot),\quad g = \tanh(\cdot),\quad c_t = f \odot c_{t-1} + i \odot g,\quad
    h_t = o \odot \tanh(c_t)$$

    Shapes: ``forward(x (B, I), (h, c) each (B, H)) -> (h', c')``.
    """

    kind: CellKind = "lstm"

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = self.init_state(x.shape[0], like=x) if state is None else state
        gi, gh = self._affine(x, h)
        i, f, g, o = (gi + gh).chunk(4, dim=1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g  # the additive "conveyor belt": gradients pass through f, not through a matmul
        return o * torch.tanh(c), c


class GRUCell(_CellBase):
    r"""GRU cell, equal to `nn.GRUCell` (gates ``r, z, n``; note ``r`` multiplies $W_{hn}h + b_{hn}$).

    $$r, z = \sigma(\cdot),\quad n = \tanh(W_{in}x + b_{in} + r\odot(W_{hn}h + b_{hn})),\quad
    h_t = (1 - z)\odot n + z \odot h_{t-1}$$

    Shapes: ``forward(x (B, I), h (B, H)) -> h' (B, H)``.
    """

    kind: CellKind = "gru"

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        h = self.init_state(x.shape[0], like=x) if h is None else h
        gi, gh = self._affine(x, h)
        i_r, i_z, i_n = gi.chunk(3, dim=1)
        h_r, h_z, h_n = gh.chunk(3, dim=1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h


_HAND = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}
_TORCH_KIND = {
    nn.RNN: "rnn",
    nn.RNNCell: "rnn",
    nn.LSTM: "lstm",
    nn.LSTMCell: "lstm",
    nn.GRU: "gru",
    nn.GRUCell: "gru",
}


def cell_from_torch(module: nn.Module, layer: int = 0, reverse: bool = False) -> RNNCell | LSTMCell | GRUCell:
    """A hand-written cell holding a copy of the weights of one layer/direction of a PyTorch RNN.

    Args:
        module: an `nn.RNN`, `nn.LSTM`, `nn.GRU` or one of their ``*Cell`` versions.
        layer: which layer of a multi-layer module.
        reverse: the backward direction of a bidirectional module.

    Returns:
        A `RNNCell`, `LSTMCell` or `GRUCell` (independent parameters: changing it leaves `module` as is).

    Raises:
        TypeError: `module` is not one of the six PyTorch classes.
        ValueError: `layer` / `reverse` do not exist in `module`, or it uses ``proj_size``.
    """
    kind = _TORCH_KIND.get(type(module))
    if kind is None:
        raise TypeError(f"module must be nn.RNN/LSTM/GRU or a *Cell, got {type(module).__name__}")
    is_cell = isinstance(module, (nn.RNNCell, nn.LSTMCell, nn.GRUCell))
    if is_cell:
        if layer != 0 or reverse:
            raise ValueError("a *Cell module has one layer and one direction: use layer=0, reverse=False")
        suffix = ""
    else:
        if not 0 <= layer < module.num_layers:
            raise ValueError(f"layer must be in [0, {module.num_layers}), got {layer}")
        if reverse and not module.bidirectional:
            raise ValueError("reverse=True needs a bidirectional module")
        if getattr(module, "proj_size", 0):
            raise ValueError("LSTMs with proj_size are not supported")
        suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    w_ih = getattr(module, "weight_ih" + suffix)
    bias = getattr(module, "bias", True)
    kwargs = {"nonlinearity": module.nonlinearity} if kind == "rnn" else {}
    cell = _HAND[kind](w_ih.shape[1], module.hidden_size, bias=bias, **kwargs)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            if getattr(cell, name) is not None:
                getattr(cell, name).copy_(getattr(module, name + suffix))
    return cell.to(w_ih.device)


def unroll(cell: nn.Module, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
    """Run a cell over a sequence, one time step after the other (the loop `nn.RNN` hides).

    Args:
        cell: a hand-written cell or `nn.RNNCell` / `nn.LSTMCell` / `nn.GRUCell`.
        x: inputs of shape ``(B, T, I)`` (batch first).
        state: initial state (``(B, H)``, or ``(h, c)`` for an LSTM); zeros when ``None``.

    Returns:
        ``(outputs, final_state)``: the hidden states of every step, shape ``(B, T, H)``, and the last
        state (same structure as `state`).

    Raises:
        ValueError: `x` is not 3-D or has no time steps.
    """
    if x.dim() != 3 or x.shape[1] == 0:
        raise ValueError(f"x must have shape (batch, time>0, features), got {tuple(x.shape)}")
    outputs = []
    for t in range(x.shape[1]):
        state = cell(x[:, t], state)
        outputs.append(state[0] if isinstance(state, tuple) else state)
    return torch.stack(outputs, dim=1), state


def _torch_rnn(kind: str, *args, **kwargs) -> nn.Module:
    check_choice("cell", kind, _GATES)
    return {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](*args, **kwargs)


class CharRNN(nn.Module):
    """Character-level language model: embedding -> RNN/LSTM/GRU layers -> linear layer over the vocabulary.

    Args:
        vocab_size: number of token ids ``V``.
        embed_dim: size of each character embedding.
        hidden_size: state size ``H`` of every recurrent layer.
        num_layers: stacked recurrent layers.
        cell: ``"lstm"`` (default), ``"gru"`` or ``"rnn"``.
        dropout: dropout between stacked layers and before the output layer.

    Shapes:
        ``forward(x (B, T) long) -> logits (B, T, V)``;
        ``forward_state(x, state) -> (logits, state)`` carries the state between calls (sampling,
        truncated BPTT).

    Raises:
        TypeError: a size is not an int, or `dropout` is not a number.
        ValueError: a size is < 1, `cell` is unknown, or `dropout` is outside ``[0, 1)``.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 64,
        hidden_size: int = 256,
        num_layers: int = 1,
        cell: CellKind = "lstm",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_int("vocab_size", vocab_size, ge=1)
        check_int("embed_dim", embed_dim, ge=1)
        check_int("hidden_size", hidden_size, ge=1)
        check_int("num_layers", num_layers, ge=1)
        check_float("dropout", dropout, ge=0, lt=1)
        self.vocab_size, self.cell = vocab_size, cell
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.rnn = _torch_rnn(
            cell,
            embed_dim,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward_state(self, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits ``(B, T, V)`` for ids ``x`` ``(B, T)``, starting from `state`, and the final state."""
        check_token_ids("x", x, self.vocab_size, ndim=2)
        out, state = self.rnn(self.embed(x), state)
        return self.head(self.drop(out)), state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_state(x)[0]


@torch.no_grad()
def sample(
    model: CharRNN,
    prompt_ids: list[int] | torch.Tensor,
    length: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> list[int]:
    """Continue `prompt_ids` by `length` ids, drawing each from the model's softmax.

    Args:
        model: a `CharRNN` (or anything with the same `forward_state`).
        prompt_ids: at least one id to condition on.
        length: number of new ids, >= 0.
        temperature: > 0; below 1 sharpens the distribution (safer, more repetitive text), above 1
            flattens it.
        top_k: draw only among the `top_k` likeliest ids (``None``: all).
        generator: a seeded `torch.Generator` makes the sample reproducible.

    Returns:
        The `length` new ids (the prompt is not repeated).

    Raises:
        TypeError: `length` or `top_k` is not an int, or `temperature` is not a number.
        ValueError: empty prompt, negative `length`, `temperature` <= 0, or `top_k` < 1.
    """
    prompt = torch.as_tensor(prompt_ids, dtype=torch.long).flatten()
    if prompt.numel() == 0:
        raise ValueError("prompt_ids must hold at least one id")
    check_int("length", length, ge=0)
    check_float("temperature", temperature, gt=0)
    if top_k is not None:
        check_int("top_k", top_k, ge=1)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    logits, state = model.forward_state(prompt[None].to(device))
    out: list[int] = []
    for _ in range(length):
        last = logits[0, -1] / temperature
        if top_k is not None and top_k < last.numel():
            kth = torch.topk(last, top_k).values[-1]
            last = last.masked_fill(last < kth, float("-inf"))
        probs = torch.softmax(last.float().cpu(), dim=-1)
        nxt = int(torch.multinomial(probs, 1, generator=generator))
        out.append(nxt)
        logits, state = model.forward_state(torch.tensor([[nxt]], device=device), state)
    model.train(was_training)
    return out


class RNNRegressor(nn.Module):
    """Sequence -> number(s): an RNN reads a window of a series and a linear layer maps its last state
    to the next `horizon` values.

    Args:
        input_size: features per time step ``F`` (1 for a single series).
        hidden_size: state size ``H``.
        num_layers: stacked recurrent layers.
        cell: ``"lstm"`` (default), ``"gru"`` or ``"rnn"``.
        horizon: values predicted per window.

    Shapes: ``forward(x (B, T) or (B, T, F)) -> (B,)`` when ``horizon == 1``, else ``(B, horizon)``.
    """

    def __init__(
        self,
        input_size: int = 1,
        hidden_size: int = 32,
        num_layers: int = 1,
        cell: CellKind = "lstm",
        horizon: int = 1,
    ) -> None:
        super().__init__()
        check_int("input_size", input_size, ge=1)
        check_int("hidden_size", hidden_size, ge=1)
        check_int("horizon", horizon, ge=1)
        self.input_size, self.horizon = input_size, horizon
        self.rnn = _torch_rnn(cell, input_size, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, horizon)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2 and self.input_size == 1:
            x = x.unsqueeze(-1)
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"x must have shape (batch, time, {self.input_size})"
                + (" or (batch, time)" if self.input_size == 1 else "")
                + f", got {tuple(x.shape)}"
            )
        out, _ = self.rnn(x)
        y = self.head(out[:, -1])
        return y.squeeze(-1) if self.horizon == 1 else y
