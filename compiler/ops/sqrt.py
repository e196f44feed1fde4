"""Sqrt, exactly rounded: an integer square root of the input's code (no table).

With the input x = c * 2**-F (c >= 0), the result's fraction bits Fs = max(Fy + 1,
ceil(F / 2)) (Fy: the output's) and N = c << (2 Fs - F):
    s = floor(sqrt(N)) = floor(sqrt(x) * 2**Fs),   sticky = (N != s * s)
    v = 2 s + sticky    (Fs + 1 fraction bits: s, and one bit saying "more below")
and the single cast of v to the output type rounds exactly as rounding sqrt(x) itself would
(a guard bit and a sticky bit decide every ap_fixed rounding mode), so the only error is
that one rounding (<= lsb/2 to nearest). Hardware: qc::sqrt_exact (templates/kernels/
qc_unary.h), per lane the restoring digit-by-digit square root, SW = NW / 2 steps of a
(SW + 3)-bit subtract-and-compare, unrolled inside the pipelined loop.

ONNX defines sqrt of a negative number as NaN, which fixed point cannot represent, so the
op is refused unless the input is proven non-negative: an unsigned input type (after Relu,
an unsigned quantizer, calibration data that never goes negative) or interval bounds that
never go below 0 (negative codes such a signed type could hold are treated as 0). The
output is [0, sqrt(hi)] at the policy width, saturating.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import UnsupportedError, at_node
from ..numerics import FixedType
from ..numerics.fixed import MAX_WIDTH
from . import register
from ._activation import max_abs_error, probe_codes, saturating_type, widened
from ._lanes import LaneOp, lane_context, lane_cost
from .base import Bounds, CostContext, HlsContext, TypingContext


def require_non_negative(ctx: TypingContext, what: str) -> None:
    """Refuse an input that may be negative (its float result would be NaN)."""
    x = ctx.inputs[0]
    if x.type.min_value >= 0:
        return
    b = ctx.out_bounds[0]
    if ctx.proven and np.all(np.isfinite(b.lo)):
        return   # interval bounds of the input never go below 0 (bounds() marks them NaN otherwise)
    raise at_node(ctx.node.name, ctx.node.kind, f"the input {x.name!r} may be negative (type {x.type}, "
                  f"down to {x.type.min_value:g}{'' if ctx.proven else ', calibrated'}) and {what} of a negative "
                  "number is NaN, which fixed point cannot represent (supported: inputs proven non-negative, "
                  "e.g. after Relu or an unsigned quantizer)", UnsupportedError)


@dataclass(frozen=True)
class SqrtPlan:
    shift: int        # k = 2 Fs - F
    n_bits: int       # NW: bits of N (even)
    v_type: FixedType  # 2 s + sticky with Fs + 1 fraction bits

    @property
    def root_bits(self) -> int:
        return self.n_bits // 2


def sqrt_plan(x_type: FixedType, y_type: FixedType) -> SqrtPlan:
    fs = max(y_type.frac_bits + 1, -(-x_type.frac_bits // 2))
    k = 2 * fs - x_type.frac_bits
    top = max(x_type.max_code, 1).bit_length() + k
    nw = top + (top % 2)
    if nw > MAX_WIDTH:
        raise ValueError(f"the exact square root needs {nw} bits (supported: up to {MAX_WIDTH}); "
                         "narrow the input or the output")
    sw = nw // 2
    return SqrtPlan(k, nw, FixedType(sw + 1, sw - fs, False))


def isqrt(n: np.ndarray) -> np.ndarray:
    """floor(sqrt(n)) of int64 values below 2**62, exactly."""
    s = np.floor(np.sqrt(n.astype(np.float64))).astype(np.int64)
    s = np.where(s * s > n, s - 1, s)
    s = np.where((s + 1) * (s + 1) <= n, s + 1, s)
    return s


@register
@dataclass
class Sqrt(LaneOp):
    kind = "Sqrt"
    template = "sqrt"

    max_error: float | None = None     # measured when typed: the output's one rounding

    def describe(self) -> str:
        return "Sqrt (exact integer square root, one rounding)"

    def reference(self, xs):
        with np.errstate(invalid="ignore"):
            return [np.sqrt(np.asarray(xs[0], dtype=np.float64))]

    def bounds(self, ins):
        lo, hi = ins[0].lo, ins[0].hi
        neg = lo < 0   # NaN: require_non_negative refuses such an input
        return [widened(Bounds(np.where(neg, np.nan, np.sqrt(np.maximum(lo, 0.0))), np.sqrt(np.maximum(hi, 0.0))),
                        self.max_error)]

    def assign_types(self, ctx: TypingContext) -> None:
        require_non_negative(ctx, "Sqrt")
        x_type, out = ctx.inputs[0].type, ctx.outputs[0]
        if out.type is None:
            hi = math.sqrt(max(x_type.max_value, 0.0))
            b = ctx.out_bounds[0]
            if np.isfinite(b.max):
                hi = min(hi, b.max)
            out.type = saturating_type(ctx, lo=0.0, hi=hi, signed=False)
        sqrt_plan(x_type, out.type)
        codes, _ = probe_codes(x_type)
        self.max_error = max_abs_error(self.simulator([x_type], [out.type]), self.reference, x_type, out.type, codes)

    def simulator(self, in_types, out_types):
        (x_type,), (y_type,) = in_types, out_types
        plan = sqrt_plan(x_type, y_type)

        def run(ins):
            n = np.maximum(ins[0].astype(np.int64), 0) << plan.shift
            s = isqrt(n)
            v = 2 * s + (n != s * s)
            return [y_type.cast(v, plan.v_type).astype(np.float64)]

        return run

    def cost(self, ctx: CostContext):
        """Per lane SW steps of a (SW + 3)-bit subtract-and-compare and a select (the
        restoring square root), registered every few steps; the output cast."""
        x, y = ctx.inputs[0].type, ctx.outputs[0].type
        plan = sqrt_plan(x, y)
        c = ctx.target.coeff
        sw = plan.root_bits
        lut = sw * (sw + 3) * (c["lut_per_adder_bit"] + c.get("lut_per_select_bit", 0.5)) + y.width * 0.5
        depth = -(-sw // 4)            # about four steps per clock at the usual targets
        ff = depth * (plan.n_bits + sw)
        return lane_cost(ctx, style="elementwise_sqrt", lut_per_lane=lut, ff_per_lane=ff, depth=depth,
                         detail={"function": "Sqrt", "root_bits": sw})

    def hls(self, ctx: HlsContext) -> dict:
        x, y = ctx.inputs[0].type, ctx.outputs[0].type
        plan = sqrt_plan(x, y)
        return dict(lane_context(ctx), x_signed=x.signed, v_type=plan.v_type, shift=plan.shift, nw=plan.n_bits,
                    sw=plan.root_bits)
