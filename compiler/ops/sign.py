"""Sign, y = 1, 0 or -1: exact (qc::unary_exact, op 2: a zero test and the sign bit per
lane). The output type is ap_fixed<2,2> (ap_ufixed<1,1> for unsigned inputs); any input
scale drops out (sign(s x) = sign(x)). See negate.py for the shared stage."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numerics import FixedType
from . import register
from .base import Bounds
from .negate import ExactUnary

SIGN_TYPE = FixedType(2, 2, True)


@register
@dataclass
class Sign(ExactUnary):
    kind = "Sign"
    op_name = "sign"

    def f(self, x):
        return np.sign(x)

    def bounds(self, ins):
        return [Bounds(np.sign(ins[0].lo), np.sign(ins[0].hi))]   # monotone, exact

    def rescale(self, in_scales):
        return [1.0]

    def value_type(self, x_type):
        return SIGN_TYPE

    def assign_types(self, ctx):
        out = ctx.outputs[0]
        if out.type is None:
            out.type = SIGN_TYPE if ctx.inputs[0].type.signed else FixedType(1, 1, False)
            out.model_typed = ctx.inputs[0].model_typed
        super().assign_types(ctx)

    def values(self, c, x_type):
        return np.sign(c)
