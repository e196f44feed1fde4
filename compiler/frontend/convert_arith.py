"""Arithmetic with constants and BatchNormalization -> Affine (per-channel or scalar
constants) or PositionAffine (constants that vary along other axes); two activations: Add/Sub
of equal shapes -> Add, with broadcasting -> AddBroadcast, Mul -> Mul (x * Sigmoid(x) ->
Swish), Max/Min (variadic: a chain) -> MinMax."""
from __future__ import annotations

import numpy as np

from ..errors import ModelError, UnsupportedError
from ..ops.add import Add
from ..ops.add_broadcast import AddBroadcast
from ..ops.affine import Affine
from ..ops.clip import Clip
from ..ops.minmax import MinMax
from ..ops.mul import Mul
from ..ops.position_affine import PositionAffine
from ..ops.softsign import Softsign
from ..ops.swish import Swish
from .values import Act, Const, canonical_perm, converter, make_act


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


def _shape_text(shape) -> str:
    return "(N" + "".join(f", {d}" for d in shape) + ")"


def _leading_ones(x: Act, rank: int) -> Act:
    """x with size-1 axes in front up to `rank` (its IR data unchanged)."""
    extra = rank - len(x.shape)
    if extra <= 0:
        return x
    return make_act(x.tensor, (1,) * extra + tuple(x.shape), np.asarray(x.order()))


def _two_activations(imp, ctx, a: Act, b: Act, op: str | None = None) -> Act:
    """op (Add, Sub, Mul, Max, Min; default: the node's own) of two computed tensors; one may
    broadcast to the other (ONNX multidirectional broadcasting at equal rank: size-1 axes).
    The full-shape operand is the stream the kernel walks (the first input of the IR op), the
    other is read once per item of its own."""
    op = op or ctx.node.op_type
    if op == "Mul":
        swish = _swish_of(imp, a, b) or _swish_of(imp, b, a)
        if swish is not None:
            return imp.emit(ctx, Swish(), swish, swish.shape)
    if op == "Div":
        from .convert_unary import softsign_of   # PyTorch's Softsign export: x / (1 + |x|)

        x = softsign_of(imp, a, b)
        if x is not None:
            return imp.emit(ctx, Softsign(), x, x.shape)
        raise ctx.error("Div of two computed tensors is not supported (no divider stage; supported: a constant "
                        "divisor, and Add, Sub, Mul, Max, Min of two tensors)")
    if imp.whole and len(a.shape) != len(b.shape):
        # no batch axis (frontend/whole_tensor.py): ONNX aligns the trailing axes, so the shorter
        # operand has leading axes of size 1 (the same values, relabelled)
        a, b = _leading_ones(a, len(b.shape)), _leading_ones(b, len(a.shape))
    if len(a.shape) != len(b.shape) or any(d not in (1, e) and e != 1 for d, e in zip(a.shape, b.shape)):
        raise ctx.error(f"inputs of shapes {_shape_text(a.shape)} and {_shape_text(b.shape)} do not broadcast "
                        "(supported: equal ranks, axes equal or 1)",
                        ModelError if len(a.shape) == len(b.shape) else UnsupportedError)
    out_shape = tuple(max(d, e) for d, e in zip(a.shape, b.shape))
    swapped = a.shape != out_shape
    if swapped and b.shape != out_shape:
        raise ctx.error(f"inputs of shapes {_shape_text(a.shape)} and {_shape_text(b.shape)} both broadcast "
                        "(supported: one operand of the output's shape)")
    if swapped:
        a, b = b, a
    if a.tensor == b.tensor and a.order().tobytes() == b.order().tobytes():  # x op x
        if op in ("Max", "Min"):
            return a
        if op == "Mul":
            return imp.emit(ctx, Mul(), a, a.shape)
        return _affine(imp, ctx, a, 2.0 if op == "Add" else 0.0, 0.0)
    # both in one layout: the full operand's (free for it) where a transpose describes it
    if a.flat_order is None:
        perm = a.perm if a.perm is not None else tuple(range(len(a.shape)))
    else:
        perm = canonical_perm(len(a.shape))
    a, b = imp.to_layout(ctx, a, perm), imp.to_layout(ctx, b, perm)
    if op in ("Add", "Sub"):
        ir = Add(subtract=op == "Sub") if a.shape == b.shape else \
            AddBroadcast(subtract=op == "Sub", reverse=op == "Sub" and swapped)
    elif op == "Mul":
        ir = Mul()
    elif op in ("Max", "Min"):
        ir = MinMax(minimum=op == "Min")
    else:
        raise ctx.error(f"{op} of two computed tensors is not supported (supported: Add, Sub, Mul, Max, Min)")
    return imp.emit(ctx, ir, [a, b], a.shape)


def position_constant(imp, ctx, x: Act, value, what: str):
    """A constant broadcast against `x` the ONNX way (trailing axes aligned) that varies along
    an axis other than the channels: (x in channels-last order, the constant as an IR-shaped
    array with size-1 axes where it is broadcast). None when it is per-channel or scalar
    (ctx.channels gives those). A constant that varies along the batch axis is refused."""
    full = (1,) + tuple(x.shape)
    v = np.asarray(value, dtype=np.float64)
    if v.ndim > len(full):
        raise ctx.error(f"{what} of shape {v.shape} does not broadcast to the input {_shape_text(x.shape)}",
                        ModelError)
    v = v.reshape((1,) * (len(full) - v.ndim) + v.shape)
    for axis, (n, d) in enumerate(zip(v.shape, full)):
        if axis == 0 and n != 1:
            raise ctx.error(f"{what} of shape {np.shape(value)} varies along axis 0, the batch (supported: "
                            "constants that broadcast over the batch)")
        if axis and n not in (1, d):
            raise ctx.error(f"{what} of shape {np.shape(value)} does not broadcast to the input "
                            f"{_shape_text(x.shape)} (ONNX aligns trailing axes)", ModelError)
    if all(n == 1 for axis, n in enumerate(v.shape) if axis != 1):
        return None
    perm = canonical_perm(len(x.shape))
    return imp.channels_last(ctx, x), v[0].transpose(perm)


def _position_affine(imp, ctx, x: Act, scale, shift) -> Act:
    rank = len(imp.graph.tensors[x.tensor].shape)
    one = (1,) * rank
    scale = np.full(one, float(scale)) if np.ndim(scale) == 0 else np.asarray(scale, dtype=np.float64)
    shift = np.full(one, float(shift)) if np.ndim(shift) == 0 else np.asarray(shift, dtype=np.float64)
    return imp.emit(ctx, PositionAffine(scale=scale, shift=shift), x, x.shape)


@converter("Add", "Sub", "Mul", "Div")
def _arith(imp, ctx, ins):
    """x op constant (scalar, per-channel or per-position); two tensors: equal rank, one may broadcast

    A constant may not vary along the batch. Div: by a nonzero constant only (a constant divided
    by a tensor is refused); of two tensors only PyTorch's Softsign x / (1 + |x|). Mul x * Sigmoid(x)
    becomes Swish."""
    op = ctx.node.op_type
    a, b = ins
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(_fold_binary(op, a.value, b.value))
    if isinstance(a, Act) and isinstance(b, Act):
        return _two_activations(imp, ctx, a, b)
    x, k, const_first = (a, b, False) if isinstance(a, Act) else (b, a, True)
    positional = position_constant(imp, ctx, x, k.value, "the constant operand")
    if positional is not None:  # a constant that varies along the positions (PositionAffine)
        x, v = positional
        return _position_affine(imp, ctx, x, *_scale_shift(ctx, op, v, const_first))
    v = ctx.channels(x, k.value, "the constant operand", check_layout=False)
    return _affine(imp, ctx, x, *_scale_shift(ctx, op, v, const_first))


def _scale_shift(ctx, op: str, v: np.ndarray, const_first: bool) -> tuple:
    """(scale, shift) of x op v (or v op x) as the affine stage x * scale + shift."""
    if op == "Add":
        return 1.0, v
    if op == "Mul":
        return v, 0.0
    if op == "Sub":
        return (-1.0, v) if const_first else (1.0, -v)
    if const_first:
        raise ctx.error("dividing a constant by a tensor is not supported")
    if np.any(v == 0):
        raise ctx.error("division by zero", ModelError)
    return 1.0 / v, 0.0


@converter("Max", "Min")
def _max_min(imp, ctx, ins):
    """any number of tensors (equal rank, one may broadcast) and constants that fold into one scalar

    Variadic Max/Min: a chain of two-input stages; the constants fold into one, applied as a
    clamp (a scalar: Clip) at the end."""
    op = ctx.node.op_type
    present = [v for v in ins if v is not None]
    acts = [v for v in present if isinstance(v, Act)]
    consts = [np.asarray(v.value, dtype=np.float64) for v in present if isinstance(v, Const)]
    pick = np.maximum if op == "Max" else np.minimum
    if not acts:
        return Const(pick.reduce(np.broadcast_arrays(*consts)) if len(consts) > 1 else consts[0])
    y = acts[0]
    for other in acts[1:]:
        y = _two_activations(imp, ctx, y, other)
    if consts:
        c = pick.reduce(np.broadcast_arrays(*consts)) if len(consts) > 1 else consts[0]
        if np.size(c) != 1 or len(np.shape(c)) > len(y.shape) + 1:
            raise ctx.error(f"{op} with a constant operand of shape {np.shape(c)} is not supported (supported: a "
                            "scalar constant)")
        c = float(np.asarray(c).reshape(-1)[0])
        y = imp.emit(ctx, Clip(lo=c) if op == "Max" else Clip(hi=c), y, y.shape, suffix="clip" if len(acts) > 1 else "")
    return y


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
    """inference form; constant scale/bias/mean/var, each scalar or per-channel; training outputs refused

    training_mode=1 is refused when the running-statistics outputs are present. Also QONNX's
    channels_last BatchNormalization (channels on the last axis)."""
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
