"""MinMax: the element-wise maximum (or minimum) of two activations, the second broadcast to
the first's shape; ONNX's variadic Max/Min become a chain of these. Both inputs are
compared exactly (binary points aligned in a type holding both ranges) and the chosen one is
cast once to the output type (none when both are model-typed: the exact value is kept).

Hardware (qc::binary, templates/kernels/qc_binary.h; see ops/_binary.py): one comparator and
a select per lane, one beat per cycle, the broadcast operand read once per item of its own."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType, exact_type
from ..numerics.fixed import FLOAT_EXACT
from . import register
from ._binary import BinaryOp
from .base import Bounds, CostContext, HlsContext, TypingContext, common_scale


def union_type(types: list[FixedType]) -> FixedType:
    """The exact type holding every value of each of `types`."""
    frac = max(t.frac_bits for t in types)
    lo = min(t.min_code << (frac - t.frac_bits) for t in types)
    hi = max(t.max_code << (frac - t.frac_bits) for t in types)
    return exact_type(min(lo, 0), max(hi, 0), frac)


@register
@dataclass
class MinMax(BinaryOp):
    kind = "MinMax"

    minimum: bool = False                 # Min instead of Max
    value_type: FixedType | None = None   # holds both inputs exactly
    input_depths: list | None = None      # FIFO depth of each input stream (passes/size_fifos.py)

    def describe(self) -> str:
        return "Min" if self.minimum else "Max"

    def _f(self, a, b):
        return np.minimum(a, b) if self.minimum else np.maximum(a, b)

    def reference(self, xs):
        return [self._f(xs[0], xs[1])]

    def bounds(self, ins):
        a, b = ins
        return [Bounds(self._f(a.lo, b.lo), self._f(a.hi, b.hi))]  # monotone in both arguments

    def rescale(self, in_scales):
        return common_scale(in_scales)

    def assign_types(self, ctx: TypingContext) -> None:
        self.value_type = union_type([t.type for t in ctx.inputs])
        out = ctx.outputs[0]
        if out.type is None:
            if all(t.model_typed for t in ctx.inputs) and self.value_type.width <= FLOAT_EXACT:
                out.type, out.model_typed = self.value_type, True
            else:
                out.type = ctx.narrowed()

    def simulator(self, in_types, out_types):
        (ta, tb), (y_type,) = in_types, out_types
        vt = self.value_type
        wide = vt.width > FLOAT_EXACT
        sa, sb = vt.frac_bits - ta.frac_bits, vt.frac_bits - tb.frac_bits

        def run(ins):
            if wide:
                a, b = ins[0].astype(np.int64) << sa, ins[1].astype(np.int64) << sb
            else:
                a, b = ins[0] * float(2 ** sa), ins[1] * float(2 ** sb)
            return [y_type.cast(self._f(a, b), vt).astype(np.float64, copy=False)]

        return run

    def cost(self, ctx: CostContext):
        """A comparator (an adder's carry chain) and a 2:1 select per lane."""
        c = ctx.target.coeff
        w = self.value_type.width
        return self.binary_cost(ctx, style="elementwise_minmax", lut_per_lane=w * c["lut_per_adder_bit"] + w * 0.5,
                                ff_per_lane=ctx.outputs[0].type.width, depth=1)

    def hls(self, ctx: HlsContext) -> dict:
        return self.binary_hls(ctx, "min" if self.minimum else "max", self.value_type)
