"""Sum and Mean of any number of tensors: a chain of two-input sums (convert_arith), Mean
scaled by 1/n at the end. Constants among the operands fold into one."""
from __future__ import annotations

import numpy as np

from .convert_arith import _affine, _two_activations
from .values import Act, Const, converter


@converter("Sum", "Mean")
def _sum(imp, ctx, ins):
    """any number of inputs: tensors of equal rank (one may broadcast); constants scalar or per-channel"""
    acts = [v for v in ins if isinstance(v, Act)]
    consts = [np.asarray(v.value, dtype=np.float64) for v in ins if isinstance(v, Const)]
    n = len(ins)
    if not acts:
        total = sum(consts[1:], consts[0])
        return Const(total / n if ctx.node.op_type == "Mean" else total)
    y = acts[0]
    for a in acts[1:]:
        y = _sum_pair(imp, ctx, y, a)
    shift = sum(consts[1:], consts[0]) if consts else 0.0
    scale = 1.0 / n if ctx.node.op_type == "Mean" else 1.0
    if consts or scale != 1.0:
        v = ctx.channels(y, np.asarray(shift, dtype=np.float64), "the constant operand", check_layout=False)
        y = _affine(imp, ctx, y, scale, v * scale)
    return y


def _sum_pair(imp, ctx, a: Act, b: Act) -> Act:
    return _two_activations(imp, ctx, a, b, op="Add")
