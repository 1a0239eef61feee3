"""LoRA (Hu et al., 2022) written by hand: a frozen linear layer plus a trainable low-rank update.

A linear layer computes ``y = x W^T + b`` with ``W`` of shape ``(out, in)``. LoRA freezes ``W`` and ``b`` and
learns ``W + (alpha / r) B A`` instead, where ``A`` is ``(r, in)`` and ``B`` is ``(out, r)``: ``r (in + out)``
trainable numbers in place of ``in * out``. ``A`` starts random (Kaiming-uniform, as `nn.Linear` initialises
its weight) and ``B`` starts at zero, so the adapted layer computes exactly what the base layer did until
training moves ``B``. This is the same initialisation, scaling and dropout placement as `peft`'s default
``LoraConfig``, so a `LoRALinear` given `peft`'s ``A`` and ``B`` returns `peft`'s outputs.

Examples:
    >>> import torch
    >>> from torch import nn
    >>> base = nn.Linear(6, 4)
    >>> layer = LoRALinear(base, r=2, alpha=4)
    >>> x = torch.randn(3, 6)
    >>> torch.equal(layer(x), base(x))  # B = 0 at the start
    True
    >>> sum(p.numel() for p in layer.parameters() if p.requires_grad)  # r * (in + out)
    20
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from lessons.checks import check_float, check_int

__all__ = ["LoRALinear", "add_lora", "merge_lora"]


class LoRALinear(nn.Module):
    """A frozen `nn.Linear` plus a trainable low-rank update: ``base(x) + (alpha / r) * dropout(x) A^T B^T``.

    Args:
        base: the layer to adapt (its weight ``(out, in)`` and bias are frozen: ``requires_grad`` is set to
            False; the layer is kept, not copied).
        r: the rank of the update, an int in ``[1, min(in, out)]``.
        alpha: the update is scaled by ``alpha / r``, so that changing `r` does not change the size of the
            first steps; a float > 0.
        dropout: dropout on the input of the update only (the base path never sees it), in ``[0, 1)``.

    Attributes:
        lora_A: ``(r, in)`` parameter, Kaiming-uniform at the start (as `nn.Linear` initialises a weight).
        lora_B: ``(out, r)`` parameter, zero at the start.
        scaling: ``alpha / r``.

    Shapes: ``(..., in)`` in, ``(..., out)`` out, like `base`.

    Raises:
        TypeError: `base` is not an `nn.Linear`; `r` is not an int; `alpha` or `dropout` is not a number.
        ValueError: `r`, `alpha` or `dropout` is out of range (the message names the argument).
    """

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0, dropout: float = 0.0) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base must be a torch.nn.Linear, got {type(base).__name__}")
        check_int("r", r, ge=1, le=min(base.in_features, base.out_features))
        check_float("alpha", alpha, gt=0)
        check_float("dropout", dropout, ge=0, lt=1)
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.r, self.alpha, self.scaling = r, float(alpha), float(alpha) / r
        weight = base.weight
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, dtype=weight.dtype, device=weight.device))
        self.lora_B = nn.Parameter(
            torch.zeros(base.out_features, r, dtype=weight.dtype, device=weight.device)
        )
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., in)`` -> ``(..., out)``: the frozen layer's output plus the scaled low-rank update."""
        return self.base(x) + (self.dropout(x) @ self.lora_A.T @ self.lora_B.T) * self.scaling

    def delta_weight(self) -> torch.Tensor:
        """The update to the weight, ``(alpha / r) B A``, of shape ``(out, in)`` and rank at most `r`."""
        return (self.lora_B @ self.lora_A) * self.scaling

    def merge(self) -> nn.Linear:
        """A new plain `nn.Linear` with weight ``W + (alpha / r) B A`` and the base bias: the same outputs (in
        eval mode, i.e. without dropout), no extra cost at inference. `base` itself is not changed."""
        merged = nn.Linear(
            self.base.in_features,
            self.base.out_features,
            bias=self.base.bias is not None,
            dtype=self.base.weight.dtype,
            device=self.base.weight.device,
        )
        with torch.no_grad():
            merged.weight.copy_(self.base.weight + self.delta_weight())
            if self.base.bias is not None:
                merged.bias.copy_(self.base.bias)
        return merged

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha:g}"


def _split(name: str) -> tuple[str, str]:
    parent, _, child = name.rpartition(".")
    return parent, child


def add_lora(
    model: nn.Module, target_modules: Sequence[str], r: int = 8, alpha: float = 16.0, dropout: float = 0.0
) -> list[str]:
    """Freeze every parameter of `model` and wrap the chosen linear layers in `LoRALinear`, in place.

    As `peft`'s ``target_modules``, a layer is chosen when the last part of its name is one of
    `target_modules` (``"query"`` picks ``encoder.layer.0.attention.self.query`` and its siblings).

    Args:
        model: any module; only its `nn.Linear` layers can be chosen.
        target_modules: the short names of the layers to adapt, e.g. ``["query", "value"]`` (not empty).
        r: the rank of every update, as in `LoRALinear`.
        alpha: the scale numerator, as in `LoRALinear`.
        dropout: dropout on each update's input, as in `LoRALinear`.

    Returns:
        The full names of the adapted layers, in the order of ``model.named_modules()``. Afterwards only the
        ``lora_A`` and ``lora_B`` parameters require gradients.

    Raises:
        TypeError: `model` is not an `nn.Module`, or `target_modules` is a single string.
        ValueError: `target_modules` is empty, or no `nn.Linear` of `model` matches it (the message lists
            the linear layers' short names that exist).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(target_modules, str):
        raise TypeError("target_modules must be a sequence of names, not one string: wrap it in a list")
    targets = set(target_modules)
    if not targets:
        raise ValueError("target_modules must name at least one layer")
    linear = {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear)}
    chosen = [name for name in linear if _split(name)[1] in targets]
    if not chosen:
        known = sorted({_split(name)[1] for name in linear})
        raise ValueError(
            f"target_modules={sorted(targets)} match no nn.Linear of the model; its linear layers: {known}"
        )
    for p in model.parameters():
        p.requires_grad_(False)
    for name in chosen:
        parent, child = _split(name)
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, child, LoRALinear(linear[name], r=r, alpha=alpha, dropout=dropout))
    return chosen


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every `LoRALinear` inside `model` by its merged `nn.Linear`, in place, and return `model`.

    The merged model has exactly the parameter count of the model before `add_lora` and computes what the
    adapted model computes in eval mode. The merged layers' weights require gradients again (plain
    `nn.Linear` defaults); freeze them yourself if you go on training something else.

    Raises:
        TypeError: `model` is not an `nn.Module`.
        ValueError: `model` holds no `LoRALinear`, or is one itself (call its `merge` instead).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(model, LoRALinear):
        raise ValueError("model is a LoRALinear itself: call model.merge() to get the merged nn.Linear")
    adapted = [name for name, m in model.named_modules() if isinstance(m, LoRALinear)]
    if not adapted:
        raise ValueError("model holds no LoRALinear: nothing to merge (did you call add_lora?)")
    for name in adapted:
        parent, child = _split(name)
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, child, getattr(owner, child).merge())
    return model
