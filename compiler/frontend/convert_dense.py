"""MatMul and Gemm with constant weights -> Dense."""
from __future__ import annotations

import numpy as np

from ..errors import ModelError
from ..ops.dense import Dense
from ..ops.matmul import MatMul
from .convert_arith import _affine, _two_activations
from .values import Act, Const, converter


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
    """(N, K) @ a constant 2-D weight, or two computed (N, ..., M, K) @ (N, ..., K, P), no broadcasting

    Quantized weights: one scale per tensor or per output column."""
    x = ctx.act(ins[0], "the first input")
    if isinstance(ins[1], Act):
        return _two_streams(imp, ctx, x, ins[1])
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
    """(N, K) input, constant B, transB 0/1, any alpha and beta; transA=1 refused; C: scalar or per output

    C is a constant. Quantized B: one scale per tensor or per output column. Without a batch axis
    (whole-tensor models): also two computed matrices, A @ B + beta * C (no transA/transB, alpha 1)."""
    a = ctx.attrs
    x = ctx.act(ins[0], "input A")
    if isinstance(ins[1], Act) and imp.whole:
        return _gemm_of_streams(imp, ctx, x, ins[1], ins[2] if len(ins) > 2 else None)
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


def _two_streams(imp, ctx, a: Act, b: Act) -> Act:
    """a @ b of two computed tensors (ops/matmul.py): both in the model's own order, so the
    rows (the last axis) are the stream's items."""
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise ctx.error(f"MatMul of two computed tensors of shapes (N, {', '.join(map(str, a.shape))}) and "
                        f"(N, {', '.join(map(str, b.shape))}) is not supported (supported: (N, ..., M, K) @ "
                        "(N, ..., K, P) with the same leading axes)")
    if a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-2]:
        raise ctx.error(f"MatMul of shapes (N, {', '.join(map(str, a.shape))}) and (N, {', '.join(map(str, b.shape))}) "
                        "is not supported (supported: (N, ..., M, K) @ (N, ..., K, P), the same leading axes, no "
                        "broadcasting)")
    a = imp.to_layout(ctx, a, tuple(range(len(a.shape))))
    b = imp.to_layout(ctx, b, tuple(range(len(b.shape))))
    return imp.emit(ctx, MatMul(), [a, b], a.shape[:-1] + (b.shape[-1],), perm=tuple(range(len(a.shape))))


def _gemm_of_streams(imp, ctx, a: Act, b: Act, c) -> Act:
    """Gemm of two computed matrices in a model without a batch axis (frontend/whole_tensor.py):
    the matrices are whole samples, so Gemm is their MatMul, plus beta * C."""
    at = ctx.attrs
    if at.get("transA", 0) or at.get("transB", 0) or float(at.get("alpha", 1.0)) != 1.0:
        raise ctx.error("Gemm of two computed matrices with transA, transB or alpha != 1 is not supported "
                        "(supported: A @ B + beta * C)")
    if len(a.shape) != 2 or len(b.shape) != 2:
        raise ctx.error(f"Gemm of shapes {a.shape} and {b.shape} (supported: two matrices)")
    y = _two_streams(imp, ctx, a, b)
    beta = float(at.get("beta", 1.0))
    if c is None or beta == 0.0:
        return y
    if isinstance(c, Const):
        v = np.asarray(c.value, dtype=np.float64) * beta
        if v.size != 1 and v.reshape(-1).size != y.shape[-1]:
            raise ctx.error(f"bias C of shape {v.shape} is not supported here (supported: a scalar or one per column)")
        return _affine(imp, ctx, y, 1.0, v, channels_last_input=True)  # per column: the last axis
    if beta != 1.0:
        raise ctx.error("Gemm with a computed C and beta != 1 is not supported (supported: beta = 1)")
    return _two_activations(imp, ctx, y, c, op="Add")
