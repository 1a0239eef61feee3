"""Compare what a block printed with the output its page shows: exactly, or number by number.

Output that is the same on every machine (shapes, counts, exact arithmetic) is compared exactly. Output of
training is not: PyTorch picks different kernels per CPU, and training amplifies the last-bit differences.
Such an output declares a tolerance, ``expected-output(abs=0.6)`` or ``expected-output(rel=0.05)``: the text
must match (runs of spaces count as one, since a wider number shifts a table's columns) and each number may
differ by ``abs + rel * |shown|``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# A number, not the digit of a name ("conv2d", "layer1"): no letter or underscore right before it.
NUMBER = re.compile(r"(?<![A-Za-z_\d.])[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_SPEC = re.compile(r"\s*\((?P<args>[^)]*)\)\s*")


@dataclass(frozen=True)
class Tolerance:
    """How far each number of an output may move: ``|got - shown| <= abs + rel * |shown|``.

    ``Tolerance()`` (both zero) asks for the exact text. Parse one from a marker with `Tolerance.parse`.
    """

    abs: float = 0.0
    rel: float = 0.0

    @property
    def exact(self) -> bool:
        return self.abs == 0 and self.rel == 0

    @classmethod
    def parse(cls, spec: str) -> Tolerance:
        """``"(abs=0.6)"``, ``"(rel=0.05)"`` or ``"(abs=0.01, rel=0.02)"`` → a `Tolerance`.

        Raises:
            ValueError: the text is not of that form, names another key, or a value is not a positive number.
        """
        m = _SPEC.fullmatch(spec)
        if not m:
            raise ValueError(f"a tolerance is written expected-output(abs=..., rel=...), got {spec!r}")
        values: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in m["args"].split(","))):
            key, _, value = (s.strip() for s in item.partition("="))
            if key not in ("abs", "rel") or key in values:
                raise ValueError(f"tolerance keys are abs and rel, each at most once; got {spec!r}")
            try:
                values[key] = float(value)
            except ValueError:
                raise ValueError(f"tolerance {key} must be a number, got {value!r}") from None
            if not (values[key] > 0 and math.isfinite(values[key])):
                raise ValueError(f"tolerance {key} must be positive and finite, got {value!r}")
        if not values:
            raise ValueError(f"a tolerance needs abs=... or rel=..., got {spec!r}")
        return cls(**values)

    def __str__(self) -> str:
        parts = [f"{k}={v:g}" for k, v in (("abs", self.abs), ("rel", self.rel)) if v]
        return f"({', '.join(parts)})"

    def mismatch(self, shown: str, got: str) -> str | None:
        """Why `got` does not match `shown` under this tolerance, or None when it does."""
        if self.exact:
            return None if shown == got else "the output differs"
        shown_numbers, got_numbers = NUMBER.findall(shown), NUMBER.findall(got)
        shown_text, got_text = (" ".join(NUMBER.sub("#", s).split()) for s in (shown, got))
        if shown_text != got_text or len(shown_numbers) != len(got_numbers):
            return "the text around the numbers differs"
        for a, b in zip(shown_numbers, got_numbers, strict=True):
            want, have = float(a), float(b)
            if abs(have - want) > self.abs + self.rel * abs(want) + 1e-12:
                return f"{b} is not within {self} of {a}"
        return None
