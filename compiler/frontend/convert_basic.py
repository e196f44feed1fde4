"""Identity, Dropout (aliases) and Constant."""
from __future__ import annotations

import numpy as np

from .values import Const, converter


@converter("Identity", "Dropout")
def _identity(imp, ctx, ins):
    """aliases, no hardware; Dropout as in inference (its mask as a graph output is refused)"""
    if ctx.node.op_type == "Dropout" and len(ctx.node.output) > 1 and ctx.node.output[1]:
        if any(imp.model.graph.output[i].name == ctx.node.output[1] for i in range(len(imp.model.graph.output))):
            raise ctx.error("the dropout mask output is used; only inference-mode Dropout is supported")
    return ins[0]


@converter("Constant")
def _constant(imp, ctx, ins):
    """a tensor, float(s) or int(s) value; sparse and string values are refused"""
    a = ctx.attrs
    if "value" in a:
        return Const(imp._array(a["value"], f"node {ctx.name!r} (Constant)"))
    for key in ("value_float", "value_int"):
        if key in a:
            return Const(np.array(a[key]))
    for key in ("value_floats", "value_ints"):
        if key in a:
            return Const(np.array(a[key]))
    raise ctx.error("only tensor, float and int constants are supported")
