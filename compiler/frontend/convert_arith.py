"""Per-channel arithmetic with constants and BatchNormalization -> Affine."""
from __future__ import annotations

import numpy as np

from ..errors import ModelError
from ..ops.affine import Affine
from .values import Act, Const, converter


def _affine(imp, ctx, x: Act, scale, shift) -> Act:
    c = x.shape[0] if x.shape else 1
    scale = np.broadcast_to(np.asarray(scale, dtype=np.float64), (c,)).copy()
    shift = np.broadcast_to(np.asarray(shift, dtype=np.float64), (c,)).copy()
    return imp.emit(ctx, Affine(scale=scale, shift=shift), x, x.shape)


@converter("Add", "Sub", "Mul", "Div")
def _arith(imp, ctx, ins):
    op = ctx.node.op_type
    a, b = ins
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(_fold_binary(op, a.value, b.value))
    if isinstance(a, Act) and isinstance(b, Act):
        raise ctx.error("two computed inputs are not supported yet (supported: one input and one constant)")
    x, k, const_first = (a, b, False) if isinstance(a, Act) else (b, a, True)
    v = ctx.channels(x, k.value, "the constant operand")
    if op == "Add":
        return _affine(imp, ctx, x, 1.0, v)
    if op == "Mul":
        return _affine(imp, ctx, x, v, 0.0)
    if op == "Sub":
        return _affine(imp, ctx, x, -1.0, v) if const_first else _affine(imp, ctx, x, 1.0, -v)
    if const_first:
        raise ctx.error("dividing a constant by a tensor is not supported")
    if np.any(v == 0):
        raise ctx.error("division by zero", ModelError)
    return _affine(imp, ctx, x, 1.0 / v, 0.0)


def _fold_binary(op, a, b):
    return {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](a, b)


@converter("BatchNormalization")
def _batchnorm(imp, ctx, ins):
    x = ctx.act(ins[0])
    if len(ctx.node.output) > 1 and any(ctx.node.output[1:]):
        if ctx.attrs.get("training_mode", 0):
            raise ctx.error("training_mode=1 is not supported (supported: inference)")
    params = [ctx.const(v, w).value.astype(np.float64) for v, w in zip(ins[1:5], ("scale", "bias", "mean", "var"))]
    gamma, beta, mean, var = (np.asarray(p).reshape(-1) for p in params)
    eps = float(ctx.attrs.get("epsilon", 1e-5))
    c = x.shape[0] if x.shape else 1
    if not all(p.size in (1, c) for p in (gamma, beta, mean, var)):
        raise ctx.error(f"parameters do not match the {c} channels of the input", ModelError)
    if np.any(var + eps <= 0):
        raise ctx.error("variance + epsilon must be positive", ModelError)
    s = gamma / np.sqrt(var + eps)
    return _affine(imp, ctx, x, s, beta - mean * s)
