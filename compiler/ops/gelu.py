"""Gelu (ONNX opset 20): y = x * Phi(x), Phi the standard normal CDF (approximate="none"),
or Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2 (approximate="tanh").

Both Phi's satisfy Phi(-x) = 1 - Phi(x), so as for Swish
    x * Phi(x) = max(x, 0) - |x| * Phi(-|x|)
and the stage is max(x, 0) plus a lookup table over |x| holding g(u) = -u * Phi(-u),
which decays to 0 beyond the table (below 2e-7 at u = 5). g is not monotone: it falls to
its minimum at u = U_MIN ~ 0.7518 (where Gelu itself is smallest, at x = -U_MIN) and rises
again, so the design declares that turning point: the entry holding it takes the minimax
constant over its run including the minimum, and the error is measured on the codes either
side of it (_lut.py), and the bounds check x = -U_MIN too. Design and measured accuracy
(`max_error`): see _lut.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..numerics import FixedType
from . import register
from ._activation import saturating_type
from ._lut import LutActivation
from .base import Bounds, TypingContext
from .sigmoid import sigmoid

_erfc = np.vectorize(math.erfc, otypes=[np.float64])
TANH_K = math.sqrt(2.0 / math.pi)
TANH_C = 0.044715


def phi_upper(u: np.ndarray, approximate: str) -> np.ndarray:
    """Phi(-u) = 1 - Phi(u) without cancellation, for either definition of Phi."""
    u = np.asarray(u, dtype=np.float64)
    if approximate == "tanh":
        with np.errstate(over="ignore"):
            return sigmoid(-2.0 * TANH_K * (u + TANH_C * u ** 3))
    return 0.5 * _erfc(u / math.sqrt(2.0)) if u.size else u.copy()


@lru_cache(maxsize=None)
def minimum_at(approximate: str) -> float:
    """U_MIN: where g(u) = -u Phi(-u) is smallest (golden-section search on [0, 3]; g is
    unimodal there)."""
    g = lambda u: float(-u * phi_upper(np.array([u]), approximate)[0])  # noqa: E731
    a, b = 0.0, 3.0
    r = (math.sqrt(5) - 1) / 2
    for _ in range(200):
        c, d = b - r * (b - a), a + r * (b - a)
        if g(c) < g(d):
            b = d
        else:
            a = c
    return (a + b) / 2


@register
@dataclass
class Gelu(LutActivation):
    kind = "Gelu"
    template = "lut_activation"
    mode = "softplus"   # y = max(x, 0) + table(|x|)

    approximate: str = "none"

    def function_name(self) -> str:
        return "Gelu" if self.approximate == "none" else "Gelu (tanh)"

    def f(self, x):
        x = np.asarray(x, dtype=np.float64)
        return x * phi_upper(-x, self.approximate)

    def g(self, arg):
        u = np.abs(arg)
        return -u * phi_upper(u, self.approximate)

    def turning_points(self, full: bool) -> tuple[float, ...]:
        u = minimum_at(self.approximate)
        return (-u,) if full else (u,)

    def bounds(self, ins):
        """f falls to its minimum at x = -U_MIN, then rises: check that point too."""
        b = ins[0]
        x_min = np.clip(-minimum_at(self.approximate), b.lo, b.hi)
        cands = np.stack([self.f(b.lo), self.f(b.hi), self.f(x_min)])
        m = self.max_error or 0.0
        return [Bounds(cands.min(axis=0) - m, cands.max(axis=0) + m)]

    def default_output_type(self, ctx: TypingContext) -> FixedType:
        return saturating_type(ctx, signed=True)
