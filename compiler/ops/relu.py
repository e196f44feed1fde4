"""ReLU as its own streaming stage (when it cannot be fused into the preceding layer)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType
from . import register
from .base import Bounds, CostContext, HlsContext, Op, TypingContext


@register
@dataclass
class Relu(Op):
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
        from ..cost.kernels import elementwise_cost

        return elementwise_cost(ctx.target, "relu", ctx.inputs[0], ctx.outputs[0])

    def hls(self, ctx: HlsContext) -> dict:
        return {"channels": ctx.inputs[0].shape[-1], "items": ctx.inputs[0].size // ctx.inputs[0].shape[-1]}
