"""Per-channel arithmetic with constants and BatchNormalization -> Affine; the sum or
difference of two activations (residual shortcuts) -> Add."""
from __future__ import annotations

import numpy as np

from ..errors import ModelError
from ..ops.add import Add
from ..ops.affine import Affine
from ..ops.swish import Swish
from .values import Act, Const, canonical_perm, converter


def _affine(imp, ctx, x: Act, scale, shift, channels_last_input: bool = False) -> Act:
    """x * scale + shift with scalar or per-channel constants (one per ONNX channel); the
    input is brought to a layout whose last IR axis is that channel axis. A channels-last
    input (a QONNX channels_last op) has its channels on the last ONNX axis already."""
    scale, shift = np.broadcast_arrays(np.asarray(scale, dtype=np.float64).reshape(-1),
                                       np.asarray(shift, dtype=np.float64).reshape(-1))
    if channels_last_input:
        x = imp.to_layout(ctx, x, tuple(range(len(x.shape))))
        c = imp.graph.tensors[x.tensor].shape[-1]
        scale, shift = np.broadcast_to(scale, (c,)).copy(), np.broadcast_to(shift, (c,)).copy()
    else:
        x, scale = imp.per_channel(ctx, x, scale)
        x, shift = imp.per_channel(ctx, x, shift)
    return imp.emit(ctx, Affine(scale=scale, shift=shift), x, x.shape)


def _two_activations(imp, ctx, a: Act, b: Act) -> Act:
    op = ctx.node.op_type
    if op == "Mul":
        swish = _swish_of(imp, a, b) or _swish_of(imp, b, a)
        if swish is not None:
            return imp.emit(ctx, Swish(), swish, swish.shape)
    if op not in ("Add", "Sub"):
        raise ctx.error(f"{op} of two computed tensors is not supported (supported: Add, Sub; x * Sigmoid(x) as "
                        "Swish; or one constant)")
    if a.shape != b.shape:
        raise ctx.error(f"inputs of shapes (N, {', '.join(map(str, a.shape))}) and (N, {', '.join(map(str, b.shape))}) "
                        "need broadcasting, which is not supported (supported: equal shapes)")
    if a.tensor == b.tensor and a.order().tobytes() == b.order().tobytes():  # x + x, x - x
        return _affine(imp, ctx, a, 2.0 if op == "Add" else 0.0, 0.0)
    # both in one layout: the first input's (free for it) where a transpose describes it
    if a.flat_order is None:
        perm = a.perm if a.perm is not None else tuple(range(len(a.shape)))
    else:
        perm = canonical_perm(len(a.shape))
    a, b = imp.to_layout(ctx, a, perm), imp.to_layout(ctx, b, perm)
    return imp.emit(ctx, Add(subtract=op == "Sub"), [a, b], a.shape)


@converter("Add", "Sub", "Mul", "Div")
def _arith(imp, ctx, ins):
    op = ctx.node.op_type
    a, b = ins
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(_fold_binary(op, a.value, b.value))
    if isinstance(a, Act) and isinstance(b, Act):
        return _two_activations(imp, ctx, a, b)
    x, k, const_first = (a, b, False) if isinstance(a, Act) else (b, a, True)
    v = ctx.channels(x, k.value, "the constant operand", check_layout=False)
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


def _swish_of(imp, x: Act, s: Act) -> Act | None:
    """x when s = Sigmoid(x) in x's own layout (PyTorch's SiLU export), else None. The
    Sigmoid is left for its other readers, or removed as dead by cleanup."""
    node = imp.graph.producer(s.tensor)
    if node is None or node.kind != "Sigmoid" or node.inputs != [x.tensor]:
        return None
    return x if x.shape == s.shape and x.order().tobytes() == s.order().tobytes() else None


def _fold_binary(op, a, b):
    return {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](a, b)


@converter("BatchNormalization")
@converter("BatchNormalization", domains=("qonnx.custom_op.channels_last",))
def _batchnorm(imp, ctx, ins):
    x = ctx.act(ins[0])
    chlast = ctx.node.domain == "qonnx.custom_op.channels_last"
    if len(ctx.node.output) > 1 and any(ctx.node.output[1:]):
        if ctx.attrs.get("training_mode", 0):
            raise ctx.error("training_mode=1 is not supported (supported: inference)")
    params = [ctx.const(v, w).value.astype(np.float64) for v, w in zip(ins[1:5], ("scale", "bias", "mean", "var"))]
    gamma, beta, mean, var = (np.asarray(p).reshape(-1) for p in params)
    eps = float(ctx.attrs.get("epsilon", 1e-5))
    c = (x.shape[-1] if chlast else x.shape[0]) if x.shape else 1
    if not all(p.size in (1, c) for p in (gamma, beta, mean, var)):
        raise ctx.error(f"parameters do not match the {c} channels of the input", ModelError)
    if np.any(var + eps <= 0):
        raise ctx.error("variance + epsilon must be positive", ModelError)
    s = gamma / np.sqrt(var + eps)
    return _affine(imp, ctx, x, s, beta - mean * s, channels_last_input=chlast)
