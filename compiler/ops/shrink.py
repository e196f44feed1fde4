"""Shrink (ONNX): y = x < -lambd ? x + bias : x > lambd ? x - bias : 0.

Exact: the thresholds are compared on the input's integer codes (x > lambd exactly when
code > floor(lambd * 2**F), x < -lambd when code < ceil(-lambd * 2**F)), and x -+ bias is
computed exactly in v_t. The bias is exact when it needs at most F + BIAS_EXTRA_BITS
fraction bits (every bias of a few significant bits); otherwise it is rounded to nearest on
that grid, which the description and the measured max_error state. Hardware: qc::unary_exact
op 3 (two comparators, an adder and a select per lane); see negate.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType, exact_type
from . import register
from ._activation import exact_frac, widened
from .base import Bounds
from .negate import ExactUnary

BIAS_EXTRA_BITS = 4


@register
@dataclass
class Shrink(ExactUnary):
    kind = "Shrink"
    op_name = "shrink"

    lambd: float = 0.5
    bias: float = 0.0
    bias_type: FixedType | None = None     # the bias's grid (set when typed)

    def describe(self) -> str:
        s = f"Shrink lambd={self.lambd:.6g} bias={self.bias:.6g}"
        if self.bias_type is not None and not self._bias_exact():
            s += f" (q {self.bias_type.to_float(self._bias_code()):.8g})"
        return s

    def f(self, x):
        return np.where(x < -self.lambd, x + self.bias, np.where(x > self.lambd, x - self.bias, 0.0))

    def _bias_code(self) -> int:
        return int(self.bias_type.quantize(self.bias))

    def _bias_exact(self) -> bool:
        return float(self.bias_type.to_float(self._bias_code())) == self.bias

    def _bias_value(self) -> float:
        return self.bias if self.bias_type is None else float(self.bias_type.to_float(self._bias_code()))

    def bounds(self, ins):
        """Union of the three pieces the interval meets (the function jumps at +-lambd)."""
        lo, hi, lam, b = ins[0].lo, ins[0].hi, self.lambd, self._bias_value()
        inf = np.inf
        pieces = [(lo < -lam, lo + b, np.minimum(hi, -lam) + b),
                  ((hi >= -lam) & (lo <= lam), np.zeros_like(lo), np.zeros_like(lo)),
                  (hi > lam, np.maximum(lo, lam) - b, hi - b)]
        bot = np.full(np.shape(lo), inf)
        top = np.full(np.shape(lo), -inf)
        for on, a, z in pieces:
            bot, top = np.where(on, np.minimum(bot, a), bot), np.where(on, np.maximum(top, z), top)
        return [widened(Bounds(bot, top), self.max_error)]

    def prepare(self, ctx, x_type):
        fx = x_type.frac_bits
        fb = exact_frac([self.bias], fx + BIAS_EXTRA_BITS)
        fb = fx + BIAS_EXTRA_BITS if fb is None else fb
        code = int(np.rint(np.ldexp(self.bias, fb)))
        self.bias_type = exact_type(min(code, 0), max(code, 0), fb, rounding="AP_RND_CONV")

    def exact_constants(self) -> bool:
        return self._bias_exact()

    def thresholds(self, x_type: FixedType) -> tuple[int, int]:
        """(lo_code, hi_code): x < -lambd iff code < lo_code, x > lambd iff code > hi_code,
        clamped just outside the type's codes (they fit the kernel's code width)."""
        s = 2.0 ** x_type.frac_bits
        lo = math.ceil(-self.lambd * s) if math.isfinite(self.lambd * s) else x_type.min_code
        hi = math.floor(self.lambd * s) if math.isfinite(self.lambd * s) else x_type.max_code
        clamp = lambda k: int(min(max(k, x_type.min_code - 1), x_type.max_code + 1))  # noqa: E731
        return clamp(lo), clamp(hi)

    def value_type(self, x_type):
        fx, fb = x_type.frac_bits, self.bias_type.frac_bits
        fv = max(fx, fb)
        b = self._bias_code() << (fv - fb)
        xl, xh = x_type.min_code << (fv - fx), x_type.max_code << (fv - fx)
        cands = [xl + b, xl - b, xh + b, xh - b, 0]
        return exact_type(min(cands), max(cands), fv)

    def values(self, c, x_type):
        fx, fb = x_type.frac_bits, self.bias_type.frac_bits
        fv = max(fx, fb)
        b = self._bias_code() << (fv - fb)
        lo, hi = self.thresholds(x_type)
        v = c << (fv - fx)
        return np.where(c < lo, v + b, np.where(c > hi, v - b, 0))

    def kernel_params(self, x_type):
        lo, hi = self.thresholds(x_type)
        return dict(bias_type=self.bias_type, bias_codes=np.array([self._bias_code()], dtype=np.int64),
                    lo_code=lo, hi_code=hi)

    def probe_extra(self, x_type):
        lo, hi = self.thresholds(x_type)
        return [-1, 0, 1, lo - 1, lo, lo + 1, hi - 1, hi, hi + 1]
