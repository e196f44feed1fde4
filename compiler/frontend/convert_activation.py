"""Activations."""
from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError
from ..ops.clip import Clip
from ..ops.elu import SELU_ALPHA, SELU_GAMMA, Elu
from ..ops.hard_sigmoid import HardSigmoid
from ..ops.hard_swish import HardSwish
from ..ops.prelu import PRelu
from ..ops.relu import Relu
from ..ops.sigmoid import Sigmoid
from ..ops.softmax import Softmax
from ..ops.softplus import Softplus
from ..ops.swish import Swish
from ..ops.tanh import Tanh
from .values import Const, converter

FLT_MAX = 3.4028234663852886e38  # Clip's defaults before opset 11: no bound


@converter("Relu")
def _relu(imp, ctx, ins):
    """elementwise, any shape; folded when its input is a constant"""
    x = ctx.act(ins[0])
    return imp.emit(ctx, Relu(), x, x.shape)


@converter("Softmax")
def _softmax(imp, ctx, ins):
    """over up to 4096 values along `axis` (opset < 13: every axis from `axis` on); not the batch axis"""
    from .convert_reduce import softmax_axes, trailing_layout

    x = ctx.act(ins[0])
    axes = softmax_axes(imp, ctx, x)   # opset < 13: every axis from `axis` on, jointly
    n = math.prod(x.shape[a] for a in axes)
    if n > MAX_SOFTMAX:
        raise ctx.error(f"Softmax over {n} values is not supported (supported: up to {MAX_SOFTMAX}: "
                        "the kernel normalizes all of them in parallel)")
    a, perm, _ = trailing_layout(imp, ctx, x, axes)  # one stream item per kept position (e.g. per pixel)
    return imp.emit(ctx, Softmax(), a, x.shape, perm=perm)


MAX_SOFTMAX = 4096  # lanes of one parallel softmax (the HLS unroll limit)


def _float_attr(ctx, name: str, default: float) -> float:
    v = ctx.attrs.get(name, default)
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ctx.error(f"attribute {name}={v!r} must be a finite number", ModelError)
    return float(v)


def _bound(ctx, v, what: str) -> float | None:
    """A Clip bound: None when absent or unbounded (+-inf, +-FLT_MAX)."""
    if v is None:
        return None
    if isinstance(v, Const):
        arr = np.asarray(v.value, dtype=np.float64)
        if arr.size != 1:
            raise ctx.error(f"{what} of shape {arr.shape} is not supported (supported: a scalar)")
        v = float(arr.reshape(-1)[0])
    else:
        v = float(v)
    if math.isnan(v):
        raise ctx.error(f"{what} is NaN", ModelError)
    return None if abs(v) >= FLT_MAX else v


@converter("Clip")
def _clip(imp, ctx, ins):
    """elementwise; min/max: absent or constant scalars (+-inf, +-FLT_MAX: no bound); computed ones refused"""
    x = ctx.act(ins[0])
    if imp.opset.get("", 13) < 11:
        lo, hi = _bound(ctx, ctx.attrs.get("min"), "min"), _bound(ctx, ctx.attrs.get("max"), "max")
    else:
        extra = list(ins[1:3]) + [None] * (3 - len(ins))
        lo, hi = (_bound(ctx, ctx.const(v, what) if v is not None else None, what)
                  for v, what in zip(extra, ("min", "max")))
    return imp.emit(ctx, Clip(lo=lo, hi=hi), x, x.shape)


@converter("LeakyRelu")
def _leaky_relu(imp, ctx, ins):
    """elementwise, any shape; alpha any finite number"""
    x = ctx.act(ins[0])
    alpha = _float_attr(ctx, "alpha", 0.01)
    return imp.emit(ctx, PRelu(slope=np.array([alpha])), x, x.shape)


@converter("PRelu")
def _prelu(imp, ctx, ins):
    """slope: a finite constant, scalar, per-channel or varying along other axes (not along the batch)

    Before opset 7 a (C,) slope is per channel, as PyTorch exported it."""
    x = ctx.act(ins[0])
    if len(ins) < 2 or ins[1] is None:
        raise ctx.error("the slope input is missing", ModelError)
    slope = np.asarray(ctx.const(ins[1], "slope").value, dtype=np.float64)
    if not np.all(np.isfinite(slope)):
        raise ctx.error("the slope contains NaN or infinity", ModelError)
    from .convert_arith import position_constant

    # before opset 7 PRelu had no broadcasting: PyTorch exported a per-channel slope as (C,),
    # as onnx.reference reads it; from opset 7 the slope broadcasts from the trailing axes
    legacy = imp.opset.get("", 13) < 7 and slope.ndim == 1 and slope.size > 1 and len(x.shape) > 1
    if legacy and slope.size == x.shape[0]:
        slope = slope.reshape((-1,) + (1,) * (len(x.shape) - 1))
    positional = position_constant(imp, ctx, x, slope, "the slope")
    if positional is not None:
        x, s = positional
        return imp.emit(ctx, PRelu(slope=s), x, x.shape)
    x, s = imp.per_channel(ctx, x, ctx.channels(x, slope, "the slope", check_layout=False))
    if np.all(s == s[0]):
        s = s[:1]
    return imp.emit(ctx, PRelu(slope=s), x, x.shape)


@converter("HardSigmoid")
def _hard_sigmoid(imp, ctx, ins):
    """elementwise, any shape; alpha and beta any finite numbers"""
    x = ctx.act(ins[0])
    op = HardSigmoid(alpha=_float_attr(ctx, "alpha", 0.2), beta=_float_attr(ctx, "beta", 0.5))
    return imp.emit(ctx, op, x, x.shape)


@converter("HardSwish")
def _hard_swish(imp, ctx, ins):
    """elementwise, any shape"""
    x = ctx.act(ins[0])
    return imp.emit(ctx, HardSwish(), x, x.shape)


@converter("Elu")
def _elu(imp, ctx, ins):
    """elementwise, any shape; alpha any finite number"""
    x = ctx.act(ins[0])
    return imp.emit(ctx, Elu(alpha=_float_attr(ctx, "alpha", 1.0)), x, x.shape)


@converter("Selu")
def _selu(imp, ctx, ins):
    """elementwise, any shape; alpha and gamma any finite numbers"""
    x = ctx.act(ins[0])
    op = Elu(alpha=_float_attr(ctx, "alpha", SELU_ALPHA), gamma=_float_attr(ctx, "gamma", SELU_GAMMA))
    return imp.emit(ctx, op, x, x.shape)


@converter("Sigmoid")
def _sigmoid(imp, ctx, ins):
    """elementwise, any shape"""
    x = ctx.act(ins[0])
    return imp.emit(ctx, Sigmoid(), x, x.shape)


@converter("Tanh")
def _tanh(imp, ctx, ins):
    """elementwise, any shape"""
    x = ctx.act(ins[0])
    return imp.emit(ctx, Tanh(), x, x.shape)


@converter("Swish")
def _swish(imp, ctx, ins):
    """elementwise, any shape; alpha > 0 only (x * sigmoid(alpha * x))"""
    x = ctx.act(ins[0])
    alpha = _float_attr(ctx, "alpha", 1.0)
    if not alpha > 0:
        raise ctx.error(f"alpha={alpha:g} is not supported (supported: alpha > 0)")
    return imp.emit(ctx, Swish(alpha=alpha), x, x.shape)


@converter("Softplus")
def _softplus(imp, ctx, ins):
    """elementwise, any shape"""
    x = ctx.act(ins[0])
    return imp.emit(ctx, Softplus(), x, x.shape)
