"""QONNX quantizers with power-of-two scales -> fixed-point types."""
from __future__ import annotations

import math

import numpy as np

from ..numerics import FixedType
from ..ops.quant import Quant
from .values import Const, converter

QUANT_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas")
QONNX_ROUNDING = {"ROUND": "AP_RND_CONV", "FLOOR": "AP_TRN", "ROUND_TO_ZERO": "AP_TRN_ZERO"}


def _quant_type(ctx, ins) -> FixedType:
    scale, zero, bits = (ctx.const(v, w).value for v, w in zip(ins[1:4], ("scale", "zero point", "bit width")))
    a = ctx.attrs
    if np.size(scale) != 1:
        raise ctx.error("per-channel scales are not supported yet (supported: one scalar scale)")
    if np.any(np.asarray(zero) != 0):
        raise ctx.error("non-zero zero points are not supported yet (supported: 0)")
    s = float(np.asarray(scale).reshape(-1)[0])
    e = math.log2(s) if s > 0 else float("nan")
    if not (s > 0 and e == round(e)):
        raise ctx.error(f"scale {s} is not a power of two; non-power-of-two scales are not supported yet")
    nbits = float(np.asarray(bits).reshape(-1)[0])
    if nbits != round(nbits) or not 1 <= nbits <= 32:
        raise ctx.error(f"bit width {nbits} is not supported (supported: integers 1..32)")
    mode = str(a.get("rounding_mode", "ROUND")).upper()
    if mode not in QONNX_ROUNDING:
        raise ctx.error(f"rounding_mode={mode} is not supported (supported: {', '.join(QONNX_ROUNDING)})")
    signed, narrow = bool(a.get("signed", 1)), bool(a.get("narrow", 0))
    if narrow and not signed:
        raise ctx.error("narrow=1 with signed=0 is not supported yet")
    width, frac = int(nbits), -int(round(e))
    return FixedType(width, width - frac, signed, QONNX_ROUNDING[mode], "AP_SAT_SYM" if narrow else "AP_SAT")


@converter("Quant", domains=QUANT_DOMAINS)
def _quant(imp, ctx, ins):
    t = _quant_type(ctx, ins)
    x = ins[0]
    if isinstance(x, Const):
        return Const(t.to_float(t.quantize(x.value)), t)
    x = ctx.act(x)
    return imp.emit(ctx, Quant(out_type=t), x, x.shape)
