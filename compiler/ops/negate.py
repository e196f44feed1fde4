"""Neg, y = -x, and the exact unary stage Abs, Sign and Shrink share (ExactUnary, not
registered itself).

Hardware: qc::unary_exact (templates/kernels/qc_unary.h), per lane a negation, a select
or two comparators and an adder, computed exactly in v_t and cast once to the output type;
logic between the stream registers, one beat per cycle. Unless a model quantizer fixed it,
the output type is the exact one (the input's grid, one more integer bit for -min), so the
op is exact (max_error 0); a type wider than the policy allows is narrowed (rounded,
saturating) instead and the error is measured on every input code.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..numerics import FixedType, exact_type
from . import register
from ._activation import max_abs_error, probe_codes, pwl_cost, saturating_type, widened
from ._lanes import LaneOp, lane_context
from .base import Bounds, CostContext, HlsContext, TypingContext

OP_CODES = {"neg": 0, "abs": 1, "sign": 2, "shrink": 3}   # CFG::op of qc::unary_exact
NO_BIAS = FixedType(1, 1, False)


@dataclass
class ExactUnary(LaneOp):
    """Base of the exact unary ops: subclasses give the float function, the exact value
    type and the integer function on codes."""

    template: ClassVar[str] = "unary"
    op_name: ClassVar[str] = ""

    max_error: float | None = None      # measured when typed (0 with the exact output type)

    # ---- what a concrete op defines -----------------------------------------------
    def f(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def value_type(self, x_type: FixedType) -> FixedType:
        """The type v_t holding every result exactly."""
        raise NotImplementedError

    def values(self, c: np.ndarray, x_type: FixedType) -> np.ndarray:
        """int64 codes of v_t for int64 input codes (as the kernel computes them)."""
        raise NotImplementedError

    def kernel_params(self, x_type: FixedType) -> dict:
        return dict(bias_type=NO_BIAS, bias_codes=np.zeros(1, dtype=np.int64), lo_code=0, hi_code=0)

    def probe_extra(self, x_type: FixedType) -> list[int]:
        return [-1, 0, 1]

    # ---- float semantics --------------------------------------------------------------
    def reference(self, xs):
        return [self.f(np.asarray(xs[0], dtype=np.float64))]

    # ---- formats ------------------------------------------------------------------------
    def assign_types(self, ctx: TypingContext) -> None:
        self.require_scale(ctx)
        x_type, out = ctx.inputs[0].type, ctx.outputs[0]
        self.prepare(ctx, x_type)
        v_type = self.value_type(x_type)
        if out.type is None:
            if v_type.width <= max(ctx.policy.width, x_type.width + 1):
                out.type = v_type
                out.model_typed = ctx.inputs[0].model_typed and self.exact_constants()
            else:
                out.type = saturating_type(ctx)
        codes, _ = probe_codes(x_type, self.probe_extra(x_type))
        self.max_error = max_abs_error(self.simulator([x_type], [out.type]), self.reference, x_type, out.type, codes)

    def require_scale(self, ctx: TypingContext) -> None:
        """Scaled inputs: the rescale step already inserted a requantizer where needed."""

    def prepare(self, ctx: TypingContext, x_type: FixedType) -> None:
        """Quantize constants (Shrink's bias) once the input type is known."""

    def exact_constants(self) -> bool:
        return True

    def simulator(self, in_types, out_types):
        (x_type,), (y_type,) = in_types, out_types
        v_type = self.value_type(x_type)

        def run(ins):
            v = self.values(ins[0].astype(np.int64), x_type)
            return [y_type.cast(v, v_type).astype(np.float64)]

        return run

    # ---- hardware ---------------------------------------------------------------------
    def cost(self, ctx: CostContext):
        """Per lane: the comparators / negation / adder of the function and the output cast."""
        x = ctx.inputs[0].type
        v = self.value_type(x)
        compare, add = {"neg": (0, v.width), "abs": (x.width, v.width), "sign": (x.width, 0),
                        "shrink": (2 * (x.width + 2) + v.width, v.width)}[self.op_name]
        return pwl_cost(ctx, compare_bits=compare, mults=[], add_bits=add,
                        detail={"function": self.describe()})

    def hls(self, ctx: HlsContext) -> dict:
        x = ctx.inputs[0].type
        p = self.kernel_params(x)
        return dict(lane_context(ctx), x_signed=x.signed, v_type=self.value_type(x), op_code=OP_CODES[self.op_name],
                    op_name=self.op_name, bias_type=p["bias_type"], lo_code=p["lo_code"], hi_code=p["hi_code"],
                    bias=ctx.constant("bias", p["bias_type"], p["bias_codes"]))


@register
@dataclass
class Negate(ExactUnary):
    kind = "Neg"
    op_name = "neg"

    def f(self, x):
        return -x

    def bounds(self, ins):
        return [widened(Bounds(-ins[0].hi, -ins[0].lo), self.max_error)]

    def rescale(self, in_scales):
        return [in_scales[0]]   # -(s x) = s (-x)

    def value_type(self, x_type):
        return exact_type(-x_type.max_code, -x_type.min_code, x_type.frac_bits)

    def values(self, c, x_type):
        return -c
