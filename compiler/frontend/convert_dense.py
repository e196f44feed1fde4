"""MatMul and Gemm with constant weights -> Dense."""
from __future__ import annotations

import numpy as np

from ..errors import ModelError
from ..ops.dense import Dense
from .values import Const, converter


def _dense(ctx, w: Const, n_in: int, transpose: bool = False, alpha: float = 1.0) -> Dense:
    """A Dense op from a (K, N) weight constant (N, K when transposed). Model-quantized
    weights keep their codes on their grid; their real scale, which must be one per output
    column (or one for all), becomes the layer's weight_scale."""
    value = np.asarray(w.value if w.qtype is None else w.fixed, dtype=np.float64)
    if value.ndim != 2:
        raise ctx.error(f"weight of rank {value.ndim} is not supported (supported: a 2-D weight matrix)")
    weight = value.T if transpose else value
    if weight.shape[0] != n_in:
        raise ctx.error(f"weight shape {value.shape} does not match {n_in} input features", ModelError)
    if w.qtype is None:
        return Dense(weight=weight * alpha)
    scale = np.asarray(w.scale, dtype=np.float64)
    if scale.ndim:
        scale = np.broadcast_to(scale, value.shape)
        scale = scale.T if transpose else scale
        if not np.all(scale == scale[:1, :]):
            raise ctx.error("weight scales that vary along the input dimension are not supported "
                            "(supported: per-tensor or per output channel)")
        scale = scale[0].copy()
    return Dense(weight=weight, weight_type=w.qtype, weights_from_model=True, weight_scale=scale * alpha)


@converter("MatMul")
def _matmul(imp, ctx, ins):
    x = ctx.act(ins[0], "the first input")
    w = ctx.const(ins[1], "weight")
    if len(x.shape) != 1:
        raise ctx.error(f"input of shape (N, {', '.join(map(str, x.shape))}) is not supported "
                        "(supported: (N, features))")
    op = _dense(ctx, w, x.shape[0])
    x, order = imp.as_vector(ctx, x)
    if order is not None:  # the input's values arrive in another order: permute the weight rows
        op.weight = op.weight[order]
    return imp.emit(ctx, op, x, (op.n_out,))


@converter("Gemm")
def _gemm(imp, ctx, ins):
    a = ctx.attrs
    x = ctx.act(ins[0], "input A")
    w = ctx.const(ins[1], "weight B")
    if a.get("transA", 0):
        raise ctx.error("transA=1 is not supported (supported: 0)")
    if len(x.shape) != 1:
        raise ctx.error(f"input of shape (N, {', '.join(map(str, x.shape))}) is not supported (supported: (N, features))")
    alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    op = _dense(ctx, w, x.shape[0], transpose=bool(a.get("transB", 0)), alpha=alpha)
    if len(ins) > 2 and ins[2] is not None:
        cv = np.asarray(ctx.const(ins[2], "bias C").value, dtype=np.float64)
        if cv.size not in (1, op.n_out) or (cv.ndim == 2 and cv.shape[0] != 1):
            raise ctx.error(f"bias C of shape {cv.shape} is not supported (supported: scalar or ({op.n_out},))")
        op.bias = np.broadcast_to(cv.reshape(-1), (op.n_out,)).copy() * beta
    x, order = imp.as_vector(ctx, x)
    if order is not None:  # the input's values arrive in another order: permute the weight rows
        op.weight = op.weight[order]
    return imp.emit(ctx, op, x, (op.n_out,))
