"""AddBroadcast: the sum or difference of two activations of different shapes, the second
broadcast to the first's (a bias computed per sample, (N, C) + (N, 1), a per-channel offset
(N, C, 1, 1)); equal shapes are ops/add.py's Add. `reverse` computes b - a (the converter puts
the full-shape operand first). The binary points are aligned exactly (ops/add.py
aligned_type); the only rounding is the final cast to the output type.

Hardware (qc::binary, templates/kernels/qc_binary.h; see ops/_binary.py): one adder per
lane, one beat per cycle, the broadcast operand read once per item of its own and reused."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType
from ..numerics.fixed import FLOAT_EXACT
from . import register
from ._binary import BinaryOp
from .add import aligned_type
from .base import Bounds, CostContext, HlsContext, TypingContext, common_scale


@register
@dataclass
class AddBroadcast(BinaryOp):
    kind = "AddBroadcast"

    subtract: bool = False                # a - b (or b - a when reverse)
    reverse: bool = False
    sum_type: FixedType | None = None
    input_depths: list | None = None      # FIFO depth of each input stream (passes/size_fifos.py)

    @property
    def func(self) -> str:
        return ("rsub" if self.reverse else "sub") if self.subtract else "add"

    @property
    def signs(self) -> tuple[int, int]:
        if not self.subtract:
            return 1, 1
        return (-1, 1) if self.reverse else (1, -1)

    def describe(self) -> str:
        return {"add": "Add", "sub": "Sub", "rsub": "Sub (b - a)"}[self.func] + " (broadcast)"

    def reference(self, xs):
        sa, sb = self.signs
        return [sa * xs[0] + sb * xs[1]]

    def bounds(self, ins):
        (sa, sb), (a, b) = self.signs, ins
        lo = (a.lo if sa > 0 else -a.hi) + (b.lo if sb > 0 else -b.hi)
        hi = (a.hi if sa > 0 else -a.lo) + (b.hi if sb > 0 else -b.lo)
        return [Bounds(lo, hi)]

    def rescale(self, in_scales):
        return common_scale(in_scales)

    def assign_types(self, ctx: TypingContext) -> None:
        self.sum_type = aligned_type([t.type for t in ctx.inputs], list(self.signs))
        out = ctx.outputs[0]
        if out.type is None:
            if all(t.model_typed for t in ctx.inputs) and self.sum_type.width <= FLOAT_EXACT:
                out.type, out.model_typed = self.sum_type, True
            else:
                out.type = ctx.narrowed()

    def simulator(self, in_types, out_types):
        (ta, tb), (y_type,) = in_types, out_types
        st, (sa, sb) = self.sum_type, self.signs
        ia, ib = st.frac_bits - ta.frac_bits, st.frac_bits - tb.frac_bits

        def run(ins):
            if st.width <= FLOAT_EXACT:
                s = sa * float(2 ** ia) * ins[0] + sb * float(2 ** ib) * ins[1]
            else:
                s = sa * (ins[0].astype(np.int64) << ia) + sb * (ins[1].astype(np.int64) << ib)
            return [y_type.cast(s, st).astype(np.float64, copy=False)]

        return run

    def cost(self, ctx: CostContext):
        c = ctx.target.coeff
        return self.binary_cost(ctx, style="add", lut_per_lane=self.sum_type.width * c["lut_per_adder_bit"],
                                ff_per_lane=ctx.outputs[0].type.width, depth=1)

    def hls(self, ctx: HlsContext) -> dict:
        return self.binary_hls(ctx, self.func, self.sum_type)
