"""Quantizers: QONNX Quant / BipolarQuant / Trunc (every domain seen in the wild) and ONNX
QuantizeLinear / DequantizeLinear (QDQ).

On a constant (weights, biases) a quantizer is evaluated here: the constant keeps its codes
(`fixed`, on the grid of `qtype`) and its real scale. On an activation it becomes an IR
Quant op; a DequantizeLinear that undoes the QuantizeLinear before it is an alias, since
the IR tensor already means (q - zero_point) * scale.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError
from ..numerics import exact_type
from ..numerics.requant import QONNX_ROUNDING, round_real
from ..ops.quant import Quant
from .values import Act, Const, converter

# "qonnx": what qonnx's own QKeras converter writes (its cleanup_model renames it to the general domain)
QUANT_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas", "finn", "qonnx", "")
MAX_ZERO_POINT = 2.0 ** 32   # quantizers take at most 32 bits: larger zero points only push codes off the range
# QuantizeLinear output integer types: (qmin, qmax)
ONNX_INT_TYPES = {2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 21: "uint4", 22: "int4"}
QDQ_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "uint16": (0, 65535),
              "int4": (-8, 7), "uint4": (0, 15), "int32": (-(2 ** 31), 2 ** 31 - 1)}


def _scalar_int(ctx, v, what):
    arr = np.asarray(ctx.const(v, what).value).reshape(-1)
    if arr.size != 1 or not np.isfinite(float(arr[0])) or arr[0] != round(float(arr[0])):
        raise ctx.error(f"{what} must be one integer, got {arr.tolist()[:4]}")
    return int(round(float(arr[0])))


def _int_range(signed: bool, narrow: bool, bits: int) -> tuple[int, int]:
    if signed:
        return -(2 ** (bits - 1)) + int(narrow), 2 ** (bits - 1) - 1
    return 0, 2 ** bits - 1 - int(narrow)


class _Spec:
    """A quantizer's parameters, broadcast against the tensor it quantizes."""

    def __init__(self, scale, zero, qmin, qmax, rounding, bipolar=False):
        self.scale, self.zero = np.asarray(scale, dtype=np.float64), np.asarray(zero, dtype=np.float64)
        self.qmin, self.qmax, self.rounding, self.bipolar = qmin, qmax, rounding, bipolar

    def check(self, ctx):
        if np.any(~np.isfinite(self.scale)) or np.any(self.scale <= 0):
            raise ctx.error("scales must be positive and finite", ModelError)
        if np.any(self.zero != np.round(self.zero)):
            raise ctx.error("non-integer zero points are not supported (supported: integers)")
        if self.zero.size and float(np.abs(self.zero).max()) > MAX_ZERO_POINT:
            worst = self.zero.reshape(-1)[int(np.argmax(np.abs(self.zero).reshape(-1)))]
            raise ctx.error(f"zero point {worst:.0f} is not supported (supported: integers with |zero point| <= 2**32; "
                            "the requantizer adds it in 62-bit integer arithmetic)")
        return self

    def on_const(self, x: Const) -> Const:
        """Quantize a constant: its codes and real scale (a power-of-two scalar scale
        becomes fraction bits, so the constant's fixed value is exact and real)."""
        v = np.asarray(x.value, dtype=np.float64)
        if self.bipolar:
            return Const.quantized(np.where(v >= 0, 1.0, -1.0), exact_type(-1, 1, 0), self.scale)
        q = np.clip(round_real(v / self.scale + self.zero, self.rounding), self.qmin, self.qmax) - self.zero
        lo, hi = int(self.qmin - self.zero.max()), int(self.qmax - self.zero.min())
        k = _pow2(self.scale)
        if k is not None:
            return Const.quantized(q * 2.0 ** -k, exact_type(lo, hi, k))
        return Const.quantized(q, exact_type(lo, hi, 0), np.broadcast_to(self.scale, v.shape).copy()
                               if self.scale.size > 1 else float(self.scale.reshape(-1)[0]))

    def on_act(self, imp, ctx, x: Act, suffix: str = "") -> Act:
        def per_channel(a, what):
            return float(a.reshape(-1)[0]) if a.size == 1 else ctx.channels(x, a, what)
        op = Quant(scale=per_channel(self.scale, "scale"), zero_point=per_channel(self.zero, "zero point"),
                   qmin=self.qmin, qmax=self.qmax, rounding=self.rounding, bipolar=self.bipolar)
        if not isinstance(op.zero_point, float):
            op.zero_point = op.zero_point.astype(np.int64)
        else:
            op.zero_point = int(op.zero_point)
        return imp.emit(ctx, op, x, x.shape, suffix=suffix)

    def apply(self, imp, ctx, x):
        shape = np.shape(x.value) if isinstance(x, Const) else (1,) + tuple(ctx.act(x).shape)
        for what, v in (("scale", self.scale), ("zero point", self.zero)):
            try:
                fits = np.broadcast_shapes(v.shape, shape) == tuple(shape)
            except ValueError:
                fits = False
            if not fits:   # onnx.checker knows no schema of the custom domains: the shapes are ours to check
                raise ctx.error(f"{what} of shape {v.shape} does not broadcast to the input's shape {tuple(shape)}",
                                ModelError)
        if isinstance(x, Const):
            return self.on_const(x)
        return self.on_act(imp, ctx, x)


def _pow2(scale: np.ndarray) -> int | None:
    a = scale.reshape(-1)
    if a.size == 0 or not np.all(a == a[0]):
        return None
    m, e = math.frexp(float(a[0]))
    return -(e - 1) if m == 0.5 else None


def _rounding(ctx, default="ROUND") -> str:
    mode = str(ctx.attrs.get("rounding_mode", default)).upper()
    if mode not in QONNX_ROUNDING:
        raise ctx.error(f"rounding_mode={mode} is not supported (supported: {', '.join(sorted(QONNX_ROUNDING))})")
    return QONNX_ROUNDING[mode]


def _bits(ctx, v) -> int:
    bits = _scalar_int(ctx, v, "bit width")
    if not 1 <= bits <= 32:
        raise ctx.error(f"bit width {bits} is not supported (supported: 1..32)")
    return bits


@converter("Quant", domains=QUANT_DOMAINS, constants=True,
           attributes={"signed": "int", "narrow": "int", "rounding_mode": "string"})
def _quant(imp, ctx, ins):
    """1-32 bits, signed or not, narrow; ROUND/HALF_EVEN/FLOOR/CEIL/UP/DOWN/HALF_UP/HALF_DOWN; per-channel

    Constant scale (> 0) and integer zero point (|z| <= 2**32), per tensor or per channel (on
    activations: along axis 1; on constants: any broadcasting shape); constant integer bit width;
    ROUND_TO_ZERO = DOWN; signed 1-bit is bipolar. On a constant: evaluated, keeping its codes."""
    if len(ins) != 4:
        raise ctx.error(f"expected 4 inputs (x, scale, zero point, bit width), got {len(ins)}", ModelError)
    scale = ctx.const(ins[1], "scale").value
    zero = ctx.const(ins[2], "zero point").value
    bits = _bits(ctx, ins[3])
    signed, narrow = bool(ctx.attrs.get("signed", 1)), bool(ctx.attrs.get("narrow", 0))
    if bits == 1 and signed:  # QONNX treats a signed 1-bit Quant as bipolar
        return _Spec(scale, 0, -1, 1, "AP_TRN", bipolar=True).check(ctx).apply(imp, ctx, ins[0])
    qmin, qmax = _int_range(signed, narrow, bits)
    return _Spec(scale, zero, qmin, qmax, _rounding(ctx)).check(ctx).apply(imp, ctx, ins[0])


@converter("BipolarQuant", domains=QUANT_DOMAINS, constants=True, attributes={})
def _bipolar(imp, ctx, ins):
    """+-scale by sign; constant positive scale, per tensor or per channel (axis 1 on activations)"""
    scale = ctx.const(ins[1], "scale").value
    return _Spec(scale, 0, -1, 1, "AP_TRN", bipolar=True).check(ctx).apply(imp, ctx, ins[0])


@converter("Trunc", domains=QUANT_DOMAINS,
           attributes={"signed": "int", "narrow": "int", "rounding_mode": "string"})
def _trunc(imp, ctx, ins):
    """activations only; zero point 0; out bits <= in bits (1-32); v2: out scale = in scale * 2**k

    Constant scale and bit widths; rounding_mode as Quant's (default FLOOR).

    v1 (5 inputs): q = R(round(x/s + z) / 2**(in_bits - out_bits)), real (q - z) * s.
    v2 (6 inputs): the same with a power-of-two output scale and a clamp to out_bits."""
    if len(ins) not in (5, 6):
        raise ctx.error(f"expected 5 (v1) or 6 (v2) inputs, got {len(ins)}", ModelError)
    scale = ctx.const(ins[1], "scale").value
    zero = ctx.const(ins[2], "zero point").value
    if np.any(np.asarray(zero) != 0):
        raise ctx.error("Trunc with a non-zero zero point is not supported (supported: 0)")
    in_bits = _bits(ctx, ins[3])
    mode = _rounding(ctx, default="FLOOR")
    x = ins[0]
    if isinstance(x, Const):
        raise ctx.error("Trunc of a constant is not supported")
    x = ctx.act(x)
    # first the input's own grid (the identity when x is already quantized with this scale)
    wide = 2 ** (in_bits + 1)
    grid = _Spec(scale, 0, -wide, wide, "AP_RND_CONV").check(ctx).on_act(imp, ctx, x, suffix="grid")
    if len(ins) == 5:
        shift = in_bits - _bits(ctx, ins[4])
        if shift < 0:
            raise ctx.error(f"output bit width {in_bits - shift} above the input's {in_bits} is not supported "
                            "(Trunc only removes bits)")
        spec = _Spec(np.asarray(scale) * 2.0 ** shift, 0, -wide, wide, mode).check(ctx)
        out = spec.on_act(imp, ctx, grid)
        imp.graph.producer(out.tensor).op.extra_frac = shift  # the real value stays (q - z) * s
        return out
    out_scale = ctx.const(ins[4], "output scale").value
    out_bits = _bits(ctx, ins[5])
    ts = 2.0 ** np.round(np.log2(np.asarray(out_scale, dtype=np.float64) / np.asarray(scale, dtype=np.float64)))
    if not np.allclose(np.asarray(scale) * ts, out_scale, rtol=1e-6):
        raise ctx.error("Trunc v2 whose output scale is not the input scale times a power of two is not supported")
    qmin, qmax = _int_range(bool(ctx.attrs.get("signed", 1)), bool(ctx.attrs.get("narrow", 0)), out_bits)
    return _Spec(np.asarray(scale) * ts, 0, qmin, qmax, mode).check(ctx).on_act(imp, ctx, grid)


@converter("FloatQuant", domains=QUANT_DOMAINS)
def _float_quant(imp, ctx, ins):
    """refused: minifloat (FP8 and other FloatQuant formats) is not supported"""
    raise ctx.error("minifloat (FP8 and other FloatQuant formats) is not supported; supported quantizers: "
                    "integer Quant, BipolarQuant, Trunc, QuantizeLinear/DequantizeLinear with integer types")


# ---- QDQ ------------------------------------------------------------------------------------
def _qdq_spec(ctx, ins, x):
    """Scale and zero point of a QuantizeLinear/DequantizeLinear, broadcast along `axis`."""
    if "block_size" in ctx.attrs and ctx.attrs["block_size"]:
        raise ctx.error("blocked quantization (block_size) is not supported (supported: per-tensor, per-axis)")
    scale = np.asarray(ctx.const(ins[1], "scale").value, dtype=np.float64)
    zp_const = ctx.const(ins[2], "zero point") if len(ins) > 2 and ins[2] is not None else None
    if zp_const is not None:
        dtype = str(zp_const.value.dtype)
    else:  # no zero point: uint8, unless opset 21's output_dtype says otherwise
        dtype = ONNX_INT_TYPES.get(int(ctx.attrs.get("output_dtype", 0) or 2), "unsupported")
    if dtype not in QDQ_RANGES:
        raise ctx.error(f"integer type {dtype} is not supported (supported: {', '.join(QDQ_RANGES)})")
    zero = np.zeros(1) if zp_const is None else np.asarray(zp_const.value, dtype=np.float64)
    rank = (len(x.shape) + 1) if isinstance(x, Act) else np.ndim(x.value)
    if scale.size > 1 or zero.size > 1:
        axis = ctx.axis(ctx.attrs.get("axis", 1), rank)
        size = ((1,) + tuple(x.shape) if isinstance(x, Act) else np.shape(x.value))[axis]
        for what, v in (("scale", scale), ("zero point", zero)):
            if v.size > 1 and (v.ndim != 1 or v.size != size):
                raise ctx.error(f"per-axis {what} of shape {v.shape} does not match axis {axis} of size {size}",
                                ModelError)
        shape = [1] * rank
        shape[axis] = -1
        scale = scale.reshape(shape)
        zero = zero.reshape(shape) if zero.size > 1 else zero
        if isinstance(x, Act) and axis != 1:
            raise ctx.error(f"per-axis quantization along axis {axis} of an activation is not supported "
                            "(supported: per-tensor, or per channel along axis 1)")
    qmin, qmax = QDQ_RANGES[dtype]
    return _Spec(scale, zero, qmin, qmax, "AP_RND_CONV").check(ctx)


@converter("QuantizeLinear", constants=True)
def _quantize_linear(imp, ctx, ins):
    """(u)int4/8/16, int32; constant scale and zero point, per tensor or per axis (axis 1 on activations)

    No block_size. On a constant: its integer codes (Brevitas' QCDQ weights)."""
    spec = _qdq_spec(ctx, ins, ins[0])
    if isinstance(ins[0], Const):
        # a weight quantized in the graph (Brevitas' QCDQ export: QuantizeLinear, Clip,
        # DequantizeLinear): what the node outputs is the integer codes, in the zero point's
        # type, as ONNX defines it; the Clip folds on them and DequantizeLinear reads them
        v = np.asarray(ins[0].value, dtype=np.float64)
        q = np.clip(round_real(v / spec.scale + spec.zero, spec.rounding), spec.qmin, spec.qmax)
        zero = ins[2] if len(ins) > 2 and ins[2] is not None else None
        dtype = np.asarray(zero.value).dtype if isinstance(zero, Const) else np.uint8
        return Const(q.astype(dtype))
    return spec.apply(imp, ctx, ins[0])


@converter("DequantizeLinear", constants=True)
def _dequantize_linear(imp, ctx, ins):
    """(u)int4/8/16, int32: on constants, after its QuantizeLinear (same scale/zero), on an int graph input

    Per tensor or per axis (axis 1 on activations); an integer graph input: per tensor, its own type; no block_size."""
    x = ins[0]
    spec = _qdq_spec(ctx, ins, x)
    if isinstance(x, Const):
        q = np.asarray(x.value, dtype=np.float64)
        fixed = q - spec.zero
        lo, hi = int(np.floor(fixed.min())), int(np.ceil(fixed.max()))
        scale = spec.scale if spec.scale.size > 1 else float(spec.scale.reshape(-1)[0])
        k = _pow2(spec.scale)
        if k is not None:
            return Const.quantized(fixed * 2.0 ** -k, exact_type(min(lo, 0), max(hi, 0), k))
        full = np.broadcast_to(scale, fixed.shape).copy() if np.ndim(scale) else scale
        return Const.quantized(fixed, exact_type(min(lo, 0), max(hi, 0), 0), full)
    x = ctx.act(x)
    prod = imp.graph.producer(x.tensor)
    if prod is None and x.tensor in imp.graph.inputs and imp.graph.tensors[x.tensor].type is not None:
        return _dequantize_input(imp, ctx, x, spec)
    op = prod.op if prod is not None else None
    if not isinstance(op, Quant) or op.bipolar or op.scale is None:
        raise ctx.error("DequantizeLinear of a computed tensor that no QuantizeLinear produced is not supported "
                        "(supported: after a QuantizeLinear, or on an integer graph input)")
    want_s = spec.scale.reshape(-1) if spec.scale.size > 1 else spec.scale.reshape(-1)[:1]
    want_z = spec.zero.reshape(-1) if spec.zero.size > 1 else spec.zero.reshape(-1)[:1]
    if not (np.allclose(np.asarray(op.scale).reshape(-1), want_s, rtol=0, atol=0)
            and np.array_equal(np.asarray(op.zero_point).reshape(-1).astype(np.float64), want_z)):
        raise ctx.error("DequantizeLinear with a scale or zero point different from its QuantizeLinear's "
                        "is not supported")
    return x  # the IR tensor already holds (q - zero_point) with this scale


def _dequantize_input(imp, ctx, x: Act, spec: _Spec) -> Act:
    """DequantizeLinear of an integer graph input q: (q - zero) * scale, as the exact codes
    q - zero with the tensor scale `scale` (an Affine whose scale the scale pass makes free;
    it vanishes for a zero point of 0)."""
    from ..ops.affine import Affine

    t = imp.graph.tensors[x.tensor]
    if spec.scale.size != 1 or spec.zero.size != 1:
        raise ctx.error("per-axis DequantizeLinear of an integer graph input is not supported (supported: per-tensor)")
    if t.type.frac_bits != 0 or (t.type.min_code, t.type.max_code) != (spec.qmin, spec.qmax):
        raise ctx.error(f"integer graph input {x.tensor!r} of type {t.type} does not match the zero point's type "
                        f"[{spec.qmin}, {spec.qmax}] (supported: the same integer type)")
    s, z = float(spec.scale.reshape(-1)[0]), int(spec.zero.reshape(-1)[0])
    channels = t.shape[-1] if t.shape else 1
    out = imp.emit(ctx, Affine(scale=np.full(channels, s), shift=np.full(channels, -z * s)), x, x.shape)
    tensor = imp.graph.tensors[out.tensor]
    tensor.type, tensor.model_typed = exact_type(spec.qmin - z, spec.qmax - z, 0), True  # exactly q - zero
    return out
