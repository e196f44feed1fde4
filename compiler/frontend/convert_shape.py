"""Shape-only ops: aliases in the IR where they do not move data in channels-last order."""
from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError
from .values import Act, Const, converter, same_order


def _reshape_to(ctx, x: Act, new_shape: tuple[int, ...]) -> Act:
    if math.prod(new_shape) != math.prod(x.shape):
        raise ctx.error(f"cannot reshape {x.shape} to {new_shape} (per sample)", ModelError)
    if not (same_order(x.shape) and same_order(new_shape)):
        raise ctx.error(f"reshaping (N, {', '.join(map(str, x.shape))}) to (N, {', '.join(map(str, new_shape))}) "
                        "moves data between channels-first and channels-last order; not supported yet")
    return Act(x.tensor, tuple(new_shape))


@converter("Squeeze")
def _squeeze(imp, ctx, ins):
    x = ctx.act(ins[0])
    axes = ctx.attrs.get("axes")
    if axes is None and len(ins) > 1 and ins[1] is not None:
        axes = ctx.const(ins[1], "axes").value.tolist()
    full = (1,) + x.shape
    axes = [a + len(full) if a < 0 else a for a in (axes if axes is not None else
                                                    [i for i, d in enumerate(full) if d == 1 and i > 0])]
    if 0 in axes:
        raise ctx.error("squeezing the batch dimension is not supported")
    if any(full[a] != 1 for a in axes):
        raise ctx.error(f"cannot squeeze axes {axes} of shape {full}", ModelError)
    return _reshape_to(ctx, x, tuple(d for i, d in enumerate(full) if i not in axes)[1:])


@converter("Unsqueeze")
def _unsqueeze(imp, ctx, ins):
    x = ctx.act(ins[0])
    axes = ctx.attrs.get("axes")
    if axes is None:
        axes = ctx.const(ins[1], "axes").value.tolist()
    rank = len(x.shape) + 1 + len(axes)
    axes = sorted(a + rank if a < 0 else a for a in axes)
    if 0 in axes:
        raise ctx.error("unsqueezing before the batch dimension is not supported")
    full = list((1,) + x.shape)
    for a in axes:
        full.insert(a, 1)
    return _reshape_to(ctx, x, tuple(full[1:]))


@converter("Flatten")
def _flatten(imp, ctx, ins):
    x = ctx.act(ins[0])
    axis = int(ctx.attrs.get("axis", 1))
    if axis not in (0, 1):
        raise ctx.error(f"axis={axis} is not supported (supported: 1, or 0 with batch 1)")
    return _reshape_to(ctx, x, (math.prod(x.shape),))


@converter("Reshape")
def _reshape(imp, ctx, ins):
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
    v = ins[0]
    perm = ctx.attrs.get("perm")
    if isinstance(v, Const):
        return Const(np.transpose(v.value, perm), None)
    raise ctx.error("transposing a computed tensor is not supported yet (only constants)")
