"""Mul: the element-wise product of two activations (a gate, x * sigmoid(g), an attention
mask, an SE block's channel weights), the second broadcast to the first's shape; or of a
tensor by itself (x * x, one input). The product is exact (a type of wa + wb bits holds
every product of the two input types) and cast once to the output type: the only rounding.

Hardware (qc::binary / qc::square, templates/kernels/qc_binary.h; see ops/_binary.py): one
wa x wb multiplier per lane (DSP slices, or LUTs for narrow operands: cost/hardware.py
multiplier), one beat per cycle, the broadcast operand read once per item of its own."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..cost.hardware import multiplier
from ..numerics import FixedType, exact_type
from ..numerics.fixed import FLOAT_EXACT, MAX_WIDTH
from . import register
from ._binary import BinaryOp
from .base import Bounds, CostContext, HlsContext, NeedsUnitScale, TypingContext


@register
@dataclass
class Mul(BinaryOp):
    kind = "Mul"

    acc_type: FixedType | None = None      # holds every product exactly
    input_depths: list | None = None       # FIFO depth of each input stream (passes/size_fifos.py)

    def describe(self) -> str:
        return "Mul" + (f" -> {self.acc_type.cpp()}" if self.acc_type is not None else "")

    def reference(self, xs):
        return [xs[0] * (xs[1] if len(xs) > 1 else xs[0])]

    def bounds(self, ins):
        if len(ins) == 1:
            a = ins[0]
            lo = np.where((a.lo <= 0) & (a.hi >= 0), 0.0, np.minimum(a.lo * a.lo, a.hi * a.hi))
            return [Bounds(lo, np.maximum(a.lo * a.lo, a.hi * a.hi))]
        a, b = ins
        corners = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi]
        return [Bounds(np.minimum.reduce(corners), np.maximum.reduce(corners))]

    def rescale(self, in_scales):
        """Scalar scales multiply through; per-channel ones are requantized to unit first."""
        scalar = [np.size(s) == 1 for s in in_scales]
        if not all(scalar):
            raise NeedsUnitScale([i for i, ok in enumerate(scalar) if not ok])
        s = [float(np.asarray(v).reshape(-1)[0]) for v in in_scales]
        return [s[0] * (s[1] if len(s) > 1 else s[0])]

    def assign_types(self, ctx: TypingContext) -> None:
        types = [t.type for t in ctx.inputs]
        ta, tb = types[0], types[-1]
        if len(types) == 1:
            lo = 0 if ta.min_code <= 0 <= ta.max_code else min(ta.min_code ** 2, ta.max_code ** 2)
            hi = max(ta.min_code ** 2, ta.max_code ** 2)
        else:
            corners = [x * y for x in (ta.min_code, ta.max_code) for y in (tb.min_code, tb.max_code)]
            lo, hi = min(corners), max(corners)
        self.acc_type = exact_type(min(lo, 0), max(hi, 0), ta.frac_bits + tb.frac_bits)
        if self.acc_type.width > MAX_WIDTH:
            raise ValueError(f"the product of {ta} and {tb} needs {self.acc_type.width} bits (supported: up to "
                             f"{MAX_WIDTH}; narrow the inputs with quantizers)")
        out = ctx.outputs[0]
        if out.type is None:
            if all(t.model_typed for t in ctx.inputs) and self.acc_type.width <= FLOAT_EXACT:
                out.type, out.model_typed = self.acc_type, True   # the model's own exact arithmetic
            else:
                out.type = ctx.narrowed()

    def simulator(self, in_types, out_types):
        (y_type,), acc = out_types, self.acc_type
        exact = acc.width <= FLOAT_EXACT

        def run(ins):
            a = ins[0] if exact else ins[0].astype(np.int64)
            b = (ins[1] if exact else ins[1].astype(np.int64)) if len(ins) > 1 else a
            return [y_type.cast(a * b, acc).astype(np.float64, copy=False)]

        return run

    def cost(self, ctx: CostContext):
        """One multiplier per lane (DSP or LUT by operand widths), its output register."""
        c = ctx.target.coeff
        wa, wb = ctx.inputs[0].type.width, ctx.inputs[-1].type.width
        dsp, m_lut, m_ff = multiplier(ctx.target, wa, wb)
        return self.binary_cost(ctx, style="elementwise_mul", dsp_per_lane=dsp, lut_per_lane=m_lut,
                                ff_per_lane=m_ff + ctx.outputs[0].type.width, depth=int(c["mult_latency"]) + 1,
                                detail={"product_type": self.acc_type.cpp()})

    def hls(self, ctx: HlsContext) -> dict:
        return self.binary_hls(ctx, "mul", self.acc_type)
