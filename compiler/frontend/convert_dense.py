"""MatMul and Gemm with constant weights -> Dense."""
from __future__ import annotations

import numpy as np

from ..errors import ModelError
from ..ops.dense import Dense
from .values import converter


@converter("MatMul")
def _matmul(imp, ctx, ins):
    x = ctx.act(ins[0], "the first input")
    w = ctx.const(ins[1], "weight")
    if w.value.ndim != 2:
        raise ctx.error(f"weight of rank {w.value.ndim} is not supported (supported: a 2-D weight matrix)")
    if len(x.shape) != 1:
        raise ctx.error(f"input of shape (N, {', '.join(map(str, x.shape))}) is not supported "
                        "(supported: (N, features))")
    if w.value.shape[0] != x.shape[0]:
        raise ctx.error(f"weight shape {w.value.shape} does not match {x.shape[0]} input features", ModelError)
    op = Dense(weight=w.value.astype(np.float64), weight_type=w.qtype, weights_from_model=w.qtype is not None)
    return imp.emit(ctx, op, x, (w.value.shape[1],))


@converter("Gemm")
def _gemm(imp, ctx, ins):
    a = ctx.attrs
    x = ctx.act(ins[0], "input A")
    w = ctx.const(ins[1], "weight B")
    if a.get("transA", 0):
        raise ctx.error("transA=1 is not supported (supported: 0)")
    if len(x.shape) != 1:
        raise ctx.error(f"input of shape (N, {', '.join(map(str, x.shape))}) is not supported (supported: (N, features))")
    weight = w.value.astype(np.float64)
    if weight.ndim != 2:
        raise ctx.error(f"weight of rank {weight.ndim} is not supported", ModelError)
    if a.get("transB", 0):
        weight = weight.T
    if weight.shape[0] != x.shape[0]:
        raise ctx.error(f"weight shape {w.value.shape} does not match {x.shape[0]} input features", ModelError)
    alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    qtype = w.qtype if alpha == 1.0 else None
    op = Dense(weight=weight * alpha, weight_type=qtype, weights_from_model=qtype is not None)
    if len(ins) > 2 and ins[2] is not None:
        c = ctx.const(ins[2], "bias C")
        n_out = weight.shape[1]
        cv = np.asarray(c.value, dtype=np.float64)
        if cv.size not in (1, n_out) or (cv.ndim == 2 and cv.shape[0] != 1):
            raise ctx.error(f"bias C of shape {cv.shape} is not supported (supported: scalar or ({n_out},))")
        op.bias = np.broadcast_to(cv.reshape(-1), (n_out,)).copy() * beta
        if c.qtype is not None and beta == 1.0:
            op.bias_type = c.qtype
    return imp.emit(ctx, op, x, (weight.shape[1],))
