"""Normalizations computed from the data: InstanceNormalization (per sample and channel,
over the pixels) and LayerNormalization (over the axes from `axis` on, per item)."""
from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError
from ..ops.instance_norm import InstanceNorm
from ..ops.layer_norm import LayerNorm
from .convert_reduce import trailing_layout
from .values import converter

MAX_LAYER_NORM = 4096  # lanes of one parallel layer norm (the HLS unroll limit)


def _epsilon(ctx) -> float:
    eps = ctx.attrs.get("epsilon", 1e-5)
    if not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps < 0:
        raise ctx.error(f"epsilon={eps!r} must be a finite number >= 0", ModelError)
    return float(eps)


def _only_first_output(ctx) -> None:
    extra = [o for o in list(ctx.node.output)[1:] if o]
    if extra:
        raise ctx.error(f"outputs {extra} (mean, inverse standard deviation) are not supported (supported: Y only)")


@converter("InstanceNormalization")
def _instance_norm(imp, ctx, ins):
    """any rank; constant finite scale and B, one per channel; epsilon finite >= 0"""
    x = ctx.act(ins[0])
    if len(ins) < 3 or ins[1] is None or ins[2] is None:
        raise ctx.error("needs scale and B inputs", ModelError)
    scale = np.asarray(ctx.const(ins[1], "scale").value, dtype=np.float64)
    bias = np.asarray(ctx.const(ins[2], "B").value, dtype=np.float64)
    c = x.shape[0] if x.shape else 1
    for name, v in (("scale", scale), ("B", bias)):
        if v.size != c:
            raise ctx.error(f"{name} has {v.size} values for {c} channels", ModelError)
    if not np.all(np.isfinite(scale)) or not np.all(np.isfinite(bias)):
        raise ctx.error("scale and B must be finite", ModelError)
    a, gamma = imp.per_channel(ctx, x, scale)
    _, beta = imp.per_channel(ctx, a, bias)
    return imp.emit(ctx, InstanceNorm(scale=gamma, bias=beta, epsilon=_epsilon(ctx)), a, x.shape)


@converter("LayerNormalization")
def _layer_norm(imp, ctx, ins):
    """over up to 4096 values from `axis` on (not the batch); constant finite Scale/B; Y output only"""
    _only_first_output(ctx)
    x = ctx.act(ins[0])
    rank = len(x.shape) + 1
    axis = int(ctx.attrs.get("axis", -1))
    if not -rank <= axis < rank:
        raise ctx.error(f"axis={axis} is out of range for a rank-{rank} input", ModelError)
    axis = axis + rank if axis < 0 else axis
    if axis == 0:
        raise ctx.error("axis=0 is not supported (supported: axes of one sample; axis 0 is the batch)")
    axes = list(range(axis - 1, rank - 1))
    block = tuple(x.shape[a] for a in axes)
    n = math.prod(block)
    if n > MAX_LAYER_NORM:
        raise ctx.error(f"LayerNormalization over {n} values is not supported (supported: up to {MAX_LAYER_NORM}: "
                        "the kernel normalizes all of them in parallel)")
    if len(ins) < 2 or ins[1] is None:
        raise ctx.error("needs a Scale input", ModelError)
    params = []
    for v, what in ((ins[1], "Scale"), (ins[2] if len(ins) > 2 else None, "B")):
        if v is None:
            params.append(np.zeros(block))
            continue
        arr = np.asarray(ctx.const(v, what).value, dtype=np.float64)
        try:
            arr = np.broadcast_to(arr, block)
        except ValueError:
            raise ctx.error(f"{what} of shape {arr.shape} does not broadcast to the normalized shape {block}",
                            ModelError) from None
        if not np.all(np.isfinite(arr)):
            raise ctx.error(f"{what} must be finite", ModelError)
        params.append(arr)
    a, perm, _ = trailing_layout(imp, ctx, x, axes)
    order = [axes.index(p) for p in perm[len(perm) - len(axes):]]  # the IR's order of the normalized values
    gamma, beta = (p.transpose(order).ravel() for p in params)
    return imp.emit(ctx, LayerNorm(scale=gamma, bias=beta, epsilon=_epsilon(ctx)), a, x.shape, perm=perm)
