"""Add: the element-wise sum (or difference) of two activations, e.g. a residual shortcut.
The binary points are aligned exactly in a type wide enough for both inputs' full ranges,
so the only rounding is the final cast to the output type (none when both inputs are
model-typed: the exact sum is kept, as the model's arithmetic defines it).

Hardware (templates/kernels/qc_merge.h): one adder per channel, one pixel per cycle. The
two inputs usually come from paths of different latency; the compiler sizes the FIFO of
each input (input_depths, see passes/size_fifos.py) so the dataflow cannot deadlock."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType, exact_type
from ..numerics.fixed import FLOAT_EXACT, MAX_WIDTH
from . import register
from ..cost.hardware import fifo
from ._lanes import LaneOp, lane_context, lane_cost
from .base import Bounds, CostContext, HlsContext, TypingContext, common_scale


def aligned_type(types: list[FixedType], scales: list[int]) -> FixedType:
    """The exact type of sum(scale_i * x_i) over the full ranges of the types x_i."""
    frac = max(t.frac_bits for t in types)
    lo = sum(min(s * (t.min_code << (frac - t.frac_bits)), s * (t.max_code << (frac - t.frac_bits)))
             for t, s in zip(types, scales))
    hi = sum(max(s * (t.min_code << (frac - t.frac_bits)), s * (t.max_code << (frac - t.frac_bits)))
             for t, s in zip(types, scales))
    width = exact_width(min(lo, 0), max(hi, 0))
    if width > MAX_WIDTH:
        raise ValueError(f"the exact sum of {' and '.join(map(str, types))} needs {width} bits (supported: up to "
                         f"{MAX_WIDTH}: their binary points are too far apart)")
    return exact_type(min(lo, 0), max(hi, 0), frac)


def exact_width(lo: int, hi: int) -> int:
    """Bits of the narrowest signed or unsigned integer holding [lo, hi] (lo <= 0 <= hi)."""
    return max((-lo - 1).bit_length(), hi.bit_length()) + 1 if lo < 0 else max(hi.bit_length(), 1)


@register
@dataclass
class Add(LaneOp):
    kind = "Add"
    template = "add"
    n_inputs = 2

    subtract: bool = False                 # a - b instead of a + b
    sum_type: FixedType | None = None
    input_depths: list | None = None       # FIFO depth of each input stream (passes/size_fifos.py)

    def describe(self) -> str:
        return "Sub" if self.subtract else "Add"

    def infer_shapes(self, shapes):
        a, b = shapes
        if tuple(a) != tuple(b):
            raise ValueError(f"inputs of shapes {a} and {b} (broadcasting is not supported)")
        return [tuple(a)]

    def reference(self, xs):
        return [xs[0] - xs[1] if self.subtract else xs[0] + xs[1]]

    def bounds(self, ins):
        a, b = ins
        if self.subtract:
            return [Bounds(a.lo - b.hi, a.hi - b.lo)]
        return [Bounds(a.lo + b.lo, a.hi + b.hi)]

    def rescale(self, in_scales):
        return common_scale(in_scales)

    def assign_types(self, ctx: TypingContext) -> None:
        ta, tb = (t.type for t in ctx.inputs)
        self.sum_type = aligned_type([ta, tb], [1, -1 if self.subtract else 1])
        out = ctx.outputs[0]
        if out.type is None:
            if all(t.model_typed for t in ctx.inputs):
                out.type, out.model_typed = self.sum_type, True
            else:
                out.type = ctx.narrowed()

    def simulator(self, in_types, out_types):
        (ta, tb), (y_type,) = in_types, out_types
        st = self.sum_type
        sa, sb = float(2 ** (st.frac_bits - ta.frac_bits)), float(2 ** (st.frac_bits - tb.frac_bits))
        sign = -1.0 if self.subtract else 1.0
        if st.width <= FLOAT_EXACT:
            def run(ins):
                return [y_type.cast(ins[0] * sa + sign * sb * ins[1], st)]
        else:
            ia, ib = st.frac_bits - ta.frac_bits, st.frac_bits - tb.frac_bits

            def run(ins):
                s = (ins[0].astype(np.int64) << ia) + int(sign) * (ins[1].astype(np.int64) << ib)
                return [y_type.cast(s, st).astype(np.float64)]
        return run

    def cost(self, ctx: CostContext):
        """An adder per lane, one beat of each input per cycle, and the FIFOs sized for the
        skew of its two paths (passes/size_fifos.py; items of G beats each)."""
        c = ctx.target.coeff
        bram, lut, ff = join_fifos(ctx, self.input_depths)
        cost = lane_cost(ctx, style="add", lut_per_lane=self.sum_type.width * c["lut_per_adder_bit"],
                         ff_per_lane=ctx.outputs[0].type.width, depth=1, bram_18k=bram, extra_lut=lut,
                         detail={"fifo_depths": list(self.input_depths or [])})
        cost.ff += ff
        return cost

    def hls(self, ctx: HlsContext) -> dict:
        return dict(lane_context(ctx), sum_type=self.sum_type, subtract=self.subtract)

    def items_needed(self, in_shapes, out_shape):
        k = np.arange(1, items_of(out_shape) + 1)
        return [k, k]


def items_of(shape) -> int:
    return int(np.prod(shape[:-1], dtype=np.int64)) if len(shape) > 1 else 1


def join_fifos(ctx, depths) -> tuple[float, float, float]:
    """(BRAM_18K, LUT, FF) of the input FIFOs of a join deeper than the default 2: depths
    are in items, the FIFOs hold beats (items * channels / fold of them)."""
    bram = lut = ff = 0.0
    for t, fold, d in zip(ctx.inputs, ctx.in_folds, depths or [2] * len(ctx.inputs)):
        beats = d * (t.channels // fold)
        if beats > 2:
            b, l, f = fifo(ctx.target, fold * t.type.width, beats)
            bram, lut, ff = bram + b, lut + l, ff + f
    return bram, lut, ff
