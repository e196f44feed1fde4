"""Swish / SiLU: y = x * sigmoid(alpha * x), as max(x, 0) plus a lookup table over |x|:
    x * sigmoid(alpha x) = max(x, 0) - |x| * sigmoid(-alpha |x|)
(for x >= 0 because x * sigmoid(a x) = x - x * sigmoid(-a x); for x < 0 directly), so the
table holds g(u) = -u * sigmoid(-alpha u), which decays to 0 beyond the table, and the
exact max(x, 0) is added as Softplus's is. ONNX Swish (opset 24) and the x * Sigmoid(x)
pattern of PyTorch's SiLU export both become this op. Design and measured accuracy
(`max_error`): see _lut.py."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType
from . import register
from ._activation import saturating_type
from ._lut import LutActivation
from .base import Bounds, TypingContext
from .sigmoid import sigmoid

U_MIN = 1.2784645427610738  # x * sigmoid(x) is smallest at x = -U_MIN (where 1 + e^x + x = 0)


@register
@dataclass
class Swish(LutActivation):
    kind = "Swish"
    template = "lut_activation"
    mode = "softplus"   # y = max(x, 0) + table(|x|)

    alpha: float = 1.0

    def function_name(self) -> str:
        return "Swish" if self.alpha == 1.0 else f"Swish alpha={self.alpha:.6g}"

    def f(self, x):
        return x * sigmoid(self.alpha * x)

    def g(self, arg):
        u = np.abs(arg)
        return -u * sigmoid(-self.alpha * u)

    def bounds(self, ins):
        """f falls to its minimum at x = -U_MIN / alpha, then rises: check that point too."""
        b = ins[0]
        x_min = np.clip(-U_MIN / self.alpha, b.lo, b.hi)
        cands = np.stack([self.f(b.lo), self.f(b.hi), self.f(x_min)])
        m = self.max_error or 0.0
        return [Bounds(cands.min(axis=0) - m, cands.max(axis=0) + m)]

    def default_output_type(self, ctx: TypingContext) -> FixedType:
        return saturating_type(ctx, signed=True)
