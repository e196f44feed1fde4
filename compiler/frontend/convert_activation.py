"""Activations."""
from __future__ import annotations

from ..ops.relu import Relu
from ..ops.softmax import Softmax
from .values import converter


@converter("Relu")
def _relu(imp, ctx, ins):
    x = ctx.act(ins[0])
    return imp.emit(ctx, Relu(), x, x.shape)


@converter("Softmax")
def _softmax(imp, ctx, ins):
    x = ctx.act(ins[0])
    rank = len(x.shape) + 1
    default = -1 if imp.opset.get("", 13) >= 13 else 1
    axis = int(ctx.attrs.get("axis", default))
    axis = axis + rank if axis < 0 else axis
    if axis != rank - 1 or rank != 2:
        raise ctx.error(f"axis={ctx.attrs.get('axis', default)} on a rank-{rank} input is not supported "
                        "(supported: the feature axis of an (N, features) input)")
    return imp.emit(ctx, Softmax(), x, x.shape)
