"""Pow with a constant scalar exponent p: y = x ** p.

- Integer p >= 2 whose exact product fits MAX_EXACT_BITS bits: an exact product of p
  factors (qc::power, templates/kernels/qc_unary.h: p - 1 multipliers per lane in sequence,
  every product exact in p_t), rounded once to the output type: x**2 is exactly x * x.
  Unless a model quantizer fixed it, the output is the exact product type when it is no
  wider than the policy width, else narrowed from the bounds (one rounding).
- Any other p > 0: a lookup table (_lut.py) spanning the whole input type: over |x| for
  integer p (even: y = table(|x|); odd: y = sign(x) table(|x|)), over x >= 0 otherwise,
  since ONNX's x ** p is NaN for x < 0 and a non-integer p: such inputs must be proven
  non-negative (sqrt.require_non_negative) or the op is refused.
p = 1 is the identity and p = 0.5 the square root (both handled by the converter); p <= 0
is refused there (a pole at 0).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType, exact_type
from . import register
from ._activation import max_abs_error, probe_codes, pwl_cost, saturating_type
from ._lanes import lane_context
from ._lut import LutActivation
from .base import CostContext, HlsContext, TypingContext
from .sqrt import require_non_negative

MAX_EXACT_BITS = 62    # int64 products in the simulator (the C++ would go wider)


def integer_exponent(p: float) -> int | None:
    return int(p) if float(p).is_integer() and 2 <= p <= 64 else None


def _partials(x_type: FixedType, n: int) -> tuple[list[int], int]:
    """Codes of the extreme partial products x**k (k <= n) on the finest grid among them."""
    f = x_type.frac_bits
    fp = n * f if f >= 0 else f     # x**k has k F fraction bits
    vals = [0] + [(c ** k) << (fp - k * f) for c in (x_type.min_code, x_type.max_code) for k in range(1, n + 1)]
    return vals, fp


def product_bits(x_type: FixedType, n: int) -> int:
    """Width of product_type (without building a type wider than the widest one)."""
    vals, _ = _partials(x_type, n)
    lo, hi = min(vals), max(vals)
    return max((-lo - 1).bit_length(), hi.bit_length()) + 1 if lo < 0 else max(hi.bit_length(), 1)


def product_type(x_type: FixedType, n: int) -> FixedType:
    """Holds every partial product x**k (k <= n) exactly: the kernel's p_t."""
    vals, fp = _partials(x_type, n)
    return exact_type(min(vals), max(vals), fp)


@register
@dataclass
class Power(LutActivation):
    kind = "Pow"
    template = "power"
    full_fallback = True
    max_range_bits = 62

    exponent: float = 2.0
    exact: bool | None = None          # exact product (set when typed), else a table

    @property
    def mode(self) -> str:  # how the magnitude table is finished
        n = integer_exponent(self.exponent) or (int(self.exponent) if float(self.exponent).is_integer() else None)
        return "odd" if n is not None and n % 2 else "plain"

    def function_name(self) -> str:
        return f"Pow {self.exponent:g}"

    def describe(self) -> str:
        if self.exact:
            return f"x^{int(self.exponent)} (exact product)"
        return super().describe()

    def f(self, x):
        with np.errstate(invalid="ignore", over="ignore"):
            if float(self.exponent).is_integer():
                return np.power(x, int(self.exponent)).astype(np.float64)
            return np.power(x, self.exponent)

    def g(self, arg):
        return np.power(np.abs(arg), self.exponent)

    def default_output_type(self, ctx: TypingContext) -> FixedType:
        return saturating_type(ctx)

    # ---- formats ---------------------------------------------------------------------
    def assign_types(self, ctx: TypingContext) -> None:
        x_type, out = ctx.inputs[0].type, ctx.outputs[0]
        n = integer_exponent(self.exponent)
        self.exact = n is not None and product_bits(x_type, n) <= MAX_EXACT_BITS
        if not self.exact:
            if not float(self.exponent).is_integer():
                require_non_negative(ctx, f"x ** {self.exponent:g}")
            super().assign_types(ctx)
            return
        p_type = product_type(x_type, n)
        if out.type is None:
            if p_type.width <= max(ctx.policy.width, x_type.width):
                out.type = p_type
                out.model_typed = ctx.inputs[0].model_typed
            else:
                out.type = ctx.narrowed()
        codes, _ = probe_codes(x_type)
        self.max_error = max_abs_error(self.simulator([x_type], [out.type]), self.reference, x_type, out.type, codes)

    def simulator(self, in_types, out_types):
        if not self.exact:
            return super().simulator(in_types, out_types)
        (x_type,), (y_type,) = in_types, out_types
        n = int(self.exponent)
        p_type = product_type(x_type, n)

        shift = p_type.frac_bits - n * x_type.frac_bits

        def run(ins):
            v = np.power(ins[0].astype(np.int64), n) << shift
            return [y_type.cast(v, p_type).astype(np.float64)]

        return run

    # ---- hardware ------------------------------------------------------------------------
    def cost(self, ctx: CostContext):
        """Exact: p - 1 multipliers in sequence per lane (the k-th of a k-fold product by x)
        and the output cast. Table: see _lut.py."""
        if not self.exact:
            return super().cost(ctx)
        x = ctx.inputs[0].type
        n = int(self.exponent)
        p_w = product_type(x, n).width
        mults = [(min(k * x.width, p_w), x.width) for k in range(1, n)]
        return pwl_cost(ctx, compare_bits=0, mults=mults, detail={"function": self.describe()})

    def hls(self, ctx: HlsContext) -> dict:
        if not self.exact:
            return dict(super().hls(ctx), exact=False)
        x = ctx.inputs[0].type
        return dict(lane_context(ctx), exact=True, n=int(self.exponent), p_type=product_type(x, int(self.exponent)))
