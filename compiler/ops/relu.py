"""ReLU as its own streaming stage (when it cannot be fused into the preceding layer)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType
from . import register
from ._lanes import LaneOp, lane_context, lane_cost
from .base import Bounds, CostContext, HlsContext, TypingContext


@register
@dataclass
class Relu(LaneOp):
    kind = "Relu"
    template = "relu"

    def reference(self, xs):
        return [np.maximum(xs[0], 0.0)]

    def bounds(self, ins):
        return [Bounds(np.maximum(ins[0].lo, 0), np.maximum(ins[0].hi, 0))]

    def rescale(self, in_scales):
        return [in_scales[0]]  # scales are positive, and relu(s * x) == s * relu(x)

    def assign_types(self, ctx: TypingContext) -> None:
        out, x = ctx.outputs[0], ctx.inputs[0].type
        if out.type is None:
            # Same grid without the sign bit: exact, one bit narrower.
            out.type = FixedType(max(x.width - int(x.signed), 1), x.int_bits - int(x.signed), False)
            out.model_typed = ctx.inputs[0].model_typed

    def simulator(self, in_types, out_types):
        (x_type,), (y_type,) = in_types, out_types

        def run(ins):
            return [y_type.cast(np.maximum(ins[0], 0), x_type)]

        return run

    def cost(self, ctx: CostContext):
        """A sign test and a select per output bit, per lane; no registers of its own."""
        sel = ctx.target.coeff.get("lut_per_select_bit", 0.5)
        return lane_cost(ctx, style="elementwise_relu", lut_per_lane=ctx.outputs[0].type.width * sel)

    def hls(self, ctx: HlsContext) -> dict:
        return lane_context(ctx)
