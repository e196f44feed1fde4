"""Shape-only ops on activations: Reshape, Flatten, Squeeze, Unsqueeze and Transpose only
change the activation's layout record (see values.py); no IR op, no data movement. A
consumer that needs another order or item size asks the importer for it."""
from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError
from .values import Act, Const, converter, inverse, make_act, perm_order


def _reshape_to(ctx, x: Act, new_shape: tuple[int, ...]) -> Act:
    if math.prod(new_shape) != math.prod(x.shape):
        raise ctx.error(f"cannot reshape {x.shape} to {new_shape} (per sample)", ModelError)
    # a reshape keeps the ONNX element order, so the IR data relates to it as before
    return make_act(x.tensor, tuple(new_shape), None if x.identity else x.order())


@converter("Squeeze")
def _squeeze(imp, ctx, ins):
    """layout only (no data moves); constant axes, never the batch; no axes: every size-1 sample axis"""
    x = ctx.act(ins[0])
    axes = ctx.attrs.get("axes")
    if axes is None and len(ins) > 1 and ins[1] is not None:
        axes = ctx.const(ins[1], "axes").value.tolist()
    full = (1,) + x.shape
    axes = ctx.axes(axes, len(full)) if axes is not None else [i for i, d in enumerate(full) if d == 1 and i > 0]
    if 0 in axes:
        raise ctx.error("squeezing the batch dimension is not supported")
    if any(full[a] != 1 for a in axes):
        raise ctx.error(f"cannot squeeze axes {axes} of shape {full}", ModelError)
    return _reshape_to(ctx, x, tuple(d for i, d in enumerate(full) if i not in axes)[1:])


@converter("Unsqueeze")
def _unsqueeze(imp, ctx, ins):
    """layout only (no data moves); constant axes, none at or before the batch axis"""
    x = ctx.act(ins[0])
    axes = ctx.attrs.get("axes")
    if axes is None:
        if len(ins) < 2 or ins[1] is None:
            raise ctx.error("the axes are missing (an attribute before opset 13, the second input since)",
                            ModelError)
        axes = ctx.const(ins[1], "axes").value.tolist()
    rank = len(x.shape) + 1 + np.size(axes)
    axes = sorted(ctx.axes(axes, rank))
    if 0 in axes:
        raise ctx.error("unsqueezing before the batch dimension is not supported")
    full = list((1,) + x.shape)
    for a in axes:
        full.insert(a, 1)
    return _reshape_to(ctx, x, tuple(full[1:]))


@converter("Flatten")
def _flatten(imp, ctx, ins):
    """layout only (no data moves); axis 1 (0 with batch 1), or later with only size-1 axes before it"""
    x = ctx.act(ins[0])
    axis = int(ctx.attrs.get("axis", 1))
    if axis != len(x.shape) + 1:   # axis == rank is allowed: (N * everything, 1)
        axis = ctx.axis(axis, len(x.shape) + 1)
    if axis > 1 and math.prod(x.shape[:axis - 1]) != 1:
        raise ctx.error(f"axis={ctx.attrs.get('axis')} merges dimensions into the batch; not supported "
                        "(supported: 1, or any axis with only size-1 dimensions before it; 0 with batch 1)")
    return _reshape_to(ctx, x, (math.prod(x.shape),))


@converter("Reshape")
def _reshape(imp, ctx, ins):
    """layout only (no data moves); constant target whose first entry is the batch (0 copies, one -1)"""
    x = ctx.act(ins[0])
    if len(ins) < 2 or ins[1] is None:
        raise ctx.error("the target shape input is missing", ModelError)
    target = [int(v) for v in ctx.const(ins[1], "target shape").value.reshape(-1)]
    if not target:
        raise ctx.error("reshaping to a scalar is not supported")
    batch, per_sample = target[0], target[1:]
    if not per_sample:
        raise ctx.error(f"target shape {tuple(target)} merges the batch dimension; not supported")
    if per_sample.count(-1) > 1 or (batch == -1 and -1 in per_sample):
        raise ctx.error(f"target shape {tuple(target)} has more than one -1", ModelError)
    total = math.prod(x.shape)
    dims = [x.shape[i] if d == 0 and i < len(x.shape) else d for i, d in enumerate(per_sample)]
    if -1 in dims:
        known = math.prod(d for d in dims if d != -1)
        if known == 0 or total % known:
            raise ctx.error(f"cannot reshape {x.shape} to {tuple(target)}", ModelError)
        dims[dims.index(-1)] = total // known
    return _reshape_to(ctx, x, tuple(dims))


@converter("Transpose")
def _transpose(imp, ctx, ins):
    """layout only (no data movement here); any perm that keeps the batch axis first"""
    v = ins[0]
    perm = ctx.attrs.get("perm")
    if isinstance(v, Const):
        return Const(np.transpose(v.value, perm), None)
    x = ctx.act(v)
    rank = len(x.shape) + 1
    perm = list(range(rank))[::-1] if perm is None else [p + rank if p < 0 else p for p in perm]
    if sorted(perm) != list(range(rank)):
        raise ctx.error(f"perm={perm} is not a permutation of {rank} axes", ModelError)
    if perm[0] != 0:
        raise ctx.error(f"perm={perm} moves the batch dimension; not supported (supported: perm[0] = 0)")
    t = [p - 1 for p in perm[1:]]
    new_shape = tuple(x.shape[p] for p in t)
    # onnx_new = onnx[T] and ir = onnx[order]  =>  ir = onnx_new[inverse(T)[order]]
    return make_act(x.tensor, new_shape, inverse(perm_order(x.shape, t))[x.order()])
