"""Quant: requantize a tensor to a type the model prescribes (a QONNX Quant with a
power-of-two scale). The absorb pass folds it into the producer's output type where it can;
what remains is an elementwise cast stage."""
from __future__ import annotations

from dataclasses import dataclass


from ..numerics import FixedType
from . import register
from .base import Bounds, CostContext, HlsContext, Op, TypingContext


@register
@dataclass
class Quant(Op):
    kind = "Quant"
    template = "cast"

    out_type: FixedType

    def describe(self) -> str:
        return f"Quant {self.out_type}"

    def reference(self, xs):
        t = self.out_type
        return [t.to_float(t.quantize(xs[0]))]

    def bounds(self, ins):
        t = self.out_type
        return [Bounds(t.to_float(t.quantize(ins[0].lo)), t.to_float(t.quantize(ins[0].hi)))]

    def assign_types(self, ctx: TypingContext) -> None:
        out = ctx.outputs[0]
        out.type, out.model_typed = self.out_type, True

    def simulator(self, in_types, out_types):
        (x_type,), (y_type,) = in_types, out_types
        return lambda ins: [y_type.cast(ins[0], x_type)]

    def cost(self, ctx: CostContext):
        from ..cost.kernels import elementwise_cost

        return elementwise_cost(ctx.target, "cast", ctx.inputs[0], ctx.outputs[0])

    def hls(self, ctx: HlsContext) -> dict:
        return {"channels": ctx.inputs[0].shape[-1], "items": ctx.inputs[0].size // ctx.inputs[0].shape[-1]}
