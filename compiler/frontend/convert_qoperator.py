"""QOperator ops (integer tensors between ops): QLinearMatMul, QLinearConv, MatMulInteger,
ConvInteger, QGemm, and the Cast that turns an integer result back into float.

An integer ONNX tensor q with scale s and zero point z is, in the IR, the tensor holding
codes q - z with scale s (what a QuantizeLinear produces), so these ops reuse Dense and
Quant: the input must come from a quantizer with the same scale and zero point, or be an
integer graph input (q - zero point is computed in front, its scale moves into the weights);
weights become codes with their scales, the output quantizer is a Quant.
"""
from __future__ import annotations

import numpy as np

from dataclasses import replace
from types import SimpleNamespace

from ..numerics import exact_type
from ..ops.affine import Affine
from ..ops.quant import Quant
from .convert_cnn import _conv
from .convert_dense import _dense
from .convert_quant import QDQ_RANGES, _Spec
from .values import Const, converter


def _int_input(imp, ctx, x, scale, zero, what, dense: bool = False):
    """The IR tensor of integer activation x with its (scale, zero): the codes q - zero of
    the quantizer that produced it (checked to have that scale and zero point), or an
    integer graph input (see _graph_input_codes). Returns (act, factor, zero_left): the
    real value is (act's real value - zero_left) * factor; factor (a graph input's scale)
    goes into the caller's weights, so no multiplier is spent on it, and zero_left (a
    graph input's zero point, left for a `dense` caller) into its bias."""
    x = ctx.act(x, what)
    prod = imp.graph.producer(x.tensor)
    if prod is None and x.tensor in imp.graph.inputs and imp.graph.tensors[x.tensor].type is not None:
        return _graph_input_codes(imp, ctx, x, scale, zero, what, subtract=not dense)
    op = prod.op if prod is not None else None
    if not isinstance(op, Quant) or op.bipolar or op.scale is None:
        raise ctx.error(f"{what} must come from a QuantizeLinear or be an integer graph input")
    s = ctx.const(scale, f"{what} scale").value
    z = ctx.const(zero, f"{what} zero point").value if zero is not None else 0
    if not (_same(op.scale, s) and _same(op.zero_point, z)):
        raise ctx.error(f"{what}'s scale or zero point differs from the quantizer that produced it; "
                        "mixing these formats is not supported")
    return x, 1.0, 0


def _graph_input_codes(imp, ctx, x, scale, zero, what, subtract: bool = True):
    """An integer graph input q (uint8 images straight into the op), checked to have its
    zero point's integer type. With `subtract`, q - zero as exact integers in front (one
    subtraction per element, which a padded convolution needs: its borders are q = zero);
    else q itself and the zero point is returned (a Dense folds -zero * sum(W) into its
    bias, exactly). Returns (act, scale, zero point left)."""
    t = imp.graph.tensors[x.tensor]
    s = np.ones(1) if scale is None else np.asarray(ctx.const(scale, f"{what} scale").value,
                                                    dtype=np.float64).reshape(-1)
    if s.size != 1 or not np.isfinite(s[0]) or s[0] <= 0:
        raise ctx.error(f"{what} scale must be one positive number (supported: per-tensor)")
    zc = ctx.const(zero, f"{what} zero point") if zero is not None else None
    z = np.asarray(zc.value if zc is not None else 0, dtype=np.float64).reshape(-1)
    dtype = str(zc.value.dtype) if zc is not None else str(t.type.min_code < 0 and "int8" or "uint8")
    if z.size != 1:
        raise ctx.error(f"{what} zero point must be one number (supported: per-tensor)")
    lo, hi = QDQ_RANGES.get(dtype, (None, None))
    if t.type.frac_bits != 0 or (t.type.min_code, t.type.max_code) != (lo, hi):
        raise ctx.error(f"integer graph input {x.tensor!r} of type {t.type} does not match its zero point's "
                        f"type {dtype} (supported: the same integer type)")
    zero_point = int(z[0])
    if not subtract or zero_point == 0:
        return x, float(s[0]), zero_point
    channels = t.shape[-1] if t.shape else 1
    codes = imp.emit(ctx, Affine(scale=np.ones(channels), shift=np.full(channels, -float(zero_point))), x, x.shape,
                     suffix="zero")
    out = imp.graph.tensors[codes.tensor]
    out.type, out.model_typed = exact_type(lo - zero_point, hi - zero_point, 0), True  # exactly q - zero
    return codes, float(s[0]), 0


def _scaled(w: Const, factor: float) -> Const:
    """Weights that also carry their input's scale (see _int_input)."""
    if factor == 1.0:
        return w
    return Const.quantized(w.fixed, w.qtype, np.asarray(w.scale, dtype=np.float64) * factor)


def _zero_bias(op, zero_left: int):
    """The real bias that subtracts a graph input's zero point: -zero * sum over the inputs
    of the real weights (x - z) @ W = x @ W - z * sum(W) (exact integers at the accumulator's
    precision)."""
    if not zero_left:
        return 0.0
    return -zero_left * op.weight.sum(axis=0) * np.asarray(op.weight_scale, dtype=np.float64)


def _same(a, b) -> bool:
    a, b = (np.asarray(v, dtype=np.float64).reshape(-1) for v in (a, b))
    try:
        a, b = np.broadcast_arrays(a, b)
    except ValueError:
        return False
    return bool(np.array_equal(a, b))


def _int_weights(ctx, w, scale, zero, what="weight B"):
    """Integer weight constant -> Const codes (w - zero) with its real scale per column."""
    q = np.asarray(ctx.const(w, what).value, dtype=np.float64)
    z = np.asarray(ctx.const(zero, f"{what} zero point").value, dtype=np.float64) if zero is not None else np.zeros(1)
    s = np.asarray(ctx.const(scale, f"{what} scale").value, dtype=np.float64) if scale is not None else np.ones(1)
    if q.ndim != 2:
        raise ctx.error(f"{what} of rank {q.ndim} is not supported (supported: 2-D)")
    # per-column parameters broadcast along the output (last) axis of a (K, N) matrix
    fixed = q - (z.reshape(1, -1) if z.size > 1 else z.reshape(-1)[0])
    full = np.broadcast_to(s.reshape(1, -1) if s.size > 1 else s.reshape(-1)[0], q.shape).copy()
    return Const.quantized(fixed, exact_type(int(min(fixed.min(), 0)), int(max(fixed.max(), 0)), 0), full)


def _output_quant(imp, ctx, y, y_scale, y_zero):
    zc = ctx.const(y_zero, "output zero point") if y_zero is not None else None
    dtype = str(zc.value.dtype) if zc is not None else "uint8"
    if dtype not in QDQ_RANGES:
        raise ctx.error(f"output integer type {dtype} is not supported (supported: {', '.join(QDQ_RANGES)})")
    qmin, qmax = QDQ_RANGES[dtype]
    spec = _Spec(np.asarray(ctx.const(y_scale, "output scale").value), 0 if zc is None else zc.value, qmin, qmax,
                 "AP_RND_CONV").check(ctx)
    return spec.on_act(imp, ctx, y)


@converter("QLinearMatMul")
def _qlinear_matmul(imp, ctx, ins):
    """A (N, K) from its QuantizeLinear or an int graph input; constant 2-D B, scale/zero per column

    Same scale and zero point as A's quantizer; a graph input per tensor. Output: (u)int4/8/16, int32."""
    a, a_s, a_z, b, b_s, b_z, y_s, y_z = (list(ins) + [None] * 8)[:8]
    x, factor, zero_left = _int_input(imp, ctx, a, a_s, a_z, "input A", dense=True)
    if len(x.shape) != 1:
        raise ctx.error("input A must be (N, features)")
    op = _dense(ctx, _scaled(_int_weights(ctx, b, b_s, b_z), factor), x.shape[0])
    if zero_left:
        op.bias = _zero_bias(op, zero_left)
    acc = imp.emit(ctx, op, x, (op.n_out,), suffix="acc")
    return _output_quant(imp, ctx, acc, y_s, y_z)


@converter("QGemm", domains=("com.microsoft",))
def _qgemm(imp, ctx, ins):
    """A from its QuantizeLinear or an int graph input; constant B, transB 0/1, any alpha; transA=1 refused

    C: a constant int32 bias; without y_scale the output is float."""
    a, a_s, a_z, b, b_s, b_z, c, y_s, y_z = (list(ins) + [None] * 9)[:9]
    if ctx.attrs.get("transA", 0):
        raise ctx.error("transA=1 is not supported (supported: 0)")
    x, factor, zero_left = _int_input(imp, ctx, a, a_s, a_z, "input A", dense=True)
    w = _int_weights(ctx, b, b_s, b_z)
    if ctx.attrs.get("transB", 0):
        w = Const.quantized(w.fixed.T, w.qtype, np.asarray(w.scale).T)
    b_scale = np.asarray(w.scale)[0]
    w = _scaled(w, factor)
    alpha = float(ctx.attrs.get("alpha", 1.0))
    op = _dense(ctx, w, x.shape[0], alpha=alpha)
    if c is not None:  # int32 bias with scale a_scale * b_scale
        cq = np.asarray(ctx.const(c, "bias C").value, dtype=np.float64).reshape(-1)
        a_scale = float(np.asarray(ctx.const(a_s, "input A scale").value).reshape(-1)[0])
        op.bias = np.broadcast_to(cq, (op.n_out,)) * a_scale * b_scale
    if zero_left:
        op.bias = _zero_bias(op, zero_left) + (0.0 if op.bias is None else op.bias)
    if y_s is None:  # float output
        return imp.emit(ctx, op, x, (op.n_out,))
    acc = imp.emit(ctx, op, x, (op.n_out,), suffix="acc")
    return _output_quant(imp, ctx, acc, y_s, y_z)


def _integer_operand(imp, ctx, x, zero, name: str):
    """(act holding x - zero, the real scale of its codes) for MatMulInteger/ConvInteger:
    after a per-tensor QuantizeLinear, or an integer graph input (scale 1: its codes are q)."""
    if imp.graph.producer(x.tensor) is None and x.tensor in imp.graph.inputs \
            and imp.graph.tensors[x.tensor].type is not None:
        return _graph_input_codes(imp, ctx, x, None, zero, f"input {name}")[0], 1.0  # q - zero, scale 1
    return x, float(_input_quantizer(imp, ctx, x, zero, name).scale)


def _input_quantizer(imp, ctx, x, zero, name: str) -> Quant:
    """The per-tensor QuantizeLinear an integer op's input `name` comes from, checked to have
    the zero point the op subtracts."""
    prod = imp.graph.producer(x.tensor)
    q = prod.op if prod is not None else None
    if not isinstance(q, Quant) or q.scale is None or q.bipolar or np.ndim(q.scale):
        raise ctx.error(f"input {name} must come from a per-tensor QuantizeLinear")
    z = 0.0 if zero is None else float(np.asarray(ctx.const(zero, f"{name} zero point").value).reshape(-1)[0])
    if z != float(np.asarray(q.zero_point).reshape(-1)[0]):
        raise ctx.error(f"{name}'s zero point differs from its quantizer's; mixing these formats is not supported")
    return q


@converter("MatMulInteger")
def _matmul_integer(imp, ctx, ins):
    """A from a per-tensor QuantizeLinear or an int graph input; constant 2-D B, zero point per column

    int32 = (A - a_zero) @ (B - b_zero). The IR keeps the accumulator's real scale, so
    an Affine with 1 / (A's scale) relabels it as the plain integer ONNX computes (a
    following Cast and Mul by the scales fold back into the tensor's scale)."""
    a, b, a_z, b_z = (list(ins) + [None] * 4)[:4]
    x, q_scale = _integer_operand(imp, ctx, ctx.act(a, "input A"), a_z, "A")
    op = _dense(ctx, _int_weights(ctx, b, None, b_z), x.shape[0])
    acc = imp.emit(ctx, op, x, (op.n_out,), suffix="acc")
    scale = 1.0 / q_scale
    return imp.emit(ctx, Affine(scale=np.full(op.n_out, scale), shift=np.zeros(op.n_out)), acc, acc.shape)


@converter("Cast")
def _cast(imp, ctx, ins):
    """to float types, or to int32/int64 of integer-valued tensors; other casts are refused

    Casts between numeric types are value-preserving here (the IR holds exact values);
    casting a computed tensor to a narrower integer type would wrap, which is refused."""
    to = int(ctx.attrs.get("to", 1))
    x = ins[0]
    if isinstance(x, Const):
        return x
    if to not in (1, 10, 11, 16, 6, 7):  # float, float16, double, bfloat16, int32, int64
        raise ctx.error(f"cast to ONNX type {to} is not supported (supported: float types, int32, int64)")
    if to in (6, 7) and not imp.integer_valued(ctx.node.input[0]):
        raise ctx.error("cast of a float tensor to an integer type (it would round toward zero) is not supported "
                        "(supported: casts of integer results, e.g. of MatMulInteger, and casts to float)")
    return ctx.act(x)


def _conv_weights(ctx, w, scale, zero, what="weight W"):
    """Integer (C_out, C_in/g, *k) weights -> codes (w - zero) with one real scale per
    output channel (axis 0), broadcast to the weight's shape."""
    q = np.asarray(ctx.const(w, what).value, dtype=np.float64)
    shape = (-1,) + (1,) * (q.ndim - 1)
    z = np.asarray(ctx.const(zero, f"{what} zero point").value, dtype=np.float64).reshape(shape) \
        if zero is not None else 0.0
    s = np.asarray(ctx.const(scale, f"{what} scale").value, dtype=np.float64).reshape(shape) \
        if scale is not None else np.ones(1)
    fixed = q - z
    scale_full = np.broadcast_to(s, q.shape).copy() if s.size > 1 else float(s.reshape(-1)[0])
    return Const.quantized(fixed, exact_type(int(min(fixed.min(), 0)), int(max(fixed.max(), 0)), 0), scale_full)


def _renamed(ctx, suffix):
    """The node context of an intermediate IR tensor (its name gets a suffix)."""
    node = SimpleNamespace(op_type=ctx.node.op_type, domain=ctx.node.domain, name=ctx.node.name,
                           output=[f"{ctx.node.output[0]}__{suffix}"], input=list(ctx.node.input))
    return replace(ctx, node=node)


@converter("QLinearConv")
def _qlinear_conv(imp, ctx, ins):
    """as Conv; x from its QuantizeLinear or an int graph input; constant W, scale/zero per out channel

    Constant int32 bias. Output: (u)int4/8/16, int32."""
    x, x_s, x_z, w, w_s, w_z, y_s, y_z, b = (list(ins) + [None] * 9)[:9]
    a, factor, _ = _int_input(imp, ctx, x, x_s, x_z, "input x")
    wc = _conv_weights(ctx, w, w_s, w_z)
    bias = None
    if b is not None:  # int32 with scale x_scale * w_scale
        bq = np.asarray(ctx.const(b, "bias B").value, dtype=np.float64).reshape(-1)
        x_scale = float(np.asarray(ctx.const(x_s, "input x scale").value).reshape(-1)[0])
        w_scale = np.broadcast_to(np.asarray(wc.scale), wc.value.shape).reshape(wc.value.shape[0], -1)[:, 0]
        bias = Const(bq * x_scale * w_scale)
    acc = _conv(imp, _renamed(ctx, "acc"), [a, _scaled(wc, factor), bias])
    return _output_quant(imp, ctx, acc, y_s, y_z)


@converter("ConvInteger")
def _conv_integer(imp, ctx, ins):
    """as Conv; x from a per-tensor QuantizeLinear or an int graph input; constant W, zero per out channel

    int32 = conv(x - x_zero, w - w_zero), relabelled as the plain integer (see MatMulInteger)."""
    x, w, x_z, w_z = (list(ins) + [None] * 4)[:4]
    a, q_scale = _integer_operand(imp, ctx, ctx.act(x, "input x"), x_z, "x")
    acc = _conv(imp, _renamed(ctx, "acc"), [a, _conv_weights(ctx, w, None, w_z), None])
    c_out = np.asarray(ctx.const(w, "weight W").value).shape[0]
    scale = np.full(c_out, 1.0 / q_scale)
    return imp.emit(ctx, Affine(scale=scale, shift=np.zeros(c_out)), acc, acc.shape, perm=acc.perm)
